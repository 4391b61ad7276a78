//! A store's sync as the API and the dashboard start and show it: where its streams are, the
//! trigger, and how the last triggered sync went.
//!
//! The trigger only starts a sync in a spawned task and returns at once (the API answers `202
//! Accepted`, the dashboard goes back to the store's page); the sync itself is
//! [`crate::sync::sync_store`], the same one `cenports sync` and the scheduler run. One sync
//! per store at a time in the process: the trigger claims the store in
//! [`crate::sync::scheduler::SyncsInProgress`], the same guard the scheduler claims before each
//! scheduled sync (`serve` gives both the same one), so a trigger while the store syncs —
//! triggered or scheduled — is [`Triggered::AlreadyRunning`] and starts nothing. That sync is
//! already importing whatever the trigger would have; an operator who wants one more pass
//! after it triggers again once the status says it is not running. [`SyncRuns`] remembers how
//! the last triggered sync of each store went.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::stores::scope_for;
use super::{AppState, ServiceError};
use crate::accounts::StoreAccess;
use crate::storage::{
    Checkpoint, JobKind, StoreId, StoreStatus, SyncRunRecord, SyncTrigger, STREAM_CATALOG,
    STREAM_OPEN_ORDERS, STREAM_ORDERS,
};
use crate::sync::scheduler::SyncInProgress;

/// How the syncs triggered through the API or the dashboard in this process went, per store
/// (whether one may start is [`crate::sync::scheduler::SyncsInProgress`]'s to decide).
#[derive(Debug, Default)]
pub struct SyncRuns {
    runs: Mutex<HashMap<StoreId, LastRun>>,
}

/// How the last triggered sync of a store went.
#[derive(Debug, Clone)]
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

/// Where a store's sync is.
#[derive(Debug)]
pub struct SyncStatus {
    /// Whether a sync of the store is running in this process: triggered through the API or
    /// the dashboard, or started by the scheduler.
    pub running: bool,
    /// The checkpoints of the streams that have started, in the order a sync walks them.
    pub streams: Vec<Checkpoint>,
    /// The last sync triggered through the API or the dashboard in this process.
    pub last_run: Option<LastRun>,
    /// The store's newest syncs, newest first (at most 20), whoever started them and in any
    /// process: the sync history.
    pub history: Vec<SyncRunRecord>,
}

/// Where the store's sync is: each stream's window and cursor, the last triggered run, and
/// the sync history.
pub async fn sync_status(
    state: &AppState,
    access: StoreAccess,
    store_id: i64,
) -> Result<SyncStatus, ServiceError> {
    let scope = scope_for(state, access, store_id).await?;
    let mut streams = Vec::new();
    for stream in [STREAM_OPEN_ORDERS, STREAM_ORDERS, STREAM_CATALOG] {
        if let Some(cp) = state.storage.get_checkpoint(&scope, stream).await? {
            streams.push(cp);
        }
    }
    Ok(SyncStatus {
        running: state.syncs_in_progress().contains(scope.store_id()),
        streams,
        last_run: state.syncs.last(scope.store_id()),
        history: state.storage.list_sync_runs(&scope, 20).await?,
    })
}

/// What a trigger did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Triggered {
    /// A sync of the store started in the background.
    Started,
    /// A sync of the store (triggered, or started by the scheduler) is running in this
    /// process; nothing more was started.
    AlreadyRunning,
    /// Another process of the fleet holds the store: the sync was queued for it (it starts
    /// within a second or so; its outcome is in the store's sync history).
    Queued,
}

/// Starts a sync of the store now, in a spawned task, and returns at once; its outcome is in
/// [`sync_status`] (`last_run`) when it ends. While a sync of the store runs in this process
/// (triggered or scheduled), starts nothing. A disconnected store is
/// [`ServiceError::StoreDisconnected`].
pub async fn trigger_sync(
    state: &AppState,
    access: StoreAccess,
    store_id: i64,
) -> Result<Triggered, ServiceError> {
    let scope = scope_for(state, access, store_id).await?;
    let store = state.storage.get_store(&scope).await?;
    if store.status != StoreStatus::Connected {
        return Err(ServiceError::StoreDisconnected);
    }
    let id = scope.store_id();
    if let Some((fleet, wake)) = &state.fleet {
        if !fleet.holds(&store) {
            state
                .storage
                .enqueue_job(id, JobKind::Sync, "", "api", std::time::Duration::ZERO)
                .await?;
            wake.notify_one();
            return Ok(Triggered::Queued);
        }
    }
    let Some(claim) = state.syncs_in_progress().try_begin(id) else {
        return Ok(Triggered::AlreadyRunning);
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
    Ok(Triggered::Started)
}
