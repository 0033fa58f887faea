-- squawk: 
START TRANSACTION;
CREATE TABLE posts (id bigint);
