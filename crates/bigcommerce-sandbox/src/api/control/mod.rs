//! The control API under `/_sandbox`: what tests and operators use to shape a store (create it,
//! place and change orders, change stock), to watch it (request log, counters) and to break it
//! (faults, quotas). It is not part of BigCommerce and never counts against the quota.
//!
//! The routes of live mode and of webhook delivery are in the submodules [`live`] and
//! [`webhooks`]: the HTTP layer calls [`crate::live`] and [`crate::webhooks`], which know nothing
//! of it.

pub mod live;
pub mod webhooks;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{errors, json, AppState};
use crate::faults::FaultRule;
use crate::ratelimit::{Plan, RateLimit};
use crate::state::{StoreHandle, StoreInfo, StoreSpec};
use crate::store::{NewOrder, OrderUpdate, ProductUpdate};

/// Builds a store from `spec` and registers it; it lives in [`crate::state`], and this path is
/// kept for callers that used it.
pub use crate::state::create_store;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/stores", get(list_stores).post(post_store))
        .route("/stores/{store_hash}", get(get_store))
        .route(
            "/stores/{store_hash}/requests",
            get(list_requests).delete(clear_requests),
        )
        .route("/stores/{store_hash}/counters", get(get_counters))
        .route(
            "/stores/{store_hash}/faults",
            get(get_faults)
                .put(put_faults)
                .post(add_fault)
                .delete(clear_faults),
        )
        .route("/stores/{store_hash}/rate_limit", put(put_rate_limit))
        .route("/stores/{store_hash}/orders", post(place_order))
        .route("/stores/{store_hash}/orders/{order_id}", put(update_order))
        .route(
            "/stores/{store_hash}/orders/{order_id}/touch",
            post(touch_order),
        )
        .route(
            "/stores/{store_hash}/products/{product_id}",
            put(update_product),
        )
        .merge(webhooks::routes())
        .merge(live::routes())
}

fn info(store: &StoreHandle) -> StoreInfo {
    let data = store.data.read();
    StoreInfo {
        hash: store.hash.clone(),
        name: data.profile.name.clone(),
        plan: store.plan,
        rate_limit: store.rate.lock().limit(),
        accounts: data.accounts.clone(),
    }
}

fn no_store() -> Response {
    errors::v3_error(
        StatusCode::NOT_FOUND,
        "No sandbox store has this hash.",
        Default::default(),
    )
}

fn rule_error(error: crate::store::RuleError) -> Response {
    errors::v3_error(
        StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST),
        &error.message,
        Default::default(),
    )
}

/// Looks up the store or answers 404.
macro_rules! store_or_404 {
    ($state:expr, $hash:expr) => {
        match $state.store(&$hash) {
            Some(store) => store,
            None => return no_store(),
        }
    };
}

async fn list_stores(State(state): State<AppState>) -> Response {
    let stores: Vec<StoreInfo> = state.stores.read().values().map(|s| info(s)).collect();
    json(StatusCode::OK, &stores)
}

async fn post_store(State(state): State<AppState>, Json(spec): Json<StoreSpec>) -> Response {
    // Generating a large history takes about a second per 100,000 orders: off the async workers.
    let result = tokio::task::spawn_blocking(move || create_store(&state, spec)).await;
    match result {
        Ok(info) => json(StatusCode::CREATED, &info),
        Err(_) => errors::v3_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Building the store failed; see the sandbox's log.",
            Default::default(),
        ),
    }
}

async fn get_store(State(state): State<AppState>, Path(hash): Path<String>) -> Response {
    let store = store_or_404!(state, hash);
    json(StatusCode::OK, &info(&store))
}

#[derive(Deserialize)]
struct AfterQuery {
    #[serde(default)]
    after: u64,
}

async fn list_requests(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Query(query): Query<AfterQuery>,
) -> Response {
    let store = store_or_404!(state, hash);
    let records = store.log.lock().since(query.after);
    json(StatusCode::OK, &records)
}

async fn clear_requests(State(state): State<AppState>, Path(hash): Path<String>) -> Response {
    let store = store_or_404!(state, hash);
    store.log.lock().clear();
    json(StatusCode::OK, &json!({"cleared": true}))
}

async fn get_counters(State(state): State<AppState>, Path(hash): Path<String>) -> Response {
    let store = store_or_404!(state, hash);
    let counters = store.log.lock().counters();
    json(StatusCode::OK, &counters)
}

async fn get_faults(State(state): State<AppState>, Path(hash): Path<String>) -> Response {
    let store = store_or_404!(state, hash);
    let faults = store.faults.lock();
    json(
        StatusCode::OK,
        &json!({"rules": faults.rules(), "struck": faults.struck}),
    )
}

async fn put_faults(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Json(rules): Json<Vec<FaultRule>>,
) -> Response {
    let store = store_or_404!(state, hash);
    store.faults.lock().set(rules);
    json(
        StatusCode::OK,
        &json!({"rules": store.faults.lock().rules()}),
    )
}

async fn add_fault(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Json(rule): Json<FaultRule>,
) -> Response {
    let store = store_or_404!(state, hash);
    store.faults.lock().push(rule);
    json(
        StatusCode::CREATED,
        &json!({"rules": store.faults.lock().rules()}),
    )
}

async fn clear_faults(State(state): State<AppState>, Path(hash): Path<String>) -> Response {
    let store = store_or_404!(state, hash);
    store.faults.lock().clear();
    json(StatusCode::OK, &json!({"rules": []}))
}

#[derive(Deserialize)]
struct RateLimitBody {
    plan: Option<Plan>,
    quota: Option<u32>,
    window_ms: Option<u64>,
}

async fn put_rate_limit(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Json(body): Json<RateLimitBody>,
) -> Response {
    let store = store_or_404!(state, hash);
    let mut limit = RateLimit::for_plan(body.plan.unwrap_or(store.plan));
    if body.quota.is_some() {
        limit.quota = body.quota;
    }
    if let Some(window_ms) = body.window_ms {
        limit.window_ms = window_ms;
    }
    store.rate.lock().set_limit(limit);
    json(StatusCode::OK, &limit)
}

async fn place_order(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Json(order): Json<NewOrder>,
) -> Response {
    let store = store_or_404!(state, hash);
    let mut events = Vec::new();
    let result = store.data.write().place_order(order, &mut events);
    state.webhooks.publish(&store, events);
    match result {
        Ok(id) => json(StatusCode::CREATED, &json!({"id": id})),
        Err(error) => rule_error(error),
    }
}

async fn update_order(
    State(state): State<AppState>,
    Path((hash, order_id)): Path<(String, u64)>,
    Json(update): Json<OrderUpdate>,
) -> Response {
    let store = store_or_404!(state, hash);
    let mut events = Vec::new();
    let result = store
        .data
        .write()
        .update_order(order_id, update, &mut events);
    state.webhooks.publish(&store, events);
    match result {
        Ok(()) => json(StatusCode::OK, &json!({"id": order_id})),
        Err(error) => rule_error(error),
    }
}

async fn touch_order(
    State(state): State<AppState>,
    Path((hash, order_id)): Path<(String, u64)>,
) -> Response {
    let store = store_or_404!(state, hash);
    let mut events = Vec::new();
    let result = store.data.write().touch_order(order_id, &mut events);
    state.webhooks.publish(&store, events);
    match result {
        Ok(()) => json(StatusCode::OK, &json!({"id": order_id})),
        Err(error) => rule_error(error),
    }
}

async fn update_product(
    State(state): State<AppState>,
    Path((hash, product_id)): Path<(String, u64)>,
    Json(mut update): Json<ProductUpdate>,
) -> Response {
    let store = store_or_404!(state, hash);
    update.id = product_id;
    let mut events = Vec::new();
    let result = store.data.write().update_product(&update, &mut events);
    state.webhooks.publish(&store, events);
    match result {
        Ok(()) => json(StatusCode::OK, &json!({"id": product_id})),
        Err(error) => rule_error(error),
    }
}
