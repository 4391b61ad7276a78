//! Reads the HTTP API and `/metrics` need beyond the core contract: order search, the
//! shipments of a store or an order (outbox rows of kind shipment), a store's problems, the
//! per-store figures of `/metrics`, and a readiness ping. Tenant-owned reads take a
//! [`StoreScope`] first and filter by its store, like everything else in storage.

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::error::Context;
use super::outbox::{OutboxCounts, OutboxId, OutboxRow, OUTBOX_COLUMNS};
use super::{Backend, Storage, StorageError, StoreScope};
use super::{OrderFilter, OrderId, OrderPage, OrderSummary, StoreId, ORDER_COLUMNS};

/// Per-store figures for `/metrics`, read in a few aggregate statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFigures {
    /// The store.
    pub store_id: StoreId,
    /// Orders held (deleted ones included).
    pub orders: i64,
    /// Outbox rows per state.
    pub outbox: OutboxCounts,
    /// How far the `orders` stream has come: the hub holds every order changed before this
    /// instant (the end of the last completed window, or while a window is in progress its
    /// start). `None` before the first window.
    pub orders_synced_until: Option<DateTime<Utc>>,
}

impl Storage {
    /// Refreshes the query planner's statistics of the order tables (`ANALYZE`), after a sync
    /// that changed many orders: PostgreSQL's autovacuum gets to a freshly imported table only
    /// later, and until then it plans order lists as if the table were empty (a filtered first
    /// page took ≈ 160 ms instead of 1 ms right after a 100,000-order backfill,
    /// docs/PERFORMANCE.md). SQLite's `ANALYZE` does the same for its planner.
    pub async fn refresh_order_statistics(&self) -> Result<(), StorageError> {
        const OP: &str = "refreshing the planner's statistics";
        match &self.backend {
            Backend::Sqlite(pool) => sqlx::query("ANALYZE orders")
                .execute(pool)
                .await
                .map(|_| ())
                .op(OP),
            Backend::Postgres(pool) => sqlx::query("ANALYZE orders, order_lines, order_addresses")
                .execute(pool)
                .await
                .map(|_| ())
                .op(OP),
        }
    }

    /// Whether the database answers (`SELECT 1`).
    pub async fn ping(&self) -> Result<(), StorageError> {
        with_pool!(self, |pool| {
            sqlx::query_scalar::<Db, i32>("SELECT 1")
                .fetch_one(pool)
                .await
                .map(|_| ())
                .op("checking the database")
        })
    }

    /// [`Storage::list_orders`] with a free-text `search` as well: an order number (the
    /// channel's id) if the text is a number, else a case-insensitive substring of the
    /// customer's email or of the billing or shipping name. Keyset pages by our id (or newest
    /// first). Without a search, every order the filter takes.
    pub async fn search_orders(
        &self,
        scope: &StoreScope,
        filter: &OrderFilter,
        search: Option<&str>,
        limit: u32,
        after: Option<OrderId>,
    ) -> Result<OrderPage, StorageError> {
        let store = scope.store_id;
        let limit = i64::from(limit.clamp(1, 1000));
        // The search as a LIKE pattern, and as an order number when it is one.
        let search = search
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|search| {
                (
                    format!("%{}%", escape_like(&search.to_lowercase())),
                    search.trim_start_matches('#').parse::<i64>().ok(),
                )
            });
        let op = if search.is_some() {
            "searching orders"
        } else {
            "listing orders"
        };
        let mut orders = with_pool!(self, |pool| {
            let mut qb = QueryBuilder::<Db>::new(format!(
                "SELECT {ORDER_COLUMNS} FROM orders WHERE store_id = "
            ));
            qb.push_bind(store.0);
            if let Some(status_id) = filter.status_id {
                qb.push(" AND status_id = ").push_bind(status_id);
            }
            if let Some(state) = filter.fulfilment_state {
                qb.push(" AND fulfilment_state = ")
                    .push_bind(state.as_str());
            }
            if let Some(since) = filter.since {
                qb.push(" AND date_modified >= ").push_bind(since);
            }
            if let Some(from) = filter.created_from {
                qb.push(" AND date_created >= ").push_bind(from);
            }
            if let Some(to) = filter.created_to {
                qb.push(" AND date_created < ").push_bind(to);
            }
            if !filter.include_deleted {
                qb.push(" AND is_deleted = ").push_bind(false);
            }
            if let Some((pattern, number)) = &search {
                qb.push(" AND (LOWER(COALESCE(email, '')) LIKE ")
                    .push_bind(pattern.clone())
                    .push(" ESCAPE '\\'");
                qb.push(
                    " OR EXISTS (SELECT 1 FROM order_addresses a WHERE a.store_id = orders.store_id \
                     AND a.order_id = orders.id AND LOWER(a.first_name || ' ' || a.last_name) LIKE ",
                )
                .push_bind(pattern.clone())
                .push(" ESCAPE '\\')");
                if let Some(number) = number {
                    qb.push(" OR remote_id = ").push_bind(*number);
                }
                qb.push(")");
            }
            push_page_order(&mut qb, store, filter.newest_first, after);
            // One more than asked tells whether there is a next page without a COUNT.
            qb.push(" LIMIT ").push_bind(limit + 1);
            qb.build_query_as::<OrderSummary>()
                .persistent(false)
                .fetch_all(pool)
                .await
                .op_store(op, store)
        })?;
        let next_cursor = if orders.len() as i64 > limit {
            orders.truncate(limit as usize);
            orders.last().map(|o| o.id)
        } else {
            None
        };
        Ok(OrderPage {
            orders,
            next_cursor,
        })
    }

    /// A page of the store's shipment rows by ascending id, after `after`; the id of the last
    /// row is the next cursor when more follow. `limit` is clamped to 1..=1000.
    pub async fn list_shipments(
        &self,
        scope: &StoreScope,
        limit: u32,
        after: Option<OutboxId>,
    ) -> Result<(Vec<OutboxRow>, Option<OutboxId>), StorageError> {
        let store = scope.store_id;
        let limit = i64::from(limit.clamp(1, 1000));
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE store_id = $1 AND kind = 'shipment' \
             AND id > $2 ORDER BY id LIMIT $3"
        );
        let mut rows = with_pool!(self, |pool| {
            sqlx::query_as::<Db, OutboxRow>(&sql)
                .bind(store.0)
                .bind(after.map_or(0, |a| a.0))
                .bind(limit + 1)
                .fetch_all(pool)
                .await
                .op_store("listing shipments", store)
        })?;
        let next = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|r| r.id)
        } else {
            None
        };
        Ok((rows, next))
    }

    /// One shipment row of the store; [`StorageError::NotFound`] for a missing row, another
    /// store's row, or a row that is not a shipment.
    pub async fn get_shipment(
        &self,
        scope: &StoreScope,
        id: OutboxId,
    ) -> Result<OutboxRow, StorageError> {
        let store = scope.store_id;
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE store_id = $1 AND id = $2 \
             AND kind = 'shipment'"
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, OutboxRow>(&sql)
                .bind(store.0)
                .bind(id.0)
                .fetch_optional(pool)
                .await
                .op_store("reading a shipment", store)
        })?
        .ok_or_else(|| StorageError::NotFound {
            what: "shipment",
            id: id.to_string(),
        })
    }

    /// Every outbox row of one order (shipments and status changes, any state), oldest first.
    pub async fn order_outbox(
        &self,
        scope: &StoreScope,
        order: OrderId,
    ) -> Result<Vec<OutboxRow>, StorageError> {
        let store = scope.store_id;
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE store_id = $1 AND order_id = $2 ORDER BY id"
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, OutboxRow>(&sql)
                .bind(store.0)
                .bind(order.0)
                .fetch_all(pool)
                .await
                .op_store("reading an order's outbox rows", store)
        })
    }

    /// The store's outbox rows that need a person: failed ones, and open ones whose last
    /// attempt failed (they will be retried). Newest first, at most `limit`.
    pub async fn outbox_problems(
        &self,
        scope: &StoreScope,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StorageError> {
        let store = scope.store_id;
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE store_id = $1 AND (state = 'failed' \
             OR (state IN ('pending', 'sending') AND last_error IS NOT NULL)) \
             ORDER BY id DESC LIMIT $2"
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, OutboxRow>(&sql)
                .bind(store.0)
                .bind(i64::from(limit.clamp(1, 1000)))
                .fetch_all(pool)
                .await
                .op_store("reading outbox problems", store)
        })
    }

    /// Figures of every store for `/metrics`: orders held, outbox rows per state, and how far
    /// the order sync has come. Three aggregate statements, whatever the number of stores.
    pub async fn store_figures(&self) -> Result<Vec<StoreFigures>, StorageError> {
        const OP: &str = "reading store figures";
        let (stores, orders, outbox, synced) = with_pool!(self, |pool| {
            let stores: Vec<i64> =
                sqlx::query_scalar::<Db, i64>("SELECT id FROM stores ORDER BY id")
                    .fetch_all(pool)
                    .await
                    .op(OP)?;
            let orders: Vec<(i64, i64)> = sqlx::query_as::<Db, (i64, i64)>(
                "SELECT store_id, COUNT(*) FROM orders GROUP BY store_id",
            )
            .fetch_all(pool)
            .await
            .op(OP)?;
            let outbox: Vec<(i64, String, i64)> = sqlx::query_as::<Db, (i64, String, i64)>(
                "SELECT store_id, state, COUNT(*) FROM outbox GROUP BY store_id, state",
            )
            .fetch_all(pool)
            .await
            .op(OP)?;
            let synced: Vec<Window> = sqlx::query_as::<Db, Window>(
                "SELECT store_id, window_start, window_end, completed_at \
                     FROM sync_checkpoints WHERE stream = 'orders'",
            )
            .fetch_all(pool)
            .await
            .op(OP)?;
            Ok::<_, StorageError>((stores, orders, outbox, synced))
        })?;
        let mut figures: Vec<StoreFigures> = stores
            .into_iter()
            .map(|id| StoreFigures {
                store_id: StoreId(id),
                orders: 0,
                outbox: OutboxCounts::default(),
                orders_synced_until: None,
            })
            .collect();
        let find = |figures: &mut Vec<StoreFigures>, id: i64| {
            figures.binary_search_by_key(&id, |f| f.store_id.0).ok()
        };
        for (store, n) in orders {
            if let Some(i) = find(&mut figures, store) {
                figures[i].orders = n;
            }
        }
        for (store, state, n) in outbox {
            if let Some(i) = find(&mut figures, store) {
                let counts = &mut figures[i].outbox;
                match state.as_str() {
                    "pending" => counts.pending = n,
                    "sending" => counts.sending = n,
                    "delivered" => counts.delivered = n,
                    _ => counts.failed += n,
                }
            }
        }
        for (store, window_start, window_end, completed_at) in synced {
            if let Some(i) = find(&mut figures, store) {
                // A window in progress has not brought everything up to its end yet.
                figures[i].orders_synced_until = match completed_at {
                    Some(_) => window_end,
                    None => window_start,
                };
            }
        }
        Ok(figures)
    }
}

type Window = (
    i64,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
/// Order lists are sent as one-off statements (`persistent(false)`): a prepared statement that
/// PostgreSQL has run five times may switch to a generic plan that ignores the values, and a
/// date range covering the whole store was then planned as a narrow one (≈ 115 ms a page
/// instead of ≈ 1 ms, docs/PERFORMANCE.md); unnamed statements are planned for their values.
///
/// The keyset condition after the cursor and the `ORDER BY` of an order list: our id
/// ascending, or newest first by the channel's order number (`remote_id`, unique per store), the
/// cursor's order number read from its row.
fn push_page_order<'a, DB>(
    qb: &mut QueryBuilder<'a, DB>,
    store: StoreId,
    newest_first: bool,
    after: Option<OrderId>,
) where
    DB: sqlx::Database,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    match (newest_first, after) {
        (false, Some(after)) => {
            qb.push(" AND id > ").push_bind(after.0);
        }
        (true, Some(after)) => {
            qb.push(" AND remote_id < (SELECT cursor_order.remote_id FROM orders cursor_order WHERE cursor_order.id = ")
                .push_bind(after.0)
                .push(" AND cursor_order.store_id = ")
                .push_bind(store.0)
                .push(")");
        }
        (_, None) => {}
    }
    qb.push(if newest_first {
        " ORDER BY remote_id DESC"
    } else {
        " ORDER BY id"
    });
}

fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(super::escape_like(r"50%_a\b"), r"50\%\_a\\b");
    }
}
