-- squawk: 
create table t (
  a Char
);
