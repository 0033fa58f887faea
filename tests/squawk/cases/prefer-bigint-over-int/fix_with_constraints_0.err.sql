-- squawk: 
create table users (id serial primary key, score int not null);
