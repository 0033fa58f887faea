-- squawk: 
CREATE TABLE t (c character(100)[]);
