-- squawk: 
create table users (id serial8);
