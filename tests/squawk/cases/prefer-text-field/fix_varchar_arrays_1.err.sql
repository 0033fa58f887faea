-- squawk: 
CREATE TABLE t (c varchar(255)[5]);
