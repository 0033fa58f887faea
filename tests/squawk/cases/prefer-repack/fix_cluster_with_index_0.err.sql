-- squawk: 
CLUSTER foo USING foo_pkey;
