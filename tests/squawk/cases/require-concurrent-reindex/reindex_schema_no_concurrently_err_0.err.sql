-- squawk: 
REINDEX SCHEMA foo;
