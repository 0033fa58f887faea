-- squawk: 
update k
set
  (a, b) = (1, 2),
  a = 3;
