//! A typed, rate-limit-aware async client for the BigCommerce REST API, covering what a
//! fulfilment hub needs: v2 orders, order products, shipping addresses, consignments,
//! statuses and shipments; v3 products, variants and webhooks; v2 store information and time.
//!
//! # Design
//! - **One [`Client`] per store.** It is cheap to clone; all clones share one connection pool
//!   and one [`RateLimiter`], because BigCommerce's quota belongs to the store, not to a task.
//! - **Pacing before reacting** (`docs/HARD-PROBLEMS.md` note 3). Every response's `X-Rate-Limit-*`
//!   headers feed the limiter; a request waits when it would dip into the share of the quota
//!   left to other apps (20% by default), counting requests still in flight, and the last part
//!   of our share is spread until the window resets. A 429 pauses every task of the store
//!   until the reset (or an exponential backoff with jitter when the 429 has no headers). See
//!   [`limiter`].
//! - **Priorities in the quota.** Each request has a [`Priority`] (`Urgent` shipments, `Hint`
//!   targeted fetches, `Sync` incremental walks, `Backfill` bulk walks), taken from the
//!   caller's [`with_priority`] scope rather than a parameter: when requests wait for the
//!   limiter, a higher class goes first, and an urgent one is never spread. See [`priority`].
//! - **Retries that cannot duplicate effects** (`docs/HARD-PROBLEMS.md` note 2). GET, PUT and
//!   DELETE are retried on timeouts, dropped connections, 500/502/503/504 and truncated bodies;
//!   a POST never is once it may have reached BigCommerce: the caller gets
//!   [`Error::OutcomeUnknown`] and must read back before sending it again. See the table in
//!   `http.rs`.
//! - **Lenient, typed models.** Money is [`rust_decimal::Decimal`] (v2 sends `"12.3400"`),
//!   dates are `DateTime<Utc>` (v2 RFC 2822, v3 ISO 8601, webhooks UNIX seconds, `""` for
//!   unset), numbers may arrive as strings, unknown fields are ignored, and an [`Order`]
//!   keeps its complete JSON, as received, in [`Order::raw_json`] for storage. Models are read
//!   straight from the text with visitors; no intermediate `serde_json::Value` tree is built.
//! - **Streams of pages, never a whole store in memory.** v2 lists page until a short page or
//!   a `204 No Content`; v3 lists follow `meta.pagination`. Orders are best walked by id
//!   ([`Client::order_pages_by_id`]) so that changes during a sync cannot make one skip.
//! - **The 50-line cap.** With `include=consignments.line_items` BigCommerce embeds at most 50
//!   line items per consignment and marks the consignment with `__warning__`;
//!   [`Client::order_pages_with_lines`] falls back to `GET /v2/orders/{id}/products` for those
//!   orders only, so most orders cost no extra request.
//! - **Errors say what to do.** One [`Error`] enum; every variant carries the method and the
//!   endpoint path (never the host, query or token), and a 403 names the missing scope in
//!   BigCommerce's words and parameter name.
//! - **Secrets stay secret.** The token is a `SecretString`, sent as a sensitive header, and
//!   never appears in `Debug` output, errors or logs. Redirects are not followed, so the token
//!   cannot be forwarded to another host.
//!
//! # Example
//! ```no_run
//! # async fn run() -> Result<(), bigcommerce_client::Error> {
//! use bigcommerce_client::{Client, ClientConfig, OrderQuery};
//! use futures::TryStreamExt;
//! use secrecy::SecretString;
//!
//! let config = ClientConfig::new("abc123", SecretString::from("token"), "client-id");
//! let client = Client::new(config)?;
//! let query = OrderQuery { status_id: Some(11), ..OrderQuery::default() };
//! let pages = client.order_pages_with_lines(&query);
//! futures::pin_mut!(pages);
//! while let Some(page) = pages.try_next().await? {
//!     for order in page {
//!         println!("order {} has {} lines", order.order.id, order.lines.len());
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod client;
pub mod config;
pub mod dates;
pub mod endpoints;
pub mod error;
mod http;
mod lenient;
pub mod limiter;
pub mod models;
pub mod money;
pub mod priority;

pub use client::{Client, HEADER_AUTH_CLIENT, HEADER_AUTH_TOKEN};
pub use config::{ClientConfig, DEFAULT_API_BASE_URL, DEFAULT_QUOTA_SHARE};
pub use endpoints::catalog::{
    BatchOutcome, ProductQuery, VariantQuery, MAX_PRODUCT_BATCH, MAX_VARIANT_BATCH,
};
pub use endpoints::orders::{OrderQuery, OrderSort, OrderWithLines};
pub use endpoints::MAX_PAGE_SIZE;
pub use error::{Error, FieldError, Result};
pub use limiter::{LimiterStats, RateLimitHeaders, RateLimiter};
pub use models::catalog::{
    InventoryTracking, Product, ProductUpdate, Variant, VariantOptionValue, VariantUpdate,
};
pub use models::hooks::{CreateHook, Hook, UpdateHook};
pub use models::orders::{
    ConsignmentLineItem, ConsignmentWarning, Consignments, Order, OrderConsignments, OrderProduct,
    OrderProductOption, OrderShippingAddress, OrderStatus, OrdersCount, PickupConsignment,
    ShippingConsignment, UpdateOrder,
};
pub use models::shipments::{
    CreateShipment, NewShipmentItem, Shipment, ShipmentItem, UpdateShipment,
};
pub use models::store::{StoreInfo, StoreTimezone};
pub use models::{Address, Envelope, Meta, Pagination, Resource};
pub use priority::{current_priority, with_priority, Priority};
