-- squawk: 
drop index i;
