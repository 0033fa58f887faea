-- squawk: 
CREATE TABLE t (c "bpchar"(50));
