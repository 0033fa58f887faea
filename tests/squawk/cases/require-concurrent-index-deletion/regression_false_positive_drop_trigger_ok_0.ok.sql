-- squawk: 
DROP TRIGGER IF EXISTS trigger on foo_table;
