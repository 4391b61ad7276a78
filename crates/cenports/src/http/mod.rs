//! # The hub's JSON API (without HTML pages)
//!
//! [`router`] returns one `axum::Router` with:
//!
//! - `/api/v1/...`: the JSON API ([`api`]): stores, sync status and triggers, orders,
//!   shipments, stock, errors, `me`; its OpenAPI document at `/api/v1/openapi.json`, generated
//!   from the handlers (`utoipa`), and a page to browse it at `/api/v1/docs`;
//! - `/healthz` (the process answers), `/readyz` (the database answers), `/metrics`
//!   (Prometheus text, [`crate::metrics`]).
//!
//! The handlers read and write through the service layer ([`crate::service`]), which the
//! dashboard ([`crate::web`]) calls too; who is calling is [`crate::edge::auth`]. Signing in
//! and out (`/login`, `/logout`) is the dashboard's, though scripts call it too and the
//! OpenAPI document lists it: [`crate::server::router`] merges both surfaces and serves
//! [`crate::server::openapi`], the document of both. The router sets no fallback (two merged
//! routers may not both have one); unknown paths under `/api/v1/` get the JSON 404 of a
//! catch-all route. It is served with `into_make_service_with_connect_info::<SocketAddr>()`
//! so that login throttling sees the client's address.
//!
//! Every error is the envelope of [`crate::edge::error`]: `{"error": {"code", "message"}}`;
//! [`error`] maps the services' errors onto it. Design notes and the list of codes:
//! `docs/API.md`.

pub mod api;
pub mod error;

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::any;
use axum::Router;

use crate::edge;
use crate::metrics::Surface;
use crate::service::AppState;

/// The API, health and metrics routes, with their state, serving `document` at
/// `/api/v1/openapi.json`: the hub's whole document ([`crate::server::openapi`]: these routes'
/// and the dashboard's sign-in routes').
pub fn router(state: AppState, document: &utoipa::openapi::OpenApi) -> Router {
    let (routes, _) = api::openapi_router().split_for_parts();
    let document =
        Arc::new(serde_json::to_string_pretty(document).expect("the OpenAPI document serialises"));
    routes
        .route("/api/v1/{*rest}", any(api::unknown_route))
        .layer(axum::Extension(api::OpenApiJson(document)))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_and_shape_responses,
        ))
        .with_state(state)
}

/// The OpenAPI document of the routes [`router`] serves, as a value (tests and tools use
/// [`crate::server::openapi`], which adds the dashboard's sign-in routes).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api::openapi_router().split_for_parts().1
}

/// The surface of one of this router's route templates: the API under `/api/v1/`, or the
/// operational routes.
fn surface_of(route: &str) -> Surface {
    match route {
        "/healthz" | "/readyz" | "/metrics" => Surface::Ops,
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
    let mut response =
        edge::plain_errors_as_json(edge::method_not_allowed_as_json(next.run(request).await));
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
    edge::log_access(&method, &route, status, started);
    response
}
