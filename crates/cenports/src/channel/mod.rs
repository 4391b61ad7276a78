//! # Channels: the one seam between the core and the places orders come from
//!
//! The core (storage, sync, fulfilment, stock, webhooks, the API and the dashboard) knows
//! stores, orders, lines, SKUs, outbox rows and our fulfilment state. Everything a sales
//! channel spells its own way sits behind the traits of this module, and each channel lives in
//! one folder with the same inner layout (`docs/ARCHITECTURE.md`, "Channels"):
//!
//! ```text
//! channel/
//!   mod.rs          the seam: the traits below and the errors that cross it
//!   orders.rs       orders and catalog in: queries, pages, the status mapping
//!   fulfilment.rs   fulfilment out: carriers, shipment payloads, status targets
//!   stock.rs        stock out: levels to write, batch outcomes
//!   webhooks.rs     webhooks in: callbacks, hints, hook registration
//!   connect.rs      connect: the form, the verified store, what is missing
//!   priority.rs     Priority and with_priority: which requests go first in a store's quota
//!   registry.rs     Channels: the implementations by name, per-store clients and limiters
//!   <name>/         one channel: mod.rs (its Channel and StoreClient), connect/, orders.rs,
//!                   catalog.rs, fulfilment.rs, stock.rs, webhooks.rs, its errors
//! ```
//!
//! Two levels:
//!
//! - [`Channel`]: what a channel is, without a store: its name, how a store connects to it
//!   (the form, the check that names what is missing), its rules for shipments, how its
//!   callbacks are verified and what they hint at, and how a connected store is opened.
//! - [`StoreClient`]: one connected store, paced on that store's limiter: orders in
//!   ([`OrdersIn`]), catalog in ([`CatalogIn`]), fulfilment out ([`FulfilmentOut`]), stock out
//!   ([`StockOut`]) and its hooks ([`HooksOut`]).
//!
//! Everything crossing the seam is the core's own vocabulary: ids are text (an Amazon order id
//! is `902-3159896-1390916`), statuses are the channel's code and name next to our
//! [`FulfilmentState`](crate::storage::FulfilmentState), stock tracking is the core's
//! [`StockTracking`](crate::storage::StockTracking). The core picks an implementation by
//! `stores.channel` through the [`Channels`] registry, the only place that names one.
//!
//! The core says how urgent its work is for the store's quota with [`with_priority`] around the
//! work ([`Priority`]: `Urgent` shipments, `Hint` targeted fetches and stock pushes, `Sync`
//! incremental walks, `Backfill` bulk walks); each channel honours the class in its own pacing
//! (see [`priority`]).

pub mod amazon;
pub mod bigcommerce;
pub mod carriers;
pub mod connect;
pub mod credentials;
pub mod fulfilment;
pub mod orders;
pub mod priority;
mod registry;
pub mod stock;
pub mod webhooks;

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use secrecy::SecretString;

use crate::storage::{NewOrderRecord, OrderAfterDelivery, OutboxId, StoreRecord};

pub use connect::{
    ConnectField, ConnectFile, ConnectForm, ConnectRefused, ConnectSubmission, PermissionCheck,
    VerifiedStore,
};
pub use fulfilment::{Carrier, PayloadItem, ShipmentPayload, StatusTarget};
pub use orders::{
    CatalogPage, InvalidStatusMapping, OrderPage, OrderQuery, StatusMapping, StatusTotal,
};
pub use priority::{current_priority, with_priority, Priority};
pub use registry::{
    builtin, channel_of, ApiUrlSetting, ApiUrls, ChannelClients, Channels, UnknownChannel,
    API_URL_SETTINGS,
};
pub use stock::{Target, Write, WriteKind, WriteOutcome};
pub use webhooks::{
    Callback, CallbackError, Hint, HookReport, QueueIn, QueuedCallback, QueuedMessage,
};

/// How an error of the channel should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The channel refused the request as invalid: sending it again cannot help.
    Rejected,
    /// What the request names does not exist at the channel.
    NotFound,
    /// The credentials are refused or lack a permission: a person must act (reconnect).
    Unauthorized,
    /// Anything else (an outage, a timeout, the quota, the network): worth retrying later.
    Unavailable,
}

/// An error of a channel, classified for the core, with the channel's own error as its source.
///
/// It displays as the channel's error (whose message says what to do, e.g. "the access token
/// lacks Orders: Modify (store_v2_orders); edit the API account … and reconnect") and exposes
/// that error's causes as its own, so an error chain reads as if the channel's error were
/// there directly.
pub struct ChannelError {
    channel: &'static str,
    kind: ErrorKind,
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl ChannelError {
    /// Wraps a channel's error.
    pub fn new(
        channel: &'static str,
        kind: ErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        ChannelError {
            channel,
            kind,
            source: source.into(),
        }
    }

    /// The channel's display name, for messages such as "… request failed".
    pub fn channel(&self) -> &'static str {
        self.channel
    }

    /// How to treat it.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The channel's own error, when it is a `T` (tests and channel code).
    pub fn downcast_ref<T: std::error::Error + 'static>(&self) -> Option<&T> {
        self.source.downcast_ref::<T>()
    }
}

impl fmt::Debug for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelError")
            .field("channel", &self.channel)
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

impl std::error::Error for ChannelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.source()
    }
}

/// Stored credentials, opened for use. `Debug` prints `***` for the secrets.
///
/// Every channel keeps the same three things: an identifier of the app or API account (not a
/// secret), a secret of that account (one channel signs its callbacks with it; an OAuth
/// channel's client secret) and the store's token (an access token; an OAuth channel's refresh
/// token).
#[derive(Clone)]
pub struct Credentials {
    /// The API account's or app's client id (not a secret).
    pub client_id: String,
    /// The client secret.
    pub client_secret: SecretString,
    /// The access (or refresh) token.
    pub access_token: SecretString,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("access_token", &"***")
            .finish()
    }
}

/// How a store's client is opened, beyond its credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Overrides the channel's request timeout (the outbox's CLI flag, tests).
    pub request_timeout: Option<Duration>,
}

/// The pacing state of each store, shared by every client of the process that talks to the
/// same store (`docs/HARD-PROBLEMS.md` note 3): the quota belongs to the store,
/// so the scheduler's walks, the webhook worker's fetches, the outbox worker's shipments and an
/// API-triggered sync must count against one budget, requests in flight included.
///
/// Keyed by the channel's name and its identity of the store (e.g. a store hash), not by
/// our store id: two users connecting the same store share its quota too. The value is the
/// channel's own limiter type; a channel asks for it with [`Limiters::get_or_insert`]. Clone
/// freely (a handle).
#[derive(Clone, Default)]
pub struct Limiters(Arc<Mutex<LimiterMap>>);

type LimiterMap = HashMap<(&'static str, String), Arc<dyn Any + Send + Sync>>;

impl fmt::Debug for Limiters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.lock().map(|map| map.len()).unwrap_or_default();
        f.debug_struct("Limiters").field("stores", &count).finish()
    }
}

impl Limiters {
    /// The limiter of `(channel, store_key)`, made by `make` the first time. A value of another
    /// type under the same key (a channel changing its limiter type) is replaced.
    pub fn get_or_insert<T: Any + Send + Sync>(
        &self,
        channel: &'static str,
        store_key: &str,
        make: impl FnOnce() -> T,
    ) -> Arc<T> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let key = (channel, store_key.to_owned());
        if let Some(existing) = map.get(&key).cloned() {
            if let Ok(limiter) = existing.downcast::<T>() {
                return limiter;
            }
        }
        let limiter = Arc::new(make());
        map.insert(key, limiter.clone());
        limiter
    }

    /// Stores with a limiter.
    pub fn len(&self) -> usize {
        self.0.lock().map(|map| map.len()).unwrap_or_default()
    }

    /// Whether no store has a limiter yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A channel: what the core needs of it before and without a store's client.
#[async_trait]
pub trait Channel: Send + Sync {
    /// The name stored in `stores.channel`: lower case, stable.
    fn name(&self) -> &'static str;

    /// The name people read, in the channel's own spelling.
    fn display_name(&self) -> &'static str;

    /// The fields a merchant fills to connect a store (the dashboard renders them).
    fn connect_form(&self) -> ConnectForm;

    /// The fields to show again when `store` is reconnected (never a secret).
    fn reconnect_prefill(&self, store: &StoreRecord) -> Vec<(&'static str, String)>;

    /// Checks what the merchant gave on the spot (credentials, every permission the hub needs)
    /// and returns everything to save, or what is wrong and how to fix it.
    async fn check(&self, submission: ConnectSubmission) -> Result<VerifiedStore, ConnectRefused>;

    /// The client of a connected store, pacing on `limiters`' entry for the store.
    fn open(
        &self,
        store: &StoreRecord,
        credentials: Credentials,
        options: &OpenOptions,
        limiters: &Limiters,
    ) -> Result<Arc<dyn StoreClient>, ChannelError>;

    /// The longest tracking number the channel accepts.
    fn max_tracking_number(&self) -> usize;

    /// The channel's order statuses as `(code, name)`: what `stores.status_code` and
    /// `status_name` hold, and what an operator may name in a status filter (see
    /// [`resolve_status`]).
    fn order_statuses(&self) -> &'static [(&'static str, &'static str)];

    /// Whether the channel refuses to ship an order in this status (checked before a shipment
    /// enters the outbox).
    fn refuses_shipment(&self, status_code: &str) -> bool;

    /// Why the channel takes no change of an order's status to `to` through its API, said so
    /// that a person knows where to make it instead; `None` when it takes the change. Checked
    /// before a status change enters the outbox.
    fn refuses_status_change(&self, _to: StatusTarget) -> Option<String> {
        None
    }

    /// Authenticates one callback (signature over the raw `body`, replay window) with the
    /// store's client secret, then reads what it hints at. Called only after the core checked
    /// its own per-store header secret.
    fn read_callback(
        &self,
        client_secret: &SecretString,
        headers: &axum::http::HeaderMap,
        body: &[u8],
    ) -> Result<Callback, CallbackError>;

    /// Whether the channel calls the hub back over HTTP (webhooks registered per store, read
    /// with [`Channel::read_callback`]). A channel that does not (Amazon) is told of changes
    /// through its [`Channel::queue`], if any, and polling.
    fn calls_back(&self) -> bool {
        true
    }

    /// The queue the channel sends its notifications to, when it sends them to a queue the hub
    /// reads instead of calling back over HTTP, and the operator configured one (Amazon's
    /// `ORDER_CHANGE` notifications go to an SQS queue): every `serve` and `worker` process
    /// long-polls it (`crate::webhooks::queue`). `None` otherwise.
    fn queue(&self) -> Option<Arc<dyn QueueIn>> {
        None
    }
}

/// How a store's limiter has paced the requests to the store (every client of the process on
/// it), for reports and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pacing {
    /// Requests sent (every attempt, retries included).
    pub requests_sent: u64,
    /// Requests that waited for the limiter before being sent.
    pub throttled: u64,
    /// Answers that said the quota was exhausted (HTTP 429).
    pub rate_limited: u64,
    /// Requests left in the store's quota window, as the channel last said.
    pub requests_left: Option<u64>,
    /// The quota of the window, as the channel last said.
    pub quota: Option<u64>,
    /// The length of the quota's window, as the channel last said.
    pub window: Option<std::time::Duration>,
}

/// One connected store's client: every request it sends is paced on the store's limiter.
pub trait StoreClient: Send + Sync {
    /// The channel's display name, for messages.
    fn channel(&self) -> &'static str;

    /// The channel's identity of the store (e.g. a store hash).
    fn store_key(&self) -> &str;

    /// How the store's limiter has paced every client of the store so far.
    fn pacing(&self) -> Pacing;

    /// Requests sent so far through this store's limiter (retries included): reports take
    /// deltas of it.
    fn requests_sent(&self) -> u64 {
        self.pacing().requests_sent
    }

    /// Requests left in the store's quota as the channel last said, when it says.
    fn requests_left(&self) -> Option<u64> {
        self.pacing().requests_left
    }

    /// Orders in.
    fn orders(&self) -> &dyn OrdersIn;

    /// Catalog in.
    fn catalog(&self) -> &dyn CatalogIn;

    /// Shipments and status changes out.
    fn fulfilment(&self) -> &dyn FulfilmentOut;

    /// Stock levels out.
    fn stock(&self) -> &dyn StockOut;

    /// The store's hooks, for a channel that calls the hub back over HTTP.
    fn hooks(&self) -> Option<&dyn HooksOut>;
}

/// Orders in: walks, one order, and the counts reconciliation compares.
///
/// A walk is pages of a [`OrderQuery`] resumed after an opaque cursor the channel gives with
/// each page; the core commits each page with its cursor (`docs/SYNC.md`). Records come mapped
/// to the core's types with the store's [`StatusMapping`].
#[async_trait]
pub trait OrdersIn: Send + Sync {
    /// The store's clock now: windows end at it minus a settle delay, so the hub's clock never
    /// matters.
    async fn now(&self) -> Result<DateTime<Utc>, ChannelError>;

    /// How far behind the channel's [`OrdersIn::now`] every window must end, when the channel
    /// itself imposes a horizon (Amazon refuses a `LastUpdatedBefore` later than two minutes
    /// before the request, and its listings settle in that time). The core ends each window at
    /// `now − max(settle, horizon)`. Zero (the default): only the core's settle delay.
    fn horizon(&self) -> Duration {
        Duration::ZERO
    }

    /// Most orders per page.
    fn max_page_size(&self) -> u32;

    /// The channel's status codes → our fulfilment state, before a store's overrides.
    fn status_mapping(&self) -> StatusMapping;

    /// The streams a sync walks by modification window after the open orders, each with its
    /// own checkpoint, the first being [`crate::storage::STREAM_ORDERS`] (a channel whose listing
    /// leaves archived orders out unless asked adds a stream for them).
    fn streams(&self) -> Vec<String>;

    /// The statuses a new store's first sync walks first, in order (the orders a warehouse can
    /// act on).
    fn open_statuses(&self) -> Vec<String>;

    /// How many orders the query matches after `cursor`, when the channel can count (`None`
    /// otherwise, or when counting is not worth a request for this query).
    async fn count(
        &self,
        query: &OrderQuery,
        cursor: Option<&str>,
    ) -> Result<Option<u64>, ChannelError>;

    /// One page of the query, after `cursor` (a page's [`OrderPage::cursor`]; `None`: from
    /// the start).
    async fn page(
        &self,
        query: &OrderQuery,
        cursor: Option<&str>,
        mapping: &StatusMapping,
    ) -> Result<OrderPage, ChannelError>;

    /// One order by the channel's id, with its lines and addresses; `None` when the channel
    /// has no such order.
    async fn fetch(
        &self,
        order: &str,
        mapping: &StatusMapping,
    ) -> Result<Option<NewOrderRecord>, ChannelError>;

    /// Every status with its number of orders, when the channel can count them at once
    /// (`None`: reconciliation by counts is not available for this channel).
    async fn count_by_status(&self) -> Result<Option<Vec<StatusTotal>>, ChannelError>;

    /// Whether reconciliation compares this status (`false` for one whose orders the channel
    /// never lists, so the walks never import them).
    fn reconciles_status(&self, _status: &str) -> bool {
        true
    }

    /// The creation dates of the oldest and newest orders in `status` at the store.
    async fn created_span(&self, status: &str) -> Result<Vec<DateTime<Utc>>, ChannelError>;
}

/// Catalog in: products with their SKUs and the stock level the store reports for each.
#[async_trait]
pub trait CatalogIn: Send + Sync {
    /// Every product modified in `[from, to]` (`from` `None`: the whole catalog), as pages. The
    /// channel walks its pagination as it must to miss none (a product may come twice); the
    /// core saves each page and commits the window when the stream ends.
    fn products(
        &self,
        from: Option<DateTime<Utc>>,
        to: DateTime<Utc>,
        page_size: u32,
    ) -> BoxStream<'_, Result<CatalogPage, ChannelError>>;

    /// One product with its SKUs; `None` when the channel has no such product.
    async fn fetch_product(&self, product: &str) -> Result<Option<CatalogPage>, ChannelError>;
}

/// What a write to the channel produced, and the order as the channel has it right after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The channel's id of what was created (a shipment id) or the resulting status.
    pub result: String,
    /// The order as the channel reports it now; `None` if it could not be read (the next
    /// import brings it).
    pub order: Option<OrderAfterDelivery>,
}

/// Fulfilment out: each write carries our outbox row id, so the channel can recognise the
/// write later ([`FulfilmentOut::find_shipment`]): the read-before-retry of `docs/FULFILMENT.md`.
#[async_trait]
pub trait FulfilmentOut: Send + Sync {
    /// Creates one shipment of the order, marked as the outbox row's.
    async fn create_shipment(
        &self,
        order: &str,
        row: OutboxId,
        shipment: &ShipmentPayload,
    ) -> Result<Delivered, ChannelError>;

    /// The shipment the outbox row created, if the channel holds it.
    async fn find_shipment(
        &self,
        order: &str,
        row: OutboxId,
    ) -> Result<Option<Delivered>, ChannelError>;

    /// Moves the order to the status.
    async fn set_status(&self, order: &str, to: StatusTarget) -> Result<Delivered, ChannelError>;

    /// The order, if it is already in the status.
    async fn find_status(
        &self,
        order: &str,
        to: StatusTarget,
    ) -> Result<Option<Delivered>, ChannelError>;
}

/// Stock out: the push's boundary (`docs/STOCK.md`).
#[async_trait]
pub trait StockOut: Send + Sync {
    /// Most items per write request of this kind.
    fn batch_limit(&self, kind: WriteKind) -> usize;

    /// Most ids per read-back request.
    fn read_limit(&self) -> usize;

    /// Writes one batch (at most [`StockOut::batch_limit`] items of `kind`).
    async fn write(&self, kind: WriteKind, items: &[Write]) -> Result<WriteOutcome, ChannelError>;

    /// Reads the current levels of these ids (variant or product ids by `kind`, at most
    /// [`StockOut::read_limit`]). Ids the store does not have are absent from the answer.
    async fn read(
        &self,
        kind: WriteKind,
        ids: &[String],
    ) -> Result<HashMap<String, i64>, ChannelError>;
}

/// The store's hooks, for channels that call the hub back over HTTP.
#[async_trait]
pub trait HooksOut: Send + Sync {
    /// Makes every hook the hub needs exist once, active, pointing at `destination` and
    /// sending `headers`; deletes duplicates and hooks of ours the hub no longer needs. A hook
    /// is ours when its destination's path ends with `receiver_path`.
    async fn ensure_hooks(
        &self,
        destination: &str,
        receiver_path: &str,
        headers: &std::collections::BTreeMap<String, String>,
    ) -> Result<HookReport, ChannelError>;

    /// Deletes every hook of ours; returns how many.
    async fn remove_hooks(&self, receiver_path: &str) -> Result<u64, ChannelError>;
}

/// The status code an operator means by `text` on `channel`: one of its codes as given, or one
/// of its status names in any case, with any spacing or punctuation (`awaiting fulfillment`,
/// `Awaiting_Fulfillment`). The error names the channel and lists its statuses.
pub fn resolve_status(channel: &dyn Channel, text: &str) -> Result<String, String> {
    fn normalized(text: &str) -> String {
        text.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    }
    let statuses = channel.order_statuses();
    let given = text.trim();
    if let Some((code, _)) = statuses.iter().find(|(code, _)| *code == given) {
        return Ok((*code).to_owned());
    }
    let wanted = normalized(text);
    statuses
        .iter()
        .find(|(_, name)| normalized(name) == wanted)
        .map(|(code, _)| (*code).to_owned())
        .ok_or_else(|| {
            let listed: Vec<String> = statuses
                .iter()
                .map(|(code, name)| format!("{name} ({code})"))
                .collect();
            format!(
                "{text:?} is not a {} order status: use one of {}",
                channel.display_name(),
                listed.join(", ")
            )
        })
}
