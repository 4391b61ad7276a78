//! The diff and the plan: which SKUs to write, how, and which to leave out and why.
//!
//! A SKU is written only when its available quantity differs from the level the store last
//! reported (catalog import or the read-back of an earlier push); a SKU never seen by either
//! is written. How it is written follows where the store keeps the SKU's level (the SKU index's
//! [`StockTracking`]):
//!
//! | tracking | written as |
//! |---|---|
//! | `variant` (a level of its own) | that variant's level |
//! | `derived` (the store derives it, e.g. the sum of a product's variants) | not written |
//! | `product` (one level on its product), the only such SKU of the product holding stock here | the product's level |
//! | `product`, several SKUs of one product holding stock here | none written: one level, several answers |
//! | `untracked` | not written: the store does not track it |
//! | — (not in the store's catalog) | not written |

use std::collections::HashMap;

use crate::channel::{Target, Write, WriteKind};
use crate::storage::{StockRow, StockTracking};

use super::available;

/// Why a SKU is not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// The store's catalog index has no such SKU.
    NotInCatalog,
    /// The store does not track stock for its product.
    Untracked,
    /// The store derives the SKU's level from others (the product-level SKU of a product
    /// tracked per variant).
    TrackedOnVariants,
    /// Several SKUs of one product-tracked product hold stock here.
    SharedProductStock {
        /// The product.
        product_id: String,
        /// The SKUs sharing its one level.
        skus: Vec<String>,
    },
}

impl Skip {
    /// The status recorded for the SKU.
    pub fn status(&self) -> &'static str {
        match self {
            Self::NotInCatalog => "not_in_catalog",
            Self::Untracked => "untracked",
            Self::TrackedOnVariants => "tracked_on_variants",
            Self::SharedProductStock { .. } => "shared_product_stock",
        }
    }

    /// What happened and what to do, for the merchant.
    pub fn message(&self) -> String {
        match self {
            Self::NotInCatalog => "the store's catalog has no such SKU; check the SKU, or run \
                 `cenports sync` if it was added to the store recently"
                .into(),
            Self::Untracked => "the store does not track stock for this product; turn stock \
                 tracking on in the store, sync, and push again"
                .into(),
            Self::TrackedOnVariants => "this is the SKU of a product whose stock is tracked per \
                 variant (the store shows the sum of its variants); set stock on the variants' \
                 SKUs instead"
                .into(),
            Self::SharedProductStock { product_id, skus } => format!(
                "product {product_id} keeps one stock level but the hub holds stock for several \
                 of its SKUs ({}); keep stock on one of them only",
                skus.join(", ")
            ),
        }
    }
}

/// What a push will do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Variant levels to write, by SKU.
    pub variant_writes: Vec<Write>,
    /// Product levels to write, by SKU.
    pub product_writes: Vec<Write>,
    /// SKUs whose available quantity equals what the store last reported.
    pub unchanged: Vec<String>,
    /// SKUs left out, with the reason and the available quantity that was not pushed.
    pub skipped: Vec<(String, Skip, i64)>,
}

impl Plan {
    /// The fewest write requests that can carry this plan with batches of `variant_batch` and
    /// `product_batch`: ⌈variant writes / variant_batch⌉ + ⌈product writes / product_batch⌉.
    pub fn floor(&self, variant_batch: usize, product_batch: usize) -> u64 {
        (self.variant_writes.len().div_ceil(variant_batch.max(1))
            + self.product_writes.len().div_ceil(product_batch.max(1))) as u64
    }

    /// SKUs that would be pushed if the store tracked them (the `untracked` column).
    pub fn untracked(&self) -> usize {
        self.skipped
            .iter()
            .filter(|(_, skip, _)| *skip == Skip::Untracked)
            .count()
    }
}

/// Decides, for each stock row, whether and how its available quantity is written.
pub fn plan_push(rows: &[StockRow], safety_buffer: i64) -> Plan {
    // SKUs per product among product-tracked rows: one product level cannot serve two SKUs.
    let mut per_product: HashMap<&str, Vec<&str>> = HashMap::new();
    for row in rows {
        if let Some(c) = &row.catalog {
            if c.stock_tracking == StockTracking::Product {
                per_product
                    .entry(c.product_remote_id.as_str())
                    .or_default()
                    .push(&row.sku);
            }
        }
    }
    let mut plan = Plan::default();
    for row in rows {
        let level = available(row.on_hand, row.reserved, safety_buffer);
        let Some(catalog) = &row.catalog else {
            plan.skipped
                .push((row.sku.clone(), Skip::NotInCatalog, level));
            continue;
        };
        let target = match (catalog.stock_tracking, &catalog.variant_remote_id) {
            (StockTracking::Untracked, _) => Err(Skip::Untracked),
            (StockTracking::Derived, _) | (StockTracking::Variant, None) => {
                Err(Skip::TrackedOnVariants)
            }
            (StockTracking::Variant, Some(variant_id)) => Ok(Target::Variant {
                product_id: catalog.product_remote_id.clone(),
                variant_id: variant_id.clone(),
            }),
            (StockTracking::Product, _) => {
                let skus = &per_product[catalog.product_remote_id.as_str()];
                if skus.len() > 1 {
                    Err(Skip::SharedProductStock {
                        product_id: catalog.product_remote_id.clone(),
                        skus: skus.iter().map(|s| s.to_string()).collect(),
                    })
                } else {
                    Ok(Target::Product {
                        product_id: catalog.product_remote_id.clone(),
                    })
                }
            }
        };
        match target {
            Err(skip) => plan.skipped.push((row.sku.clone(), skip, level)),
            Ok(_) if catalog.reported_level == Some(level) => plan.unchanged.push(row.sku.clone()),
            Ok(target) => {
                let kind = target.kind();
                let write = Write {
                    sku: row.sku.clone(),
                    target,
                    level,
                    reported: catalog.reported_level,
                };
                match kind {
                    WriteKind::Variant => plan.variant_writes.push(write),
                    WriteKind::Product => plan.product_writes.push(write),
                }
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::storage::CatalogStock;

    fn row(
        sku: &str,
        on_hand: i64,
        reserved: i64,
        catalog: Option<(i64, Option<i64>, StockTracking, Option<i64>)>,
    ) -> StockRow {
        StockRow {
            sku: sku.into(),
            on_hand,
            reserved,
            updated_at: Utc::now(),
            catalog: catalog.map(|(product, variant, tracking, level)| CatalogStock {
                product_remote_id: product.to_string(),
                variant_remote_id: variant.map(|v| v.to_string()),
                stock_tracking: tracking,
                reported_level: level,
                reported_at: None,
            }),
            last_push: None,
        }
    }

    #[test]
    fn only_values_that_differ_from_the_last_report_are_written_each_by_its_tracking_mode() {
        use StockTracking::{Derived, Product, Untracked, Variant};
        let rows = vec![
            row("V-SAME", 10, 2, Some((1, Some(11), Variant, Some(8)))),
            row("V-NEW", 10, 2, Some((1, Some(12), Variant, Some(3)))),
            row("V-NEVER", 4, 0, Some((1, Some(13), Variant, None))),
            row("V-PARENT", 4, 0, Some((1, None, Derived, Some(20)))),
            row("P-ONE", 7, 9, Some((2, Some(21), Product, Some(5)))),
            row("N-ONE", 7, 0, Some((3, Some(31), Untracked, Some(0)))),
            row("GHOST", 7, 0, None),
            row("P-A", 1, 0, Some((4, None, Product, Some(0)))),
            row("P-B", 1, 0, Some((4, Some(41), Product, Some(0)))),
        ];
        let plan = plan_push(&rows, 0);
        assert_eq!(plan.unchanged, vec!["V-SAME"]);
        let variants: Vec<(&str, i64)> = plan
            .variant_writes
            .iter()
            .map(|w| (w.sku.as_str(), w.level))
            .collect();
        assert_eq!(variants, vec![("V-NEW", 8), ("V-NEVER", 4)]);
        // Reserved above on hand: zero, not a negative level.
        assert_eq!(plan.product_writes.len(), 1);
        assert_eq!(plan.product_writes[0].level, 0);
        assert_eq!(
            plan.product_writes[0].target,
            Target::Product {
                product_id: "2".into()
            }
        );
        let skipped: Vec<(&str, &'static str)> = plan
            .skipped
            .iter()
            .map(|(sku, skip, _)| (sku.as_str(), skip.status()))
            .collect();
        assert_eq!(
            skipped,
            vec![
                ("V-PARENT", "tracked_on_variants"),
                ("N-ONE", "untracked"),
                ("GHOST", "not_in_catalog"),
                ("P-A", "shared_product_stock"),
                ("P-B", "shared_product_stock"),
            ]
        );
        assert_eq!(plan.untracked(), 1);
        assert_eq!(plan.floor(50, 10), 2);
    }

    #[test]
    fn the_safety_buffer_is_held_back_from_every_sku() {
        let rows = vec![row(
            "V",
            10,
            1,
            Some((1, Some(11), StockTracking::Variant, Some(9))),
        )];
        assert_eq!(plan_push(&rows, 0).unchanged, vec!["V"]);
        assert_eq!(plan_push(&rows, 3).variant_writes[0].level, 6);
    }

    #[test]
    fn the_floor_rounds_each_kind_up_to_whole_batches() {
        let write = |kind| Write {
            sku: "S".into(),
            target: match kind {
                WriteKind::Variant => Target::Variant {
                    product_id: "1".into(),
                    variant_id: "1".into(),
                },
                WriteKind::Product => Target::Product {
                    product_id: "1".into(),
                },
            },
            level: 1,
            reported: None,
        };
        let plan = Plan {
            variant_writes: vec![write(WriteKind::Variant); 101],
            product_writes: vec![write(WriteKind::Product); 10],
            ..Plan::default()
        };
        assert_eq!(plan.floor(50, 10), 3 + 1);
        assert_eq!(Plan::default().floor(50, 10), 0);
    }
}
