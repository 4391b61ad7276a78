//! # The dashboard: server-rendered HTML pages
//!
//! [`router`] serves the merchant's and operator's pages: `/` (to `/stores`), `/connect`,
//! `/stores`, `/stores/{id}` (with retry, disconnect), `/stores/{id}/orders`,
//! `/stores/{id}/orders/{order}` (with "record a shipment"), `/stores/{id}/stock`, `/events`
//! (event subscriptions, the secret shown once, deliveries with a resend), the one
//! stylesheet and script, and signing in and out: `/login` (the sign-in page, and sign-in with
//! the form or JSON) and `/logout` (`web/login.rs`; scripts call these too, so [`openapi`]
//! documents them for the API's OpenAPI document).
//!
//! - **HTML** is written with `maud` (compile-time templates, every interpolation escaped).
//!   One small CSS file and one small script (`live.js`: regions marked `data-live` are read
//!   again every few seconds and swapped in place); every page works without it. Forms work
//!   with a keyboard and on a phone.
//! - **Who**: a page needs the session cookie of `POST /login` ([`WebUser`]); without a valid
//!   one it redirects to `/login`. API keys are for scripts and do not open pages.
//! - **Tenancy**: pages read and write through the same services as `/api/v1`
//!   ([`crate::service`]), whose tenancy check makes another tenant's store or order the same
//!   404.
//! - **CSRF**: every form that changes something carries the session's synchronizer token in a
//!   hidden `csrf_token` field, compared in constant time before anything else is read or
//!   written; a missing or wrong token is a 403 page.
//!
//! Design notes: `docs/DASHBOARD.md`.

mod connect;
mod events;
mod login;
mod orders;
mod setup;
mod stores;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};

use crate::accounts::{self, AuthError};
use crate::edge::auth::{self, Principal, SESSION_COOKIE};
use crate::metrics::Surface;
use crate::service::{AppState, ServiceError};
use crate::storage::{StorageError, StoreAccess, UserId};

/// Where the stylesheet is served.
pub const STYLESHEET_PATH: &str = "/static/dashboard.css";
/// Where the one script (live refresh of regions marked `data-live`) is served.
pub const SCRIPT_PATH: &str = "/static/live.js";
/// The hidden form field holding the session's CSRF token.
pub const CSRF_FIELD: &str = "csrf_token";
/// The pages' Content-Security-Policy: our own stylesheet and script (no inline ones), fetches
/// only to us (live refresh), no frames, forms post only to us.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
     script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'";

const STYLESHEET: &str = include_str!("dashboard.css");
const SCRIPT: &str = include_str!("live.js");

/// The dashboard's routes, sign-in and sign-out included, with their state.
/// [`crate::server::router`] merges it with the API's ([`crate::http::router`]).
pub fn router(state: AppState) -> Router {
    let (sign_in, _) = login::routes().split_for_parts();
    let sign_in = sign_in.layer(middleware::from_fn(login::shape_responses));
    let pages = Router::new()
        .route("/", get(|| async { Redirect::to("/stores") }))
        .route(STYLESHEET_PATH, get(get_stylesheet))
        .route(SCRIPT_PATH, get(get_script))
        .route(
            "/connect",
            get(connect::show_connect).post(connect::create_connection),
        )
        .route(
            "/setup",
            get(setup::show_setup).post(setup::create_operator),
        )
        .route("/stores", get(stores::list_stores))
        .route("/stores/{store_id}", get(stores::show_store))
        .route("/stores/{store_id}/sync", post(stores::trigger_sync))
        .route(
            "/stores/{store_id}/outbox/{row_id}/retry",
            post(stores::retry_outbox_row),
        )
        .route(
            "/stores/{store_id}/disconnect",
            post(stores::disconnect_store),
        )
        .route("/stores/{store_id}/orders", get(orders::list_orders))
        .route(
            "/stores/{store_id}/orders/{order_id}",
            get(orders::show_order),
        )
        .route(
            "/stores/{store_id}/orders/{order_id}/shipments",
            post(orders::create_shipment),
        )
        .route(
            "/stores/{store_id}/export/orders.csv",
            get(orders::export_orders),
        )
        .route("/stores/{store_id}/pick-list", get(orders::pick_list))
        .route(
            "/stores/{store_id}/orders/{order_id}/packing-slip",
            get(orders::packing_slip),
        )
        .route(
            "/stores/{store_id}/shipments/import",
            post(orders::import_shipments),
        )
        .route("/stores/{store_id}/stock", get(stores::show_stock))
        .route("/events", get(events::show_events))
        .route("/events/subscriptions", post(events::create_subscription))
        .route(
            "/events/subscriptions/{subscription_id}",
            get(events::show_subscription),
        )
        .route(
            "/events/subscriptions/{subscription_id}/remove",
            post(events::remove_subscription),
        )
        .route(
            "/events/deliveries/{delivery_id}/resend",
            post(events::resend_delivery),
        )
        .layer(middleware::map_response(plain_errors_as_pages))
        .layer(middleware::from_fn(page_headers));
    // Merged in this order, the pages' fallback (with the pages' headers) stays the router's.
    sign_in
        .merge(pages)
        .layer(middleware::from_fn_with_state(state.clone(), count_pages))
        .with_state(state)
}

/// The OpenAPI document of the dashboard's routes that scripts call: `/login` and `/logout`
/// (the API's document includes it: [`crate::server::openapi`]).
pub fn openapi() -> utoipa::openapi::OpenApi {
    login::routes().split_for_parts().1
}

/// Counts every page answered in `/metrics` (`surface="dashboard"`) under its route template
/// (`/stores/{store_id}/orders`, never the path with its ids), as the API router counts its
/// own requests.
async fn count_pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    state
        .metrics()
        .record_request(Surface::Dashboard, &route, response.status().as_u16());
    response
}

/// An error the framework answered in plain text (a form over the body limit, not sent as a
/// form, or with a field missing or repeated) as a page saying what to do: every error of the
/// dashboard is a page.
async fn plain_errors_as_pages(response: Response) -> Response {
    if !crate::edge::is_plain_error(&response) {
        return response;
    }
    let status = response.status();
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            "What was sent is too large for this form. Shorten it and submit the form again."
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::UNPROCESSABLE_ENTITY => {
            "This form could not be read: it did not come from a Cenports page as it is now. \
             Go back, reload the page and submit it again."
        }
        _ if status.is_server_error() => "Something failed on our side. Try again in a moment.",
        _ => "This request could not be read. Go back, reload the page and try again.",
    };
    PageError::new(status, message).into_response()
}

/// Pages are one user's data (never cached), framed by nobody, and only load our stylesheet.
async fn page_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

async fn get_stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

async fn get_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
        .into_response()
}

// ------------------------------------------------------------------ who is asking

/// A signed-in person: the session cookie's account and the session's CSRF token (written
/// into every form). Without a valid session the rejection redirects to `/login`.
pub struct WebUser {
    principal: Principal,
    csrf_token: String,
}

impl WebUser {
    /// The account's email.
    pub fn email(&self) -> &str {
        &self.principal.account.user.email
    }

    /// The account's id (whose subscriptions a form makes).
    pub fn user_id(&self) -> UserId {
        self.principal.account.user.id
    }

    /// Whether this is an operator (sees every store).
    pub fn is_operator(&self) -> bool {
        self.principal.account.role == accounts::Role::Operator
    }

    /// The stores this person reaches (what the services take).
    pub fn access(&self) -> StoreAccess {
        self.principal.access()
    }

    /// Checks a form's CSRF token against the session's, in constant time.
    pub fn check_csrf(&self, given: Option<&str>) -> Result<(), PageError> {
        if auth::csrf_matches(given, &self.csrf_token) {
            return Ok(());
        }
        Err(PageError::new(
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from Cenports. Go back, reload the page and \
             submit it again.",
        ))
    }

    /// The hidden field every POST form carries.
    pub fn csrf_input(&self) -> Markup {
        html! { input type="hidden" name=(CSRF_FIELD) value=(self.csrf_token); }
    }
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = auth::cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(Redirect::to("/login").into_response());
        };
        match auth::authenticate_session(state, &token).await {
            Ok((principal, csrf_token)) => Ok(WebUser {
                principal,
                csrf_token,
            }),
            Err(AuthError::Storage(e)) => Err(PageError::from(e).into_response()),
            Err(_) => Err(Redirect::to("/login").into_response()),
        }
    }
}

// ------------------------------------------------------------------ errors

/// An error page: a status and a sentence saying what to do. A 500's cause is logged where
/// it was turned into a page error ([`PageError::internal`]) and not shown.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    message: String,
}

impl PageError {
    /// A page with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        PageError {
            status,
            message: message.into(),
        }
    }

    /// The 404 of a store or order that does not exist or is not the caller's.
    pub fn not_found() -> Self {
        PageError::new(
            StatusCode::NOT_FOUND,
            "There is no such page among your stores. Pick a store from the list.",
        )
    }

    /// The 500 page of a failure on our side: the cause is logged here, once, and not shown.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %crate::sync::error_chain(cause), "HTTP request failed");
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "something went wrong on our side; it has been logged, try again later",
        )
    }
}

/// A service's error as a page: another tenant's store, order or shipment is the same 404 page
/// as one that does not exist; other 4xx show the service's message under the status the API
/// gives the same error; a database failure is the 500 page.
impl From<ServiceError> for PageError {
    fn from(error: ServiceError) -> Self {
        let status = match &error {
            ServiceError::StoreNotFound
            | ServiceError::OrderNotFound
            | ServiceError::ShipmentNotFound
            | ServiceError::SubscriptionNotFound
            | ServiceError::DeliveryNotFound => return PageError::not_found(),
            ServiceError::Storage(cause) => return PageError::internal(cause),
            ServiceError::Fulfilment(cause) => return PageError::internal(cause),
            ServiceError::Channel(cause) => return PageError::internal(cause),
            ServiceError::Tracking(problem) => {
                return PageError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    problem.describe("The tracking number", "The tracking link"),
                )
            }
            ServiceError::InvalidQuery(_)
            | ServiceError::IdempotencyKeyRequired
            | ServiceError::IdempotencyKeyInvalid => StatusCode::BAD_REQUEST,
            ServiceError::Invalid(_)
            | ServiceError::ShipmentRejected(_)
            | ServiceError::BatchRefused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ServiceError::StoreDisconnected
            | ServiceError::IdempotencyKeyReused
            | ServiceError::ShipmentDelivered => StatusCode::CONFLICT,
        };
        PageError::new(status, error.to_string())
    }
}

/// A storage call of a page's own: a missing store, order or shipment is the 404 page,
/// anything else the 500 page.
impl From<StorageError> for PageError {
    fn from(error: StorageError) -> Self {
        PageError::from(ServiceError::from(error))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = match self.status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Not allowed",
            s if s.is_server_error() => "Something went wrong",
            _ => "That did not work",
        };
        let body = layout(
            title,
            None,
            html! {
                p.error role="alert" { (self.message) }
                p { a href="/stores" { "Back to your stores" } }
            },
        );
        (self.status, body).into_response()
    }
}

/// A path id: a positive integer, else the 404 page (as for an id that does not exist).
pub fn path_id(text: &str) -> Result<i64, PageError> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(PageError::not_found)
}

// ------------------------------------------------------------------ layout

/// The frame of every page: navigation (with sign-out when signed in), a skip link, the
/// title as the one `h1`, and the content.
pub fn layout(title: &str, user: Option<&WebUser>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Cenports" }
                link rel="stylesheet" href=(STYLESHEET_PATH);
                script src=(SCRIPT_PATH) defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    nav aria-label="Main" {
                        a.brand href="/stores" { "Cenports" }
                        @if let Some(user) = user {
                            a href="/stores" { "Stores" }
                            a href="/events" { "Events" }
                            a href="/connect" { "Connect a store" }
                            span.who {
                                (user.email())
                                @if user.is_operator() { " (operator)" }
                            }
                            form.inline method="post" action="/logout" {
                                (user.csrf_input())
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (content)
                }
            }
        }
    }
}

/// A message with its first letter in upper case (errors are written lower-case, to be put
/// after a colon; a page shows them as sentences).
pub(crate) fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A time as `2026-11-26 17:50 UTC`, or a dash.
pub fn when(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "—".to_owned(),
        |at| at.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// A duration as `42 s`, `17 min`, `3 h`, `2 d`.
pub fn ago(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}
