-- squawk: 
create table users (ids smallint[]);
