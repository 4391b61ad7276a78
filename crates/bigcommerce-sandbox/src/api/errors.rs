//! BigCommerce's error bodies: v2 answers a bare array `[{"status", "message"}]`, v3 an object
//! `{"status", "title", "type", "errors"}`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Map, Value};

/// Which API family a path belongs to; it decides the shape of error bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    V2,
    V3,
}

impl ApiVersion {
    /// `/stores/{hash}/v3/...` is v3; everything else answers like v2.
    pub fn of_path(path: &str) -> ApiVersion {
        if path.split('/').nth(3) == Some("v3") {
            ApiVersion::V3
        } else {
            ApiVersion::V2
        }
    }
}

/// The `type` link v3 error bodies carry.
pub const STATUS_CODES_DOC: &str =
    "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes";

/// An error in the version's shape.
pub fn error(version: ApiVersion, status: StatusCode, message: &str) -> Response {
    match version {
        ApiVersion::V2 => v2_error(status, message, None),
        ApiVersion::V3 => v3_error(status, message, Map::new()),
    }
}

/// A v2 error body: `[{"status": 400, "message": "...", "details": {...}}]`.
pub fn v2_error(status: StatusCode, message: &str, details: Option<Value>) -> Response {
    let mut entry = json!({"status": status.as_u16(), "message": message});
    if let Some(details) = details {
        entry["details"] = details;
    }
    super::json(status, &json!([entry]))
}

/// A v3 error body: `{"status": 422, "title": "...", "type": "...", "errors": {...}}`.
pub fn v3_error(status: StatusCode, title: &str, errors: Map<String, Value>) -> Response {
    super::json(
        status,
        &json!({
            "status": status.as_u16(),
            "title": title,
            "type": STATUS_CODES_DOC,
            "errors": errors,
        }),
    )
}
