-- Sync history (docs/SYNC.md, "Sync history"), postgres flavour. Keep in step with
-- ../sqlite/20261126000800_sync_runs.sql.

-- One row per sync of a store, whoever started it (the scheduler, the API or dashboard, the
-- CLI): when, how it ended, what it did. Written when the sync starts (outcome 'running') and
-- again when it ends; a process that dies in between leaves 'running' with no end, which the
-- store page shows as "no end recorded". The newest 200 rows per store are kept.
CREATE TABLE sync_runs (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id         BIGINT NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    started_by       TEXT NOT NULL CHECK (started_by IN ('scheduled', 'api', 'cli')),
    started_at       TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ,
    outcome          TEXT NOT NULL CHECK (outcome IN ('running', 'ok', 'failed')),
    orders_inserted  BIGINT NOT NULL DEFAULT 0,
    orders_updated   BIGINT NOT NULL DEFAULT 0,
    orders_read      BIGINT NOT NULL DEFAULT 0,
    products         BIGINT NOT NULL DEFAULT 0,
    api_requests     BIGINT NOT NULL DEFAULT 0,
    error            TEXT
);
CREATE INDEX sync_runs_store ON sync_runs (store_id, id);
