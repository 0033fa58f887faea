-- squawk: 
create table users (id INTEGER);
