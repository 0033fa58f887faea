-- squawk: 
VACUUM ANALYZE foo;
