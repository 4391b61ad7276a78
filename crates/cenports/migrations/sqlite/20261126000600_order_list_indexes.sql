-- Order lists page by id within a store (`ORDER BY id`, cursor `id > $n`). On SQLite every index
-- ends with the rowid, so (store_id, status_id) and (store_id, fulfilment_state) already give
-- id order for their filters; the unfiltered list needs (store_id, id) or it sorts the whole
-- store for every page (≈ 190 ms at 100,000 orders, `cenports bench api`).
CREATE INDEX orders_store_id ON orders (store_id, id);
