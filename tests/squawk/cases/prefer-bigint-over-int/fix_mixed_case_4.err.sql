-- squawk: 
create table users (id SERIAL4);
