//! `/api/v1`: the JSON API, and the operational routes, registered together with their OpenAPI
//! documentation ([`openapi_router`]: `utoipa-axum` adds a route and its `#[utoipa::path]` in
//! one call, so the served routes and the document cannot drift apart).
//!
//! Tenancy: every handler under `/api/v1/stores/{store_id}` calls a service
//! ([`crate::service`]) with the caller's store access and the path's store id; the service
//! first turns them into a [`crate::storage::StoreScope`]
//! ([`crate::service::stores::scope_for`]: owner checked in SQL for merchants), and reads and
//! writes only through that scope. Another tenant's store, and any id under it, is the same 404
//! as an id that never existed.

pub mod events;
pub mod orders;
pub mod shipments;
pub mod stock;
pub mod stores;
pub mod sync;

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::edge::auth::{self, Principal, UserView};
use crate::edge::error::{ApiError, ErrorBody, ErrorCode};
use crate::service::AppState;

/// A path extractor whose rejection is the JSON envelope.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// A query extractor whose rejection is the JSON envelope.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// A JSON body extractor whose rejection is the JSON envelope.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// Deserialises an integer that a client may have written as `12` or `12.0` (JSON has one
/// number type and JSON Schema calls `12.0` an integer); `12.5` and out-of-range values are
/// refused.
pub fn integral<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    let number = serde_json::Number::deserialize(deserializer)?;
    let whole = match (number.as_i64(), number.as_f64()) {
        (Some(n), _) => Some(n),
        (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
        _ => None,
    };
    whole
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| serde::de::Error::custom(format!("{number} is not a whole number in range")))
}

/// [`integral`] for an optional field.
pub fn integral_opt<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    #[derive(Deserialize)]
    struct Wrap<T: TryFrom<i64>>(#[serde(deserialize_with = "integral")] T);
    Ok(Option::<Wrap<T>>::deserialize(deserializer)?.map(|Wrap(n)| n))
}

/// The served OpenAPI document, serialised once when the router is built.
#[derive(Clone)]
pub struct OpenApiJson(pub Arc<String>);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cenports API",
        version = "1",
        description = "The Cenports hub: stores, orders, shipments and stock of the stores a \
                       caller may see. Authenticate with `Authorization: Bearer cpk_…` (an API \
                       key from `cenports api-key create`) or the session cookie from \
                       `POST /login` (then send `X-CSRF-Token` on every POST and PUT). Errors \
                       are `{\"error\": {\"code\", \"message\"}}` with stable codes."
    ),
    modifiers(&SecuritySchemes),
    components(schemas(ErrorBody, ErrorCode)),
    tags(
        (name = "stores", description = "Connected stores and their sync"),
        (name = "orders", description = "Imported orders"),
        (name = "shipments", description = "Shipments written back through the outbox"),
        (name = "stock", description = "On hand per SKU"),
        (name = "events", description = "Events for the warehouse's systems: subscriptions, deliveries and the feed"),
        (name = "auth", description = "Sessions and the caller"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    ),
    security(("api_key" = []), ("session" = []))
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("cpk_…")
                    .description(Some("An API key: `cenports api-key create --email E`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                auth::SESSION_COOKIE,
                "The session cookie from POST /login; writes also need X-CSRF-Token",
            ))),
        );
    }
}

/// Every documented route of the API, with its documentation (the document's frame: its info,
/// tags, security schemes and error schemas, are here too; the dashboard's sign-in routes are
/// added by [`crate::server::openapi`]).
pub fn openapi_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(stores::list_stores))
        .routes(routes!(stores::get_store))
        .routes(routes!(sync::get_sync_status, sync::trigger_sync))
        .routes(routes!(stores::list_errors))
        .routes(routes!(orders::list_orders))
        .routes(routes!(orders::get_order))
        .routes(routes!(orders::export_orders))
        .routes(routes!(orders::pick_list))
        .routes(routes!(shipments::create_shipment))
        .routes(routes!(shipments::list_shipments))
        .routes(routes!(shipments::get_shipment))
        .routes(routes!(shipments::retry_shipment))
        .routes(routes!(shipments::import_shipments))
        .routes(routes!(stock::list_stock, stock::set_stock))
        .routes(routes!(
            events::list_subscriptions,
            events::create_subscription
        ))
        .routes(routes!(
            events::get_subscription,
            events::remove_subscription
        ))
        .routes(routes!(events::list_deliveries))
        .routes(routes!(events::resend_delivery))
        .routes(routes!(events::event_feed))
        .routes(routes!(get_me))
        .routes(routes!(get_openapi))
        .routes(routes!(get_docs))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(get_metrics))
}

/// The JSON 404 of an unknown route under `/api/v1/`.
pub async fn unknown_route() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "no such route; the routes are listed in /api/v1/openapi.json",
    )
}

/// The caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// Who.
    pub user: UserView,
    /// `api_key` or `session`.
    #[schema(example = "api_key")]
    pub authenticated_with: String,
}

/// Who is calling, and how they authenticated.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "auth",
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    )
)]
pub async fn get_me(principal: Principal) -> Json<Me> {
    Json(Me {
        user: UserView::from(&principal.account),
        authenticated_with: match principal.method {
            auth::AuthMethod::ApiKey => "api_key".into(),
            auth::AuthMethod::Session { .. } => "session".into(),
        },
    })
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json", body = Object)),
    security(())
)]
pub async fn get_openapi(Extension(OpenApiJson(document)): Extension<OpenApiJson>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document.as_str().to_owned(),
    )
        .into_response()
}

/// A page to browse this document (self-contained: it loads nothing from elsewhere).
#[utoipa::path(
    get,
    path = "/api/v1/docs",
    tag = "operations",
    responses((status = 200, description = "The API reference as a page", content_type = "text/html", body = String)),
    security(())
)]
pub async fn get_docs() -> Response {
    let mut response = Html(DOCS_PAGE).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    response
}

const DOCS_PAGE: &str = include_str!("docs.html");

/// Liveness.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// The process answers (it does not look at the database).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "Alive", body = Health)),
    security(())
)]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// The database answers: the hub can serve requests.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "The database does not answer (`unavailable`)", body = ErrorBody),
    ),
    security(())
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    match state.storage().ping().await {
        Ok(()) => Ok(Json(Health {
            status: "ok".into(),
        })),
        Err(error) => {
            tracing::warn!(error = %error, "readiness: the database does not answer");
            Err(ApiError::new(
                ErrorCode::Unavailable,
                "the database does not answer; check the database server and \
                 CENPORTS_DATABASE_URL",
            ))
        }
    }
}

/// Metrics in the Prometheus text format (see `docs/API.md` for the list).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition 0.0.4", content_type = "text/plain", body = String),
        (status = 500, description = "The database failed", body = ErrorBody),
    ),
    security(())
)]
pub async fn get_metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let figures = state.storage().store_figures().await?;
    // The freshest quota figure of each store is its shared limiter's, which every client of
    // the process (syncs, webhook fetches, outbox writes) updates.
    for f in &figures {
        if let Some(left) = state.channels().requests_left(f.store_id).await {
            state.metrics().record_quota_left(f.store_id, left);
        }
    }
    let fleet = state
        .storage()
        .fleet_processes(state.settings().lease_period)
        .await?;
    let deliveries = state.storage().delivery_counts().await?;
    let text = state
        .metrics()
        .render(&figures, &fleet, &deliveries, state.clock().now());
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}
