-- squawk: 
create table users (id Int4);
