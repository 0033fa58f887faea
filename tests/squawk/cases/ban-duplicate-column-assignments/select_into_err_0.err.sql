-- squawk: 
select 1 a, 2 a into z;
