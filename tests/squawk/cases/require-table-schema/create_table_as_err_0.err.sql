-- squawk: 
CREATE TABLE my_table AS SELECT 1;
