//! Stores and their problems ([`crate::service::stores`]).

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiPath;
use crate::edge::auth::Principal;
use crate::edge::error::{ApiError, ErrorBody};
use crate::service::stores as service;
use crate::service::AppState;
use crate::storage::{OutboxKind, OutboxState, StoreRecord, StoreStatus};

/// A connected (or disconnected) store.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Store)]
pub struct StoreView {
    /// Our id: the `{store_id}` of every store route.
    pub id: i64,
    /// The owner's user id.
    pub owner_id: i64,
    /// The store's channel, by name.
    pub channel: String,
    /// The channel's id of the store (e.g. a store hash).
    pub store_hash: String,
    /// Store name.
    pub name: String,
    /// Primary domain.
    pub domain: String,
    /// Default currency.
    pub currency: String,
    /// Timezone.
    pub timezone: String,
    /// The channel's plan (sets its API quota).
    pub plan: String,
    /// Whether the hub holds the store's credentials.
    pub status: StoreStatusView,
    /// Last (re)connection.
    pub connected_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Connected or not.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = StoreStatus)]
pub enum StoreStatusView {
    /// Credentials held; syncs run.
    Connected,
    /// Credentials forgotten; data kept.
    Disconnected,
}

impl From<&StoreRecord> for StoreView {
    fn from(store: &StoreRecord) -> Self {
        StoreView {
            id: store.id().get(),
            owner_id: store.user_id().get(),
            channel: store.channel.clone(),
            store_hash: store.remote_id.clone(),
            name: store.profile.name.clone(),
            domain: store.profile.domain.clone(),
            currency: store.profile.currency.clone(),
            timezone: store.profile.timezone.clone(),
            plan: store.profile.plan.clone(),
            status: match store.status {
                StoreStatus::Connected => StoreStatusView::Connected,
                StoreStatus::Disconnected => StoreStatusView::Disconnected,
            },
            connected_at: store.connected_at,
            updated_at: store.updated_at,
        }
    }
}

/// The stores a caller sees.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreList {
    /// By id.
    pub stores: Vec<StoreView>,
}

/// The stores the caller sees: a merchant's own, or every store for an operator.
#[utoipa::path(
    get,
    path = "/api/v1/stores",
    tag = "stores",
    responses(
        (status = 200, description = "The stores", body = StoreList),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    )
)]
pub async fn list_stores(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<StoreList>, ApiError> {
    let stores = service::list_stores(&state, principal.access()).await?;
    Ok(Json(StoreList {
        stores: stores.iter().map(StoreView::from).collect(),
    }))
}

/// One store.
#[utoipa::path(
    get,
    path = "/api/v1/stores/{store_id}",
    tag = "stores",
    params(("store_id" = i64, Path, description = "Our id of the store")),
    responses(
        (status = 200, description = "The store", body = StoreView),
        (status = 400, description = "The id is not an integer", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such store among the caller's (`store_not_found`)", body = ErrorBody),
    )
)]
pub async fn get_store(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(store_id): ApiPath<i64>,
) -> Result<Json<StoreView>, ApiError> {
    let store = service::get_store(&state, principal.access(), store_id).await?;
    Ok(Json(StoreView::from(&store)))
}

/// What needs a person's attention in a store.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreErrors {
    /// Writes to the channel that failed, or whose last attempt failed (they are retried).
    pub outbox: Vec<OutboxProblem>,
    /// SKUs whose last stock push did not leave the store at the hub's figure.
    pub stock: Vec<StockProblem>,
    /// The store's last finished sync (scheduled, triggered or from the CLI; any process), if
    /// it failed.
    pub sync: Option<SyncProblem>,
}

/// An outbox row in trouble.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxProblem {
    /// The row (for a shipment, its shipment id).
    pub id: i64,
    /// `shipment` or `order_status`.
    pub kind: String,
    /// Our order id.
    pub order_id: i64,
    /// The channel's order number (its order id, as text).
    pub order_number: String,
    /// `failed` (given up) or `pending`/`sending` (will be retried).
    pub state: String,
    /// Attempts so far.
    pub attempts: i32,
    /// The last error, as an operator should read it.
    pub last_error: Option<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A SKU whose last push went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockProblem {
    /// The SKU.
    pub sku: String,
    /// `rejected`, `failed`, `mismatch`, `unverified` or `not_in_catalog`.
    pub status: String,
    /// Why.
    pub message: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A failed sync.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncProblem {
    /// When it ended.
    pub at: DateTime<Utc>,
    /// Why.
    pub error: String,
    /// Who started it: `scheduled`, `api` or `cli`.
    pub started_by: String,
}

/// Problems of a store: failed or retrying writes, stock pushes that went wrong, a failed sync.
#[utoipa::path(
    get,
    path = "/api/v1/stores/{store_id}/errors",
    tag = "stores",
    params(("store_id" = i64, Path, description = "Our id of the store")),
    responses(
        (status = 200, description = "The store's problems (empty lists when none)", body = StoreErrors),
        (status = 400, description = "The id is not an integer", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such store among the caller's (`store_not_found`)", body = ErrorBody),
    )
)]
pub async fn list_errors(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(store_id): ApiPath<i64>,
) -> Result<Json<StoreErrors>, ApiError> {
    let problems = service::store_problems(&state, principal.access(), store_id).await?;
    let outbox = problems
        .outbox
        .into_iter()
        .map(|row| OutboxProblem {
            id: row.id.get(),
            kind: match row.kind {
                OutboxKind::Shipment => "shipment".into(),
                OutboxKind::OrderStatus => "order_status".into(),
            },
            order_id: row.order_id.get(),
            order_number: row.order_remote_id,
            state: match row.state {
                OutboxState::Pending => "pending".into(),
                OutboxState::Sending => "sending".into(),
                OutboxState::Delivered => "delivered".into(),
                OutboxState::Failed => "failed".into(),
            },
            attempts: row.attempts,
            last_error: row.last_error,
            updated_at: row.updated_at,
        })
        .collect();
    let stock = problems
        .stock
        .into_iter()
        .map(|p| StockProblem {
            sku: p.sku,
            status: p.status,
            message: p.message,
            at: p.at,
        })
        .collect();
    let sync = problems.sync.map(|p| SyncProblem {
        at: p.at,
        error: p.error,
        started_by: p.started_by.as_str().to_owned(),
    });
    Ok(Json(StoreErrors {
        outbox,
        stock,
        sync,
    }))
}
