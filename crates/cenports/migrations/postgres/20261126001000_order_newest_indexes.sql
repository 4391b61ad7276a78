-- Order lists newest first (`sort=newest`, the dashboard's orders page): `ORDER BY remote_id DESC`
-- with the cursor `remote_id < …`, postgres flavour. Keep in step with
-- ../sqlite/20261126001000_order_newest_indexes.sql. The unfiltered list reads the unique
-- (store_id, remote_id) index backwards; these two let the status and fulfilment-state filters do
-- the same instead of sorting every matching order for each page.
CREATE INDEX orders_store_status_remote ON orders (store_id, status_id, remote_id);
CREATE INDEX orders_store_state_remote ON orders (store_id, fulfilment_state, remote_id);
