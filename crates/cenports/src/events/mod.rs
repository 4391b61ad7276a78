//! # Events for the warehouse's systems
//!
//! A warehouse wants to be told at once when an order becomes ready, changes what it ships,
//! goes on hold or is cancelled, when a shipment reached the store or failed, and when stock
//! was pushed. The hub records each such event in the transaction that makes it happen
//! (`crate::storage`'s events: an import, an outbox delivery, a stock push), and delivers it:
//!
//! - **pushed** to each of the merchant's subscriptions ([`subscribe`]) by the
//!   [`dispatcher`], signed with the Standard Webhooks scheme (`webhook-id`,
//!   `webhook-timestamp`, `webhook-signature`; the secret is shown once, `whsec_…`), at least
//!   once, in order per order, with retries for a day;
//! - **pulled** from the feed, `GET /api/v1/events?after=CURSOR`.
//!
//! Subscription URLs are checked twice ([`destination`]): when the subscription is made, and
//! on every connection, by the dispatcher's resolver, so a name that later resolves to a
//! private address is refused too.
//!
//! `docs/EVENTS.md` is the reference: event types, the body, signatures, retries, ordering.

pub mod destination;
pub mod dispatcher;

use base64::Engine;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use crate::secrets::SecretBox;
use crate::storage::{
    subscription_aad, EventType, NewSubscription, Storage, StorageError, StoreId, Subscription,
    UserId,
};
pub use destination::Destinations;

/// Bytes of a subscription's signing secret (Standard Webhooks asks for 24 to 64).
const SECRET_BYTES: usize = 32;

/// A new signing secret in the Standard Webhooks form: `whsec_` and base64.
pub fn new_secret() -> SecretString {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    );
    zeroize::Zeroize::zeroize(&mut bytes);
    SecretString::from(secret)
}

/// Why a subscription was not made. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    /// The URL is refused (the message says why and what is accepted).
    #[error("{0}")]
    Destination(String),
    /// An event type is unknown.
    #[error(transparent)]
    EventType(#[from] crate::storage::UnknownEventType),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Records a subscription of `user` to `url` for `event_types` (empty: all), optionally of one
/// of their stores, after checking the URL ([`destination::check`]): returns it with its
/// signing secret, which is shown this once and kept only sealed.
pub async fn subscribe(
    storage: &Storage,
    secret_box: &SecretBox,
    destinations: Destinations,
    user: UserId,
    store: Option<StoreId>,
    url: &str,
    event_types: Vec<EventType>,
) -> Result<(Subscription, SecretString), SubscribeError> {
    let url = destinations
        .check(url)
        .await
        .map_err(SubscribeError::Destination)?;
    let mut event_types = event_types;
    event_types.sort_by_key(|t| EventType::ALL.iter().position(|a| a == t));
    event_types.dedup();
    let secret = new_secret();
    let sealed_secret = secret_box.encrypt(&secret, &subscription_aad(user, url.as_str()));
    let subscription = storage
        .create_subscription(&NewSubscription {
            user_id: user,
            store_id: store,
            url: url.to_string(),
            event_types,
            sealed_secret,
        })
        .await?;
    Ok((subscription, secret))
}

/// The Standard Webhooks signer of a subscription, from its sealed secret.
pub fn signer(
    secret_box: &SecretBox,
    user: UserId,
    url: &str,
    sealed: &[u8],
) -> Result<standardwebhooks::Webhook, String> {
    let secret = secret_box
        .decrypt(sealed, &subscription_aad(user, url))
        .map_err(|e| format!("the subscription's secret cannot be opened: {e}"))?;
    standardwebhooks::Webhook::new(secret.expose_secret())
        .map_err(|e| format!("the subscription's secret is not a Standard Webhooks secret: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_a_standard_webhooks_secret_that_signs_and_verifies() {
        let secret = new_secret();
        assert!(secret.expose_secret().starts_with("whsec_"));
        let webhook = standardwebhooks::Webhook::new(secret.expose_secret()).unwrap();
        let now = chrono::Utc::now().timestamp();
        let signature = webhook.sign("evt_1", now, b"{}").unwrap();
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("webhook-id", "evt_1".parse().unwrap());
        headers.insert("webhook-timestamp", now.to_string().parse().unwrap());
        headers.insert("webhook-signature", signature.parse().unwrap());
        webhook.verify(b"{}", &headers).unwrap();
        assert_ne!(new_secret().expose_secret(), secret.expose_secret());
    }
}
