-- squawk: 
ALTER TABLE "bar_tbl" DROP COLUMN "foo_col" CASCADE;
