-- squawk: 
create table users (id BIGSERIAL);
