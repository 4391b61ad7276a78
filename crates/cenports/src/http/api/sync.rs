//! A store's sync: where its streams are, and a trigger.
//!
//! The trigger only starts a sync in a spawned task and answers `202 Accepted` at once; the
//! sync itself is [`crate::sync::sync_store`], the same one `cenports sync` and the scheduler
//! run. One sync per store at a time in the process: the trigger claims the store in
//! [`crate::sync::scheduler::SyncsInProgress`], the same guard the scheduler claims before each scheduled sync
//! (`serve` gives both the same one), so a trigger while the store syncs — triggered or
//! scheduled — answers `202` with `already_running` and starts nothing. That sync is already
//! importing whatever the trigger would have; an operator who wants one more pass after it
//! triggers again once `GET .../sync` says `running: false`. [`SyncRuns`] remembers how the
//! last triggered sync of each store went.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{scope_for, ApiPath};
use crate::http::auth::Principal;
use crate::http::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::AppState;
use crate::storage::{
    StoreId, StoreStatus, SyncRunRecord, SyncTrigger, STREAM_CATALOG, STREAM_OPEN_ORDERS,
    STREAM_ORDERS,
};
use crate::sync::scheduler::SyncInProgress;

/// How the API-triggered syncs of this process went, per store (whether one may start is
/// [`crate::sync::scheduler::SyncsInProgress`]'s to decide).
#[derive(Debug, Default)]
pub struct SyncRuns {
    runs: Mutex<HashMap<StoreId, LastRun>>,
}

/// How the last API-triggered sync of a store went.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LastRun {
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

impl SyncRuns {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<StoreId, LastRun>> {
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that a triggered sync of `store` started (the caller holds its claim).
    fn start(&self, store: StoreId, now: DateTime<Utc>) {
        self.lock().insert(
            store,
            LastRun {
                started_at: now,
                finished_at: None,
                outcome: "running".into(),
                error: None,
                orders_inserted: 0,
                orders_updated: 0,
                api_requests: 0,
            },
        );
    }

    fn finish(&self, store: StoreId, now: DateTime<Utc>, result: Result<[u64; 3], String>) {
        let mut runs = self.lock();
        if let Some(last) = runs.get_mut(&store) {
            last.finished_at = Some(now);
            match result {
                Ok([inserted, updated, requests]) => {
                    last.outcome = "ok".into();
                    last.orders_inserted = inserted;
                    last.orders_updated = updated;
                    last.api_requests = requests;
                }
                Err(error) => {
                    last.outcome = "failed".into();
                    last.error = Some(error);
                }
            }
        }
    }

    fn last(&self, store: StoreId) -> Option<LastRun> {
        self.lock().get(&store).cloned()
    }
}

/// Records the end of the run even if the sync task panics or is dropped, and holds the
/// store's claim until then.
struct RunGuard {
    runs: Arc<SyncRuns>,
    store: StoreId,
    state: AppState,
    done: bool,
    _claim: SyncInProgress,
}

impl RunGuard {
    fn finish(mut self, result: Result<[u64; 3], String>) {
        self.done = true;
        self.runs
            .finish(self.store, self.state.clock().now(), result);
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        if !self.done {
            self.runs.finish(
                self.store,
                self.state.clock().now(),
                Err("the sync stopped before it finished (the hub shut down or it crashed)".into()),
            );
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
    /// page (for BigCommerce, the last order id).
    pub cursor: Option<String>,
    /// When the window was finished (absent while in progress).
    pub completed_at: Option<DateTime<Utc>>,
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
    pub last_run: Option<LastRun>,
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
    let scope = scope_for(&state, &principal, store_id).await?;
    let mut streams = Vec::new();
    for stream in [STREAM_OPEN_ORDERS, STREAM_ORDERS, STREAM_CATALOG] {
        if let Some(cp) = state.storage.get_checkpoint(&scope, stream).await? {
            streams.push(StreamView {
                stream: cp.stream,
                window_start: cp.window_start,
                window_end: cp.window_end,
                cursor: cp.cursor,
                completed_at: cp.completed_at,
            });
        }
    }
    Ok(Json(SyncStatus {
        store_id,
        running: state.syncs_in_progress().contains(scope.store_id()),
        streams,
        last_run: state.syncs.last(scope.store_id()),
        history: state
            .storage
            .list_sync_runs(&scope, 20)
            .await?
            .into_iter()
            .map(SyncRunView::from)
            .collect(),
    }))
}

/// The answer to a trigger.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncTriggered {
    /// `started`, or `already_running` when a sync of the store (triggered, or started by the
    /// scheduler) is running in this process; nothing more is started then.
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
    let scope = scope_for(&state, &principal, store_id).await?;
    let store = state.storage.get_store(&scope).await?;
    if store.status != StoreStatus::Connected {
        return Err(ApiError::new(
            ErrorCode::StoreDisconnected,
            "the store is disconnected; reconnect it with `cenports connect` before syncing",
        ));
    }
    let id = scope.store_id();
    let Some(claim) = state.syncs_in_progress().try_begin(id) else {
        return Ok((
            StatusCode::ACCEPTED,
            Json(SyncTriggered {
                status: "already_running".into(),
            }),
        ));
    };
    state.syncs.start(id, state.clock().now());
    let guard = RunGuard {
        runs: state.syncs.clone(),
        store: id,
        state: state.clone(),
        done: false,
        _claim: claim,
    };
    tokio::spawn(async move {
        let state = guard.state.clone();
        let result = async {
            // On the store's shared limiter: the trigger's requests and the workers' pace
            // together against the one quota.
            let client = state
                .channels
                .client(&state.storage, &store)
                .await
                .map_err(|e| format!("{e:#}"))?;
            let outcome = crate::sync::sync_store_recorded(
                &state.storage,
                &scope,
                client.as_ref(),
                &state.sync_options,
                SyncTrigger::Api,
                |_| {},
            )
            .await;
            if let Some(left) = client.requests_left() {
                state.metrics.record_quota_left(id, left);
            }
            let report = outcome.map_err(|e| crate::sync::error_chain(&e))?;
            Ok::<_, String>([report.inserted, report.updated, report.api_requests])
        }
        .await;
        match &result {
            Ok(_) => state.metrics.record_api_sync("ok"),
            Err(error) => {
                tracing::warn!(store.id = id.get(), error = %error, "API-triggered sync failed");
                state.metrics.record_api_sync("failed");
            }
        }
        guard.finish(result);
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(SyncTriggered {
            status: "started".into(),
        }),
    ))
}
