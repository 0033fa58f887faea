-- squawk: 
alter table t drop column c;
ALTER TABLE users DROP COLUMN email;
