-- squawk: 
CLUSTER foo;
