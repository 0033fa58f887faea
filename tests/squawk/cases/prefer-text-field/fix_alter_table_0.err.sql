-- squawk: 
ALTER TABLE t ADD COLUMN c varchar(100);
