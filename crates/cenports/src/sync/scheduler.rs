//! Syncing every connected store on an interval, until shutdown.
//!
//! [`run_scheduler`] is what `cenports sync --watch` runs, and what `serve` will run beside the
//! HTTP server. Each tick (the first at once, then every [`SchedulerConfig::interval`]):
//!
//! - lists the connected stores again, so a store connected or disconnected meanwhile is picked
//!   up or dropped without a restart, and rotated credentials are used at once;
//! - starts [`sync_store`] for each store that is **not already syncing**: a store whose sync
//!   outlasts the interval is skipped this tick, never run twice at once (one sync per store at a
//!   time keeps its checkpoint single-writer and its share of the store's quota to one walk).
//!   "Syncing" is [`SyncsInProgress`], which `serve` shares with the API's sync trigger, so a
//!   store synced by a trigger is skipped too, and a trigger during a scheduled sync answers
//!   `already_running`;
//! - runs at most [`SchedulerConfig::concurrency`] syncs at once (default 8); each client paces
//!   itself on its own store's rate-limit headers, so stores do not slow each other down;
//! - a store whose sync fails is logged once (a warning when the error first appears, debug while
//!   it repeats, info when the store recovers) and tried again next tick; the others carry on.
//!
//! With [`SchedulerConfig::reconcile_interval`] set (default hourly), a store's sync is followed
//! by a reconciliation pass ([`super::reconcile::reconcile_store`]) when the last one is that
//! old: one count request when nothing drifted. After each sync, the requests left in the
//! store's quota window as its client last saw them go to [`SchedulerConfig::metrics`]
//! (`cenports_bigcommerce_quota_left`).
//!
//! Shutdown stops the ticks and drops the syncs in flight. That is safe by construction: each
//! page is committed with its checkpoint in one transaction, an uncommitted one rolls back, and
//! the next run resumes at the checkpoint (DESIGN-NOTES note 1).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bigcommerce_client::Client;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::reconcile::reconcile_store;
use super::{sync_store_recorded, SyncOptions, SyncReport};
use crate::config::Settings;
use crate::credentials::{client_config, decrypt_credentials, CredentialsError};
use crate::storage::{Storage, StoreCredentials, StoreId, StoreRecord, StoreStatus, SyncTrigger};

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
    /// The process's per-store rate limiters, shared with its other tasks.
    pub limiters: StoreLimiters,
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
            limiters: StoreLimiters::default(),
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

/// What the scheduler did, by store (its BigCommerce hash), returned at shutdown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchedulerSummary {
    /// Ticks started.
    pub ticks: u64,
    /// Per store hash.
    pub stores: BTreeMap<String, StoreRuns>,
}

/// Builds the BigCommerce client of a stored store from its encrypted credentials, the way every
/// sync does (the CLI's `sync` too).
pub fn store_client_config(
    settings: &Settings,
    store: &StoreRecord,
    sealed: Option<&StoreCredentials>,
) -> Result<bigcommerce_client::ClientConfig> {
    let sealed = sealed.ok_or_else(|| CredentialsError::Disconnected {
        store_hash: store.remote_id.clone(),
    })?;
    let secret_box = settings.secret_box()?;
    let credentials = decrypt_credentials(&secret_box, &store.remote_id, sealed).context(
        "the key (secret_key or key_file setting) is not the one the store was saved with; \
         restore that key, or reconnect the store with `cenports connect`",
    )?;
    Ok(client_config(
        &settings.connect_settings(),
        store,
        &credentials,
    )?)
}

/// Reads the store's credentials and builds its client, with a rate limiter of its own (what a
/// one-shot command wants: it is the process's only user of the store).
pub async fn store_client(
    settings: &Settings,
    storage: &Storage,
    store: &StoreRecord,
) -> Result<Client> {
    let sealed = storage.get_store_credentials(&store.scope()).await?;
    let config = store_client_config(settings, store, sealed.as_ref())?;
    Client::new(config).context("could not build the BigCommerce client")
}

/// One rate limiter per store for every task of a process (DESIGN-NOTES note 3): the quota
/// belongs to the store, so the scheduler's walks, the webhook worker's targeted fetches and
/// the outbox worker's shipments of one store must count against the same share, in flight
/// included. Each reads the same `X-Rate-Limit-*` headers, but separate limiters would not see
/// each other's requests in flight and could overshoot together. `cenports serve` makes one and
/// hands it to each task; clone it freely (it is a handle).
#[derive(Debug, Clone, Default)]
pub struct StoreLimiters(Arc<Mutex<HashMap<StoreId, Arc<bigcommerce_client::RateLimiter>>>>);

impl StoreLimiters {
    /// A client for `store` that paces itself with the store's shared limiter.
    pub fn client(
        &self,
        store: StoreId,
        config: bigcommerce_client::ClientConfig,
    ) -> Result<Client> {
        let limiter = self
            .0
            .lock()
            .expect("not poisoned")
            .entry(store)
            .or_insert_with(|| {
                Arc::new(bigcommerce_client::RateLimiter::new(
                    config.pacing_enabled(),
                    config.quota_share,
                ))
            })
            .clone();
        Client::with_limiter(config, limiter).context("could not build the BigCommerce client")
    }

    /// The requests left in the store's quota window, as the last response to any client on
    /// the store's shared limiter said (the scheduler's, a trigger's, the webhook worker's, the
    /// outbox worker's); `None` before the first.
    pub fn requests_left(&self, store: StoreId) -> Option<u64> {
        let limiter = self.0.lock().expect("not poisoned").get(&store).cloned()?;
        limiter.stats().last_requests_left
    }

    /// Reads the store's credentials (fresh, so rotated credentials are used at once) and builds
    /// its client on the shared limiter.
    pub async fn store_client(
        &self,
        settings: &Settings,
        storage: &Storage,
        store: &StoreRecord,
    ) -> Result<Client> {
        let sealed = storage.get_store_credentials(&store.scope()).await?;
        let config = store_client_config(settings, store, sealed.as_ref())?;
        self.client(store.id(), config)
    }
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
    shutdown: impl Future<Output = ()>,
) -> Result<SchedulerSummary> {
    run_scheduler_with(
        settings,
        storage,
        SchedulerConfig::from_settings(settings),
        shutdown,
    )
    .await
}

/// [`run_scheduler`] with an explicit configuration (tests use short intervals).
pub async fn run_scheduler_with(
    settings: &Settings,
    storage: &Storage,
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
            let (settings, storage, options) = (settings.clone(), storage.clone(), options.clone());
            let (permits, summary) = (permits.clone(), summary.clone());
            let (limiters, metrics) = (config.limiters.clone(), config.metrics.clone());
            tasks.spawn(async move {
                // Frees the store however the task ends (done, panicked or aborted).
                let _syncing = syncing;
                let Ok(_permit) = permits.acquire_owned().await else {
                    return;
                };
                let outcome = sync_one(
                    &settings, &storage, &limiters, &metrics, &store, &options, reconcile,
                )
                .await;
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
    settings: &Settings,
    storage: &Storage,
    limiters: &StoreLimiters,
    metrics: &crate::metrics::Metrics,
    store: &StoreRecord,
    options: &SyncOptions,
    reconcile: bool,
) -> Result<SyncReport> {
    let client = limiters.store_client(settings, storage, store).await?;
    let outcome = sync_and_push(storage, store, client.clone(), options, reconcile).await;
    // Whatever the outcome, the last quota figure the client saw is the freshest there is.
    if let Some(left) = client.stats().last_requests_left {
        metrics.record_quota_left(store.id(), left);
    }
    outcome
}

/// A store's sync, its reconciliation when due, and the stock push that follows.
async fn sync_and_push(
    storage: &Storage,
    store: &StoreRecord,
    client: Client,
    options: &SyncOptions,
    reconcile: bool,
) -> Result<SyncReport> {
    let mut report = sync_store_recorded(
        storage,
        &store.scope(),
        &client,
        options,
        SyncTrigger::Scheduled,
        |_| {},
    )
    .await?;
    if reconcile {
        let repaired = reconcile_store(storage, &store.scope(), &client, options).await?;
        report.inserted += repaired.inserted;
        report.updated += repaired.updated;
    }
    // Stock follows the orders just imported (DESIGN-NOTES note 4): only SKUs whose available
    // quantity now differs from what the store last reported are written, so a store without
    // stock set in the hub, or with nothing changed, costs no request.
    let channel = crate::stock::bigcommerce::BigCommerceStock::new(client);
    let pushed = crate::stock::push_stock(storage, &store.scope(), &channel).await?;
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

#[cfg(test)]
mod limiter_tests {
    use super::*;
    use crate::storage::StoreId;

    fn config(hash: &str) -> bigcommerce_client::ClientConfig {
        bigcommerce_client::ClientConfig::new(
            hash,
            secrecy::SecretString::from("token-0123456789"),
            "client-id",
        )
    }

    #[test]
    fn every_client_of_a_store_paces_on_one_limiter_and_other_stores_on_their_own() {
        let limiters = StoreLimiters::default();
        let a1 = limiters
            .client(StoreId::from_raw(1), config("aaa"))
            .unwrap();
        let a2 = limiters
            .clone()
            .client(StoreId::from_raw(1), config("aaa"))
            .unwrap();
        let b = limiters
            .client(StoreId::from_raw(2), config("bbb"))
            .unwrap();
        assert!(Arc::ptr_eq(a1.limiter(), a2.limiter()));
        assert!(!Arc::ptr_eq(a1.limiter(), b.limiter()));
    }
}
