//! The client's one error type.
//!
//! Every variant carries the HTTP method and the endpoint path (`/v2/orders/100`, never the
//! host, the query string or the token) and its message says what the user should do.

use std::fmt;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One message from an error body, with the field it concerns when BigCommerce names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field (v3 `errors` key), if any.
    pub field: Option<String>,
    /// The message as BigCommerce wrote it.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Errors returned by [`crate::Client`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot be used (bad URL, empty store hash, unusable header value).
    #[error("invalid BigCommerce client configuration: {field}: {message}")]
    Config {
        /// The offending `ClientConfig` field.
        field: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// 401: the token is unknown, revoked or belongs to another store.
    #[error(
        "{method} {endpoint}: the access token was rejected (401); check the Access Token and \
         store hash, or create a new API account"
    )]
    Unauthorized {
        /// HTTP method.
        method: Method,
        /// Endpoint path.
        endpoint: String,
    },

    /// 403: the token is valid but its API account lacks a scope this endpoint needs.
    #[error(
        "{method} {endpoint}: the access token lacks {scope}; edit the API account in BigCommerce \
         and reconnect"
    )]
    MissingScope {
        /// HTTP method.
        method: Method,
        /// Endpoint path.
        endpoint: String,
        /// The scope in BigCommerce's UI words and parameter name,
        /// e.g. `Orders: Modify (store_v2_orders)`.
        scope: String,
    },

    /// 404: the resource does not exist (deleted, wrong id, or wrong store hash).
    #[error(
        "{method} {endpoint}: not found (404){}; check the id and the store hash",
        message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
    )]
    NotFound {
        /// HTTP method.
        method: Method,
        /// Endpoint path.
        endpoint: String,
        /// BigCommerce's message, if the body had one.
        message: Option<String>,
    },

    /// 400, 409, 413 or 422: BigCommerce rejected the request's data.
    #[error(
        "{method} {endpoint}: BigCommerce rejected the request ({status}){}{}; fix the data and \
         send it again",
        title.as_deref().map(|t| format!(": {t}")).unwrap_or_default(),
        render_field_errors(errors)
    )]
    Validation {
        /// HTTP method.
        method: Method,
        /// Endpoint path.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// The v3 `title`, if any.
        title: Option<String>,
        /// Field messages (v3 `errors` object, v2 array of messages).
        errors: Vec<FieldError>,
    },

    /// A request was refused before sending because it breaks a documented API limit.
    #[error("{method} {endpoint}: {message}")]
    InvalidRequest {
        /// HTTP method.
        method: Method,
        /// Endpoint path.
        endpoint: String,
        /// What limit was broken and how to fix the call.
        message: String,
    },

    /// 429 on every attempt: the store's quota stayed exhausted.
    #[error(
        "{method} {endpoint}: rate limited by BigCommerce (429) after {attempts} attempts; the \
         store's API quota is shared with other apps, try again later or lower the quota share"
    )]
    RateLimited {
        /// HTTP method.
        method: Method,
        /// Endpoint path.
        endpoint: String,
        /// Attempts made.
        attempts: u32,
        /// The last `X-Rate-Limit-Time-Reset-Ms`, if sent.
        reset_after: Option<Duration>,
    },

    /// 5xx on every attempt (or a non-retryable 5xx such as 507).
    #[error(
        "{method} {endpoint}: BigCommerce answered {status} after {attempts} attempts; check \
         https://status.bigcommerce.com and try again later"
    )]
    Server {
        /// HTTP method.
        method: Method,
        /// Endpoint path.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// Attempts made.
        attempts: u32,
    },

    /// Any other unexpected status (405, 406, 415, 3xx...): a client bug or a proxy in the way.
    #[error(
        "{method} {endpoint}: unexpected HTTP status {status}{}; check api_base_url and that \
         this endpoint supports {method}",
        message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
    )]
    UnexpectedStatus {
        /// HTTP method.
        method: Method,
        /// Endpoint path.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// BigCommerce's message, if the body had one.
        message: Option<String>,
    },

    /// The connection failed on every attempt.
    #[error(
        "{method} {endpoint}: could not reach BigCommerce after {attempts} attempts; check the \
         network and api_base_url"
    )]
    Transport {
        /// HTTP method.
        method: Method,
        /// Endpoint path.
        endpoint: String,
        /// Attempts made.
        attempts: u32,
        /// The underlying error (never contains the token).
        #[source]
        source: reqwest::Error,
    },

    /// No answer within the configured timeout on every attempt.
    #[error(
        "{method} {endpoint}: no answer within {timeout:?} after {attempts} attempts; \
         BigCommerce may be slow, try again later or raise the timeout"
    )]
    Timeout {
        /// HTTP method.
        method: Method,
        /// Endpoint path.
        endpoint: String,
        /// Attempts made.
        attempts: u32,
        /// The per-attempt timeout.
        timeout: Duration,
    },

    /// A non-idempotent request (POST) failed in a way that leaves its effect unknown: it may
    /// or may not have been applied. It is never retried blindly.
    #[error(
        "{method} {endpoint}: the request may or may not have been applied ({reason}); read the \
         resource back before sending it again"
    )]
    OutcomeUnknown {
        /// HTTP method.
        method: Method,
        /// Endpoint path.
        endpoint: String,
        /// What happened (timeout, connection reset, status 502...).
        reason: String,
    },

    /// The response body could not be read or decoded into the expected type.
    #[error(
        "{method} {endpoint}: could not decode the response ({message}); BigCommerce returned \
         an unexpected body, retry later or report it"
    )]
    Decode {
        /// HTTP method.
        method: Method,
        /// Endpoint path.
        endpoint: String,
        /// What could not be decoded.
        message: String,
    },
}

impl Error {
    /// The endpoint path the error concerns, if any.
    pub fn endpoint(&self) -> Option<&str> {
        match self {
            Error::Config { .. } => None,
            Error::Unauthorized { endpoint, .. }
            | Error::MissingScope { endpoint, .. }
            | Error::NotFound { endpoint, .. }
            | Error::Validation { endpoint, .. }
            | Error::InvalidRequest { endpoint, .. }
            | Error::RateLimited { endpoint, .. }
            | Error::Server { endpoint, .. }
            | Error::UnexpectedStatus { endpoint, .. }
            | Error::Transport { endpoint, .. }
            | Error::Timeout { endpoint, .. }
            | Error::OutcomeUnknown { endpoint, .. }
            | Error::Decode { endpoint, .. } => Some(endpoint),
        }
    }

    /// Whether trying again later may succeed (rate limits, outages, timeouts). Callers use
    /// this to decide between a retry schedule and giving up; `OutcomeUnknown` is not
    /// retryable as such, because the request must be read back first.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::RateLimited { .. }
                | Error::Server { .. }
                | Error::Transport { .. }
                | Error::Timeout { .. }
                | Error::Decode { .. }
        )
    }
}

fn render_field_errors(errors: &[FieldError]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let joined: Vec<String> = errors.iter().map(ToString::to_string).collect();
    format!(" [{}]", joined.join("; "))
}

/// The parts of an error body the client understands, from either API generation.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ErrorBody {
    /// v3 `title`, or the first v2 message.
    pub title: Option<String>,
    /// Field messages.
    pub errors: Vec<FieldError>,
}

impl ErrorBody {
    /// One line describing the error: the title, else the first message.
    pub fn summary(&self) -> Option<String> {
        self.title
            .clone()
            .or_else(|| self.errors.first().map(|e| e.message.clone()))
    }
}

/// Parses an error body.
///
/// v3 sends `{"status": 422, "title": "...", "type": "...", "errors": {"field": "message"}}`;
/// v2 sends `[{"status": 400, "message": "...", "details": {...}}]`. Anything else (HTML from a
/// proxy, empty body) gives an empty [`ErrorBody`].
pub fn parse_error_body(body: &[u8]) -> ErrorBody {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return ErrorBody::default();
    };
    match value {
        Value::Array(items) => {
            let errors: Vec<FieldError> = items.iter().filter_map(v2_error).collect();
            ErrorBody {
                title: None,
                errors,
            }
        }
        Value::Object(map) => {
            let title = map
                .get("title")
                .or_else(|| map.get("message"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let errors = match map.get("errors") {
                Some(Value::Object(fields)) => fields
                    .iter()
                    .map(|(field, message)| FieldError {
                        field: Some(field.clone()),
                        message: value_text(message),
                    })
                    .collect(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| FieldError {
                        field: None,
                        message: value_text(item),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            ErrorBody { title, errors }
        }
        _ => ErrorBody::default(),
    }
}

fn v2_error(item: &Value) -> Option<FieldError> {
    let message = item.get("message").and_then(Value::as_str)?;
    let mut text = message.to_owned();
    if let Some(Value::Object(details)) = item.get("details") {
        let parts: Vec<String> = details
            .iter()
            .map(|(key, value)| format!("{key}: {}", value_text(value)))
            .collect();
        if !parts.is_empty() {
            text = format!("{text} ({})", parts.join(", "));
        }
    }
    Some(FieldError {
        field: None,
        message: text,
    })
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}

/// The scope an endpoint needs, in BigCommerce's UI words and parameter name, for
/// [`Error::MissingScope`].
pub fn required_scope(method: &Method, endpoint: &str) -> String {
    let read = matches!(*method, Method::GET | Method::HEAD);
    let path = endpoint.trim_start_matches('/');
    let scope = if path.starts_with("v2/orders") || path.starts_with("v2/order_statuses") {
        if read {
            "Orders: Read-only (store_v2_orders_read_only)"
        } else {
            "Orders: Modify (store_v2_orders)"
        }
    } else if path.starts_with("v3/catalog") {
        if read {
            "Products: Read-only (store_v2_products_read_only)"
        } else {
            "Products: Modify (store_v2_products)"
        }
    } else if path.starts_with("v2/store") || path.starts_with("v2/time") {
        "Information & Settings: Read-only (store_v2_information_read_only)"
    } else if path.starts_with("v3/hooks") {
        "the scope matching the webhook's events (e.g. Orders: Read-only \
         (store_v2_orders_read_only) for store/order/* hooks)"
    } else {
        "the scope this endpoint requires"
    };
    scope.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_error_bodies_yield_field_messages() {
        let body = br#"{
            "status": 422,
            "title": "JSON data is missing or invalid",
            "type": "https://developer.bigcommerce.com/docs/start/about/status-codes",
            "errors": {"inventory_level": "must be an integer", "sku": ["is taken", "is long"]}
        }"#;
        let parsed = parse_error_body(body);
        assert_eq!(
            parsed.title.as_deref(),
            Some("JSON data is missing or invalid")
        );
        assert_eq!(
            parsed.errors,
            vec![
                FieldError {
                    field: Some("inventory_level".into()),
                    message: "must be an integer".into()
                },
                FieldError {
                    field: Some("sku".into()),
                    message: "is taken; is long".into()
                },
            ]
        );
    }

    #[test]
    fn v2_error_arrays_yield_messages_with_details() {
        let body = br#"[{"status": 400, "message": "The field 'product_id' is not supported by this resource.", "details": {"invalid_reason": "product_id"}}]"#;
        let parsed = parse_error_body(body);
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(
            parsed.errors[0].message,
            "The field 'product_id' is not supported by this resource. (invalid_reason: product_id)"
        );
        assert_eq!(parsed.title, None);
        assert_eq!(
            parsed.summary().as_deref(),
            Some(parsed.errors[0].message.as_str())
        );
    }

    #[test]
    fn non_json_error_bodies_are_empty() {
        assert_eq!(
            parse_error_body(b"<html>bad gateway</html>"),
            ErrorBody::default()
        );
        assert_eq!(parse_error_body(b""), ErrorBody::default());
    }

    #[test]
    fn scopes_are_named_from_endpoint_and_method() {
        assert_eq!(
            required_scope(&Method::PUT, "/v2/orders/100"),
            "Orders: Modify (store_v2_orders)"
        );
        assert_eq!(
            required_scope(&Method::GET, "/v2/orders"),
            "Orders: Read-only (store_v2_orders_read_only)"
        );
        assert_eq!(
            required_scope(&Method::PUT, "/v3/catalog/variants"),
            "Products: Modify (store_v2_products)"
        );
        assert_eq!(
            required_scope(&Method::GET, "/v3/catalog/products"),
            "Products: Read-only (store_v2_products_read_only)"
        );
        assert_eq!(
            required_scope(&Method::GET, "/v2/time"),
            "Information & Settings: Read-only (store_v2_information_read_only)"
        );
    }

    #[test]
    fn messages_name_the_endpoint_and_the_fix_but_never_a_host() {
        let error = Error::MissingScope {
            method: Method::POST,
            endpoint: "/v2/orders/7/shipments".into(),
            scope: required_scope(&Method::POST, "/v2/orders/7/shipments"),
        };
        assert_eq!(
            error.to_string(),
            "POST /v2/orders/7/shipments: the access token lacks Orders: Modify (store_v2_orders); \
             edit the API account in BigCommerce and reconnect"
        );
        let validation = Error::Validation {
            method: Method::PUT,
            endpoint: "/v3/catalog/variants".into(),
            status: 422,
            title: Some("Invalid".into()),
            errors: vec![FieldError {
                field: Some("inventory_level".into()),
                message: "must be >= 0".into(),
            }],
        };
        assert_eq!(
            validation.to_string(),
            "PUT /v3/catalog/variants: BigCommerce rejected the request (422): Invalid \
             [inventory_level: must be >= 0]; fix the data and send it again"
        );
    }
}
