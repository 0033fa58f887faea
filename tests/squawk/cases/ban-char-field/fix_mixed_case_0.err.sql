-- squawk: 
CREATE TABLE t (c CHAR);
