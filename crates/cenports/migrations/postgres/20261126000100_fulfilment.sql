-- Fulfilment outbox, PostgreSQL flavour. Keep in step with ../sqlite/20261126000100_fulfilment.sql.
--
-- One row is one write to the channel: one shipment to one shipping address (consignment), or
-- one order status change. A user's request that covers several consignments becomes several
-- rows sharing its request key, one per address (`part` = the channel's order_address_id;
-- 0 for a status change). See docs/FULFILMENT.md.
--
-- Lease and schedule columns are compared in SQL on every claim, so they are integer
-- milliseconds since the Unix epoch on both backends.

CREATE TABLE outbox (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id          BIGINT NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    request_key       TEXT NOT NULL CHECK (char_length(request_key) > 0),
    part              BIGINT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('shipment', 'order_status')),
    order_id          BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    order_remote_id   BIGINT NOT NULL,
    payload           TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'delivered', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT NOT NULL,
    lease_owner       TEXT,
    locked_until      BIGINT,
    last_error        TEXT,
    remote_result     TEXT,
    delivered_by      TEXT CHECK (delivered_by IS NULL OR delivered_by IN ('sent', 'found')),
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    delivered_at      TIMESTAMPTZ,
    UNIQUE (store_id, request_key, part)
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_order ON outbox (store_id, order_id, state);
