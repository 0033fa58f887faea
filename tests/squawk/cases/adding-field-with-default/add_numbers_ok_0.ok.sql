-- squawk: 
alter table account_metadata add column blah integer default 2 + 2;
