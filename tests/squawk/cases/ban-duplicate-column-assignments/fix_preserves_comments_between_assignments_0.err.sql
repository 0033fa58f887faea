-- squawk: 
update k
set
  a = 1 /* some comment */,
  -- another comment
  b = 2,
  a = 3;
