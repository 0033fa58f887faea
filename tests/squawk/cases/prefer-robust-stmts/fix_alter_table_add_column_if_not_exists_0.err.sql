-- squawk: 
alter table t add column c text;
ALTER TABLE users ADD COLUMN email text;
