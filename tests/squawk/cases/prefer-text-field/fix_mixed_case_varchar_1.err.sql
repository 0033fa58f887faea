-- squawk: 
CREATE TABLE t (c Varchar(50));
