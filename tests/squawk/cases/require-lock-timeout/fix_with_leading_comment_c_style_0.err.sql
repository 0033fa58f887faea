-- squawk: 
/* foo bar */
ALTER TABLE users ADD COLUMN email TEXT;
