//! The outbox worker: leases rows, reads back before any retry, sends, records.
//!
//! - [`drain`] delivers what is due now (and waits for short retries), then returns a
//!   [`DrainReport`]: what `cenports ship` and `cenports outbox --drain` call, and what tests
//!   call instead of sleeping.
//! - [`run`] keeps delivering until `shutdown` resolves: what a long-running server calls.
//!
//! Both run `concurrency` loops in the caller's task; each loop holds at most one row. Several
//! processes can run workers on the same database: leases keep them off each other's rows.
//!
//! One row, step by step (the argument is in docs/FULFILMENT.md):
//! 1. claim it (lease);
//! 2. if its state is `sending` (an earlier attempt may have reached the channel), ask the
//!    channel for the row's shipment (or the order's status) first
//!    ([`crate::channel::FulfilmentOut::find_shipment`]): found means delivered, and nothing is
//!    sent. Not found is only believed twice: a `sending` row is never read back before its
//!    quiet period after the last attempt, and the first "not found" only schedules a second
//!    read-back `recheck_gap` later; the second "not found" proves nothing was applied, and the
//!    row goes back to `pending`;
//! 3. record `sending`, renew the lease and push the row's schedule past the request's quiet
//!    period (committed BEFORE the request leaves);
//! 4. send; on success read the order back (status, shipped quantities) and record both in one
//!    transaction; an unknown outcome keeps `sending` and schedules the read-back after the
//!    quiet period; a refusal fails the row with the channel's words.
//!
//! Nothing else fails a row: outages, refused credentials and failed read-backs are retried,
//! quickly at first and then every `slow_retry` once `max_attempts` attempts have passed.
//!
//! Every request of a delivery (read-back, send, the order read after it) is
//! [`Priority::Urgent`] in the store's quota: it goes ahead of walks and pushes waiting for the
//! same store, so a backfill delays a shipment by one request at most.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::Utc;
use futures::FutureExt;

use super::OutboxPayload;
use crate::channel::{
    with_priority, ChannelClients, ChannelError, Delivered, ErrorKind, Priority, StoreClient,
};
use crate::config::{OutboxTimings, Settings};
use crate::storage::{
    DeliveredBy, NotFound, OrderAfterDelivery, OutboxRow, OutboxState, Storage, StoreId,
};

/// How a worker behaves. Defaults suit production; tests shorten the times.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Prefix of the lease owner names (`<prefix>-<loop>`): unique per process.
    pub owner_prefix: String,
    /// Loops in parallel.
    pub concurrency: usize,
    /// How long a claim holds a row. It must outlast one request with the client's own
    /// retries: a request still in flight when the lease ends could land after the next
    /// holder's read-back. The worker abandons a request at two thirds of the lease.
    pub lease: Duration,
    /// First retry delay, doubled per attempt (with jitter) up to `retry_max`.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// Attempts on the quick schedule (`retry_base` doubling up to `retry_max`); later
    /// attempts come every `slow_retry`. A row is never failed for running out of attempts.
    pub max_attempts: i32,
    /// The delay between attempts once `max_attempts` have passed.
    pub slow_retry: Duration,
    /// After an attempt whose outcome is unknown (no answer, a reset, a 5xx), how long before
    /// the row is read back: longer than the channel can take to apply a request it has not
    /// answered (a gateway's 504 while the backend keeps working).
    pub quiet_period: Duration,
    /// After a read-back that found nothing, how long before the second one that proves
    /// nothing was applied.
    pub recheck_gap: Duration,
    /// `drain` waits for rows due within this long (short retries); `run` ignores it.
    pub drain_patience: Duration,
    /// How often an idle `run` looks for work.
    pub idle_poll: Duration,
    /// The process's membership of the fleet: `run` then delivers only the rows of stores whose
    /// lease it holds (`serve` and `worker`). `None`: every store's rows (`drain`, tests).
    pub fleet: Option<crate::fleet::Fleet>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        let timings = OutboxTimings::default();
        WorkerConfig {
            owner_prefix: default_owner_prefix(),
            concurrency: 4,
            lease: Duration::from_secs(180),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(600),
            max_attempts: 20,
            slow_retry: timings.slow_retry,
            quiet_period: timings.quiet_period,
            recheck_gap: timings.recheck_gap,
            drain_patience: Duration::from_secs(30),
            idle_poll: Duration::from_secs(1),
            fleet: None,
        }
    }
}

impl WorkerConfig {
    /// The defaults, with the delays the settings give (`docs/OPERATIONS.md`).
    pub fn from_settings(settings: &Settings) -> Self {
        let timings = settings.outbox;
        WorkerConfig {
            quiet_period: timings.quiet_period,
            recheck_gap: timings.recheck_gap,
            slow_retry: timings.slow_retry,
            ..WorkerConfig::default()
        }
    }
}

/// `<host>-<pid>-<start ms>`: distinct for every process, also across restarts.
pub fn default_owner_prefix() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "cenports".into());
    format!(
        "{host}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_millis()
    )
}

/// What a drain (or a run) did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DrainReport {
    /// Rows delivered by a request answered with success.
    pub delivered_sent: u64,
    /// Rows found delivered on read-back (an earlier outcome was unknown): no request sent.
    pub delivered_found: u64,
    /// Read-backs that proved an earlier attempt was not applied (the second "not found").
    pub not_applied: u64,
    /// First read-backs that found nothing: a second one follows after `recheck_gap`.
    pub rechecks: u64,
    /// Attempts given back for a retry (unknown outcome, outage, rate limit).
    pub retries: u64,
    /// Rows failed (rejected, or given up).
    pub failed: u64,
    /// Writes sent to the channel.
    pub sends: u64,
    /// Claims that found the lease taken over when recording (another worker had the row).
    pub lease_lost: u64,
}

impl DrainReport {
    /// Rows delivered either way.
    pub fn delivered(&self) -> u64 {
        self.delivered_sent + self.delivered_found
    }
}

#[derive(Default)]
struct Counters {
    delivered_sent: AtomicU64,
    delivered_found: AtomicU64,
    not_applied: AtomicU64,
    rechecks: AtomicU64,
    retries: AtomicU64,
    failed: AtomicU64,
    sends: AtomicU64,
    lease_lost: AtomicU64,
}

impl Counters {
    fn report(&self) -> DrainReport {
        DrainReport {
            delivered_sent: self.delivered_sent.load(Ordering::Relaxed),
            delivered_found: self.delivered_found.load(Ordering::Relaxed),
            not_applied: self.not_applied.load(Ordering::Relaxed),
            rechecks: self.rechecks.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            sends: self.sends.load(Ordering::Relaxed),
            lease_lost: self.lease_lost.load(Ordering::Relaxed),
        }
    }
}

/// Delivers every due row (of `store`, or of every store), waiting for rows that become due
/// within `config.drain_patience`, then returns. Rows held by another live worker are left to
/// it.
pub async fn drain<C: ChannelClients>(
    storage: &Storage,
    clients: &C,
    store: Option<StoreId>,
    config: &WorkerConfig,
) -> Result<DrainReport> {
    let counters = Counters::default();
    let loops = (0..config.concurrency.max(1)).map(|n| {
        let owner = format!("{}-{n}", config.owner_prefix);
        let counters = &counters;
        async move {
            loop {
                match storage.claim_outbox(store, &owner, config.lease).await? {
                    Some(row) => process(storage, clients, row, &owner, config, counters).await?,
                    None => {
                        let Some(wait) = storage.next_outbox_due(store).await? else {
                            return Ok::<(), anyhow::Error>(());
                        };
                        if wait > config.drain_patience {
                            return Ok(());
                        }
                        tokio::time::sleep(wait.min(Duration::from_millis(250))).await;
                    }
                }
            }
        }
    });
    for result in futures::future::join_all(loops).await {
        result?;
    }
    Ok(counters.report())
}

/// Delivers rows as they become due until `shutdown` resolves; the row in hand is finished
/// first. Database errors are logged and retried after `idle_poll` (the database may come
/// back); returns what was done.
pub async fn run<C: ChannelClients>(
    storage: &Storage,
    clients: &C,
    config: &WorkerConfig,
    shutdown: impl Future<Output = ()>,
) -> DrainReport {
    let counters = Counters::default();
    let shutdown = shutdown.shared();
    let loops = (0..config.concurrency.max(1)).map(|n| {
        let owner = format!("{}-{n}", config.owner_prefix);
        let counters = &counters;
        let shutdown = shutdown.clone();
        async move {
            loop {
                if shutdown.peek().is_some() {
                    return;
                }
                let claimed = match &config.fleet {
                    Some(fleet) if fleet.held_count() == 0 => Ok(None),
                    Some(fleet) => {
                        storage
                            .claim_outbox_leased(fleet.id(), &owner, config.lease)
                            .await
                    }
                    None => storage.claim_outbox(None, &owner, config.lease).await,
                };
                let idle = match claimed {
                    Ok(Some(row)) => {
                        if let Err(error) =
                            process(storage, clients, row, &owner, config, counters).await
                        {
                            tracing::warn!(
                                error = format!("{error:#}"),
                                "outbox worker: database error"
                            );
                            true
                        } else {
                            false
                        }
                    }
                    Ok(None) => true,
                    Err(error) => {
                        tracing::warn!(error = %error, "outbox worker: could not claim a row");
                        true
                    }
                };
                if idle {
                    tokio::select! {
                        _ = shutdown.clone() => return,
                        _ = tokio::time::sleep(config.idle_poll) => {}
                    }
                }
            }
        }
    });
    futures::future::join_all(loops).await;
    counters.report()
}

/// The delay before attempt `attempts + 1`: exponential from `retry_base`, capped at
/// `retry_max`, then `slow_retry` once `max_attempts` have passed; with jitter in its upper
/// half so rows that failed together spread out.
fn backoff(config: &WorkerConfig, attempts: i32) -> Duration {
    let full = if attempts >= config.max_attempts {
        config.slow_retry
    } else {
        let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
        config
            .retry_base
            .saturating_mul(2u32.saturating_pow(exp))
            .min(config.retry_max)
    };
    let nanos = u64::from(Utc::now().timestamp_subsec_nanos());
    full / 2 + full / 2 * u32::try_from(nanos % 1000).unwrap_or(0) / 1000
}

enum Step {
    Delivered {
        result: String,
        by: DeliveredBy,
        /// The order as the channel has it now; `None` if it could not be read.
        order: Option<OrderAfterDelivery>,
    },
    /// Try again later: after the backoff, or, when `unknown` (an attempt may have been
    /// applied just now), not before the quiet period.
    Retry { error: String, unknown: bool },
    /// A read-back found nothing once; the row is already rescheduled for the second one.
    Recheck,
    /// Refused for good: the channel's words.
    Fail(String),
}

/// Handles one claimed row to its next resting state. Only database errors are returned.
async fn process<C: ChannelClients>(
    storage: &Storage,
    clients: &C,
    row: OutboxRow,
    owner: &str,
    config: &WorkerConfig,
    counters: &Counters,
) -> Result<()> {
    let id = row.id;
    let step = match clients.client(storage, row.store_id).await {
        Err(error) => Step::Retry {
            error: format!("{error:#}"),
            unknown: false,
        },
        Ok(client) => match OutboxPayload::parse(&row.payload) {
            Err(error) => Step::Fail(format!(
                "the payload cannot be read by this version ({error}); upgrade cenports"
            )),
            Ok(payload) => {
                let delivery = deliver(
                    storage,
                    client.as_ref(),
                    &row,
                    payload,
                    owner,
                    config,
                    counters,
                );
                with_priority(Priority::Urgent, delivery).await?
            }
        },
    };
    let held = match step {
        Step::Delivered { result, by, order } => {
            let held = storage
                .complete_outbox(id, owner, &result, by, order.as_ref())
                .await?;
            if held {
                let counter = match by {
                    DeliveredBy::Sent => &counters.delivered_sent,
                    DeliveredBy::Found => &counters.delivered_found,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(outbox.id = id.get(), order.id = %row.order_remote_id, channel.result = %result, "outbox: delivered");
            }
            held
        }
        Step::Retry { error, unknown } => {
            let mut delay = backoff(config, row.attempts);
            if unknown {
                delay = delay.max(config.quiet_period);
            }
            if row.attempts == config.max_attempts {
                tracing::warn!(outbox.id = id.get(), order.id = %row.order_remote_id, error = %error, "outbox: still not delivered after {} attempts; retrying every {} s from now on", row.attempts, config.slow_retry.as_secs());
            } else {
                tracing::debug!(outbox.id = id.get(), order.id = %row.order_remote_id, error = %error, retry_ms = delay.as_millis() as u64, "outbox: retry");
            }
            let held = storage.retry_outbox(id, owner, &error, delay).await?;
            if held {
                counters.retries.fetch_add(1, Ordering::Relaxed);
            }
            held
        }
        Step::Recheck => {
            counters.rechecks.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(outbox.id = id.get(), order.id = %row.order_remote_id, recheck_ms = config.recheck_gap.as_millis() as u64, "outbox: nothing found on read-back; checking once more before sending again");
            true
        }
        Step::Fail(error) => {
            tracing::warn!(outbox.id = id.get(), order.id = %row.order_remote_id, error = %error, "outbox: failed");
            let held = storage.fail_outbox(id, owner, &error).await?;
            if held {
                counters.failed.fetch_add(1, Ordering::Relaxed);
            }
            held
        }
    };
    if !held {
        counters.lease_lost.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            outbox.id = id.get(),
            "outbox: lease lost before recording; the next holder reads back"
        );
    }
    Ok(())
}

/// Read-back (if needed), then send.
async fn deliver(
    storage: &Storage,
    client: &dyn StoreClient,
    row: &OutboxRow,
    payload: OutboxPayload,
    owner: &str,
    config: &WorkerConfig,
    counters: &Counters,
) -> Result<Step> {
    let order = row.order_remote_id.as_str();
    let channel = client.channel();
    let out = client.fulfilment();
    // 2. Read back first when an earlier attempt may have been applied. The claim only hands
    //    out a `sending` row once its quiet period has passed.
    if row.state == OutboxState::Sending {
        let found = match &payload {
            OutboxPayload::Shipment(_) => out.find_shipment(order, row.id).await,
            OutboxPayload::OrderStatus { to } => out.find_status(order, *to).await,
        };
        match found {
            // Whatever the read-back's error (even a 404), it proves nothing: read again later.
            Err(error) => {
                return Ok(Step::Retry {
                    error: format!(
                        "could not check whether the last attempt reached {channel}, so nothing \
                         is sent until a check succeeds: {error}"
                    ),
                    unknown: false,
                })
            }
            Ok(Some(Delivered { result, order })) => {
                return Ok(Step::Delivered {
                    result,
                    by: DeliveredBy::Found,
                    order,
                });
            }
            Ok(None) => match storage
                .record_not_found(row.id, owner, config.recheck_gap)
                .await?
            {
                NotFound::Recheck => return Ok(Step::Recheck),
                NotFound::LeaseLost => {
                    return Ok(Step::Retry {
                        error: "lease lost during read-back".into(),
                        unknown: false,
                    })
                }
                NotFound::Proven => {
                    counters.not_applied.fetch_add(1, Ordering::Relaxed);
                }
            },
        }
    }
    // 3. Committed before the request leaves: from here on, a crash means "read back first",
    //    and not before the request's quiet period (were this worker to die now, its request
    //    ends by the time budget below at the latest).
    let budget = config.lease * 2 / 3;
    if !storage
        .mark_outbox_sending(row.id, owner, config.lease, budget + config.quiet_period)
        .await?
    {
        return Ok(Step::Retry {
            error: "lease lost before sending".into(),
            unknown: false,
        });
    }
    counters.sends.fetch_add(1, Ordering::Relaxed);
    // 4. Send, abandoning the request well before the lease ends (see `WorkerConfig::lease`).
    let started = Instant::now();
    let (sent, what) = match &payload {
        OutboxPayload::Shipment(shipment) => (
            tokio::time::timeout(budget, out.create_shipment(order, row.id, shipment)).await,
            "the shipment will be looked up",
        ),
        OutboxPayload::OrderStatus { to } => (
            tokio::time::timeout(budget, out.set_status(order, *to)).await,
            "the status will be read back",
        ),
    };
    match sent {
        Err(_) => Ok(Step::Retry {
            error: format!(
                "no answer from {channel} within {} s; {what} before any retry",
                started.elapsed().as_secs()
            ),
            unknown: true,
        }),
        Ok(Err(error)) => Ok(refused_or_unknown(error)),
        Ok(Ok(Delivered { result, order })) => Ok(Step::Delivered {
            result,
            by: DeliveredBy::Sent,
            order,
        }),
    }
}

/// A send's error: a refusal fails the row with the channel's words; anything else may have
/// been applied (or not), so the row is read back after the quiet period.
fn refused_or_unknown(error: ChannelError) -> Step {
    let channel = error.channel();
    match error.kind() {
        ErrorKind::Rejected => Step::Fail(format!("{channel} rejected it: {error}")),
        ErrorKind::NotFound => Step::Fail(format!(
            "the order is gone from {channel} (deleted?): {error}"
        )),
        ErrorKind::Unauthorized | ErrorKind::Unavailable => Step::Retry {
            error: error.to_string(),
            unknown: true,
        },
    }
}
