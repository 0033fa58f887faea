-- squawk: 
CREATE TABLE t (c pg_catalog.varchar(100));
