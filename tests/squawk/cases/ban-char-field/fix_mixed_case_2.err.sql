-- squawk: 
CREATE TABLE t (c Char(50));
