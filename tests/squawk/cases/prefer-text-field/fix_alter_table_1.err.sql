-- squawk: 
ALTER TABLE t ALTER COLUMN c TYPE varchar(256);
