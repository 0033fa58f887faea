-- squawk: 
drop table t;
DROP TABLE users;
