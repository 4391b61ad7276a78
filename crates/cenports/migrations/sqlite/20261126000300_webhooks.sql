-- Webhooks (docs/WEBHOOKS.md), SQLite flavour. Keep in step with
-- ../postgres/20261126000300_webhooks.sql.

-- One row per store whose hooks point at this hub: the random secret BigCommerce sends back in
-- our custom header with every callback (encrypted like the store's credentials: AEAD,
-- nonce beside the ciphertext) and the destination the hooks were registered with.
CREATE TABLE webhook_endpoints (
    store_id                  INTEGER PRIMARY KEY REFERENCES stores (id) ON DELETE CASCADE,
    header_secret_ciphertext  BLOB NOT NULL,
    header_secret_nonce       BLOB NOT NULL,
    destination               TEXT NOT NULL,
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL
);

-- Callbacks already accepted, by their `webhook-id`: a retry or a duplicate delivery of the
-- same message is acknowledged without a second fetch. Rows expire after BigCommerce's retry
-- horizon (48 h) plus a margin; kept in the database so a restart keeps de-duplicating.
CREATE TABLE webhook_receipts (
    store_id     INTEGER NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    message_id   TEXT NOT NULL CHECK (length(message_id) > 0),
    scope        TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    PRIMARY KEY (store_id, message_id)
);
CREATE INDEX webhook_receipts_expiry ON webhook_receipts (expires_at);
