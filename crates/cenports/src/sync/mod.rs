//! Importing a store: orders (open orders first, then every order), then the catalog, from
//! any channel through [`crate::channel::OrdersIn`] and [`crate::channel::CatalogIn`].
//!
//! The algorithm is `docs/HARD-PROBLEMS.md` note 1, explained in `docs/SYNC.md`:
//!
//! 1. **Freeze a window** `[a, b]` on the modification time: `a` is the committed cursor minus
//!    an overlap (or `since`, or nothing for a backfill), `b` is the *store's* clock minus a
//!    settle delay.
//! 2. **Walk it** in pages the channel resumes after an opaque cursor (e.g. by id, one past the
//!    last id read, so no order can slide into a page already read). An order modified during the walk leaves the window
//!    and lands in the next one, because its new modification time is after `b`.
//! 3. **Commit each page with its checkpoint** (window, cursor) in one transaction
//!    ([`Storage::save_page`]); the cursor never moves ahead of the data. When the walk ends,
//!    the window is marked completed and the next run starts at `b − overlap`. A run that
//!    stops anywhere resumes at `(window, cursor)`.
//!
//! Upserts compare `date_modified` and skip what is unchanged, so re-reading the overlap
//! costs requests, not writes. The settle delay also guarantees that an order read in a
//! window can only change later with a *strictly* later `date_modified` (one-second
//! resolution), so the comparison never hides a change.
//!
//! Entry points: [`sync_store`] (what the scheduler and the CLI call), [`sync_open_orders`],
//! [`sync_orders`], [`sync_catalog`]. Each takes a progress callback for a progress bar.

mod catalog;
mod orders;
pub mod reconcile;
pub mod scheduler;
pub mod targeted;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::channel::{ChannelError, StatusMapping, StoreClient};
use crate::storage::{
    Storage, StorageError, StoreScope, SyncCounts, SyncTrigger, UpsertOutcome, STREAM_OPEN_ORDERS,
    STREAM_ORDERS,
};

pub use catalog::sync_catalog;
pub use orders::{sync_open_orders, sync_orders};

/// How a sync runs. [`SyncOptions::default`] is what production uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOptions {
    /// Import orders modified at or after this instant when there is no earlier cursor (a
    /// "backfill since"); on a store already synced it can only lower the window's start,
    /// never raise it (which could skip orders).
    pub since: Option<DateTime<Utc>>,
    /// How far each window reaches back before the committed cursor: covers orders whose
    /// `date_modified` becomes visible late. Costs reads only. Default 2 minutes.
    pub overlap: Duration,
    /// How long before the store's "now" a window ends, so that the last second is complete
    /// and a later change always has a later `date_modified`. At least one second; default 5.
    pub settle: Duration,
    /// Orders per request, at most the channel's maximum (default 250). Tests use small pages to make walks long.
    pub page_size: u32,
    /// The store's overrides of the channel's status → fulfilment state table (default none).
    pub status_overrides: StatusMapping,
    /// Statuses walked by [`sync_open_orders`], in order; `None`: the channel's
    /// ([`crate::channel::OrdersIn::open_statuses`]).
    pub open_statuses: Option<Vec<String>>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            since: None,
            overlap: Duration::from_secs(120),
            settle: Duration::from_secs(5),
            page_size: 250,
            status_overrides: StatusMapping::default(),
            open_statuses: None,
        }
    }
}

impl SyncOptions {
    fn page_size(&self, client: &dyn StoreClient) -> u32 {
        self.page_size
            .clamp(1, client.orders().max_page_size().max(1))
    }

    /// The store's status table: the channel's, with the store's overrides.
    pub fn status_mapping(&self, client: &dyn StoreClient) -> StatusMapping {
        client
            .orders()
            .status_mapping()
            .with_overrides(&self.status_overrides)
    }

    fn settle(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.settle.max(Duration::from_secs(1)))
            .unwrap_or(chrono::Duration::seconds(5))
    }

    fn overlap(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.overlap).unwrap_or(chrono::Duration::seconds(120))
    }
}

/// Progress of a walk, reported after each committed page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncProgress {
    /// The checkpoint stream being walked (`open_orders:11`, `orders`, `catalog`).
    pub stream: String,
    /// Pages committed in this stream so far.
    pub pages: u64,
    /// Records read in this stream so far.
    pub read: u64,
    /// How many records the walk expects in all, when known (backfills count first).
    pub expected: Option<u64>,
    /// Where the walk would resume (the channel's cursor, e.g. the last order id committed).
    pub cursor: Option<String>,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Orders new to the hub.
    pub inserted: u64,
    /// Orders whose newer version replaced the stored one.
    pub updated: u64,
    /// Orders read but already current (no write).
    pub unchanged: u64,
    /// Order pages committed.
    pub pages: u64,
    /// Requests sent to the channel (retries included), from the client's counters.
    pub api_requests: u64,
    /// Products read by the catalog walk.
    pub products: u64,
    /// SKU index entries inserted or changed.
    pub skus: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl SyncReport {
    /// Orders read (inserted + updated + unchanged).
    pub fn orders_read(&self) -> u64 {
        self.inserted + self.updated + self.unchanged
    }

    fn add_outcome(&mut self, outcome: UpsertOutcome) {
        self.inserted += outcome.inserted;
        self.updated += outcome.updated;
        self.unchanged += outcome.unchanged;
    }

    fn absorb(&mut self, other: &SyncReport) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.pages += other.pages;
        self.products += other.products;
        self.skus += other.skus;
    }
}

/// Why a sync stopped. Whatever was committed before stays, with its checkpoint: running the
/// sync again resumes.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The channel refused or failed a request (the client retried what it safely could).
    #[error("syncing {stream} of store {store}: {} request failed", source.channel())]
    Api {
        /// The stream.
        stream: String,
        /// The channel's store key.
        store: String,
        /// The channel's error (endpoint, status, missing scope).
        #[source]
        source: ChannelError,
    },
    /// The hub's database failed.
    #[error("syncing {stream} of store {store}: could not save to the database")]
    Storage {
        /// The stream.
        stream: String,
        /// The channel's store key.
        store: String,
        /// The storage error.
        #[source]
        source: StorageError,
    },
}

impl SyncError {
    fn api(stream: &str, client: &dyn StoreClient) -> impl FnOnce(ChannelError) -> Self {
        let (stream, store) = (stream.to_owned(), client.store_key().to_owned());
        move |source| SyncError::Api {
            stream,
            store,
            source,
        }
    }

    fn storage(stream: &str, client: &dyn StoreClient) -> impl FnOnce(StorageError) -> Self {
        let (stream, store) = (stream.to_owned(), client.store_key().to_owned());
        move |source| SyncError::Storage {
            stream,
            store,
            source,
        }
    }
}

/// The store's clock minus the settle delay, or minus the channel's horizon when that is
/// longer ([`crate::channel::OrdersIn::horizon`]): the end of the next window.
async fn window_end(
    client: &dyn StoreClient,
    options: &SyncOptions,
    stream: &str,
) -> Result<DateTime<Utc>, SyncError> {
    let orders = client.orders();
    let now = orders.now().await.map_err(SyncError::api(stream, client))?;
    let horizon = chrono::Duration::from_std(orders.horizon()).unwrap_or_default();
    Ok(now - options.settle().max(horizon))
}

/// A sync that writes at least this many orders refreshes the planner's statistics.
pub const ANALYZE_AFTER_ORDERS: u64 = 10_000;

/// [`sync_store`], written into the store's sync history (`sync_runs`): a row when it starts,
/// its counts or its error (the whole chain of causes) when it ends, with who started it. A
/// failure to write the history is logged and does not stop the sync.
pub async fn sync_store_recorded(
    storage: &Storage,
    scope: &StoreScope,
    client: &dyn StoreClient,
    options: &SyncOptions,
    started_by: SyncTrigger,
    progress: impl FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let store = scope.store_id().get();
    let run = match storage.start_sync_run(scope, started_by, Utc::now()).await {
        Ok(run) => Some(run),
        Err(error) => {
            tracing::warn!(store.id = store, error = %error, "could not record the start of a sync");
            None
        }
    };
    let outcome = sync_store(storage, scope, client, options, progress).await;
    // A backfill changes the tables' shape: let the planner know now, not at autovacuum's
    // next pass (order lists would be planned as for an empty table meanwhile).
    if outcome
        .as_ref()
        .is_ok_and(|r| r.inserted + r.updated >= ANALYZE_AFTER_ORDERS)
    {
        if let Err(error) = storage.refresh_order_statistics().await {
            tracing::warn!(store.id = store, error = %error, "could not refresh the planner's statistics");
        }
    }
    if let Some(run) = run {
        let error;
        let result = match &outcome {
            Ok(report) => Ok(SyncCounts {
                orders_inserted: report.inserted,
                orders_updated: report.updated,
                orders_read: report.orders_read(),
                products: report.products,
                api_requests: report.api_requests,
            }),
            Err(e) => {
                error = error_chain(e);
                Err(error.as_str())
            }
        };
        if let Err(e) = storage
            .finish_sync_run(scope, run, Utc::now(), result)
            .await
        {
            tracing::warn!(store.id = store, error = %e, "could not record the end of a sync");
        }
    }
    outcome
}

/// An error and its causes, `: `-separated (what a person needs to act on it).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// One complete sync of a store: open orders first (until the first full order walk has
/// completed), then every changed order, then the catalog.
pub async fn sync_store(
    storage: &Storage,
    scope: &StoreScope,
    client: &dyn StoreClient,
    options: &SyncOptions,
    mut progress: impl FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let requests_before = client.requests_sent();
    let mut report = SyncReport::default();
    let orders_cp = storage
        .get_checkpoint(scope, STREAM_ORDERS)
        .await
        .map_err(SyncError::storage(STREAM_ORDERS, client))?;
    let open_cp = storage
        .get_checkpoint(scope, STREAM_OPEN_ORDERS)
        .await
        .map_err(SyncError::storage(STREAM_OPEN_ORDERS, client))?;
    // Open orders first while the first full walk of every order has not committed anything,
    // unless an earlier run already brought them in.
    let first_import = orders_cp.is_none_or(|cp| cp.completed_at.is_none() && cp.cursor.is_none())
        && open_cp.is_none_or(|cp| cp.completed_at.is_none());
    let end = window_end(client, options, STREAM_ORDERS).await?;
    if first_import {
        let open =
            orders::walk_open_orders(storage, scope, client, options, end, &mut progress).await?;
        report.absorb(&open);
    }
    let all = orders::walk_orders(storage, scope, client, options, end, &mut progress).await?;
    report.absorb(&all);
    let catalog =
        catalog::walk_catalog(storage, scope, client, options, end, &mut progress).await?;
    report.absorb(&catalog);
    report.api_requests = client.requests_sent() - requests_before;
    report.elapsed = started.elapsed();
    Ok(report)
}
