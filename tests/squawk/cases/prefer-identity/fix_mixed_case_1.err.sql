-- squawk: 
create table users (id Serial);
