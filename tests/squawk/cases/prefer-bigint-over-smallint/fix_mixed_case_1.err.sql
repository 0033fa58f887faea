-- squawk: 
create table users (id Int2);
