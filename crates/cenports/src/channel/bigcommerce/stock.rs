//! Stock out for BigCommerce: the push's boundary (`docs/STOCK.md`).
//!
//! - Writes: `PUT /v3/catalog/variants` (at most 50 `{id, inventory_level}`) and
//!   `PUT /v3/catalog/products` (at most 10). BigCommerce validates a batch whole and answers
//!   `422` (or `409` for SKU conflicts) naming each bad item by its index (`"3.id": "Variant
//!   123 does not exist."`); those become [`WriteOutcome::Rejected`] with the indices. A `207`
//!   with partial failures is mapped the same way (the failed items are named; the others were
//!   applied and are read back like the rest).
//! - Read-back: `GET /v3/catalog/variants?id:in=...` and `GET /v3/catalog/products?id:in=...`,
//!   250 ids per request (whole variants and products: the client's queries have no
//!   `include_fields`).
//!
//! The merchant's scopes (Products: Modify) cover both; the Inventory API's relative
//! adjustments are not available to it (docs/STOCK.md, the race).

use std::collections::HashMap;

use async_trait::async_trait;
use bigcommerce_client::{
    Error, FieldError, ProductQuery, ProductUpdate, VariantQuery, VariantUpdate, MAX_PAGE_SIZE,
    MAX_PRODUCT_BATCH, MAX_VARIANT_BATCH,
};
use futures::TryStreamExt;

use super::{api_error, BigCommerceStore};
use crate::channel::{ChannelError, StockOut, Write, WriteKind, WriteOutcome};

/// The item indices a v3 batch error names: `"3.id"`, `"0.inventory_level"`; BigCommerce's
/// `batch_errors` entries carry the same keys. Messages of one item are joined.
fn named_items(errors: &[FieldError]) -> Vec<(usize, String)> {
    let mut items: Vec<(usize, String)> = Vec::new();
    for error in errors {
        let Some(index) = error
            .field
            .as_deref()
            .and_then(|f| f.split('.').next())
            .and_then(|i| i.trim().parse::<usize>().ok())
        else {
            continue;
        };
        match items.iter_mut().find(|(i, _)| *i == index) {
            Some((_, message)) => {
                message.push_str("; ");
                message.push_str(&error.message);
            }
            None => items.push((index, error.message.clone())),
        }
    }
    items
}

/// The ids BigCommerce can hold (numbers); any other text cannot name one of its items.
fn ids_u64(ids: &[String]) -> Vec<u64> {
    ids.iter().filter_map(|id| id.trim().parse().ok()).collect()
}

/// A written target's id as BigCommerce takes it.
fn target_id(write: &Write) -> u64 {
    write.target.id().trim().parse().unwrap_or(0)
}

#[async_trait]
impl StockOut for BigCommerceStore {
    fn batch_limit(&self, kind: WriteKind) -> usize {
        match kind {
            WriteKind::Variant => MAX_VARIANT_BATCH,
            WriteKind::Product => MAX_PRODUCT_BATCH,
        }
    }

    fn read_limit(&self) -> usize {
        MAX_PAGE_SIZE as usize
    }

    async fn write(&self, kind: WriteKind, items: &[Write]) -> Result<WriteOutcome, ChannelError> {
        let level = |w: &Write| Some(w.level);
        let result = match kind {
            WriteKind::Variant => {
                let updates: Vec<VariantUpdate> = items
                    .iter()
                    .map(|w| VariantUpdate {
                        id: target_id(w),
                        inventory_level: level(w),
                        ..VariantUpdate::default()
                    })
                    .collect();
                self.client
                    .update_variants(&updates)
                    .await
                    .map(|o| o.failures)
            }
            WriteKind::Product => {
                let updates: Vec<ProductUpdate> = items
                    .iter()
                    .map(|w| ProductUpdate {
                        id: target_id(w),
                        inventory_level: level(w),
                        ..ProductUpdate::default()
                    })
                    .collect();
                self.client
                    .update_products(&updates)
                    .await
                    .map(|o| o.failures)
            }
        };
        match result {
            Ok(failures) if failures.is_empty() => Ok(WriteOutcome::Applied),
            // A 207: what it names failed, the rest was applied. Naming none, nothing is known
            // to have failed: the read-back decides.
            Ok(failures) => {
                let items = named_items(&failures);
                if items.is_empty() {
                    Ok(WriteOutcome::Applied)
                } else {
                    Ok(WriteOutcome::Rejected {
                        items,
                        message: "partial failure (207)".into(),
                    })
                }
            }
            Err(Error::Validation {
                status: 409 | 422,
                title,
                errors,
                ..
            }) => Ok(WriteOutcome::Rejected {
                items: named_items(&errors),
                message: title.unwrap_or_else(|| "invalid data".into()),
            }),
            Err(other) => Err(api_error(other)),
        }
    }

    async fn read(
        &self,
        kind: WriteKind,
        ids: &[String],
    ) -> Result<HashMap<String, i64>, ChannelError> {
        let ids = ids_u64(ids);
        let mut levels = HashMap::with_capacity(ids.len());
        if ids.is_empty() {
            return Ok(levels);
        }
        let limit = Some(MAX_PAGE_SIZE);
        match kind {
            WriteKind::Variant => {
                let query = VariantQuery {
                    ids,
                    limit,
                    ..VariantQuery::default()
                };
                let pages = self.client.variant_pages(&query);
                futures::pin_mut!(pages);
                while let Some(page) = pages.try_next().await.map_err(api_error)? {
                    for variant in page {
                        if let Some(level) = variant.inventory_level {
                            levels.insert(variant.id.to_string(), level);
                        }
                    }
                }
            }
            WriteKind::Product => {
                let query = ProductQuery {
                    ids,
                    limit,
                    ..ProductQuery::default()
                };
                let pages = self.client.product_pages(&query);
                futures::pin_mut!(pages);
                while let Some(page) = pages.try_next().await.map_err(api_error)? {
                    for product in page {
                        if let Some(level) = product.inventory_level {
                            levels.insert(product.id.to_string(), level);
                        }
                    }
                }
            }
        }
        Ok(levels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_errors_are_mapped_to_the_items_they_name() {
        let errors = vec![
            FieldError {
                field: Some("3.id".into()),
                message: "Variant 9 does not exist.".into(),
            },
            FieldError {
                field: Some("0.inventory_level".into()),
                message: "inventory_level must be an integer.".into(),
            },
            FieldError {
                field: Some("3.sku".into()),
                message: "also this".into(),
            },
            FieldError {
                field: None,
                message: "no item".into(),
            },
        ];
        assert_eq!(
            named_items(&errors),
            vec![
                (3, "Variant 9 does not exist.; also this".to_string()),
                (0, "inventory_level must be an integer.".to_string()),
            ]
        );
    }
}
