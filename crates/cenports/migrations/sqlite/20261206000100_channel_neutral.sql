-- A channel-neutral schema (docs/ARCHITECTURE.md, "Channels"), SQLite flavour. Keep in step with
-- ../postgres/20261206000100_channel_neutral.sql.
--
-- - Every id of a channel's is text: orders.remote_id and customer_id, the lines' and
--   addresses' ids, products.remote_id, the SKU index's product and variant ids, the outbox's
--   order id and part (an Amazon order id is `902-3159896-1390916`). Existing integers become
--   their decimal text ('101'), which is what the hub writes for BigCommerce from now on.
-- - A status is the channel's own code next to its name: orders.status_id becomes status_code
--   (BigCommerce's ids as text, '11').
-- - Stock tracking is the core's notion of where a level lives: products.stock_tracking is
--   untracked, product or variant; skus.stock_tracking adds derived, for a SKU whose level the
--   store derives from others (a variant-tracked product's own SKU, stored before as
--   'variant' without a variant id).
-- - A walk's resume point is the channel's cursor: sync_checkpoints.last_id becomes cursor.
-- - The outbox's status-change rows get the part 'status' (they had 0).
-- - Newest-first order lists sort by creation time (then our id), not by the channel's order
--   number, which is not a number on every channel.
--
-- SQLite cannot change a column's type, so each table is rebuilt: new table, copy, drop,
-- rename, indexes, in the migration's one transaction. Foreign keys stay on (they cannot be
-- turned off inside a transaction), which decides the order: the new child tables reference
-- `orders_new`, so that dropping the old `orders` (whose implicit DELETE cascades to every
-- table that references `orders`) touches only the old children, dropped before it; renaming
-- `orders_new` to `orders` then rewrites the children's references. AUTOINCREMENT counters are
-- carried over so that no id is ever reused.

CREATE TEMP TABLE channel_neutral_sequences AS SELECT name, seq FROM sqlite_sequence;

CREATE TABLE orders_new (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id          INTEGER NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    remote_id         TEXT NOT NULL CHECK (length(remote_id) > 0),
    status_code       TEXT NOT NULL,
    status_name       TEXT NOT NULL,
    fulfilment_state  TEXT NOT NULL CHECK (fulfilment_state IN
        ('ready', 'on_hold', 'cancelled', 'shipped', 'partially_shipped', 'refunded', 'other')),
    customer_id       TEXT,
    email             TEXT,
    currency          TEXT NOT NULL,
    subtotal          TEXT NOT NULL,
    total             TEXT NOT NULL,
    tax               TEXT NOT NULL,
    payment_method    TEXT,
    payment_status    TEXT,
    date_created      TEXT NOT NULL,
    date_modified     TEXT NOT NULL,
    is_deleted        INTEGER NOT NULL DEFAULT 0 CHECK (is_deleted IN (0, 1)),
    imported_at       TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    -- The order as received (docs/STORAGE.md, "Raw orders"): 'lz4' or 'json'.
    raw               BLOB NOT NULL DEFAULT x'',
    raw_encoding      TEXT NOT NULL DEFAULT 'json' CHECK (raw_encoding IN ('json', 'lz4')),
    UNIQUE (store_id, remote_id)
);
INSERT INTO orders_new (id, store_id, remote_id, status_code, status_name, fulfilment_state,
    customer_id, email, currency, subtotal, total, tax, payment_method, payment_status,
    date_created, date_modified, is_deleted, imported_at, updated_at, raw, raw_encoding)
SELECT id, store_id, CAST(remote_id AS TEXT), CAST(status_id AS TEXT), status_name,
    fulfilment_state, CAST(customer_id AS TEXT), email, currency, subtotal, total, tax,
    payment_method, payment_status, date_created, date_modified, is_deleted, imported_at,
    updated_at, raw, raw_encoding
FROM orders;

CREATE TABLE order_lines_new (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id           INTEGER NOT NULL REFERENCES orders_new (id) ON DELETE CASCADE,
    -- Every tenant-owned row carries its store, so a query can always be filtered by tenant.
    store_id           INTEGER NOT NULL,
    remote_id          TEXT NOT NULL,
    product_id         TEXT,
    variant_id         TEXT,
    sku                TEXT NOT NULL,
    name               TEXT NOT NULL,
    quantity           INTEGER NOT NULL CHECK (quantity >= 0),
    quantity_shipped   INTEGER NOT NULL CHECK (quantity_shipped >= 0),
    price              TEXT NOT NULL,
    address_remote_id  TEXT,
    UNIQUE (order_id, remote_id)
);
INSERT INTO order_lines_new (id, order_id, store_id, remote_id, product_id, variant_id, sku,
    name, quantity, quantity_shipped, price, address_remote_id)
SELECT id, order_id, store_id, CAST(remote_id AS TEXT), CAST(product_id AS TEXT),
    CAST(variant_id AS TEXT), sku, name, quantity, quantity_shipped, price,
    CAST(address_remote_id AS TEXT)
FROM order_lines;

CREATE TABLE order_addresses_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id         INTEGER NOT NULL REFERENCES orders_new (id) ON DELETE CASCADE,
    store_id         INTEGER NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('billing', 'shipping')),
    -- The channel's id of a shipping address (what a shipment names); NULL for billing.
    remote_id        TEXT,
    first_name       TEXT NOT NULL,
    last_name        TEXT NOT NULL,
    company          TEXT NOT NULL,
    street_1         TEXT NOT NULL,
    street_2         TEXT NOT NULL,
    city             TEXT NOT NULL,
    state            TEXT NOT NULL,
    zip              TEXT NOT NULL,
    country_iso2     TEXT NOT NULL,
    email            TEXT NOT NULL,
    phone            TEXT NOT NULL,
    shipping_method  TEXT
);
INSERT INTO order_addresses_new (id, order_id, store_id, kind, remote_id, first_name, last_name,
    company, street_1, street_2, city, state, zip, country_iso2, email, phone, shipping_method)
SELECT id, order_id, store_id, kind, CAST(remote_id AS TEXT), first_name, last_name, company,
    street_1, street_2, city, state, zip, country_iso2, email, phone, shipping_method
FROM order_addresses;

CREATE TABLE sync_checkpoints_new (
    store_id      INTEGER NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    stream        TEXT NOT NULL CHECK (length(stream) > 0),
    window_start  TEXT,
    window_end    TEXT,
    -- Where the walk resumes in its window: the channel's cursor (BigCommerce: the last id).
    cursor        TEXT,
    completed_at  TEXT,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (store_id, stream)
);
INSERT INTO sync_checkpoints_new (store_id, stream, window_start, window_end, cursor,
    completed_at, updated_at)
SELECT store_id, stream, window_start, window_end, CAST(last_id AS TEXT), completed_at, updated_at
FROM sync_checkpoints;

CREATE TABLE products_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id        INTEGER NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    remote_id       TEXT NOT NULL CHECK (length(remote_id) > 0),
    name            TEXT NOT NULL,
    sku             TEXT NOT NULL,
    stock_tracking  TEXT NOT NULL CHECK (stock_tracking IN ('untracked', 'product', 'variant')),
    date_modified   TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (store_id, remote_id)
);
INSERT INTO products_new (id, store_id, remote_id, name, sku, stock_tracking, date_modified,
    updated_at)
SELECT id, store_id, CAST(remote_id AS TEXT), name, sku,
    CASE inventory_tracking WHEN 'none' THEN 'untracked' ELSE inventory_tracking END,
    date_modified, updated_at
FROM products;

CREATE TABLE skus_new (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id               INTEGER NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    sku                    TEXT NOT NULL CHECK (length(sku) > 0),
    product_remote_id      TEXT NOT NULL,
    variant_remote_id      TEXT,
    stock_tracking         TEXT NOT NULL
        CHECK (stock_tracking IN ('untracked', 'product', 'variant', 'derived')),
    updated_at             TEXT NOT NULL,
    -- What the store last reported for the SKU (docs/STOCK.md).
    inventory_level        INTEGER,
    inventory_reported_at  TEXT,
    UNIQUE (store_id, sku)
);
INSERT INTO skus_new (id, store_id, sku, product_remote_id, variant_remote_id, stock_tracking,
    updated_at, inventory_level, inventory_reported_at)
SELECT id, store_id, sku, CAST(product_remote_id AS TEXT), CAST(variant_remote_id AS TEXT),
    CASE
        WHEN inventory_tracking = 'none' THEN 'untracked'
        WHEN inventory_tracking = 'variant' AND variant_remote_id IS NULL THEN 'derived'
        ELSE inventory_tracking
    END,
    updated_at, inventory_level, inventory_reported_at
FROM skus;

CREATE TABLE outbox_new (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id          INTEGER NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    -- The user's idempotency key: the same request twice enters the outbox once.
    request_key       TEXT NOT NULL CHECK (length(request_key) > 0),
    -- A shipment's shipping address id, or 'status' for a status change.
    part              TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('shipment', 'order_status')),
    order_id          INTEGER NOT NULL REFERENCES orders_new (id) ON DELETE CASCADE,
    order_remote_id   TEXT NOT NULL,
    -- What to write, channel-agnostic JSON (fulfilment::OutboxPayload).
    payload           TEXT NOT NULL,
    -- pending: not sent yet, or known not applied; sending: the request may have reached the
    -- channel (read back before any retry); delivered; failed (rejected or given up).
    state             TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'delivered', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   INTEGER NOT NULL,
    lease_owner       TEXT,
    locked_until      INTEGER,
    last_error        TEXT,
    -- The channel's id of what was created (a shipment id) or the resulting status.
    remote_result     TEXT,
    -- How the delivery was confirmed: sent, or found by its marker on read-back.
    delivered_by      TEXT CHECK (delivered_by IS NULL OR delivered_by IN ('sent', 'found')),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    delivered_at      TEXT,
    UNIQUE (store_id, request_key, part)
);
INSERT INTO outbox_new (id, store_id, request_key, part, kind, order_id, order_remote_id,
    payload, state, attempts, next_attempt_at, lease_owner, locked_until, last_error,
    remote_result, delivered_by, created_at, updated_at, delivered_at)
SELECT id, store_id, request_key,
    CASE kind WHEN 'order_status' THEN 'status' ELSE CAST(part AS TEXT) END,
    kind, order_id, CAST(order_remote_id AS TEXT), payload, state, attempts, next_attempt_at,
    lease_owner, locked_until, last_error, remote_result, delivered_by, created_at, updated_at,
    delivered_at
FROM outbox;

DROP TABLE outbox;
DROP TABLE order_lines;
DROP TABLE order_addresses;
DROP TABLE orders;
DROP TABLE sync_checkpoints;
DROP TABLE skus;
DROP TABLE products;

ALTER TABLE orders_new RENAME TO orders;
ALTER TABLE order_lines_new RENAME TO order_lines;
ALTER TABLE order_addresses_new RENAME TO order_addresses;
ALTER TABLE sync_checkpoints_new RENAME TO sync_checkpoints;
ALTER TABLE products_new RENAME TO products;
ALTER TABLE skus_new RENAME TO skus;
ALTER TABLE outbox_new RENAME TO outbox;

-- No id is ever reused: each counter goes back to at least where it was.
UPDATE sqlite_sequence
SET seq = max(seq, (SELECT s.seq FROM channel_neutral_sequences s
                    WHERE s.name = sqlite_sequence.name))
WHERE name IN (SELECT name FROM channel_neutral_sequences);
DROP TABLE channel_neutral_sequences;

CREATE INDEX orders_store_status ON orders (store_id, status_code);
CREATE INDEX orders_store_fulfilment ON orders (store_id, fulfilment_state);
CREATE INDEX orders_store_modified ON orders (store_id, date_modified);
CREATE INDEX orders_store_id ON orders (store_id, id);
-- Created ranges and newest-first lists (`ORDER BY date_created DESC, id DESC`): every SQLite
-- index ends with the rowid, so these also give the id order within one creation time.
CREATE INDEX orders_store_created ON orders (store_id, date_created);
CREATE INDEX orders_store_status_created ON orders (store_id, status_code, date_created);
CREATE INDEX orders_store_state_created ON orders (store_id, fulfilment_state, date_created);
CREATE INDEX order_addresses_order_id ON order_addresses (order_id);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_order ON outbox (store_id, order_id, state);
