//! Reconciliation: compare the hub with the store, status by status, and repair what drifted.
//!
//! Polling (the walks of `docs/SYNC.md`) and webhooks keep the hub current; this pass catches
//! what both could miss: rows lost from the hub's database (a restore from an older backup), a
//! bug, an order whose change fell between two mechanisms. `docs/HARD-PROBLEMS.md`
//! note 1, last bullet.
//!
//! It needs a channel that counts its orders per status
//! ([`crate::channel::OrdersIn::count_by_status`]); for one that cannot, the pass reports that
//! nothing was compared and polling stays the safety net.
//!
//! # The pass
//! 1. **Count**: the channel's counts per status (**one request** where the channel has a
//!    count endpoint); the hub counts its live (not archived) orders per status code in one query
//!    ([`Storage::count_live_orders_by_status`]). A status whose orders the channel never lists
//!    ([`crate::channel::OrdersIn::reconciles_status`]) is skipped.
//! 2. **Narrow each status that disagrees down by creation date**: the status's span (its
//!    oldest and newest order at the store, two one-order requests, and in the hub) is split in
//!    halves; the store's count of the left half is one request, the right half's is the rest;
//!    the hub counts both in SQL. Halves that agree are done; a half that disagrees is split
//!    again until it holds at most a page of orders (250) or one second.
//! 3. **Re-walk each window that disagrees** (status and creation window, in the channel's
//!    pages), every page upserted through [`Storage::save_page`] (no checkpoint: the walk's
//!    cursors are not touched).
//! 4. **Settle the differences of ids** in the window: an order the hub holds there that the
//!    store did not list moved to another status or was archived; an order the store listed
//!    that the hub still holds elsewhere after the upsert has the same modification time but
//!    other content. Each is read on its own ([`super::targeted::import_order`]), which
//!    replaces the stored version.
//!
//! # What it costs
//! **1 request** when nothing drifted (the common case, so the pass can run hourly). A drift
//! costs 2 requests for the status's span, one count per halving (`log2(n / 250)` for a status
//! of `n` orders, per separate drift) and a page per drifting window, plus one request per order
//! found in the wrong status: two orders lost from a status of 3,887 orders cost 12 requests
//! where re-walking the status would cost 16 (`tests/it/webhooks.rs`,
//! `reconciliation_narrows_a_drift_in_a_large_status_by_creation_date`); for Completed on a
//! 100,000-order store (≈ 50,000 orders) about 20 instead of 200. An order that changes during
//! the pass can show as drift again; the next pass (or the next poll) settles it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use chrono::{DateTime, SubsecRound, Utc};

use super::targeted::{import_order, TargetedOutcome};
use super::{SyncError, SyncOptions};
use crate::channel::{with_priority, OrderQuery, Priority, StatusMapping, StoreClient};
use crate::storage::{Storage, StoreScope, UpsertOutcome};

/// The stream name reconciliation reports in its errors and logs.
pub const STREAM_RECONCILE: &str = "reconcile";

/// One status whose counts disagreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusDrift {
    /// The channel's status code.
    pub status_code: String,
    /// Its name, as the store reports it.
    pub status_name: String,
    /// Orders in this status at the store.
    pub store_count: u64,
    /// Orders in this status in the hub before the repair.
    pub hub_before: i64,
    /// Orders in this status in the hub after the repair.
    pub hub_after: i64,
}

/// What a reconciliation pass found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Whether the channel could count its orders per status (nothing is compared otherwise).
    pub counted: bool,
    /// Statuses compared (those with orders at the store or in the hub).
    pub statuses_checked: usize,
    /// The statuses that disagreed, with their counts before and after.
    pub drifted: Vec<StatusDrift>,
    /// Orders inserted by the repair.
    pub inserted: u64,
    /// Orders replaced by a newer or corrected version.
    pub updated: u64,
    /// Orders re-read that were already current.
    pub unchanged: u64,
    /// Orders read one by one (found in the wrong status).
    pub targeted: u64,
    /// Creation-date windows whose counts disagreed (split or re-walked).
    pub windows: u64,
    /// Requests sent to the channel by the pass.
    pub api_requests: u64,
    /// Wall time.
    pub elapsed: std::time::Duration,
}

impl ReconcileReport {
    /// Statuses that still disagree after the repair (changes during the pass, or orders the
    /// store counts but does not list).
    pub fn remaining(&self) -> usize {
        self.drifted
            .iter()
            .filter(|d| d.hub_after != d.store_count as i64)
            .count()
    }

    fn add(&mut self, outcome: UpsertOutcome) {
        self.inserted += outcome.inserted;
        self.updated += outcome.updated;
        self.unchanged += outcome.unchanged;
    }
}

/// One reconciliation pass over a store (see the module docs). Its requests are
/// [`Priority::Sync`] in the store's quota: behind shipments and hinted fetches, ahead of
/// backfills.
pub async fn reconcile_store(
    storage: &Storage,
    scope: &StoreScope,
    client: &dyn StoreClient,
    options: &SyncOptions,
) -> Result<ReconcileReport, SyncError> {
    with_priority(Priority::Sync, reconcile(storage, scope, client, options)).await
}

async fn reconcile(
    storage: &Storage,
    scope: &StoreScope,
    client: &dyn StoreClient,
    options: &SyncOptions,
) -> Result<ReconcileReport, SyncError> {
    let started = Instant::now();
    let before = client.requests_sent();
    let api = || SyncError::api(STREAM_RECONCILE, client);
    let db = || SyncError::storage(STREAM_RECONCILE, client);
    let mut report = ReconcileReport::default();
    let mapping = options.status_mapping(client);

    let Some(counts) = client.orders().count_by_status().await.map_err(api())? else {
        tracing::debug!(
            store.id = scope.store_id().get(),
            "reconcile: the channel cannot count orders per status; nothing compared"
        );
        return Ok(report);
    };
    report.counted = true;
    let mut store: BTreeMap<String, (String, u64)> = BTreeMap::new();
    for status in counts {
        store.insert(status.code, (status.name, status.count));
    }
    let hub = hub_counts(storage, scope).await.map_err(db())?;
    let codes: BTreeSet<String> = store
        .iter()
        .filter(|(_, (_, n))| *n > 0)
        .map(|(code, _)| code.clone())
        .chain(hub.keys().cloned())
        .filter(|code| client.orders().reconciles_status(code))
        .collect();
    report.statuses_checked = codes.len();

    for status in codes {
        let (name, store_count) = store.get(&status).cloned().unwrap_or_default();
        let hub_before = hub.get(&status).copied().unwrap_or(0);
        if hub_before == store_count as i64 {
            continue;
        }
        tracing::info!(
            store.id = scope.store_id().get(),
            order.status = %status,
            reconcile.store_count = store_count,
            reconcile.hub_count = hub_before,
            "reconcile: counts differ; narrowing it down by creation date"
        );
        let Some(span) = status_span(storage, scope, client, &status).await? else {
            continue;
        };
        let mut windows = vec![(span, store_count)];
        while let Some(((from, to), at_store)) = windows.pop() {
            let (in_hub, ..) = storage
                .live_orders_created_between(scope, &status, from, to)
                .await
                .map_err(db())?;
            if in_hub == at_store as i64 {
                continue;
            }
            report.windows += 1;
            let narrow = to - from >= chrono::Duration::seconds(1);
            if at_store > u64::from(options.page_size(client)) && narrow {
                // Split at the middle second: count the left half at the store (one request);
                // the right half is the rest. If the store changes between the two counts, a
                // half may be walked for nothing, or a drift left to the next pass.
                let mid = from + (to - from) / 2;
                let left_end = mid.trunc_subsecs(0);
                let right_start = left_end + chrono::Duration::seconds(1);
                let left = store_count_between(client, &status, from, left_end).await?;
                windows.push(((right_start, to), at_store.saturating_sub(left)));
                windows.push(((from, left_end), left));
                continue;
            }
            repair_window(
                storage,
                scope,
                client,
                options,
                &mapping,
                &status,
                (from, to),
                &mut report,
            )
            .await?;
        }
        let hub_after = hub_counts(storage, scope)
            .await
            .map_err(db())?
            .get(&status)
            .copied()
            .unwrap_or(0);
        report.drifted.push(StatusDrift {
            status_code: status,
            status_name: name,
            store_count,
            hub_before,
            hub_after,
        });
    }
    report.api_requests = client.requests_sent() - before;
    report.elapsed = started.elapsed();
    tracing::info!(
        store.id = scope.store_id().get(),
        reconcile.checked = report.statuses_checked,
        reconcile.drifted = report.drifted.len(),
        reconcile.remaining = report.remaining(),
        reconcile.inserted = report.inserted,
        reconcile.updated = report.updated,
        channel.requests = report.api_requests,
        duration_ms = report.elapsed.as_millis() as u64,
        "reconcile: pass done"
    );
    Ok(report)
}

async fn hub_counts(
    storage: &Storage,
    scope: &StoreScope,
) -> Result<BTreeMap<String, i64>, crate::storage::StorageError> {
    Ok(storage
        .count_live_orders_by_status(scope)
        .await?
        .into_iter()
        .map(|c| (c.status_code, c.count))
        .collect())
}

/// The creation dates a drifted status spans, at the store (its oldest and newest order:
/// typically two one-order requests) and in the hub, widened to whole seconds; `None` when
/// neither holds any.
async fn status_span(
    storage: &Storage,
    scope: &StoreScope,
    client: &dyn StoreClient,
    status: &str,
) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, SyncError> {
    let api = || SyncError::api(STREAM_RECONCILE, client);
    let db = || SyncError::storage(STREAM_RECONCILE, client);
    let mut dates = client.orders().created_span(status).await.map_err(api())?;
    // Every date both databases can hold (PostgreSQL's timestamps stop far short of chrono's).
    let all_time = (
        DateTime::<Utc>::UNIX_EPOCH,
        DateTime::<Utc>::from_timestamp(253_402_300_799, 0).expect("9999-12-31T23:59:59Z"),
    );
    let (_, hub_min, hub_max) = storage
        .live_orders_created_between(scope, status, all_time.0, all_time.1)
        .await
        .map_err(db())?;
    dates.extend(hub_min);
    dates.extend(hub_max);
    let (Some(from), Some(to)) = (dates.iter().min(), dates.iter().max()) else {
        return Ok(None);
    };
    Ok(Some((
        from.trunc_subsecs(0),
        to.trunc_subsecs(0) + chrono::Duration::seconds(1) - chrono::Duration::microseconds(1),
    )))
}

/// The query of one status's orders created in `[from, to]`.
fn created_query(
    status: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    page_size: u32,
) -> OrderQuery {
    OrderQuery {
        stream: STREAM_RECONCILE.to_owned(),
        status: Some(status.to_owned()),
        created_from: Some(from),
        created_to: Some(to),
        page_size,
        ..OrderQuery::default()
    }
}

/// How many orders of a status the store holds created in `[from, to]`: one request.
async fn store_count_between(
    client: &dyn StoreClient,
    status: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<u64, SyncError> {
    let counted = client
        .orders()
        .count(&created_query(status, (from, to), 1), None)
        .await
        .map_err(SyncError::api(STREAM_RECONCILE, client))?;
    Ok(counted.unwrap_or(0))
}

/// Re-walks one status within one creation window and settles the ids that still differ:
/// held here but not listed (moved to another status, or archived), or listed but not held
/// after the upsert (same modification time, other content) are read on their own.
#[allow(clippy::too_many_arguments)]
async fn repair_window(
    storage: &Storage,
    scope: &StoreScope,
    client: &dyn StoreClient,
    options: &SyncOptions,
    mapping: &StatusMapping,
    status: &str,
    window: (DateTime<Utc>, DateTime<Utc>),
    report: &mut ReconcileReport,
) -> Result<(), SyncError> {
    let api = || SyncError::api(STREAM_RECONCILE, client);
    let db = || SyncError::storage(STREAM_RECONCILE, client);
    let query = created_query(status, window, options.page_size(client));
    let mut listed = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        // A window on creation dates holds orders changed a moment ago: unsettled versions,
        // saved with the time the read started (docs/SYNC.md, "Versions within one second").
        let read_at = storage.clock().await.map_err(db())?;
        let page = client
            .orders()
            .page(&query, cursor.as_deref(), mapping)
            .await
            .map_err(api())?;
        listed.extend(page.orders.iter().map(|o| o.remote_id.clone()));
        if !page.orders.is_empty() {
            let outcome = storage
                .save_orders_read_at(scope, &page.orders, read_at)
                .await
                .map_err(db())?;
            report.add(outcome);
        }
        if !page.more || page.cursor.is_none() {
            break;
        }
        cursor = page.cursor;
    }
    let held: BTreeSet<String> = storage
        .list_live_order_ids_created_between(scope, status, window.0, window.1)
        .await
        .map_err(db())?
        .into_iter()
        .collect();
    for order in held.symmetric_difference(&listed) {
        report.targeted += 1;
        let outcome = import_order(storage, scope, client, mapping, order).await?;
        if let TargetedOutcome::Saved(outcome) = outcome {
            report.add(outcome);
        }
    }
    Ok(())
}
