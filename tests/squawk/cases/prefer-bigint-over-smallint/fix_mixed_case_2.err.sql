-- squawk: 
create table users (id SmallSerial);
