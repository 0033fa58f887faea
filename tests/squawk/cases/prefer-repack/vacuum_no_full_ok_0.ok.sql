-- squawk: 
VACUUM foo;
