-- squawk: 
create table users (ids serial2[]);
