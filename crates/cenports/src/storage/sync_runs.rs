//! The sync history: one row per sync of a store, whoever started it (`docs/SYNC.md`, "Sync
//! history"). [`Storage::start_sync_run`] writes it when a sync starts, [`Storage::finish_sync_run`]
//! when it ends, and the store page and `GET /api/v1/stores/{id}/sync` list the newest
//! ([`Storage::list_sync_runs`]). Every function takes the tenant's [`StoreScope`].

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::error::Context;
use super::{parse_col, Backend, Storage, StorageError, StoreScope, UnknownValue};

/// Rows kept per store: older ones are removed when a sync starts.
pub const SYNC_RUNS_KEPT: i64 = 200;

/// Who started a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncTrigger {
    /// The scheduler of `cenports serve` / `cenports worker` / `sync --watch`.
    Scheduled,
    /// `POST /api/v1/stores/{id}/sync`, the dashboard's "Sync now" and "Retry", or a connect
    /// from the dashboard.
    Api,
    /// `cenports sync`.
    Cli,
}

impl SyncTrigger {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncTrigger::Scheduled => "scheduled",
            SyncTrigger::Api => "api",
            SyncTrigger::Cli => "cli",
        }
    }
}

impl std::str::FromStr for SyncTrigger {
    type Err = UnknownValue;

    fn from_str(text: &str) -> Result<Self, UnknownValue> {
        match text {
            "scheduled" => Ok(SyncTrigger::Scheduled),
            "api" => Ok(SyncTrigger::Api),
            "cli" => Ok(SyncTrigger::Cli),
            other => Err(UnknownValue::new("sync trigger", other)),
        }
    }
}

/// What a finished sync did (the counts of [`crate::sync::SyncReport`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncCounts {
    /// Orders new to the hub.
    pub orders_inserted: u64,
    /// Orders whose newer version replaced the stored one.
    pub orders_updated: u64,
    /// Orders read (new, updated and unchanged).
    pub orders_read: u64,
    /// Products read by the catalog walk.
    pub products: u64,
    /// Requests sent to the channel, retries included.
    pub api_requests: u64,
}

/// One sync of a store, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRunRecord {
    /// The row's id (newer rows have larger ids).
    pub id: i64,
    /// Who started it.
    pub trigger: SyncTrigger,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended; `None` while it runs, or if its process stopped before it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// `running`, `ok` or `failed`.
    pub outcome: String,
    /// What it did (zero until it ends).
    pub counts: SyncCounts,
    /// Why it failed.
    pub error: Option<String>,
}

from_row_both!(SyncRunRecord, |row| {
    let count =
        |name: &str| -> Result<u64, sqlx::Error> { Ok(row.try_get::<i64, _>(name)?.max(0) as u64) };
    Ok(SyncRunRecord {
        id: row.try_get("id")?,
        trigger: parse_col(row.try_get("started_by")?)?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        outcome: row.try_get("outcome")?,
        counts: SyncCounts {
            orders_inserted: count("orders_inserted")?,
            orders_updated: count("orders_updated")?,
            orders_read: count("orders_read")?,
            products: count("products")?,
            api_requests: count("api_requests")?,
        },
        error: row.try_get("error")?,
    })
});

const COLUMNS: &str = "id, started_by, started_at, finished_at, outcome, orders_inserted, \
     orders_updated, orders_read, products, api_requests, error";

/// Errors are kept to this many characters (a sync error is a sentence or two).
const MAX_ERROR_CHARS: usize = 2000;

impl Storage {
    /// Records that a sync of the store started; returns the row's id for
    /// [`Storage::finish_sync_run`]. Removes the store's rows beyond the newest
    /// [`SYNC_RUNS_KEPT`].
    pub async fn start_sync_run(
        &self,
        scope: &StoreScope,
        trigger: SyncTrigger,
        started_at: DateTime<Utc>,
    ) -> Result<i64, StorageError> {
        const OP: &str = "recording the start of a sync";
        let store = scope.store_id.0;
        let user = scope.user_id.0;
        let id = with_pool!(self, |pool| {
            let id = sqlx::query_scalar::<Db, i64>(
                "INSERT INTO sync_runs (store_id, started_by, started_at, outcome) \
                 SELECT id, $1, $2, 'running' FROM stores WHERE id = $3 AND user_id = $4 \
                 RETURNING id",
            )
            .bind(trigger.as_str())
            .bind(started_at)
            .bind(store)
            .bind(user)
            .fetch_optional(pool)
            .await
            .op(OP)?;
            if id.is_some() {
                sqlx::query::<Db>(
                    "DELETE FROM sync_runs WHERE store_id = $1 AND id <= \
                     (SELECT id FROM sync_runs WHERE store_id = $1 ORDER BY id DESC \
                      LIMIT 1 OFFSET $2)",
                )
                .bind(store)
                .bind(SYNC_RUNS_KEPT)
                .execute(pool)
                .await
                .op(OP)?;
            }
            Ok::<_, StorageError>(id)
        })?;
        id.ok_or_else(|| StorageError::NotFound {
            what: "store",
            id: scope.store_id.to_string(),
        })
    }

    /// Records how a sync ended: its counts, or why it failed.
    pub async fn finish_sync_run(
        &self,
        scope: &StoreScope,
        run: i64,
        finished_at: DateTime<Utc>,
        result: Result<SyncCounts, &str>,
    ) -> Result<(), StorageError> {
        let (outcome, counts, error) = match result {
            Ok(counts) => ("ok", counts, None),
            Err(error) => (
                "failed",
                SyncCounts::default(),
                Some(error.chars().take(MAX_ERROR_CHARS).collect::<String>()),
            ),
        };
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        with_pool!(self, |pool| {
            sqlx::query::<Db>(
                "UPDATE sync_runs SET finished_at = $1, outcome = $2, orders_inserted = $3, \
                 orders_updated = $4, orders_read = $5, products = $6, api_requests = $7, \
                 error = $8 \
                 WHERE id = $9 AND store_id = (SELECT id FROM stores WHERE id = $10 AND user_id = $11)",
            )
            .bind(finished_at)
            .bind(outcome)
            .bind(n(counts.orders_inserted))
            .bind(n(counts.orders_updated))
            .bind(n(counts.orders_read))
            .bind(n(counts.products))
            .bind(n(counts.api_requests))
            .bind(error)
            .bind(run)
            .bind(scope.store_id.0)
            .bind(scope.user_id.0)
            .execute(pool)
            .await
            .map(|_| ())
            .op("recording the end of a sync")
        })?;
        Ok(())
    }

    /// The store's newest syncs, newest first, at most `limit`.
    pub async fn list_sync_runs(
        &self,
        scope: &StoreScope,
        limit: i64,
    ) -> Result<Vec<SyncRunRecord>, StorageError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sync_runs WHERE store_id = \
             (SELECT id FROM stores WHERE id = $1 AND user_id = $2) ORDER BY id DESC LIMIT $3"
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, SyncRunRecord>(&sql)
                .bind(scope.store_id.0)
                .bind(scope.user_id.0)
                .bind(limit.clamp(1, SYNC_RUNS_KEPT))
                .fetch_all(pool)
                .await
                .op("listing a store's syncs")
        })
    }
}
