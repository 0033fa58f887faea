-- squawk: 
CREATE TABLE t (c CHARACTER(100));
