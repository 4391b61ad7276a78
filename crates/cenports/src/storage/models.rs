//! The storage layer's own, channel-agnostic domain types.
//!
//! These are deliberately *not* a channel client's models: each channel maps its orders into a
//! [`NewOrderRecord`] once, at the edge (`crate::channel`), and the rest of the hub never
//! depends on how a channel spells its JSON. The channel's ids are kept beside ours as
//! `remote_id` fields.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub(crate) i64);

        impl $name {
            /// The raw database id, for logs, URLs and the CLI.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "_{}"), self.0)
            }
        }
    };
}

id_newtype!(
    /// Our id of a Cenports user (the account that owns stores).
    UserId,
    "user"
);
id_newtype!(
    /// Our id of a connected store. Holding one is not a permission: order and catalog
    /// functions take a [`StoreScope`], which only the storage hands out.
    StoreId,
    "store"
);
id_newtype!(
    /// Our id of an imported order (not the channel's order id, which is `remote_id`).
    OrderId,
    "order"
);

id_newtype!(
    /// Our id of an event subscription.
    SubscriptionId,
    "sub"
);
id_newtype!(
    /// Our id of a delivery (one event to one subscription).
    DeliveryId,
    "dlv"
);

impl SubscriptionId {
    /// Wraps a raw id (from a URL or a CLI argument); grants nothing by itself.
    pub fn from_raw(id: i64) -> Self {
        Self(id)
    }
}

impl DeliveryId {
    /// Wraps a raw id; grants nothing by itself.
    pub fn from_raw(id: i64) -> Self {
        Self(id)
    }
}

impl StoreId {
    /// Wraps a raw id, e.g. one parsed from a CLI flag or a URL. Wrapping grants nothing: it
    /// must still go through [`crate::storage::Storage::store_scope`] with its owner.
    pub fn from_raw(id: i64) -> Self {
        Self(id)
    }
}

impl UserId {
    /// Wraps a raw id (see [`StoreId::from_raw`]).
    pub fn from_raw(id: i64) -> Self {
        Self(id)
    }
}

impl OrderId {
    /// Wraps a raw id, e.g. a pagination cursor read back from a URL.
    pub fn from_raw(id: i64) -> Self {
        Self(id)
    }
}

/// The proof that a store was looked up *through its owner* (or by an operator listing every
/// store). Every order, checkpoint and catalog function takes one first, so a query can only
/// ever name a store the caller was allowed to reach: a `StoreId` of user B used with user A
/// gives [`crate::storage::StorageError::NotFound`] at [`crate::storage::Storage::store_scope`],
/// before any tenant data is read.
///
/// It cannot be built outside the storage module (private fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StoreScope {
    pub(crate) user_id: UserId,
    pub(crate) store_id: StoreId,
}

impl StoreScope {
    /// The store this scope grants.
    pub fn store_id(&self) -> StoreId {
        self.store_id
    }

    /// The user who owns the store.
    pub fn user_id(&self) -> UserId {
        self.user_id
    }
}

/// A Cenports user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Our id.
    pub id: UserId,
    /// The email as first given (uniqueness is case-insensitive).
    pub email: String,
    /// When the account was created (UTC).
    pub created_at: DateTime<Utc>,
}

/// An AEAD ciphertext and its nonce, opaque to storage. The encryption module produces and
/// consumes these; storage only keeps the bytes, exactly as given. No storage function takes a
/// plaintext secret.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedSecret {
    /// The ciphertext (with its tag).
    pub ciphertext: Vec<u8>,
    /// The random nonce used for this ciphertext.
    pub nonce: Vec<u8>,
}

impl fmt::Debug for EncryptedSecret {
    // Ciphertext is not the secret, but printing it invites copy-paste into tickets; lengths are
    // enough to debug.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedSecret")
            .field(
                "ciphertext",
                &format_args!("<{} bytes>", self.ciphertext.len()),
            )
            .field("nonce", &format_args!("<{} bytes>", self.nonce.len()))
            .finish()
    }
}

/// What a store connection needs to call the channel again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreCredentials {
    /// The API client id: an identifier, not a secret, so stored in clear.
    pub client_id: String,
    /// The client secret, encrypted.
    pub client_secret: EncryptedSecret,
    /// The access token, encrypted.
    pub access_token: EncryptedSecret,
}

/// The store profile as read from the channel when it was connected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreProfile {
    /// Store name.
    pub name: String,
    /// Primary domain.
    pub domain: String,
    /// Default currency code, e.g. `USD`.
    pub currency: String,
    /// IANA timezone name or the channel's own label.
    pub timezone: String,
    /// e.g. `LB`, `KGS`.
    pub weight_units: String,
    /// e.g. `Inches`, `Centimeters`.
    pub dimension_units: String,
    /// The channel's plan name.
    pub plan: String,
}

/// A store to save on connect (or reconnect: same channel, remote id and user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStore {
    /// The channel's name (`crate::channel::Channel::name`).
    pub channel: String,
    /// The channel's id of the store (its store key, e.g. a store hash).
    pub remote_id: String,
    /// The API base URL the credentials were checked against.
    pub api_base_url: String,
    /// The profile.
    pub profile: StoreProfile,
    /// The credentials, already encrypted.
    pub credentials: StoreCredentials,
}

/// Whether a store's credentials are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreStatus {
    /// Credentials are held and syncs run.
    Connected,
    /// Credentials were forgotten; data stays.
    Disconnected,
}

impl StoreStatus {
    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::Disconnected => "disconnected",
        }
    }
}

impl FromStr for StoreStatus {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "connected" => Ok(Self::Connected),
            "disconnected" => Ok(Self::Disconnected),
            other => Err(UnknownValue::new("store status", other)),
        }
    }
}

/// A stored store (without its secrets; see [`crate::storage::Storage::get_store_credentials`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRecord {
    pub(crate) scope: StoreScope,
    /// The channel's name, which picks its implementation (`crate::channel::Channels`).
    pub channel: String,
    /// The channel's id of the store (its store key, e.g. a store hash).
    pub remote_id: String,
    /// The API base URL.
    pub api_base_url: String,
    /// The profile.
    pub profile: StoreProfile,
    /// The API client id, in clear (`None` once disconnected).
    pub client_id: Option<String>,
    /// Connected or disconnected.
    pub status: StoreStatus,
    /// Last (re)connection.
    pub connected_at: Option<DateTime<Utc>>,
    /// Last change to this row.
    pub updated_at: DateTime<Utc>,
}

impl StoreRecord {
    /// Our id of the store.
    pub fn id(&self) -> StoreId {
        self.scope.store_id
    }

    /// The owner.
    pub fn user_id(&self) -> UserId {
        self.scope.user_id
    }

    /// The scope to read and write this store's orders and catalog with. A record only comes out
    /// of storage through an owner-checked or operator query, so this is sound.
    pub fn scope(&self) -> StoreScope {
        self.scope
    }
}

/// Our own fulfilment state, mapped from the channel's status (the mapping lives in the
/// connector and is configurable per store; storage only keeps the result).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FulfilmentState {
    /// A warehouse can act on it.
    Ready,
    /// Waiting on something (payment, manual review).
    OnHold,
    /// Cancelled or declined.
    Cancelled,
    /// Fully shipped.
    Shipped,
    /// Some lines shipped.
    PartiallyShipped,
    /// Refunded.
    Refunded,
    /// Anything else (e.g. incomplete).
    Other,
}

impl FulfilmentState {
    /// Every state, in a stable order.
    pub const ALL: [FulfilmentState; 7] = [
        Self::Ready,
        Self::OnHold,
        Self::Cancelled,
        Self::Shipped,
        Self::PartiallyShipped,
        Self::Refunded,
        Self::Other,
    ];

    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::OnHold => "on_hold",
            Self::Cancelled => "cancelled",
            Self::Shipped => "shipped",
            Self::PartiallyShipped => "partially_shipped",
            Self::Refunded => "refunded",
            Self::Other => "other",
        }
    }
}

impl FromStr for FulfilmentState {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownValue::new("fulfilment state", s))
    }
}

/// Billing or shipping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressKind {
    /// The billing address (one per order; it has no id of the channel's).
    Billing,
    /// A shipping address / consignment (has an id, needed to create shipments).
    Shipping,
}

impl AddressKind {
    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Billing => "billing",
            Self::Shipping => "shipping",
        }
    }
}

impl FromStr for AddressKind {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "billing" => Ok(Self::Billing),
            "shipping" => Ok(Self::Shipping),
            other => Err(UnknownValue::new("address kind", other)),
        }
    }
}

/// An order as received from a channel, ready to upsert by `(store, remote_id)`. Every id of
/// the channel's is text: an Amazon order id is `902-3159896-1390916`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrderRecord {
    /// The channel's order id (its order number).
    pub remote_id: String,
    /// The channel's own code of the order's status (a status id as text, `"11"`, or a word).
    pub status_code: String,
    /// The channel's status name.
    pub status_name: String,
    /// Our fulfilment state.
    pub fulfilment_state: FulfilmentState,
    /// The channel's customer id (`None` for guests).
    pub customer_id: Option<String>,
    /// The customer's (billing) email.
    pub email: Option<String>,
    /// Currency code of the amounts below.
    pub currency: String,
    /// Subtotal, exact.
    pub subtotal: Decimal,
    /// Total including tax, exact.
    pub total: Decimal,
    /// Tax, exact.
    pub tax: Decimal,
    /// Payment method label.
    pub payment_method: Option<String>,
    /// Payment status label.
    pub payment_status: Option<String>,
    /// Creation time (UTC).
    pub date_created: DateTime<Utc>,
    /// Last modification time at the channel (UTC): the version an upsert compares.
    pub date_modified: DateTime<Utc>,
    /// Archived/deleted at the channel: marked, never removed here.
    pub is_deleted: bool,
    /// The order exactly as received (JSON text).
    pub raw_json: String,
    /// Line items.
    pub lines: Vec<NewOrderLine>,
    /// Billing and shipping addresses.
    pub addresses: Vec<NewOrderAddress>,
}

/// A line item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrderLine {
    /// The channel's line id (what a shipment names the line by).
    pub remote_id: String,
    /// The channel's product id.
    pub product_id: Option<String>,
    /// The channel's variant id.
    pub variant_id: Option<String>,
    /// SKU as ordered.
    pub sku: String,
    /// Name as ordered.
    pub name: String,
    /// Quantity ordered.
    pub quantity: i32,
    /// Quantity already shipped.
    pub quantity_shipped: i32,
    /// Unit price, exact.
    pub price: Decimal,
    /// The shipping address (consignment) this line ships to, by the channel's id.
    pub address_remote_id: Option<String>,
}

/// A billing or shipping address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrderAddress {
    /// Billing or shipping.
    pub kind: AddressKind,
    /// The channel's address id (what a shipment names the address by); `None` for billing.
    pub remote_id: Option<String>,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Company.
    pub company: String,
    /// Street, first line.
    pub street_1: String,
    /// Street, second line.
    pub street_2: String,
    /// City.
    pub city: String,
    /// State or region.
    pub state: String,
    /// Postal code.
    pub zip: String,
    /// ISO 3166-1 alpha-2 country.
    pub country_iso2: String,
    /// Email.
    pub email: String,
    /// Phone.
    pub phone: String,
    /// Shipping method chosen for this consignment.
    pub shipping_method: Option<String>,
}

/// How a batch upsert went. `unchanged` rows cost no write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertOutcome {
    /// New rows.
    pub inserted: u64,
    /// Rows whose version was newer than the stored one.
    pub updated: u64,
    /// Rows skipped because the stored version was as new or newer.
    pub unchanged: u64,
}

impl std::ops::AddAssign for UpsertOutcome {
    fn add_assign(&mut self, rhs: Self) {
        self.inserted += rhs.inserted;
        self.updated += rhs.updated;
        self.unchanged += rhs.unchanged;
    }
}

/// An order as listed (no lines, addresses or raw JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSummary {
    /// Our id (also the pagination key).
    pub id: OrderId,
    /// The store.
    pub store_id: StoreId,
    /// The channel's order id (its order number).
    pub remote_id: String,
    /// The channel's status code.
    pub status_code: String,
    /// The channel's status name.
    pub status_name: String,
    /// Our fulfilment state.
    pub fulfilment_state: FulfilmentState,
    /// The channel's customer id.
    pub customer_id: Option<String>,
    /// Customer email.
    pub email: Option<String>,
    /// Currency code.
    pub currency: String,
    /// Subtotal.
    pub subtotal: Decimal,
    /// Total.
    pub total: Decimal,
    /// Tax.
    pub tax: Decimal,
    /// Payment method.
    pub payment_method: Option<String>,
    /// Payment status.
    pub payment_status: Option<String>,
    /// Created at the channel (UTC).
    pub date_created: DateTime<Utc>,
    /// Modified at the channel (UTC).
    pub date_modified: DateTime<Utc>,
    /// Archived/deleted at the channel.
    pub is_deleted: bool,
    /// First imported here.
    pub imported_at: DateTime<Utc>,
    /// Last written here.
    pub updated_at: DateTime<Utc>,
}

/// A full order: summary, lines, addresses and the raw JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRecord {
    /// The listed fields.
    pub summary: OrderSummary,
    /// The order as received.
    pub raw_json: String,
    /// Lines, by channel line id, read back exactly as they were written.
    pub lines: Vec<NewOrderLine>,
    /// Addresses: billing first, then shipping by channel id.
    pub addresses: Vec<NewOrderAddress>,
}

/// Filters for [`crate::storage::Storage::list_orders`]; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Only this channel status code.
    pub status_code: Option<String>,
    /// Only this fulfilment state.
    pub fulfilment_state: Option<FulfilmentState>,
    /// Only orders modified at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only orders created at the channel at or after this instant (inclusive).
    pub created_from: Option<DateTime<Utc>>,
    /// Only orders created at the channel before this instant (exclusive): with
    /// `created_from`, a half-open range, so `2026-01-01`..`2026-02-01` is January.
    pub created_to: Option<DateTime<Utc>>,
    /// Include orders archived/deleted at the channel (excluded by default).
    pub include_deleted: bool,
    /// Page order: newest first (creation time at the channel, descending, then our id
    /// descending) instead of our id, ascending. The cursor is still our id of the last order
    /// of a page.
    pub newest_first: bool,
}

/// One page of orders, by ascending id (or newest first). Keyset pagination: stable while
/// orders are added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPage {
    /// The orders.
    pub orders: Vec<OrderSummary>,
    /// Pass back as `after` for the next page; `None` at the end.
    pub next_cursor: Option<OrderId>,
}

/// How many orders a store holds per channel status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCount {
    /// The channel's status code.
    pub status_code: String,
    /// The status name (the most recent name seen for this code).
    pub status_name: String,
    /// Orders (deleted ones included, to compare with the channel's own counts).
    pub count: i64,
}

/// A sync stream's checkpoint: `docs/HARD-PROBLEMS.md` note 1: a frozen
/// window and where the walk resumes inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The stream, e.g. [`STREAM_ORDERS`].
    pub stream: String,
    /// Lower bound of the frozen window (`None` for a backfill from the beginning).
    pub window_start: Option<DateTime<Utc>>,
    /// Upper bound of the frozen window.
    pub window_end: Option<DateTime<Utc>>,
    /// Where the walk resumes inside the window: the channel's cursor of the last committed
    /// page (e.g. the last order id).
    pub cursor: Option<String>,
    /// When the window was finished (`None` while in progress).
    pub completed_at: Option<DateTime<Utc>>,
}

/// Stream name: all orders.
pub const STREAM_ORDERS: &str = "orders";
/// Stream name: open orders first.
pub const STREAM_OPEN_ORDERS: &str = "open_orders";
/// Stream name: catalog.
pub const STREAM_CATALOG: &str = "catalog";

/// The `part` of an outbox row that changes an order's status (a shipment's part is its
/// shipping address id).
pub const STATUS_PART: &str = "status";

/// Where the store keeps a SKU's (or a product's) stock level: the core's notion, whatever a
/// channel calls its modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StockTracking {
    /// The store does not track stock for it: nothing is pushed.
    Untracked,
    /// One level on the product, shared by its SKUs.
    Product,
    /// A level per variant: the SKU has its own.
    Variant,
    /// The store derives the level from others (the product-level SKU of a product tracked per
    /// variant shows the sum of its variants): nothing is pushed to it.
    Derived,
}

impl StockTracking {
    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Untracked => "untracked",
            Self::Product => "product",
            Self::Variant => "variant",
            Self::Derived => "derived",
        }
    }
}

impl FromStr for StockTracking {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "untracked" => Ok(Self::Untracked),
            "product" => Ok(Self::Product),
            "variant" => Ok(Self::Variant),
            "derived" => Ok(Self::Derived),
            other => Err(UnknownValue::new("stock tracking", other)),
        }
    }
}

/// A catalog product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    /// The channel's product id.
    pub remote_id: String,
    /// Name.
    pub name: String,
    /// Product-level SKU (may be empty).
    pub sku: String,
    /// Where its stock level lives: `untracked`, `product` or `variant`.
    pub stock_tracking: StockTracking,
    /// Modified at the channel: the version an upsert compares.
    pub date_modified: DateTime<Utc>,
}

/// An entry of the SKU index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSku {
    /// The SKU (unique per store).
    pub sku: String,
    /// The channel's product id.
    pub product_remote_id: String,
    /// The channel's variant id, when the SKU is a variant's.
    pub variant_remote_id: Option<String>,
    /// Where its stock level lives.
    pub stock_tracking: StockTracking,
}

/// A stored SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuRecord {
    /// The SKU.
    pub sku: String,
    /// The channel's product id.
    pub product_remote_id: String,
    /// The channel's variant id.
    pub variant_remote_id: Option<String>,
    /// Where its stock level lives.
    pub stock_tracking: StockTracking,
    /// Last written here.
    pub updated_at: DateTime<Utc>,
}

/// A stored value that is not one of the known spellings (a newer schema, or a hand edit).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?} in the database")]
pub struct UnknownValue {
    what: &'static str,
    value: String,
}

impl UnknownValue {
    pub(crate) fn new(what: &'static str, value: &str) -> Self {
        Self {
            what,
            value: value.to_owned(),
        }
    }
}
