//! Syncing every connected store on an interval, until shutdown.
//!
//! [`run_scheduler`] is what `cenports sync --watch` runs; `serve` and `worker` run the same
//! loop ([`run_scheduler_with`]) beside their other roles.
//!
//! - **Only the stores this process holds** ([`crate::fleet`]): several processes on one
//!   database split the stores through their leases, so no store is walked by two of them. A
//!   lease covers one channel store, every user's row of it; those rows sync one after the
//!   other, on the store's one quota.
//! - **Each store on its own schedule**: a store is due an interval after its last sync
//!   started, here or in the process that held it before (the start is recorded with the
//!   lease, [`Storage::mark_polled`], which is also the fence: a process that lost the lease
//!   does not start). Stores so spread over the interval instead of all starting on one tick.
//! - The store list is read again every interval (at most every 10 s) and whenever the held
//!   leases change, so a store connected or disconnected meanwhile is picked up or dropped
//!   without a restart, and rotated credentials are used at once.
//! - A store whose sync is still running when it is due again is skipped for that interval,
//!   never run twice at once (one sync per store at a time keeps its checkpoint single-writer
//!   and its share of the store's quota to one walk). "Syncing" is [`SyncsInProgress`], which
//!   `serve` shares with the API's sync trigger, so a store synced by a trigger is skipped too,
//!   and a trigger during a scheduled sync answers `already_running`.
//! - At most [`SchedulerConfig::concurrency`] syncs run at once (default 8); each store's
//!   client (from the process's [`Channels`] registry) paces itself on its own store's limiter,
//!   so stores do not slow each other down.
//! - A store whose sync fails is logged once (a warning when the error first appears, debug while
//!   it repeats, info when the store recovers) and tried again next interval; the others carry on.
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
use crate::fleet::{store_key, Fleet, StoreKey};
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
    /// The process's membership of the fleet (`serve` and `worker` share theirs with the
    /// outbox and the webhook jobs): only the stores whose lease it holds are synced. `None`:
    /// the scheduler joins the fleet itself while it runs, with leases of `lease_period`.
    pub fleet: Option<Fleet>,
    /// The lease period of the scheduler's own membership (default [`Settings::lease_period`]).
    pub lease_period: Duration,
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
            fleet: None,
            lease_period: settings.lease_period,
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
    // Without a process-wide membership (`cenports sync --watch`, tests), the scheduler joins
    // the fleet itself for as long as it runs, and leaves it (releasing its leases) at the end.
    let (fleet, membership) = match config.fleet.clone() {
        Some(fleet) => (fleet, None),
        None => {
            let fleet = Fleet::new("sync", config.lease_period, interval, true);
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let (member, storage) = (fleet.clone(), storage.clone());
            let task = tokio::spawn(async move {
                member
                    .run(storage, async {
                        let _ = stopped.await;
                    })
                    .await
            });
            (fleet, Some((stop, task)))
        }
    };
    let summary = schedule(storage, channels, &config, interval, &fleet, shutdown).await;
    if let Some((stop, task)) = membership {
        let _ = stop.send(());
        let _ = task.await;
    }
    Ok(summary)
}

/// The scheduler's loop. Every tick (a tenth of the interval, at most a second) it starts the
/// syncs that are due among the stores this process holds; the store list is read again every
/// interval (at most every 10 s) and whenever the held leases change.
async fn schedule(
    storage: &Storage,
    channels: &Channels,
    config: &SchedulerConfig,
    interval: Duration,
    fleet: &Fleet,
    shutdown: impl Future<Output = ()>,
) -> SchedulerSummary {
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let in_progress = config.in_progress.clone();
    let mut reconciled: HashMap<StoreId, Instant> = HashMap::new();
    let summary: Arc<Mutex<SchedulerSummary>> = Arc::default();
    let options = Arc::new(config.options.clone());
    let mut tasks = JoinSet::new();
    let tick = (interval / 10).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let refresh_every = interval.min(Duration::from_secs(10));
    // Two scheduled syncs of a store start at least this far apart, whichever processes run
    // them (the database checks it when a sync starts): an interval, less a tick of slack.
    let gap = interval.saturating_sub(tick);
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut changes = fleet.changes();
    // The stores by channel store (one lease covers every user's row of it), read again
    // every `refresh_every` and whenever the leases change.
    let mut stores: BTreeMap<StoreKey, Vec<StoreRecord>> = BTreeMap::new();
    let mut read_at: Option<Instant> = None;
    // When each channel store's last sync started here (the fleet knows the ones before).
    let mut started: HashMap<StoreKey, Instant> = HashMap::new();
    tracing::info!(
        sync.interval_ms = interval.as_millis() as u64,
        sync.concurrency = config.concurrency.max(1),
        fleet.process = %fleet.id(),
        "scheduler: started"
    );
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = ticker.tick() => {}
            Ok(()) = changes.changed() => read_at = None,
            // Reap finished syncs so the set does not grow; their outcome is already recorded.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        }
        if read_at.is_none_or(|at| at.elapsed() >= refresh_every) {
            match storage.list_all_stores().await {
                Ok(all) => {
                    stores.clear();
                    for store in all {
                        if store.status != StoreStatus::Disconnected {
                            stores.entry(store_key(&store)).or_default().push(store);
                        }
                    }
                    read_at = Some(Instant::now());
                    summary.lock().expect("not poisoned").ticks += 1;
                }
                Err(error) => {
                    // The database is shared by every store: nothing to do until it answers.
                    tracing::warn!(error = %error, "scheduler: could not list the stores; next tick");
                    continue;
                }
            }
        }
        let held = fleet.held_stores();
        for (key, rows) in &stores {
            let Some(polled) = held.get(key) else {
                continue;
            };
            let last = started.get(key).copied().max(*polled);
            if last.is_some_and(|last| last.elapsed() < interval) {
                continue;
            }
            // Due. A store still syncing from an earlier start is skipped for this interval,
            // never synced twice at once.
            started.insert(key.clone(), Instant::now());
            let mut marks = Vec::new();
            for store in rows {
                let id = store.scope().store_id();
                match in_progress.try_begin(id) {
                    Some(mark) => marks.push((store.clone(), mark)),
                    None => {
                        let mut summary = summary.lock().expect("not poisoned");
                        summary
                            .stores
                            .entry(store.remote_id.clone())
                            .or_default()
                            .skipped_busy += 1;
                        tracing::debug!(store.id = id.get(), "scheduler: still syncing, skipped");
                    }
                }
            }
            if marks.is_empty() {
                continue;
            }
            fleet.note_polled(key);
            let mut runs = Vec::with_capacity(marks.len());
            for (store, mark) in marks {
                let id = store.scope().store_id();
                let reconcile = config.reconcile_interval.is_some_and(|every| {
                    reconciled
                        .get(&id)
                        .is_none_or(|last| last.elapsed() >= every)
                });
                if reconcile {
                    reconciled.insert(id, Instant::now());
                }
                runs.push((store, mark, reconcile));
            }
            let (channels, storage, options) = (channels.clone(), storage.clone(), options.clone());
            let (permits, summary) = (permits.clone(), summary.clone());
            let (metrics, fleet, key) = (config.metrics.clone(), fleet.clone(), key.clone());
            tasks.spawn(async move {
                let Ok(_permit) = permits.acquire_owned().await else {
                    return;
                };
                // The fence: only the lease's holder syncs, and the start is recorded for the
                // next holder's schedule.
                match storage.mark_polled(&key.0, &key.1, fleet.id(), gap).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::debug!(
                            store = %key.1,
                            "scheduler: lease lost, or the store was synced within the interval \
                             by its previous holder; skipped"
                        );
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, "scheduler: could not record the sync's start; next interval");
                        return;
                    }
                }
                // The users' rows of one channel store sync one after the other: one walk at a
                // time on the store's one quota.
                for (store, mark, reconcile) in runs {
                    // Frees the store however the task ends (done, panicked or aborted).
                    let _syncing = mark;
                    let outcome =
                        sync_one(&storage, &channels, &metrics, &store, &options, reconcile).await;
                    record(&summary, &store, outcome);
                }
            });
        }
    }
    tracing::info!(in_flight = tasks.len(), "scheduler: shutting down");
    tasks.shutdown().await;
    let summary = summary.lock().expect("not poisoned").clone();
    summary
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
