-- Order lists filtered by creation date (`created_from` / `created_to`). Without it a narrow range
-- (a recent week at 100,000 orders) is a sequential scan of the table (≈ 120 ms a page); with it
-- the planner reads the range from this index (< 1 ms); for ranges that hold most of the store it
-- keeps the id-order scan of orders_store_id when the table has statistics (docs/PERFORMANCE.md).
CREATE INDEX orders_store_created ON orders (store_id, date_created);
