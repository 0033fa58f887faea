-- squawk: 
drop table table_very_long_very_long_very_long_very_long_very_long_very_long;
