-- squawk: 
truncate a, b, c cascade;
