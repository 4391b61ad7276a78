//! Stores: the tenancy check every store-level service starts with, the stores a caller sees,
//! and what needs attention in one.

use chrono::{DateTime, Utc};

use super::{AppState, ServiceError};
use crate::accounts::StoreAccess;
use crate::storage::{OutboxRow, StoreId, StoreRecord, StoreScope, SyncTrigger};

/// The scope of a store for a caller who reaches `access`: [`ServiceError::StoreNotFound`] when
/// it does not exist or is not the caller's (the owner is checked in SQL for merchants), so
/// another tenant's store is the same "not found" as an id that never existed.
pub async fn scope_for(
    state: &AppState,
    access: StoreAccess,
    store_id: i64,
) -> Result<StoreScope, ServiceError> {
    if store_id <= 0 {
        return Err(ServiceError::StoreNotFound);
    }
    Ok(state
        .storage
        .store_scope_for(access, StoreId::from_raw(store_id))
        .await?)
}

/// The stores a caller sees: a merchant's own, or every store for an operator.
pub async fn list_stores(
    state: &AppState,
    access: StoreAccess,
) -> Result<Vec<StoreRecord>, ServiceError> {
    Ok(state.storage.list_stores_for(access).await?)
}

/// One store of the caller's.
pub async fn get_store(
    state: &AppState,
    access: StoreAccess,
    store_id: i64,
) -> Result<StoreRecord, ServiceError> {
    let scope = scope_for(state, access, store_id).await?;
    Ok(state.storage.get_store(&scope).await?)
}

/// What needs a person's attention in a store.
#[derive(Debug)]
pub struct StoreProblems {
    /// Writes to the channel that failed, or whose last attempt failed (they are retried).
    pub outbox: Vec<OutboxRow>,
    /// SKUs whose last stock push did not leave the store at the hub's figure.
    pub stock: Vec<StockProblem>,
    /// The store's last finished sync (scheduled, triggered or from the CLI; any process), if
    /// it failed.
    pub sync: Option<SyncProblem>,
}

/// A SKU whose last push went wrong.
#[derive(Debug)]
pub struct StockProblem {
    /// The SKU.
    pub sku: String,
    /// `rejected`, `failed`, `mismatch`, `unverified` or `not_in_catalog`.
    pub status: String,
    /// Why.
    pub message: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A failed sync.
#[derive(Debug)]
pub struct SyncProblem {
    /// When it ended.
    pub at: DateTime<Utc>,
    /// Why.
    pub error: String,
    /// Who started it.
    pub started_by: SyncTrigger,
}

/// Push outcomes that mean the store may not show the hub's figure.
const STOCK_PROBLEMS: [&str; 5] = [
    "rejected",
    "failed",
    "mismatch",
    "unverified",
    "not_in_catalog",
];

/// Problems of a store: failed or retrying writes, stock pushes that went wrong, a failed sync.
pub async fn store_problems(
    state: &AppState,
    access: StoreAccess,
    store_id: i64,
) -> Result<StoreProblems, ServiceError> {
    let scope = scope_for(state, access, store_id).await?;
    let outbox = state.storage.outbox_problems(&scope, 100).await?;
    let stock = state
        .storage
        .stock_rows(&scope)
        .await?
        .into_iter()
        .filter_map(|row| {
            let push = row.last_push?;
            STOCK_PROBLEMS
                .contains(&push.status.as_str())
                .then_some(StockProblem {
                    sku: row.sku,
                    status: push.status,
                    message: push.message,
                    at: push.at,
                })
        })
        .collect();
    // The newest sync that ended, from the history every process writes.
    let sync = state
        .storage
        .list_sync_runs(&scope, 20)
        .await?
        .into_iter()
        .find(|run| run.finished_at.is_some())
        .filter(|run| run.outcome == "failed")
        .map(|run| SyncProblem {
            at: run.finished_at.unwrap_or(run.started_at),
            error: run.error.unwrap_or_default(),
            started_by: run.trigger,
        });
    Ok(StoreProblems {
        outbox,
        stock,
        sync,
    })
}
