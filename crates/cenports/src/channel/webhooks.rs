//! Webhooks in: what a verified callback hints at, and what registering hooks did.
//!
//! Callbacks are hints, not data (`docs/HARD-PROBLEMS.md` note 5): the core
//! fetches what a hint names through the store's client, so a hint carries ids only.

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
