-- squawk: 
REINDEX (CONCURRENTLY false) INDEX idx;
