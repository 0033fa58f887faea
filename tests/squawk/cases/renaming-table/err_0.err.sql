-- squawk: 
ALTER TABLE "table_name" RENAME TO "new_table_name";
