//! The one JSON error envelope of the HTTP edge: `{"error": {"code": "...", "message": "..."}}`,
//! answered by the API ([`crate::http`]) and by sign-in and sign-out to scripts
//! ([`crate::web`]).
//!
//! `code` is stable ([`ErrorCode`]: clients branch on it); `message` is for people and may be
//! reworded. 4xx messages say what to do; 5xx bodies are opaque and the cause is logged once,
//! here. A resource that does not exist and one that belongs to another tenant give the **same**
//! body (the message names the kind of resource, never the id asked for), so a response never
//! tells whether an id exists.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::storage::StorageError;

/// Every error code the HTTP API answers with. Stable: new codes may be added, these keep their
/// meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the query string does not parse (a wrong type, an unknown value, a bad cursor).
    InvalidQuery,
    /// 400: a path segment does not parse (ids are positive integers).
    InvalidPath,
    /// 400: the body is not the JSON the operation takes.
    InvalidJson,
    /// 413: the body is larger than the API takes (2 MB).
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 422: the body parses but a value breaks a rule (the message names the field).
    ValidationFailed,
    /// 422: the order cannot be shipped as asked (the message says why; nothing was queued).
    ShipmentRejected,
    /// 422: a batch of shipments has bad rows (each listed); nothing of it was queued.
    BatchRefused,
    /// 400: `Idempotency-Key` is missing from a request that needs one.
    IdempotencyKeyRequired,
    /// 400: `Idempotency-Key` is empty, too long or not printable ASCII.
    IdempotencyKeyInvalid,
    /// 409: the `Idempotency-Key` was used for a different request.
    IdempotencyKeyReused,
    /// 401: no API key and no session.
    AuthenticationRequired,
    /// 401: the API key is malformed, unknown or revoked.
    InvalidApiKey,
    /// 401: the session cookie names no session.
    SessionInvalid,
    /// 401: the session has expired.
    SessionExpired,
    /// 401: sign-in with a wrong email or password.
    InvalidCredentials,
    /// 403: a cookie-authenticated write without the session's CSRF token.
    CsrfFailed,
    /// 429: too many failed sign-ins from this address for this email (`Retry-After` says when).
    TooManyAttempts,
    /// 404: no such store, or not one the caller may see.
    StoreNotFound,
    /// 404: no such order in this store.
    OrderNotFound,
    /// 404: no such shipment in this store.
    ShipmentNotFound,
    /// 404: no such event subscription among the caller's.
    SubscriptionNotFound,
    /// 404: no such event delivery among the caller's subscriptions.
    DeliveryNotFound,
    /// 404: no such route.
    NotFound,
    /// 405: the route exists but not with this method.
    MethodNotAllowed,
    /// 409: the store is disconnected (reconnect it with `cenports connect`).
    StoreDisconnected,
    /// 409: the shipment was delivered already; there is nothing to retry.
    ShipmentDelivered,
    /// 503: the database does not answer.
    Unavailable,
    /// 500: something failed on our side; the body says nothing more, the log does.
    InternalError,
}

impl ErrorCode {
    /// The spelling on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidQuery => "invalid_query",
            Self::InvalidPath => "invalid_path",
            Self::InvalidJson => "invalid_json",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::ValidationFailed => "validation_failed",
            Self::ShipmentRejected => "shipment_rejected",
            Self::BatchRefused => "batch_refused",
            Self::IdempotencyKeyRequired => "idempotency_key_required",
            Self::IdempotencyKeyInvalid => "idempotency_key_invalid",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::AuthenticationRequired => "authentication_required",
            Self::InvalidApiKey => "invalid_api_key",
            Self::SessionInvalid => "session_invalid",
            Self::SessionExpired => "session_expired",
            Self::InvalidCredentials => "invalid_credentials",
            Self::CsrfFailed => "csrf_failed",
            Self::TooManyAttempts => "too_many_attempts",
            Self::StoreNotFound => "store_not_found",
            Self::OrderNotFound => "order_not_found",
            Self::ShipmentNotFound => "shipment_not_found",
            Self::SubscriptionNotFound => "subscription_not_found",
            Self::DeliveryNotFound => "delivery_not_found",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::StoreDisconnected => "store_disconnected",
            Self::ShipmentDelivered => "shipment_delivered",
            Self::Unavailable => "unavailable",
            Self::InternalError => "internal_error",
        }
    }

    /// The HTTP status that goes with the code.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidQuery
            | Self::InvalidPath
            | Self::InvalidJson
            | Self::IdempotencyKeyRequired
            | Self::IdempotencyKeyInvalid => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ValidationFailed | Self::ShipmentRejected | Self::BatchRefused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::IdempotencyKeyReused | Self::StoreDisconnected | Self::ShipmentDelivered => {
                StatusCode::CONFLICT
            }
            Self::AuthenticationRequired
            | Self::InvalidApiKey
            | Self::SessionInvalid
            | Self::SessionExpired
            | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::CsrfFailed => StatusCode::FORBIDDEN,
            Self::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            Self::StoreNotFound
            | Self::OrderNotFound
            | Self::ShipmentNotFound
            | Self::SubscriptionNotFound
            | Self::DeliveryNotFound
            | Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The error body.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// What happened and what to do, for people.
    pub message: String,
}

/// An error answered by the API.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    /// An error with a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    /// Adds a `Retry-After` header (seconds).
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message (what the caller should do; opaque for a 500).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A 500 whose cause is logged here, once, and not shown.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %crate::sync::error_chain(cause), "HTTP request failed");
        Self::new(
            ErrorCode::InternalError,
            "something went wrong on our side; it has been logged, try again later",
        )
    }

    /// 404 for a store that does not exist or that the caller may not see.
    pub fn store_not_found() -> Self {
        Self::new(
            ErrorCode::StoreNotFound,
            "no such store among the stores you can see; list them with GET /api/v1/stores",
        )
    }

    /// 404 for an order not in the store.
    pub fn order_not_found() -> Self {
        Self::new(
            ErrorCode::OrderNotFound,
            "no such order in this store; list them with GET /api/v1/stores/{store_id}/orders",
        )
    }

    /// 404 for a shipment not in the store.
    pub fn shipment_not_found() -> Self {
        Self::new(
            ErrorCode::ShipmentNotFound,
            "no such shipment in this store; list them with GET \
             /api/v1/stores/{store_id}/shipments",
        )
    }

    /// 404 for a subscription that is not the caller's.
    pub fn subscription_not_found() -> Self {
        Self::new(
            ErrorCode::SubscriptionNotFound,
            "no such event subscription among yours; list them with GET /api/v1/subscriptions",
        )
    }

    /// 404 for a delivery that is not of the caller's subscriptions.
    pub fn delivery_not_found() -> Self {
        Self::new(
            ErrorCode::DeliveryNotFound,
            "no such event delivery among your subscriptions; list them with GET \
             /api/v1/subscriptions/{subscription_id}/deliveries",
        )
    }

    /// 422 for a field.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationFailed, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        let mut response = (self.code.status(), Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.code.status() == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"cenports\""),
            );
        }
        response
    }
}

/// Storage errors at the edge: `NotFound` becomes the 404 of its kind (the same whatever the id
/// and whoever owns it); anything else is a 500.
impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        match &error {
            StorageError::NotFound { what: "store", .. } => Self::store_not_found(),
            StorageError::NotFound { what: "order", .. } => Self::order_not_found(),
            StorageError::NotFound {
                what: "shipment" | "outbox row",
                ..
            } => Self::shipment_not_found(),
            StorageError::NotFound {
                what: "subscription",
                ..
            } => Self::subscription_not_found(),
            StorageError::NotFound {
                what: "delivery", ..
            } => Self::delivery_not_found(),
            _ => Self::internal(&error),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(
            ErrorCode::InvalidQuery,
            format!("the query string is not valid: {}", rejection.body_text()),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::new(
            ErrorCode::InvalidPath,
            format!(
                "the path is not valid ({}); ids are positive integers",
                rejection.body_text()
            ),
        )
    }
}

impl ApiError {
    /// The 413 of a body over the API's limit (axum's 2 MB).
    pub fn too_large() -> Self {
        Self::new(
            ErrorCode::PayloadTooLarge,
            "the body is larger than the API takes (2 MB); send fewer items per request",
        )
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Self::too_large(),
            JsonRejection::MissingJsonContentType(_) => Self::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with Content-Type: application/json",
            ),
            other => Self::new(
                ErrorCode::InvalidJson,
                format!("the body is not valid: {}", other.body_text()),
            ),
        }
    }
}
