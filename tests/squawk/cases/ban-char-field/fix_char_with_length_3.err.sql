-- squawk: 
CREATE TABLE t (c "char"(100));
