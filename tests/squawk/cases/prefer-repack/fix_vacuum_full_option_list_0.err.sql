-- squawk: 
VACUUM (FULL) foo;
