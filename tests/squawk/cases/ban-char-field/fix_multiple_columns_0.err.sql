-- squawk: 
CREATE TABLE t (a char, b character(100), c bpchar(50));
