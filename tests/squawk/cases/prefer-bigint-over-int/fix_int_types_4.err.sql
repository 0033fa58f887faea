-- squawk: 
create table users (id serial4);
