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

use crate::metrics::Surface;
use crate::service::AppState;
pub use error::{ApiError, ErrorCode};

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
        .metrics()
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
