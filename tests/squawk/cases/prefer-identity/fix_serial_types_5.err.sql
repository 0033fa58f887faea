-- squawk: 
create table users (id bigserial);
