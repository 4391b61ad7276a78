//! The webhook receiver: `POST /webhooks/{channel}/{store_id}`.
//!
//! Every check runs on the raw bytes, before any JSON is parsed, cheapest first:
//!
//! | check | answer |
//! |---|---|
//! | body larger than [`MAX_BODY_BYTES`] | `413` |
//! | no store with this id on this channel, or it has no webhook endpoint (never registered, removed, disconnected) | `404` |
//! | [`HEADER_HOOK_KEY`] missing or not the store's secret (constant-time comparison) | `401` |
//! | the channel's signature check fails ([`crate::channel::Channel::read_callback`], e.g. Standard Webhooks, `webhook-id`, `webhook-timestamp`, `webhook-signature`, keyed with the store's client secret, the timestamp within 5 minutes either way against replays) | `401` |
//! | the body is not one of the channel's payloads | `400` |
//! | the message id was already accepted for this store | `200`, nothing queued |
//! | the store already has [`ReceiverState::max_hints`] hints waiting | receipt recorded, one walk queued instead (once), `200` |
//! | otherwise | receipt recorded and job queued in one transaction, `200` |
//!
//! A `401` body says only that the callback could not be authenticated: which check failed is
//! logged at debug level with the store id, never returned, and no secret or signature is
//! logged. Errors use the hub's envelope `{"error": {"code", "message"}}`; a `500` is opaque and
//! its cause logged once here.
//!
//! The handler does two database round trips (one read of the store with its secrets, one
//! transaction recording the receipt and queueing the job, [`Storage::accept_callback`]) and no
//! network call, so it answers in milliseconds. The job is durable: the fetch happens in
//! [`super::worker`], in whichever process holds the store's lease, even if this one dies.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;
use tokio::sync::Notify;

use super::{HEADER_HOOK_KEY, MAX_BODY_BYTES, MAX_HINTS_PER_STORE, PURPOSE_HEADER_SECRET};
use crate::channel::{CallbackError, Channels};
use crate::storage::{Accepted, Storage, StoreId, StoreStatus};

/// What the handler needs: the database, the channels (which open the stored secrets and
/// verify each channel's callbacks), and the bell of this process's job worker.
#[derive(Clone)]
pub struct ReceiverState {
    storage: Storage,
    channels: Channels,
    wake: Arc<Notify>,
    max_hints: i64,
}

impl ReceiverState {
    /// A receiver state over `storage`, verifying with `channels`; `wake` is rung when a job
    /// is queued (this process's worker looks at once; others within their poll).
    pub fn new(storage: Storage, channels: Channels, wake: Arc<Notify>) -> Self {
        ReceiverState {
            storage,
            channels,
            wake,
            max_hints: MAX_HINTS_PER_STORE,
        }
    }

    /// Bounds the hints one store may have waiting (default [`MAX_HINTS_PER_STORE`]); past
    /// it, a walk is queued instead.
    pub fn with_max_hints(mut self, max_hints: i64) -> Self {
        self.max_hints = max_hints.max(1);
        self
    }
}

/// The receiver's routes, with the body limit applied.
pub fn router(state: ReceiverState) -> Router {
    Router::new()
        .route(super::RECEIVER_ROUTE, post(receive_webhook))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(plain_errors_as_envelope))
        .with_state(state)
}

/// The hub's error envelope.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

/// What the framework refused in plain text (a body over the limit, a path that does not
/// decode) in the receiver's envelope, like its own refusals.
async fn plain_errors_as_envelope(response: Response) -> Response {
    if !crate::edge::is_plain_error(&response) {
        return response;
    }
    match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE => error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &format!("a callback body is at most {MAX_BODY_BYTES} bytes"),
        ),
        status if status.is_server_error() => internal(),
        status => error_response(status, "bad_request", "the callback could not be read"),
    }
}

fn not_found() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "not_found",
        "no webhook endpoint at this address",
    )
}

fn unauthorized() -> Response {
    error_response(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "the callback could not be authenticated",
    )
}

fn internal() -> Response {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the callback could not be processed; retry later",
    )
}

fn accepted(status: &'static str) -> Response {
    let mut response = (
        StatusCode::OK,
        Json(serde_json::json!({ "status": status })),
    )
        .into_response();
    response.extensions_mut().insert(ReceiptOutcome(status));
    response
}

/// How a callback that was answered 200 ended (`queued`, `duplicate`, `ignored`), carried on the
/// response for the server's metrics; refusals are told apart by their status code.
#[derive(Debug, Clone, Copy)]
pub struct ReceiptOutcome(pub &'static str);

/// The outcome label of a receiver answer, for `/metrics`: a fixed set.
pub fn receipt_outcome(response: &Response) -> &'static str {
    if let Some(ReceiptOutcome(outcome)) = response.extensions().get::<ReceiptOutcome>() {
        return outcome;
    }
    match response.status() {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::NOT_FOUND => "unknown_store",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::BAD_REQUEST => "bad_request",
        _ => "error",
    }
}

/// Handles one callback (see the module docs for the order of the checks).
pub async fn receive_webhook(
    State(state): State<ReceiverState>,
    Path((channel_name, store_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(id) = store_id.parse::<i64>() else {
        return not_found();
    };
    let store = StoreId::from_raw(id);
    let target = match state.storage.webhook_target(store).await {
        Ok(Some(target))
            if target.store.status == StoreStatus::Connected
                && target.store.channel == channel_name =>
        {
            target
        }
        Ok(_) => return not_found(),
        Err(error) => {
            tracing::error!(store.id = id, error = %error, "webhooks: could not read the store");
            return internal();
        }
    };
    let Ok(channel) = state.channels.of(&target.store) else {
        return not_found();
    };

    // 1. Our header secret, in constant time. A value that does not decrypt is a server
    //    problem (wrong key), not the caller's: 500, logged.
    let Some(expected) = state.channels.open_secret(
        &target.store,
        &target.endpoint.header_secret,
        PURPOSE_HEADER_SECRET,
    ) else {
        tracing::error!(
            store.id = id,
            "webhooks: the stored header secret does not decrypt with the configured key"
        );
        return internal();
    };
    let given = headers
        .get(HEADER_HOOK_KEY)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(given.ct_eq(expected.expose_secret().as_bytes())) {
        tracing::debug!(
            store.id = id,
            "webhooks: refused, wrong or missing header secret"
        );
        return unauthorized();
    }

    // 2. The channel's signature, keyed with the store's client secret (e.g.
    //    Standard Webhooks with a 5-minute timestamp tolerance that stops replays); 3. only
    //    then the payload.
    let Some(client_secret) = target
        .client_secret
        .as_ref()
        .and_then(|s| state.channels.client_secret(&target.store, s))
    else {
        tracing::error!(
            store.id = id,
            "webhooks: the store's client secret is unavailable"
        );
        return internal();
    };
    let callback = match channel.read_callback(&client_secret, &headers, &body) {
        Ok(callback) => callback,
        Err(CallbackError::Unauthenticated(reason)) => {
            tracing::debug!(store.id = id, reason = %reason, "webhooks: refused, signature check failed");
            return unauthorized();
        }
        Err(CallbackError::Malformed(message)) => {
            return error_response(StatusCode::BAD_REQUEST, "bad_request", &message)
        }
    };
    let message_id = callback.message_id.clone();

    // 4. The receipt and the job in one transaction: a duplicate queues nothing, and a
    //    callback is never recorded as received without its job.
    let outcome = match super::accept(
        &state.storage,
        store,
        &callback,
        state.max_hints,
        &state.wake,
    )
    .await
    {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::error!(store.id = id, error = %error, "webhooks: could not record a receipt");
            return internal();
        }
    };
    match outcome {
        Accepted::Duplicate => {
            tracing::debug!(store.id = id, webhook.id = %message_id, "webhooks: duplicate, acknowledged");
            accepted("duplicate")
        }
        Accepted::Ignored => accepted("ignored"),
        Accepted::Queued => accepted("queued"),
        Accepted::Coalesced => accepted("coalesced"),
        Accepted::Walk => accepted("walk"),
    }
}
