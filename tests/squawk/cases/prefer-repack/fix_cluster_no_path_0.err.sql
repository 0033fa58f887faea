-- squawk: 
CLUSTER;
