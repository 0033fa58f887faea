-- squawk: 
BEGIN;
BEGIN;
COMMIT;
