-- squawk: 
create table users (ids smallserial[]);
