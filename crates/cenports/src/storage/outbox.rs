//! The fulfilment outbox: durable writes to the channel (shipments, order status changes),
//! committed before they are sent and delivered by leasing workers. The design and the
//! exactly-once argument are in `docs/FULFILMENT.md`; this file is only the storage contract.
//! It also holds the outbox's reads for the HTTP API: a store's shipments (outbox rows of kind
//! shipment), an order's rows, a store's problems.
//!
//! Invariants kept here:
//! - a user's request enters once: `(store, request_key, part)` is unique, and enqueueing checks
//!   the key and the order's open rows in the same write transaction as the insert;
//! - a row is held by at most one worker: a claim is one atomic `UPDATE .. RETURNING` that only
//!   takes a row whose lease expired (PostgreSQL also skips rows another claim has locked);
//! - every state change after the claim names the lease owner, so a worker whose lease expired
//!   can never overwrite what the next holder did;
//! - rows of one order are delivered in the order they were requested: a row is only claimable
//!   when no earlier row of its order is still open;
//! - delivering a shipment, updating the hub's copy of the order (shipped quantities, status),
//!   lowering on hand by the parcel's units (`docs/STOCK.md`) and closing the row happen in one
//!   transaction.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::error::Context;
use super::orders::{order_read_sql, replaces, ReadAt};
use super::{from_millis, ms, now, Backend, StorageError};
use super::{EventType, FulfilmentState, OrderId, StoreId, StoreScope};
use super::{NewOrderAddress, NewOrderLine, OrderRecord, OrderSummary};

/// A stored outbox value that is not one of the known spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?} in the database")]
pub struct UnknownOutboxValue {
    what: &'static str,
    value: String,
}

impl UnknownOutboxValue {
    fn new(what: &'static str, value: &str) -> Self {
        Self {
            what,
            value: value.to_owned(),
        }
    }
}

fn parse_col<T: FromStr<Err = UnknownOutboxValue>>(text: String) -> Result<T, sqlx::Error> {
    text.parse::<T>()
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// Our id of an outbox row. Its number is the marker written into what the row creates
/// (e.g. `cenports:<id>` in a shipment's comments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutboxId(pub(crate) i64);

impl OutboxId {
    /// The raw id.
    pub fn get(self) -> i64 {
        self.0
    }

    /// Wraps a raw id (e.g. from a CLI flag).
    pub fn from_raw(id: i64) -> Self {
        Self(id)
    }
}

impl fmt::Display for OutboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "outbox_{}", self.0)
    }
}

/// What an outbox row writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxKind {
    /// A shipment of some lines to one shipping address.
    Shipment,
    /// A change of the order's status.
    OrderStatus,
}

impl OutboxKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shipment => "shipment",
            Self::OrderStatus => "order_status",
        }
    }
}

impl FromStr for OutboxKind {
    type Err = UnknownOutboxValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "shipment" => Ok(Self::Shipment),
            "order_status" => Ok(Self::OrderStatus),
            _ => Err(UnknownOutboxValue::new("outbox kind", s)),
        }
    }
}

/// Where a row is in its life. See `docs/FULFILMENT.md` for the transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxState {
    /// Not sent yet, or known not to have been applied.
    Pending,
    /// The request may have reached the channel: read back before any retry.
    Sending,
    /// Applied at the channel, and the hub's order updated.
    Delivered,
    /// Rejected by the channel or given up; `last_error` says why.
    Failed,
}

impl OutboxState {
    /// Every state.
    pub const ALL: [OutboxState; 4] = [Self::Pending, Self::Sending, Self::Delivered, Self::Failed];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// Still to be delivered (pending or sending).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Sending)
    }
}

impl FromStr for OutboxState {
    type Err = UnknownOutboxValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownOutboxValue::new("outbox state", s))
    }
}

/// How a delivery was confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveredBy {
    /// The request was answered with success.
    Sent,
    /// An earlier attempt's outcome was unknown and the result was found by its marker.
    Found,
}

impl DeliveredBy {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Found => "found",
        }
    }
}

impl FromStr for DeliveredBy {
    type Err = UnknownOutboxValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sent" => Ok(Self::Sent),
            "found" => Ok(Self::Found),
            _ => Err(UnknownOutboxValue::new("delivery confirmation", s)),
        }
    }
}

/// One row to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutboxEntry {
    /// Which part of the request: the channel's shipping address id for a shipment,
    /// [`super::STATUS_PART`] for a status change.
    pub part: String,
    /// What it writes.
    pub kind: OutboxKind,
    /// The channel-agnostic payload (JSON).
    pub payload: String,
}

/// An outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// Our id (and the marker).
    pub id: OutboxId,
    /// The store.
    pub store_id: StoreId,
    /// The user's idempotency key.
    pub request_key: String,
    /// The part of the request (shipping address id, or [`super::STATUS_PART`]).
    pub part: String,
    /// What it writes.
    pub kind: OutboxKind,
    /// Our order id.
    pub order_id: OrderId,
    /// The channel's order id.
    pub order_remote_id: String,
    /// The payload (JSON).
    pub payload: String,
    /// Where it is.
    pub state: OutboxState,
    /// How many times a worker took it.
    pub attempts: i32,
    /// Not claimable before this instant.
    pub next_attempt_at: DateTime<Utc>,
    /// The worker holding (or last holding) the lease.
    pub lease_owner: Option<String>,
    /// The lease ends at this instant.
    pub locked_until: Option<DateTime<Utc>>,
    /// The last failure, as an operator should read it.
    pub last_error: Option<String>,
    /// What the channel returned: the shipment id, or the resulting status.
    pub remote_result: Option<String>,
    /// How delivery was confirmed.
    pub delivered_by: Option<DeliveredBy>,
    /// When a read-back after the quiet period first found nothing of the last attempt (by the
    /// database's clock); a second one at least the recheck gap later proves it was not
    /// applied. `None` when no such read-back happened since the row was last sent.
    pub absent_since: Option<DateTime<Utc>>,
    /// Enqueued at.
    pub created_at: DateTime<Utc>,
    /// Last changed at.
    pub updated_at: DateTime<Utc>,
    /// Delivered at.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// What [`Storage::enqueue_outbox`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// New rows were committed.
    New(Vec<OutboxRow>),
    /// The request key was already used: these are the rows it made then; nothing was added.
    Duplicate(Vec<OutboxRow>),
}

impl Enqueued {
    /// The rows, new or existing.
    pub fn rows(&self) -> &[OutboxRow] {
        match self {
            Self::New(rows) | Self::Duplicate(rows) => rows,
        }
    }
}

/// Why [`Storage::enqueue_outbox`] did not enqueue.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError<E> {
    /// The caller's check refused the request (nothing written).
    #[error("{0}")]
    Rejected(E),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The order as the channel reports it right after a delivery, to mirror in the hub's copy.
///
/// Absolute values, never increments: an import may bring the same change first (the order
/// was read between the delivery and its recording), and writing "shipped = 3" twice is
/// harmless where "shipped += 1" twice is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderAfterDelivery {
    /// The order's status at the channel.
    pub status: ChannelStatus,
    /// The channel's `date_modified` of this snapshot: the hub's copy is only replaced when it
    /// is not newer.
    pub date_modified: DateTime<Utc>,
    /// Each line's quantity shipped at the channel: `(channel line id, quantity shipped)`.
    /// Empty when the delivery did not touch lines (a status change).
    pub lines_shipped: Vec<(String, i32)>,
}

/// An order status as the channel reports it, with our state for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelStatus {
    /// The channel's status code.
    pub status_code: String,
    /// The channel's status name.
    pub status_name: String,
    /// Our state for it.
    pub fulfilment_state: FulfilmentState,
}

/// Rows per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Pending.
    pub pending: i64,
    /// Sending.
    pub sending: i64,
    /// Delivered.
    pub delivered: i64,
    /// Failed.
    pub failed: i64,
    /// Of the pending and sending rows, those whose last attempt failed (waiting for a retry,
    /// on the slow schedule once their attempts ran out).
    pub retrying: i64,
}

impl OutboxCounts {
    /// Rows still to deliver.
    pub fn open(&self) -> i64 {
        self.pending + self.sending
    }
}

pub(super) const OUTBOX_COLUMNS: &str =
    "id, store_id, request_key, part, kind, order_id, order_remote_id, \
     payload, state, attempts, next_attempt_at, lease_owner, locked_until, last_error, \
     remote_result, delivered_by, absent_since, created_at, updated_at, delivered_at";

/// Milliseconds since the epoch: the unit of the lease and schedule columns.
pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// What [`Storage::record_not_found`] concluded from a read-back that found nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFound {
    /// A first read-back (or one too soon after the first) found nothing: the row stays
    /// `sending`, due again after the recheck gap.
    Recheck,
    /// A second read-back, at least the recheck gap after the first, also found nothing: the
    /// earlier attempt was not applied. The row is `pending` again, still leased.
    Proven,
    /// The caller no longer holds the row.
    LeaseLost,
}

/// What [`Storage::retry_outbox_by_hand`] did.
#[derive(Debug, Clone)]
pub enum HandRetry {
    /// The row is due now with its attempts reset. A failed row whose refusal proved nothing
    /// was applied is `pending` (sent at the next claim); one failed by an older version with
    /// an unknown last outcome is `sending` (read back first, `docs/FULFILMENT.md`).
    Queued(OutboxRow),
    /// A worker holds the row right now: it is being tried; nothing changed.
    InFlight(OutboxRow),
    /// The row was delivered already; nothing changed.
    Delivered(OutboxRow),
}

from_row_both!(OutboxRow, |row| {
    Ok(OutboxRow {
        id: OutboxId(row.try_get("id")?),
        store_id: StoreId(row.try_get("store_id")?),
        request_key: row.try_get("request_key")?,
        part: row.try_get("part")?,
        kind: parse_col(row.try_get("kind")?)?,
        order_id: OrderId(row.try_get("order_id")?),
        order_remote_id: row.try_get("order_remote_id")?,
        payload: row.try_get("payload")?,
        state: parse_col(row.try_get("state")?)?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: from_millis(row.try_get("next_attempt_at")?),
        lease_owner: row.try_get("lease_owner")?,
        locked_until: row
            .try_get::<Option<i64>, _>("locked_until")?
            .map(from_millis),
        last_error: row.try_get("last_error")?,
        remote_result: row.try_get("remote_result")?,
        delivered_by: row
            .try_get::<Option<String>, _>("delivered_by")?
            .map(parse_col)
            .transpose()?,
        absent_since: row
            .try_get::<Option<i64>, _>("absent_since")?
            .map(from_millis),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        delivered_at: row.try_get("delivered_at")?,
    })
});

impl super::Storage {
    /// Enqueues the rows of one request for `order` under `request_key`, in one write
    /// transaction:
    /// 1. if the key was used already, returns those rows ([`Enqueued::Duplicate`]) and adds
    ///    nothing (the check is not run again: the request was accepted then);
    /// 2. reads the order's open rows and gives them to `check`, which can refuse the request
    ///    (e.g. a quantity above what remains once those rows are delivered);
    /// 3. inserts the rows, due now.
    ///
    /// Two concurrent requests on one order are serialised by the transaction (SQLite's write
    /// lock; a row lock on the order on PostgreSQL), so each one's check sees the other's rows.
    /// The check is given the order as read inside the transaction, under that lock, with its
    /// lines' shipped quantities: a delivery or an import committed since the caller's own read
    /// of the order (which moves units from open rows to shipped) cannot make it count a unit
    /// twice as free.
    pub async fn enqueue_outbox<E>(
        &self,
        scope: &StoreScope,
        order: OrderId,
        order_remote_id: &str,
        request_key: &str,
        entries: &[NewOutboxEntry],
        check: impl FnOnce(&OrderRecord, &[OutboxRow]) -> Result<(), E>,
    ) -> Result<Enqueued, EnqueueError<E>> {
        const OP: &str = "enqueueing a channel write";
        let store = scope.store_id;
        let now = now();
        let by_key = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE store_id = $1 AND request_key = $2 \
             ORDER BY id"
        );
        let open_sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE store_id = $1 AND order_id = $2 \
             AND state IN ('pending', 'sending') ORDER BY id"
        );
        let insert = format!(
            "INSERT INTO outbox (store_id, request_key, part, kind, order_id, order_remote_id, \
             payload, state, attempts, next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $9, $9) \
             RETURNING {OUTBOX_COLUMNS}"
        );
        // SQLite's BEGIN IMMEDIATE already holds the one write lock.
        let lock = match self.backend {
            Backend::Sqlite(_) => "",
            Backend::Postgres(_) => " FOR UPDATE",
        };
        let [order_sql, lines_sql, addresses_sql] = order_read_sql("id", lock);
        let result: Result<Result<Enqueued, E>, StorageError> = with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin_with(BEGIN_WRITE).await.op_store(OP, store)?;
                let Some(row) = sqlx::query::<Db>(&order_sql)
                    .bind(store.0)
                    .bind(order.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .op_store(OP, store)?
                else {
                    return Err(StorageError::NotFound {
                        what: "order",
                        id: order_remote_id.to_owned(),
                    });
                };
                let summary: OrderSummary = sqlx::FromRow::from_row(&row).op_store(OP, store)?;
                let encoding: String = row.try_get("raw_encoding").op_store(OP, store)?;
                let raw_json =
                    super::raw::decode(&encoding, row.try_get("raw").op_store(OP, store)?)
                        .map_err(|source| StorageError::Corrupt {
                            op: OP,
                            store: Some(store),
                            source,
                        })?;
                let lines = sqlx::query_as::<Db, NewOrderLine>(&lines_sql)
                    .bind(store.0)
                    .bind(order.0)
                    .fetch_all(&mut *tx)
                    .await
                    .op_store(OP, store)?;
                let addresses = sqlx::query_as::<Db, NewOrderAddress>(&addresses_sql)
                    .bind(store.0)
                    .bind(order.0)
                    .fetch_all(&mut *tx)
                    .await
                    .op_store(OP, store)?;
                let fresh = OrderRecord {
                    summary,
                    raw_json,
                    lines,
                    addresses,
                };
                let existing = sqlx::query_as::<Db, OutboxRow>(&by_key)
                    .bind(store.0)
                    .bind(request_key)
                    .fetch_all(&mut *tx)
                    .await
                    .op_store(OP, store)?;
                if !existing.is_empty() {
                    return Ok(Ok(Enqueued::Duplicate(existing)));
                }
                let open = sqlx::query_as::<Db, OutboxRow>(&open_sql)
                    .bind(store.0)
                    .bind(order.0)
                    .fetch_all(&mut *tx)
                    .await
                    .op_store(OP, store)?;
                if let Err(rejected) = check(&fresh, &open) {
                    return Ok(Err(rejected));
                }
                let mut rows = Vec::with_capacity(entries.len());
                for entry in entries {
                    let row = sqlx::query_as::<Db, OutboxRow>(&insert)
                        .bind(store.0)
                        .bind(request_key)
                        .bind(entry.part.as_str())
                        .bind(entry.kind.as_str())
                        .bind(order.0)
                        .bind(order_remote_id)
                        .bind(entry.payload.as_str())
                        .bind(millis(now))
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await
                        .op_store(OP, store)?;
                    rows.push(row);
                }
                tx.commit().await.op_store(OP, store)?;
                Ok::<Result<Enqueued, E>, StorageError>(Ok(Enqueued::New(rows)))
            }
            .await
        });
        match result {
            Ok(Ok(enqueued)) => Ok(enqueued),
            Ok(Err(rejected)) => Err(EnqueueError::Rejected(rejected)),
            // Two identical requests racing: the loser's insert hits the unique key; what the
            // winner committed is the answer.
            Err(StorageError::Query {
                source: sqlx::Error::Database(e),
                ..
            }) if e.is_unique_violation() => {
                let rows = self.outbox_by_key(scope, request_key).await?;
                Ok(Enqueued::Duplicate(rows))
            }
            Err(e) => Err(EnqueueError::Storage(e)),
        }
    }

    /// The open (pending or sending) rows of one order, oldest first.
    pub async fn open_outbox_for_order(
        &self,
        scope: &StoreScope,
        order: OrderId,
    ) -> Result<Vec<OutboxRow>, StorageError> {
        let store = scope.store_id;
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE store_id = $1 AND order_id = $2 \
             AND state IN ('pending', 'sending') ORDER BY id"
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, OutboxRow>(&sql)
                .bind(store.0)
                .bind(order.0)
                .fetch_all(pool)
                .await
                .op_store("reading an order's open outbox rows", store)
        })
    }

    /// The rows of one request key.
    pub async fn outbox_by_key(
        &self,
        scope: &StoreScope,
        request_key: &str,
    ) -> Result<Vec<OutboxRow>, StorageError> {
        let store = scope.store_id;
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE store_id = $1 AND request_key = $2 \
             ORDER BY id"
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, OutboxRow>(&sql)
                .bind(store.0)
                .bind(request_key)
                .fetch_all(pool)
                .await
                .op_store("reading outbox rows", store)
        })
    }

    /// One row of a store.
    pub async fn get_outbox(
        &self,
        scope: &StoreScope,
        id: OutboxId,
    ) -> Result<OutboxRow, StorageError> {
        let store = scope.store_id;
        let sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE store_id = $1 AND id = $2");
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, OutboxRow>(&sql)
                .bind(store.0)
                .bind(id.0)
                .fetch_optional(pool)
                .await
                .op_store("reading an outbox row", store)
        })?
        .ok_or_else(|| StorageError::NotFound {
            what: "outbox row",
            id: id.to_string(),
        })
    }

    /// Rows by id, newest first when `newest_first`; of one store or (operators, workers) of
    /// every store. `open_only` keeps pending and sending rows.
    pub async fn list_outbox(
        &self,
        scope: Option<&StoreScope>,
        open_only: bool,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StorageError> {
        let store = scope.map(|s| s.store_id.0);
        let open = if open_only {
            " AND state IN ('pending', 'sending')"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE ($1 IS NULL OR store_id = $1){open} \
             ORDER BY id LIMIT $2"
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, OutboxRow>(&sql)
                .bind(store)
                .bind(i64::from(limit.max(1)))
                .fetch_all(pool)
                .await
                .op("listing the outbox")
        })
    }

    /// Rows per state, of one store or of every store.
    pub async fn count_outbox(
        &self,
        scope: Option<&StoreScope>,
    ) -> Result<OutboxCounts, StorageError> {
        let store = scope.map(|s| s.store_id.0);
        let rows: Vec<(String, i64, i64)> = with_pool!(self, |pool| {
            sqlx::query_as::<Db, (String, i64, i64)>(
                "SELECT state, COUNT(*), \
                 SUM(CASE WHEN last_error IS NULL THEN 0 ELSE 1 END) \
                 FROM outbox WHERE ($1 IS NULL OR store_id = $1) GROUP BY state",
            )
            .bind(store)
            .fetch_all(pool)
            .await
            .op("counting the outbox")
        })?;
        let mut counts = OutboxCounts::default();
        for (state, n, with_error) in rows {
            if state == "pending" || state == "sending" {
                counts.retrying += with_error;
            }
            match state.as_str() {
                "pending" => counts.pending = n,
                "sending" => counts.sending = n,
                "delivered" => counts.delivered = n,
                _ => counts.failed += n,
            }
        }
        Ok(counts)
    }

    /// How long until the next open row becomes claimable (its retry time and its lease both
    /// passed), by the database's clock (zero if one is due now), or `None` when no row is
    /// open. Of one store or of every store.
    pub async fn next_outbox_due(
        &self,
        store: Option<StoreId>,
    ) -> Result<Option<Duration>, StorageError> {
        let store = store.map(|s| s.0);
        let sql = format!(
            "SELECT MIN(CASE WHEN locked_until IS NOT NULL AND locked_until > next_attempt_at \
             THEN locked_until ELSE next_attempt_at END) - {now} FROM outbox \
             WHERE state IN ('pending', 'sending') AND ($1 IS NULL OR store_id = $1)",
            now = self.backend.now_ms()
        );
        let wait: Option<i64> = with_pool!(self, |pool| {
            sqlx::query_scalar::<Db, Option<i64>>(&sql)
                .bind(store)
                .fetch_one(pool)
                .await
                .op("reading when the outbox is next due")
        })?;
        Ok(wait.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))))
    }

    /// Leases the next due row to `owner` for `lease`: the oldest row whose retry time has
    /// come, whose lease (if any) has expired and which is the oldest open row of its order.
    /// One atomic statement, so two workers never hold the same row; `attempts` grows by one.
    /// Of one store or of every store.
    pub async fn claim_outbox(
        &self,
        store: Option<StoreId>,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<OutboxRow>, StorageError> {
        self.claim_outbox_where(store, None, owner, lease).await
    }

    /// [`Storage::claim_outbox`] among the stores whose lease the fleet member `process`
    /// holds (`docs/ARCHITECTURE.md`, "Running as a fleet"): a store's writes go out from the
    /// process that paces its requests.
    pub async fn claim_outbox_leased(
        &self,
        process: &str,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<OutboxRow>, StorageError> {
        self.claim_outbox_where(None, Some(process), owner, lease)
            .await
    }

    async fn claim_outbox_where(
        &self,
        store: Option<StoreId>,
        process: Option<&str>,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<OutboxRow>, StorageError> {
        let store = store.map(|s| s.0);
        // PostgreSQL: a concurrent claim that locked the candidate is skipped instead of waited
        // for (waiting would then find the row taken and return nothing). SQLite has one writer
        // at a time, so the statement is already atomic there.
        let skip_locked = match self.backend {
            Backend::Sqlite(_) => "",
            Backend::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        };
        // Times come from the database's clock (`now`), so hosts whose clocks disagree still
        // agree on when a lease ends.
        let sql = format!(
            "UPDATE outbox SET lease_owner = $1, locked_until = {now} + $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE id = (SELECT o.id FROM outbox o \
                 WHERE o.state IN ('pending', 'sending') AND o.next_attempt_at <= {now} \
                 AND (o.locked_until IS NULL OR o.locked_until <= {now}) \
                 AND ($4 IS NULL OR o.store_id = $4) \
                 AND ($5 IS NULL OR EXISTS (SELECT 1 FROM stores s JOIN store_leases l \
                     ON l.channel = s.channel AND l.remote_id = s.remote_id \
                     WHERE s.id = o.store_id AND l.owner = $5 AND l.expires_at > {now})) \
                 AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.store_id = o.store_id \
                     AND p.order_id = o.order_id AND p.id < o.id \
                     AND p.state IN ('pending', 'sending')) \
                 ORDER BY o.next_attempt_at, o.id LIMIT 1{skip_locked}) \
             AND state IN ('pending', 'sending') \
             AND (locked_until IS NULL OR locked_until <= {now}) \
             RETURNING {OUTBOX_COLUMNS}",
            now = self.backend.now_ms()
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, OutboxRow>(&sql)
                .bind(owner)
                .bind(ms(lease))
                .bind(now())
                .bind(store)
                .bind(process)
                .fetch_optional(pool)
                .await
                .op("claiming an outbox row")
        })
    }

    /// Records, before the request goes out, that it may reach the channel (state `sending`),
    /// renews the lease for `lease`, and makes the row due no earlier than `settle` from now:
    /// if this worker dies, the next read-back waits until whatever it sent has settled
    /// (`docs/FULFILMENT.md`, "Unknown outcomes"). Clears an earlier absence. Returns `false`
    /// when `owner` no longer holds an unexpired lease on the row: the caller must then not
    /// send.
    pub async fn mark_outbox_sending(
        &self,
        id: OutboxId,
        owner: &str,
        lease: Duration,
        settle: Duration,
    ) -> Result<bool, StorageError> {
        let sql = format!(
            "UPDATE outbox SET state = 'sending', locked_until = {now} + $1, \
             next_attempt_at = {now} + $2, absent_since = NULL, updated_at = $3 \
             WHERE id = $4 AND lease_owner = $5 AND locked_until > {now} \
             AND state IN ('pending', 'sending')",
            now = self.backend.now_ms()
        );
        let affected = with_pool!(self, |pool| {
            sqlx::query::<Db>(&sql)
                .bind(ms(lease))
                .bind(ms(settle))
                .bind(now())
                .bind(id.0)
                .bind(owner)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
                .op("marking an outbox row as sending")
        })?;
        Ok(affected == 1)
    }

    /// Closes a row as delivered and mirrors the channel's snapshot of the order in the hub's
    /// copy, in one transaction: status, shipped quantities and `date_modified` are replaced if
    /// and only if the hub's copy is not newer than the snapshot (an import that already
    /// brought a later version wins). `order` is `None` when the snapshot could not be read:
    /// the delivery is still recorded and the next import brings the order. Returns `false`,
    /// changing nothing, when `owner` no longer holds the row.
    pub async fn complete_outbox(
        &self,
        id: OutboxId,
        owner: &str,
        remote_result: &str,
        delivered_by: DeliveredBy,
        order: Option<&OrderAfterDelivery>,
    ) -> Result<bool, StorageError> {
        const OP: &str = "recording a delivery";
        let now = now();
        // The snapshot was read before this moment: it is stored as an unsettled version read
        // now, so the next read of its second brings the order's JSON as well
        // (docs/SYNC.md, "Versions within one second").
        let read_at = self.clock().await?;
        with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin_with(BEGIN_WRITE).await.op(OP)?;
                let closed: Option<(i64, i64)> = sqlx::query_as::<Db, (i64, i64)>(
                    "UPDATE outbox SET state = 'delivered', remote_result = $1, \
                     delivered_by = $2, delivered_at = $3, updated_at = $3, last_error = NULL, \
                     locked_until = NULL WHERE id = $4 AND lease_owner = $5 \
                     AND state IN ('pending', 'sending') RETURNING store_id, order_id",
                )
                .bind(remote_result)
                .bind(delivered_by.as_str())
                .bind(now)
                .bind(id.0)
                .bind(owner)
                .fetch_optional(&mut *tx)
                .await
                .op(OP)?;
                let Some((store, order_id)) = closed else {
                    return Ok(false);
                };
                // The parcel's units leave on hand as they stop being reserved (docs/STOCK.md).
                super::stock::take_shipped_units(&mut tx, id.0, now)
                    .await
                    .op(OP)?;
                if let Some(change) = order {
                    // Compared here, not in SQL: SQLite keeps timestamps as text.
                    let stored = sqlx::query_as::<Db, (DateTime<Utc>, ReadAt)>(
                        "SELECT date_modified, unsettled_read_at FROM orders \
                         WHERE store_id = $1 AND id = $2",
                    )
                    .bind(store)
                    .bind(order_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .op(OP)?;
                    if stored.is_some_and(|stored| {
                        replaces(stored, (change.date_modified, Some(read_at)))
                    }) {
                        for (line, shipped) in &change.lines_shipped {
                            sqlx::query::<Db>(
                                "UPDATE order_lines SET quantity_shipped = $1 \
                                 WHERE store_id = $2 AND order_id = $3 AND remote_id = $4",
                            )
                            .bind(*shipped)
                            .bind(store)
                            .bind(order_id)
                            .bind(line.as_str())
                            .execute(&mut *tx)
                            .await
                            .op(OP)?;
                        }
                        let status = &change.status;
                        sqlx::query::<Db>(
                            "UPDATE orders SET status_code = $1, status_name = $2, \
                             fulfilment_state = $3, date_modified = $4, updated_at = $5, \
                             unsettled_read_at = $8 WHERE store_id = $6 AND id = $7",
                        )
                        .bind(status.status_code.as_str())
                        .bind(status.status_name.as_str())
                        .bind(status.fulfilment_state.as_str())
                        .bind(change.date_modified)
                        .bind(now)
                        .bind(store)
                        .bind(order_id)
                        .bind(read_at)
                        .execute(&mut *tx)
                        .await
                        .op(OP)?;
                        // A status the warehouse must hear of (a cancellation read back).
                        super::events::announce_state::<Db>(&mut *tx, StoreId(store), order_id)
                            .await
                            .op(OP)?;
                    }
                }
                // The warehouse's `shipment.delivered`, committed with the delivery. After the
                // order's row: every transaction that makes events locks an order (if any)
                // before the event counter, never the other way round.
                super::events::shipment_event::<Db>(
                    &mut *tx,
                    id.0,
                    EventType::ShipmentDelivered,
                    Some(remote_result),
                    None,
                )
                .await
                .op(OP)?;
                tx.commit().await.op(OP)?;
                Ok::<bool, StorageError>(true)
            }
            .await
        })
    }

    /// Gives a row back for a later attempt at `retry_in` from now (the database's clock),
    /// keeping its state (a `sending` row stays `sending`: it will be read back first), with
    /// the error an operator reads. Returns `false` when `owner` no longer holds it.
    pub async fn retry_outbox(
        &self,
        id: OutboxId,
        owner: &str,
        error: &str,
        retry_in: Duration,
    ) -> Result<bool, StorageError> {
        let sql = format!(
            "UPDATE outbox SET last_error = $1, next_attempt_at = {now} + $2, \
             locked_until = NULL, updated_at = $3 WHERE id = $4 AND lease_owner = $5 \
             AND state IN ('pending', 'sending')",
            now = self.backend.now_ms()
        );
        let affected = with_pool!(self, |pool| {
            sqlx::query::<Db>(&sql)
                .bind(error)
                .bind(ms(retry_in))
                .bind(now())
                .bind(id.0)
                .bind(owner)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
                .op("scheduling an outbox retry")
        })?;
        Ok(affected == 1)
    }

    /// Records a read-back of a `sending` row that found nothing of its last attempt. The
    /// first such read-back only notes the time and makes the row due again `gap` later; a
    /// read-back at least `gap` after the first is the proof that nothing was applied, and sets
    /// the row back to `pending`, keeping the lease, so it can be sent again. Times are the
    /// database's.
    pub async fn record_not_found(
        &self,
        id: OutboxId,
        owner: &str,
        gap: Duration,
    ) -> Result<NotFound, StorageError> {
        let now_ms = self.backend.now_ms();
        let proven = format!(
            "UPDATE outbox SET state = 'pending', absent_since = NULL, updated_at = $1 \
             WHERE id = $2 AND lease_owner = $3 AND state = 'sending' \
             AND absent_since IS NOT NULL AND absent_since <= {now_ms} - $4"
        );
        let recheck = format!(
            "UPDATE outbox SET absent_since = COALESCE(absent_since, {now_ms}), \
             next_attempt_at = COALESCE(absent_since, {now_ms}) + $4, locked_until = NULL, \
             updated_at = $1 WHERE id = $2 AND lease_owner = $3 AND state = 'sending'"
        );
        let at = now();
        let gap = ms(gap);
        with_pool!(self, |pool| {
            async {
                for (sql, outcome) in [(&proven, NotFound::Proven), (&recheck, NotFound::Recheck)] {
                    let affected = sqlx::query::<Db>(sql)
                        .bind(at)
                        .bind(id.0)
                        .bind(owner)
                        .bind(gap)
                        .execute(pool)
                        .await
                        .op("recording a read-back that found nothing")?
                        .rows_affected();
                    if affected == 1 {
                        return Ok(outcome);
                    }
                }
                Ok(NotFound::LeaseLost)
            }
            .await
        })
    }

    /// An operator's "retry now": makes an open or failed row due at once with its attempts
    /// reset, unless a worker holds it right now. A failed row goes back to `pending` when its
    /// `absent_since` is NULL (it failed on a refusal, so nothing of it was applied), else to
    /// `sending`, so it is read back before anything is sent again. Of one store (`None`: any
    /// store, for the operator's CLI); [`StorageError::NotFound`] if there is no such row.
    pub async fn retry_outbox_by_hand(
        &self,
        store: Option<StoreId>,
        id: OutboxId,
    ) -> Result<HandRetry, StorageError> {
        let store = store.map(|s| s.0);
        let sql = format!(
            "UPDATE outbox SET state = CASE WHEN state <> 'failed' THEN state \
                 WHEN absent_since IS NULL THEN 'pending' ELSE 'sending' END, \
             attempts = 0, next_attempt_at = {now}, last_error = NULL, lease_owner = NULL, \
             locked_until = NULL, updated_at = $1 \
             WHERE id = $2 AND ($3 IS NULL OR store_id = $3) \
             AND state IN ('pending', 'sending', 'failed') \
             AND (locked_until IS NULL OR locked_until <= {now}) \
             RETURNING {OUTBOX_COLUMNS}",
            now = self.backend.now_ms()
        );
        let read = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = $1 AND ($2 IS NULL OR store_id = $2)"
        );
        let queued = with_pool!(self, |pool| {
            sqlx::query_as::<Db, OutboxRow>(&sql)
                .bind(now())
                .bind(id.0)
                .bind(store)
                .fetch_optional(pool)
                .await
                .op("retrying an outbox row by hand")
        })?;
        if let Some(row) = queued {
            return Ok(HandRetry::Queued(row));
        }
        let row = with_pool!(self, |pool| {
            sqlx::query_as::<Db, OutboxRow>(&read)
                .bind(id.0)
                .bind(store)
                .fetch_optional(pool)
                .await
                .op("reading an outbox row")
        })?
        .ok_or_else(|| StorageError::NotFound {
            what: "outbox row",
            id: id.to_string(),
        })?;
        Ok(match row.state {
            OutboxState::Delivered => HandRetry::Delivered(row),
            _ => HandRetry::InFlight(row),
        })
    }

    /// Closes a row as failed with the reason. Returns `false` when `owner` no longer holds it.
    pub async fn fail_outbox(
        &self,
        id: OutboxId,
        owner: &str,
        error: &str,
    ) -> Result<bool, StorageError> {
        const OP: &str = "marking an outbox row as failed";
        with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin_with(BEGIN_WRITE).await.op(OP)?;
                let affected = sqlx::query::<Db>(
                    "UPDATE outbox SET state = 'failed', last_error = $1, locked_until = NULL, \
                     updated_at = $2 WHERE id = $3 AND lease_owner = $4 \
                     AND state IN ('pending', 'sending')",
                )
                .bind(error)
                .bind(now())
                .bind(id.0)
                .bind(owner)
                .execute(&mut *tx)
                .await
                .op(OP)?
                .rows_affected();
                if affected == 1 {
                    // The warehouse's `shipment.failed`, committed with the failure.
                    super::events::shipment_event::<Db>(
                        &mut *tx,
                        id.0,
                        EventType::ShipmentFailed,
                        None,
                        Some(error),
                    )
                    .await
                    .op(OP)?;
                }
                tx.commit().await.op(OP)?;
                Ok::<bool, StorageError>(affected == 1)
            }
            .await
        })
    }

    /// A page of the store's shipment rows by ascending id, after `after`; the id of the last
    /// row is the next cursor when more follow. `limit` is clamped to 1..=1000.
    pub async fn list_shipments(
        &self,
        scope: &StoreScope,
        limit: u32,
        after: Option<OutboxId>,
    ) -> Result<(Vec<OutboxRow>, Option<OutboxId>), StorageError> {
        let store = scope.store_id;
        let limit = i64::from(limit.clamp(1, 1000));
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE store_id = $1 AND kind = 'shipment' \
             AND id > $2 ORDER BY id LIMIT $3"
        );
        let mut rows = with_pool!(self, |pool| {
            sqlx::query_as::<Db, OutboxRow>(&sql)
                .bind(store.0)
                .bind(after.map_or(0, |a| a.0))
                .bind(limit + 1)
                .fetch_all(pool)
                .await
                .op_store("listing shipments", store)
        })?;
        let next = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|r| r.id)
        } else {
            None
        };
        Ok((rows, next))
    }

    /// One shipment row of the store; [`StorageError::NotFound`] for a missing row, another
    /// store's row, or a row that is not a shipment.
    pub async fn get_shipment(
        &self,
        scope: &StoreScope,
        id: OutboxId,
    ) -> Result<OutboxRow, StorageError> {
        let store = scope.store_id;
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE store_id = $1 AND id = $2 \
             AND kind = 'shipment'"
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, OutboxRow>(&sql)
                .bind(store.0)
                .bind(id.0)
                .fetch_optional(pool)
                .await
                .op_store("reading a shipment", store)
        })?
        .ok_or_else(|| StorageError::NotFound {
            what: "shipment",
            id: id.to_string(),
        })
    }

    /// Every outbox row of one order (shipments and status changes, any state), oldest first.
    pub async fn order_outbox(
        &self,
        scope: &StoreScope,
        order: OrderId,
    ) -> Result<Vec<OutboxRow>, StorageError> {
        let store = scope.store_id;
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE store_id = $1 AND order_id = $2 ORDER BY id"
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, OutboxRow>(&sql)
                .bind(store.0)
                .bind(order.0)
                .fetch_all(pool)
                .await
                .op_store("reading an order's outbox rows", store)
        })
    }

    /// The store's outbox rows that need a person: failed ones, and open ones whose last
    /// attempt failed (they will be retried). Newest first, at most `limit`.
    pub async fn outbox_problems(
        &self,
        scope: &StoreScope,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StorageError> {
        let store = scope.store_id;
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE store_id = $1 AND (state = 'failed' \
             OR (state IN ('pending', 'sending') AND last_error IS NOT NULL)) \
             ORDER BY id DESC LIMIT $2"
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, OutboxRow>(&sql)
                .bind(store.0)
                .bind(i64::from(limit.clamp(1, 1000)))
                .fetch_all(pool)
                .await
                .op_store("reading outbox problems", store)
        })
    }
}
