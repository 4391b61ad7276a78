//! Amazon's error bodies. Every emulated SP-API answers `{"errors": [{"code", "message",
//! "details"}]}` (the `ErrorList` of the Orders, Tokens and Listings models); Login with Amazon
//! answers OAuth's `{"error", "error_description"}`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

/// `details` of a 403 for a token that is not one the sandbox issued.
pub const TOKEN_INVALID: &str = "The access token you provided is revoked, malformed or invalid.";
/// `details` of a 403 for an expired token.
pub const TOKEN_EXPIRED: &str = "The access token you provided has expired.";

/// An SP-API error.
pub fn error(status: StatusCode, code: &str, message: &str, details: &str) -> Response {
    super::json(
        status,
        &json!({"errors": [{"code": code, "message": message, "details": details}]}),
    )
}

/// 403 `Unauthorized`: no token, a bad or expired one, or an app without the role.
pub fn unauthorized(details: &str) -> Response {
    error(
        StatusCode::FORBIDDEN,
        "Unauthorized",
        "Access to requested resource is denied.",
        details,
    )
}

/// 400 `InvalidInput`.
pub fn invalid_input(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "InvalidInput", message, "")
}

/// 404 `NotFound`.
pub fn not_found(message: &str) -> Response {
    error(StatusCode::NOT_FOUND, "NotFound", message, "")
}

/// 429 `QuotaExceeded`.
pub fn quota_exceeded() -> Response {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "QuotaExceeded",
        "You exceeded your quota for the requested resource.",
        "",
    )
}

/// 500 `InternalFailure`.
pub fn internal_failure() -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalFailure",
        "We encountered an internal error. Please try again.",
        "",
    )
}

/// 503 `ServiceUnavailable`.
pub fn service_unavailable() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        "Service is temporarily unavailable. Please try again.",
        "",
    )
}

/// An LWA (OAuth 2) error.
pub fn lwa(status: StatusCode, error: &str, description: &str) -> Response {
    super::json(
        status,
        &json!({"error": error, "error_description": description}),
    )
}
