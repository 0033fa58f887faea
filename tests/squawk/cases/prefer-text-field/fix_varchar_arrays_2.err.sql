-- squawk: 
CREATE TABLE t (c varchar(50)[3][4]);
