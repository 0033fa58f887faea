-- squawk: 
create table users (id smallint);
