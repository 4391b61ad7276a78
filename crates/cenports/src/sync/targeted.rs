//! Targeted imports: one order, or one product with its SKUs, fetched because a webhook or
//! reconciliation named it, and saved through the same path as the walks
//! ([`Storage::save_page`] for orders, [`Storage::upsert_products`] and
//! [`Storage::upsert_skus`] for the catalog). The channel reads it
//! ([`crate::channel::OrdersIn::fetch`], [`crate::channel::CatalogIn::fetch_product`]), as the
//! walk would see it where it can, so an unchanged order compares equal.
//!
//! # Changes within the same second
//! The walks read only orders whose modification time is at least the settle delay old: such a
//! version is the store's last of its second, and "not newer than stored" means "unchanged"
//! (`docs/SYNC.md`). A webhook makes the hub read an order *right after* it changed, and
//! another change within the same second keeps the same modification time. So the order is
//! saved as an unsettled version, with the time the read started by the database's clock
//! ([`Storage::save_orders_read_at`]): a later read of the same second (the next walk, another
//! fetch) replaces it, and a fetch that started earlier but finishes later (two fetches of one
//! order racing) never replaces it.

use super::SyncError;
use crate::channel::{StatusMapping, StoreClient};
use crate::storage::{Storage, StoreScope, UpsertOutcome};

/// The stream name targeted imports report in their errors.
pub const STREAM_TARGETED: &str = "targeted";

/// What a targeted order import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetedOutcome {
    /// The order was read and upserted (inserted, updated or already current).
    Saved(UpsertOutcome),
    /// The channel has no such order: nothing to save.
    NotFound,
}

/// Reads one order with its lines and addresses (by the channel's id) and saves it through the
/// sync's save path.
pub async fn import_order(
    storage: &Storage,
    scope: &StoreScope,
    client: &dyn StoreClient,
    mapping: &StatusMapping,
    order: &str,
) -> Result<TargetedOutcome, SyncError> {
    let api = || SyncError::api(STREAM_TARGETED, client);
    let db = || SyncError::storage(STREAM_TARGETED, client);
    // Before the request: a version is never taken for newer than it is.
    let read_at = storage.clock().await.map_err(db())?;
    let Some(record) = client.orders().fetch(order, mapping).await.map_err(api())? else {
        return Ok(TargetedOutcome::NotFound);
    };
    let outcome = storage
        .save_orders_read_at(scope, std::slice::from_ref(&record), read_at)
        .await
        .map_err(db())?;
    Ok(TargetedOutcome::Saved(outcome))
}

/// What a targeted product import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductOutcome {
    /// The product was read; this many SKU index entries were inserted or changed.
    Saved {
        /// SKU index entries inserted or changed.
        skus: u64,
    },
    /// The channel has no such product.
    NotFound,
}

/// Reads one product with its SKUs and upserts it, its SKU index entries and the levels the
/// store reports for them, as the catalog walk does.
pub async fn import_product(
    storage: &Storage,
    scope: &StoreScope,
    client: &dyn StoreClient,
    product: &str,
) -> Result<ProductOutcome, SyncError> {
    let page = match client.catalog().fetch_product(product).await {
        Ok(Some(page)) => page,
        Ok(None) => return Ok(ProductOutcome::NotFound),
        Err(error) => return Err(SyncError::api(STREAM_TARGETED, client)(error)),
    };
    let db = || SyncError::storage(STREAM_TARGETED, client);
    storage
        .upsert_products(scope, &page.products)
        .await
        .map_err(db())?;
    let skus = storage.upsert_skus(scope, &page.skus).await.map_err(db())?;
    // The read carries the store's level of each SKU (an inventory webhook names the product
    // whose stock changed): it is what the store reports now, and the next push compares
    // against it (docs/STOCK.md).
    storage
        .record_reported_levels(scope, &page.levels)
        .await
        .map_err(db())?;
    Ok(ProductOutcome::Saved { skus })
}
