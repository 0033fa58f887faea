-- squawk: 
create table users (id INT);
