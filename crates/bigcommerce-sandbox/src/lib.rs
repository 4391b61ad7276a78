#![recursion_limit = "256"]
// Handlers return `Result<T, Response>` so that a failed parse is already the answer to send;
// boxing every `Response` to please this lint would add noise and buy nothing.
#![allow(clippy::result_large_err)]
//! # The BigCommerce sandbox
//!
//! An HTTP emulator of the BigCommerce REST API that every Cenports test, benchmark and the demo
//! runs against, because nothing here can reach the real BigCommerce. It is built from the
//! public API descriptions: paths under `/stores/{store_hash}/v2|v3`, store-level API accounts
//! with BigCommerce's OAuth scopes, the per-store request quota with its `X-Rate-Limit-*`
//! headers, v2 orders (bare arrays, RFC 2822 dates, decimal strings, `204` for an empty page,
//! resource links), the v3 catalog (`{data, meta}` envelope), v3 webhooks signed with the
//! Standard Webhooks scheme, a seeded generator of a living store, and faults on demand.
//!
//! It serves plain HTTP ([`Sandbox::start`]) or HTTPS with a throwaway certificate authority
//! ([`Sandbox::start_tls`], [`TlsIdentity`]), for third-party clients that only speak
//! `https://` and take nothing but a host.
//!
//! Tests drive it through the control API under `/_sandbox` (or the same operations on
//! [`Sandbox`] in-process): create stores, place and change orders, read the request log, turn
//! faults on.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use bigcommerce_sandbox::{Sandbox, SandboxConfig, StoreSpec};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let sandbox = Sandbox::start(listener, SandboxConfig::default()).await?;
//! let store = sandbox.create_store(StoreSpec { orders: 100, ..StoreSpec::default() });
//! println!("{}", sandbox.api_path(&store.hash));
//! # Ok(()) }
//! ```

pub mod api;
pub mod credentials;
pub mod faults;
pub mod fixtures;
pub mod generate;
pub mod handle;
pub mod live;
pub mod log;
pub mod model;
pub mod ratelimit;
pub mod state;
pub mod store;
pub mod tls;
pub mod webhooks;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use faults::{FaultKind, FaultRule};
pub use model::{ApiAccount, Scope};
pub use ratelimit::{Plan, RateLimit};
pub use state::{SandboxConfig, SandboxState, StoreHandle, StoreInfo, StoreSpec};
pub use store::{Event, NewModifier, NewOrder, NewOrderLine, StoreData};
pub use tls::TlsIdentity;

/// A running sandbox server. Dropping it does not stop the server; call [`Sandbox::shutdown`].
#[derive(Clone)]
pub struct Sandbox {
    state: Arc<SandboxState>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
}

impl Sandbox {
    /// Serves the sandbox over plain HTTP on `listener` (bind port 0 in tests) until
    /// [`Sandbox::shutdown`].
    pub async fn start(listener: TcpListener, config: SandboxConfig) -> std::io::Result<Sandbox> {
        let addr = listener.local_addr()?;
        let (sandbox, app, mut shutdown_rx) = Sandbox::build(addr, "http", config);
        tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = shutdown_rx.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(error) = result {
                tracing::error!(%error, "sandbox server stopped");
            }
        });
        Ok(sandbox)
    }

    /// Serves the sandbox over HTTPS with `identity` on `listener` until [`Sandbox::shutdown`]; the
    /// base URL, resource links and `API PATH` then say `https://`. Fails with `InvalidInput`
    /// when the identity's PEM cannot be used.
    pub async fn start_tls(
        listener: TcpListener,
        config: SandboxConfig,
        identity: &TlsIdentity,
    ) -> std::io::Result<Sandbox> {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(identity.server_config()?));
        let addr = listener.local_addr()?;
        let (sandbox, app, shutdown_rx) = Sandbox::build(addr, "https", config);
        tokio::spawn(tls::serve(listener, acceptor, app, shutdown_rx));
        Ok(sandbox)
    }

    /// The state, router and shutdown signal shared by both transports; starts the webhook
    /// dispatcher.
    fn build(
        addr: SocketAddr,
        scheme: &str,
        config: SandboxConfig,
    ) -> (Sandbox, axum::Router, watch::Receiver<bool>) {
        let (shutdown, shutdown_rx) = watch::channel(false);
        let state = Arc::new(SandboxState {
            base_url: format!("{scheme}://{addr}"),
            webhooks: webhooks::Dispatcher::new(
                Duration::from_millis(config.webhook_timeout_ms),
                config.webhook_retry_scale,
            ),
            live: live::LiveControl::default(),
            config,
            stores: RwLock::new(HashMap::new()),
        });
        state
            .webhooks
            .start(Arc::downgrade(&state), shutdown.subscribe());
        let app = api::router(state.clone());
        let sandbox = Sandbox {
            state,
            addr,
            shutdown,
        };
        (sandbox, app, shutdown_rx)
    }

    /// The socket the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (`https://` from [`Sandbox::start_tls`]): the API base URL to
    /// give a client instead of `https://api.bigcommerce.com`.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// The `API PATH` of a store, as BigCommerce's credentials file prints it.
    pub fn api_path(&self, hash: &str) -> String {
        format!("{}/stores/{hash}/v3/", self.state.base_url)
    }

    /// Shared state, for in-process inspection.
    pub fn state(&self) -> &Arc<SandboxState> {
        &self.state
    }

    /// Creates (or replaces) a store built from `spec`.
    pub fn create_store(&self, spec: StoreSpec) -> StoreInfo {
        state::create_store(&self.state, spec)
    }

    /// The store with this hash.
    pub fn store(&self, hash: &str) -> Option<Arc<StoreHandle>> {
        self.state.store(hash)
    }

    /// Runs `change` on a store's data and delivers the webhooks it fires.
    pub fn with_store<T>(
        &self,
        hash: &str,
        change: impl FnOnce(&mut StoreData, &mut Vec<Event>) -> T,
    ) -> Option<T> {
        let store = self.state.store(hash)?;
        let mut events = Vec::new();
        let result = change(&mut store.data.write(), &mut events);
        self.state.webhooks.publish(&store, events);
        Some(result)
    }

    /// Stops the server and the background tasks.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}
