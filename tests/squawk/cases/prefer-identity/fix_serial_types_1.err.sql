-- squawk: 
create table users (id serial2);
