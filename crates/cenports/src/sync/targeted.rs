//! Targeted imports: one order, or one product with its variants, fetched because a webhook
//! or reconciliation named it, and saved through the same path as the walks
//! ([`Storage::save_page`] for orders, [`Storage::upsert_products`] and
//! [`Storage::upsert_skus`] for the catalog).
//!
//! # One request per order, usually
//! The order is read with the listing the walk uses, narrowed to its id
//! (`min_id = max_id = id`, `include=consignments.line_items`, `consignment_structure=object`):
//! the order, its lines and its shipping addresses in one request, rendered exactly as the walk
//! saw it (so an unchanged order compares equal byte for byte). BigCommerce leaves archived and
//! incomplete orders out of listings, so when the listing is empty the order is read with
//! `GET /v2/orders/{id}` and its products ([`Client::get_order_with_lines`], two requests, plus
//! one for shipping addresses when they are not embedded); an order that does not exist at all
//! (404) is reported as [`TargetedOutcome::NotFound`].
//!
//! # Changes within the same second
//! The walks read only orders whose `date_modified` is at least the settle delay old, so a later
//! change always has a later `date_modified` and "not newer than stored" means "unchanged"
//! (`docs/SYNC.md`). A webhook makes the hub read an order *right after* it changed: a second
//! change within the same second keeps the same `date_modified`, and the ordinary upsert would
//! skip it forever. So before saving, a stored version with the same `date_modified` but other
//! content is marked one microsecond older ([`Storage::demote_order_if_changed`]); the upsert
//! then replaces it. A version with a later `date_modified` is never touched.

use bigcommerce_client::{Client, OrderQuery, OrderSort, OrderWithLines};
use futures::TryStreamExt;

use super::mapping::{has_embedded_shipping, order_record, product_records};
use super::{StatusMapping, SyncError};
use crate::storage::{Storage, StoreScope, UpsertOutcome};

/// The stream name targeted imports report in their errors.
pub const STREAM_TARGETED: &str = "targeted";

/// What a targeted order import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetedOutcome {
    /// The order was read and upserted (inserted, updated or already current).
    Saved(UpsertOutcome),
    /// BigCommerce has no such order (404): nothing to save.
    NotFound,
}

/// Reads one order with its lines and addresses (usually in one request, see the module docs)
/// and saves it through the sync's save path.
pub async fn import_order(
    storage: &Storage,
    scope: &StoreScope,
    client: &Client,
    mapping: &StatusMapping,
    order_id: u64,
) -> Result<TargetedOutcome, SyncError> {
    let api = || SyncError::api(STREAM_TARGETED, client);
    let Some(order) = fetch_order(client, order_id).await.map_err(api())? else {
        return Ok(TargetedOutcome::NotFound);
    };
    let fallback = if has_embedded_shipping(&order) {
        Vec::new()
    } else {
        client
            .list_order_shipping_addresses(order.order.id)
            .await
            .map_err(api())?
    };
    let record = order_record(&order, mapping, &fallback);
    let db = || SyncError::storage(STREAM_TARGETED, client);
    storage
        .demote_order_if_changed(scope, &record)
        .await
        .map_err(db())?;
    let outcome = storage
        .save_page(scope, std::slice::from_ref(&record), None)
        .await
        .map_err(db())?;
    Ok(TargetedOutcome::Saved(outcome))
}

/// The order as the walk would read it, else by id (archived, incomplete); `None` on 404.
async fn fetch_order(
    client: &Client,
    order_id: u64,
) -> Result<Option<OrderWithLines>, bigcommerce_client::Error> {
    let query = OrderQuery {
        min_id: Some(order_id),
        max_id: Some(order_id),
        sort: Some(OrderSort::IdAsc),
        limit: Some(1),
        include_line_items: true,
        ..OrderQuery::default()
    };
    let pages = client.order_pages_with_lines(&query);
    futures::pin_mut!(pages);
    if let Some(page) = pages.try_next().await? {
        if let Some(order) = page.into_iter().find(|o| o.order.id == order_id) {
            return Ok(Some(order));
        }
    }
    match client.get_order_with_lines(order_id).await {
        Ok(order) => Ok(Some(order)),
        Err(bigcommerce_client::Error::NotFound { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// What a targeted product import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductOutcome {
    /// The product was read; this many SKU index entries were inserted or changed.
    Saved {
        /// SKU index entries inserted or changed.
        skus: u64,
    },
    /// BigCommerce has no such product (404).
    NotFound,
}

/// Reads one product with its variants (`GET /v3/catalog/products/{id}?include=variants`, one
/// request) and upserts it and its SKU index entries, as the catalog walk does.
pub async fn import_product(
    storage: &Storage,
    scope: &StoreScope,
    client: &Client,
    product_id: u64,
) -> Result<ProductOutcome, SyncError> {
    let product = match client.get_product(product_id, true).await {
        Ok(product) => product,
        Err(bigcommerce_client::Error::NotFound { .. }) => return Ok(ProductOutcome::NotFound),
        Err(error) => return Err(SyncError::api(STREAM_TARGETED, client)(error)),
    };
    let (record, skus) = product_records(&product);
    let db = || SyncError::storage(STREAM_TARGETED, client);
    storage
        .upsert_products(scope, std::slice::from_ref(&record))
        .await
        .map_err(db())?;
    let skus = storage.upsert_skus(scope, &skus).await.map_err(db())?;
    Ok(ProductOutcome::Saved { skus })
}
