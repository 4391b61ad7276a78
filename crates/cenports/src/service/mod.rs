//! # The service layer: what the JSON API and the dashboard both do
//!
//! Both HTTP surfaces, [`crate::http`] (the JSON API) and [`crate::web`] (the dashboard), call
//! these functions rather than each other, so a page and the API apply the same tenancy check,
//! the same validation and the same storage calls:
//!
//! - [`stores`]: the tenancy check ([`stores::scope_for`]: another merchant's store is
//!   [`ServiceError::StoreNotFound`], as one that does not exist), the stores a caller sees,
//!   what needs attention in one;
//! - [`sync`]: the sync trigger (the "already syncing" guard, the spawned sync task) and the
//!   run records ([`SyncRuns`]), and where a store's sync is;
//! - [`orders`]: the order list (filters, search, pages) and one order in full;
//! - [`shipments`]: a shipment requested through the outbox under the caller's request key,
//!   a store's shipments, one shipment;
//! - [`stock`]: stock per SKU, and the bulk set of on hand;
//! - [`events`]: event subscriptions, their deliveries and the event feed;
//! - [`paging`]: page sizes and cursors.
//!
//! Services take the state, the caller's [`crate::accounts::StoreAccess`] and plain values,
//! never axum extractors, and return storage records or small structs of their own; each
//! surface shapes them (JSON views, HTML) and maps [`ServiceError`] to its own answer.
//!
//! [`AppState`] is what the services and both surfaces run on: the database, the settings, the
//! clock, the process's counters, the per-store sync guard, the channels (every store's client
//! and limiter), the sync run records. It lives here, below both surfaces, because the services are what use it (and
//! [`SyncRuns`] is the sync service's); the surfaces only hold it as their axum state.

pub mod error;
pub mod events;
pub mod orders;
pub mod paging;
pub mod shipments;
pub mod stock;
pub mod stores;
pub mod sync;

use std::sync::Arc;

use secrecy::SecretString;

use crate::accounts::{AuthPolicy, Clock, SystemClock};
use crate::channel::Channels;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::storage::Storage;
use crate::sync::scheduler::SyncsInProgress;
use crate::sync::SyncOptions;
pub use error::ServiceError;
pub use sync::SyncRuns;

/// What the services, and both surfaces' handlers, run on. Cheap to clone (shared parts are
/// behind `Arc`s).
#[derive(Clone)]
pub struct AppState {
    storage: Storage,
    settings: Arc<Settings>,
    clock: Arc<dyn Clock>,
    auth: AuthPolicy,
    secure_cookies: bool,
    sync_options: Arc<SyncOptions>,
    metrics: Arc<Metrics>,
    syncs: Arc<SyncRuns>,
    in_progress: SyncsInProgress,
    channels: Channels,
    setup_token: Option<Arc<SecretString>>,
    fleet: Option<(crate::fleet::Fleet, Arc<tokio::sync::Notify>)>,
}

impl AppState {
    /// The state for a database, the hub's settings and the process's channels (the stores'
    /// clients for API-triggered syncs and the dashboard's checks): the system clock,
    /// [`AuthPolicy::default`], default sync options, and `Secure` cookies (see
    /// [`AppState::with_secure_cookies`]).
    pub fn new(storage: Storage, settings: Settings, channels: Channels) -> Self {
        AppState {
            storage,
            settings: Arc::new(settings),
            clock: Arc::new(SystemClock),
            auth: AuthPolicy::default(),
            secure_cookies: true,
            sync_options: Arc::new(SyncOptions::default()),
            metrics: Arc::new(Metrics::default()),
            syncs: Arc::new(SyncRuns::default()),
            in_progress: SyncsInProgress::default(),
            channels,
            setup_token: None,
            fleet: None,
        }
    }

    /// Opens the first-run setup (`/setup?token=…`) with this one-time token: while no
    /// account can sign in, whoever has the token may create the first operator.
    /// [`crate::server::App::build`] makes one when the database has no such account.
    pub fn with_setup_token(mut self, token: SecretString) -> Self {
        self.setup_token = Some(Arc::new(token));
        self
    }

    /// The first-run setup token, if this process offers the setup.
    pub(crate) fn setup_token(&self) -> Option<&SecretString> {
        self.setup_token.as_deref()
    }

    /// Uses another clock (tests move a [`crate::accounts::ManualClock`]).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Session lifetime and login throttling.
    pub fn with_auth_policy(mut self, policy: AuthPolicy) -> Self {
        self.auth = policy;
        self
    }

    /// Whether session cookies carry `Secure` (sent over HTTPS only). Use
    /// [`crate::edge::auth::cookies_must_be_secure`] with the listen address.
    pub fn with_secure_cookies(mut self, secure: bool) -> Self {
        self.secure_cookies = secure;
        self
    }

    /// Options of syncs triggered through the API.
    pub fn with_sync_options(mut self, options: SyncOptions) -> Self {
        self.sync_options = Arc::new(options);
        self
    }

    /// Shares counters with the rest of the process (e.g. the webhook receiver records its
    /// receipts in the same [`Metrics`]).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Shares the per-store "already syncing" guard with the scheduler of the same process,
    /// so a trigger during a scheduled sync answers `already_running` instead of walking the
    /// store a second time (`serve` does this).
    pub fn with_syncs_in_progress(mut self, in_progress: SyncsInProgress) -> Self {
        self.in_progress = in_progress;
        self
    }

    /// The process's membership of the fleet and its job worker's bell (`serve`): a sync
    /// asked for a store this process does not hold is queued for the process that does,
    /// whose limiter paces every request to the store.
    pub fn with_fleet(
        mut self,
        fleet: crate::fleet::Fleet,
        wake: Arc<tokio::sync::Notify>,
    ) -> Self {
        self.fleet = Some((fleet, wake));
        self
    }

    /// The process's membership of the fleet, when it runs as one (`serve`).
    pub fn fleet(&self) -> Option<&crate::fleet::Fleet> {
        self.fleet.as_ref().map(|(fleet, _)| fleet)
    }

    /// The process's channels: every store's client, paced on the store's one limiter with
    /// the scheduler's, the webhook worker's and the outbox worker's requests to the same store
    /// (`docs/HARD-PROBLEMS.md` note 3).
    pub fn channels(&self) -> &Channels {
        &self.channels
    }

    /// The stores this process is syncing now (triggered or scheduled).
    pub fn syncs_in_progress(&self) -> &SyncsInProgress {
        &self.in_progress
    }

    /// The database.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The process's counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The syncs this process started through the API or the dashboard (their run records).
    pub fn syncs(&self) -> &Arc<SyncRuns> {
        &self.syncs
    }

    pub(crate) fn secure_cookies(&self) -> bool {
        self.secure_cookies
    }

    pub(crate) fn auth_policy(&self) -> &AuthPolicy {
        &self.auth
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
}
