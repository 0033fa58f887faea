-- squawk: assume_in_transaction
BEGIN;
BEGIN;
SELECT 1;
COMMIT;
