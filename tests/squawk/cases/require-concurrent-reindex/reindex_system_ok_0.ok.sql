-- squawk: 
REINDEX SYSTEM mydb;
