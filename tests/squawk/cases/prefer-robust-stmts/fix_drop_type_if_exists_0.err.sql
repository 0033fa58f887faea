-- squawk: 
drop type t;
DROP TYPE f;
