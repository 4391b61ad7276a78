//! Events for the warehouses' systems (`docs/EVENTS.md`): a merchant's subscriptions, their
//! deliveries (with a resend) and the event feed. Merchants see their own; operators see
//! everyone's, and subscribe for themselves.

use secrecy::SecretString;

use super::{AppState, ServiceError};
use crate::accounts::StoreAccess;
use crate::events::{subscribe as record_subscription, Destinations, SubscribeError};
use crate::storage::{
    DeliveryId, DeliveryRecord, DeliveryState, EventCursor, EventRecord, EventType, Subscription,
    SubscriptionId, UserId,
};

/// Most subscriptions one merchant may have.
pub const MAX_SUBSCRIPTIONS: usize = 20;

/// Whose rows a caller sees: a merchant's own (`Some`), or everyone's (`None`, operators).
fn owner(access: StoreAccess) -> Option<UserId> {
    match access {
        StoreAccess::Owner(user) => Some(user),
        StoreAccess::AllStores => None,
    }
}

/// What a subscription asks for.
#[derive(Debug, Clone)]
pub struct SubscriptionRequest {
    /// The endpoint.
    pub url: String,
    /// Event type names; empty means all.
    pub events: Vec<String>,
    /// Only this store of the caller's (our id).
    pub store_id: Option<i64>,
}

/// Records a subscription of `user` (who reaches `access`): the URL is checked (form, and where
/// it resolves: `docs/EVENTS.md`, "Where events may go"), the event types and the store too.
/// Returns it with its signing secret, shown this once.
pub async fn subscribe(
    state: &AppState,
    access: StoreAccess,
    user: UserId,
    request: &SubscriptionRequest,
) -> Result<(Subscription, SecretString), ServiceError> {
    let types = request
        .events
        .iter()
        .filter(|t| !t.trim().is_empty())
        .map(|t| t.parse::<EventType>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServiceError::Invalid(format!("events: {e}")))?;
    let store = match request.store_id {
        Some(id) => {
            let scope = super::stores::scope_for(state, access, id).await?;
            // Events go to the subscriptions of the store's owner: an operator limiting their
            // own subscription to a merchant's store would never receive anything.
            if scope.user_id() != user {
                return Err(ServiceError::Invalid(
                    "store_id: that store is another user's; its events go to its owner's \
                     subscriptions (make the subscription for them with `cenports \
                     subscriptions add --email OWNER`)"
                        .to_owned(),
                ));
            }
            Some(scope.store_id())
        }
        None => None,
    };
    if state.storage.list_subscriptions(Some(user)).await?.len() >= MAX_SUBSCRIPTIONS {
        return Err(ServiceError::Invalid(format!(
            "you have {MAX_SUBSCRIPTIONS} subscriptions, the most one account may have; remove \
             one you no longer use"
        )));
    }
    let destinations = Destinations {
        allow_private: state.settings().events_allow_private_networks,
    };
    record_subscription(
        &state.storage,
        state.channels().secret_box(),
        destinations,
        user,
        store,
        &request.url,
        types,
    )
    .await
    .map_err(|e| match e {
        SubscribeError::Destination(message) => ServiceError::Invalid(format!("url: {message}")),
        SubscribeError::EventType(e) => ServiceError::Invalid(format!("events: {e}")),
        SubscribeError::Storage(e) => e.into(),
    })
}

/// The caller's subscriptions (an operator's: everyone's).
pub async fn list_subscriptions(
    state: &AppState,
    access: StoreAccess,
) -> Result<Vec<Subscription>, ServiceError> {
    Ok(state.storage.list_subscriptions(owner(access)).await?)
}

/// One of the caller's subscriptions.
pub async fn get_subscription(
    state: &AppState,
    access: StoreAccess,
    id: i64,
) -> Result<Subscription, ServiceError> {
    Ok(state
        .storage
        .get_subscription(owner(access), SubscriptionId::from_raw(id))
        .await?)
}

/// Removes one of the caller's subscriptions with its deliveries.
pub async fn remove_subscription(
    state: &AppState,
    access: StoreAccess,
    id: i64,
) -> Result<(), ServiceError> {
    Ok(state
        .storage
        .remove_subscription(owner(access), SubscriptionId::from_raw(id))
        .await?)
}

/// A page of one subscription's deliveries (or all of the caller's), newest first.
pub async fn list_deliveries(
    state: &AppState,
    access: StoreAccess,
    subscription: Option<i64>,
    delivery_state: Option<DeliveryState>,
    limit: u32,
    before: Option<i64>,
) -> Result<Vec<DeliveryRecord>, ServiceError> {
    if let Some(id) = subscription {
        get_subscription(state, access, id).await?;
    }
    Ok(state
        .storage
        .list_deliveries(
            owner(access),
            subscription.map(SubscriptionId::from_raw),
            delivery_state,
            limit,
            before.map(DeliveryId::from_raw),
        )
        .await?)
}

/// Queues one of the caller's deliveries again at once (same event id).
pub async fn resend(
    state: &AppState,
    access: StoreAccess,
    id: i64,
) -> Result<DeliveryRecord, ServiceError> {
    Ok(state
        .storage
        .resend_delivery(owner(access), DeliveryId::from_raw(id))
        .await?)
}

/// Events of the caller's stores after `after` (from the oldest kept without one); the cursor
/// to pass next is the last event's, or `after` when none came.
pub async fn feed(
    state: &AppState,
    access: StoreAccess,
    after: Option<&str>,
    limit: u32,
) -> Result<(Vec<EventRecord>, Option<EventCursor>), ServiceError> {
    let after = after
        .map(|a| a.parse::<EventCursor>())
        .transpose()
        .map_err(|e| ServiceError::InvalidQuery(format!("after: {e}")))?;
    let events = state
        .storage
        .events_after(owner(access), after, limit)
        .await?;
    let next = events.last().map(|e| e.cursor).or(after);
    Ok((events, next))
}
