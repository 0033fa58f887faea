-- squawk: assume_in_transaction
SELECT 1;
COMMIT;
