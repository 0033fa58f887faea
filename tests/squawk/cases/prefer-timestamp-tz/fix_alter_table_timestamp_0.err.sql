-- squawk: 
alter table app.users
    alter column created_ts type timestamp;
