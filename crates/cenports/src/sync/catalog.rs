//! The catalog walk: products with their SKUs into `products` and the SKU index.
//!
//! Incremental by modification time in a frozen window `[a, b]` like orders. The channel walks
//! the window as its pagination requires to miss no product
//! ([`crate::channel::CatalogIn::products`]); the window is committed only after the whole
//! walk, so a stopped catalog walk re-walks its window: catalogs are small next to order
//! histories.
//!
//! Each SKU's stock level as the store reports it is recorded beside its index entry: it is
//! "what the store last reported", which a stock push compares with before writing
//! (docs/STOCK.md).
//!
//! Catalog walks are bulk work: [`Priority::Backfill`] in the store's quota.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;

use super::{window_end, SyncError, SyncOptions, SyncProgress, SyncReport};
use crate::channel::{with_priority, Priority, StoreClient};
use crate::storage::{Checkpoint, Storage, StoreScope, STREAM_CATALOG};

/// The catalog walk with the window end already known, as [`Priority::Backfill`].
pub(super) async fn walk_catalog(
    storage: &Storage,
    scope: &StoreScope,
    client: &dyn StoreClient,
    options: &SyncOptions,
    now: DateTime<Utc>,
    progress: &mut impl FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let walk = walk_catalog_window(storage, scope, client, options, now, progress);
    with_priority(Priority::Backfill, walk).await
}

async fn walk_catalog_window(
    storage: &Storage,
    scope: &StoreScope,
    client: &dyn StoreClient,
    options: &SyncOptions,
    now: DateTime<Utc>,
    progress: &mut impl FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let api = || SyncError::api(STREAM_CATALOG, client);
    let db = || SyncError::storage(STREAM_CATALOG, client);
    let checkpoint = storage
        .get_checkpoint(scope, STREAM_CATALOG)
        .await
        .map_err(db())?;
    // Never completed: the whole catalog (an interrupted walk starts over).
    let start = checkpoint
        .as_ref()
        .and_then(|cp| {
            cp.completed_at?;
            cp.window_end
        })
        .map(|end| end - options.overlap());
    if start.is_some_and(|a| now < a) {
        return Ok(SyncReport::default());
    }
    let mut report = SyncReport::default();
    let mut seen: HashSet<String> = HashSet::new();
    let mut pages_read = 0u64;
    let pages = client
        .catalog()
        .products(start, now, options.page_size(client));
    futures::pin_mut!(pages);
    while let Some(page) = pages.try_next().await.map_err(api())? {
        pages_read += 1;
        seen.extend(page.products.iter().map(|p| p.remote_id.clone()));
        storage
            .upsert_products(scope, &page.products)
            .await
            .map_err(db())?;
        report.skus += storage.upsert_skus(scope, &page.skus).await.map_err(db())?;
        storage
            .record_reported_levels(scope, &page.levels)
            .await
            .map_err(db())?;
        progress(SyncProgress {
            stream: STREAM_CATALOG.to_owned(),
            pages: pages_read,
            read: seen.len() as u64,
            expected: None,
            cursor: page.products.last().map(|p| p.remote_id.clone()),
        });
    }
    report.products = seen.len() as u64;
    let done = Checkpoint {
        stream: STREAM_CATALOG.to_owned(),
        window_start: start,
        window_end: Some(now),
        cursor: None,
        completed_at: Some(Utc::now()),
    };
    storage.save_checkpoint(scope, &done).await.map_err(db())?;
    Ok(report)
}

/// Imports products changed since the catalog cursor (the whole catalog on the first run),
/// with their SKUs, into the products table and the SKU index (SKU → product id, variant id,
/// stock tracking).
pub async fn sync_catalog(
    storage: &Storage,
    scope: &StoreScope,
    client: &dyn StoreClient,
    options: &SyncOptions,
    mut progress: impl FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let started = std::time::Instant::now();
    let before = client.requests_sent();
    let now = window_end(client, options, STREAM_CATALOG).await?;
    let mut report = walk_catalog(storage, scope, client, options, now, &mut progress).await?;
    report.api_requests = client.requests_sent() - before;
    report.elapsed = started.elapsed();
    Ok(report)
}
