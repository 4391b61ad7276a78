//! The order walks: every order (`orders` stream, then archived orders in `orders_archived`)
//! and open orders first (`open_orders:{status}` streams, then `open_orders` marks the whole
//! walk done).

use std::time::Instant;

use bigcommerce_client::{Client, OrderQuery, OrderSort};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;

use super::mapping::{has_embedded_shipping, order_record};
use super::{window_end, SyncError, SyncOptions, SyncProgress, SyncReport};
use crate::storage::{
    Checkpoint, Storage, StorageError, StoreScope, UpsertOutcome, STREAM_OPEN_ORDERS, STREAM_ORDERS,
};

/// The checkpoint stream of the archived-orders pass. BigCommerce leaves archived orders out of
/// every listing unless asked with `is_deleted=true`, so an order archived after it was imported
/// would otherwise stay live in the hub forever. The pass walks the same frozen window as
/// [`STREAM_ORDERS`] with its own cursor, so each resumes on its own.
pub(crate) const STREAM_ARCHIVED_ORDERS: &str = "orders_archived";

/// A frozen window and where to resume inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Window {
    start: Option<DateTime<Utc>>,
    end: DateTime<Utc>,
    /// The last id committed in this window (resume one past it).
    last_id: Option<i64>,
}

/// Chooses the window of a stream from its checkpoint (note 1):
/// - a window in progress is resumed as it was frozen, at its last id — unless `since`
///   reaches further back than it, in which case a new, larger window is started;
/// - after a completed window, `[end − overlap, now]`, lowered to `since` if earlier;
/// - with no checkpoint, `[since, now]` (`since` absent: from the beginning).
///
/// `None` when the store's clock is not past the start (nothing can have changed).
fn plan_window(
    checkpoint: Option<&Checkpoint>,
    since: Option<DateTime<Utc>>,
    overlap: chrono::Duration,
    now: DateTime<Utc>,
) -> Option<Window> {
    let (start, last_id, end) = match checkpoint {
        Some(Checkpoint {
            window_start,
            window_end: Some(end),
            last_id,
            completed_at: None,
            ..
        }) => {
            let widen = match (since, window_start) {
                (Some(s), Some(w)) => s < *w,
                _ => false,
            };
            if widen {
                (since, None, now)
            } else {
                (*window_start, *last_id, *end)
            }
        }
        Some(Checkpoint {
            window_end: Some(end),
            ..
        }) => {
            let start = *end - overlap;
            (Some(since.map_or(start, |s| start.min(s))), None, now)
        }
        _ => (since, None, now),
    };
    if start.is_some_and(|a| end < a) {
        return None;
    }
    Some(Window {
        start,
        end,
        last_id,
    })
}

/// A page's save running as its own task; aborted (its transaction rolled back) if the walk is
/// dropped before the save is awaited, so a cancelled sync never writes behind its caller.
struct SaveTask(tokio::task::JoinHandle<Result<UpsertOutcome, StorageError>>);

impl SaveTask {
    async fn join(mut self) -> Result<UpsertOutcome, StorageError> {
        match (&mut self.0).await {
            Ok(result) => result,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => panic!("a page save was cancelled: {error}"),
        }
    }
}

impl Drop for SaveTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Walks one frozen window by id, committing each page with its checkpoint, then marks the
/// window completed. Returns what it did.
#[allow(clippy::too_many_arguments)]
async fn walk_window(
    storage: &Storage,
    scope: &StoreScope,
    client: &Client,
    options: &SyncOptions,
    stream: &str,
    status_id: Option<u64>,
    archived: bool,
    window: Window,
    expected: Option<u64>,
    progress: &mut impl FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let api = || SyncError::api(stream, client);
    let db = || SyncError::storage(stream, client);
    let mut report = SyncReport::default();
    let query = OrderQuery {
        min_id: window.last_id.map(|id| id.max(0) as u64 + 1),
        min_date_modified: window.start,
        max_date_modified: Some(window.end),
        status_id,
        is_deleted: archived.then_some(true),
        sort: Some(OrderSort::IdAsc),
        limit: Some(options.page_size()),
        include_line_items: true,
        ..OrderQuery::default()
    };
    tracing::debug!(
        store.id = scope.store_id().get(),
        sync.stream = stream,
        sync.window_start = ?window.start,
        sync.window_end = %window.end,
        sync.resume_after = ?window.last_id,
        "sync: walking a window"
    );
    let pages = client.order_pages_with_lines(&query);
    futures::pin_mut!(pages);
    let mut last_id = window.last_id;
    let mut next = pages.try_next().await.map_err(api())?;
    while let Some(page) = next {
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
            records.push(order_record(order, &options.status_mapping, &fallback));
        }
        if archived {
            // Listed only because archived: marked so, whatever the payload says.
            records.iter_mut().for_each(|r| r.is_deleted = true);
        }
        last_id = records.iter().map(|r| r.remote_id).max().max(last_id);
        let checkpoint = Checkpoint {
            stream: stream.to_owned(),
            window_start: window.start,
            window_end: Some(window.end),
            last_id,
            completed_at: None,
        };
        drop(page);
        // The next page is fetched and parsed while this one is saved: the walk then costs
        // max(fetch, save) per page instead of their sum, with at most two pages in memory.
        // The save runs as its own task so that parsing (CPU in this task) never holds up the
        // save's round trips to the database. The checkpoint still moves only with its page; a
        // page fetched but not saved when the walk stops is simply read again on resume.
        let save = SaveTask(tokio::spawn({
            let (storage, scope) = (storage.clone(), *scope);
            async move { storage.save_page(&scope, &records, Some(&checkpoint)).await }
        }));
        let (saved, fetched) = tokio::join!(save.join(), pages.try_next());
        let outcome = saved.map_err(db())?;
        next = fetched.map_err(api())?;
        report.add_outcome(outcome);
        report.pages += 1;
        progress(SyncProgress {
            stream: stream.to_owned(),
            pages: report.pages,
            read: report.orders_read(),
            expected,
            last_id,
        });
    }
    let done = Checkpoint {
        stream: stream.to_owned(),
        window_start: window.start,
        window_end: Some(window.end),
        last_id,
        completed_at: Some(Utc::now()),
    };
    storage.save_checkpoint(scope, &done).await.map_err(db())?;
    tracing::info!(
        store.id = scope.store_id().get(),
        sync.stream = stream,
        sync.inserted = report.inserted,
        sync.updated = report.updated,
        sync.unchanged = report.unchanged,
        sync.pages = report.pages,
        duration_ms = started.elapsed().as_millis() as u64,
        "sync: window completed"
    );
    Ok(report)
}

/// The `orders` walk with the window end already known, then the `orders_archived` pass over
/// the same window end, so orders archived since the last run are marked deleted in the hub.
pub(super) async fn walk_orders(
    storage: &Storage,
    scope: &StoreScope,
    client: &Client,
    options: &SyncOptions,
    now: DateTime<Utc>,
    progress: &mut impl FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let mut report = walk_order_stream(
        storage,
        scope,
        client,
        options,
        now,
        STREAM_ORDERS,
        false,
        progress,
    )
    .await?;
    let archived = walk_order_stream(
        storage,
        scope,
        client,
        options,
        now,
        STREAM_ARCHIVED_ORDERS,
        true,
        progress,
    )
    .await?;
    report.absorb(&archived);
    Ok(report)
}

/// One stream of [`walk_orders`]: live orders, or archived ones (`is_deleted=true`).
#[allow(clippy::too_many_arguments)]
async fn walk_order_stream(
    storage: &Storage,
    scope: &StoreScope,
    client: &Client,
    options: &SyncOptions,
    now: DateTime<Utc>,
    stream: &str,
    archived: bool,
    progress: &mut impl FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let checkpoint = storage
        .get_checkpoint(scope, stream)
        .await
        .map_err(SyncError::storage(stream, client))?;
    let Some(window) = plan_window(checkpoint.as_ref(), options.since, options.overlap(), now)
    else {
        return Ok(SyncReport::default());
    };
    // A backfill is worth one count request, for a progress bar with an end (archived orders
    // are few: not worth a request).
    let backfill = !archived
        && checkpoint
            .as_ref()
            .is_none_or(|cp| cp.completed_at.is_none());
    let expected = if backfill {
        let count = OrderQuery {
            min_id: window.last_id.map(|id| id.max(0) as u64 + 1),
            min_date_modified: window.start,
            max_date_modified: Some(window.end),
            ..OrderQuery::default()
        };
        // The count only feeds the progress bar: a failure is not worth stopping for.
        client.count_orders(&count).await.ok().map(|c| c.count)
    } else {
        None
    };
    walk_window(
        storage, scope, client, options, stream, None, archived, window, expected, progress,
    )
    .await
}

/// The open-orders walk with the window end already known: each status of
/// [`SyncOptions::open_statuses`] from the beginning of time to `now`, each with its own
/// stream (`open_orders:{status}`) so an interrupted walk resumes; then `open_orders` records
/// the walk done.
pub(super) async fn walk_open_orders(
    storage: &Storage,
    scope: &StoreScope,
    client: &Client,
    options: &SyncOptions,
    now: DateTime<Utc>,
    progress: &mut impl FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let mut report = SyncReport::default();
    for status in &options.open_statuses {
        let stream = format!("{STREAM_OPEN_ORDERS}:{status}");
        let checkpoint = storage
            .get_checkpoint(scope, &stream)
            .await
            .map_err(SyncError::storage(&stream, client))?;
        // Statuses change at any time: each run walks the whole status again, from the start
        // of time, unless it is finishing an interrupted walk.
        let window = match checkpoint {
            Some(Checkpoint {
                window_start,
                window_end: Some(end),
                last_id,
                completed_at: None,
                ..
            }) => Window {
                start: window_start,
                end,
                last_id,
            },
            _ => Window {
                start: None,
                end: now,
                last_id: None,
            },
        };
        let walked = walk_window(
            storage,
            scope,
            client,
            options,
            &stream,
            Some(*status),
            false,
            window,
            None,
            progress,
        )
        .await?;
        report.absorb(&walked);
    }
    let done = Checkpoint {
        stream: STREAM_OPEN_ORDERS.to_owned(),
        window_start: None,
        window_end: Some(now),
        last_id: None,
        completed_at: Some(Utc::now()),
    };
    storage
        .save_checkpoint(scope, &done)
        .await
        .map_err(SyncError::storage(STREAM_OPEN_ORDERS, client))?;
    Ok(report)
}

/// Imports every order modified since the committed cursor (all of them on the first run, or
/// since [`SyncOptions::since`]), by note 1's frozen-window keyset walk. Resumes an interrupted
/// window where it stopped.
pub async fn sync_orders(
    storage: &Storage,
    scope: &StoreScope,
    client: &Client,
    options: &SyncOptions,
    mut progress: impl FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let before = client.stats().requests_sent;
    let now = window_end(client, options, STREAM_ORDERS).await?;
    let mut report = walk_orders(storage, scope, client, options, now, &mut progress).await?;
    report.api_requests = client.stats().requests_sent - before;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Imports the orders a warehouse can act on (statuses [`SyncOptions::open_statuses`],
/// Awaiting Fulfillment then Awaiting Shipment by default), so they are visible before a long
/// backfill. [`super::sync_store`] runs it until the first full order walk completes.
pub async fn sync_open_orders(
    storage: &Storage,
    scope: &StoreScope,
    client: &Client,
    options: &SyncOptions,
    mut progress: impl FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let before = client.stats().requests_sent;
    let now = window_end(client, options, STREAM_OPEN_ORDERS).await?;
    let mut report = walk_open_orders(storage, scope, client, options, now, &mut progress).await?;
    report.api_requests = client.stats().requests_sent - before;
    report.elapsed = started.elapsed();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    fn cp(start: Option<i64>, end: i64, last: Option<i64>, done: bool) -> Checkpoint {
        Checkpoint {
            stream: STREAM_ORDERS.into(),
            window_start: start.map(t),
            window_end: Some(t(end)),
            last_id: last,
            completed_at: done.then(|| t(end + 1)),
        }
    }

    #[test]
    fn a_first_run_backfills_from_the_beginning_or_since() {
        let w = plan_window(None, None, chrono::Duration::seconds(60), t(100)).unwrap();
        assert_eq!((w.start, w.end, w.last_id), (None, t(100), None));
        let w = plan_window(None, Some(t(10)), chrono::Duration::seconds(60), t(100)).unwrap();
        assert_eq!(w.start, Some(t(10)));
    }

    #[test]
    fn an_interrupted_window_resumes_frozen_at_its_last_id() {
        let c = cp(Some(0), 50, Some(1234), false);
        let w = plan_window(Some(&c), None, chrono::Duration::seconds(60), t(100)).unwrap();
        assert_eq!((w.start, w.end, w.last_id), (Some(t(0)), t(50), Some(1234)));
        let backfill = cp(None, 50, Some(7), false);
        let w = plan_window(
            Some(&backfill),
            Some(t(5)),
            chrono::Duration::seconds(60),
            t(100),
        )
        .unwrap();
        assert_eq!(
            w.last_id,
            Some(7),
            "since inside a backfill changes nothing"
        );
    }

    #[test]
    fn a_completed_window_is_followed_by_one_that_overlaps_it() {
        let c = cp(Some(0), 500, Some(9), true);
        let w = plan_window(Some(&c), None, chrono::Duration::seconds(60), t(1000)).unwrap();
        assert_eq!((w.start, w.end, w.last_id), (Some(t(440)), t(1000), None));
        let w = plan_window(
            Some(&c),
            Some(t(100)),
            chrono::Duration::seconds(60),
            t(1000),
        )
        .unwrap();
        assert_eq!(w.start, Some(t(100)), "since can only lower the start");
        let w = plan_window(
            Some(&c),
            Some(t(490)),
            chrono::Duration::seconds(60),
            t(1000),
        )
        .unwrap();
        assert_eq!(w.start, Some(t(440)));
        assert_eq!(
            plan_window(Some(&c), None, chrono::Duration::seconds(60), t(400)),
            None,
            "a store clock behind the cursor changes nothing"
        );
    }
}
