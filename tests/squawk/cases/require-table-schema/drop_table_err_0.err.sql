-- squawk: 
DROP TABLE my_table;
