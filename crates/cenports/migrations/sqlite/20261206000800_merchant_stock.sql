-- On hand becomes the merchant's (docs/STOCK.md, "The model"): one warehouse holds one figure
-- per SKU, so all the stores of one user (a BigCommerce store, an Amazon seller account, ...)
-- share it, and each is pushed that figure minus what the open orders of all of them reserve,
-- minus its own buffer. `stock_levels` keeps what is the store's own: the last push per SKU.
-- SQLite twin of the PostgreSQL file.

-- The merchant's on hand per SKU, as counted (`counted_at`, epoch milliseconds, the rule of
-- 20261206000300_stock_counted_at) and as last changed (a count or a delivered shipment).
CREATE TABLE stock_on_hand (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sku         TEXT NOT NULL CHECK (length(sku) > 0),
    on_hand     INTEGER NOT NULL CHECK (on_hand >= 0 AND on_hand <= 2147483647),
    counted_at  INTEGER NOT NULL DEFAULT 0,
    updated_at  TEXT NOT NULL,
    UNIQUE (user_id, sku)
);

-- Each merchant's figures from their stores' rows. A SKU held by several stores of one merchant
-- had one figure per store; the merchant keeps the most recently counted one (the latest
-- `counted_at`, then the latest change, then the newest row): the last count is the
-- warehouse's latest word, the others were what it said before.
INSERT INTO stock_on_hand (user_id, sku, on_hand, counted_at, updated_at)
SELECT user_id, sku, on_hand, counted_at, updated_at FROM (
    SELECT s.user_id, l.sku, l.on_hand, l.counted_at, l.updated_at,
        ROW_NUMBER() OVER (PARTITION BY s.user_id, l.sku
            ORDER BY l.counted_at DESC, l.updated_at DESC, l.id DESC) AS pick
    FROM stock_levels l JOIN stores s ON s.id = l.store_id
) AS latest
WHERE pick = 1
ORDER BY user_id, sku;

-- What remains per store: the SKUs a store was given a figure through (listed on its stock
-- page even when its catalog lacks them) and their last push.
ALTER TABLE stock_levels DROP COLUMN on_hand;
ALTER TABLE stock_levels DROP COLUMN counted_at;
ALTER TABLE stock_levels DROP COLUMN updated_at;
