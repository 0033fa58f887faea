-- squawk: 
VACUUM FREEZE foo;
