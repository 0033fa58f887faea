-- squawk: 
CREATE TABLE users (id bigint);
