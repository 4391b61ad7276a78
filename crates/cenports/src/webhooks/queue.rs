//! The queue reader: notifications of a channel that sends them to a queue instead of calling
//! back over HTTP (Amazon's `ORDER_CHANGE` notifications on the app's SQS queue), turned into
//! the same durable jobs as the HTTP receiver's callbacks.
//!
//! Every `serve` and `worker` process runs one reader per channel with a configured queue
//! ([`crate::channel::Channel::queue`]). A queue hands each message to one reader at a time
//! (it is hidden from others for its visibility timeout), so readers need no lease. For each
//! message:
//!
//! 1. a body the channel cannot read (another notification type, a malformed body) is
//!    deleted with a warning: reading it again cannot help, and polling covers the store;
//! 2. the message names a store by the channel's key (a seller in a marketplace); each
//!    connected store with that key (several users may connect one seller) gets the receipt
//!    and the job in one transaction ([`super::accept`]); a message about no connected store
//!    is deleted;
//! 3. only then is the message deleted. If recording fails, the message is left alone and
//!    comes back after its visibility timeout; if the delete fails, it comes back and is
//!    recognised by its id (a duplicate, nothing queued).
//!
//! Delivery is at least once and the same notification may arrive twice: the receipt, keyed by
//! the notification's id, makes the second one a no-op. The job worker of the process holding
//! the store's lease fetches the order ([`super::worker`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::channel::{Channel, QueueIn, QueuedCallback, QueuedMessage};
use crate::storage::{Accepted, Storage};

/// How long one receive waits for a message (SQS's longest long poll).
pub const LONG_POLL: Duration = Duration::from_secs(20);

/// The first wait after the queue could not be read; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What a reader did until it stopped (for logs and tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueReport {
    /// Messages received (each delivery of a message counts).
    pub received: u64,
    /// Jobs queued (one per store a message was for).
    pub queued: u64,
    /// Messages already recorded (a duplicate or a redelivery).
    pub duplicates: u64,
    /// Messages about no connected store, or naming nothing to fetch.
    pub ignored: u64,
    /// Messages the channel could not read, deleted.
    pub unreadable: u64,
    /// Receives, records or deletes that failed (the message comes back).
    pub errors: u64,
}

/// One channel's queue reader.
pub struct QueueReader {
    /// The database.
    pub storage: Storage,
    /// The channel whose notifications these are.
    pub channel: Arc<dyn Channel>,
    /// Its queue.
    pub queue: Arc<dyn QueueIn>,
    /// Rung when a job is queued (this process's job worker looks at once).
    pub wake: Arc<Notify>,
    /// Hints one store may have waiting before a walk is queued instead.
    pub max_hints: i64,
}

impl QueueReader {
    /// Reads the queue until `shutdown` resolves. A message being read when it does is left
    /// to come back after its visibility timeout.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> QueueReport {
        let mut report = QueueReport::default();
        let mut backoff = FIRST_BACKOFF;
        tracing::info!(
            channel = self.channel.name(),
            queue = %self.queue.describe(),
            "queue: reading notifications"
        );
        tokio::pin!(shutdown);
        loop {
            let received = tokio::select! {
                () = &mut shutdown => break,
                received = self.queue.receive(LONG_POLL) => received,
            };
            match received {
                Ok(messages) => {
                    backoff = FIRST_BACKOFF;
                    for message in messages {
                        report.received += 1;
                        self.handle(message, &mut report).await;
                    }
                }
                Err(error) => {
                    report.errors += 1;
                    tracing::warn!(
                        channel = self.channel.name(),
                        error = %error,
                        retry_in_s = backoff.as_secs(),
                        "queue: could not read the notification queue; polling still covers \
                         the stores"
                    );
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        tracing::info!(channel = self.channel.name(), report = ?report, "queue: stopped");
        report
    }

    /// Records one message for every connected store it is about, then deletes it.
    async fn handle(&self, message: QueuedMessage, report: &mut QueueReport) {
        match &message.content {
            Err(reason) => {
                report.unreadable += 1;
                tracing::warn!(
                    channel = self.channel.name(),
                    reason = %reason,
                    "queue: deleted a message the hub cannot use"
                );
            }
            Ok(queued) => match self.record(queued, report).await {
                Ok(()) => {}
                Err(error) => {
                    report.errors += 1;
                    tracing::warn!(
                        channel = self.channel.name(),
                        store.key = %queued.store_key,
                        error = %error,
                        "queue: could not record a notification; it comes back after its \
                         visibility timeout"
                    );
                    return;
                }
            },
        }
        if let Err(error) = self.queue.delete(&message.receipt).await {
            report.errors += 1;
            tracing::warn!(
                channel = self.channel.name(),
                error = %error,
                "queue: could not delete a recorded message; it comes back as a duplicate"
            );
        }
    }

    async fn record(
        &self,
        queued: &QueuedCallback,
        report: &mut QueueReport,
    ) -> Result<(), crate::storage::StorageError> {
        let stores = self
            .storage
            .connected_stores_with_key(self.channel.name(), &queued.store_key)
            .await?;
        if stores.is_empty() {
            report.ignored += 1;
            tracing::debug!(
                channel = self.channel.name(),
                store.key = %queued.store_key,
                "queue: a notification for no connected store"
            );
        }
        for store in stores {
            let outcome = super::accept(
                &self.storage,
                store.id(),
                &queued.callback,
                self.max_hints,
                &self.wake,
            )
            .await?;
            match outcome {
                Accepted::Queued | Accepted::Coalesced | Accepted::Walk => report.queued += 1,
                Accepted::Duplicate => report.duplicates += 1,
                Accepted::Ignored => report.ignored += 1,
            }
            tracing::debug!(
                store.id = store.id().get(),
                webhook.id = %queued.callback.message_id,
                webhook.scope = %queued.callback.scope,
                outcome = ?outcome,
                "queue: notification recorded"
            );
        }
        Ok(())
    }
}
