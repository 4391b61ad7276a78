//! Catalog in for BigCommerce: `GET /v3/catalog/products?include=variants` by modification
//! window, and one product.
//!
//! The v3 products list can only be paged by page number here (the client's `ProductQuery` has
//! no `id:min`), so a product modified during a multi-page walk leaves the window and the
//! products after it move up one place: one of them could slide into a page already read. The
//! window's set can only shrink (its end is in the past), so the walk is repeated until a pass
//! finds no product the earlier passes missed; a single-page window (every incremental run of a
//! quiet catalog) needs one pass. The core commits the window only when the stream ends.
//!
//! Each SKU's stock level as the store reports it comes with its index entry: it is "what the
//! store last reported", which a stock push compares with before writing (`docs/STOCK.md`).

use std::collections::HashSet;

use async_trait::async_trait;
use bigcommerce_client::{InventoryTracking, Product, ProductQuery};
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::TryStreamExt;

use super::mapping::product_records;
use super::{api_error, BigCommerceStore};
use crate::channel::{CatalogIn, CatalogPage, ChannelError};

/// Most passes over one window before the core commits it anyway (each pass that finds a
/// missed product needed a product to change at the exact moment a page was read).
const MAX_PASSES: usize = 4;

/// A page of products in the seam's words.
fn catalog_page(products: &[Product]) -> CatalogPage {
    let mut page = CatalogPage::default();
    for product in products {
        let (record, skus) = product_records(product);
        page.products.push(record);
        page.skus.extend(skus);
        page.levels.extend(reported_levels(product));
    }
    page
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

#[async_trait]
impl CatalogIn for BigCommerceStore {
    fn products(
        &self,
        from: Option<DateTime<Utc>>,
        to: DateTime<Utc>,
        page_size: u32,
    ) -> BoxStream<'_, Result<CatalogPage, ChannelError>> {
        let query = ProductQuery {
            date_modified_min: from,
            date_modified_max: Some(to),
            include_variants: true,
            limit: Some(page_size.clamp(1, bigcommerce_client::MAX_PAGE_SIZE)),
            ..ProductQuery::default()
        };
        let client = self.client.clone();
        Box::pin(async_stream::try_stream! {
            let mut seen: HashSet<u64> = HashSet::new();
            for pass in 1..=MAX_PASSES {
                let pages = client.product_pages(&query);
                futures::pin_mut!(pages);
                let mut pages_read = 0u64;
                let mut new_ids = 0u64;
                while let Some(page) = pages.try_next().await.map_err(api_error)? {
                    pages_read += 1;
                    new_ids += page.iter().filter(|p| seen.insert(p.id)).count() as u64;
                    yield catalog_page(&page);
                }
                if pages_read <= 1 || (pass > 1 && new_ids == 0) {
                    break;
                }
                if pass == MAX_PASSES {
                    tracing::warn!(
                        store.hash = %client.store_hash(),
                        "sync: the catalog kept changing during {MAX_PASSES} passes; the next run re-reads the overlap"
                    );
                }
            }
        })
    }

    async fn fetch_product(&self, product: &str) -> Result<Option<CatalogPage>, ChannelError> {
        let Ok(product_id) = product.trim().parse::<u64>() else {
            return Ok(None);
        };
        match self.client.get_product(product_id, true).await {
            Ok(product) => Ok(Some(catalog_page(std::slice::from_ref(&product)))),
            Err(bigcommerce_client::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(api_error(error)),
        }
    }
}
