-- squawk: 
create table users (id SERIAL2);
