-- Order lists filtered by creation date (`created_from` / `created_to`). Without it the list walks
-- the store in id order until it has a page, which for a recent week at 100,000 orders reads the
-- whole store (≈ 100 ms a page); with it, the orders of the range are found and sorted by id, so a
-- page costs what the range holds (a week: ≈ 1 ms; the whole store: ≈ 100 ms, docs/PERFORMANCE.md).
CREATE INDEX orders_store_created ON orders (store_id, date_created);
