//! Webhooks in: what a verified callback hints at, what registering hooks did, and the
//! notification queue of a channel that sends its callbacks to a queue instead.
//!
//! Callbacks are hints, not data (`docs/HARD-PROBLEMS.md` note 5): the core
//! fetches what a hint names through the store's client, so a hint carries ids only.

use std::time::Duration;

use async_trait::async_trait;

use super::ChannelError;

/// What a callback asks the hub to fetch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Hint {
    /// One order with its lines and addresses, by the channel's id.
    Order(String),
    /// One product with its SKUs, by the channel's id.
    Product(String),
}

/// An authenticated callback, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// The channel's id of the message: a retry or duplicate delivery carries the same one,
    /// which is how the hub answers it without a second fetch.
    pub message_id: String,
    /// What kind of event it was (e.g. `store/order/created`), for logs.
    pub scope: String,
    /// What to fetch; `None` for events the hub does not act on.
    pub hint: Option<Hint>,
}

/// Why a callback is refused.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// The signature or its timestamp does not check out (logged at debug, never returned to
    /// the caller beyond "could not be authenticated").
    #[error("the callback could not be authenticated: {0}")]
    Unauthenticated(String),
    /// Authenticated, but not a payload of this channel's.
    #[error("{0}")]
    Malformed(String),
}

/// What a registration or repair of a store's hooks did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookReport {
    /// The destination every hook points at.
    pub destination: String,
    /// Hooks created.
    pub created: u64,
    /// Hooks the channel had deactivated, activated again.
    pub reactivated: u64,
    /// Active hooks whose destination or header was corrected.
    pub updated: u64,
    /// Duplicate or no longer needed hooks of ours deleted.
    pub deleted: u64,
    /// Hooks already right.
    pub unchanged: u64,
}

impl HookReport {
    /// Whether anything had to change.
    pub fn changed(&self) -> bool {
        self.created + self.reactivated + self.updated + self.deleted > 0
    }
}

/// A message read from a channel's notification queue ([`QueueIn`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// What deletes the message once it is handled (SQS's receipt handle): the latest
    /// receipt of a message, which changes each time the queue hands it out again.
    pub receipt: String,
    /// The message, read; or why it could not be read (it is deleted all the same: reading it
    /// again cannot help, and the store's polling covers what it was about).
    pub content: Result<QueuedCallback, String>,
}

/// A queued notification about one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedCallback {
    /// The channel's key of the store the message is about (`stores.remote_id`): a queue is
    /// the app's, shared by every store connected to it.
    pub store_key: String,
    /// The notification as a callback: its id (the same on a duplicate delivery), its kind
    /// and what to fetch.
    pub callback: Callback,
}

/// A channel's notification queue (Amazon's `ORDER_CHANGE` notifications go to an SQS queue
/// the app owns, never to an HTTP callback). Delivery is at least once: a message not deleted
/// within its visibility timeout comes back, and the same notification may come twice, so the
/// core records each message id once ([`Callback::message_id`]) before deleting it.
#[async_trait]
pub trait QueueIn: Send + Sync {
    /// Waits up to `wait` (a long poll) for the next messages, at most the queue's own limit
    /// per call; an empty list when none came.
    async fn receive(&self, wait: Duration) -> Result<Vec<QueuedMessage>, ChannelError>;

    /// Deletes a handled message by its receipt.
    async fn delete(&self, receipt: &str) -> Result<(), ChannelError>;

    /// Where the queue is, for logs (no secret in it).
    fn describe(&self) -> String;
}
