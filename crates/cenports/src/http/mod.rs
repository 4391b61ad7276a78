//! # The hub's HTTP surface (without HTML pages)
//!
//! [`router`] returns one `axum::Router` with:
//!
//! - `/api/v1/...`: the JSON API ([`api`]): stores, sync status and triggers, orders,
//!   shipments, stock, errors, `me`; its OpenAPI document at `/api/v1/openapi.json`, generated
//!   from the handlers (`utoipa`), and a page to browse it at `/api/v1/docs`;
//! - `/login`, `/logout`: sessions in HTTP-only cookies ([`auth`]);
//! - `/healthz` (the process answers), `/readyz` (the database answers), `/metrics`
//!   (Prometheus text, [`crate::metrics`]).
//!
//! The `serve` command merges it with its own routes: `Router::merge(cenports::http::router(
//! state))`, served with `into_make_service_with_connect_info::<SocketAddr>()` so that login
//! throttling sees the client's address. The router sets no fallback (two merged routers may
//! not both have one); unknown paths under `/api/v1/` get the JSON 404 of a catch-all route.
//!
//! Every error is the envelope of [`error`]: `{"error": {"code", "message"}}`. Design notes
//! and the list of codes: `docs/API.md`.

pub mod api;
pub mod auth;
pub mod error;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;

use secrecy::SecretString;

use crate::accounts::{AuthPolicy, Clock, SystemClock};
use crate::config::Settings;
use crate::metrics::{Metrics, Surface};
use crate::storage::Storage;
use crate::sync::scheduler::{StoreLimiters, SyncsInProgress};
use crate::sync::SyncOptions;
pub use api::sync::SyncRuns;
pub use error::{ApiError, ErrorCode};

/// What every handler needs. Cheap to clone (shared parts are behind `Arc`s).
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
    limiters: StoreLimiters,
    setup_token: Option<Arc<SecretString>>,
}

impl AppState {
    /// The state for a database and the hub's settings (store clients for API-triggered syncs
    /// are built from them): the system clock, [`AuthPolicy::default`], default sync options,
    /// and `Secure` cookies (see [`AppState::with_secure_cookies`]).
    pub fn new(storage: Storage, settings: Settings) -> Self {
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
            limiters: StoreLimiters::default(),
            setup_token: None,
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
    /// [`cookies_must_be_secure`] with the listen address.
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

    /// Shares the per-store rate limiters with the rest of the process, so a triggered sync
    /// paces itself with the scheduler's, the webhook worker's and the outbox worker's requests
    /// to the same store (DESIGN-NOTES note 3; `serve` does this).
    pub fn with_limiters(mut self, limiters: StoreLimiters) -> Self {
        self.limiters = limiters;
        self
    }

    /// The per-store rate limiters the process's BigCommerce clients share.
    pub fn limiters(&self) -> &StoreLimiters {
        &self.limiters
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

    /// The syncs this process started through the API.
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

/// Whether cookies must be `Secure` for a server on `listen`: always, unless it serves plain
/// HTTP on a loopback address (development on one machine, where browsers and tools would
/// otherwise drop the cookie). Behind a TLS-terminating proxy the hub listens on a non-loopback
/// address or the proxy's loopback one with `tls = true` meaning "the public side is HTTPS".
pub fn cookies_must_be_secure(listen: SocketAddr, tls: bool) -> bool {
    tls || !listen.ip().is_loopback()
}

/// The API, sign-in, health and metrics routes, with their state.
pub fn router(state: AppState) -> Router {
    let (routes, openapi) = api::openapi_router().split_for_parts();
    let document =
        Arc::new(serde_json::to_string_pretty(&openapi).expect("the OpenAPI document serialises"));
    routes
        .route("/api/v1/{*rest}", any(api::unknown_route))
        .layer(axum::Extension(api::OpenApiJson(document)))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_and_shape_responses,
        ))
        .with_state(state)
}

/// The OpenAPI document [`router`] serves, as a value (tests and tools).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api::openapi_router().split_for_parts().1
}

/// The surface of one of this router's route templates: the API under `/api/v1/`, the
/// operational routes, and sign-in and sign-out, which belong to the dashboard.
fn surface_of(route: &str) -> Surface {
    match route {
        "/healthz" | "/readyz" | "/metrics" => Surface::Ops,
        "/login" | "/logout" => Surface::Dashboard,
        _ => Surface::Api,
    }
}

/// Counts every answer by route template and status, logs it (debug), adds `nosniff`, and
/// turns the router's bare 405 into the JSON envelope.
async fn count_and_shape_responses(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        let allow = response.headers().get(header::ALLOW).cloned();
        response = ApiError::new(
            ErrorCode::MethodNotAllowed,
            "this route does not take this method; see /api/v1/openapi.json",
        )
        .into_response();
        if let Some(allow) = allow {
            response.headers_mut().insert(header::ALLOW, allow);
        }
    }
    // API answers are about one caller's data: never cached by shared caches.
    if route.starts_with("/api/v1/") && !response.headers().contains_key(header::CACHE_CONTROL) {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let status = response.status().as_u16();
    state
        .metrics
        .record_request(surface_of(&route), &route, status);
    // Failures are logged where they are handled (a 500's cause in `ApiError::internal`);
    // this is the access log, at debug.
    tracing::debug!(
        http.method = %method,
        http.route = %route,
        http.status = status,
        duration_ms = started.elapsed().as_millis() as u64,
        "HTTP request"
    );
    response
}
