-- squawk: 
CREATE TABLE t (c VARCHAR(100));
