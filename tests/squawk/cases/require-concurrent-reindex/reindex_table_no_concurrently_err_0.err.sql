-- squawk: 
REINDEX TABLE foo;
