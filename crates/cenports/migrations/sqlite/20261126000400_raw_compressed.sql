-- The order as received is kept compressed (docs/STORAGE.md, "Raw orders"): LZ4 shrinks a
-- BigCommerce order's JSON about fivefold, and writing it was a third of the hub's CPU per
-- imported order. `raw` holds the bytes, `raw_encoding` says how to read them: 'lz4' (LZ4 block
-- with its length in front, what the hub writes) or 'json' (plain UTF-8 text: rows written
-- before this migration, kept as they were).
ALTER TABLE orders ADD COLUMN raw BLOB NOT NULL DEFAULT x'';
ALTER TABLE orders ADD COLUMN raw_encoding TEXT NOT NULL DEFAULT 'json'
    CHECK (raw_encoding IN ('json', 'lz4'));
UPDATE orders SET raw = CAST(raw_json AS BLOB);
ALTER TABLE orders DROP COLUMN raw_json;
