//! The order walks: every order (the channel's streams, [`STREAM_ORDERS`] first, e.g.
//! a channel's archived orders after it) and open orders first (`open_orders:{status}`
//! streams, then `open_orders` marks the whole walk done).
//!
//! Their class in the store's quota: a walk from the beginning of time or from
//! [`SyncOptions::since`] (a first import, a backfill) and the open-orders walk (part of the first
//! import) are [`Priority::Backfill`]; an incremental window is [`Priority::Sync`].

use std::time::Instant;

use chrono::{DateTime, Utc};

use super::{window_end, SyncError, SyncOptions, SyncProgress, SyncReport};
use crate::channel::{with_priority, OrderPage, OrderQuery, Priority, StatusMapping, StoreClient};
use crate::storage::{
    Checkpoint, Storage, StorageError, StoreScope, UpsertOutcome, STREAM_OPEN_ORDERS, STREAM_ORDERS,
};

/// A frozen window and where to resume inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Window {
    start: Option<DateTime<Utc>>,
    end: DateTime<Utc>,
    /// The channel's cursor committed in this window (resume after it).
    cursor: Option<String>,
}

/// Chooses the window of a stream from its checkpoint (`docs/HARD-PROBLEMS.md` note 1):
/// - a window in progress is resumed as it was frozen, at its cursor — unless `since`
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
    let (start, cursor, end) = match checkpoint {
        Some(Checkpoint {
            window_start,
            window_end: Some(end),
            cursor,
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
                (*window_start, cursor.clone(), *end)
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
    Some(Window { start, end, cursor })
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

/// What a walk reads, besides its window, and how it maps statuses.
struct Walk<'a> {
    stream: &'a str,
    status: Option<String>,
    expected: Option<u64>,
    mapping: &'a StatusMapping,
}

/// Walks one frozen window page by page, committing each page with its checkpoint, then marks
/// the window completed. Returns what it did.
async fn walk_window(
    storage: &Storage,
    scope: &StoreScope,
    client: &dyn StoreClient,
    options: &SyncOptions,
    walk: Walk<'_>,
    window: Window,
    progress: &mut impl FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let (stream, mapping) = (walk.stream, walk.mapping);
    let started = Instant::now();
    let api = || SyncError::api(stream, client);
    let db = || SyncError::storage(stream, client);
    let mut report = SyncReport::default();
    let query = OrderQuery {
        stream: stream.to_owned(),
        status: walk.status,
        modified_from: window.start,
        modified_to: Some(window.end),
        page_size: options.page_size(client),
        ..OrderQuery::default()
    };
    tracing::debug!(
        store.id = scope.store_id().get(),
        sync.stream = stream,
        sync.window_start = ?window.start,
        sync.window_end = %window.end,
        sync.resume_after = ?window.cursor,
        "sync: walking a window"
    );
    let orders = client.orders();
    let mut cursor = window.cursor.clone();
    let mut next = Some(
        orders
            .page(&query, cursor.as_deref(), mapping)
            .await
            .map_err(api())?,
    );
    while let Some(OrderPage {
        orders: records,
        cursor: page_cursor,
        more,
    }) = next.take()
    {
        if records.is_empty() && !more {
            break;
        }
        cursor = page_cursor.or(cursor);
        let checkpoint = Checkpoint {
            stream: stream.to_owned(),
            window_start: window.start,
            window_end: Some(window.end),
            cursor: cursor.clone(),
            completed_at: None,
        };
        // The next page is fetched and mapped while this one is saved: the walk then costs
        // max(fetch, save) per page instead of their sum, with at most two pages in memory.
        // The save runs as its own task so that mapping (CPU in this task) never holds up the
        // save's round trips to the database. The checkpoint still moves only with its page; a
        // page fetched but not saved when the walk stops is simply read again on resume.
        let save = SaveTask(tokio::spawn({
            let (storage, scope) = (storage.clone(), *scope);
            async move { storage.save_page(&scope, &records, Some(&checkpoint)).await }
        }));
        let fetch = async {
            if more {
                orders
                    .page(&query, cursor.as_deref(), mapping)
                    .await
                    .map(Some)
            } else {
                Ok(None)
            }
        };
        let (saved, fetched) = tokio::join!(save.join(), fetch);
        let outcome = saved.map_err(db())?;
        next = fetched.map_err(api())?;
        report.add_outcome(outcome);
        report.pages += 1;
        progress(SyncProgress {
            stream: stream.to_owned(),
            pages: report.pages,
            read: report.orders_read(),
            expected: walk.expected,
            cursor: cursor.clone(),
        });
    }
    let done = Checkpoint {
        stream: stream.to_owned(),
        window_start: window.start,
        window_end: Some(window.end),
        cursor,
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

/// The walk of every order with the window end already known: each of the channel's streams
/// ([`STREAM_ORDERS`] first) over the same window end, each with its own cursor.
pub(super) async fn walk_orders(
    storage: &Storage,
    scope: &StoreScope,
    client: &dyn StoreClient,
    options: &SyncOptions,
    now: DateTime<Utc>,
    progress: &mut impl FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let mut report = SyncReport::default();
    for stream in client.orders().streams() {
        let walked =
            walk_order_stream(storage, scope, client, options, now, &stream, progress).await?;
        report.absorb(&walked);
    }
    Ok(report)
}

/// One stream of [`walk_orders`].
async fn walk_order_stream(
    storage: &Storage,
    scope: &StoreScope,
    client: &dyn StoreClient,
    options: &SyncOptions,
    now: DateTime<Utc>,
    stream: &str,
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
    // From the beginning or from `since`: a backfill. A resumed window keeps its start, so a
    // resumed backfill stays one (unless it was a `since` not given again).
    let class = if window.start.is_none() || window.start == options.since {
        Priority::Backfill
    } else {
        Priority::Sync
    };
    with_priority(class, async {
        // A backfill is worth one count request, for a progress bar with an end (the channel
        // says when a stream is not worth one).
        let backfill = checkpoint
            .as_ref()
            .is_none_or(|cp| cp.completed_at.is_none());
        let expected = if backfill {
            let count = OrderQuery {
                stream: stream.to_owned(),
                modified_from: window.start,
                modified_to: Some(window.end),
                ..OrderQuery::default()
            };
            // The count only feeds the progress bar: a failure is not worth stopping for.
            client
                .orders()
                .count(&count, window.cursor.as_deref())
                .await
                .ok()
                .flatten()
        } else {
            None
        };
        let mapping = options.status_mapping(client);
        let walk = Walk {
            stream,
            status: None,
            expected,
            mapping: &mapping,
        };
        walk_window(storage, scope, client, options, walk, window, progress).await
    })
    .await
}

/// The open-orders walk with the window end already known: each status of
/// [`SyncOptions::open_statuses`] (else the channel's) from the beginning of time to `now`,
/// each with its own stream (`open_orders:{status}`) so an interrupted walk resumes; then
/// `open_orders` records the walk done. Part of the first import: [`Priority::Backfill`].
pub(super) async fn walk_open_orders(
    storage: &Storage,
    scope: &StoreScope,
    client: &dyn StoreClient,
    options: &SyncOptions,
    now: DateTime<Utc>,
    progress: &mut impl FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let walk = walk_open_statuses(storage, scope, client, options, now, progress);
    with_priority(Priority::Backfill, walk).await
}

async fn walk_open_statuses(
    storage: &Storage,
    scope: &StoreScope,
    client: &dyn StoreClient,
    options: &SyncOptions,
    now: DateTime<Utc>,
    progress: &mut impl FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let mut report = SyncReport::default();
    let mapping = options.status_mapping(client);
    let statuses = options
        .open_statuses
        .clone()
        .unwrap_or_else(|| client.orders().open_statuses());
    for status in &statuses {
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
                cursor,
                completed_at: None,
                ..
            }) => Window {
                start: window_start,
                end,
                cursor,
            },
            _ => Window {
                start: None,
                end: now,
                cursor: None,
            },
        };
        let walk = Walk {
            stream: &stream,
            status: Some(status.clone()),
            expected: None,
            mapping: &mapping,
        };
        let walked = walk_window(storage, scope, client, options, walk, window, progress).await?;
        report.absorb(&walked);
    }
    let done = Checkpoint {
        stream: STREAM_OPEN_ORDERS.to_owned(),
        window_start: None,
        window_end: Some(now),
        cursor: None,
        completed_at: Some(Utc::now()),
    };
    storage
        .save_checkpoint(scope, &done)
        .await
        .map_err(SyncError::storage(STREAM_OPEN_ORDERS, client))?;
    Ok(report)
}

/// Imports every order modified since the committed cursor (all of them on the first run, or
/// since [`SyncOptions::since`]), by the frozen-window walk of `docs/HARD-PROBLEMS.md` note 1.
/// Resumes an interrupted window where it stopped.
pub async fn sync_orders(
    storage: &Storage,
    scope: &StoreScope,
    client: &dyn StoreClient,
    options: &SyncOptions,
    mut progress: impl FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let before = client.requests_sent();
    let now = window_end(client, options, STREAM_ORDERS).await?;
    let mut report = walk_orders(storage, scope, client, options, now, &mut progress).await?;
    report.api_requests = client.requests_sent() - before;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Imports the orders a warehouse can act on (statuses [`SyncOptions::open_statuses`], by
/// default the channel's), so they are visible before a long backfill. [`super::sync_store`]
/// runs it until the first full order walk completes.
pub async fn sync_open_orders(
    storage: &Storage,
    scope: &StoreScope,
    client: &dyn StoreClient,
    options: &SyncOptions,
    mut progress: impl FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let before = client.requests_sent();
    let now = window_end(client, options, STREAM_OPEN_ORDERS).await?;
    let mut report = walk_open_orders(storage, scope, client, options, now, &mut progress).await?;
    report.api_requests = client.requests_sent() - before;
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

    fn cp(start: Option<i64>, end: i64, last: Option<&str>, done: bool) -> Checkpoint {
        Checkpoint {
            stream: STREAM_ORDERS.into(),
            window_start: start.map(t),
            window_end: Some(t(end)),
            cursor: last.map(str::to_owned),
            completed_at: done.then(|| t(end + 1)),
        }
    }

    #[test]
    fn a_first_run_backfills_from_the_beginning_or_since() {
        let w = plan_window(None, None, chrono::Duration::seconds(60), t(100)).unwrap();
        assert_eq!((w.start, w.end, w.cursor), (None, t(100), None));
        let w = plan_window(None, Some(t(10)), chrono::Duration::seconds(60), t(100)).unwrap();
        assert_eq!(w.start, Some(t(10)));
    }

    #[test]
    fn an_interrupted_window_resumes_frozen_at_its_last_id() {
        let c = cp(Some(0), 50, Some("1234"), false);
        let w = plan_window(Some(&c), None, chrono::Duration::seconds(60), t(100)).unwrap();
        assert_eq!(
            (w.start, w.end, w.cursor.as_deref()),
            (Some(t(0)), t(50), Some("1234"))
        );
        let backfill = cp(None, 50, Some("7"), false);
        let w = plan_window(
            Some(&backfill),
            Some(t(5)),
            chrono::Duration::seconds(60),
            t(100),
        )
        .unwrap();
        assert_eq!(
            w.cursor.as_deref(),
            Some("7"),
            "since inside a backfill changes nothing"
        );
    }

    #[test]
    fn a_completed_window_is_followed_by_one_that_overlaps_it() {
        let c = cp(Some(0), 500, Some("9"), true);
        let w = plan_window(Some(&c), None, chrono::Duration::seconds(60), t(1000)).unwrap();
        assert_eq!((w.start, w.end, w.cursor), (Some(t(440)), t(1000), None));
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
