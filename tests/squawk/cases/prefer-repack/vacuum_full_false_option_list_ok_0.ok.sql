-- squawk: 
VACUUM (FULL FALSE) foo;
