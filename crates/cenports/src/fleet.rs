//! Running as a fleet: which process works which store (`docs/ARCHITECTURE.md`, "Running as
//! a fleet").
//!
//! Several `serve` and `worker` processes may share one database. They coordinate through it,
//! never through memory:
//!
//! - each process heartbeats every third of the lease period (or every sync interval, when
//!   shorter) with [`Storage::rebalance_leases`]: it renews its store leases, gives back what is
//!   over its fair share and takes free or expired leases up to it. Stores so spread evenly over
//!   the live processes; a process that starts takes its share within two heartbeats; the
//!   stores of a process that died (SIGKILL) are taken within one lease period;
//! - a store's sync, reconciliation, stock push, webhook jobs and outbox deliveries run only in
//!   the process that holds its lease, so one process paces every request to a store on one
//!   limiter (its quota, `docs/HARD-PROBLEMS.md` note 3), and no store is walked twice;
//! - on graceful shutdown (SIGTERM, Ctrl-C) [`Fleet::run`] gives every lease back at once.
//!
//! A [`Fleet`] is this process's view: the leases its last heartbeat returned, believed only
//! until that heartbeat's lease period has passed (a process that cannot reach the database
//! stops working its stores before anyone else may take them).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::storage::{ProcessInfo, Rebalance, Storage, StorageError, StoreRecord};

pub use crate::config::DEFAULT_LEASE_PERIOD;

/// A channel store: (channel, the channel's store key). One lease each.
pub type StoreKey = (String, String);

/// The key of a store row.
pub fn store_key(store: &StoreRecord) -> StoreKey {
    (store.channel.clone(), store.remote_id.clone())
}

/// This process's membership of the fleet. Clone freely (a handle).
#[derive(Clone)]
pub struct Fleet {
    inner: Arc<Inner>,
}

struct Inner {
    process: ProcessInfo,
    lease: Duration,
    beat_every: Duration,
    held: Mutex<Held>,
    generation: watch::Sender<u64>,
}

#[derive(Default)]
struct Held {
    /// Each held store, with when its last scheduled sync started (by this host's clock).
    leases: HashMap<StoreKey, Option<Instant>>,
    /// The held set is believed until then.
    valid_until: Option<Instant>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("process", &self.inner.process.id)
            .field("lease", &self.inner.lease)
            .field("held", &self.held_count())
            .finish()
    }
}

impl Fleet {
    /// A membership for a process of `role` (`serve`, `worker`, `sync`), with leases of
    /// `lease` and a heartbeat every third of it or every `beat_at_most`, whichever is shorter.
    /// `polls`: whether the process polls its stores (a process that does not takes stores only
    /// while no polling process is alive).
    pub fn new(role: &str, lease: Duration, beat_at_most: Duration, polls: bool) -> Fleet {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "cenports".into());
        let pid = std::process::id();
        let id = format!(
            "{host}-{pid}-{}-{:04x}",
            chrono::Utc::now().timestamp_millis(),
            rand::random::<u16>()
        );
        let lease = lease.max(Duration::from_millis(300));
        Fleet {
            inner: Arc::new(Inner {
                process: ProcessInfo {
                    id,
                    role: role.to_owned(),
                    host,
                    pid: i64::from(pid),
                    polls,
                },
                lease,
                beat_every: (lease / 3)
                    .min(beat_at_most)
                    .max(Duration::from_millis(100)),
                held: Mutex::default(),
                generation: watch::channel(0).0,
            }),
        }
    }

    /// This process's id in the fleet's tables (lease owner, job claims).
    pub fn id(&self) -> &str {
        &self.inner.process.id
    }

    /// The lease period.
    pub fn lease_period(&self) -> Duration {
        self.inner.lease
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.inner.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether this process holds the store's lease now.
    pub fn holds(&self, store: &StoreRecord) -> bool {
        let held = self.held();
        held.valid_until.is_some_and(|until| Instant::now() < until)
            && held.leases.contains_key(&store_key(store))
    }

    /// How many stores this process holds now.
    pub fn held_count(&self) -> usize {
        let held = self.held();
        if held.valid_until.is_some_and(|until| Instant::now() < until) {
            held.leases.len()
        } else {
            0
        }
    }

    /// The held stores with when each one's last scheduled sync started (`None`: never, or
    /// too long ago to say); empty once the last heartbeat is a lease period old.
    pub fn held_stores(&self) -> HashMap<StoreKey, Option<Instant>> {
        let held = self.held();
        if held.valid_until.is_some_and(|until| Instant::now() < until) {
            held.leases.clone()
        } else {
            HashMap::new()
        }
    }

    /// Notes that a scheduled sync of `key` started now (the scheduler records it in the
    /// database too, [`Storage::mark_polled`]).
    pub fn note_polled(&self, key: &StoreKey) {
        if let Some(polled) = self.held().leases.get_mut(key) {
            *polled = Some(Instant::now());
        }
    }

    /// Changes whenever the held set changes (the scheduler re-reads the stores then).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.generation.subscribe()
    }

    /// One heartbeat: renews, gives back and takes leases (see the module docs).
    pub async fn beat(&self, storage: &Storage) -> Result<Rebalance, StorageError> {
        let started = Instant::now();
        let outcome = storage
            .rebalance_leases(&self.inner.process, self.inner.lease)
            .await?;
        let changed = {
            let mut held = self.held();
            let mut leases = HashMap::with_capacity(outcome.held.len());
            for lease in &outcome.held {
                let key = (lease.channel.clone(), lease.remote_id.clone());
                // The database's "polled at", on this host's clock: `age` before the beat began.
                let from_db = (lease.polled_at_ms > 0)
                    .then(|| {
                        let age = (outcome.now_ms - lease.polled_at_ms).max(0) as u64;
                        started.checked_sub(Duration::from_millis(age))
                    })
                    .flatten();
                let known = held.leases.get(&key).copied().flatten();
                leases.insert(key, known.max(from_db));
            }
            let changed = leases.len() != held.leases.len()
                || leases.keys().any(|key| !held.leases.contains_key(key));
            held.leases = leases;
            held.valid_until = Some(started + self.inner.lease);
            changed
        };
        if changed {
            self.inner.generation.send_modify(|g| *g += 1);
        }
        if outcome.taken > 0 || outcome.released > 0 {
            tracing::info!(
                fleet.process = %self.id(),
                fleet.live = outcome.live_processes,
                fleet.stores = outcome.stores,
                fleet.share = outcome.share,
                fleet.taken = outcome.taken,
                fleet.released = outcome.released,
                fleet.held = outcome.held.len(),
                "fleet: leases rebalanced"
            );
        }
        Ok(outcome)
    }

    /// Heartbeats until `shutdown` resolves, then gives every lease back. A failed heartbeat is
    /// logged and retried at the next one; the held set lapses a lease period after the last
    /// good one.
    pub async fn run(&self, storage: Storage, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut ticker = tokio::time::interval(self.inner.beat_every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticker.tick() => {}
            }
            match self.beat(&storage).await {
                Ok(_) => {
                    if std::mem::take(&mut failing) {
                        tracing::info!(fleet.process = %self.id(), "fleet: heartbeat works again");
                    }
                }
                Err(error) => {
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!(
                            fleet.process = %self.id(),
                            error = %format!("{:#}", anyhow::Error::from(error)),
                            "fleet: heartbeat failed; this process stops working its stores \
                             once its leases lapse, until the database answers"
                        );
                    }
                }
            }
        }
        self.release(&storage).await;
    }

    /// Gives every lease back now (graceful shutdown).
    pub async fn release(&self, storage: &Storage) {
        {
            let mut held = self.held();
            held.leases.clear();
            held.valid_until = None;
        }
        self.inner.generation.send_modify(|g| *g += 1);
        match storage.release_leases(self.id()).await {
            Ok(released) => {
                tracing::info!(fleet.process = %self.id(), fleet.released = released, "fleet: leases released")
            }
            Err(error) => {
                tracing::warn!(error = %error, "fleet: could not release the leases; they lapse after the lease period")
            }
        }
    }
}
