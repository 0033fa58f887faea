-- squawk: 
drop index i;
DROP INDEX CONCURRENTLY idx;
