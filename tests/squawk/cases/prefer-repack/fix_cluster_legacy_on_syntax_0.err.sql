-- squawk: 
CLUSTER verbose foo_pkey ON foo;
