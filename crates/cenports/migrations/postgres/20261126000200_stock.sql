-- Stock (issue 4, docs/STOCK.md): on hand per SKU, the level the store last reported, the
-- outcome of the last push, and a per-store safety buffer. PostgreSQL twin of the SQLite file.

-- What the store last reported for the SKU (catalog import or the read-back after a push);
-- NULL until one of them has seen it. Pushes only send values that differ from it.
ALTER TABLE skus ADD COLUMN inventory_level BIGINT;
ALTER TABLE skus ADD COLUMN inventory_reported_at TIMESTAMPTZ;

CREATE TABLE stock_levels (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id            BIGINT NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    sku                 TEXT NOT NULL CHECK (char_length(sku) > 0),
    on_hand             BIGINT NOT NULL CHECK (on_hand >= 0 AND on_hand <= 2147483647),
    updated_at          TIMESTAMPTZ NOT NULL,
    -- The last push that concerned this SKU: what was sent (NULL when nothing was sent),
    -- its outcome (ok, mismatch, rejected, failed, not_in_catalog, untracked, ...) and why.
    last_push_level     BIGINT,
    last_push_status    TEXT,
    last_push_message   TEXT,
    last_push_at        TIMESTAMPTZ,
    UNIQUE (store_id, sku)
);

CREATE TABLE stock_settings (
    store_id            BIGINT PRIMARY KEY REFERENCES stores (id) ON DELETE CASCADE,
    safety_buffer       BIGINT NOT NULL DEFAULT 0 CHECK (safety_buffer >= 0),
    updated_at          TIMESTAMPTZ NOT NULL
);
