//! What a service call can fail with, whichever surface made it.
//!
//! Each surface maps a [`ServiceError`] to its own answer: the JSON API to its error envelope
//! (`crate::http::error`), the dashboard to an error page or the form again (`crate::web`).
//! A store, order or shipment that does not exist and one that belongs to another tenant are the
//! same `…NotFound` variant, so neither surface can tell them apart. For the other 4xx variants
//! the message (`Display`) says what to do, and both surfaces show it as it is; the database and
//! payload variants are 5xx, whose cause the surface logs once and does not show.

use super::shipments::MAX_IDEMPOTENCY_KEY;
use crate::channel::UnknownChannel;
use crate::fulfilment::{FulfilmentError, TrackingProblem};
use crate::storage::StorageError;

/// A service call that did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No such store, or not one of the caller's.
    #[error("no such store among the caller's")]
    StoreNotFound,
    /// No such order in the store.
    #[error("no such order in this store")]
    OrderNotFound,
    /// No such shipment in the store.
    #[error("no such shipment in this store")]
    ShipmentNotFound,
    /// The store is disconnected: nothing can be synced until it is reconnected.
    #[error("the store is disconnected; reconnect it with `cenports connect` before syncing")]
    StoreDisconnected,
    /// A filter, page size or cursor is not valid (the message names it).
    #[error("{0}")]
    InvalidQuery(String),
    /// A retry of a shipment that was delivered already.
    #[error(
        "this shipment was written to the store already (see its channel shipment id); there is \
         nothing to retry"
    )]
    ShipmentDelivered,
    /// A value breaks a rule (the message names the field).
    #[error("{0}")]
    Invalid(String),
    /// The order cannot be shipped as asked (the message says why; nothing was queued).
    #[error("{0}")]
    ShipmentRejected(String),
    /// The tracking number or link breaks the rule of [`crate::fulfilment::check_tracking`];
    /// each surface names its own field ([`TrackingProblem::describe`]).
    #[error("{0}")]
    Tracking(TrackingProblem),
    /// A shipment request came without its request (idempotency) key.
    #[error(
        "send an Idempotency-Key header (e.g. a UUID, or your own parcel id) so that a retried \
         request creates the shipment once"
    )]
    IdempotencyKeyRequired,
    /// The request key is empty, too long or not printable ASCII.
    #[error(
        "the Idempotency-Key must be 1 to {max} printable ASCII characters without spaces",
        max = MAX_IDEMPOTENCY_KEY
    )]
    IdempotencyKeyInvalid,
    /// The request key was used for a different shipment.
    #[error(
        "this Idempotency-Key was used for a different shipment (another order, carrier or \
         tracking number); use a new key for a new shipment"
    )]
    IdempotencyKeyReused,
    /// A batch of shipments has bad rows (or is not a batch at all); nothing was queued.
    #[error(transparent)]
    BatchRefused(crate::fulfilment::batch::BatchRefused),
    /// No such event subscription among the caller's.
    #[error("no such event subscription among yours")]
    SubscriptionNotFound,
    /// No such event delivery among the caller's subscriptions.
    #[error("no such event delivery among your subscriptions")]
    DeliveryNotFound,
    /// The database failed.
    #[error("the database failed")]
    Storage(#[source] StorageError),
    /// A stored shipment could not be read back.
    #[error("the shipment could not be recorded")]
    Fulfilment(#[source] FulfilmentError),
    /// The store's channel is not one this build knows.
    #[error("the store's channel is not available")]
    Channel(#[source] UnknownChannel),
}

/// A row that is not there is the `…NotFound` of its kind (the same whatever the id and
/// whoever owns it); anything else is the database failing.
impl From<StorageError> for ServiceError {
    fn from(error: StorageError) -> Self {
        match &error {
            StorageError::NotFound { what: "store", .. } => Self::StoreNotFound,
            StorageError::NotFound { what: "order", .. } => Self::OrderNotFound,
            StorageError::NotFound {
                what: "shipment" | "outbox row",
                ..
            } => Self::ShipmentNotFound,
            StorageError::NotFound {
                what: "subscription",
                ..
            } => Self::SubscriptionNotFound,
            StorageError::NotFound {
                what: "delivery", ..
            } => Self::DeliveryNotFound,
            _ => Self::Storage(error),
        }
    }
}
