-- squawk: 
VACUUM (FULL false) t;
