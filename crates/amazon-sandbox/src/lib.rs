// Handlers return `Result<T, Response>` so that a failed parse is already the answer to send.
#![allow(clippy::result_large_err)]
//! # The Amazon Selling Partner API sandbox
//!
//! An HTTP emulator of the parts of Amazon's Selling Partner API that a hub between a seller's
//! Amazon account and its warehouse uses, built from Amazon's published models: Login with
//! Amazon's refresh-token grant, Orders API v0 (`getOrders`, `getOrder`, `getOrderItems`,
//! `getOrderAddress`, `getOrderBuyerInfo`, `confirmShipment`), Orders API 2026-01-01
//! (`searchOrders`, `getOrder`), the Tokens API's restricted data tokens that open buyers'
//! personal data, the Listings Items API's merchant-fulfilled quantity, per-operation token
//! buckets with `x-amzn-RateLimit-Limit`, app authorisations that each lack one role, a
//! living seller account, `ORDER_CHANGE` notifications on an SQS-like queue the hub
//! long-polls, and faults on demand.
//!
//! One server emulates one seller account in one marketplace; the LWA token endpoint is served
//! by the same server at `/auth/o2/token`. Tests drive the account through the control API
//! under `/_sandbox` or the same operations on [`AmazonSandbox`]. `docs/SANDBOX.md` (its
//! Amazon section) says what is emulated and where the sandbox had to choose.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use amazon_sandbox::{AmazonSandbox, AmazonSandboxConfig};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let sandbox = AmazonSandbox::start(
//!     listener,
//!     AmazonSandboxConfig { orders: 200, ..AmazonSandboxConfig::default() },
//! )
//! .await?;
//! let file = sandbox.write_credentials(std::path::Path::new("creds"))?;
//! println!("{} -> {}", sandbox.endpoint(), file.display());
//! # Ok(()) }
//! ```

pub mod account;
pub mod api;
pub mod auth;
pub mod clock;
pub mod credentials;
pub mod faults;
pub mod generate;
pub mod live;
pub mod log;
pub mod model;
pub mod notifications;
pub mod queue;
pub mod ratelimit;
pub mod state;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

pub use account::{ChangeType, NewOrder, NewOrderItem, RuleError};
pub use auth::{AppAuthorization, Role};
pub use credentials::{CredentialsError, MerchantCredentials};
pub use faults::{FaultKind, FaultRule};
pub use live::{LiveSettings, LiveStatus};
pub use model::{FulfillmentChannel, Listing, Order, OrderStatus, Package};
pub use ratelimit::Operation;
pub use state::{AmazonSandboxConfig, SandboxState};

/// A running sandbox. Dropping it does not stop the server; call [`AmazonSandbox::shutdown`].
#[derive(Debug, Clone)]
pub struct AmazonSandbox {
    state: Arc<SandboxState>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
}

impl AmazonSandbox {
    /// Builds the account from `config` and serves it over plain HTTP on `listener` (bind port
    /// 0 in tests) until [`AmazonSandbox::shutdown`].
    pub async fn start(
        listener: TcpListener,
        config: AmazonSandboxConfig,
    ) -> std::io::Result<AmazonSandbox> {
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        // Generating a large history takes a while: off the async workers.
        let state = tokio::task::spawn_blocking(move || SandboxState::new(base_url, config))
            .await
            .map_err(std::io::Error::other)?;
        let state = Arc::new(state);
        let (shutdown, mut shutdown_rx) = watch::channel(false);
        let app = api::router(state.clone());
        let live_state = state.clone();
        tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = shutdown_rx.wait_for(|stop| *stop).await;
                })
                .await;
            live_state.live.stop();
            if let Err(error) = result {
                tracing::error!(%error, "amazon sandbox server stopped");
            }
        });
        Ok(AmazonSandbox {
            state,
            addr,
            shutdown,
        })
    }

    /// The socket the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The SP-API endpoint, `http://127.0.0.1:PORT` (in place of
    /// `https://sellingpartnerapi-na.amazon.com`).
    pub fn endpoint(&self) -> &str {
        &self.state.base_url
    }

    /// The LWA token URL (in place of `https://api.amazon.com/auth/o2/token`).
    pub fn auth_endpoint(&self) -> String {
        format!("{}/auth/o2/token", self.state.base_url)
    }

    /// The `ORDER_CHANGE` queue stand-in's base URL (in place of an SQS queue URL): receive,
    /// delete and change visibility are below it.
    pub fn queue_url(&self) -> String {
        format!("{}/_sandbox/queue", self.state.base_url)
    }

    pub fn seller_id(&self) -> String {
        self.state.seller_id()
    }

    pub fn marketplace_id(&self) -> &str {
        &self.state.config.marketplace_id
    }

    /// Every app authorisation (profile), `full` first.
    pub fn apps(&self) -> &[AppAuthorization] {
        &self.state.apps
    }

    /// The authorisation of a profile (`full`, `missing-orders`, `missing-listings`,
    /// `missing-restricted-data`).
    pub fn app(&self, profile: &str) -> Option<&AppAuthorization> {
        self.state.app(profile)
    }

    /// The credentials a connect step needs.
    pub fn credentials(&self) -> MerchantCredentials {
        MerchantCredentials::new(
            self.endpoint(),
            &self.seller_id(),
            self.marketplace_id(),
            &self.state.apps,
        )
    }

    /// Writes `dir/amazon-merchant.json`; returns its path.
    pub fn write_credentials(&self, dir: &Path) -> Result<PathBuf, CredentialsError> {
        self.credentials().write(dir)
    }

    /// Shared state, for in-process inspection.
    pub fn state(&self) -> &Arc<SandboxState> {
        &self.state
    }

    /// Places an order as a buyer would (notified on the queue).
    pub fn place_order(&self, order: NewOrder) -> Result<Order, RuleError> {
        self.state.change(|a, now| a.place_order(order, now))
    }

    /// Payment authorised (`Pending` → `Unshipped`) or, for Amazon-fulfilled orders, Amazon ships.
    pub fn advance_order(&self, id: &str) -> Result<Order, RuleError> {
        self.state.change(|a, now| a.advance_order(id, now))
    }

    /// Cancels an order nothing of which has shipped.
    pub fn cancel_order(&self, id: &str) -> Result<Order, RuleError> {
        self.state.change(|a, now| a.cancel_order(id, now))
    }

    /// The buyer asks the seller to cancel.
    pub fn request_cancellation(&self, id: &str, reason: &str) -> Result<Order, RuleError> {
        self.state
            .change(|a, now| a.request_cancellation(id, reason, now))
    }

    /// An order as the sandbox keeps it (packages included).
    pub fn order(&self, id: &str) -> Option<Order> {
        self.state.account.read().order(id).cloned()
    }

    /// Every confirmed package with its order id, oldest first.
    pub fn packages(&self) -> Vec<(String, Package)> {
        self.state.account.read().packages()
    }

    /// A listing by SKU.
    pub fn listing(&self, sku: &str) -> Option<Listing> {
        self.state.account.read().listings.get(sku).cloned()
    }

    /// Every listing, by SKU.
    pub fn listings(&self) -> Vec<Listing> {
        self.state
            .account
            .read()
            .listings
            .values()
            .cloned()
            .collect()
    }

    /// Moves the sandbox's clock forward (tokens age, buckets refill, the two-minute window
    /// moves, hidden queue messages come back).
    pub fn advance_clock(&self, by: chrono::Duration) {
        self.state.clock.advance(by);
    }

    /// Adds a fault rule.
    pub fn add_fault(&self, rule: FaultRule) {
        self.state.faults.lock().push(rule);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.state.faults.lock().clear();
    }

    /// Changes the rate scale (buckets start full again).
    pub fn set_rate_scale(&self, scale: f64) {
        self.state.limiter.lock().set_scale(scale);
    }

    /// Starts live mode.
    pub fn start_live(&self, settings: LiveSettings) -> Result<(), String> {
        live::start_live(&self.state, settings)
    }

    /// Stops live mode.
    pub fn stop_live(&self) {
        self.state.live.stop();
    }

    /// Stops the server and live mode.
    pub fn shutdown(&self) {
        self.state.live.stop();
        let _ = self.shutdown.send(true);
    }
}
