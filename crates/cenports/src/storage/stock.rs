//! Stock storage (docs/STOCK.md): the merchant's on hand per SKU (one figure shared by all the
//! stores of the user who owns them), the level each store last reported, the outcome of each
//! store's last push, the per-store safety buffer, and the one aggregate that gives the quantity
//! still owed to the imported orders of all the merchant's stores.
//!
//! A child module of `storage`, so it shares the private `Backend` and the `with_pool!` macro:
//! every body below is written once and checked against both drivers.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::{QueryBuilder, Row};

use super::error::Context;
use super::{
    now, parse_col, persistent, Backend, StockTracking, Storage, StorageError, StoreScope,
    CHILD_CHUNK,
};

/// Rows per `CASE`-style multi-row update (two binds per row).
const LEVEL_CHUNK: usize = 200;

/// The largest stock level a channel accepts (the catalogs' ceiling, a signed 32-bit
/// integer); the tables check it too.
pub const MAX_STOCK_LEVEL: i64 = 2_147_483_647;

/// Fulfilment states whose lines no longer hold stock: what remains unshipped on them is not
/// subtracted from on hand (the goods either left or were never going to).
pub const NON_RESERVING_STATES: [&str; 3] = ["cancelled", "refunded", "shipped"];

/// One SKU of a store's stock, with everything a push needs to decide on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockRow {
    /// The SKU.
    pub sku: String,
    /// The merchant's on hand, as last set (CLI, CSV import, API, dashboard, through any of
    /// their stores) or lowered by a delivered shipment: the same figure for all their stores.
    pub on_hand: i64,
    /// Units on the imported orders of all the merchant's stores that are not cancelled,
    /// refunded or shipped, minus what was already shipped of them (`quantity -
    /// quantity_shipped`, summed over the SKU's lines).
    pub reserved: i64,
    /// When the merchant's on hand was last changed.
    pub updated_at: DateTime<Utc>,
    /// The SKU in the store's catalog index, if the store has it.
    pub catalog: Option<CatalogStock>,
    /// The last push that concerned this SKU, if any.
    pub last_push: Option<LastPush>,
}

/// Where a SKU lives in the store's catalog and what level the store last reported for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogStock {
    /// The channel's product id.
    pub product_remote_id: String,
    /// The channel's variant id, when the SKU is a variant's.
    pub variant_remote_id: Option<String>,
    /// How the store tracks stock for the SKU's product.
    pub stock_tracking: StockTracking,
    /// The level the store last reported (catalog import or read-back after a push); `None`
    /// until one of them saw the SKU.
    pub reported_level: Option<i64>,
    /// When that level was read.
    pub reported_at: Option<DateTime<Utc>>,
}

/// The outcome of the last push for one SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastPush {
    /// The level sent, when one was sent.
    pub level: Option<i64>,
    /// `ok`, `mismatch`, `rejected`, `failed`, `not_in_catalog`, `untracked`, ...
    pub status: String,
    /// Why, in words a merchant can act on.
    pub message: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// What a push learned about one SKU, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRecord {
    /// The SKU (must be in the merchant's stock; others are ignored).
    pub sku: String,
    /// The level sent, if any.
    pub level_sent: Option<i64>,
    /// The outcome (see [`LastPush::status`]).
    pub status: String,
    /// Why.
    pub message: Option<String>,
    /// What the store reported on read-back, to record as its last reported level.
    pub reported_level: Option<i64>,
}

impl<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> for StockRow {
    fn from_row(row: &'r sqlx::sqlite::SqliteRow) -> Result<Self, sqlx::Error> {
        stock_row(
            row.try_get("sku")?,
            row.try_get("on_hand")?,
            row.try_get("reserved")?,
            row.try_get("updated_at")?,
            (
                row.try_get("product_remote_id")?,
                row.try_get("variant_remote_id")?,
                row.try_get("stock_tracking")?,
                row.try_get("inventory_level")?,
                row.try_get("inventory_reported_at")?,
            ),
            (
                row.try_get("last_push_level")?,
                row.try_get("last_push_status")?,
                row.try_get("last_push_message")?,
                row.try_get("last_push_at")?,
            ),
        )
    }
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for StockRow {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        stock_row(
            row.try_get("sku")?,
            row.try_get("on_hand")?,
            row.try_get("reserved")?,
            row.try_get("updated_at")?,
            (
                row.try_get("product_remote_id")?,
                row.try_get("variant_remote_id")?,
                row.try_get("stock_tracking")?,
                row.try_get("inventory_level")?,
                row.try_get("inventory_reported_at")?,
            ),
            (
                row.try_get("last_push_level")?,
                row.try_get("last_push_status")?,
                row.try_get("last_push_message")?,
                row.try_get("last_push_at")?,
            ),
        )
    }
}

type CatalogColumns = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<DateTime<Utc>>,
);
type PushColumns = (
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
);

fn stock_row(
    sku: String,
    on_hand: i64,
    reserved: i64,
    updated_at: DateTime<Utc>,
    catalog: CatalogColumns,
    push: PushColumns,
) -> Result<StockRow, sqlx::Error> {
    let (product, variant, tracking, level, reported_at) = catalog;
    let catalog = match (product, tracking) {
        (Some(product_remote_id), Some(tracking)) => Some(CatalogStock {
            product_remote_id,
            variant_remote_id: variant,
            stock_tracking: parse_col(tracking)?,
            reported_level: level,
            reported_at,
        }),
        _ => None,
    };
    let (level, status, message, at) = push;
    let last_push = match (status, at) {
        (Some(status), Some(at)) => Some(LastPush {
            level,
            status,
            message,
            at,
        }),
        _ => None,
    };
    Ok(StockRow {
        sku,
        on_hand,
        reserved,
        updated_at,
        catalog,
        last_push,
    })
}

/// The whole stock view of a store in one statement: the merchant's on hand, the reserved
/// quantity from one aggregate over the open order lines of all the merchant's stores, this
/// store's last push and its catalog index entry. `$1` is the store, `$2` its user, `$3` `false`
/// (not archived).
///
/// A store lists the merchant's SKUs that are in its catalog index or that were set through it
/// (a `stock_levels` row): a SKU sold on one channel only is not reported `not_in_catalog` by
/// every other store of the merchant, and one set through a store that lacks it still is.
const STOCK_VIEW: &str = "SELECT h.sku, h.on_hand, h.updated_at, s.last_push_level, \
     s.last_push_status, s.last_push_message, s.last_push_at, \
     COALESCE(r.reserved, 0) AS reserved, k.product_remote_id, k.variant_remote_id, \
     k.stock_tracking, k.inventory_level, k.inventory_reported_at \
     FROM stock_on_hand h \
     LEFT JOIN stock_levels s ON s.store_id = $1 AND s.sku = h.sku \
     LEFT JOIN skus k ON k.store_id = $1 AND k.sku = h.sku \
     LEFT JOIN (SELECT l.sku AS sku, SUM(CASE WHEN l.quantity > l.quantity_shipped \
         THEN l.quantity - l.quantity_shipped ELSE 0 END) AS reserved \
       FROM orders o JOIN order_lines l ON l.order_id = o.id AND l.store_id = o.store_id \
       WHERE o.store_id IN (SELECT id FROM stores WHERE user_id = $2) AND o.is_deleted = $3 \
       AND o.fulfilment_state NOT IN ('cancelled', 'refunded', 'shipped') \
       GROUP BY l.sku) r ON r.sku = h.sku \
     WHERE h.user_id = $2 AND (s.id IS NOT NULL OR k.sku IS NOT NULL) ORDER BY h.sku";

/// What the stock needs of a shipment row's payload: when the parcel left and how many units
/// of each order line it holds. The payload is `channel::fulfilment::ShipmentPayload` as the
/// outbox stores it (JSON); storage sits below the channel seam, so it reads only these fields.
#[derive(Debug, Deserialize)]
struct ShippedParcel {
    shipped_at: DateTime<Utc>,
    items: Vec<ShippedItem>,
}

#[derive(Debug, Deserialize)]
struct ShippedItem {
    /// Text, or the JSON number an older release wrote.
    line_remote_id: serde_json::Value,
    quantity: i64,
}

impl ShippedItem {
    fn line(&self) -> String {
        match &self.line_remote_id {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        }
    }
}

/// Lowers the merchant's on hand by the units of a delivered shipment (docs/STOCK.md, "Shipments and counts"),
/// inside the transaction that closes its outbox row (`Storage::complete_outbox`), so the units
/// stop being reserved and leave on hand in one commit.
///
/// The rule: each SKU of the parcel loses its units only if its last count was taken no later
/// than the parcel left (`counted_at <= shipped_at`); a count taken after the parcel left
/// already does not hold them. Never below 0. SKUs without a stock row, and rows that are not
/// shipments, change nothing.
pub(super) async fn take_shipped_units<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    outbox: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'r> (i64, i64, String): sqlx::FromRow<'r, DB::Row>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    DateTime<Utc>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let row: Option<(i64, i64, String)> = sqlx::query_as::<DB, (i64, i64, String)>(
        "SELECT store_id, order_id, payload FROM outbox WHERE id = $1 AND kind = 'shipment'",
    )
    .bind(outbox)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((store, order, payload)) = row else {
        return Ok(());
    };
    let parcel: ShippedParcel = match serde_json::from_str(&payload) {
        Ok(parcel) => parcel,
        Err(error) => {
            // The worker read it as a shipment before sending it, so this cannot happen unless
            // the payload's shape changes. The store holds the shipment: the delivery is still
            // recorded, and the log says what is left to do.
            tracing::warn!(outbox.id = outbox, error = %error, "outbox: the shipment's lines could not be read; on hand of its SKUs was not lowered: count them again (cenports stock set)");
            return Ok(());
        }
    };
    let shipped_at = parcel.shipped_at.timestamp_millis();
    for item in parcel.items.iter().filter(|item| item.quantity > 0) {
        sqlx::query::<DB>(
            "UPDATE stock_on_hand SET \
             on_hand = CASE WHEN on_hand > $1 THEN on_hand - $1 ELSE 0 END, updated_at = $2 \
             WHERE user_id = (SELECT user_id FROM stores WHERE id = $3) AND counted_at <= $4 \
             AND sku = (SELECT l.sku FROM order_lines l \
                 WHERE l.store_id = $3 AND l.order_id = $5 AND l.remote_id = $6)",
        )
        .bind(item.quantity)
        .bind(now)
        .bind(store)
        .bind(shipped_at)
        .bind(order)
        .bind(item.line())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Storage {
    /// Sets the merchant's on hand (absolute) for each `(sku, on_hand)` in one transaction: all
    /// or nothing. The figure is the user's who owns the store, shared by all their stores; the
    /// store named only lists the SKU from now on, even if its catalog lacks it (so its push
    /// says so). This is a count: every SKU given is dated now (`counted_at`), even when its
    /// figure is unchanged (docs/STOCK.md, "Shipments and counts"). A SKU given twice keeps its
    /// last value. Returns how many figures were inserted or changed (a value equal to the
    /// stored one is not written).
    pub async fn set_stock(
        &self,
        scope: &StoreScope,
        levels: &[(String, i64)],
    ) -> Result<u64, StorageError> {
        const OP: &str = "setting stock";
        let store = scope.store_id;
        let user = scope.user_id.0;
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(levels.len());
        let mut unique: Vec<(&str, i64)> = Vec::with_capacity(levels.len());
        for (sku, level) in levels {
            match index.get(sku.as_str()) {
                Some(&i) => unique[i].1 = *level,
                None => {
                    index.insert(sku, unique.len());
                    unique.push((sku, *level));
                }
            }
        }
        let now = now();
        let counted_at = now.timestamp_millis();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(BEGIN_WRITE).await.op_store(OP, store)?;
            let mut written = 0;
            for chunk in unique.chunks(CHILD_CHUNK) {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO stock_on_hand (user_id, sku, on_hand, updated_at, counted_at) ",
                );
                qb.push_values(chunk, |mut b, (sku, level)| {
                    b.push_bind(user)
                        .push_bind(*sku)
                        .push_bind(*level)
                        .push_bind(now)
                        .push_bind(counted_at);
                });
                qb.push(
                    " ON CONFLICT (user_id, sku) DO UPDATE SET on_hand = excluded.on_hand, \
                     updated_at = excluded.updated_at \
                     WHERE stock_on_hand.on_hand <> excluded.on_hand",
                );
                written += qb
                    .build()
                    .persistent(persistent(chunk.len(), CHILD_CHUNK))
                    .execute(&mut *tx)
                    .await
                    .op_store(OP, store)?
                    .rows_affected();
                // A count equal to the figure held is still a count: every SKU of it is dated,
                // so that shipments whose parcel left before it are not subtracted from it.
                let mut qb = QueryBuilder::<Db>::new("UPDATE stock_on_hand SET counted_at = ");
                qb.push_bind(counted_at);
                qb.push(" WHERE user_id = ").push_bind(user);
                qb.push(" AND sku IN (");
                let mut list = qb.separated(", ");
                for (sku, _) in chunk {
                    list.push_bind(*sku);
                }
                qb.push(")");
                qb.build()
                    .persistent(persistent(chunk.len(), CHILD_CHUNK))
                    .execute(&mut *tx)
                    .await
                    .op_store(OP, store)?;
                // The store named lists the SKU (and keeps its push state) from now on.
                let mut qb = QueryBuilder::<Db>::new("INSERT INTO stock_levels (store_id, sku) ");
                qb.push_values(chunk, |mut b, (sku, _)| {
                    b.push_bind(store.0).push_bind(*sku);
                });
                qb.push(" ON CONFLICT (store_id, sku) DO NOTHING");
                qb.build()
                    .persistent(persistent(chunk.len(), CHILD_CHUNK))
                    .execute(&mut *tx)
                    .await
                    .op_store(OP, store)?;
            }
            tx.commit().await.op_store(OP, store)?;
            Ok::<_, StorageError>(written)
        })
    }

    /// Every SKU of the merchant's stock the store lists (in its catalog index or set through
    /// it), by SKU, with the merchant's on hand, its reserved quantity (one aggregate over the
    /// lines of the open orders of all the merchant's stores), the store's catalog entry and
    /// the store's last push.
    pub async fn stock_rows(&self, scope: &StoreScope) -> Result<Vec<StockRow>, StorageError> {
        let store = scope.store_id;
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, StockRow>(STOCK_VIEW)
                .bind(store.0)
                .bind(scope.user_id.0)
                .bind(false)
                .fetch_all(pool)
                .await
                .op_store("reading stock", store)
        })
    }

    /// The store's safety buffer: units held back from every tracked SKU (0 when never set).
    pub async fn stock_buffer(&self, scope: &StoreScope) -> Result<i64, StorageError> {
        let store = scope.store_id;
        let found: Option<i64> = with_pool!(self, |pool| {
            sqlx::query_scalar::<Db, i64>(
                "SELECT safety_buffer FROM stock_settings WHERE store_id = $1",
            )
            .bind(store.0)
            .fetch_optional(pool)
            .await
            .op_store("reading the stock buffer", store)
        })?;
        Ok(found.unwrap_or(0))
    }

    /// Sets the store's safety buffer (at least 0).
    pub async fn set_stock_buffer(
        &self,
        scope: &StoreScope,
        buffer: i64,
    ) -> Result<(), StorageError> {
        let store = scope.store_id;
        with_pool!(self, |pool| {
            sqlx::query::<Db>(
                "INSERT INTO stock_settings (store_id, safety_buffer, updated_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (store_id) DO UPDATE SET \
                 safety_buffer = excluded.safety_buffer, updated_at = excluded.updated_at",
            )
            .bind(store.0)
            .bind(buffer.max(0))
            .bind(now())
            .execute(pool)
            .await
            .map(|_| ())
            .op_store("setting the stock buffer", store)
        })
    }

    /// Records the levels the store reported for SKUs of its catalog index (catalog import,
    /// read-back). SKUs missing from the index are ignored. One multi-row `UPDATE` per chunk.
    pub async fn record_reported_levels(
        &self,
        scope: &StoreScope,
        levels: &[(String, i64)],
    ) -> Result<(), StorageError> {
        const OP: &str = "recording reported stock levels";
        let store = scope.store_id;
        if levels.is_empty() {
            return Ok(());
        }
        // The last level given for a SKU wins, as if applied in order.
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(levels.len());
        let mut unique: Vec<(&str, i64)> = Vec::with_capacity(levels.len());
        for (sku, level) in levels {
            match index.get(sku.as_str()) {
                Some(&i) => unique[i].1 = *level,
                None => {
                    index.insert(sku, unique.len());
                    unique.push((sku, *level));
                }
            }
        }
        let now = now();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(BEGIN_WRITE).await.op_store(OP, store)?;
            for chunk in unique.chunks(LEVEL_CHUNK) {
                let mut qb = QueryBuilder::<Db>::new("UPDATE skus SET inventory_level = CASE sku");
                for (sku, level) in chunk {
                    qb.push(" WHEN ").push_bind(*sku);
                    qb.push(" THEN ").push_bind(*level);
                }
                qb.push(" END, inventory_reported_at = ").push_bind(now);
                qb.push(" WHERE store_id = ").push_bind(store.0);
                qb.push(" AND sku IN (");
                let mut list = qb.separated(", ");
                for (sku, _) in chunk {
                    list.push_bind(*sku);
                }
                qb.push(")");
                qb.build()
                    .persistent(persistent(chunk.len(), LEVEL_CHUNK))
                    .execute(&mut *tx)
                    .await
                    .op_store(OP, store)?;
            }
            tx.commit().await.op_store(OP, store)?;
            Ok::<_, StorageError>(())
        })
    }

    /// Records what a push did for each SKU (the store's last push columns) and, where the store
    /// was read back, the level it reported. One transaction.
    pub async fn record_push(
        &self,
        scope: &StoreScope,
        records: &[PushRecord],
    ) -> Result<(), StorageError> {
        const OP: &str = "recording a stock push";
        let store = scope.store_id;
        let now = now();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(BEGIN_WRITE).await.op_store(OP, store)?;
            for record in records {
                // The store's row, made if the SKU is listed through its catalog only.
                sqlx::query::<Db>(
                    "INSERT INTO stock_levels (store_id, sku, last_push_level, last_push_status, \
                     last_push_message, last_push_at) SELECT $1, $2, $3, $4, $5, $6 \
                     WHERE EXISTS (SELECT 1 FROM stock_on_hand WHERE user_id = $7 AND sku = $2) \
                     ON CONFLICT (store_id, sku) DO UPDATE SET \
                     last_push_level = excluded.last_push_level, \
                     last_push_status = excluded.last_push_status, \
                     last_push_message = excluded.last_push_message, \
                     last_push_at = excluded.last_push_at",
                )
                .bind(store.0)
                .bind(&record.sku)
                .bind(record.level_sent)
                .bind(&record.status)
                .bind(&record.message)
                .bind(now)
                .bind(scope.user_id.0)
                .execute(&mut *tx)
                .await
                .op_store(OP, store)?;
                if let Some(level) = record.reported_level {
                    sqlx::query::<Db>(
                        "UPDATE skus SET inventory_level = $3, inventory_reported_at = $4 \
                         WHERE store_id = $1 AND sku = $2",
                    )
                    .bind(store.0)
                    .bind(&record.sku)
                    .bind(level)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .op_store(OP, store)?;
                }
            }
            // The warehouse's `stock.pushed` (docs/EVENTS.md): the levels the store was sent.
            if let Some(event) = super::events::stock_pushed(records) {
                super::events::record_events::<Db>(&mut *tx, scope.user_id, store, &[event])
                    .await
                    .op_store(OP, store)?;
            }
            tx.commit().await.op_store(OP, store)?;
            Ok::<_, StorageError>(())
        })
    }
}
