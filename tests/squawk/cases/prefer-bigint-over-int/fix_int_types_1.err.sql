-- squawk: 
create table users (id integer);
