-- squawk: 
CREATE TABLE t (c char);
