-- squawk: 
create table users (ids serial4[]);
