-- squawk: 
BEGIN;
SELECT 1;
COMMIT;
