-- squawk: 
create table users (id int2);
