//! Webhooks: the channel tells the hub what changed within seconds; the hub fetches it.
//!
//! `docs/HARD-PROBLEMS.md` note 5: webhooks are hints, not data. A channel sends
//! light payloads (a scope, a type and an id), may send one twice or out of order, signs each
//! (e.g. Standard Webhooks keyed with the API account's client secret), retries for a
//! while and then deactivates the hook. So:
//!
//! - [`registration`] registers the hooks the hub needs when a store is connected and a
//!   public URL is configured, with a random per-store secret in a custom header
//!   ([`HEADER_HOOK_KEY`]); removes them on disconnect; and repairs hooks the channel
//!   deactivated (the health check `cenports serve` runs). The channel's
//!   [`crate::channel::HooksOut`] does the channel's part.
//! - [`receiver`] is the HTTP endpoint (`POST /webhooks/{channel}/{store_id}`): it checks the
//!   header secret in constant time, has the store's channel verify the signature over the raw
//!   bytes ([`crate::channel::Channel::read_callback`]), refuses oversized or malformed bodies,
//!   de-duplicates by the message id and queues a job in the database, in one transaction, and
//!   answers `200` at once.
//! - [`queue`] reads the notification queue of a channel that sends its notifications to a
//!   queue instead of calling back (Amazon's `ORDER_CHANGE` on SQS), in every process, and
//!   records each message as the receiver records a callback.
//! - [`worker`] runs the jobs of the stores whose lease its process holds: targeted fetches
//!   ([`crate::sync::targeted`]: one order with its lines, or one product with its SKUs, saved
//!   through the sync's own save path), or one walk when a store's backlog is too long for
//!   single fetches.
//!
//! Polling stays on as the safety net and reconciliation ([`crate::sync::reconcile`]) repairs
//! drift. The design, the failure modes and the costs are in `docs/WEBHOOKS.md`.

pub mod queue;
pub mod receiver;
pub mod registration;
pub mod worker;

use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;
use url::Url;

use crate::channel::{Callback, Hint};
use crate::storage::{Accepted, JobKind, Storage, StorageError, StoreId, StoreRecord};

/// The custom header carrying the per-store secret (lower case, as HTTP/2 and axum see it).
pub const HEADER_HOOK_KEY: &str = "x-cenports-hook-key";

/// The receiver's route; `{channel}` is the store's channel, `{store_id}` our id of the store
/// (not the channel's store key, which several users may connect).
pub const RECEIVER_ROUTE: &str = "/webhooks/{channel}/{store_id}";

/// The largest callback body accepted. Light payloads are a few hundred bytes; anything near
/// this is not a callback.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long a message id is remembered: channels retry a message for up to about 48 hours
/// (173,040 s for the longest schedule), each retry with a fresh timestamp and the same id.
pub const RECEIPT_TTL: Duration = Duration::from_secs(72 * 3600);

/// Hints (order and product fetches) one store may have waiting: past it, the receiver queues
/// one walk of the store's changed orders instead, which covers them all. The queue is in the
/// database, so this bounds its size, not a process's memory.
pub const MAX_HINTS_PER_STORE: i64 = 1_000;

/// The AEAD purpose of the header secret (`secrets::aad(store key, PURPOSE_HEADER_SECRET)`).
pub const PURPOSE_HEADER_SECRET: &str = "webhook_header_secret";

/// The callback URL of a store: the public base URL joined with [`RECEIVER_ROUTE`].
pub fn destination(public_url: &Url, store: &StoreRecord) -> String {
    format!(
        "{}{}",
        public_url.as_str().trim_end_matches('/'),
        receiver_path(store)
    )
}

/// `/webhooks/{channel}/{id}`.
pub fn receiver_path(store: &StoreRecord) -> String {
    RECEIVER_ROUTE
        .replace("{channel}", &store.channel)
        .replace("{store_id}", &store.id().get().to_string())
}

/// Records an authenticated callback for `store` and queues what it hints at, in one
/// transaction ([`Storage::accept_callback`]): a message id already accepted queues nothing,
/// and past `max_hints` waiting hints one walk waits instead. Rings `wake` (this process's job
/// worker) when a job was queued. Shared by the HTTP receiver and the queue reader.
pub async fn accept(
    storage: &Storage,
    store: StoreId,
    callback: &Callback,
    max_hints: i64,
    wake: &Notify,
) -> Result<Accepted, StorageError> {
    let expires_at =
        Utc::now() + chrono::Duration::from_std(RECEIPT_TTL).unwrap_or(chrono::Duration::days(3));
    let hint = callback.hint.as_ref().map(|hint| match hint {
        Hint::Order(order) => (JobKind::Order, order.as_str()),
        Hint::Product(product) => (JobKind::Product, product.as_str()),
    });
    let outcome = storage
        .accept_callback(
            store,
            &callback.message_id,
            &callback.scope,
            expires_at,
            hint,
            max_hints,
        )
        .await?;
    if matches!(outcome, Accepted::Queued | Accepted::Walk) {
        wake.notify_one();
    }
    Ok(outcome)
}
