-- squawk: 
create index idx on items (col);
CREATE INDEX CONCURRENTLY idx2 ON users (email);
