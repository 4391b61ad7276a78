//! # Amazon Marketplace, merchant-fulfilled orders
//!
//! Everything of the hub that knows Amazon's Selling Partner API, laid out as every channel's
//! folder is (`docs/ARCHITECTURE.md`, "Channels"; the whole design in `docs/AMAZON.md`):
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`Amazon`] (the [`Channel`]) and [`AmazonStore`] (a seller's [`StoreClient`]), the error mapping |
//! | `client.rs` | the SP-API wire: Login with Amazon, restricted data tokens, retries, errors |
//! | `limiter.rs` | the seller's per-operation token buckets, by priority class |
//! | `connect.rs` | the form, `amazon-merchant.json`, the role probes (`docs/CONNECT.md`) |
//! | `mapping.rs` | Amazon's orders and listings → the core's records; the status mapping |
//! | `orders.rs` | orders in (`searchOrders` windows by `NextToken`), catalog in (listings by SKU) |
//! | `fulfilment.rs` | fulfilment out: `confirmShipment` with the outbox row as package reference |
//! | `stock.rs` | stock out: `patchListingsItem` per SKU, read back with `getListingsItem` |
//! | `notifications.rs` | `ORDER_CHANGE` notifications from the app's queue, as hints |
//!
//! Amazon calls nobody back over HTTP: a seller has no [`HooksOut`]. Its notifications go to
//! the app's queue, which every hub process reads when one is configured ([`Channel::queue`]);
//! polling stays the safety net.

mod client;
pub mod connect;
mod fulfilment;
mod limiter;
pub mod mapping;
pub mod notifications;
mod orders;
mod stock;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use url::Url;

use super::{
    Callback, CallbackError, CatalogIn, Channel, ChannelError, ConnectForm, ConnectRefused,
    ConnectSubmission, Credentials, ErrorKind, FulfilmentOut, HooksOut, Limiters, OpenOptions,
    OrdersIn, Pacing, QueueIn, StatusTarget, StockOut, StoreClient, VerifiedStore,
};
use crate::storage::StoreRecord;

pub use client::{AmazonError, Answer, Auth, SpApi, SpApiConfig};
pub use limiter::{Operation, SellerLimiter};

/// The channel's name in `stores.channel`.
pub const CHANNEL: &str = "amazon";

/// The channel's name in messages.
pub const DISPLAY_NAME: &str = "Amazon";

/// The SP-API host of the North America region.
pub const DEFAULT_API_URL: &str = "https://sellingpartnerapi-na.amazon.com";

/// Login with Amazon's host.
pub const DEFAULT_AUTH_URL: &str = "https://api.amazon.com";

/// The name of the Login with Amazon host among the channels' hosts
/// (`amazon_auth_url`, `CENPORTS_AMAZON_AUTH_URL`).
pub const AUTH_URL_NAME: &str = "amazon_auth";

/// The environment variable of the SP-API host.
pub const API_URL_ENV: &str = "CENPORTS_AMAZON_API_URL";

/// The environment variable of the Login with Amazon host.
pub const AUTH_URL_ENV: &str = "CENPORTS_AMAZON_AUTH_URL";

/// The name of the notification queue among the channels' hosts (`amazon_queue_url`,
/// `CENPORTS_AMAZON_QUEUE_URL`); unset, no queue is read.
pub const QUEUE_URL_NAME: &str = "amazon_queue";

/// The longest tracking number the hub sends (Amazon documents none; carriers' numbers are far
/// shorter).
pub const MAX_TRACKING_NUMBER: usize = 100;

/// Time allowed for each request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Amazon as a channel: the SP-API and Login with Amazon hosts every request goes to, and the
/// queue its notifications arrive on, if any (the operator's choice, never the merchant's).
#[derive(Debug, Clone)]
pub struct Amazon {
    api_url: Url,
    auth_url: Url,
    queue: Option<Arc<notifications::AmazonQueue>>,
}

impl Amazon {
    /// The channel on these hosts, without a notification queue.
    pub fn new(api_url: Url, auth_url: Url) -> Self {
        Amazon {
            api_url,
            auth_url,
            queue: None,
        }
    }

    /// Reads `ORDER_CHANGE` notifications from the queue at `url` (see [`notifications`]).
    pub fn with_queue(mut self, url: Option<Url>) -> Self {
        self.queue = url.map(|url| Arc::new(notifications::AmazonQueue::new(url)));
        self
    }

    /// The SP-API host.
    pub fn api_url(&self) -> &Url {
        &self.api_url
    }

    /// The Login with Amazon host.
    pub fn auth_url(&self) -> &Url {
        &self.auth_url
    }

    /// A client configuration for one seller on the configured hosts.
    pub fn client_config(
        &self,
        seller_id: &str,
        marketplace_id: &str,
        credentials: &Credentials,
    ) -> SpApiConfig {
        SpApiConfig {
            endpoint: self.api_url.clone(),
            auth_url: self.auth_url.clone(),
            seller_id: seller_id.to_owned(),
            marketplace_id: marketplace_id.to_owned(),
            client_id: credentials.client_id.clone(),
            client_secret: credentials.client_secret.clone(),
            refresh_token: credentials.access_token.clone(),
            timeout: REQUEST_TIMEOUT,
            max_retries: 4,
            max_quota_retries: 8,
        }
    }
}

/// The store key of a seller in a marketplace: `SELLER.MARKETPLACE`.
pub fn store_key(seller_id: &str, marketplace_id: &str) -> String {
    format!("{seller_id}.{marketplace_id}")
}

/// The seller and marketplace of a store key.
pub fn parse_store_key(key: &str) -> Option<(&str, &str)> {
    let (seller, marketplace) = key.split_once('.')?;
    let valid = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric());
    (valid(seller) && valid(marketplace)).then_some((seller, marketplace))
}

/// One seller's client in one marketplace.
#[derive(Debug)]
pub struct AmazonStore {
    api: SpApi,
    store_key: String,
    /// SKUs the order walks have seen since the last catalog walk: the listings it reads.
    seen_skus: Mutex<BTreeSet<String>>,
    /// Each SKU's product type, which a listing patch names.
    product_types: Mutex<HashMap<String, String>>,
}

impl AmazonStore {
    /// The store behind a client.
    pub fn new(api: SpApi) -> Self {
        let config = api.config();
        AmazonStore {
            store_key: store_key(&config.seller_id, &config.marketplace_id),
            api,
            seen_skus: Mutex::default(),
            product_types: Mutex::default(),
        }
    }

    /// The SP-API client.
    pub fn api(&self) -> &SpApi {
        &self.api
    }
}

/// An Amazon error in the seam's words: refusals and missing orders are final, credentials and
/// roles need a person, the rest is worth retrying. Amazon's message stays the error's.
pub fn api_error(error: AmazonError) -> ChannelError {
    let kind = match &error {
        AmazonError::Invalid { .. } | AmazonError::Decode { .. } => ErrorKind::Rejected,
        AmazonError::NotFound { .. } => ErrorKind::NotFound,
        AmazonError::Unauthorized { .. } | AmazonError::Login { .. } => ErrorKind::Unauthorized,
        AmazonError::QuotaExceeded { .. }
        | AmazonError::Server { .. }
        | AmazonError::Transport { .. } => ErrorKind::Unavailable,
    };
    ChannelError::new(DISPLAY_NAME, kind, error)
}

#[async_trait]
impl Channel for Amazon {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    fn display_name(&self) -> &'static str {
        DISPLAY_NAME
    }

    fn connect_form(&self) -> ConnectForm {
        connect::form()
    }

    fn reconnect_prefill(&self, store: &StoreRecord) -> Vec<(&'static str, String)> {
        let (seller, marketplace) = parse_store_key(&store.remote_id).unwrap_or_default();
        vec![
            (connect::FIELD_SELLER_ID, seller.to_owned()),
            (connect::FIELD_MARKETPLACE_ID, marketplace.to_owned()),
            (
                connect::FIELD_CLIENT_ID,
                store.client_id.clone().unwrap_or_default(),
            ),
        ]
    }

    async fn check(&self, submission: ConnectSubmission) -> Result<VerifiedStore, ConnectRefused> {
        connect::check(self, submission).await
    }

    fn open(
        &self,
        store: &StoreRecord,
        credentials: Credentials,
        options: &OpenOptions,
        limiters: &Limiters,
    ) -> Result<Arc<dyn StoreClient>, ChannelError> {
        let (seller, marketplace) = parse_store_key(&store.remote_id).ok_or_else(|| {
            ChannelError::new(
                DISPLAY_NAME,
                ErrorKind::Unauthorized,
                format!(
                    "store {:?} is not an Amazon seller and marketplace (SELLER.MARKETPLACE); \
                     reconnect it",
                    store.remote_id
                ),
            )
        })?;
        let mut config = self.client_config(seller, marketplace, &credentials);
        if let Some(timeout) = options.request_timeout {
            config.timeout = timeout;
        }
        // Amazon meters an app's calls per seller, whatever the marketplace.
        let limiter = limiters.get_or_insert(CHANNEL, seller, SellerLimiter::default);
        let api = SpApi::new(config, limiter).map_err(api_error)?;
        Ok(Arc::new(AmazonStore::new(api)))
    }

    fn max_tracking_number(&self) -> usize {
        MAX_TRACKING_NUMBER
    }

    fn order_statuses(&self) -> &'static [(&'static str, &'static str)] {
        &mapping::ORDER_STATUSES
    }

    fn refuses_shipment(&self, status_code: &str) -> bool {
        fulfilment::refuses_shipment(status_code)
    }

    fn refuses_status_change(&self, to: StatusTarget) -> Option<String> {
        Some(fulfilment::status_change_refusal(to))
    }

    /// Amazon sends no HTTP callbacks: its notifications go to an SQS queue or EventBridge
    /// ([`Channel::queue`]).
    fn read_callback(
        &self,
        _client_secret: &SecretString,
        _headers: &axum::http::HeaderMap,
        _body: &[u8],
    ) -> Result<Callback, CallbackError> {
        Err(CallbackError::Malformed(
            "Amazon does not call back over HTTP; its notifications are read from a queue".into(),
        ))
    }

    fn calls_back(&self) -> bool {
        false
    }

    fn queue(&self) -> Option<Arc<dyn QueueIn>> {
        self.queue.clone().map(|queue| queue as Arc<dyn QueueIn>)
    }
}

impl StoreClient for AmazonStore {
    fn channel(&self) -> &'static str {
        DISPLAY_NAME
    }

    fn store_key(&self) -> &str {
        &self.store_key
    }

    fn pacing(&self) -> Pacing {
        let stats = self.api.limiter().stats();
        Pacing {
            requests_sent: stats.sent,
            throttled: stats.throttled,
            rate_limited: stats.rate_limited,
            ..Pacing::default()
        }
    }

    fn orders(&self) -> &dyn OrdersIn {
        self
    }

    fn catalog(&self) -> &dyn CatalogIn {
        self
    }

    fn fulfilment(&self) -> &dyn FulfilmentOut {
        self
    }

    fn stock(&self) -> &dyn StockOut {
        self
    }

    fn hooks(&self) -> Option<&dyn HooksOut> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_key_is_the_seller_and_the_marketplace() {
        let key = store_key("A3SELLER", "A2EUQ1WTGCTBG2");
        assert_eq!(parse_store_key(&key), Some(("A3SELLER", "A2EUQ1WTGCTBG2")));
        assert_eq!(parse_store_key("A3SELLER"), None);
        assert_eq!(parse_store_key("A3/x.y"), None);
    }
}
