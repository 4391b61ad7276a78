//! Syncing every connected store on an interval, until shutdown.
//!
//! [`run_scheduler`] is what `cenports sync --watch` runs; `serve` and `worker` run the same
//! loop ([`run_scheduler_with`]) beside their other roles. Each tick (the first at once, then
//! every [`SchedulerConfig::interval`]):
//!
//! - lists the connected stores again, so a store connected or disconnected meanwhile is picked
//!   up or dropped without a restart, and rotated credentials are used at once;
//! - starts [`sync_store`] for each store that is **not already syncing**: a store whose sync
//!   outlasts the interval is skipped this tick, never run twice at once (one sync per store at a
//!   time keeps its checkpoint single-writer and its share of the store's quota to one walk).
//!   "Syncing" is [`SyncsInProgress`], which `serve` shares with the API's sync trigger, so a
//!   store synced by a trigger is skipped too, and a trigger during a scheduled sync answers
//!   `already_running`;
//! - runs at most [`SchedulerConfig::concurrency`] syncs at once (default 8); each store's
//!   client (from the process's [`Channels`] registry) paces itself on its own store's limiter,
//!   so stores do not slow each other down;
//! - a store whose sync fails is logged once (a warning when the error first appears, debug while
//!   it repeats, info when the store recovers) and tried again next tick; the others carry on.
//!
//! With [`SchedulerConfig::reconcile_interval`] set (default hourly), a store's sync is followed
//! by a reconciliation pass ([`super::reconcile::reconcile_store`]) when the last one is that
//! old: one count request when nothing drifted. After each sync, the requests left in the
//! store's quota window as its client last saw them go to [`SchedulerConfig::metrics`]
//! (`cenports_store_quota_left`).
//!
//! Shutdown stops the ticks and drops the syncs in flight. That is safe by construction: each
//! page is committed with its checkpoint in one transaction, an uncommitted one rolls back, and
//! the next run resumes at the checkpoint (`docs/HARD-PROBLEMS.md` note 1).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::reconcile::reconcile_store;
use super::{sync_store_recorded, SyncOptions, SyncReport};
use crate::channel::{Channels, StoreClient};
use crate::config::Settings;
use crate::storage::{Storage, StoreId, StoreRecord, StoreStatus, SyncTrigger};

/// How often each store is reconciled when nothing else is configured.
pub const DEFAULT_RECONCILE_INTERVAL: Duration = Duration::from_secs(3600);

/// Syncs at once when nothing else is configured.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// How the scheduler runs. [`SchedulerConfig::from_settings`] is what production uses.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Time between the starts of two ticks (default [`Settings::sync_interval`]).
    pub interval: Duration,
    /// Syncs running at once, across stores (at least 1; default [`DEFAULT_CONCURRENCY`]).
    pub concurrency: usize,
    /// Options of every sync.
    pub options: SyncOptions,
    /// Reconcile a store after its sync when its last reconciliation is at least this old (the
    /// first one after the scheduler starts); `None`: never.
    pub reconcile_interval: Option<Duration>,
    /// The stores this process is syncing, shared with the API's sync trigger (`serve`).
    pub in_progress: SyncsInProgress,
    /// The process's counters: the quota left each store's client last saw is recorded here.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl SchedulerConfig {
    /// The settings' interval, [`DEFAULT_CONCURRENCY`] and default sync options.
    pub fn from_settings(settings: &Settings) -> Self {
        SchedulerConfig {
            interval: settings.sync_interval,
            concurrency: DEFAULT_CONCURRENCY,
            options: SyncOptions::default(),
            reconcile_interval: Some(DEFAULT_RECONCILE_INTERVAL),
            in_progress: SyncsInProgress::default(),
            metrics: Arc::default(),
        }
    }
}

/// What one store's syncs did while the scheduler ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreRuns {
    /// Syncs that completed.
    pub succeeded: u64,
    /// Syncs that failed.
    pub failed: u64,
    /// Ticks at which the store was still syncing from an earlier tick.
    pub skipped_busy: u64,
    /// The last error, when the last sync failed.
    pub last_error: Option<String>,
    /// Orders written (inserted + updated) over all runs.
    pub orders_written: u64,
}

/// What the scheduler did, by store (its channel's store key), returned at shutdown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchedulerSummary {
    /// Ticks started.
    pub ticks: u64,
    /// Per store key.
    pub stores: BTreeMap<String, StoreRuns>,
}

/// The stores a process is syncing now, whoever started the sync (the scheduler, or a trigger
/// through the API or the dashboard): at most one sync per store at a time in the process.
/// Clone it freely (it is a handle); `serve` gives the same one to the scheduler and to the
/// API's state.
///
/// It is per process: two processes on one database (`serve` and `worker`, both polling) can
/// still walk a store at once. That is safe (every page is an idempotent upsert committed with
/// its checkpoint) and only spends quota twice; `docs/OPERATIONS.md` says to poll from one.
#[derive(Debug, Clone, Default)]
pub struct SyncsInProgress(Arc<Mutex<HashSet<StoreId>>>);

impl SyncsInProgress {
    /// Marks `store` as syncing, unless it already is (`None` then). The mark is removed when
    /// the returned value is dropped, however the sync ends (done, failed, panicked, aborted).
    pub fn try_begin(&self, store: StoreId) -> Option<SyncInProgress> {
        let mut set = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !set.insert(store) {
            return None;
        }
        Some(SyncInProgress {
            set: self.0.clone(),
            store,
        })
    }

    /// Whether a sync of `store` is running in this process.
    pub fn contains(&self, store: StoreId) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&store)
    }
}

/// A store marked as syncing in [`SyncsInProgress`], unmarked on drop.
#[derive(Debug)]
pub struct SyncInProgress {
    set: Arc<Mutex<HashSet<StoreId>>>,
    store: StoreId,
}

impl Drop for SyncInProgress {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.store);
    }
}

/// Syncs every connected store every [`Settings::sync_interval`] until `shutdown` resolves.
pub async fn run_scheduler(
    settings: &Settings,
    storage: &Storage,
    channels: &Channels,
    shutdown: impl Future<Output = ()>,
) -> Result<SchedulerSummary> {
    run_scheduler_with(
        storage,
        channels,
        SchedulerConfig::from_settings(settings),
        shutdown,
    )
    .await
}

/// [`run_scheduler`] with an explicit configuration (tests use short intervals).
pub async fn run_scheduler_with(
    storage: &Storage,
    channels: &Channels,
    config: SchedulerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<SchedulerSummary> {
    let interval = config.interval.max(Duration::from_millis(10));
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let in_progress = config.in_progress.clone();
    let mut reconciled: HashMap<StoreId, Instant> = HashMap::new();
    let summary: Arc<Mutex<SchedulerSummary>> = Arc::default();
    let options = Arc::new(config.options);
    let mut tasks = JoinSet::new();
    let mut ticker = tokio::time::interval(interval);
    // A tick that comes late (a slow listing) does not cause a burst of catch-up ticks.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!(
        sync.interval_ms = interval.as_millis() as u64,
        sync.concurrency = config.concurrency.max(1),
        "scheduler: started"
    );
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = ticker.tick() => {}
            // Reap finished syncs so the set does not grow; their outcome is already recorded.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        }
        summary.lock().expect("not poisoned").ticks += 1;
        let stores = match storage.list_all_stores().await {
            Ok(stores) => stores,
            Err(error) => {
                // The database is shared by every store: nothing to do until it answers.
                tracing::warn!(error = %error, "scheduler: could not list the stores; next tick");
                continue;
            }
        };
        for store in stores {
            if store.status == StoreStatus::Disconnected {
                continue;
            }
            let id = store.scope().store_id();
            let Some(syncing) = in_progress.try_begin(id) else {
                let mut summary = summary.lock().expect("not poisoned");
                summary
                    .stores
                    .entry(store.remote_id.clone())
                    .or_default()
                    .skipped_busy += 1;
                tracing::debug!(store.id = id.get(), "scheduler: still syncing, skipped");
                continue;
            };
            let reconcile = config.reconcile_interval.is_some_and(|every| {
                reconciled
                    .get(&id)
                    .is_none_or(|last| last.elapsed() >= every)
            });
            if reconcile {
                reconciled.insert(id, Instant::now());
            }
            let (channels, storage, options) = (channels.clone(), storage.clone(), options.clone());
            let (permits, summary) = (permits.clone(), summary.clone());
            let metrics = config.metrics.clone();
            tasks.spawn(async move {
                // Frees the store however the task ends (done, panicked or aborted).
                let _syncing = syncing;
                let Ok(_permit) = permits.acquire_owned().await else {
                    return;
                };
                let outcome =
                    sync_one(&storage, &channels, &metrics, &store, &options, reconcile).await;
                record(&summary, &store, outcome);
            });
        }
    }
    tracing::info!(in_flight = tasks.len(), "scheduler: shutting down");
    tasks.shutdown().await;
    let summary = summary.lock().expect("not poisoned").clone();
    Ok(summary)
}

async fn sync_one(
    storage: &Storage,
    channels: &Channels,
    metrics: &crate::metrics::Metrics,
    store: &StoreRecord,
    options: &SyncOptions,
    reconcile: bool,
) -> Result<SyncReport> {
    let client = channels.client(storage, store).await?;
    let outcome = sync_and_push(storage, store, client.as_ref(), options, reconcile).await;
    // Whatever the outcome, the last quota figure the client saw is the freshest there is.
    if let Some(left) = client.requests_left() {
        metrics.record_quota_left(store.id(), left);
    }
    outcome
}

/// A store's sync, its reconciliation when due, and the stock push that follows.
async fn sync_and_push(
    storage: &Storage,
    store: &StoreRecord,
    client: &dyn StoreClient,
    options: &SyncOptions,
    reconcile: bool,
) -> Result<SyncReport> {
    let mut report = sync_store_recorded(
        storage,
        &store.scope(),
        client,
        options,
        SyncTrigger::Scheduled,
        |_| {},
    )
    .await?;
    if reconcile {
        let repaired = reconcile_store(storage, &store.scope(), client, options).await?;
        report.inserted += repaired.inserted;
        report.updated += repaired.updated;
    }
    // Stock follows the orders just imported (`docs/HARD-PROBLEMS.md` note 4): only SKUs whose
    // available quantity now differs from what the store last reported are written, so a store
    // without stock set in the hub, or with nothing changed, costs no request.
    let pushed = crate::stock::push_stock(storage, &store.scope(), client).await?;
    if let Some(error) = &pushed.aborted {
        tracing::warn!(
            store.id = store.scope().store_id().get(),
            error = %error,
            "scheduler: the stock push stopped; the next run tries again"
        );
    }
    Ok(report)
}

/// Records a sync's outcome and logs it: a failure once when it first appears (or changes),
/// at debug while it repeats, and the recovery at info.
fn record(summary: &Mutex<SchedulerSummary>, store: &StoreRecord, outcome: Result<SyncReport>) {
    let id = store.scope().store_id().get();
    let mut summary = summary.lock().expect("not poisoned");
    let runs = summary.stores.entry(store.remote_id.clone()).or_default();
    match outcome {
        Ok(report) => {
            runs.succeeded += 1;
            runs.orders_written += report.inserted + report.updated;
            if runs.last_error.take().is_some() {
                tracing::info!(store.id = id, "scheduler: store syncs again");
            }
            tracing::debug!(
                store.id = id,
                sync.inserted = report.inserted,
                sync.updated = report.updated,
                sync.api_requests = report.api_requests,
                duration_ms = report.elapsed.as_millis() as u64,
                "scheduler: store synced"
            );
        }
        Err(error) => {
            runs.failed += 1;
            let message = format!("{error:#}");
            if runs.last_error.as_deref() == Some(message.as_str()) {
                tracing::debug!(store.id = id, error = %message, "scheduler: sync failed again");
            } else {
                tracing::warn!(
                    store.id = id,
                    error = %message,
                    "scheduler: sync failed; retried next interval"
                );
            }
            runs.last_error = Some(message);
        }
    }
}
