//! Webhooks: BigCommerce tells the hub what changed within seconds; the hub fetches it.
//!
//! DESIGN-NOTES note 5: webhooks are hints, not data. BigCommerce sends light payloads (a
//! scope, a type and an id), may send one twice or out of order, signs each with Standard
//! Webhooks keyed with the API account's client secret, retries for 48 hours and then
//! deactivates the hook. So:
//!
//! - [`registration`] registers the hooks the hub needs when a store is connected and a
//!   public URL is configured, with a random per-store secret in a custom header
//!   ([`HEADER_HOOK_KEY`]); removes them on disconnect; and repairs hooks BigCommerce
//!   deactivated (the health check `cenports serve` runs).
//! - [`receiver`] is the HTTP endpoint (`POST /webhooks/bigcommerce/{store_id}`): it checks the
//!   header secret in constant time, verifies the signature over the raw bytes with a five-minute
//!   timestamp tolerance, refuses oversized or malformed bodies, de-duplicates by `webhook-id`
//!   in the database, puts a [`Job`] on a bounded queue and answers `200` at once.
//! - [`worker`] drains the queue into targeted fetches ([`crate::sync::targeted`]): one order
//!   with its lines, or one product with its variants, saved through the sync's own save path.
//!
//! Polling stays on as the safety net and reconciliation ([`crate::sync::reconcile`]) repairs
//! drift. The design, the failure modes and the costs are in `docs/WEBHOOKS.md`.

pub mod receiver;
pub mod registration;
pub mod worker;

use std::time::{Duration, Instant};

use serde::Deserialize;
use url::Url;

use crate::storage::StoreId;

/// The custom header carrying the per-store secret (lower case, as HTTP/2 and axum see it).
pub const HEADER_HOOK_KEY: &str = "x-cenports-hook-key";

/// The receiver's route; `{store_id}` is our id of the store (not the store hash, which several
/// users may connect).
pub const RECEIVER_ROUTE: &str = "/webhooks/bigcommerce/{store_id}";

/// The largest callback body accepted. BigCommerce's light payloads are a few hundred bytes;
/// anything near this is not a callback.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long a `webhook-id` is remembered: BigCommerce retries a message for about 48 hours
/// (its schedule sums to 173,040 s), each retry with a fresh timestamp and the same id.
pub const RECEIPT_TTL: Duration = Duration::from_secs(72 * 3600);

/// Jobs the queue holds before the receiver answers `503` (BigCommerce then retries later).
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;

/// The AEAD purpose of the header secret (`secrets::aad(hash, PURPOSE_HEADER_SECRET)`).
pub const PURPOSE_HEADER_SECRET: &str = "webhook_header_secret";

/// The callback URL of a store: the public base URL joined with [`RECEIVER_ROUTE`].
pub fn destination(public_url: &Url, store: StoreId) -> String {
    format!(
        "{}{}",
        public_url.as_str().trim_end_matches('/'),
        receiver_path(store)
    )
}

/// `/webhooks/bigcommerce/{id}`.
pub fn receiver_path(store: StoreId) -> String {
    RECEIVER_ROUTE.replace("{store_id}", &store.get().to_string())
}

/// What a callback asks the worker to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FetchTarget {
    /// One order with its lines and addresses.
    Order(u64),
    /// One product with its variants (and so its SKU index entries).
    Product(u64),
}

/// One unit of work on the queue.
#[derive(Debug, Clone)]
pub struct Job {
    /// Our store id (the callback was authenticated for it).
    pub store: StoreId,
    /// What to fetch.
    pub target: FetchTarget,
    /// The callback's scope, for logs.
    pub scope: String,
    /// When the receiver accepted the callback.
    pub received_at: Instant,
}

/// The light payload, as far as the hub reads it.
#[derive(Debug, Deserialize)]
pub struct Callback {
    /// e.g. `store/order/created`.
    pub scope: String,
    /// `{type, id, ...}`.
    pub data: CallbackData,
}

/// The `data` of a callback.
#[derive(Debug, Deserialize)]
pub struct CallbackData {
    /// `order`, `shipment`, `product`, `sku`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The resource id (a SKU id for `sku`).
    pub id: u64,
    /// A shipment's order.
    #[serde(default, rename = "orderId")]
    pub order_id: Option<u64>,
    /// Inventory events name their product here.
    #[serde(default)]
    pub inventory: Option<CallbackInventory>,
}

/// The `inventory` object of inventory callbacks.
#[derive(Debug, Deserialize)]
pub struct CallbackInventory {
    /// The product whose stock changed.
    #[serde(default)]
    pub product_id: Option<u64>,
}

impl Callback {
    /// What to fetch for this callback; `None` for events the hub does not act on.
    pub fn target(&self) -> Option<FetchTarget> {
        let data = &self.data;
        let inventory_product = data.inventory.as_ref().and_then(|i| i.product_id);
        match data.kind.as_str() {
            "order" => Some(FetchTarget::Order(data.id)),
            // A shipment changes its order's quantities shipped and often its status.
            "shipment" => data.order_id.map(FetchTarget::Order),
            "product" => Some(FetchTarget::Product(inventory_product.unwrap_or(data.id))),
            // A SKU's id is not a product id: only the inventory's product id says which.
            "sku" => inventory_product.map(FetchTarget::Product),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(json: &str) -> Option<FetchTarget> {
        serde_json::from_str::<Callback>(json).unwrap().target()
    }

    #[test]
    fn each_light_payload_names_what_to_fetch() {
        assert_eq!(
            target(r#"{"scope":"store/order/created","data":{"type":"order","id":250}}"#),
            Some(FetchTarget::Order(250))
        );
        assert_eq!(
            target(
                r#"{"scope":"store/shipment/created","data":{"type":"shipment","id":3,"orderId":251}}"#
            ),
            Some(FetchTarget::Order(251))
        );
        assert_eq!(
            target(
                r#"{"scope":"store/sku/inventory/updated","data":{"type":"sku","id":461,"inventory":{"product_id":167,"method":"absolute","value":5,"variant_id":509}}}"#
            ),
            Some(FetchTarget::Product(167))
        );
        assert_eq!(
            target(
                r#"{"scope":"store/product/inventory/updated","data":{"type":"product","id":7,"inventory":{"product_id":7}}}"#
            ),
            Some(FetchTarget::Product(7))
        );
        assert_eq!(
            target(r#"{"scope":"store/cart/created","data":{"type":"cart","id":1}}"#),
            None
        );
    }

    #[test]
    fn the_destination_joins_the_public_url_and_the_store_id() {
        let url = Url::parse("https://hub.example.com/base").unwrap();
        assert_eq!(
            destination(&url, StoreId::from_raw(42)),
            "https://hub.example.com/base/webhooks/bigcommerce/42"
        );
    }
}
