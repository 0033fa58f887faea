-- squawk: 
REINDEX INDEX foo;
