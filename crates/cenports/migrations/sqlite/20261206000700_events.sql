-- Events for the warehouse's systems (docs/EVENTS.md): what happened to an order, a shipment
-- or the stock, recorded in the transaction that made it happen, and delivered to each
-- subscription from a durable queue. Times are epoch milliseconds by the database's clock.

-- What the warehouse has been told of each order: its fulfilment state and a fingerprint of
-- what it ships (lines and shipping addresses). An import compares the new version with these
-- to know which events it makes. Orders imported before this migration start announced as
-- they are, so upgrading sends nothing about the past.
ALTER TABLE orders ADD COLUMN announced_state TEXT;
ALTER TABLE orders ADD COLUMN announced_hash INTEGER;
UPDATE orders SET announced_state = fulfilment_state;

-- One row per event. `commit_seq` orders the feed (`GET /api/v1/events`): it is taken from
-- `event_counter` in the inserting transaction, whose row lock is held until that transaction
-- commits, so sequence numbers become visible in order and a cursor never passes an event that
-- commits later (transaction ids would not do: they are the whole server's, and one long
-- transaction of another database would hold the feed back).
CREATE TABLE event_counter (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq  INTEGER NOT NULL
);
INSERT INTO event_counter (id, last_seq) VALUES (1, 0);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    commit_seq  INTEGER NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    store_id    INTEGER NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    type        TEXT NOT NULL,
    -- What the event is about, for ordering: `order:<our id>` or `stock`. Deliveries of one
    -- subject to one subscription go out one at a time, in event order.
    subject     TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX events_feed ON events (user_id, commit_seq);
CREATE UNIQUE INDEX events_all_feed ON events (commit_seq);
CREATE INDEX events_created ON events (created_at);

-- A merchant's endpoint: the URL, the event types it wants ('' = all, else ',a,b,'), an
-- optional store, and its signing secret sealed with the hub's key. After a failure the
-- subscription pauses (`paused_until`), doubling up to an hour while it keeps failing.
CREATE TABLE event_subscriptions (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id               INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    store_id              INTEGER REFERENCES stores (id) ON DELETE CASCADE,
    url                   TEXT NOT NULL,
    event_types           TEXT NOT NULL DEFAULT '',
    secret                BLOB NOT NULL,
    created_at            INTEGER NOT NULL,
    failures_in_a_row     INTEGER NOT NULL DEFAULT 0,
    failing_since         INTEGER,
    paused_until          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX event_subscriptions_user ON event_subscriptions (user_id);

-- One delivery of one event to one subscription: pending until the endpoint answers 2xx
-- (delivered) or the hub gives up after a day of retries (failed; an operator may resend).
CREATE TABLE event_deliveries (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id   INTEGER NOT NULL REFERENCES event_subscriptions (id) ON DELETE CASCADE,
    event_id          INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    subject           TEXT NOT NULL,
    state             TEXT NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    first_attempt_at  INTEGER,
    next_attempt_at   INTEGER NOT NULL,
    claimed_by        TEXT,
    claimed_until     INTEGER,
    last_status       INTEGER,
    last_error        TEXT,
    delivered_at      INTEGER,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX event_deliveries_due ON event_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX event_deliveries_subject ON event_deliveries (subscription_id, subject, event_id)
    WHERE state = 'pending';
CREATE INDEX event_deliveries_list ON event_deliveries (subscription_id, id);
CREATE INDEX event_deliveries_event ON event_deliveries (event_id);
