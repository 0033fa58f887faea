-- squawk: 
ALTER TABLE t ADD COLUMN c character(100);
