-- squawk: 
create table users (ids integer[]);
