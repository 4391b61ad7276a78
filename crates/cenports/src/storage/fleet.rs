//! Storage for the fleet (`docs/ARCHITECTURE.md`, "Running as a fleet"): the live processes,
//! the store leases that say which process works each store, and the durable jobs the lease
//! holder claims.
//!
//! Every time here is epoch milliseconds by the database's clock ([`Backend::now_ms`]), never a
//! host's: hosts sharing a database may disagree about the time, the database is one clock.
//!
//! - **Leases** are per channel store (`channel`, `remote_id`): two users who connected the same
//!   store share one lease, so one process paces every request to it. [`Storage::rebalance_leases`]
//!   is a process's heartbeat: it renews what the process holds, gives back what is over its fair
//!   share (the stores divided by the live processes, rounded up), and takes free or expired
//!   leases up to it, the longest-unpolled first. A released lease keeps its row, with the time
//!   its store was last polled, so the next holder keeps the schedule.
//! - **Jobs** are claimed only by the holder of their store's lease ([`Storage::claim_jobs`],
//!   `FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's one writer makes the statement atomic).
//!   A claim is itself a lease: a process that dies holding a job lets it go when the claim ends.

use std::time::Duration;

use sqlx::Row;

use super::error::Context;
use super::{ms, Backend, Storage, StorageError, StoreId};

/// Queues a job due `$5` ms from now (by the database's clock), unless the same job (kind
/// and target) already waits unclaimed: binds store, kind, target, scope, delay.
fn insert_job_sql(now: &str) -> String {
    format!(
        "INSERT INTO jobs (store_id, kind, target, scope, created_at, run_after) \
         VALUES ($1, $2, $3, $4, {now}, {now} + $5) \
         ON CONFLICT (store_id, kind, target) WHERE claimed_by IS NULL DO NOTHING"
    )
}

/// Who is heartbeating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Unique per process, also across restarts (`<host>-<pid>-<start ms>`).
    pub id: String,
    /// `serve`, `worker` or `sync`.
    pub role: String,
    /// The host name.
    pub host: String,
    /// The process id.
    pub pid: i64,
    /// Whether it polls the stores it holds. A process that does not (`--no-poll`) takes stores
    /// only while no polling process is alive: its stores would otherwise never be polled.
    pub polls: bool,
}

/// A lease a process holds after its heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HeldLease {
    /// The store's channel.
    pub channel: String,
    /// The channel's store key.
    pub remote_id: String,
    /// When the store's last scheduled sync started (0: never).
    pub polled_at_ms: i64,
}

/// What one heartbeat saw and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebalance {
    /// The database's clock when the heartbeat ran.
    pub now_ms: i64,
    /// Live processes, this one included.
    pub live_processes: i64,
    /// Channel stores with at least one connected store row.
    pub stores: i64,
    /// This process's fair share: `ceil(stores / live_processes)`.
    pub share: i64,
    /// Leases given back because they were over the share.
    pub released: i64,
    /// Leases taken (free, released or expired).
    pub taken: i64,
    /// Every lease held after the heartbeat.
    pub held: Vec<HeldLease>,
}

/// A live process as the fleet's tables show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetProcess {
    /// Its id.
    pub id: String,
    /// `serve`, `worker` or `sync`.
    pub role: String,
    /// Host and pid.
    pub host: String,
    /// Its pid.
    pub pid: i64,
    /// Milliseconds since its last heartbeat.
    pub heartbeat_age_ms: i64,
    /// Leases it holds (unexpired).
    pub leases: i64,
}

/// What a job asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Fetch one order (a webhook hint); the target is the order's remote id.
    Order,
    /// Fetch one product with its SKUs (a webhook hint); the target is the product's id.
    Product,
    /// Walk the store's changed orders once: replaces a backlog of order hints.
    Walk,
    /// A full sync of the store, asked for through the API or the dashboard.
    Sync,
}

impl JobKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Order => "order",
            JobKind::Product => "product",
            JobKind::Walk => "walk",
            JobKind::Sync => "sync",
        }
    }

    fn parse(text: &str) -> Result<JobKind, sqlx::Error> {
        Ok(match text {
            "order" => JobKind::Order,
            "product" => JobKind::Product,
            "walk" => JobKind::Walk,
            "sync" => JobKind::Sync,
            other => {
                return Err(sqlx::Error::Decode(
                    format!("unknown job kind {other:?}").into(),
                ))
            }
        })
    }
}

/// A claimed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    /// Its id.
    pub id: i64,
    /// The store it is for.
    pub store_id: StoreId,
    /// What it asks for.
    pub kind: JobKind,
    /// The remote id to fetch (hints), or empty.
    pub target: String,
    /// The callback's scope (hints), for logs.
    pub scope: String,
    /// Milliseconds it waited between being queued and this claim.
    pub waited_ms: i64,
    /// Claims so far, this one included.
    pub attempts: i32,
}

/// What [`Storage::enqueue_job`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// A new job was queued.
    Queued,
    /// The same job already waited: nothing was added (coalesced).
    Coalesced,
}

/// What [`Storage::accept_callback`] did with an authenticated callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// The message id was already accepted for this store: nothing done.
    Duplicate,
    /// Receipt recorded; the callback names nothing to fetch.
    Ignored,
    /// Receipt recorded and a hint queued.
    Queued,
    /// Receipt recorded; the same hint already waited (coalesced).
    Coalesced,
    /// Receipt recorded; the store's backlog is at its bound, so a walk (one incremental sync
    /// covering every waiting hint) waits instead of one more hint.
    Walk,
}

/// The jobs waiting for one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    /// The store.
    pub store_id: StoreId,
    /// Jobs waiting (not claimed).
    pub queued: i64,
    /// Of which order and product hints.
    pub hints: i64,
    /// Whether a walk is waiting.
    pub walk_queued: bool,
    /// Age of the oldest waiting job, in milliseconds.
    pub oldest_age_ms: i64,
    /// Age of the newest waiting hint, in milliseconds (0 when no hint waits).
    pub newest_hint_age_ms: i64,
}

impl Storage {
    /// A process's heartbeat and its share of the stores, in one transaction (see the module
    /// docs). `lease` is the lease period: a lease not renewed within it is free for others, and
    /// a process whose heartbeat is older is not counted as live.
    pub async fn rebalance_leases(
        &self,
        process: &ProcessInfo,
        lease: Duration,
    ) -> Result<Rebalance, StorageError> {
        const OP: &str = "renewing the store leases";
        let now = self.backend.now_ms();
        let lease_ms = ms(lease);
        let beat = format!(
            "INSERT INTO hub_processes (id, role, host, pid, polls, started_at, heartbeat_at) \
             VALUES ($1, $2, $3, $4, $5, {now}, {now}) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = {now}"
        );
        // Long-dead processes are forgotten (their leases expired long ago).
        let forget = format!("DELETE FROM hub_processes WHERE heartbeat_at < {now} - $1 * 10");
        let renew = format!("UPDATE store_leases SET expires_at = {now} + $1 WHERE owner = $2");
        // Every connected channel store has a lease row; stores no longer connected lose theirs.
        // Only stores without a row are inserted, in key order: an insert that meets an
        // existing row another process's heartbeat has just renewed (uncommitted) waits for
        // that heartbeat, and two heartbeats each holding renewed rows the other's insert met
        // deadlocked (`bench fleet`, 10,000 stores). With the filter, two heartbeats can meet
        // only on a store connected since the last one, both inserting in the same order.
        let add = "INSERT INTO store_leases (channel, remote_id) \
             SELECT DISTINCT s.channel, s.remote_id FROM stores s WHERE s.status = 'connected' \
             AND NOT EXISTS (SELECT 1 FROM store_leases l \
                 WHERE l.channel = s.channel AND l.remote_id = s.remote_id) \
             ORDER BY s.channel, s.remote_id \
             ON CONFLICT (channel, remote_id) DO NOTHING";
        let prune = "DELETE FROM store_leases WHERE NOT EXISTS (SELECT 1 FROM stores s \
             WHERE s.channel = store_leases.channel AND s.remote_id = store_leases.remote_id \
             AND s.status = 'connected')";
        let counts = format!(
            "SELECT (SELECT COUNT(*) FROM hub_processes WHERE heartbeat_at > {now} - $1 \
                 AND polls = $3) AS live, \
             (SELECT COUNT(*) FROM hub_processes WHERE heartbeat_at > {now} - $1 \
                 AND polls) AS polling, \
             (SELECT COUNT(*) FROM store_leases) AS stores, \
             (SELECT COUNT(*) FROM store_leases WHERE owner = $2 AND expires_at > {now}) AS held, \
             {now} AS now_ms"
        );
        let release = "UPDATE store_leases SET owner = NULL, expires_at = 0 \
             WHERE (channel, remote_id) IN (SELECT channel, remote_id FROM store_leases \
                 WHERE owner = $1 ORDER BY acquired_at DESC, remote_id LIMIT $2)";
        let skip_locked = match self.backend {
            Backend::Sqlite(_) => "",
            Backend::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        };
        let take = format!(
            "UPDATE store_leases SET owner = $1, expires_at = {now} + $2, acquired_at = {now} \
             WHERE (channel, remote_id) IN (SELECT channel, remote_id FROM store_leases \
                 WHERE owner IS NULL OR expires_at <= {now} \
                 ORDER BY polled_at, remote_id LIMIT $3{skip_locked}) \
             AND (owner IS NULL OR expires_at <= {now})"
        );
        let held = format!(
            "SELECT channel, remote_id, polled_at FROM store_leases \
             WHERE owner = $1 AND expires_at > {now} ORDER BY channel, remote_id"
        );
        with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin_with(BEGIN_WRITE).await.op(OP)?;
                sqlx::query::<Db>(&beat)
                    .bind(&process.id)
                    .bind(&process.role)
                    .bind(&process.host)
                    .bind(process.pid)
                    .bind(process.polls)
                    .execute(&mut *tx)
                    .await
                    .op(OP)?;
                sqlx::query::<Db>(&forget)
                    .bind(lease_ms)
                    .execute(&mut *tx)
                    .await
                    .op(OP)?;
                // The lease rows are added and pruned before this process renews (locks) its
                // own: while it waits on another heartbeat here, it holds none of them.
                sqlx::query::<Db>(add).execute(&mut *tx).await.op(OP)?;
                sqlx::query::<Db>(prune).execute(&mut *tx).await.op(OP)?;
                sqlx::query::<Db>(&renew)
                    .bind(lease_ms)
                    .bind(&process.id)
                    .execute(&mut *tx)
                    .await
                    .op(OP)?;
                let row = sqlx::query::<Db>(&counts)
                    .bind(lease_ms)
                    .bind(&process.id)
                    .bind(process.polls)
                    .fetch_one(&mut *tx)
                    .await
                    .op(OP)?;
                // The processes sharing the stores: the polling ones; the others only while
                // none polls (a webhooks-only hub).
                let live: i64 = row.try_get::<i64, _>("live").op(OP)?.max(1);
                let polling: i64 = row.try_get("polling").op(OP)?;
                let stores: i64 = row.try_get("stores").op(OP)?;
                let held_now: i64 = row.try_get("held").op(OP)?;
                let now_ms: i64 = row.try_get("now_ms").op(OP)?;
                let share = if !process.polls && polling > 0 {
                    0
                } else {
                    (stores + live - 1) / live
                };
                let mut released = 0;
                let mut taken = 0;
                if held_now > share {
                    released = sqlx::query::<Db>(release)
                        .bind(&process.id)
                        .bind(held_now - share)
                        .execute(&mut *tx)
                        .await
                        .op(OP)?
                        .rows_affected() as i64;
                } else if held_now < share {
                    taken = sqlx::query::<Db>(&take)
                        .bind(&process.id)
                        .bind(lease_ms)
                        .bind(share - held_now)
                        .execute(&mut *tx)
                        .await
                        .op(OP)?
                        .rows_affected() as i64;
                }
                let rows = sqlx::query::<Db>(&held)
                    .bind(&process.id)
                    .fetch_all(&mut *tx)
                    .await
                    .op(OP)?;
                let mut leases = Vec::with_capacity(rows.len());
                for row in rows {
                    leases.push(HeldLease {
                        channel: row.try_get("channel").op(OP)?,
                        remote_id: row.try_get("remote_id").op(OP)?,
                        polled_at_ms: row.try_get("polled_at").op(OP)?,
                    });
                }
                tx.commit().await.op(OP)?;
                Ok(Rebalance {
                    now_ms,
                    live_processes: live,
                    stores,
                    share,
                    released,
                    taken,
                    held: leases,
                })
            }
            .await
        })
    }

    /// Gives back every lease of `process` and removes it from the live processes (a graceful
    /// shutdown): the others take its stores at their next heartbeat instead of after the
    /// lease period.
    pub async fn release_leases(&self, process: &str) -> Result<u64, StorageError> {
        const OP: &str = "releasing the store leases";
        with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin_with(BEGIN_WRITE).await.op(OP)?;
                let released = sqlx::query::<Db>(
                    "UPDATE store_leases SET owner = NULL, expires_at = 0 WHERE owner = $1",
                )
                .bind(process)
                .execute(&mut *tx)
                .await
                .op(OP)?
                .rows_affected();
                sqlx::query::<Db>("DELETE FROM hub_processes WHERE id = $1")
                    .bind(process)
                    .execute(&mut *tx)
                    .await
                    .op(OP)?;
                // Jobs it had claimed are free again at once.
                sqlx::query::<Db>("UPDATE jobs SET claimed_until = 0 WHERE claimed_by = $1")
                    .bind(process)
                    .execute(&mut *tx)
                    .await
                    .op(OP)?;
                tx.commit().await.op(OP)?;
                Ok(released)
            }
            .await
        })
    }

    /// Records that a scheduled sync of the channel store starts now, if `process` still holds
    /// its lease (the fence: a process that lost the lease must not sync) and the store's last
    /// scheduled sync started at least `gap` ago, here or in the process that held it before (a
    /// lease that moved between that start and the new holder's reading of it must not make
    /// the store walked twice in an interval). `false`: not now.
    pub async fn mark_polled(
        &self,
        channel: &str,
        remote_id: &str,
        process: &str,
        gap: Duration,
    ) -> Result<bool, StorageError> {
        let sql = format!(
            "UPDATE store_leases SET polled_at = {now} WHERE channel = $1 AND remote_id = $2 \
             AND owner = $3 AND expires_at > {now} AND polled_at <= {now} - $4",
            now = self.backend.now_ms()
        );
        with_pool!(self, |pool| {
            Ok(sqlx::query::<Db>(&sql)
                .bind(channel)
                .bind(remote_id)
                .bind(process)
                .bind(ms(gap))
                .execute(pool)
                .await
                .op("recording a scheduled sync")?
                .rows_affected()
                == 1)
        })
    }

    /// The live processes and the leases each holds (`cenports fleet`, `/metrics`).
    pub async fn fleet_processes(
        &self,
        lease: Duration,
    ) -> Result<Vec<FleetProcess>, StorageError> {
        let sql = format!(
            "SELECT p.id, p.role, p.host, p.pid, {now} - p.heartbeat_at AS age, \
             (SELECT COUNT(*) FROM store_leases l WHERE l.owner = p.id AND l.expires_at > {now}) \
             AS leases FROM hub_processes p WHERE p.heartbeat_at > {now} - $1 ORDER BY p.id",
            now = self.backend.now_ms()
        );
        with_pool!(self, |pool| {
            let rows = sqlx::query::<Db>(&sql)
                .bind(ms(lease))
                .fetch_all(pool)
                .await
                .op("listing the hub's processes")?;
            rows.into_iter()
                .map(|row| {
                    Ok(FleetProcess {
                        id: row.try_get("id")?,
                        role: row.try_get("role")?,
                        host: row.try_get("host")?,
                        pid: row.try_get("pid")?,
                        heartbeat_age_ms: row.try_get("age")?,
                        leases: row.try_get("leases")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .op("listing the hub's processes")
        })
    }

    /// Channel stores with a lease row (every connected one, as of the last heartbeat), and how
    /// many of them a live lease covers now.
    pub async fn lease_counts(&self) -> Result<(i64, i64), StorageError> {
        let sql = format!(
            "SELECT COUNT(*), SUM(CASE WHEN owner IS NOT NULL AND expires_at > {now} \
             THEN 1 ELSE 0 END) FROM store_leases",
            now = self.backend.now_ms()
        );
        with_pool!(self, |pool| {
            let (total, held): (i64, Option<i64>) = sqlx::query_as::<Db, (i64, Option<i64>)>(&sql)
                .fetch_one(pool)
                .await
                .op("counting the store leases")?;
            Ok((total, held.unwrap_or(0)))
        })
    }

    /// The process holding the lease of a channel store now, if any.
    pub async fn lease_owner(
        &self,
        channel: &str,
        remote_id: &str,
    ) -> Result<Option<String>, StorageError> {
        let sql = format!(
            "SELECT owner FROM store_leases WHERE channel = $1 AND remote_id = $2 \
             AND owner IS NOT NULL AND expires_at > {now}",
            now = self.backend.now_ms()
        );
        with_pool!(self, |pool| {
            sqlx::query_scalar::<Db, String>(&sql)
                .bind(channel)
                .bind(remote_id)
                .fetch_optional(pool)
                .await
                .op("reading a store lease")
        })
    }

    /// Queues a job for `store`, due after `delay`, unless the same job (kind and target)
    /// already waits unclaimed: then nothing is added.
    pub async fn enqueue_job(
        &self,
        store: StoreId,
        kind: JobKind,
        target: &str,
        scope: &str,
        delay: Duration,
    ) -> Result<Queued, StorageError> {
        let sql = insert_job_sql(self.backend.now_ms());
        with_pool!(self, |pool| {
            let inserted = sqlx::query::<Db>(&sql)
                .bind(store.0)
                .bind(kind.as_str())
                .bind(target)
                .bind(scope)
                .bind(ms(delay))
                .execute(pool)
                .await
                .op_store("queueing a job", store)?
                .rows_affected();
            Ok(if inserted == 1 {
                Queued::Queued
            } else {
                Queued::Coalesced
            })
        })
    }

    /// Records an authenticated callback's receipt and queues its hint, in one transaction:
    /// a callback is never recorded as received without its work being queued, and a duplicate
    /// (same message id) queues nothing. A store already holding `max_hints` waiting hints gets
    /// a walk instead (queued once): the backlog stays bounded and loses nothing, because the
    /// walk reads every order changed since the store's checkpoint.
    #[allow(clippy::too_many_arguments)]
    pub async fn accept_callback(
        &self,
        store: StoreId,
        message_id: &str,
        event_scope: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
        hint: Option<(JobKind, &str)>,
        max_hints: i64,
    ) -> Result<Accepted, StorageError> {
        const OP: &str = "accepting a webhook callback";
        let now = self.backend.now_ms();
        let receipt = "INSERT INTO webhook_receipts (store_id, message_id, scope, received_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (store_id, message_id) DO NOTHING";
        let count = "SELECT COUNT(*) FROM jobs WHERE store_id = $1 \
             AND kind IN ('order', 'product') AND claimed_by IS NULL";
        let insert = insert_job_sql(now);
        with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin_with(BEGIN_WRITE).await.op_store(OP, store)?;
                let new = sqlx::query::<Db>(receipt)
                    .bind(store.0)
                    .bind(message_id)
                    .bind(event_scope)
                    .bind(super::now())
                    .bind(expires_at)
                    .execute(&mut *tx)
                    .await
                    .op_store(OP, store)?
                    .rows_affected()
                    == 1;
                let outcome = match hint {
                    _ if !new => Accepted::Duplicate,
                    None => Accepted::Ignored,
                    Some((kind, target)) => {
                        let waiting: i64 = sqlx::query_scalar::<Db, i64>(count)
                            .bind(store.0)
                            .fetch_one(&mut *tx)
                            .await
                            .op_store(OP, store)?;
                        let (kind, target, full) = if waiting >= max_hints {
                            (JobKind::Walk, "", true)
                        } else {
                            (kind, target, false)
                        };
                        let queued = sqlx::query::<Db>(&insert)
                            .bind(store.0)
                            .bind(kind.as_str())
                            .bind(target)
                            .bind(event_scope)
                            .bind(0_i64)
                            .execute(&mut *tx)
                            .await
                            .op_store(OP, store)?
                            .rows_affected()
                            == 1;
                        match (full, queued) {
                            (true, _) => Accepted::Walk,
                            (false, true) => Accepted::Queued,
                            (false, false) => Accepted::Coalesced,
                        }
                    }
                };
                tx.commit().await.op_store(OP, store)?;
                Ok(outcome)
            }
            .await
        })
    }

    /// Claims up to `limit` due jobs of stores whose lease `process` holds, for `claim`
    /// (after which another holder may take them again). Walks and syncs come before hints,
    /// then the oldest first; a store's order hints wait while a walk of it waits or runs (the
    /// walk replaces them). A job claimed by another process is taken over: holding the
    /// store's lease now means that process lost it (it died, or gave the store back), and a
    /// fetch run twice is harmless.
    pub async fn claim_jobs(
        &self,
        process: &str,
        claim: Duration,
        limit: i64,
    ) -> Result<Vec<JobRow>, StorageError> {
        let (skip_locked, now) = match self.backend {
            Backend::Sqlite(_) => ("", self.backend.now_ms()),
            Backend::Postgres(_) => (" FOR UPDATE OF j SKIP LOCKED", self.backend.now_ms()),
        };
        let sql = format!(
            "UPDATE jobs SET claimed_by = $1, claimed_until = {now} + $2, attempts = attempts + 1 \
             WHERE id IN (SELECT j.id FROM jobs j \
                 JOIN stores s ON s.id = j.store_id \
                 JOIN store_leases l ON l.channel = s.channel AND l.remote_id = s.remote_id \
                 WHERE l.owner = $1 AND l.expires_at > {now} AND j.run_after <= {now} \
                 AND (j.claimed_by IS NULL OR j.claimed_by <> $1 OR j.claimed_until <= {now}) \
                 AND NOT (j.kind = 'order' AND EXISTS (SELECT 1 FROM jobs w \
                     WHERE w.store_id = j.store_id AND w.kind = 'walk')) \
                 ORDER BY CASE WHEN j.kind IN ('walk', 'sync') THEN 0 ELSE 1 END, j.id \
                 LIMIT $3{skip_locked}) \
             AND (claimed_by IS NULL OR claimed_by <> $1 OR claimed_until <= {now}) \
             RETURNING id, store_id, kind, target, scope, {now} - created_at AS waited, attempts"
        );
        with_pool!(self, |pool| {
            let rows = sqlx::query::<Db>(&sql)
                .bind(process)
                .bind(ms(claim))
                .bind(limit)
                .fetch_all(pool)
                .await
                .op("claiming jobs")?;
            rows.into_iter()
                .map(|row| {
                    Ok(JobRow {
                        id: row.try_get("id")?,
                        store_id: StoreId(row.try_get("store_id")?),
                        kind: JobKind::parse(&row.try_get::<String, _>("kind")?)?,
                        target: row.try_get("target")?,
                        scope: row.try_get("scope")?,
                        waited_ms: row.try_get("waited")?,
                        attempts: row.try_get("attempts")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .op("claiming jobs")
        })
    }

    /// Removes a job `process` finished (done, or given up).
    pub async fn finish_job(&self, id: i64, process: &str) -> Result<(), StorageError> {
        with_pool!(self, |pool| {
            sqlx::query::<Db>("DELETE FROM jobs WHERE id = $1 AND claimed_by = $2")
                .bind(id)
                .bind(process)
                .execute(pool)
                .await
                .op("finishing a job")?;
            Ok(())
        })
    }

    /// Gives a claimed job back to run again after `delay`, keeping `error`. When the same job
    /// was queued again meanwhile, this one is dropped instead (the waiting one covers it).
    pub async fn retry_job(
        &self,
        id: i64,
        process: &str,
        delay: Duration,
        error: &str,
    ) -> Result<(), StorageError> {
        const OP: &str = "retrying a job";
        let drop_covered = "DELETE FROM jobs WHERE id = $1 AND claimed_by = $2 AND EXISTS \
             (SELECT 1 FROM jobs d WHERE d.store_id = jobs.store_id AND d.kind = jobs.kind \
             AND d.target = jobs.target AND d.claimed_by IS NULL)";
        let retry = format!(
            "UPDATE jobs SET claimed_by = NULL, claimed_until = NULL, run_after = {now} + $3, \
             last_error = $4 WHERE id = $1 AND claimed_by = $2",
            now = self.backend.now_ms()
        );
        with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin_with(BEGIN_WRITE).await.op(OP)?;
                sqlx::query::<Db>(drop_covered)
                    .bind(id)
                    .bind(process)
                    .execute(&mut *tx)
                    .await
                    .op(OP)?;
                sqlx::query::<Db>(&retry)
                    .bind(id)
                    .bind(process)
                    .bind(ms(delay))
                    .bind(error)
                    .execute(&mut *tx)
                    .await
                    .op(OP)?;
                tx.commit().await.op(OP)
            }
            .await
        })
    }

    /// Drops the order hints of `store` queued at or before `before_ms` (database clock): a
    /// walk that started after them read every order they name.
    pub async fn drop_covered_hints(
        &self,
        store: StoreId,
        before_ms: i64,
    ) -> Result<u64, StorageError> {
        with_pool!(self, |pool| {
            Ok(sqlx::query::<Db>(
                "DELETE FROM jobs WHERE store_id = $1 AND kind = 'order' AND claimed_by IS NULL \
                 AND created_at <= $2",
            )
            .bind(store.0)
            .bind(before_ms)
            .execute(pool)
            .await
            .op_store("dropping covered hints", store)?
            .rows_affected())
        })
    }

    /// The database's clock in epoch milliseconds (what job and lease times are in).
    pub async fn now_ms(&self) -> Result<i64, StorageError> {
        let sql = format!("SELECT {}", self.backend.now_ms());
        with_pool!(self, |pool| {
            sqlx::query_scalar::<Db, i64>(&sql)
                .fetch_one(pool)
                .await
                .op("reading the database's clock")
        })
    }

    /// The waiting jobs per store: of the stores whose lease `process` holds, or of every
    /// store with `None` (`/metrics` in any process).
    pub async fn job_backlog(&self, process: Option<&str>) -> Result<Vec<Backlog>, StorageError> {
        let sql = format!(
            "SELECT j.store_id, COUNT(*) AS queued, \
             SUM(CASE WHEN j.kind IN ('order', 'product') THEN 1 ELSE 0 END) AS hints, \
             SUM(CASE WHEN j.kind = 'walk' THEN 1 ELSE 0 END) AS walks, \
             {now} - MIN(j.created_at) AS oldest, \
             {now} - MAX(CASE WHEN j.kind IN ('order', 'product') THEN j.created_at END) \
             AS newest_hint FROM jobs j \
             WHERE j.claimed_by IS NULL AND ($1 IS NULL OR EXISTS (SELECT 1 FROM stores s \
                 JOIN store_leases l ON l.channel = s.channel AND l.remote_id = s.remote_id \
                 WHERE s.id = j.store_id AND l.owner = $1)) \
             GROUP BY j.store_id ORDER BY j.store_id",
            now = self.backend.now_ms()
        );
        with_pool!(self, |pool| {
            let rows = sqlx::query::<Db>(&sql)
                .bind(process)
                .fetch_all(pool)
                .await
                .op("reading the job backlog")?;
            rows.into_iter()
                .map(|row| {
                    Ok(Backlog {
                        store_id: StoreId(row.try_get("store_id")?),
                        queued: row.try_get("queued")?,
                        hints: row.try_get::<Option<i64>, _>("hints")?.unwrap_or(0),
                        walk_queued: row.try_get::<Option<i64>, _>("walks")?.unwrap_or(0) > 0,
                        oldest_age_ms: row.try_get::<Option<i64>, _>("oldest")?.unwrap_or(0),
                        newest_hint_age_ms: row
                            .try_get::<Option<i64>, _>("newest_hint")?
                            .unwrap_or(0),
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .op("reading the job backlog")
        })
    }
}
