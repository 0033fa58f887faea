-- squawk: 
create domain d as t check (value > 0) not null;
