-- squawk: 
create table app.users
(
    created_ts   timestamp
);
