-- squawk: 
VACUUM FULL foo, bar;
