-- squawk: 
create table app.accounts
(
    created_ts timestamp without time zone
);
