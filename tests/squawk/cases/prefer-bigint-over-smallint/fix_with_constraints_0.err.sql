-- squawk: 
create table users (id smallserial primary key, score smallint not null);
