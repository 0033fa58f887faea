-- squawk: 
alter table t drop constraint c;
ALTER TABLE users DROP CONSTRAINT pk_users;
