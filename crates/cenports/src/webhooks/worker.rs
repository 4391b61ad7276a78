//! The job worker: turns queued jobs into fetches, in the process that holds the store's lease.
//!
//! Jobs live in the database (`jobs`, [`crate::storage::Storage::claim_jobs`]): the receiver
//! (in any `serve` process) queues them in the same transaction as the callback's receipt, and
//! this worker (in whichever process holds the store's lease, [`crate::fleet`]) claims them. A
//! process killed with jobs queued or claimed loses nothing: queued jobs wait for the next
//! holder, claimed ones are claimed again when their claim ends.
//!
//! - An **order** job reads that order with its lines ([`crate::sync::targeted::import_order`])
//!   and saves it through the sync's own save path; a **product** job reads that product with
//!   its SKUs and upserts it and its SKU index entries.
//! - **Coalescing**: a hint for a resource that already waits is not queued again (the waiting
//!   fetch reads the latest version anyway). A hint that arrives while the same resource is
//!   being fetched is kept, because the change may have come after the read.
//! - **Backpressure**: when a store's waiting order hints are more than its quota can fetch one
//!   at a time within [`WorkerConfig::horizon`], the worker queues a **walk** instead: one
//!   incremental order walk (a request reads up to 250 changed orders) that replaces every hint
//!   queued before it started. The walk is due once it covers every hint waiting when it was
//!   queued (the newest is then the settle delay and a second old), so walks do not follow one
//!   another each covering a sliver. While a walk waits or runs, the store's order hints are
//!   not claimed. The receiver bounds each store's waiting hints ([`crate::webhooks::MAX_HINTS_PER_STORE`]);
//!   past the bound it queues a walk instead of one more hint.
//! - A **sync** job is a full sync asked for through the API or the dashboard in a process that
//!   does not hold the store: it runs here, on the store's one limiter.
//! - At most [`WorkerConfig::concurrency`] jobs run at once; each store's client comes from the
//!   process's [`Channels`] registry, so its pacing spans the jobs of that store and the
//!   process's other tasks.
//! - A failed job is tried again with a growing delay, [`WorkerConfig::max_attempts`] times,
//!   then dropped: the callback was acknowledged, and the polling walk (the source of truth)
//!   brings the change in. Disconnected stores' jobs are dropped.
//! - Every finished job is reported on an optional broadcast channel ([`Processed`]), which the
//!   benchmarks use to time webhook-to-visible latency and count fetches and walks, and tests
//!   use to wait deliberately.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, Notify};
use tokio::task::JoinSet;

use crate::channel::{with_priority, Channels, Hint, Priority, StatusMapping, StoreClient};
use crate::fleet::Fleet;
use crate::storage::{JobKind, JobRow, Storage, StoreId, StoreRecord, StoreStatus, SyncTrigger};
use crate::sync::scheduler::SyncsInProgress;
use crate::sync::targeted::{import_order, import_product, ProductOutcome, TargetedOutcome};
use crate::sync::SyncOptions;

/// Jobs at once when nothing else is configured.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs running at once, across stores (at least 1).
    pub concurrency: usize,
    /// The stores' overrides of their channel's status → fulfilment state table.
    pub status_overrides: StatusMapping,
    /// How often an idle worker looks for jobs queued by another process (a job queued by this
    /// process's receiver wakes it at once).
    pub poll: Duration,
    /// How long a claim holds a job; a process that dies holding one lets it go after this.
    pub claim: Duration,
    /// Claims of one job before it is dropped (polling then brings the change in).
    pub max_attempts: i32,
    /// The backlog a store's quota must be able to fetch one order at a time within this long;
    /// a longer one is replaced by a walk.
    pub horizon: Duration,
    /// Options of the walks and syncs the worker runs.
    pub sync_options: SyncOptions,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: DEFAULT_CONCURRENCY,
            status_overrides: StatusMapping::default(),
            poll: Duration::from_millis(250),
            claim: Duration::from_secs(120),
            max_attempts: 5,
            horizon: Duration::from_secs(10),
            sync_options: SyncOptions::default(),
        }
    }
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// The resource was read and saved (possibly unchanged).
    Saved,
    /// The channel has no such resource.
    NotFound,
    /// Dropped: another job for the same resource was already waiting.
    Coalesced,
    /// Dropped: the store is gone or disconnected.
    Skipped,
    /// The fetch or the save failed (logged; tried again until `max_attempts`).
    Failed,
}

/// A finished job, for observers.
#[derive(Debug, Clone)]
pub struct Processed {
    /// The store.
    pub store: StoreId,
    /// What the job was.
    pub kind: JobKind,
    /// What was fetched: the hint of an order or product job, `None` for a walk or a sync.
    pub target: Option<Hint>,
    /// How it ended.
    pub outcome: JobOutcome,
    /// When the receiver accepted the callback (by this host's clock, from the database's).
    pub received_at: Instant,
    /// When the save committed (or the job ended).
    pub finished_at: Instant,
}

/// What the worker shares with the rest of its process.
#[derive(Clone)]
pub struct WorkerContext {
    /// The database.
    pub storage: Storage,
    /// The process's clients and limiters.
    pub channels: Channels,
    /// The process's membership: only the held stores' jobs are claimed.
    pub fleet: Fleet,
    /// The stores syncing in this process (a walk or a sync never runs beside another sync).
    pub in_progress: SyncsInProgress,
    /// Woken by this process's receiver when it queues a job.
    pub wake: Arc<Notify>,
    /// Finished hints, when someone listens.
    pub observer: Option<broadcast::Sender<Processed>>,
}

/// Runs until `shutdown` resolves; jobs in flight are then awaited (each is one or two requests
/// and one transaction, or a walk, which stops between pages).
pub async fn run_worker(
    context: WorkerContext,
    config: WorkerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let config = Arc::new(config);
    let mut tasks = JoinSet::new();
    let mut last_backlog_check: Option<Instant> = None;
    let mut failing = false;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            () = context.wake.notified() => {}
            () = tokio::time::sleep(config.poll) => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
        if context.fleet.held_count() == 0 {
            continue;
        }
        if last_backlog_check.is_none_or(|at| at.elapsed() >= config.poll) {
            last_backlog_check = Some(Instant::now());
            if let Err(error) = replace_backlogs_with_walks(&context, &config).await {
                tracing::warn!(error = %format!("{error:#}"), "webhooks: could not read the job backlog");
            }
        }
        let free = config.concurrency.max(1).saturating_sub(tasks.len());
        if free == 0 {
            continue;
        }
        let jobs = match context
            .storage
            .claim_jobs(context.fleet.id(), config.claim, free as i64)
            .await
        {
            Ok(jobs) => {
                if std::mem::take(&mut failing) {
                    tracing::info!("webhooks: jobs can be claimed again");
                }
                jobs
            }
            Err(error) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(error = %error, "webhooks: could not claim jobs; retrying");
                }
                continue;
            }
        };
        let claimed = jobs.len();
        for job in jobs {
            let (context, config) = (context.clone(), config.clone());
            tasks.spawn(async move { run_job(&context, &config, job).await });
        }
        if claimed == free {
            // More may be waiting: look again at once.
            context.wake.notify_one();
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// Queues a walk for every held store whose waiting order hints are more than its quota can
/// fetch one at a time within the horizon.
async fn replace_backlogs_with_walks(
    context: &WorkerContext,
    config: &WorkerConfig,
) -> anyhow::Result<()> {
    let backlogs = context
        .storage
        .job_backlog(Some(context.fleet.id()))
        .await?;
    for backlog in backlogs {
        if backlog.walk_queued || backlog.hints == 0 {
            continue;
        }
        let limit = match context.storage.find_store(backlog.store_id).await? {
            Some(store) if store.status == StoreStatus::Connected => {
                let client = context.channels.client(&context.storage, &store).await?;
                fetchable_within(client.as_ref(), config.horizon)
            }
            _ => continue,
        };
        if backlog.hints > limit {
            // A walk covers only the hints queued more than the settle delay (and a second)
            // before it starts: one due at once would read a whole window for the few it
            // covers, then another would follow, and another. So the walk is due when it
            // covers every hint waiting now; those queued meanwhile are the next walk's.
            let newest = Duration::from_millis(backlog.newest_hint_age_ms.max(0) as u64);
            let delay = walk_coverage(&config.sync_options).saturating_sub(newest);
            let queued = context
                .storage
                .enqueue_job(backlog.store_id, JobKind::Walk, "", "", delay)
                .await?;
            tracing::info!(
                store.id = backlog.store_id.get(),
                webhooks.hints = backlog.hints,
                webhooks.fetchable = limit,
                webhooks.walk = ?queued,
                webhooks.walk_in_ms = delay.as_millis() as u64,
                "webhooks: backlog too long for single fetches; one walk replaces it"
            );
        }
    }
    Ok(())
}

/// Requests one targeted order import takes (the order, then its lines).
const REQUESTS_PER_ORDER: u64 = 2;

/// How long before its start a walk covers the hints: the settle delay (the walk's window ends
/// that long before the store's clock) and a second for the store's whole-second clock.
fn walk_coverage(options: &SyncOptions) -> Duration {
    options.settle.max(Duration::from_secs(1)) + Duration::from_secs(1)
}

/// Orders the store's quota can fetch one at a time within `horizon`: its requests per second,
/// as the channel last said (its quota over its window), over [`REQUESTS_PER_ORDER`]; at least
/// 10 while the quota is unknown.
pub fn fetchable_within(client: &dyn StoreClient, horizon: Duration) -> i64 {
    let pacing = client.pacing();
    match (pacing.quota, pacing.window) {
        (Some(quota), Some(window)) if !window.is_zero() => {
            let per_second = quota as f64 / window.as_secs_f64();
            ((per_second * horizon.as_secs_f64()) as u64 / REQUESTS_PER_ORDER).max(1) as i64
        }
        _ => 10,
    }
}

async fn run_job(context: &WorkerContext, config: &WorkerConfig, job: JobRow) {
    let claimed_at = Instant::now();
    let id = job.store_id.get();
    let storage = &context.storage;
    let process = context.fleet.id();
    let store = match storage.find_store(job.store_id).await {
        Ok(Some(store)) if store.status == StoreStatus::Connected => store,
        Ok(_) => {
            finish(storage, &job, process).await;
            notify(context, &job, claimed_at, JobOutcome::Skipped);
            return;
        }
        Err(error) => {
            tracing::warn!(store.id = id, error = %error, "webhooks: could not read the store; job retried");
            retry(storage, config, &job, process, &error.to_string()).await;
            return;
        }
    };
    // On the store's one quota: hints and the walks that replace them come right after
    // shipments; a sync asked for through the API ranks as the scheduler's would.
    let result = match job.kind {
        JobKind::Order | JobKind::Product => {
            with_priority(Priority::Hint, fetch(context, config, &store, &job)).await
        }
        JobKind::Walk => with_priority(Priority::Hint, walk(context, config, &store, &job)).await,
        JobKind::Sync => walk(context, config, &store, &job).await,
    };
    match result {
        Ok(outcome) => {
            finish(storage, &job, process).await;
            notify(context, &job, claimed_at, outcome);
        }
        Err(error) => {
            let message = format!("{error:#}");
            if job.attempts >= config.max_attempts {
                tracing::warn!(
                    store.id = id,
                    job.kind = job.kind.as_str(),
                    job.target = %job.target,
                    error = %message,
                    "webhooks: job failed {} times, dropped; polling brings the change in",
                    job.attempts
                );
                finish(storage, &job, process).await;
                notify(context, &job, claimed_at, JobOutcome::Failed);
            } else {
                tracing::debug!(store.id = id, job.kind = job.kind.as_str(), error = %message, "webhooks: job failed; retried");
                retry(storage, config, &job, process, &message).await;
            }
        }
    }
}

/// One order or one product, fetched and saved.
async fn fetch(
    context: &WorkerContext,
    config: &WorkerConfig,
    store: &StoreRecord,
    job: &JobRow,
) -> anyhow::Result<JobOutcome> {
    let storage = &context.storage;
    let client = context.channels.client(storage, store).await?;
    let scope = store.scope();
    let client = client.as_ref();
    let result = match job.kind {
        JobKind::Order => {
            let mapping = client
                .orders()
                .status_mapping()
                .with_overrides(&config.status_overrides);
            import_order(storage, &scope, client, &mapping, &job.target)
                .await
                .map(|outcome| match outcome {
                    TargetedOutcome::Saved(_) => JobOutcome::Saved,
                    TargetedOutcome::NotFound => JobOutcome::NotFound,
                })
        }
        _ => import_product(storage, &scope, client, &job.target)
            .await
            .map(|outcome| match outcome {
                ProductOutcome::Saved { .. } => JobOutcome::Saved,
                ProductOutcome::NotFound => JobOutcome::NotFound,
            }),
    };
    match result {
        Ok(outcome) => {
            tracing::debug!(
                store.id = store.id().get(),
                webhook.scope = %job.scope,
                job.target = %job.target,
                queued_ms = job.waited_ms,
                "webhooks: fetched"
            );
            Ok(outcome)
        }
        Err(error) => {
            // The client may hold a revoked token: rebuild it next time.
            context.channels.forget(job.store_id).await;
            Err(anyhow::Error::from(error).context("the targeted fetch failed"))
        }
    }
}

/// A walk (the store's changed orders, replacing the hints queued before it) or a full sync
/// (asked for through the API). Never beside another sync of the store in this process: then
/// it waits a second and is tried again.
async fn walk(
    context: &WorkerContext,
    config: &WorkerConfig,
    store: &StoreRecord,
    job: &JobRow,
) -> anyhow::Result<JobOutcome> {
    let storage = &context.storage;
    let Some(_syncing) = context.in_progress.try_begin(store.id()) else {
        anyhow::bail!("a sync of the store is running; the job waits for it");
    };
    let started_ms = storage.now_ms().await?;
    let client = context.channels.client(storage, store).await?;
    let scope = store.scope();
    let options = &config.sync_options;
    if job.kind == JobKind::Sync {
        crate::sync::sync_store_recorded(
            storage,
            &scope,
            client.as_ref(),
            options,
            SyncTrigger::Api,
            |_| {},
        )
        .await?;
    } else {
        crate::sync::sync_orders(storage, &scope, client.as_ref(), options, |_| {}).await?;
    }
    // The walk read every order changed before its windows' end (its start less the settle
    // delay, with a second for the store's whole-second clock): the hints queued before that
    // name orders it has read. A window the walk only resumed (a sync stopped halfway) ends
    // where it was frozen, earlier: then only what that end covers is dropped, and a stream
    // without a completed window covers nothing.
    let mut covered = started_ms - walk_coverage(options).as_millis() as i64;
    for stream in client.orders().streams() {
        let end = storage
            .get_checkpoint(&scope, &stream)
            .await?
            .filter(|checkpoint| checkpoint.completed_at.is_some())
            .and_then(|checkpoint| checkpoint.window_end);
        covered = covered.min(end.map_or(i64::MIN, |end| end.timestamp_millis() - 1000));
    }
    let dropped = if covered == i64::MIN {
        0
    } else {
        storage.drop_covered_hints(store.id(), covered).await?
    };
    tracing::debug!(
        store.id = store.id().get(),
        job.kind = job.kind.as_str(),
        webhooks.hints_dropped = dropped,
        "webhooks: walk done"
    );
    Ok(JobOutcome::Saved)
}

async fn finish(storage: &Storage, job: &JobRow, process: &str) {
    if let Err(error) = storage.finish_job(job.id, process).await {
        tracing::warn!(error = %error, "webhooks: could not remove a finished job; it may run again");
    }
}

async fn retry(storage: &Storage, config: &WorkerConfig, job: &JobRow, process: &str, error: &str) {
    let delay = Duration::from_secs(1 << job.attempts.clamp(0, 6)).min(config.claim);
    if let Err(error) = storage.retry_job(job.id, process, delay, error).await {
        tracing::warn!(error = %error, "webhooks: could not give a job back; its claim lapses");
    }
}

fn notify(context: &WorkerContext, job: &JobRow, claimed_at: Instant, outcome: JobOutcome) {
    let target = match job.kind {
        JobKind::Order => Some(Hint::Order(job.target.clone())),
        JobKind::Product => Some(Hint::Product(job.target.clone())),
        JobKind::Walk | JobKind::Sync => None,
    };
    if let Some(observer) = &context.observer {
        let now = Instant::now();
        // No receiver is fine: nobody is watching.
        let _ = observer.send(Processed {
            store: job.store_id,
            kind: job.kind,
            target,
            outcome,
            received_at: claimed_at
                .checked_sub(Duration::from_millis(job.waited_ms.max(0) as u64))
                .unwrap_or(claimed_at),
            finished_at: now,
        });
    }
}
