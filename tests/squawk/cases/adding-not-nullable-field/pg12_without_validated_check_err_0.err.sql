-- squawk: pg_version=12
ALTER TABLE foo ALTER COLUMN bar SET NOT NULL;
