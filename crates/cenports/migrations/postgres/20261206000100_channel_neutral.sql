-- A channel-neutral schema (docs/ARCHITECTURE.md, "Channels"), PostgreSQL flavour. Keep in step
-- with ../sqlite/20261206000100_channel_neutral.sql, which explains each change:
--
-- - every id of a channel's is text (existing integers become their decimal text);
-- - orders.status_id becomes status_code, the channel's own code as text;
-- - products.inventory_tracking and skus.inventory_tracking become stock_tracking, the core's
--   notion of where a level lives (untracked, product, variant; skus add derived);
-- - sync_checkpoints.last_id becomes cursor, the channel's resume point;
-- - the outbox's status-change rows get the part 'status' (they had 0);
-- - newest-first order lists sort by creation time, then our id.
--
-- PostgreSQL changes column types in place (the migration runs in one transaction).

ALTER TABLE orders ALTER COLUMN remote_id TYPE TEXT USING remote_id::text;
ALTER TABLE orders ADD CONSTRAINT orders_remote_id_not_empty CHECK (char_length(remote_id) > 0);
ALTER TABLE orders RENAME COLUMN status_id TO status_code;
ALTER TABLE orders ALTER COLUMN status_code TYPE TEXT USING status_code::text;
ALTER TABLE orders ALTER COLUMN customer_id TYPE TEXT USING customer_id::text;

ALTER TABLE order_lines ALTER COLUMN remote_id TYPE TEXT USING remote_id::text;
ALTER TABLE order_lines ALTER COLUMN product_id TYPE TEXT USING product_id::text;
ALTER TABLE order_lines ALTER COLUMN variant_id TYPE TEXT USING variant_id::text;
ALTER TABLE order_lines ALTER COLUMN address_remote_id TYPE TEXT USING address_remote_id::text;

ALTER TABLE order_addresses ALTER COLUMN remote_id TYPE TEXT USING remote_id::text;

ALTER TABLE sync_checkpoints RENAME COLUMN last_id TO cursor;
ALTER TABLE sync_checkpoints ALTER COLUMN cursor TYPE TEXT USING cursor::text;

ALTER TABLE products ALTER COLUMN remote_id TYPE TEXT USING remote_id::text;
ALTER TABLE products ADD CONSTRAINT products_remote_id_not_empty CHECK (char_length(remote_id) > 0);
ALTER TABLE products DROP CONSTRAINT products_inventory_tracking_check;
ALTER TABLE products RENAME COLUMN inventory_tracking TO stock_tracking;
UPDATE products SET stock_tracking = 'untracked' WHERE stock_tracking = 'none';
ALTER TABLE products ADD CONSTRAINT products_stock_tracking_check
    CHECK (stock_tracking IN ('untracked', 'product', 'variant'));

ALTER TABLE skus ALTER COLUMN product_remote_id TYPE TEXT USING product_remote_id::text;
ALTER TABLE skus ALTER COLUMN variant_remote_id TYPE TEXT USING variant_remote_id::text;
ALTER TABLE skus DROP CONSTRAINT skus_inventory_tracking_check;
ALTER TABLE skus RENAME COLUMN inventory_tracking TO stock_tracking;
UPDATE skus SET stock_tracking = CASE
        WHEN stock_tracking = 'none' THEN 'untracked'
        WHEN stock_tracking = 'variant' AND variant_remote_id IS NULL THEN 'derived'
        ELSE stock_tracking
    END
WHERE stock_tracking = 'none' OR (stock_tracking = 'variant' AND variant_remote_id IS NULL);
ALTER TABLE skus ADD CONSTRAINT skus_stock_tracking_check
    CHECK (stock_tracking IN ('untracked', 'product', 'variant', 'derived'));

ALTER TABLE outbox ALTER COLUMN part TYPE TEXT
    USING CASE kind WHEN 'order_status' THEN 'status' ELSE part::text END;
ALTER TABLE outbox ALTER COLUMN order_remote_id TYPE TEXT USING order_remote_id::text;

-- Newest first: `ORDER BY date_created DESC, id DESC`, alone or within a status or state.
DROP INDEX orders_store_status_remote;
DROP INDEX orders_store_state_remote;
DROP INDEX orders_store_created;
CREATE INDEX orders_store_created ON orders (store_id, date_created, id);
CREATE INDEX orders_store_status_created ON orders (store_id, status_code, date_created, id);
CREATE INDEX orders_store_state_created ON orders (store_id, fulfilment_state, date_created, id);
