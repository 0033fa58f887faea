-- squawk: 
create table users (id int, count integer, version serial);
