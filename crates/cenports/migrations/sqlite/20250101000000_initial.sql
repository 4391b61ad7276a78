-- Cenports schema, SQLite flavour. Keep in step with ../postgres/20250101000000_initial.sql:
-- same tables, same columns, same constraints; only the types differ (see docs/STORAGE.md).
--
-- Types on SQLite:
--   ids         INTEGER PRIMARY KEY AUTOINCREMENT: ids are never reused, so a stale id kept
--               somewhere can never come to name another tenant's row.
--   timestamps  TEXT, RFC 3339 in UTC as sqlx writes chrono::DateTime<Utc>.
--   money       TEXT holding the exact decimal string ("12.3400"); never REAL.
--   secrets     BLOB ciphertext + BLOB nonce; the plaintext never reaches this file.

CREATE TABLE users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    email       TEXT NOT NULL,
    -- Lower-cased email: uniqueness is case-insensitive for every script, not just ASCII
    -- (COLLATE NOCASE would only fold ASCII).
    email_key   TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE stores (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id                   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel                   TEXT NOT NULL CHECK (length(channel) > 0),
    remote_id                 TEXT NOT NULL CHECK (length(remote_id) > 0),
    api_base_url              TEXT NOT NULL,
    name                      TEXT NOT NULL DEFAULT '',
    domain                    TEXT NOT NULL DEFAULT '',
    currency                  TEXT NOT NULL DEFAULT '',
    timezone                  TEXT NOT NULL DEFAULT '',
    weight_units              TEXT NOT NULL DEFAULT '',
    dimension_units           TEXT NOT NULL DEFAULT '',
    plan                      TEXT NOT NULL DEFAULT '',
    client_id                 TEXT,
    client_secret_ciphertext  BLOB,
    client_secret_nonce       BLOB,
    access_token_ciphertext   BLOB,
    access_token_nonce        BLOB,
    status                    TEXT NOT NULL CHECK (status IN ('connected', 'disconnected')),
    connected_at              TEXT,
    updated_at                TEXT NOT NULL,
    UNIQUE (channel, remote_id, user_id)
);
CREATE INDEX stores_user_id ON stores (user_id);

CREATE TABLE orders (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id          INTEGER NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    remote_id         INTEGER NOT NULL,
    status_id         INTEGER NOT NULL,
    status_name       TEXT NOT NULL,
    fulfilment_state  TEXT NOT NULL CHECK (fulfilment_state IN
        ('ready', 'on_hold', 'cancelled', 'shipped', 'partially_shipped', 'refunded', 'other')),
    customer_id       INTEGER,
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
    raw_json          TEXT NOT NULL,
    imported_at       TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (store_id, remote_id)
);
CREATE INDEX orders_store_status ON orders (store_id, status_id);
CREATE INDEX orders_store_fulfilment ON orders (store_id, fulfilment_state);
CREATE INDEX orders_store_modified ON orders (store_id, date_modified);

CREATE TABLE order_lines (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id           INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    -- Every tenant-owned row carries its store, so a query can always be filtered by tenant.
    store_id           INTEGER NOT NULL,
    remote_id          INTEGER NOT NULL,
    product_id         INTEGER,
    variant_id         INTEGER,
    sku                TEXT NOT NULL,
    name               TEXT NOT NULL,
    quantity           INTEGER NOT NULL CHECK (quantity >= 0),
    quantity_shipped   INTEGER NOT NULL CHECK (quantity_shipped >= 0),
    price              TEXT NOT NULL,
    address_remote_id  INTEGER,
    UNIQUE (order_id, remote_id)
);

CREATE TABLE order_addresses (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id         INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    store_id         INTEGER NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('billing', 'shipping')),
    -- BigCommerce's order_address_id (consignment); NULL for the billing address, which has none.
    remote_id        INTEGER,
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
CREATE INDEX order_addresses_order_id ON order_addresses (order_id);

CREATE TABLE sync_checkpoints (
    store_id      INTEGER NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    stream        TEXT NOT NULL CHECK (length(stream) > 0),
    window_start  TEXT,
    window_end    TEXT,
    last_id       INTEGER,
    completed_at  TEXT,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (store_id, stream)
);

CREATE TABLE products (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id            INTEGER NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    remote_id           INTEGER NOT NULL,
    name                TEXT NOT NULL,
    sku                 TEXT NOT NULL,
    inventory_tracking  TEXT NOT NULL CHECK (inventory_tracking IN ('none', 'product', 'variant')),
    date_modified       TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    UNIQUE (store_id, remote_id)
);

CREATE TABLE skus (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id            INTEGER NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    sku                 TEXT NOT NULL CHECK (length(sku) > 0),
    product_remote_id   INTEGER NOT NULL,
    variant_remote_id   INTEGER,
    inventory_tracking  TEXT NOT NULL CHECK (inventory_tracking IN ('none', 'product', 'variant')),
    updated_at          TEXT NOT NULL,
    UNIQUE (store_id, sku)
);
