-- Order lists page by id within a store (`ORDER BY id`, cursor `id > $n`). PostgreSQL's indexes
-- do not end with the row id, so each list shape needs id as its last column, or every page
-- sorts the whole filtered store (≈ 180 ms for the `shipped` filter at 100,000 orders,
-- `cenports bench api`).
CREATE INDEX orders_store_id ON orders (store_id, id);
DROP INDEX orders_store_status;
CREATE INDEX orders_store_status ON orders (store_id, status_id, id);
DROP INDEX orders_store_fulfilment;
CREATE INDEX orders_store_fulfilment ON orders (store_id, fulfilment_state, id);
