-- squawk: 
BEGIN WORK;
CREATE TABLE users (id bigint);
