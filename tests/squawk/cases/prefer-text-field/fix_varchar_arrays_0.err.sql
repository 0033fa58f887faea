-- squawk: 
CREATE TABLE t (c varchar(100)[]);
