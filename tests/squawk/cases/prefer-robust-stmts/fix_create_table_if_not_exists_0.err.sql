-- squawk: 
create table t (id int);
CREATE TABLE users (id serial, name text);
