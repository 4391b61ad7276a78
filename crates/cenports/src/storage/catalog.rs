//! The catalog: products and the SKU index (upserts by the channel's ids, SKU lookup, counts).
//! Stock per SKU is in `stock.rs`.

use std::collections::{HashMap, HashSet};

use sqlx::{QueryBuilder, Row};

use super::error::Context;
use super::{dedupe_latest, now, parse_col, persistent, Backend, IdList, Storage, StorageError};
use super::{NewProduct, NewSku, SkuRecord, StoreScope, UpsertOutcome, CHILD_CHUNK, ORDER_CHUNK};

from_row_both!(SkuRecord, |row| {
    Ok(SkuRecord {
        sku: row.try_get("sku")?,
        product_remote_id: row.try_get("product_remote_id")?,
        variant_remote_id: row.try_get("variant_remote_id")?,
        stock_tracking: parse_col(row.try_get("stock_tracking")?)?,
        updated_at: row.try_get("updated_at")?,
    })
});

impl Storage {
    /// Upserts products by `(store, remote_id)`; like orders, a product whose `date_modified` is
    /// not newer than the stored one is not written.
    pub async fn upsert_products(
        &self,
        scope: &StoreScope,
        products: &[NewProduct],
    ) -> Result<UpsertOutcome, StorageError> {
        const OP: &str = "upserting products";
        let store = scope.store_id;
        let page = dedupe_latest(products, |p| p.remote_id.as_str(), |p| p.date_modified);
        let now = now();
        let mut outcome = UpsertOutcome {
            unchanged: (products.len() - page.len()) as u64,
            ..UpsertOutcome::default()
        };
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(BEGIN_WRITE).await.op_store(OP, store)?;
            for chunk in page.chunks(ORDER_CHUNK) {
                let mut qb =
                    QueryBuilder::<Db>::new("SELECT remote_id FROM products WHERE store_id = ");
                qb.push_bind(store.0);
                Db::push_text_list(
                    &mut qb,
                    "remote_id",
                    chunk.iter().map(|p| p.remote_id.clone()).collect(),
                );
                let existing: HashSet<String> = qb
                    .build_query_scalar::<String>()
                    .persistent(persistent(chunk.len(), ORDER_CHUNK))
                    .fetch_all(&mut *tx)
                    .await
                    .op_store(OP, store)?
                    .into_iter()
                    .collect();
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO products (store_id, remote_id, name, sku, stock_tracking, \
                     date_modified, updated_at) ",
                );
                qb.push_values(chunk, |mut b, p| {
                    b.push_bind(store.0)
                        .push_bind(p.remote_id.as_str())
                        .push_bind(p.name.as_str())
                        .push_bind(p.sku.as_str())
                        .push_bind(p.stock_tracking.as_str())
                        .push_bind(p.date_modified)
                        .push_bind(now);
                });
                qb.push(
                    " ON CONFLICT (store_id, remote_id) DO UPDATE SET name = excluded.name, \
                     sku = excluded.sku, stock_tracking = excluded.stock_tracking, \
                     date_modified = excluded.date_modified, updated_at = excluded.updated_at \
                     WHERE products.date_modified < excluded.date_modified RETURNING remote_id",
                );
                let written: Vec<String> = qb
                    .build_query_scalar::<String>()
                    .persistent(persistent(chunk.len(), ORDER_CHUNK))
                    .fetch_all(&mut *tx)
                    .await
                    .op_store(OP, store)?;
                for remote_id in &written {
                    if existing.contains(remote_id) {
                        outcome.updated += 1;
                    } else {
                        outcome.inserted += 1;
                    }
                }
                outcome.unchanged += (chunk.len() - written.len()) as u64;
            }
            tx.commit().await.op_store(OP, store)?;
            Ok::<_, StorageError>(())
        })?;
        Ok(outcome)
    }

    /// Upserts entries of the SKU index by `(store, sku)`; an entry identical to the stored one
    /// is not written. Returns how many entries were inserted or changed.
    pub async fn upsert_skus(
        &self,
        scope: &StoreScope,
        skus: &[NewSku],
    ) -> Result<u64, StorageError> {
        const OP: &str = "upserting SKUs";
        let store = scope.store_id;
        // The last entry for a SKU wins, as if the batch were applied in order.
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(skus.len());
        let mut unique: Vec<&NewSku> = Vec::with_capacity(skus.len());
        for s in skus {
            match seen.get(s.sku.as_str()) {
                Some(&i) => unique[i] = s,
                None => {
                    seen.insert(&s.sku, unique.len());
                    unique.push(s);
                }
            }
        }
        let now = now();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(BEGIN_WRITE).await.op_store(OP, store)?;
            let mut written = 0;
            for chunk in unique.chunks(CHILD_CHUNK) {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO skus (store_id, sku, product_remote_id, variant_remote_id, \
                     stock_tracking, updated_at) ",
                );
                qb.push_values(chunk, |mut b, s| {
                    b.push_bind(store.0)
                        .push_bind(s.sku.as_str())
                        .push_bind(s.product_remote_id.as_str())
                        .push_bind(s.variant_remote_id.as_deref())
                        .push_bind(s.stock_tracking.as_str())
                        .push_bind(now);
                });
                qb.push(
                    " ON CONFLICT (store_id, sku) DO UPDATE SET \
                     product_remote_id = excluded.product_remote_id, \
                     variant_remote_id = excluded.variant_remote_id, \
                     stock_tracking = excluded.stock_tracking, \
                     updated_at = excluded.updated_at \
                     WHERE skus.product_remote_id <> excluded.product_remote_id \
                     OR skus.variant_remote_id IS DISTINCT FROM excluded.variant_remote_id \
                     OR skus.stock_tracking <> excluded.stock_tracking",
                );
                written += qb
                    .build()
                    .persistent(persistent(chunk.len(), CHILD_CHUNK))
                    .execute(&mut *tx)
                    .await
                    .op_store(OP, store)?
                    .rows_affected();
            }
            tx.commit().await.op_store(OP, store)?;
            Ok::<_, StorageError>(written)
        })
    }

    /// Looks a SKU up in the store's index.
    pub async fn find_sku(
        &self,
        scope: &StoreScope,
        sku: &str,
    ) -> Result<Option<SkuRecord>, StorageError> {
        let store = scope.store_id;
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, SkuRecord>(
                "SELECT sku, product_remote_id, variant_remote_id, stock_tracking, updated_at \
                 FROM skus WHERE store_id = $1 AND sku = $2",
            )
            .bind(store.0)
            .bind(sku)
            .fetch_optional(pool)
            .await
            .op_store("finding a SKU", store)
        })
    }

    /// How many products the store's catalog holds.
    pub async fn count_products(&self, scope: &StoreScope) -> Result<i64, StorageError> {
        let store = scope.store_id;
        with_pool!(self, |pool| {
            sqlx::query_scalar::<Db, i64>("SELECT COUNT(*) FROM products WHERE store_id = $1")
                .bind(store.0)
                .fetch_one(pool)
                .await
                .op_store("counting products", store)
        })
    }
}
