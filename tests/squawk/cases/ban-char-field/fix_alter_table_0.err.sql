-- squawk: 
ALTER TABLE t ADD COLUMN c char;
