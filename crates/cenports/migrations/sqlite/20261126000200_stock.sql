-- Stock (issue 4, docs/STOCK.md): on hand per SKU, the level the store last reported, the
-- outcome of the last push, and a per-store safety buffer. SQLite twin of the PostgreSQL file.

-- What the store last reported for the SKU (catalog import or the read-back after a push);
-- NULL until one of them has seen it. Pushes only send values that differ from it.
ALTER TABLE skus ADD COLUMN inventory_level INTEGER;
ALTER TABLE skus ADD COLUMN inventory_reported_at TEXT;

CREATE TABLE stock_levels (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id            INTEGER NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    sku                 TEXT NOT NULL CHECK (length(sku) > 0),
    on_hand             INTEGER NOT NULL CHECK (on_hand >= 0 AND on_hand <= 2147483647),
    updated_at          TEXT NOT NULL,
    -- The last push that concerned this SKU: what was sent (NULL when nothing was sent),
    -- its outcome (ok, mismatch, rejected, failed, not_in_catalog, untracked, ...) and why.
    last_push_level     INTEGER,
    last_push_status    TEXT,
    last_push_message   TEXT,
    last_push_at        TEXT,
    UNIQUE (store_id, sku)
);

CREATE TABLE stock_settings (
    store_id            INTEGER PRIMARY KEY REFERENCES stores (id) ON DELETE CASCADE,
    safety_buffer       INTEGER NOT NULL DEFAULT 0 CHECK (safety_buffer >= 0),
    updated_at          TEXT NOT NULL
);
