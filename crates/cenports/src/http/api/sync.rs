//! A store's sync: where its streams are, and a trigger ([`crate::service::sync`] does both:
//! the trigger starts the sync in a spawned task and this answers `202 Accepted` at once, with
//! `already_running` while a sync of the store, triggered or scheduled, runs in the process).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiPath;
use crate::edge::auth::Principal;
use crate::edge::error::{ApiError, ErrorBody};
use crate::service::sync::{self as service, LastRun, Triggered};
use crate::service::AppState;
use crate::storage::{Checkpoint, SyncRunRecord};

/// How the last API-triggered sync of a store went.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = LastRun)]
pub struct LastRunView {
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended (absent while it runs).
    pub finished_at: Option<DateTime<Utc>>,
    /// `running`, `ok` or `failed`.
    pub outcome: String,
    /// Why it failed.
    pub error: Option<String>,
    /// Orders new to the hub.
    pub orders_inserted: u64,
    /// Orders updated.
    pub orders_updated: u64,
    /// Requests sent to the channel.
    pub api_requests: u64,
}

impl From<LastRun> for LastRunView {
    fn from(run: LastRun) -> Self {
        LastRunView {
            started_at: run.started_at,
            finished_at: run.finished_at,
            outcome: run.outcome,
            error: run.error,
            orders_inserted: run.orders_inserted,
            orders_updated: run.orders_updated,
            api_requests: run.api_requests,
        }
    }
}

/// A checkpointed stream of a store's sync.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SyncStream)]
pub struct StreamView {
    /// `orders`, `open_orders` or `catalog`.
    pub stream: String,
    /// Start of the current or last window (absent for a backfill from the beginning).
    pub window_start: Option<DateTime<Utc>>,
    /// End of the current or last window.
    pub window_end: Option<DateTime<Utc>>,
    /// Where the walk resumes inside the window: the channel's cursor of the last committed
    /// page (for instance the last order id).
    pub cursor: Option<String>,
    /// When the window was finished (absent while in progress).
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<Checkpoint> for StreamView {
    fn from(cp: Checkpoint) -> Self {
        StreamView {
            stream: cp.stream,
            window_start: cp.window_start,
            window_end: cp.window_end,
            cursor: cp.cursor,
            completed_at: cp.completed_at,
        }
    }
}

/// Where a store's sync is.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncStatus {
    /// The store.
    pub store_id: i64,
    /// Whether a sync of the store is running in this process: triggered through the API or
    /// the dashboard, or started by the scheduler.
    pub running: bool,
    /// Streams that have started, in the order a sync walks them.
    pub streams: Vec<StreamView>,
    /// The last sync triggered through the API in this process.
    pub last_run: Option<LastRunView>,
    /// The store's newest syncs, newest first (at most 20), whoever started them and in any
    /// process: the sync history.
    pub history: Vec<SyncRunView>,
}

/// One sync of a store, from the sync history.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncRunView {
    /// Who started it: `scheduled` (the scheduler of `serve`, `worker` or `sync --watch`),
    /// `api` (the API's trigger, the dashboard's Sync now / Retry, a connect from the
    /// dashboard) or `cli` (`cenports sync`).
    #[schema(example = "scheduled")]
    pub started_by: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended; absent while it runs, or when its process stopped before it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// `running`, `ok` or `failed`.
    #[schema(example = "ok")]
    pub outcome: String,
    /// Orders new to the hub.
    pub orders_inserted: u64,
    /// Orders whose newer version replaced the stored one.
    pub orders_updated: u64,
    /// Orders read (new, updated and unchanged).
    pub orders_read: u64,
    /// Products read by the catalog walk.
    pub products: u64,
    /// Requests sent to the channel, retries included.
    pub api_requests: u64,
    /// Why it failed.
    pub error: Option<String>,
}

impl From<SyncRunRecord> for SyncRunView {
    fn from(run: SyncRunRecord) -> Self {
        SyncRunView {
            started_by: run.trigger.as_str().to_owned(),
            started_at: run.started_at,
            finished_at: run.finished_at,
            outcome: run.outcome,
            orders_inserted: run.counts.orders_inserted,
            orders_updated: run.counts.orders_updated,
            orders_read: run.counts.orders_read,
            products: run.counts.products,
            api_requests: run.counts.api_requests,
            error: run.error,
        }
    }
}

/// Where the store's sync is: each stream's window and cursor, and the last triggered run.
#[utoipa::path(
    get,
    path = "/api/v1/stores/{store_id}/sync",
    tag = "stores",
    params(("store_id" = i64, Path, description = "Our id of the store")),
    responses(
        (status = 200, description = "The sync status", body = SyncStatus),
        (status = 400, description = "The id is not an integer", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such store among the caller's (`store_not_found`)", body = ErrorBody),
    )
)]
pub async fn get_sync_status(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(store_id): ApiPath<i64>,
) -> Result<Json<SyncStatus>, ApiError> {
    let status = service::sync_status(&state, principal.access(), store_id).await?;
    Ok(Json(SyncStatus {
        store_id,
        running: status.running,
        streams: status.streams.into_iter().map(StreamView::from).collect(),
        last_run: status.last_run.map(LastRunView::from),
        history: status.history.into_iter().map(SyncRunView::from).collect(),
    }))
}

/// The answer to a trigger.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncTriggered {
    /// `started`; `already_running` when a sync of the store (triggered, or started by the
    /// scheduler) is running in this process, and nothing more is started; `queued` when
    /// another process of the fleet holds the store, which runs the sync
    /// (`docs/OPERATIONS.md`, "Several processes").
    #[schema(example = "started")]
    pub status: String,
}

/// Starts a sync of the store now (in the background); poll `GET .../sync` for its outcome.
/// While a sync of the store runs in this process (triggered or scheduled), answers
/// `already_running` and starts nothing.
#[utoipa::path(
    post,
    path = "/api/v1/stores/{store_id}/sync",
    tag = "stores",
    params(("store_id" = i64, Path, description = "Our id of the store")),
    responses(
        (status = 202, description = "Started, or already running", body = SyncTriggered),
        (status = 400, description = "The id is not an integer", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Session cookie without X-CSRF-Token (`csrf_failed`)", body = ErrorBody),
        (status = 404, description = "No such store among the caller's (`store_not_found`)", body = ErrorBody),
        (status = 409, description = "The store is disconnected (`store_disconnected`)", body = ErrorBody),
    )
)]
pub async fn trigger_sync(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(store_id): ApiPath<i64>,
) -> Result<(StatusCode, Json<SyncTriggered>), ApiError> {
    let status = match service::trigger_sync(&state, principal.access(), store_id).await? {
        Triggered::Started => "started",
        Triggered::AlreadyRunning => "already_running",
        Triggered::Queued => "queued",
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(SyncTriggered {
            status: status.into(),
        }),
    ))
}
