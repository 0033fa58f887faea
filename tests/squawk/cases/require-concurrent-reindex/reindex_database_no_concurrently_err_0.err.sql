-- squawk: 
REINDEX DATABASE foo;
