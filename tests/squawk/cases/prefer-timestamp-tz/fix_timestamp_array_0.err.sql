-- squawk: 
create table app.events
(
    timestamps timestamp[]
);
