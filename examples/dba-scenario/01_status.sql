ALTER TABLE public.orders ADD COLUMN status text;
UPDATE public.orders SET status = 'open' WHERE status IS NULL;
