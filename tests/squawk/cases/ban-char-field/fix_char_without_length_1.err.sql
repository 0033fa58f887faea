-- squawk: 
CREATE TABLE t (c character);
