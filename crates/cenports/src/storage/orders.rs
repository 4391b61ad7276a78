//! Orders: the page save of an import ([`Storage::save_page`]: orders upserted with their lines
//! and addresses, and the stream's checkpoint, in one transaction), checkpoints, and the order
//! reads (one order, lists and the free-text search in keyset pages, counts by status and by
//! fulfilment state).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row};

use super::error::Context;
use super::events::{announce_orders, content_fingerprint, WrittenOrder};
use super::money::Money;
use super::{dedupe_latest, now, parse_col, persistent, raw, Backend, IdList, Storage};
use super::{Checkpoint, FulfilmentState, NewOrderAddress, NewOrderLine, NewOrderRecord};
use super::{OrderFilter, OrderId, OrderPage, OrderRecord, OrderSummary, StatusCount, StoreId};
use super::{StorageError, StoreScope, UpsertOutcome, CHILD_CHUNK, ORDER_CHUNK};

const ORDER_COLUMNS: &str = "id, store_id, remote_id, status_code, status_name, fulfilment_state, \
     customer_id, email, currency, subtotal, total, tax, payment_method, payment_status, \
     date_created, date_modified, is_deleted, imported_at, updated_at";

from_row_both!(OrderSummary, |row| {
    Ok(OrderSummary {
        id: OrderId(row.try_get("id")?),
        store_id: StoreId(row.try_get("store_id")?),
        remote_id: row.try_get("remote_id")?,
        status_code: row.try_get("status_code")?,
        status_name: row.try_get("status_name")?,
        fulfilment_state: parse_col(row.try_get("fulfilment_state")?)?,
        customer_id: row.try_get("customer_id")?,
        email: row.try_get("email")?,
        currency: row.try_get("currency")?,
        subtotal: row.try_get::<Money, _>("subtotal")?.0,
        total: row.try_get::<Money, _>("total")?.0,
        tax: row.try_get::<Money, _>("tax")?.0,
        payment_method: row.try_get("payment_method")?,
        payment_status: row.try_get("payment_status")?,
        date_created: row.try_get("date_created")?,
        date_modified: row.try_get("date_modified")?,
        is_deleted: row.try_get("is_deleted")?,
        imported_at: row.try_get("imported_at")?,
        updated_at: row.try_get("updated_at")?,
    })
});

const LINE_COLUMNS: &str = "remote_id, product_id, variant_id, sku, name, quantity, \
     quantity_shipped, price, address_remote_id";

from_row_both!(NewOrderLine, |row| {
    Ok(NewOrderLine {
        remote_id: row.try_get("remote_id")?,
        product_id: row.try_get("product_id")?,
        variant_id: row.try_get("variant_id")?,
        sku: row.try_get("sku")?,
        name: row.try_get("name")?,
        quantity: row.try_get("quantity")?,
        quantity_shipped: row.try_get("quantity_shipped")?,
        price: row.try_get::<Money, _>("price")?.0,
        address_remote_id: row.try_get("address_remote_id")?,
    })
});

const ADDRESS_COLUMNS: &str = "kind, remote_id, first_name, last_name, company, street_1, \
     street_2, city, state, zip, country_iso2, email, phone, shipping_method";

from_row_both!(NewOrderAddress, |row| {
    Ok(NewOrderAddress {
        kind: parse_col(row.try_get("kind")?)?,
        remote_id: row.try_get("remote_id")?,
        first_name: row.try_get("first_name")?,
        last_name: row.try_get("last_name")?,
        company: row.try_get("company")?,
        street_1: row.try_get("street_1")?,
        street_2: row.try_get("street_2")?,
        city: row.try_get("city")?,
        state: row.try_get("state")?,
        zip: row.try_get("zip")?,
        country_iso2: row.try_get("country_iso2")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        shipping_method: row.try_get("shipping_method")?,
    })
});

from_row_both!(Checkpoint, |row| {
    Ok(Checkpoint {
        stream: row.try_get("stream")?,
        window_start: row.try_get("window_start")?,
        window_end: row.try_get("window_end")?,
        cursor: row.try_get("cursor")?,
        completed_at: row.try_get("completed_at")?,
    })
});

/// When a version of an order was read, for [`replaces`]: `None` for a settled read (a walk:
/// the order's `date_modified` is at least the settle delay old, so no other version of that
/// second can follow), or the database's clock when an unsettled read started (a targeted
/// fetch, a reconciliation re-walk, the order read after a delivery).
pub(super) type ReadAt = Option<DateTime<Utc>>;

/// Whether a version `(date_modified, read at)` replaces the stored one (`docs/SYNC.md`,
/// "Versions within one second"): a later `date_modified` always does, an earlier one never;
/// within the same second, a settled stored version is the store's last of that second and
/// stays, and an unsettled one gives way to a settled read or to an unsettled read that started
/// later. The upsert's `WHERE` in [`Storage::save_page`] says the same in SQL.
pub(super) fn replaces(stored: (DateTime<Utc>, ReadAt), incoming: (DateTime<Utc>, ReadAt)) -> bool {
    let ((stored_modified, stored_read), (modified, read)) = (stored, incoming);
    if modified != stored_modified {
        return modified > stored_modified;
    }
    match (stored_read, read) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(stored_read), Some(read)) => read > stored_read,
    }
}

/// How long after the start of its `date_modified` second a read must start (by the
/// database's clock) to be settled: one second for the channel's one-second resolution, one for
/// a difference between the database's clock and the store's.
const SETTLED_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

/// How a read that started at `read_at` counts for a version modified at `modified`: settled
/// (`None`) when it started long enough after that second, else unsettled at `read_at`.
fn read_version(modified: DateTime<Utc>, read_at: DateTime<Utc>) -> ReadAt {
    (read_at < modified + SETTLED_AFTER).then_some(read_at)
}

impl Storage {
    /// Upserts orders by `(store, remote_id)` in one transaction; see [`Storage::save_page`].
    pub async fn upsert_orders(
        &self,
        scope: &StoreScope,
        orders: &[NewOrderRecord],
    ) -> Result<UpsertOutcome, StorageError> {
        self.save_page(scope, orders, None).await
    }

    /// The database's clock: what [`Storage::save_orders_read_at`] wants as the time a read
    /// started. One clock for every host sharing the database (on SQLite, the one host's).
    pub async fn clock(&self) -> Result<DateTime<Utc>, StorageError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(now()),
            Backend::Postgres(pool) => {
                sqlx::query_scalar::<sqlx::Postgres, DateTime<Utc>>("SELECT clock_timestamp()")
                    .fetch_one(pool)
                    .await
                    .op("reading the database's clock")
            }
        }
    }

    /// Writes a page of orders and, optionally, the stream's checkpoint, in ONE transaction: the
    /// cursor moves only with the data, and a failure leaves neither.
    ///
    /// The orders are settled versions, as a walk reads them (each one's `date_modified` at
    /// least the settle delay old). An order is inserted if new, replaced (its lines and
    /// addresses too) if its `date_modified` is newer than the stored one or the same second as
    /// a stored unsettled version ([`Storage::save_orders_read_at`]), and otherwise skipped
    /// without any write. If the page holds the same order twice, the newest version counts.
    /// Safe under concurrent writers: every write is conditional on the stored version, in the
    /// statement itself.
    pub async fn save_page(
        &self,
        scope: &StoreScope,
        orders: &[NewOrderRecord],
        checkpoint: Option<&Checkpoint>,
    ) -> Result<UpsertOutcome, StorageError> {
        self.save_orders(scope, orders, None, checkpoint).await
    }

    /// Saves orders read at `read_at` (the database's clock, [`Storage::clock`], taken before
    /// the request that read them) by a targeted fetch or a reconciliation re-walk. An order
    /// whose `date_modified` second may not have been over when the read started (less than
    /// two seconds before) is stored as unsettled: a later read of the same second replaces it,
    /// and it never replaces a version read after it. An older one is settled, and replaces a
    /// settled version of the same second whose JSON differs (`docs/SYNC.md`, "Versions within
    /// one second").
    pub async fn save_orders_read_at(
        &self,
        scope: &StoreScope,
        orders: &[NewOrderRecord],
        read_at: DateTime<Utc>,
    ) -> Result<UpsertOutcome, StorageError> {
        self.save_orders(scope, orders, Some(read_at), None).await
    }

    async fn save_orders(
        &self,
        scope: &StoreScope,
        orders: &[NewOrderRecord],
        read_at: ReadAt,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<UpsertOutcome, StorageError> {
        const OP: &str = "saving a page of orders";
        let store = scope.store_id;
        let page = dedupe_latest(orders, |o| o.remote_id.as_str(), |o| o.date_modified);
        let now = now();
        let mut outcome = UpsertOutcome {
            unchanged: (orders.len() - page.len()) as u64,
            ..UpsertOutcome::default()
        };
        // PostgreSQL commits a page without waiting for its WAL flush: the page and its
        // checkpoint are one transaction, so a crash loses both together and the walk reads the
        // page again; any later commit that waits (a shipment, a receipt) flushes this one
        // first, so nothing anyone acted on is lost (`docs/STORAGE.md`, "Durability").
        let sqlite = matches!(self.backend, Backend::Sqlite(_));
        let async_commit = match self.backend {
            Backend::Postgres(_) => Some("SET LOCAL synchronous_commit = off"),
            Backend::Sqlite(_) => None,
        };
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(BEGIN_WRITE).await.op_store(OP, store)?;
            if let Some(sql) = async_commit {
                sqlx::query::<Db>(sql)
                    .execute(&mut *tx)
                    .await
                    .op_store(OP, store)?;
            }

            // 1. The stored versions, to skip unchanged orders before sending them at all.
            let mut existing: HashMap<String, (DateTime<Utc>, ReadAt)> =
                HashMap::with_capacity(page.len());
            for chunk in page.chunks(ORDER_CHUNK) {
                let mut qb = QueryBuilder::<Db>::new(
                    "SELECT remote_id, date_modified, unsettled_read_at FROM orders \
                     WHERE store_id = ",
                );
                qb.push_bind(store.0);
                Db::push_text_list(
                    &mut qb,
                    "remote_id",
                    chunk.iter().map(|o| o.remote_id.clone()).collect(),
                );
                let rows: Vec<(String, DateTime<Utc>, ReadAt)> = qb
                    .build_query_as()
                    .persistent(persistent(chunk.len(), ORDER_CHUNK))
                    .fetch_all(&mut *tx)
                    .await
                    .op_store(OP, store)?;
                existing.extend(rows.into_iter().map(|(id, at, read)| (id, (at, read))));
            }
            let to_write: Vec<&NewOrderRecord> = page
                .iter()
                .copied()
                .filter(|o| {
                    let incoming = (
                        o.date_modified,
                        read_at.and_then(|at| read_version(o.date_modified, at)),
                    );
                    existing.get(&o.remote_id).is_none_or(|stored| {
                        replaces(*stored, incoming)
                            // A settled read of a targeted fetch or a reconciliation against a
                            // settled version of the same second: both are the store's last of
                            // that second, so different content means the stored one is wrong
                            // (written before unsettled reads were told apart); the upsert
                            // compares the JSON.
                            || (read_at.is_some() && *stored == incoming)
                    })
                })
                .collect();
            outcome.unchanged += (page.len() - to_write.len()) as u64;
            // Only what is written is compressed: an incremental sync reads mostly unchanged
            // orders.
            let raw: HashMap<&str, Vec<u8>> = to_write
                .iter()
                .map(|o| (o.remote_id.as_str(), raw::encode(&o.raw_json)))
                .collect();
            let by_remote: HashMap<&str, &NewOrderRecord> = to_write
                .iter()
                .map(|o| (o.remote_id.as_str(), *o))
                .collect();

            // 2. The orders' upsert: one multi-row statement per chunk on SQLite, one `UNNEST`
            //    statement per page on PostgreSQL ([`PageRows`]). Its WHERE re-checks the version
            //    inside the statement ([`replaces`]), so a concurrent writer can never make us
            //    overwrite newer data; and an order another writer inserted since step 1 is
            //    updated (or left, if newer) by ON CONFLICT instead of failing on the unique key.
            let rows = Db::upsert_orders(&mut *tx, store, &to_write, &raw, now, read_at)
                .await
                .op_store(OP, store)?;
            let mut written: Vec<(i64, &NewOrderRecord)> = Vec::with_capacity(rows.len());
            // What the events need: which orders this transaction inserted (PostgreSQL's
            // upsert tells; on SQLite, whose one writer holds the database since step 1, the
            // orders step 1 did not find).
            let mut announced: Vec<WrittenOrder<'_>> = Vec::with_capacity(rows.len());
            // Orders that may have lines and addresses stored: all but those the upsert itself
            // inserted (new ids, which nothing references yet).
            let mut replaced: Vec<i64> = Vec::with_capacity(rows.len());
            for (id, remote_id, fresh) in rows {
                let Some(order) = by_remote.get(remote_id.as_str()) else {
                    continue;
                };
                if existing.contains_key(&remote_id) {
                    outcome.updated += 1;
                } else {
                    outcome.inserted += 1;
                }
                if existing.contains_key(&remote_id) || !fresh {
                    replaced.push(id);
                }
                written.push((id, *order));
                announced.push(WrittenOrder {
                    id,
                    inserted: fresh || (sqlite && !existing.contains_key(&remote_id)),
                    order,
                });
            }
            // Rows a concurrent writer had already made newer were skipped by the WHERE.
            outcome.unchanged += (to_write.len() - written.len()) as u64;

            // 3. Lines and addresses of written orders are replaced wholesale: simpler and as
            //    fast as diffing, and the channel's ids are kept so shipments can name them.
            //    Not only those of orders step 1 found: a concurrent writer may have inserted an
            //    order we read as new (PostgreSQL), and its lines must go, not collide with ours
            //    on the unique key; the upsert tells those apart from the orders it inserted,
            //    whose (new) ids nothing references (PostgreSQL tells; SQLite deletes for every
            //    written order, as cheap there). A backfill on PostgreSQL thus deletes nothing:
            //    its deletes were most of the server's time, a table without statistics yet
            //    making `order_id = ANY(250 ids)` look like every row and the planner scan the
            //    whole table (`docs/PERFORMANCE.md`).
            Db::delete_children(&mut *tx, store, &replaced)
                .await
                .op_store(OP, store)?;
            let lines: Vec<(i64, &NewOrderLine)> = written
                .iter()
                .flat_map(|(id, o)| o.lines.iter().map(move |l| (*id, l)))
                .collect();
            Db::insert_lines(&mut *tx, store, &lines)
                .await
                .op_store(OP, store)?;
            let addresses: Vec<(i64, &NewOrderAddress)> = written
                .iter()
                .flat_map(|(id, o)| o.addresses.iter().map(move |a| (*id, a)))
                .collect();
            Db::insert_addresses(&mut *tx, store, &addresses)
                .await
                .op_store(OP, store)?;

            // 4. The events the new versions make for the warehouse (docs/EVENTS.md), in the
            //    same transaction: committed with the orders or not at all.
            announce_orders::<Db>(&mut *tx, scope.user_id, store, &announced)
                .await
                .op_store(OP, store)?;

            // 5. The checkpoint, last, in the same transaction.
            if let Some(cp) = checkpoint {
                sqlx::query::<Db>(CHECKPOINT_UPSERT)
                    .bind(store.0)
                    .bind(&cp.stream)
                    .bind(cp.window_start)
                    .bind(cp.window_end)
                    .bind(cp.cursor.as_deref())
                    .bind(cp.completed_at)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .op_store("saving a sync checkpoint", store)?;
            }
            tx.commit().await.op_store(OP, store)?;
            Ok::<_, StorageError>(())
        })?;
        Ok(outcome)
    }

    /// Saves a checkpoint on its own (e.g. to mark a window completed when its last page was
    /// empty).
    pub async fn save_checkpoint(
        &self,
        scope: &StoreScope,
        checkpoint: &Checkpoint,
    ) -> Result<(), StorageError> {
        self.save_page(scope, &[], Some(checkpoint))
            .await
            .map(|_| ())
    }

    /// The checkpoint of a stream, if any was saved.
    pub async fn get_checkpoint(
        &self,
        scope: &StoreScope,
        stream: &str,
    ) -> Result<Option<Checkpoint>, StorageError> {
        let store = scope.store_id;
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, Checkpoint>(
                "SELECT stream, window_start, window_end, cursor, completed_at \
                 FROM sync_checkpoints WHERE store_id = $1 AND stream = $2",
            )
            .bind(store.0)
            .bind(stream)
            .fetch_optional(pool)
            .await
            .op_store("reading a sync checkpoint", store)
        })
    }

    /// A page of orders by ascending id (or newest first, [`OrderFilter::newest_first`]),
    /// after `after` (exclusive). `limit` is clamped to 1..=1000. [`Storage::search_orders`]
    /// without a search.
    pub async fn list_orders(
        &self,
        scope: &StoreScope,
        filter: &OrderFilter,
        limit: u32,
        after: Option<OrderId>,
    ) -> Result<OrderPage, StorageError> {
        self.search_orders(scope, filter, None, limit, after).await
    }

    /// [`Storage::list_orders`] with a free-text `search` as well: an order number (the
    /// channel's id, a leading `#` ignored), or a case-insensitive substring of the
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
                    search.trim_start_matches('#').trim().to_owned(),
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
            if let Some(status_code) = &filter.status_code {
                qb.push(" AND status_code = ")
                    .push_bind(status_code.clone());
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
                if !number.is_empty() {
                    qb.push(" OR remote_id = ").push_bind(number.clone());
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

    /// One order with its lines, addresses and raw JSON.
    pub async fn get_order(
        &self,
        scope: &StoreScope,
        order: OrderId,
    ) -> Result<OrderRecord, StorageError> {
        self.read_order(scope, OrderKey::Ours(order.0))
            .await?
            .ok_or_else(|| StorageError::NotFound {
                what: "order",
                id: order.to_string(),
            })
    }

    /// One order by the channel's order id, if imported.
    pub async fn find_order_by_remote_id(
        &self,
        scope: &StoreScope,
        remote_id: &str,
    ) -> Result<Option<OrderRecord>, StorageError> {
        self.read_order(scope, OrderKey::Remote(remote_id)).await
    }

    async fn read_order(
        &self,
        scope: &StoreScope,
        key: OrderKey<'_>,
    ) -> Result<Option<OrderRecord>, StorageError> {
        const OP: &str = "reading an order";
        let store = scope.store_id;
        let key_column = match key {
            OrderKey::Ours(_) => "id",
            OrderKey::Remote(_) => "remote_id",
        };
        let [order_sql, lines_sql, addresses_sql] = order_read_sql(key_column, "");
        with_pool!(self, |pool| {
            let mut conn = pool.acquire().await.op_store(OP, store)?;
            let query = sqlx::query::<Db>(&order_sql).bind(store.0);
            let query = match key {
                OrderKey::Ours(id) => query.bind(id),
                OrderKey::Remote(remote_id) => query.bind(remote_id.to_owned()),
            };
            let Some(row) = query.fetch_optional(&mut *conn).await.op_store(OP, store)? else {
                return Ok(None);
            };
            let summary: OrderSummary = sqlx::FromRow::from_row(&row).op_store(OP, store)?;
            let encoding: String = row.try_get("raw_encoding").op_store(OP, store)?;
            let bytes: Vec<u8> = row.try_get("raw").op_store(OP, store)?;
            let raw_json =
                raw::decode(&encoding, bytes).map_err(|source| StorageError::Corrupt {
                    op: OP,
                    store: Some(store),
                    source,
                })?;
            let lines = sqlx::query_as::<Db, NewOrderLine>(&lines_sql)
                .bind(store.0)
                .bind(summary.id.0)
                .fetch_all(&mut *conn)
                .await
                .op_store(OP, store)?;
            let addresses = sqlx::query_as::<Db, NewOrderAddress>(&addresses_sql)
                .bind(store.0)
                .bind(summary.id.0)
                .fetch_all(&mut *conn)
                .await
                .op_store(OP, store)?;
            Ok(Some(OrderRecord {
                summary,
                raw_json,
                lines,
                addresses,
            }))
        })
    }

    /// The lines and addresses of several orders of the store in two queries (a page of an
    /// export, `crate::export`), by order id: `(lines, addresses)` in the order
    /// [`Storage::get_order`] gives them. Orders with neither are absent.
    pub async fn order_parts(
        &self,
        scope: &StoreScope,
        orders: &[OrderId],
    ) -> Result<HashMap<OrderId, (Vec<NewOrderLine>, Vec<NewOrderAddress>)>, StorageError> {
        const OP: &str = "reading the lines of orders";
        let store = scope.store_id;
        let mut parts: HashMap<OrderId, (Vec<NewOrderLine>, Vec<NewOrderAddress>)> = HashMap::new();
        if orders.is_empty() {
            return Ok(parts);
        }
        with_pool!(self, |pool| {
            for (table, columns, order_by) in [
                (
                    "order_lines",
                    LINE_COLUMNS,
                    "order_id, length(remote_id), remote_id",
                ),
                (
                    "order_addresses",
                    ADDRESS_COLUMNS,
                    "order_id, kind, length(remote_id), remote_id, id",
                ),
            ] {
                let mut qb = QueryBuilder::<Db>::new(format!(
                    "SELECT order_id, {columns} FROM {table} WHERE store_id = "
                ));
                qb.push_bind(store.0).push(" AND order_id IN (");
                let mut ids = qb.separated(", ");
                for id in orders {
                    ids.push_bind(id.0);
                }
                qb.push(format!(") ORDER BY {order_by}"));
                let rows = qb.build().fetch_all(pool).await.op_store(OP, store)?;
                for row in rows {
                    let id = OrderId(row.try_get("order_id").op_store(OP, store)?);
                    let entry = parts.entry(id).or_default();
                    if table == "order_lines" {
                        entry
                            .0
                            .push(sqlx::FromRow::from_row(&row).op_store(OP, store)?);
                    } else {
                        entry
                            .1
                            .push(sqlx::FromRow::from_row(&row).op_store(OP, store)?);
                    }
                }
            }
            Ok(parts)
        })
    }

    /// How many orders the store holds (deleted ones included).
    pub async fn count_orders(&self, scope: &StoreScope) -> Result<i64, StorageError> {
        let store = scope.store_id;
        with_pool!(self, |pool| {
            sqlx::query_scalar::<Db, i64>("SELECT COUNT(*) FROM orders WHERE store_id = $1")
                .bind(store.0)
                .fetch_one(pool)
                .await
                .op_store("counting orders", store)
        })
    }

    /// Orders per channel status, by status id: what reconciliation compares with the channel's
    /// own counts per status.
    pub async fn count_orders_by_status(
        &self,
        scope: &StoreScope,
    ) -> Result<Vec<StatusCount>, StorageError> {
        let store = scope.store_id;
        let rows: Vec<(String, String, i64)> = with_pool!(self, |pool| {
            sqlx::query_as::<Db, (String, String, i64)>(
                "SELECT status_code, MAX(status_name), COUNT(*) FROM orders WHERE store_id = $1 \
                 GROUP BY status_code ORDER BY length(status_code), status_code",
            )
            .bind(store.0)
            .fetch_all(pool)
            .await
            .op_store("counting orders by status", store)
        })?;
        Ok(rows
            .into_iter()
            .map(|(status_code, status_name, count)| StatusCount {
                status_code,
                status_name,
                count,
            })
            .collect())
    }

    /// Orders per fulfilment state (states with no order are left out).
    pub async fn count_orders_by_fulfilment_state(
        &self,
        scope: &StoreScope,
    ) -> Result<Vec<(FulfilmentState, i64)>, StorageError> {
        let store = scope.store_id;
        let rows: Vec<(String, i64)> = with_pool!(self, |pool| {
            sqlx::query_as::<Db, (String, i64)>(
                "SELECT fulfilment_state, COUNT(*) FROM orders WHERE store_id = $1 \
                 GROUP BY fulfilment_state ORDER BY fulfilment_state",
            )
            .bind(store.0)
            .fetch_all(pool)
            .await
            .op_store("counting orders by fulfilment state", store)
        })?;
        rows.into_iter()
            .map(|(state, count)| {
                state
                    .parse::<FulfilmentState>()
                    .map(|s| (s, count))
                    .map_err(|source| StorageError::Corrupt {
                        op: "counting orders by fulfilment state",
                        store: Some(store),
                        source,
                    })
            })
            .collect()
    }
}

const CHECKPOINT_UPSERT: &str = "INSERT INTO sync_checkpoints (store_id, stream, window_start, \
     window_end, cursor, completed_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (store_id, stream) DO UPDATE SET window_start = excluded.window_start, \
     window_end = excluded.window_end, cursor = excluded.cursor, \
     completed_at = excluded.completed_at, updated_at = excluded.updated_at";

/// Order lists are sent as one-off statements (`persistent(false)`): a prepared statement that
/// PostgreSQL has run five times may switch to a generic plan that ignores the values, and a
/// date range covering the whole store was then planned as a narrow one (≈ 115 ms a page
/// instead of ≈ 1 ms, docs/PERFORMANCE.md); unnamed statements are planned for their values.
///
/// The keyset condition after the cursor and the `ORDER BY` of an order list: our id
/// ascending, or newest first by creation time at the channel, then our id (unique), both
/// descending, the cursor's creation time read from its row. (A channel's order number is not a
/// number on every channel, so it cannot order the list.)
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
            let cursor_created = |qb: &mut QueryBuilder<'a, DB>| {
                qb.push(
                    "(SELECT cursor_order.date_created FROM orders cursor_order \
                     WHERE cursor_order.id = ",
                )
                .push_bind(after.0)
                .push(" AND cursor_order.store_id = ")
                .push_bind(store.0)
                .push(")");
            };
            qb.push(" AND date_created <= ");
            cursor_created(qb);
            qb.push(" AND (date_created < ");
            cursor_created(qb);
            qb.push(" OR id < ").push_bind(after.0).push(")");
        }
        (_, None) => {}
    }
    qb.push(if newest_first {
        " ORDER BY date_created DESC, id DESC"
    } else {
        " ORDER BY id"
    });
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
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

/// The three reads of one order (`$1` the store, `$2` the key in `key_column` for the order,
/// our order id for its lines and addresses), with `lock` after the order's (PostgreSQL's
/// `FOR UPDATE` in the enqueue transaction, outbox.rs). Shared so that both read an order the
/// same way.
pub(super) fn order_read_sql(key_column: &str, lock: &str) -> [String; 3] {
    [
        format!(
            "SELECT {ORDER_COLUMNS}, raw, raw_encoding FROM orders \
             WHERE store_id = $1 AND {key_column} = $2{lock}"
        ),
        // The channel's ids in their natural order: numeric ids by value (`9` before `10`).
        format!(
            "SELECT {LINE_COLUMNS} FROM order_lines WHERE store_id = $1 AND order_id = $2 \
             ORDER BY length(remote_id), remote_id"
        ),
        format!(
            "SELECT {ADDRESS_COLUMNS} FROM order_addresses WHERE store_id = $1 AND order_id = $2 \
             ORDER BY kind, length(remote_id), remote_id, id"
        ),
    ]
}

/// How [`Storage::read_order`] finds its order.
#[derive(Clone, Copy)]
enum OrderKey<'a> {
    /// Our id.
    Ours(i64),
    /// The channel's order id.
    Remote(&'a str),
}

/// The columns an order upsert writes, in the order both backends' statements bind them.
const ORDER_INSERT: &str = "INSERT INTO orders (store_id, remote_id, status_code, status_name, \
     fulfilment_state, customer_id, email, currency, subtotal, total, tax, payment_method, \
     payment_status, date_created, date_modified, is_deleted, raw, raw_encoding, imported_at, \
     updated_at, unsettled_read_at, announced_state, announced_hash) ";

/// The conflict rule of an order upsert: the stored row is replaced only by a version that
/// [`replaces`] it (or, for two settled versions of the same second, by different JSON).
const ORDER_ON_CONFLICT: &str = " ON CONFLICT (store_id, remote_id) DO UPDATE SET \
     status_code = excluded.status_code, status_name = excluded.status_name, \
     fulfilment_state = excluded.fulfilment_state, \
     customer_id = excluded.customer_id, email = excluded.email, \
     currency = excluded.currency, subtotal = excluded.subtotal, \
     total = excluded.total, tax = excluded.tax, \
     payment_method = excluded.payment_method, \
     payment_status = excluded.payment_status, \
     date_created = excluded.date_created, \
     date_modified = excluded.date_modified, is_deleted = excluded.is_deleted, \
     raw = excluded.raw, raw_encoding = excluded.raw_encoding, \
     updated_at = excluded.updated_at, \
     unsettled_read_at = excluded.unsettled_read_at \
     WHERE orders.date_modified < excluded.date_modified \
     OR (orders.date_modified = excluded.date_modified \
         AND orders.unsettled_read_at IS NOT NULL \
         AND (excluded.unsettled_read_at IS NULL \
              OR orders.unsettled_read_at < excluded.unsettled_read_at)) \
     OR (orders.date_modified = excluded.date_modified \
         AND orders.unsettled_read_at IS NULL \
         AND excluded.unsettled_read_at IS NULL \
         AND NOT (orders.raw_encoding = excluded.raw_encoding \
                  AND orders.raw = excluded.raw))";

const LINE_INSERT: &str = "INSERT INTO order_lines (order_id, store_id, remote_id, product_id, \
     variant_id, sku, name, quantity, quantity_shipped, price, address_remote_id) ";

const ADDRESS_INSERT: &str = "INSERT INTO order_addresses (order_id, store_id, kind, remote_id, \
     first_name, last_name, company, street_1, street_2, city, state, zip, country_iso2, email, \
     phone, shipping_method) ";

/// How each backend writes the rows of a page (steps 2 and 3 of [`Storage::save_page`]), inside
/// the page's transaction. The SQL around them (what is written, the conflict rule, the
/// deletes) is the same on both; only the shape of the statements differs:
///
/// - SQLite: multi-row `VALUES` lists in fixed-size chunks ([`ORDER_CHUNK`], [`CHILD_CHUNK`]).
///   SQLite runs in the hub's process, so a statement costs no round trip, and binding many
///   values is what it is best at.
/// - PostgreSQL: ONE statement per table per page, `INSERT … SELECT … FROM UNNEST($n::type[],
///   …)`, every column bound as one typed array. The statement text never changes with the
///   page's size, so each is parsed and prepared once per connection and cached; the server
///   decodes a few arrays instead of parsing, binding and planning a `VALUES` list of ≈ 5,000
///   parameters per 250 orders (and ≈ 8,000 per 500 lines), and a page costs one round trip
///   per table. `COPY` into a temporary table and an upsert from it would move the bytes as
///   cheaply but costs a temporary table per transaction and two statements per table, for
///   the same conflict rule.
trait PageRows: sqlx::Database {
    /// Upserts `orders` (the conflict rule [`ORDER_ON_CONFLICT`]); the `(id, remote_id,
    /// fresh)` of each row written, `fresh` when the statement itself inserted the row, so
    /// that it can have no lines or addresses yet. Only PostgreSQL tells (SQLite says `false`,
    /// and the page's one writer knows from step 1 which orders are new).
    async fn upsert_orders(
        conn: &mut Self::Connection,
        store: StoreId,
        orders: &[&NewOrderRecord],
        raw: &HashMap<&str, Vec<u8>>,
        now: DateTime<Utc>,
        read_at: ReadAt,
    ) -> Result<Vec<(i64, String, bool)>, sqlx::Error>;

    /// Deletes the lines and addresses of these orders.
    async fn delete_children(
        conn: &mut Self::Connection,
        store: StoreId,
        order_ids: &[i64],
    ) -> Result<(), sqlx::Error>;

    /// Inserts lines, each with its order's id.
    async fn insert_lines(
        conn: &mut Self::Connection,
        store: StoreId,
        lines: &[(i64, &NewOrderLine)],
    ) -> Result<(), sqlx::Error>;

    /// Inserts addresses, each with its order's id.
    async fn insert_addresses(
        conn: &mut Self::Connection,
        store: StoreId,
        addresses: &[(i64, &NewOrderAddress)],
    ) -> Result<(), sqlx::Error>;
}

impl PageRows for sqlx::Sqlite {
    async fn upsert_orders(
        conn: &mut Self::Connection,
        store: StoreId,
        orders: &[&NewOrderRecord],
        raw: &HashMap<&str, Vec<u8>>,
        now: DateTime<Utc>,
        read_at: ReadAt,
    ) -> Result<Vec<(i64, String, bool)>, sqlx::Error> {
        let mut written = Vec::with_capacity(orders.len());
        for chunk in orders.chunks(ORDER_CHUNK) {
            let mut qb = QueryBuilder::<Self>::new(ORDER_INSERT);
            qb.push_values(chunk, |mut b, o| {
                b.push_bind(store.0)
                    .push_bind(o.remote_id.as_str())
                    .push_bind(o.status_code.as_str())
                    .push_bind(o.status_name.as_str())
                    .push_bind(o.fulfilment_state.as_str())
                    .push_bind(o.customer_id.as_deref())
                    .push_bind(o.email.as_deref())
                    .push_bind(o.currency.as_str())
                    .push_bind(Money(o.subtotal))
                    .push_bind(Money(o.total))
                    .push_bind(Money(o.tax))
                    .push_bind(o.payment_method.as_deref())
                    .push_bind(o.payment_status.as_deref())
                    .push_bind(o.date_created)
                    .push_bind(o.date_modified)
                    .push_bind(o.is_deleted)
                    .push_bind(raw[o.remote_id.as_str()].as_slice())
                    .push_bind(raw::ENCODING_LZ4)
                    .push_bind(now)
                    .push_bind(now)
                    .push_bind(read_at.and_then(|at| read_version(o.date_modified, at)))
                    // A new order is announced as it is (`events::announce_orders`); the
                    // conflict rule never changes these two.
                    .push_bind(o.fulfilment_state.as_str())
                    .push_bind(content_fingerprint(&o.lines, &o.addresses));
            });
            qb.push(ORDER_ON_CONFLICT);
            qb.push(" RETURNING id, remote_id");
            let rows: Vec<(i64, String)> = qb
                .build_query_as()
                .persistent(persistent(chunk.len(), ORDER_CHUNK))
                .fetch_all(&mut *conn)
                .await?;
            written.extend(
                rows.into_iter()
                    .map(|(id, remote_id)| (id, remote_id, false)),
            );
        }
        Ok(written)
    }

    async fn delete_children(
        conn: &mut Self::Connection,
        store: StoreId,
        order_ids: &[i64],
    ) -> Result<(), sqlx::Error> {
        for chunk in order_ids.chunks(CHILD_CHUNK) {
            for table in ["order_lines", "order_addresses"] {
                let mut qb =
                    QueryBuilder::<Self>::new(format!("DELETE FROM {table} WHERE store_id = "));
                qb.push_bind(store.0);
                Self::push_id_list(&mut qb, "order_id", chunk.to_vec());
                qb.build()
                    .persistent(persistent(chunk.len(), CHILD_CHUNK))
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Ok(())
    }

    async fn insert_lines(
        conn: &mut Self::Connection,
        store: StoreId,
        lines: &[(i64, &NewOrderLine)],
    ) -> Result<(), sqlx::Error> {
        for chunk in lines.chunks(CHILD_CHUNK) {
            let mut qb = QueryBuilder::<Self>::new(LINE_INSERT);
            qb.push_values(chunk, |mut b, (order_id, l)| {
                b.push_bind(*order_id)
                    .push_bind(store.0)
                    .push_bind(l.remote_id.as_str())
                    .push_bind(l.product_id.as_deref())
                    .push_bind(l.variant_id.as_deref())
                    .push_bind(l.sku.as_str())
                    .push_bind(l.name.as_str())
                    .push_bind(l.quantity)
                    .push_bind(l.quantity_shipped)
                    .push_bind(Money(l.price))
                    .push_bind(l.address_remote_id.as_deref());
            });
            qb.build()
                .persistent(persistent(chunk.len(), CHILD_CHUNK))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    async fn insert_addresses(
        conn: &mut Self::Connection,
        store: StoreId,
        addresses: &[(i64, &NewOrderAddress)],
    ) -> Result<(), sqlx::Error> {
        for chunk in addresses.chunks(CHILD_CHUNK) {
            let mut qb = QueryBuilder::<Self>::new(ADDRESS_INSERT);
            qb.push_values(chunk, |mut b, (order_id, a)| {
                b.push_bind(*order_id)
                    .push_bind(store.0)
                    .push_bind(a.kind.as_str())
                    .push_bind(a.remote_id.as_deref())
                    .push_bind(a.first_name.as_str())
                    .push_bind(a.last_name.as_str())
                    .push_bind(a.company.as_str())
                    .push_bind(a.street_1.as_str())
                    .push_bind(a.street_2.as_str())
                    .push_bind(a.city.as_str())
                    .push_bind(a.state.as_str())
                    .push_bind(a.zip.as_str())
                    .push_bind(a.country_iso2.as_str())
                    .push_bind(a.email.as_str())
                    .push_bind(a.phone.as_str())
                    .push_bind(a.shipping_method.as_deref());
            });
            qb.build()
                .persistent(persistent(chunk.len(), CHILD_CHUNK))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

/// The PostgreSQL order upsert: the page's columns as arrays, one element per order.
const PG_ORDER_UPSERT: &str = "SELECT $1::bigint, o.remote_id, o.status_code, o.status_name, \
     o.fulfilment_state, o.customer_id, o.email, o.currency, o.subtotal, o.total, o.tax, \
     o.payment_method, o.payment_status, o.date_created, o.date_modified, o.is_deleted, o.raw, \
     $2::text, $3::timestamptz, $3::timestamptz, o.unsettled_read_at, o.fulfilment_state, \
     o.announced_hash \
     FROM UNNEST($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], \
                 $10::text[], $11::numeric[], $12::numeric[], $13::numeric[], $14::text[], \
                 $15::text[], $16::timestamptz[], $17::timestamptz[], $18::boolean[], \
                 $19::bytea[], $20::timestamptz[], $21::bigint[]) \
     AS o(remote_id, status_code, status_name, fulfilment_state, customer_id, email, currency, \
          subtotal, total, tax, payment_method, payment_status, date_created, date_modified, \
          is_deleted, raw, unsettled_read_at, announced_hash)";

const PG_LINE_ROWS: &str = "SELECT l.order_id, $1::bigint, l.remote_id, l.product_id, \
     l.variant_id, l.sku, l.name, l.quantity, l.quantity_shipped, l.price, l.address_remote_id \
     FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
                 $8::integer[], $9::integer[], $10::numeric[], $11::text[]) \
     AS l(order_id, remote_id, product_id, variant_id, sku, name, quantity, quantity_shipped, \
          price, address_remote_id)";

const PG_ADDRESS_ROWS: &str = "SELECT a.order_id, $1::bigint, a.kind, a.remote_id, \
     a.first_name, a.last_name, a.company, a.street_1, a.street_2, a.city, a.state, a.zip, \
     a.country_iso2, a.email, a.phone, a.shipping_method \
     FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
                 $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], \
                 $14::text[], $15::text[], $16::text[]) \
     AS a(order_id, kind, remote_id, first_name, last_name, company, street_1, street_2, city, \
          state, zip, country_iso2, email, phone, shipping_method)";

impl PageRows for sqlx::Postgres {
    async fn upsert_orders(
        conn: &mut Self::Connection,
        store: StoreId,
        orders: &[&NewOrderRecord],
        raw: &HashMap<&str, Vec<u8>>,
        now: DateTime<Utc>,
        read_at: ReadAt,
    ) -> Result<Vec<(i64, String, bool)>, sqlx::Error> {
        if orders.is_empty() {
            return Ok(Vec::new());
        }
        let column = |f: fn(&NewOrderRecord) -> &str| orders.iter().map(|o| f(o)).collect();
        let optional =
            |f: fn(&NewOrderRecord) -> Option<&str>| orders.iter().map(|o| f(o)).collect();
        let remote_id: Vec<&str> = column(|o| &o.remote_id);
        let status_code: Vec<&str> = column(|o| &o.status_code);
        let status_name: Vec<&str> = column(|o| &o.status_name);
        let fulfilment_state: Vec<&str> = column(|o| o.fulfilment_state.as_str());
        let customer_id: Vec<Option<&str>> = optional(|o| o.customer_id.as_deref());
        let email: Vec<Option<&str>> = optional(|o| o.email.as_deref());
        let currency: Vec<&str> = column(|o| &o.currency);
        let payment_method: Vec<Option<&str>> = optional(|o| o.payment_method.as_deref());
        let payment_status: Vec<Option<&str>> = optional(|o| o.payment_status.as_deref());
        // `xmax` is 0 in a row version this statement inserted; a row ON CONFLICT updated
        // carries the statement's row lock there. The row then existed before (possibly
        // inserted by a concurrent writer after step 1 read the page) and may have children.
        sqlx::query_as(&format!(
            "{ORDER_INSERT}{PG_ORDER_UPSERT}{ORDER_ON_CONFLICT} \
             RETURNING id, remote_id, xmax = '0'::xid"
        ))
        .bind(store.0)
        .bind(raw::ENCODING_LZ4)
        .bind(now)
        .bind(remote_id)
        .bind(status_code)
        .bind(status_name)
        .bind(fulfilment_state)
        .bind(customer_id)
        .bind(email)
        .bind(currency)
        .bind(orders.iter().map(|o| o.subtotal).collect::<Vec<_>>())
        .bind(orders.iter().map(|o| o.total).collect::<Vec<_>>())
        .bind(orders.iter().map(|o| o.tax).collect::<Vec<_>>())
        .bind(payment_method)
        .bind(payment_status)
        .bind(orders.iter().map(|o| o.date_created).collect::<Vec<_>>())
        .bind(orders.iter().map(|o| o.date_modified).collect::<Vec<_>>())
        .bind(orders.iter().map(|o| o.is_deleted).collect::<Vec<_>>())
        .bind(
            orders
                .iter()
                .map(|o| raw[o.remote_id.as_str()].as_slice())
                .collect::<Vec<_>>(),
        )
        .bind(
            orders
                .iter()
                .map(|o| read_at.and_then(|at| read_version(o.date_modified, at)))
                .collect::<Vec<_>>(),
        )
        .bind(
            orders
                .iter()
                .map(|o| content_fingerprint(&o.lines, &o.addresses))
                .collect::<Vec<_>>(),
        )
        .fetch_all(&mut *conn)
        .await
    }

    async fn delete_children(
        conn: &mut Self::Connection,
        store: StoreId,
        order_ids: &[i64],
    ) -> Result<(), sqlx::Error> {
        if order_ids.is_empty() {
            return Ok(());
        }
        // Planned for each page's ids (`persistent(false)`), as before `UNNEST`: a cached
        // statement gets a generic plan after five runs, chosen while the tables may be nearly
        // empty (a sequential scan) and kept however large they grow.
        for statement in [
            "DELETE FROM order_lines WHERE store_id = $1 AND order_id = ANY($2)",
            "DELETE FROM order_addresses WHERE store_id = $1 AND order_id = ANY($2)",
        ] {
            sqlx::query(statement)
                .bind(store.0)
                .bind(order_ids)
                .persistent(false)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    async fn insert_lines(
        conn: &mut Self::Connection,
        store: StoreId,
        lines: &[(i64, &NewOrderLine)],
    ) -> Result<(), sqlx::Error> {
        if lines.is_empty() {
            return Ok(());
        }
        let text = |f: fn(&NewOrderLine) -> &str| -> Vec<&str> {
            lines.iter().map(|(_, l)| f(l)).collect()
        };
        let optional = |f: fn(&NewOrderLine) -> Option<&str>| -> Vec<Option<&str>> {
            lines.iter().map(|(_, l)| f(l)).collect()
        };
        sqlx::query(&format!("{LINE_INSERT}{PG_LINE_ROWS}"))
            .bind(store.0)
            .bind(lines.iter().map(|(id, _)| *id).collect::<Vec<_>>())
            .bind(text(|l| &l.remote_id))
            .bind(optional(|l| l.product_id.as_deref()))
            .bind(optional(|l| l.variant_id.as_deref()))
            .bind(text(|l| &l.sku))
            .bind(text(|l| &l.name))
            .bind(lines.iter().map(|(_, l)| l.quantity).collect::<Vec<_>>())
            .bind(
                lines
                    .iter()
                    .map(|(_, l)| l.quantity_shipped)
                    .collect::<Vec<_>>(),
            )
            .bind(lines.iter().map(|(_, l)| l.price).collect::<Vec<_>>())
            .bind(optional(|l| l.address_remote_id.as_deref()))
            .execute(&mut *conn)
            .await
            .map(|_| ())
    }

    async fn insert_addresses(
        conn: &mut Self::Connection,
        store: StoreId,
        addresses: &[(i64, &NewOrderAddress)],
    ) -> Result<(), sqlx::Error> {
        if addresses.is_empty() {
            return Ok(());
        }
        let text = |f: fn(&NewOrderAddress) -> &str| -> Vec<&str> {
            addresses.iter().map(|(_, a)| f(a)).collect()
        };
        let optional = |f: fn(&NewOrderAddress) -> Option<&str>| -> Vec<Option<&str>> {
            addresses.iter().map(|(_, a)| f(a)).collect()
        };
        sqlx::query(&format!("{ADDRESS_INSERT}{PG_ADDRESS_ROWS}"))
            .bind(store.0)
            .bind(addresses.iter().map(|(id, _)| *id).collect::<Vec<_>>())
            .bind(text(|a| a.kind.as_str()))
            .bind(optional(|a| a.remote_id.as_deref()))
            .bind(text(|a| &a.first_name))
            .bind(text(|a| &a.last_name))
            .bind(text(|a| &a.company))
            .bind(text(|a| &a.street_1))
            .bind(text(|a| &a.street_2))
            .bind(text(|a| &a.city))
            .bind(text(|a| &a.state))
            .bind(text(|a| &a.zip))
            .bind(text(|a| &a.country_iso2))
            .bind(text(|a| &a.email))
            .bind(text(|a| &a.phone))
            .bind(optional(|a| a.shipping_method.as_deref()))
            .execute(&mut *conn)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(super::escape_like(r"50%_a\b"), r"50\%\_a\\b");
    }
}
