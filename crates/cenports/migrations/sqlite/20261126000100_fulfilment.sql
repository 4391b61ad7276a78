-- Fulfilment outbox, SQLite flavour. Keep in step with ../postgres/20261126000100_fulfilment.sql.
--
-- One row is one write to the channel: one shipment to one shipping address (consignment), or
-- one order status change. A user's request that covers several consignments becomes several
-- rows sharing its request key, one per address (`part` = the channel's order_address_id;
-- 0 for a status change). See docs/FULFILMENT.md.
--
-- Lease and schedule columns are compared in SQL on every claim, so they are integer
-- milliseconds since the Unix epoch on both backends (text timestamps of varying precision do
-- not compare reliably as strings).

CREATE TABLE outbox (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id          INTEGER NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    -- The user's idempotency key: the same request twice enters the outbox once.
    request_key       TEXT NOT NULL CHECK (length(request_key) > 0),
    part              INTEGER NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('shipment', 'order_status')),
    order_id          INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    order_remote_id   INTEGER NOT NULL,
    -- What to write, channel-agnostic JSON (fulfilment::OutboxPayload).
    payload           TEXT NOT NULL,
    -- pending: not sent yet, or known not applied; sending: the request may have reached the
    -- channel (read back before any retry); delivered; failed (rejected or given up).
    state             TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'delivered', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   INTEGER NOT NULL,
    lease_owner       TEXT,
    locked_until      INTEGER,
    last_error        TEXT,
    -- The channel's id of what was created (BigCommerce shipment id) or the resulting status.
    remote_result     TEXT,
    -- How the delivery was confirmed: posted, or found by its marker on read-back.
    delivered_by      TEXT CHECK (delivered_by IS NULL OR delivered_by IN ('sent', 'found')),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    delivered_at      TEXT,
    UNIQUE (store_id, request_key, part)
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_order ON outbox (store_id, order_id, state);
