//! The catalog walk: products with their variants into `products` and the SKU index.
//!
//! Incremental by `date_modified` in a frozen window `[a, b]` like orders. The v3 products
//! list can only be paged by page number here (the client's `ProductQuery` has no `id:min`),
//! so a product modified during a multi-page walk leaves the window and the products after it
//! move up one place: one of them could slide into a page already read. The window's set can
//! only shrink (`b` is in the past), so the walk is repeated until a pass finds no product the
//! earlier passes missed; a single-page window (every incremental run of a quiet catalog) needs
//! one pass. The window is committed only after that, so a stopped catalog walk re-walks its
//! window: catalogs are small next to order histories.
//!
//! Each SKU's stock level as the store reports it is recorded beside its index entry: it is
//! "what the store last reported", which a stock push compares with before writing
//! (docs/STOCK.md).

use std::collections::HashSet;

use bigcommerce_client::{Client, InventoryTracking, Product, ProductQuery};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;

use super::mapping::product_records;
use super::{window_end, SyncError, SyncOptions, SyncProgress, SyncReport};
use crate::storage::{Checkpoint, Storage, StoreScope, STREAM_CATALOG};

/// Most passes over one window before committing it anyway (each pass that finds a missed
/// product needed a product to change at the exact moment a page was read).
const MAX_PASSES: usize = 4;

pub(super) async fn walk_catalog(
    storage: &Storage,
    scope: &StoreScope,
    client: &Client,
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
    let query = ProductQuery {
        date_modified_min: start,
        date_modified_max: Some(now),
        include_variants: true,
        limit: Some(options.page_size()),
        ..ProductQuery::default()
    };
    let mut report = SyncReport::default();
    let mut seen: HashSet<u64> = HashSet::new();
    for pass in 1..=MAX_PASSES {
        let pages = client.product_pages(&query);
        futures::pin_mut!(pages);
        let mut pages_read = 0u64;
        let mut new_ids = 0u64;
        while let Some(page) = pages.try_next().await.map_err(api())? {
            pages_read += 1;
            let mut products = Vec::with_capacity(page.len());
            let mut skus = Vec::new();
            let mut levels = Vec::new();
            for product in &page {
                if seen.insert(product.id) {
                    new_ids += 1;
                }
                let (record, product_skus) = product_records(product);
                products.push(record);
                skus.extend(product_skus);
                levels.extend(reported_levels(product));
            }
            storage
                .upsert_products(scope, &products)
                .await
                .map_err(db())?;
            report.skus += storage.upsert_skus(scope, &skus).await.map_err(db())?;
            storage
                .record_reported_levels(scope, &levels)
                .await
                .map_err(db())?;
            progress(SyncProgress {
                stream: STREAM_CATALOG.to_owned(),
                pages: pages_read,
                read: seen.len() as u64,
                expected: None,
                last_id: page.iter().map(|p| p.id as i64).max(),
            });
        }
        let complete = pages_read <= 1 || (pass > 1 && new_ids == 0);
        if complete {
            break;
        }
        if pass == MAX_PASSES {
            tracing::warn!(
                store.id = scope.store_id().get(),
                "sync: the catalog kept changing during {MAX_PASSES} passes; the next run re-reads the overlap"
            );
        }
    }
    report.products = seen.len() as u64;
    let done = Checkpoint {
        stream: STREAM_CATALOG.to_owned(),
        window_start: start,
        window_end: Some(now),
        last_id: None,
        completed_at: Some(Utc::now()),
    };
    storage.save_checkpoint(scope, &done).await.map_err(db())?;
    Ok(report)
}

/// The stock level the store reports for each SKU of `product`, in the order of the SKU index
/// entries (`mapping::product_records`: the product's own SKU, then each variant's), so the
/// same entry wins for a SKU listed twice. Product-tracked SKUs (the product's and, when it has
/// options, its variants') carry the product's level: that is the one figure the store keeps and
/// the one a push writes. Variant-tracked variants carry their own; the product-level SKU of a
/// variant-tracked product carries the sum BigCommerce reports, which a push never writes.
fn reported_levels(product: &Product) -> Vec<(String, i64)> {
    let mut levels = Vec::with_capacity(product.variants.len() + 1);
    let by_variant = product.inventory_tracking == Some(InventoryTracking::Variant);
    if let (Some(sku), Some(level)) = (non_empty(product.sku.as_deref()), product.inventory_level) {
        levels.push((sku, level));
    }
    for variant in &product.variants {
        let level = if by_variant {
            variant.inventory_level
        } else {
            product.inventory_level.or(variant.inventory_level)
        };
        if let (Some(sku), Some(level)) = (non_empty(variant.sku.as_deref()), level) {
            levels.push((sku, level));
        }
    }
    levels
}

fn non_empty(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// Imports products changed since the catalog cursor (the whole catalog on the first run),
/// with their variants, into the products table and the SKU index (SKU → product id, variant
/// id, inventory tracking mode).
pub async fn sync_catalog(
    storage: &Storage,
    scope: &StoreScope,
    client: &Client,
    options: &SyncOptions,
    mut progress: impl FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let started = std::time::Instant::now();
    let before = client.stats().requests_sent;
    let now = window_end(client, options, STREAM_CATALOG).await?;
    let mut report = walk_catalog(storage, scope, client, options, now, &mut progress).await?;
    report.api_requests = client.stats().requests_sent - before;
    report.elapsed = started.elapsed();
    Ok(report)
}
