//! Reconciliation: compare the hub with the store, status by status, and repair what drifted.
//!
//! Polling (the walks of `docs/SYNC.md`) and webhooks keep the hub current; this pass catches
//! what both could miss: rows lost from the hub's database (a restore from an older backup), a
//! bug, an order whose change fell between two mechanisms. DESIGN-NOTES note 1, last bullet.
//!
//! # The pass
//! 1. **Count**: `GET /v2/orders/count` returns every status with its count in **one request**;
//!    the hub counts its live (not archived) orders per BigCommerce status id in one query
//!    ([`Storage::count_live_orders_by_status`]). Status 0 (Incomplete, abandoned checkouts) is
//!    not imported by design and is skipped.
//! 2. **Narrow each status that disagrees down by creation date**: the status's span (its
//!    oldest and newest order at the store, two one-order requests, and in the hub) is split in
//!    halves; the store's count of the left half is one request (`GET /v2/orders/count?status_id=
//!    S&min_date_created=..&max_date_created=..`), the right half's is the rest; the hub counts
//!    both in SQL. Halves that agree are done; a half that disagrees is split again until it
//!    holds at most a page of orders (250) or one second.
//! 3. **Re-walk each window that disagrees** by id: `status_id=S&min_date_created=..&
//!    max_date_created=..&sort=id:asc&min_id=K&limit=250` with the lines embedded, every page
//!    upserted through [`Storage::save_page`] (no checkpoint: the walk's cursors are not
//!    touched). Ids never change, so the walk cannot skip an order that stays in `S`.
//! 4. **Settle the differences of ids** in the window: an order the hub holds there that the
//!    store did not list moved to another status or was archived; an order the store listed
//!    that the hub still holds elsewhere after the upsert has the same `date_modified` but other
//!    content. Each is read on its own ([`super::targeted::import_order`]), which replaces the
//!    stored version.
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

use bigcommerce_client::{Client, OrderQuery, OrderSort};
use chrono::{DateTime, SubsecRound, Utc};
use futures::TryStreamExt;

use super::mapping::{has_embedded_shipping, order_record};
use super::targeted::{import_order, TargetedOutcome};
use super::{SyncError, SyncOptions};
use crate::storage::{Storage, StoreScope, UpsertOutcome};

/// The stream name reconciliation reports in its errors and logs.
pub const STREAM_RECONCILE: &str = "reconcile";

/// One status whose counts disagreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusDrift {
    /// BigCommerce status id.
    pub status_id: u64,
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
    /// Requests sent to BigCommerce by the pass.
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

/// One reconciliation pass over a store (see the module docs).
pub async fn reconcile_store(
    storage: &Storage,
    scope: &StoreScope,
    client: &Client,
    options: &SyncOptions,
) -> Result<ReconcileReport, SyncError> {
    let started = Instant::now();
    let before = client.stats().requests_sent;
    let api = || SyncError::api(STREAM_RECONCILE, client);
    let db = || SyncError::storage(STREAM_RECONCILE, client);
    let mut report = ReconcileReport::default();

    let counts = client
        .count_orders(&OrderQuery::default())
        .await
        .map_err(api())?;
    let mut store: BTreeMap<u64, (String, u64)> = BTreeMap::new();
    for status in counts.statuses {
        let name = status.name.or(status.system_label).unwrap_or_default();
        store.insert(status.id, (name, status.count.unwrap_or(0)));
    }
    let hub = hub_counts(storage, scope).await.map_err(db())?;
    let ids: BTreeSet<u64> = store
        .iter()
        .filter(|(_, (_, n))| *n > 0)
        .map(|(id, _)| *id)
        .chain(hub.keys().copied())
        .filter(|id| *id != 0)
        .collect();
    report.statuses_checked = ids.len();

    for status_id in ids {
        let (name, store_count) = store.get(&status_id).cloned().unwrap_or_default();
        let hub_before = hub.get(&status_id).copied().unwrap_or(0);
        if hub_before == store_count as i64 {
            continue;
        }
        tracing::info!(
            store.id = scope.store_id().get(),
            order.status_id = status_id,
            reconcile.store_count = store_count,
            reconcile.hub_count = hub_before,
            "reconcile: counts differ; narrowing it down by creation date"
        );
        let Some(span) = status_span(storage, scope, client, status_id).await? else {
            continue;
        };
        let mut windows = vec![(span, store_count)];
        while let Some(((from, to), at_store)) = windows.pop() {
            let (in_hub, ..) = storage
                .live_orders_created_between(scope, status_id as i32, from, to)
                .await
                .map_err(db())?;
            if in_hub == at_store as i64 {
                continue;
            }
            report.windows += 1;
            let narrow = to - from >= chrono::Duration::seconds(1);
            if at_store > u64::from(options.page_size()) && narrow {
                // Split at the middle second: count the left half at the store (one request);
                // the right half is the rest. If the store changes between the two counts, a
                // half may be walked for nothing, or a drift left to the next pass.
                let mid = from + (to - from) / 2;
                let left_end = mid.trunc_subsecs(0);
                let right_start = left_end + chrono::Duration::seconds(1);
                let left = store_count_between(client, status_id, from, left_end).await?;
                windows.push(((right_start, to), at_store.saturating_sub(left)));
                windows.push(((from, left_end), left));
                continue;
            }
            repair_window(
                storage,
                scope,
                client,
                options,
                status_id,
                (from, to),
                &mut report,
            )
            .await?;
        }
        let hub_after = hub_counts(storage, scope)
            .await
            .map_err(db())?
            .get(&status_id)
            .copied()
            .unwrap_or(0);
        report.drifted.push(StatusDrift {
            status_id,
            status_name: name,
            store_count,
            hub_before,
            hub_after,
        });
    }
    report.api_requests = client.stats().requests_sent - before;
    report.elapsed = started.elapsed();
    tracing::info!(
        store.id = scope.store_id().get(),
        reconcile.checked = report.statuses_checked,
        reconcile.drifted = report.drifted.len(),
        reconcile.remaining = report.remaining(),
        reconcile.inserted = report.inserted,
        reconcile.updated = report.updated,
        bc.requests = report.api_requests,
        duration_ms = report.elapsed.as_millis() as u64,
        "reconcile: pass done"
    );
    Ok(report)
}

async fn hub_counts(
    storage: &Storage,
    scope: &StoreScope,
) -> Result<BTreeMap<u64, i64>, crate::storage::StorageError> {
    Ok(storage
        .count_live_orders_by_status(scope)
        .await?
        .into_iter()
        .filter_map(|c| Some((u64::try_from(c.status_id).ok()?, c.count)))
        .collect())
}

/// The creation dates a drifted status spans, at the store (its oldest and newest order: two
/// one-order requests) and in the hub, widened to whole seconds; `None` when neither holds any.
async fn status_span(
    storage: &Storage,
    scope: &StoreScope,
    client: &Client,
    status_id: u64,
) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, SyncError> {
    let api = || SyncError::api(STREAM_RECONCILE, client);
    let db = || SyncError::storage(STREAM_RECONCILE, client);
    let mut dates = Vec::new();
    for sort in [OrderSort::DateCreatedAsc, OrderSort::DateCreatedDesc] {
        let query = OrderQuery {
            status_id: Some(status_id),
            sort: Some(sort),
            limit: Some(1),
            ..OrderQuery::default()
        };
        let first = client.list_orders(&query).await.map_err(api())?;
        dates.extend(first.into_iter().filter_map(|o| o.date_created));
    }
    // Every date both databases can hold (PostgreSQL's timestamps stop far short of chrono's).
    let all_time = (
        DateTime::<Utc>::UNIX_EPOCH,
        DateTime::<Utc>::from_timestamp(253_402_300_799, 0).expect("9999-12-31T23:59:59Z"),
    );
    let (_, hub_min, hub_max) = storage
        .live_orders_created_between(scope, status_id as i32, all_time.0, all_time.1)
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

/// How many orders of a status the store holds created in `[from, to]`: one request.
async fn store_count_between(
    client: &Client,
    status_id: u64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<u64, SyncError> {
    let query = OrderQuery {
        status_id: Some(status_id),
        min_date_created: Some(from),
        max_date_created: Some(to),
        ..OrderQuery::default()
    };
    let counted = client
        .count_orders(&query)
        .await
        .map_err(SyncError::api(STREAM_RECONCILE, client))?;
    Ok(counted.count)
}

/// Re-walks one status within one creation window and settles the ids that still differ:
/// held here but not listed (moved to another status, or archived), or listed but not held
/// after the upsert (same `date_modified`, other content) are read on their own.
async fn repair_window(
    storage: &Storage,
    scope: &StoreScope,
    client: &Client,
    options: &SyncOptions,
    status_id: u64,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    report: &mut ReconcileReport,
) -> Result<(), SyncError> {
    let db = || SyncError::storage(STREAM_RECONCILE, client);
    let listed = walk_status(
        storage,
        scope,
        client,
        options,
        status_id,
        (from, to),
        report,
    )
    .await?;
    let held: BTreeSet<u64> = storage
        .list_live_order_ids_created_between(scope, status_id as i32, from, to)
        .await
        .map_err(db())?
        .into_iter()
        .filter_map(|id| u64::try_from(id).ok())
        .collect();
    for order_id in held.symmetric_difference(&listed) {
        report.targeted += 1;
        let outcome =
            import_order(storage, scope, client, &options.status_mapping, *order_id).await?;
        if let TargetedOutcome::Saved(outcome) = outcome {
            report.add(outcome);
        }
    }
    Ok(())
}

/// Walks the orders of one status created in `[from, to]` by id and upserts each page;
/// returns the ids listed.
async fn walk_status(
    storage: &Storage,
    scope: &StoreScope,
    client: &Client,
    options: &SyncOptions,
    status_id: u64,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    report: &mut ReconcileReport,
) -> Result<BTreeSet<u64>, SyncError> {
    let api = || SyncError::api(STREAM_RECONCILE, client);
    let db = || SyncError::storage(STREAM_RECONCILE, client);
    let query = OrderQuery {
        status_id: Some(status_id),
        min_date_created: Some(from),
        max_date_created: Some(to),
        sort: Some(OrderSort::IdAsc),
        limit: Some(options.page_size()),
        include_line_items: true,
        ..OrderQuery::default()
    };
    let mut listed = BTreeSet::new();
    let pages = client.order_pages_with_lines(&query);
    futures::pin_mut!(pages);
    while let Some(page) = pages.try_next().await.map_err(api())? {
        let mut records = Vec::with_capacity(page.len());
        for order in &page {
            let fallback = if has_embedded_shipping(order) {
                Vec::new()
            } else {
                client
                    .list_order_shipping_addresses(order.order.id)
                    .await
                    .map_err(api())?
            };
            listed.insert(order.order.id);
            records.push(order_record(order, &options.status_mapping, &fallback));
        }
        let outcome = storage
            .save_page(scope, &records, None)
            .await
            .map_err(db())?;
        report.add(outcome);
    }
    Ok(listed)
}
