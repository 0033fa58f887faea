-- squawk: 
CREATE TABLE t (a varchar(100), b varchar(255), c varchar(50));
