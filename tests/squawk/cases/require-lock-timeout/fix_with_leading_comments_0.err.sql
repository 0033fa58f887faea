-- squawk: 
-- leading comment
-- should be okay

ALTER TABLE users ADD COLUMN email TEXT;
