//! The control API under `/_sandbox`: what tests and operators use to shape the seller account
//! (place, advance and cancel orders, buyers' cancellation requests, listing quantities), to
//! watch it (confirmed packages, the request log), to break it (faults, rate scale, the clock)
//! and, standing in for Amazon SQS, to consume `ORDER_CHANGE` notifications. It is not part of
//! Amazon's API: no token, no usage plan. Errors use Amazon's `{"errors": [...]}` shape.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{errors, json, AppState};
use crate::account::{NewOrder, RuleError};
use crate::credentials::MerchantCredentials;
use crate::faults::FaultRule;
use crate::live::{start_live, LiveSettings};
use crate::queue::{MAX_MESSAGES, MAX_VISIBILITY_SECONDS, MAX_WAIT_SECONDS};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account", get(get_account))
        .route("/credentials", get(get_credentials))
        .route("/orders", post(place_order))
        .route("/orders/{order_id}", get(get_order))
        .route("/orders/{order_id}/advance", post(advance_order))
        .route("/orders/{order_id}/cancel", post(cancel_order))
        .route(
            "/orders/{order_id}/buyer_cancel_request",
            post(request_cancellation),
        )
        .route("/packages", get(list_packages))
        .route("/listings", get(list_listings))
        .route("/listings/{sku}", put(put_listing))
        .route("/clock", get(get_clock))
        .route("/clock/advance", post(advance_clock))
        .route(
            "/faults",
            get(get_faults).post(add_fault).delete(clear_faults),
        )
        .route("/rate_scale", put(put_rate_scale))
        .route("/requests", get(list_requests).delete(clear_requests))
        .route("/counters", get(get_counters))
        .route("/live", get(get_live).put(put_live).delete(delete_live))
        .route("/queue", get(get_queue).delete(purge_queue))
        .route("/queue/receive", get(receive_messages))
        .route("/queue/delete", post(delete_message))
        .route("/queue/change_visibility", post(change_visibility))
        .route("/queue/duplicates", put(put_duplicates))
}

fn rule_error(error: RuleError) -> Response {
    match error {
        RuleError::NotFound(message) => errors::not_found(&message),
        RuleError::Invalid(message) => errors::invalid_input(&message),
    }
}

fn order_answer(result: Result<crate::model::Order, RuleError>, status: StatusCode) -> Response {
    match result {
        Ok(order) => json(status, &order),
        Err(error) => rule_error(error),
    }
}

fn credentials(state: &AppState) -> MerchantCredentials {
    MerchantCredentials::new(
        &state.base_url,
        &state.seller_id(),
        &state.config.marketplace_id,
        &state.apps,
    )
}

async fn get_account(State(state): State<AppState>) -> Response {
    let account = state.account.read();
    json(
        StatusCode::OK,
        &json!({
            "seller_id": account.seller_id,
            "marketplace_id": account.marketplace_id,
            "currency": account.currency,
            "endpoint": state.base_url,
            "auth_endpoint": format!("{}/auth/o2/token", state.base_url),
            "orders": account.orders().len(),
            "listings": account.listings.len(),
            "profiles": state.apps.iter().map(|a| json!({
                "profile": a.profile,
                "description": a.description,
                "client_id": a.client_id,
                "roles": a.roles,
            })).collect::<Vec<_>>(),
        }),
    )
}

async fn get_credentials(State(state): State<AppState>) -> Response {
    json(StatusCode::OK, &credentials(&state))
}

async fn place_order(State(state): State<AppState>, Json(order): Json<NewOrder>) -> Response {
    order_answer(
        state.change(|a, now| a.place_order(order, now)),
        StatusCode::CREATED,
    )
}

async fn get_order(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.account.read().order(&id) {
        Some(order) => json(StatusCode::OK, order),
        None => errors::not_found(&format!("Order {id} was not found.")),
    }
}

async fn advance_order(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    order_answer(
        state.change(|a, now| a.advance_order(&id, now)),
        StatusCode::OK,
    )
}

async fn cancel_order(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    order_answer(
        state.change(|a, now| a.cancel_order(&id, now)),
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
struct CancelRequest {
    #[serde(default)]
    reason: Option<String>,
}

async fn request_cancellation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<CancelRequest>,
) -> Response {
    let reason = body
        .reason
        .unwrap_or_else(|| "Ordered by mistake.".to_string());
    order_answer(
        state.change(|a, now| a.request_cancellation(&id, &reason, now)),
        StatusCode::OK,
    )
}

async fn list_packages(State(state): State<AppState>) -> Response {
    let packages: Vec<_> = state
        .account
        .read()
        .packages()
        .into_iter()
        .map(|(order_id, package)| json!({"order_id": order_id, "package": package}))
        .collect();
    json(StatusCode::OK, &packages)
}

async fn list_listings(State(state): State<AppState>) -> Response {
    let listings: Vec<_> = state.account.read().listings.values().cloned().collect();
    json(StatusCode::OK, &listings)
}

#[derive(Deserialize)]
struct ListingUpdate {
    quantity: u32,
}

async fn put_listing(
    State(state): State<AppState>,
    Path(sku): Path<String>,
    Json(update): Json<ListingUpdate>,
) -> Response {
    let now = state.clock.now();
    let mut account = state.account.write();
    match account.set_quantity(&sku, update.quantity, now) {
        Ok(()) => json(StatusCode::OK, &account.listings[&sku]),
        Err(error) => rule_error(error),
    }
}

async fn get_clock(State(state): State<AppState>) -> Response {
    json(
        StatusCode::OK,
        &json!({"now": crate::clock::iso(state.clock.now())}),
    )
}

#[derive(Deserialize)]
struct ClockAdvance {
    seconds: i64,
}

async fn advance_clock(State(state): State<AppState>, Json(body): Json<ClockAdvance>) -> Response {
    if body.seconds < 0 {
        return errors::invalid_input("The clock only moves forward: 'seconds' must be 0 or more.");
    }
    state.clock.advance(chrono::Duration::seconds(body.seconds));
    get_clock(State(state)).await
}

async fn get_faults(State(state): State<AppState>) -> Response {
    let faults = state.faults.lock();
    json(
        StatusCode::OK,
        &json!({"rules": faults.rules(), "struck": faults.struck}),
    )
}

async fn add_fault(State(state): State<AppState>, Json(rule): Json<FaultRule>) -> Response {
    let mut faults = state.faults.lock();
    faults.push(rule);
    json(StatusCode::CREATED, &json!({"rules": faults.rules()}))
}

async fn clear_faults(State(state): State<AppState>) -> Response {
    state.faults.lock().clear();
    json(StatusCode::OK, &json!({"rules": []}))
}

#[derive(Deserialize)]
struct RateScale {
    scale: f64,
}

async fn put_rate_scale(State(state): State<AppState>, Json(body): Json<RateScale>) -> Response {
    if !body.scale.is_finite() {
        return errors::invalid_input("'scale' must be a number (0 turns rate limits off).");
    }
    state.limiter.lock().set_scale(body.scale);
    json(StatusCode::OK, &json!({"scale": body.scale}))
}

#[derive(Deserialize)]
struct AfterQuery {
    #[serde(default)]
    after: u64,
}

async fn list_requests(State(state): State<AppState>, Query(query): Query<AfterQuery>) -> Response {
    json(StatusCode::OK, &state.log.lock().since(query.after))
}

async fn clear_requests(State(state): State<AppState>) -> Response {
    state.log.lock().clear();
    json(StatusCode::OK, &json!({"cleared": true}))
}

async fn get_counters(State(state): State<AppState>) -> Response {
    json(StatusCode::OK, &state.log.lock().counters())
}

async fn get_live(State(state): State<AppState>) -> Response {
    json(StatusCode::OK, &state.live.status())
}

async fn put_live(State(state): State<AppState>, Json(settings): Json<LiveSettings>) -> Response {
    match start_live(&state, settings) {
        Ok(()) => json(StatusCode::OK, &state.live.status()),
        Err(message) => errors::invalid_input(&message),
    }
}

async fn delete_live(State(state): State<AppState>) -> Response {
    state.live.stop();
    json(StatusCode::OK, &state.live.status())
}

async fn get_queue(State(state): State<AppState>) -> Response {
    json(
        StatusCode::OK,
        &state.queue.stats(state.clock.now_precise()),
    )
}

async fn purge_queue(State(state): State<AppState>) -> Response {
    state.queue.purge();
    json(
        StatusCode::OK,
        &state.queue.stats(state.clock.now_precise()),
    )
}

#[derive(Deserialize)]
struct ReceiveQuery {
    /// Long-poll seconds (SQS `WaitTimeSeconds`, 0..=20, default 0).
    #[serde(default)]
    wait: Option<u64>,
    /// SQS `MaxNumberOfMessages` (1..=10, default 1).
    #[serde(default)]
    max: Option<usize>,
    /// SQS `VisibilityTimeout` in seconds (default: the queue's).
    #[serde(default)]
    visibility: Option<i64>,
}

/// `GET /_sandbox/queue/receive?wait=20&max=10&visibility=30` (SQS `ReceiveMessage`).
async fn receive_messages(
    State(state): State<AppState>,
    Query(query): Query<ReceiveQuery>,
) -> Response {
    let wait = query.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECONDS {
        return errors::invalid_input(&format!("'wait' is at most {MAX_WAIT_SECONDS} seconds."));
    }
    let max = query.max.unwrap_or(1);
    if !(1..=MAX_MESSAGES).contains(&max) {
        return errors::invalid_input(&format!("'max' is from 1 to {MAX_MESSAGES}."));
    }
    let visibility = match query.visibility {
        None => state.queue.default_visibility,
        Some(secs) if (0..=MAX_VISIBILITY_SECONDS).contains(&secs) => {
            chrono::Duration::seconds(secs)
        }
        Some(_) => {
            return errors::invalid_input(&format!(
                "'visibility' is from 0 to {MAX_VISIBILITY_SECONDS} seconds."
            ))
        }
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(wait);
    loop {
        let messages = state
            .queue
            .receive(max, visibility, state.clock.now_precise());
        let now = tokio::time::Instant::now();
        if !messages.is_empty() || now >= deadline {
            return json(StatusCode::OK, &json!({"messages": messages}));
        }
        // Woken by a send; the short cap also notices messages whose visibility timeout ran
        // out, and a clock moved by the control API.
        state
            .queue
            .wait((deadline - now).min(std::time::Duration::from_millis(200)))
            .await;
    }
}

#[derive(Deserialize)]
struct HandleBody {
    receipt_handle: String,
    #[serde(default)]
    visibility_timeout: Option<i64>,
}

/// `POST /_sandbox/queue/delete` with `{"receipt_handle": ...}` (SQS `DeleteMessage`). Always
/// 200, as SQS; `deleted` says whether the handle was the message's latest.
async fn delete_message(State(state): State<AppState>, Json(body): Json<HandleBody>) -> Response {
    let deleted = state.queue.delete(&body.receipt_handle);
    json(StatusCode::OK, &json!({"deleted": deleted}))
}

/// `POST /_sandbox/queue/change_visibility` with `{"receipt_handle", "visibility_timeout"}`
/// (SQS `ChangeMessageVisibility`).
async fn change_visibility(
    State(state): State<AppState>,
    Json(body): Json<HandleBody>,
) -> Response {
    let seconds = body.visibility_timeout.unwrap_or(0);
    if !(0..=MAX_VISIBILITY_SECONDS).contains(&seconds) {
        return errors::invalid_input(&format!(
            "'visibility_timeout' is from 0 to {MAX_VISIBILITY_SECONDS} seconds."
        ));
    }
    let changed = state.queue.change_visibility(
        &body.receipt_handle,
        chrono::Duration::seconds(seconds),
        state.clock.now_precise(),
    );
    if changed {
        json(StatusCode::OK, &json!({"changed": true}))
    } else {
        errors::error(
            StatusCode::BAD_REQUEST,
            "ReceiptHandleIsInvalid",
            "The receipt handle is not the latest of a message in the queue.",
            "",
        )
    }
}

#[derive(Deserialize)]
struct Duplicates {
    share: f64,
}

/// `PUT /_sandbox/queue/duplicates` with `{"share": 0.2}`: that share of notifications is
/// delivered twice (as distinct messages with the same body).
async fn put_duplicates(State(state): State<AppState>, Json(body): Json<Duplicates>) -> Response {
    if !(0.0..=1.0).contains(&body.share) {
        return errors::invalid_input("'share' is between 0 and 1.");
    }
    state.queue.set_duplicate_share(body.share);
    json(
        StatusCode::OK,
        &state.queue.stats(state.clock.now_precise()),
    )
}
