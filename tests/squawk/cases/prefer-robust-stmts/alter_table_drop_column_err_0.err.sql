-- squawk: 
select 1; -- so we don't skip checking
alter table t drop column c cascade;
