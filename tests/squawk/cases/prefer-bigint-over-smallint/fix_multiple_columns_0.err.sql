-- squawk: 
create table users (id smallint, count int2, version smallserial);
