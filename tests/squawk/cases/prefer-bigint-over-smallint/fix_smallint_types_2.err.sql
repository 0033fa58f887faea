-- squawk: 
create table users (id smallserial);
