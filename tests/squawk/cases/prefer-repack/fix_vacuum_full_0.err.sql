-- squawk: 
VACUUM FULL foo;
