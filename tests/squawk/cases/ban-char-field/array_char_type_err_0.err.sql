-- squawk: 
create table t (
  a char[]
);
