-- squawk: 
SELECT * FROM t;
