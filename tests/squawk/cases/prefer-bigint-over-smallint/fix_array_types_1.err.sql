-- squawk: 
create table users (ids int2[]);
