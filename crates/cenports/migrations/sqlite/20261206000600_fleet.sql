-- The fleet (docs/ARCHITECTURE.md, "Running as a fleet"): several hub processes on one
-- database coordinate through these tables, never through memory. Times are epoch
-- milliseconds by the database's clock.

-- Every live `serve` or `worker` process, with its last heartbeat. A process whose heartbeat
-- is older than the lease period is dead: its leases expire and the others take its stores.
CREATE TABLE hub_processes (
    id            TEXT PRIMARY KEY CHECK (length(id) > 0),
    role          TEXT NOT NULL,
    host          TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    -- Whether it polls its stores (`--no-poll` does not): a process that does not poll takes
    -- stores only when no polling process is alive, so none is left unpolled.
    polls         INTEGER NOT NULL DEFAULT 1,
    started_at    INTEGER NOT NULL,
    heartbeat_at  INTEGER NOT NULL
);

-- One row per channel store (the channel's store key, shared by every user who connected
-- it): which process works the store until when, and when its last scheduled sync started.
-- A released lease keeps its row (owner NULL) so the schedule survives the move.
CREATE TABLE store_leases (
    channel      TEXT NOT NULL,
    remote_id    TEXT NOT NULL,
    owner        TEXT,
    expires_at   INTEGER NOT NULL DEFAULT 0,
    acquired_at  INTEGER NOT NULL DEFAULT 0,
    polled_at    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel, remote_id)
);
CREATE INDEX store_leases_owner ON store_leases (owner);

-- Deferred work, claimed by the process holding the store's lease: webhook hints (one order
-- or product to fetch), walks (an incremental sync that replaces a backlog of hints) and
-- syncs asked for through the API. A pending job of the same kind and target is never queued
-- twice (the partial unique index), which coalesces repeated hints.
CREATE TABLE jobs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id       INTEGER NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL CHECK (kind IN ('order', 'product', 'walk', 'sync')),
    target         TEXT NOT NULL DEFAULT '',
    scope          TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    run_after      INTEGER NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    claimed_by     TEXT,
    claimed_until  INTEGER,
    last_error     TEXT
);
CREATE UNIQUE INDEX jobs_pending_once ON jobs (store_id, kind, target) WHERE claimed_by IS NULL;
CREATE INDEX jobs_due ON jobs (store_id, run_after);
