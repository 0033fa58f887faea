-- squawk: 
CREATE DOMAIN domain_name_3 AS NUMERIC(15,5) CHECK (value > 0);
