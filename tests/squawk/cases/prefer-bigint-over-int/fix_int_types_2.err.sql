-- squawk: 
create table users (id int4);
