-- squawk: 
CREATE TABLE users (id SERIAL);
ALTER TABLE users ADD COLUMN email TEXT;
