-- squawk: 
CREATE TABLE t (c bpchar);
