ALTER TABLE public.orders DROP COLUMN status;
