ALTER TABLE public.orders DROP CONSTRAINT orders_customer_fk;
