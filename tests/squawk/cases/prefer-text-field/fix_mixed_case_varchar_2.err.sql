-- squawk: 
CREATE TABLE t (c VarChar(255));
