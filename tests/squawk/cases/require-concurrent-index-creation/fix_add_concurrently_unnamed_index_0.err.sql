-- squawk: 
CREATE INDEX ON t (a);
