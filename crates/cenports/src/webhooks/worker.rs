//! The queue worker: turns accepted callbacks into targeted fetches.
//!
//! - An order job reads that order with its lines ([`crate::sync::targeted::import_order`]) and
//!   saves it through the sync's own save path; a product job reads that product with its SKUs
//!   and upserts it and its SKU index entries.
//! - **Coalescing**: a job for a resource that already waits in the worker (not yet started) is
//!   dropped: the waiting fetch will read the latest version anyway. A job that arrives while
//!   the same resource is being fetched is kept, because the change may have come after the read.
//! - At most [`WorkerConfig::concurrency`] fetches run at once; each store's client comes from
//!   the process's [`Channels`] registry, built once and kept, so its pacing spans the jobs of
//!   that store and the process's other tasks.
//! - A failed fetch is logged and dropped: the callback was acknowledged, and the polling walk
//!   (the source of truth) will bring the change in. Disconnected stores' jobs are dropped.
//! - Every finished job is reported on an optional broadcast channel ([`Processed`]), which
//!   the benchmark uses to time webhook-to-visible latency and tests use to wait deliberately.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{broadcast, mpsc, Semaphore};
use tokio::task::JoinSet;

use super::Job;
use crate::channel::{Channels, Hint, StatusMapping};
use crate::storage::{Storage, StoreId, StoreStatus};
use crate::sync::targeted::{import_order, import_product, ProductOutcome, TargetedOutcome};

/// Fetches at once when nothing else is configured.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Fetches running at once, across stores (at least 1).
    pub concurrency: usize,
    /// The stores' overrides of their channel's status → fulfilment state table.
    pub status_overrides: StatusMapping,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: DEFAULT_CONCURRENCY,
            status_overrides: StatusMapping::default(),
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
    /// The fetch or the save failed (logged).
    Failed,
}

/// A finished job, for observers.
#[derive(Debug, Clone)]
pub struct Processed {
    /// The store.
    pub store: StoreId,
    /// What was fetched.
    pub target: Hint,
    /// How it ended.
    pub outcome: JobOutcome,
    /// When the receiver accepted the callback.
    pub received_at: Instant,
    /// When the save committed (or the job ended).
    pub finished_at: Instant,
}

/// Runs until the queue's senders are all dropped or `shutdown` resolves; fetches in flight
/// are then awaited (each is one or two requests and one transaction).
pub async fn run_worker(
    storage: Storage,
    channels: Channels,
    config: WorkerConfig,
    mut queue: mpsc::Receiver<Job>,
    observer: Option<broadcast::Sender<Processed>>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let waiting: Arc<Mutex<HashSet<(StoreId, Hint)>>> = Arc::default();
    let overrides = Arc::new(config.status_overrides);
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let job = tokio::select! {
            () = &mut shutdown => break,
            job = queue.recv() => match job {
                Some(job) => job,
                None => break,
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        let key = (job.store, job.target.clone());
        if !waiting.lock().expect("not poisoned").insert(key.clone()) {
            notify(&observer, &job, JobOutcome::Coalesced);
            continue;
        }
        let (permits, waiting, channels) = (permits.clone(), waiting.clone(), channels.clone());
        let (storage, overrides, observer) = (storage.clone(), overrides.clone(), observer.clone());
        tasks.spawn(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return;
            };
            waiting.lock().expect("not poisoned").remove(&key);
            let outcome = process(&storage, &channels, &overrides, &job).await;
            notify(&observer, &job, outcome);
        });
    }
    while tasks.join_next().await.is_some() {}
}

fn notify(observer: &Option<broadcast::Sender<Processed>>, job: &Job, outcome: JobOutcome) {
    if let Some(observer) = observer {
        // No receiver is fine: nobody is watching.
        let _ = observer.send(Processed {
            store: job.store,
            target: job.target.clone(),
            outcome,
            received_at: job.received_at,
            finished_at: Instant::now(),
        });
    }
}

async fn process(
    storage: &Storage,
    channels: &Channels,
    overrides: &StatusMapping,
    job: &Job,
) -> JobOutcome {
    let id = job.store.get();
    let store = match storage.find_store(job.store).await {
        Ok(Some(store)) if store.status == StoreStatus::Connected => store,
        Ok(_) => return JobOutcome::Skipped,
        Err(error) => {
            tracing::warn!(store.id = id, error = %error, "webhooks: could not read the store; job dropped");
            return JobOutcome::Failed;
        }
    };
    let client = match channels.client(storage, &store).await {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(store.id = id, error = %format!("{error:#}"), "webhooks: no client for the store; job dropped");
            return JobOutcome::Failed;
        }
    };
    let scope = store.scope();
    let queued_ms = job.received_at.elapsed().as_millis() as u64;
    let client = client.as_ref();
    let result =
        match &job.target {
            Hint::Order(order) => {
                let mapping = client.orders().status_mapping().with_overrides(overrides);
                import_order(storage, &scope, client, &mapping, order)
                    .await
                    .map(|outcome| match outcome {
                        TargetedOutcome::Saved(_) => JobOutcome::Saved,
                        TargetedOutcome::NotFound => JobOutcome::NotFound,
                    })
            }
            Hint::Product(product) => import_product(storage, &scope, client, product).await.map(
                |outcome| match outcome {
                    ProductOutcome::Saved { .. } => JobOutcome::Saved,
                    ProductOutcome::NotFound => JobOutcome::NotFound,
                },
            ),
        };
    match result {
        Ok(outcome) => {
            tracing::debug!(
                store.id = id,
                webhook.scope = %job.scope,
                webhook.target = ?job.target,
                queued_ms,
                duration_ms = job.received_at.elapsed().as_millis() as u64,
                "webhooks: fetched"
            );
            outcome
        }
        Err(error) => {
            // The client may hold a revoked token: rebuild it next time.
            channels.forget(job.store).await;
            tracing::warn!(
                store.id = id,
                webhook.target = ?job.target,
                error = %format!("{:#}", anyhow::Error::from(error)),
                "webhooks: targeted fetch failed; polling will bring the change in"
            );
            JobOutcome::Failed
        }
    }
}
