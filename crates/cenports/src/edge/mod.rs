//! # What both HTTP surfaces share
//!
//! The hub answers HTTP through two surfaces that do not import each other: [`crate::http`]
//! (the JSON API under `/api/v1` and the operational routes) and [`crate::web`] (the
//! dashboard's pages, and signing in and out, which scripts also do with JSON). What both need
//! is here, beside the services they both call ([`crate::service`]):
//!
//! - [`auth`]: who is calling: the [`auth::Principal`] of an API key or a session cookie, the
//!   session cookie, and the CSRF check of cookie-authenticated writes;
//! - [`error`]: the one JSON error envelope, `{"error": {"code", "message"}}`
//!   ([`error::ApiError`]), which the API answers with and sign-in and sign-out answer scripts
//!   with;
//! - what every route that speaks JSON does to its answers ([`method_not_allowed_as_json`],
//!   [`log_access`]).

pub mod auth;
pub mod error;

use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use error::{ApiError, ErrorCode};

/// Turns the router's bare 405 (a route that exists, called with another method) into the
/// JSON envelope, keeping its `Allow` header.
pub fn method_not_allowed_as_json(response: Response) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut response = ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not take this method; see /api/v1/openapi.json",
    )
    .into_response();
    if let Some(allow) = allow {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    response
}

/// Turns an error the framework answered in plain text (an extractor's rejection: a body over
/// the limit, a wrong content type, a form that does not deserialise) into the JSON envelope,
/// so every error of the API is its envelope. Answers that already have our shape pass.
pub fn plain_errors_as_json(response: Response) -> Response {
    if !is_plain_error(&response) {
        return response;
    }
    let error = match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as JSON with Content-Type: application/json",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::new(
            ErrorCode::ValidationFailed,
            "the body could not be read as this operation's fields; see /api/v1/openapi.json",
        ),
        status if status.is_server_error() => ApiError::new(
            ErrorCode::InternalError,
            "something failed on our side; try again later",
        ),
        _ => ApiError::new(
            ErrorCode::InvalidJson,
            "the request could not be read; see /api/v1/openapi.json",
        ),
    };
    error.into_response()
}

/// Whether `response` is an error the framework wrote as plain text (ours are JSON or HTML).
pub fn is_plain_error(response: &Response) -> bool {
    (response.status().is_client_error() || response.status().is_server_error())
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain"))
}

/// The access log of one answered request, at debug. Failures are logged where they are
/// handled (a 500's cause in [`ApiError::internal`]); this only says what was answered.
pub fn log_access(method: &Method, route: &str, status: u16, started: std::time::Instant) {
    tracing::debug!(
        http.method = %method,
        http.route = %route,
        http.status = status,
        duration_ms = started.elapsed().as_millis() as u64,
        "HTTP request"
    );
}
