-- Cenports schema, PostgreSQL flavour. Keep in step with ../sqlite/20250101000000_initial.sql:
-- same tables, same columns, same constraints; only the types differ (see docs/STORAGE.md).
--
-- Types on PostgreSQL:
--   ids         BIGINT identity.
--   timestamps  TIMESTAMPTZ (always written in UTC).
--   money       NUMERIC without a fixed scale, so "12.3400" keeps its four places.
--   secrets     BYTEA ciphertext + BYTEA nonce; the plaintext never reaches the database.

CREATE TABLE users (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email       TEXT NOT NULL,
    -- Lower-cased email: uniqueness is case-insensitive, the same way on both backends.
    email_key   TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE stores (
    id                        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id                   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel                   TEXT NOT NULL CHECK (char_length(channel) > 0),
    remote_id                 TEXT NOT NULL CHECK (char_length(remote_id) > 0),
    api_base_url              TEXT NOT NULL,
    name                      TEXT NOT NULL DEFAULT '',
    domain                    TEXT NOT NULL DEFAULT '',
    currency                  TEXT NOT NULL DEFAULT '',
    timezone                  TEXT NOT NULL DEFAULT '',
    weight_units              TEXT NOT NULL DEFAULT '',
    dimension_units           TEXT NOT NULL DEFAULT '',
    plan                      TEXT NOT NULL DEFAULT '',
    client_id                 TEXT,
    client_secret_ciphertext  BYTEA,
    client_secret_nonce       BYTEA,
    access_token_ciphertext   BYTEA,
    access_token_nonce        BYTEA,
    status                    TEXT NOT NULL CHECK (status IN ('connected', 'disconnected')),
    connected_at              TIMESTAMPTZ,
    updated_at                TIMESTAMPTZ NOT NULL,
    UNIQUE (channel, remote_id, user_id)
);
CREATE INDEX stores_user_id ON stores (user_id);

CREATE TABLE orders (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id          BIGINT NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    remote_id         BIGINT NOT NULL,
    status_id         INTEGER NOT NULL,
    status_name       TEXT NOT NULL,
    fulfilment_state  TEXT NOT NULL CHECK (fulfilment_state IN
        ('ready', 'on_hold', 'cancelled', 'shipped', 'partially_shipped', 'refunded', 'other')),
    customer_id       BIGINT,
    email             TEXT,
    currency          TEXT NOT NULL,
    subtotal          NUMERIC NOT NULL,
    total             NUMERIC NOT NULL,
    tax               NUMERIC NOT NULL,
    payment_method    TEXT,
    payment_status    TEXT,
    date_created      TIMESTAMPTZ NOT NULL,
    date_modified     TIMESTAMPTZ NOT NULL,
    is_deleted        BOOLEAN NOT NULL DEFAULT FALSE,
    raw_json          TEXT NOT NULL,
    imported_at       TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    UNIQUE (store_id, remote_id)
);
CREATE INDEX orders_store_status ON orders (store_id, status_id);
CREATE INDEX orders_store_fulfilment ON orders (store_id, fulfilment_state);
CREATE INDEX orders_store_modified ON orders (store_id, date_modified);

CREATE TABLE order_lines (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id           BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    -- Every tenant-owned row carries its store, so a query can always be filtered by tenant.
    store_id           BIGINT NOT NULL,
    remote_id          BIGINT NOT NULL,
    product_id         BIGINT,
    variant_id         BIGINT,
    sku                TEXT NOT NULL,
    name               TEXT NOT NULL,
    quantity           INTEGER NOT NULL CHECK (quantity >= 0),
    quantity_shipped   INTEGER NOT NULL CHECK (quantity_shipped >= 0),
    price              NUMERIC NOT NULL,
    address_remote_id  BIGINT,
    UNIQUE (order_id, remote_id)
);

CREATE TABLE order_addresses (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id         BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    store_id         BIGINT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('billing', 'shipping')),
    -- BigCommerce's order_address_id (consignment); NULL for the billing address, which has none.
    remote_id        BIGINT,
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
    store_id      BIGINT NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    stream        TEXT NOT NULL CHECK (char_length(stream) > 0),
    window_start  TIMESTAMPTZ,
    window_end    TIMESTAMPTZ,
    last_id       BIGINT,
    completed_at  TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (store_id, stream)
);

CREATE TABLE products (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id            BIGINT NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    remote_id           BIGINT NOT NULL,
    name                TEXT NOT NULL,
    sku                 TEXT NOT NULL,
    inventory_tracking  TEXT NOT NULL CHECK (inventory_tracking IN ('none', 'product', 'variant')),
    date_modified       TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    UNIQUE (store_id, remote_id)
);

CREATE TABLE skus (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id            BIGINT NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    sku                 TEXT NOT NULL CHECK (char_length(sku) > 0),
    product_remote_id   BIGINT NOT NULL,
    variant_remote_id   BIGINT,
    inventory_tracking  TEXT NOT NULL CHECK (inventory_tracking IN ('none', 'product', 'variant')),
    updated_at          TIMESTAMPTZ NOT NULL,
    UNIQUE (store_id, sku)
);
