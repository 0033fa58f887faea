-- squawk: 
create table users (id SMALLINT);
