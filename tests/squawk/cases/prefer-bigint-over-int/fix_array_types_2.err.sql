-- squawk: 
create table users (ids int4[]);
