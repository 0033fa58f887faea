-- squawk: 
COMMENT ON COLUMN t.c IS 'an opaque id';
