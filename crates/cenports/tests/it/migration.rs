//! A database the last release before the channel-neutral schema (0f86c59) filled, as a
//! merchant would, is brought up to date by today's code (`Storage::open` runs
//! `migrations/*/20261206000100_channel_neutral.sql`) without losing or changing anything
//! beyond the intended conversions, on both backends.
//!
//! Each test loads the release's dump (`fixtures/`, with how it was made in its README) into a
//! fresh database with raw SQL, reads with raw SQL what the old schema holds, opens the storage
//! (which migrates), and compares: every table row by row, then what the new API reads, then
//! what the hub decides from the migrated data (shipments against the pending outbox, the
//! stock push plan) and the ids it hands out next.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::future::Future;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::{Column, Connection, Row as _, TypeInfo, ValueRef};

use cenports::fulfilment::{
    id_order, plan_shipment, FulfilmentError, ItemSpec, OutboxPayload, PayloadItem, StatusTarget,
};
use cenports::stock::{plan_push, Plan, Skip, Target, Write};
use cenports::storage::{
    AddressKind, CatalogStock, Checkpoint, FulfilmentState, LastPush, NewOrderAddress,
    NewOrderLine, NewOrderRecord, NewOutboxEntry, NewProduct, NewSku, OrderFilter, OrderId,
    OutboxId, OutboxKind, OutboxRow, SkuRecord, StatusCount, StockRow, StockTracking, Storage,
    StoreScope, STATUS_PART,
};

use crate::common::{run_with_url, Kind};

/// The release's databases, dumped (`fixtures/README.md`).
const SQLITE_DUMP: &str = include_str!("fixtures/release-0f86c59.sqlite.sql");
const POSTGRES_DUMP: &str = include_str!("fixtures/release-0f86c59.postgres.sql");

/// The migration under test.
const CHANNEL_NEUTRAL: i64 = 20261206000100;

/// One test per check, each on both backends (`name::sqlite`, `name::postgres`).
macro_rules! on_both_backends {
    ($name:ident, $check:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::migrated(crate::common::Kind::Sqlite, $check).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::migrated(crate::common::Kind::Postgres, $check).await
            }
        }
    };
}

on_both_backends!(
    a_database_filled_by_the_last_release_migrates_without_loss,
    super::every_row_survives_with_only_the_intended_conversions
);
on_both_backends!(
    the_migrated_database_reads_back_through_the_new_api_as_the_release_wrote_it,
    super::the_api_reads_what_the_release_wrote
);
on_both_backends!(
    a_shipment_pending_in_the_old_outbox_is_not_shipped_twice_after_the_migration,
    super::pending_outbox_rows_still_hold_back_what_they_ship
);
on_both_backends!(
    the_stock_push_plan_after_the_migration_is_the_one_the_old_data_implies,
    super::the_stock_plan_is_the_one_the_old_data_implies
);
on_both_backends!(
    new_rows_after_the_migration_get_ids_above_every_old_one,
    super::ids_continue_above_the_old_ones
);

/// A merchant with two stores whose figures for one SKU differ: after the migration the
/// merchant holds the most recently counted one, and both stores show it.
mod two_stores_of_one_merchant_keep_the_most_recently_counted_on_hand {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::two_stores_keep_the_latest_count(crate::common::Kind::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::two_stores_keep_the_latest_count(crate::common::Kind::Postgres).await
    }
}

/// A database with pending event deliveries, made by the release before the claim's index
/// (`20261206000900_events_next_in_line`): after the migration the claim takes the first pending
/// delivery of each order, and only those.
mod pending_deliveries_are_lined_up_by_order {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::pending_deliveries_lined_up(crate::common::Kind::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::pending_deliveries_lined_up(crate::common::Kind::Postgres).await
    }
}

// ------------------------------------------------------------------ raw rows, either backend

/// A value as stored, whatever the backend.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Cell {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Decimal(Decimal),
    Time(DateTime<Utc>),
    Bytes(Vec<u8>),
}

impl fmt::Debug for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("NULL"),
            Self::Int(n) => write!(f, "{n}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Text(t) => write!(f, "{t:?}"),
            Self::Decimal(d) => write!(f, "{d}"),
            Self::Time(t) => write!(f, "{}", t.to_rfc3339()),
            // Raw orders are kilobytes: the length and the first bytes tell rows apart.
            Self::Bytes(b) => write!(f, "<{} bytes {:02x?}..>", b.len(), &b[..b.len().min(8)]),
        }
    }
}

/// A row by column name.
type Row = BTreeMap<String, Cell>;

/// Reads a row's cells by what they hold (SQLite keeps timestamps and money as text).
trait Cells {
    fn cell(&self, column: &str) -> &Cell;
    fn int(&self, column: &str) -> i64 {
        self.opt_int(column)
            .unwrap_or_else(|| panic!("{column} is NULL"))
    }
    fn opt_int(&self, column: &str) -> Option<i64> {
        match self.cell(column) {
            Cell::Null => None,
            Cell::Int(n) => Some(*n),
            other => panic!("{column} is {other:?}, not an integer"),
        }
    }
    fn text(&self, column: &str) -> String {
        self.opt_text(column)
            .unwrap_or_else(|| panic!("{column} is NULL"))
    }
    fn opt_text(&self, column: &str) -> Option<String> {
        match self.cell(column) {
            Cell::Null => None,
            Cell::Text(t) => Some(t.clone()),
            other => panic!("{column} is {other:?}, not text"),
        }
    }
    fn time(&self, column: &str) -> DateTime<Utc> {
        self.opt_time(column)
            .unwrap_or_else(|| panic!("{column} is NULL"))
    }
    fn opt_time(&self, column: &str) -> Option<DateTime<Utc>> {
        match self.cell(column) {
            Cell::Null => None,
            Cell::Time(t) => Some(*t),
            Cell::Text(t) => Some(
                DateTime::parse_from_rfc3339(t)
                    .unwrap_or_else(|e| panic!("{column} {t:?}: {e}"))
                    .with_timezone(&Utc),
            ),
            other => panic!("{column} is {other:?}, not a timestamp"),
        }
    }
    fn flag(&self, column: &str) -> bool {
        match self.cell(column) {
            Cell::Bool(b) => *b,
            Cell::Int(n) => *n != 0,
            other => panic!("{column} is {other:?}, not a boolean"),
        }
    }
    fn money(&self, column: &str) -> Decimal {
        match self.cell(column) {
            Cell::Decimal(d) => *d,
            Cell::Text(t) => Decimal::from_str(t).unwrap_or_else(|e| panic!("{column} {t:?}: {e}")),
            other => panic!("{column} is {other:?}, not an amount"),
        }
    }
    fn bytes(&self, column: &str) -> Vec<u8> {
        match self.cell(column) {
            Cell::Bytes(b) => b.clone(),
            other => panic!("{column} is {other:?}, not bytes"),
        }
    }
}

impl Cells for Row {
    fn cell(&self, column: &str) -> &Cell {
        self.get(column)
            .unwrap_or_else(|| panic!("no column {column} in {self:?}"))
    }
}

fn sqlite_row(row: &sqlx::sqlite::SqliteRow) -> Row {
    row.columns()
        .iter()
        .map(|column| {
            let i = column.ordinal();
            let value = row.try_get_raw(i).unwrap();
            // SQLite types values, not columns: this is the value's own type.
            let cell = if value.is_null() {
                Cell::Null
            } else {
                match value.type_info().name() {
                    "INTEGER" => Cell::Int(row.get(i)),
                    "TEXT" => Cell::Text(row.get(i)),
                    "BLOB" => Cell::Bytes(row.get(i)),
                    other => panic!("{} holds a {other}", column.name()),
                }
            };
            (column.name().to_owned(), cell)
        })
        .collect()
}

fn postgres_row(row: &sqlx::postgres::PgRow) -> Row {
    row.columns()
        .iter()
        .map(|column| {
            let i = column.ordinal();
            let value = row.try_get_raw(i).unwrap();
            let cell = if value.is_null() {
                Cell::Null
            } else {
                match value.type_info().name() {
                    "INT2" => Cell::Int(row.get::<i16, _>(i).into()),
                    "INT4" => Cell::Int(row.get::<i32, _>(i).into()),
                    "INT8" => Cell::Int(row.get(i)),
                    "BOOL" => Cell::Bool(row.get(i)),
                    "TEXT" | "VARCHAR" | "NAME" => Cell::Text(row.get(i)),
                    "NUMERIC" => Cell::Decimal(row.get(i)),
                    "TIMESTAMPTZ" => Cell::Time(row.get(i)),
                    "BYTEA" => Cell::Bytes(row.get(i)),
                    other => panic!("{} holds a {other}", column.name()),
                }
            };
            (column.name().to_owned(), cell)
        })
        .collect()
}

/// A raw connection pool on the database under test.
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    async fn open(url: &str) -> Raw {
        match url.strip_prefix("sqlite://") {
            Some(path) => Raw::Sqlite(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(path))
                    .await
                    .expect("open the SQLite file"),
            ),
            None => Raw::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect(url)
                    .await
                    .expect("connect to PostgreSQL"),
            ),
        }
    }

    fn is_sqlite(&self) -> bool {
        matches!(self, Raw::Sqlite(_))
    }

    async fn rows(&self, sql: &str) -> Vec<Row> {
        match self {
            Raw::Sqlite(pool) => sqlx::query(sql)
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .map(sqlite_row)
                .collect(),
            Raw::Postgres(pool) => sqlx::query(sql)
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .map(postgres_row)
                .collect(),
        }
    }

    async fn execute(&self, sql: &str) {
        match self {
            Raw::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
            Raw::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn close(&self) {
        match self {
            Raw::Sqlite(pool) => pool.close().await,
            Raw::Postgres(pool) => pool.close().await,
        }
    }
}

/// Loads the release's dump into the fresh database at `url`, on one connection of its own: the
/// SQLite dump lists tables by name (children before parents), so foreign keys are off while it
/// loads; the PostgreSQL dump empties the connection's `search_path`.
async fn load_dump(url: &str) {
    match url.strip_prefix("sqlite://") {
        Some(path) => {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .foreign_keys(false);
            let mut conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap();
            sqlx::raw_sql(SQLITE_DUMP)
                .execute(&mut conn)
                .await
                .expect("the release's SQLite dump loads");
            conn.close().await.unwrap();
        }
        None => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::raw_sql(POSTGRES_DUMP)
                .execute(&mut conn)
                .await
                .expect("the release's PostgreSQL dump loads");
            conn.close().await.unwrap();
        }
    }
}

/// Everything a database holds: every table's rows, the id counters, the order indexes.
struct Snapshot {
    tables: BTreeMap<String, Vec<Row>>,
    /// The next id is above this, per table (SQLite's `sqlite_sequence`, PostgreSQL's identity
    /// sequences' last value).
    sequences: BTreeMap<String, i64>,
    /// Index name → definition, of the orders table (its own indexes, not the key's).
    order_indexes: BTreeMap<String, String>,
}

impl Snapshot {
    async fn read(raw: &Raw) -> Snapshot {
        let (tables_sql, sequences_sql, indexes_sql) = if raw.is_sqlite() {
            (
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'",
                "SELECT name, seq FROM sqlite_sequence",
                "SELECT name, sql AS def FROM sqlite_master WHERE type = 'index' \
                 AND tbl_name = 'orders' AND sql IS NOT NULL",
            )
        } else {
            (
                "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'",
                "SELECT replace(sequencename, '_id_seq', '') AS name, last_value AS seq \
                 FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL",
                "SELECT indexname AS name, indexdef AS def FROM pg_indexes \
                 WHERE schemaname = 'public' AND tablename = 'orders' \
                 AND indexname NOT IN ('orders_pkey', 'orders_store_id_remote_id_key')",
            )
        };
        let mut tables = BTreeMap::new();
        for table in raw.rows(tables_sql).await {
            let name = table.text("name");
            let rows = raw.rows(&format!("SELECT * FROM {name}")).await;
            tables.insert(name, rows);
        }
        let sequences = raw
            .rows(sequences_sql)
            .await
            .iter()
            .map(|r| (r.text("name"), r.int("seq")))
            .collect();
        let order_indexes = raw
            .rows(indexes_sql)
            .await
            .iter()
            .map(|r| (r.text("name"), r.text("def")))
            .collect();
        Snapshot {
            tables,
            sequences,
            order_indexes,
        }
    }

    fn table(&self, name: &str) -> &[Row] {
        self.tables
            .get(name)
            .unwrap_or_else(|| panic!("no table {name}"))
    }

    /// The rows of `table` whose `column` is `value`.
    fn rows_where<'a>(&'a self, table: &str, column: &str, value: i64) -> Vec<&'a Row> {
        self.table(table)
            .iter()
            .filter(|r| r.cell(column) == &Cell::Int(value))
            .collect()
    }

    /// The largest id `table` holds.
    fn max_id(&self, table: &str) -> i64 {
        self.table(table).iter().map(|r| r.int("id")).max().unwrap()
    }
}

/// A release-0f86c59 database, read as it was, then migrated by `Storage::open`.
struct Migrated {
    /// What the old schema held, read before the migration.
    old: Snapshot,
    /// The storage, opened (and so migrated).
    storage: Storage,
    /// A raw pool on the migrated database.
    raw: Raw,
    /// The store the release connected, and its scope.
    store_id: i64,
    scope: StoreScope,
}

/// Loads the dump into a fresh database of `kind`, reads it, migrates it, and runs `check`.
async fn migrated<F, Fut>(kind: Kind, check: F)
where
    F: FnOnce(Migrated) -> Fut,
    Fut: Future<Output = ()>,
{
    run_with_url(kind, |url| async move {
        load_dump(&url).await;
        let raw = Raw::open(&url).await;
        let old = Snapshot::read(&raw).await;
        // Sanity: this is the release's schema, without the migration under test.
        assert!(old
            .table("_sqlx_migrations")
            .iter()
            .all(|m| m.int("version") < CHANNEL_NEUTRAL));
        assert!(old.table("orders")[0].contains_key("status_id"));
        raw.close().await;

        let storage = Storage::open(&url)
            .await
            .expect("today's code opens (and migrates) the release's database");
        let raw = Raw::open(&url).await;
        let stores = storage.list_all_stores().await.unwrap();
        assert_eq!(stores.len(), 1, "the fixture has one store");
        let store_id = stores[0].id().get();
        let scope = stores[0].scope();
        check(Migrated {
            old,
            storage: storage.clone(),
            raw,
            store_id,
            scope,
        })
        .await;
        storage.close().await;
    })
    .await
}

// ------------------------------------------------------------------ the intended conversions

/// What the migration is meant to make of an old row of `table`: a channel's integer id becomes
/// its decimal text, renamed columns take their new names, tracking modes their new words, a
/// status change's outbox part `status`. Every other column is kept as it was.
fn converted(table: &str, old: &Row) -> Row {
    fn to_text(table: &str, row: &mut Row, from: &str, to: &str) {
        let cell = row
            .remove(from)
            .unwrap_or_else(|| panic!("the old {table} has no column {from}"));
        let text = match cell {
            Cell::Int(n) => Cell::Text(n.to_string()),
            Cell::Null => Cell::Null,
            other => panic!("the old {table}.{from} holds {other:?}, not an integer"),
        };
        row.insert(to.to_owned(), text);
    }
    let mut row = old.clone();
    match table {
        "orders" => {
            to_text(table, &mut row, "remote_id", "remote_id");
            to_text(table, &mut row, "status_id", "status_code");
            to_text(table, &mut row, "customer_id", "customer_id");
        }
        "order_lines" => {
            for column in ["remote_id", "product_id", "variant_id", "address_remote_id"] {
                to_text(table, &mut row, column, column);
            }
        }
        "order_addresses" => to_text(table, &mut row, "remote_id", "remote_id"),
        "sync_checkpoints" => to_text(table, &mut row, "last_id", "cursor"),
        "products" => {
            to_text(table, &mut row, "remote_id", "remote_id");
            let tracking = row.remove("inventory_tracking").unwrap();
            let tracking = match tracking {
                Cell::Text(t) if t == "none" => "untracked".to_owned(),
                Cell::Text(t) => t,
                other => panic!("products.inventory_tracking {other:?}"),
            };
            row.insert("stock_tracking".into(), Cell::Text(tracking));
        }
        "skus" => {
            let tracking = stock_tracking_of(old).as_str().to_owned();
            row.remove("inventory_tracking");
            row.insert("stock_tracking".into(), Cell::Text(tracking));
            to_text(table, &mut row, "product_remote_id", "product_remote_id");
            to_text(table, &mut row, "variant_remote_id", "variant_remote_id");
        }
        "outbox" => {
            to_text(table, &mut row, "order_remote_id", "order_remote_id");
            if old.text("kind") == "order_status" {
                assert_eq!(
                    old.int("part"),
                    0,
                    "the release wrote part 0 for a status change"
                );
                row.insert("part".into(), Cell::Text(STATUS_PART.into()));
            } else {
                to_text(table, &mut row, "part", "part");
            }
            // 20261206000500: a failed row's last outcome may be unknown; its absence dates from
            // its last attempt, so a retry by hand reads it back first.
            let absent = if old.text("state") == "failed" {
                Cell::Int(old.int("next_attempt_at"))
            } else {
                Cell::Null
            };
            row.insert("absent_since".into(), absent);
        }
        "stock_levels" => {
            // 20261206000800_merchant_stock: on hand, its count time (20261206000300) and its
            // last change moved to the merchant's `stock_on_hand`; the store keeps its pushes.
            for column in ["on_hand", "updated_at"] {
                row.remove(column);
            }
        }
        _ => {}
    }
    row
}

/// The stock tracking an old SKU row (`inventory_tracking`, `variant_remote_id`) maps to.
fn stock_tracking_of(sku: &Row) -> StockTracking {
    match (
        sku.text("inventory_tracking").as_str(),
        sku.opt_int("variant_remote_id"),
    ) {
        ("none", _) => StockTracking::Untracked,
        ("product", _) => StockTracking::Product,
        ("variant", Some(_)) => StockTracking::Variant,
        ("variant", None) => StockTracking::Derived,
        (other, _) => panic!("inventory_tracking {other:?}"),
    }
}

fn text_id(id: i64) -> String {
    id.to_string()
}

// ------------------------------------------------------------------ 1. every row, every column

async fn every_row_survives_with_only_the_intended_conversions(m: Migrated) {
    let new = Snapshot::read(&m.raw).await;

    // The fixture covers what the migration converts.
    let old = &m.old;
    let count = |table: &str, test: &dyn Fn(&Row) -> bool| {
        old.table(table).iter().filter(|r| test(r)).count()
    };
    let states: BTreeSet<String> = old
        .table("orders")
        .iter()
        .map(|o| o.text("fulfilment_state"))
        .collect();
    assert!(states.len() >= 6, "orders in several states: {states:?}");
    assert!(
        count("orders", &|o| o.flag("is_deleted")) >= 1,
        "an archived order"
    );
    assert!(count("orders", &|o| o.opt_int("customer_id").is_some()) >= 1);
    assert!(count("order_lines", &|l| l.opt_int("address_remote_id").is_some()) >= 1);
    assert!(count("order_addresses", &|a| a.text("kind") == "billing") >= 1);
    assert!(count("order_addresses", &|a| a.text("kind") == "shipping") >= 1);
    for (tracking, variant, what) in [
        ("none", None, "an untracked SKU"),
        ("product", None, "a product-tracked SKU"),
        ("variant", Some(true), "a variant's SKU"),
        (
            "variant",
            Some(false),
            "the product-level SKU of a variant-tracked product",
        ),
    ] {
        assert!(
            count("skus", &|s| s.text("inventory_tracking") == tracking
                && variant
                    .is_none_or(
                        |v| s.opt_int("variant_remote_id").is_some() == v
                    ))
                >= 1,
            "the fixture has {what}"
        );
    }
    for tracking in ["none", "product", "variant"] {
        assert!(count("products", &|p| p.text("inventory_tracking") == tracking) >= 1);
    }
    assert!(count("sync_checkpoints", &|c| c.opt_int("last_id").is_some()) >= 2);
    assert!(count("sync_checkpoints", &|c| c.opt_int("last_id").is_none()) >= 1);
    for state in ["pending", "sending", "delivered", "failed"] {
        assert!(
            count("outbox", &|o| o.text("state") == state) >= 1,
            "an outbox row {state}"
        );
    }
    for kind in ["shipment", "order_status"] {
        for open in [true, false] {
            assert!(
                count("outbox", &|o| o.text("kind") == kind
                    && matches!(o.text("state").as_str(), "pending" | "sending")
                        == open)
                    >= 1,
                "an outbox {kind} row, open: {open}"
            );
        }
    }
    assert!(
        count("skus", &|s| s.opt_int("inventory_level").is_some()) >= 1
            && count("stock_levels", &|s| s
                .opt_text("last_push_status")
                .is_some())
                >= 1,
        "levels reported by the store and push outcomes"
    );

    // The same tables, plus the fleet's (migration 20261206000600) and the events'
    // (20261206000700), which start empty (the event counter at 0); in each old table, the
    // same rows, converted as intended and otherwise unchanged.
    const ADDED: [&str; 8] = [
        "stock_on_hand",
        "hub_processes",
        "jobs",
        "store_leases",
        "event_deliveries",
        "event_subscriptions",
        "events",
        "event_counter",
    ];
    assert_eq!(
        old.tables.keys().collect::<Vec<_>>(),
        new.tables
            .keys()
            .filter(|t| !ADDED.contains(&t.as_str()))
            .collect::<Vec<_>>(),
        "the same tables"
    );
    // The merchant's on hand (20261206000800): the fixture's one store is its merchant's only
    // one, so each of its stock rows becomes the merchant's figure as it was, counted when it
    // last changed (20261206000300_stock_counted_at, to the second).
    let user_id = old.table("stores")[0].int("user_id");
    let mut want: Vec<Row> = old
        .table("stock_levels")
        .iter()
        .map(|level| {
            Row::from([
                ("user_id".to_owned(), Cell::Int(user_id)),
                ("sku".to_owned(), level.cell("sku").clone()),
                ("on_hand".to_owned(), level.cell("on_hand").clone()),
                (
                    "counted_at".to_owned(),
                    Cell::Int(level.time("updated_at").timestamp() * 1000),
                ),
                ("updated_at".to_owned(), level.cell("updated_at").clone()),
            ])
        })
        .collect();
    let mut got: Vec<Row> = new
        .table("stock_on_hand")
        .iter()
        .map(|row| {
            let mut row = row.clone();
            row.remove("id");
            row
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(want, got, "the merchant's on hand");
    for table in ADDED
        .iter()
        .filter(|t| !["event_counter", "stock_on_hand"].contains(*t))
    {
        assert!(new.table(table).is_empty(), "{table} starts empty");
    }
    assert_eq!(new.table("event_counter").len(), 1);
    assert_eq!(new.table("event_counter")[0].int("last_seq"), 0);
    for (table, old_rows) in &old.tables {
        let mut expected: Vec<Row> = old_rows.iter().map(|r| converted(table, r)).collect();
        let mut actual: Vec<Row> = new.table(table).to_vec();
        if table == "_sqlx_migrations" {
            // The migrations since the release: each recorded once, each a success.
            let (ours, others): (Vec<Row>, Vec<Row>) = actual
                .into_iter()
                .partition(|r| r.int("version") >= CHANNEL_NEUTRAL);
            let versions: std::collections::BTreeSet<i64> =
                ours.iter().map(|r| r.int("version")).collect();
            assert!(versions.contains(&CHANNEL_NEUTRAL), "{versions:?}");
            assert_eq!(
                versions.len(),
                ours.len(),
                "each migration is recorded once"
            );
            assert!(ours.iter().all(|r| r.flag("success")));
            actual = others;
        }
        if table == "orders" {
            // Added by 20261206000200_order_read_at: every release row starts unsettled, read at
            // the epoch (each backend spells the instant its own way).
            for row in &mut actual {
                assert_eq!(
                    row.opt_time("unsettled_read_at"),
                    DateTime::from_timestamp(0, 0),
                    "{row:?}"
                );
                row.remove("unsettled_read_at");
                // Added by 20261206000700_events: every order starts announced as it is (so
                // upgrading sends the warehouse nothing about the past), its content unknown.
                assert_eq!(
                    row.opt_text("announced_state"),
                    row.opt_text("fulfilment_state"),
                    "{row:?}"
                );
                assert!(row.opt_int("announced_hash").is_none(), "{row:?}");
                row.remove("announced_state");
                row.remove("announced_hash");
            }
        }
        expected.sort();
        actual.sort();
        assert_eq!(
            expected.len(),
            actual.len(),
            "{table}: {} rows before, {} after",
            expected.len(),
            actual.len()
        );
        for (want, got) in expected.iter().zip(&actual) {
            assert_eq!(want, got, "a row of {table}");
        }
    }

    // No id counter went back (AUTOINCREMENT / identity): no id can be handed out twice.
    for (table, seq) in &old.sequences {
        let now = new.sequences.get(table).copied().unwrap_or(0);
        assert!(
            now >= *seq,
            "{table}: the id counter went from {seq} back to {now}"
        );
    }
    // The fixture has a counter above its table's largest id (upserts of existing orders
    // consume ids on both backends): the case a copy that only kept max(id) would break.
    assert!(old.sequences["orders"] > old.max_id("orders"));

    // The order indexes: newest-first lists by creation time, nothing on the old columns.
    let names: BTreeSet<&str> = new.order_indexes.keys().map(String::as_str).collect();
    for index in [
        "orders_store_status",
        "orders_store_fulfilment",
        "orders_store_modified",
        "orders_store_id",
        "orders_store_created",
        "orders_store_status_created",
        "orders_store_state_created",
    ] {
        assert!(names.contains(index), "orders has {index}: {names:?}");
    }
    assert_eq!(names.len(), 7, "and no other index: {names:?}");
    for (name, def) in &new.order_indexes {
        assert!(!def.contains("status_id"), "{name} is on status_id: {def}");
        assert!(!def.contains("remote_id"), "{name} is on remote_id: {def}");
    }
    assert!(new.order_indexes["orders_store_status_created"].contains("status_code"));

    // SQLite rebuilt the tables: the children must reference the new `orders`, and the
    // foreign keys hold.
    if m.raw.is_sqlite() {
        for child in ["order_lines", "order_addresses", "outbox"] {
            let parents: BTreeSet<String> = m
                .raw
                .rows(&format!(
                    "SELECT \"table\" AS parent FROM pragma_foreign_key_list('{child}')"
                ))
                .await
                .iter()
                .map(|r| r.text("parent"))
                .collect();
            assert!(parents.contains("orders"), "{child} references {parents:?}");
            assert!(
                parents.iter().all(|p| !p.ends_with("_new")),
                "{child} references {parents:?}"
            );
        }
        let broken = m.raw.rows("SELECT * FROM pragma_foreign_key_check").await;
        assert!(broken.is_empty(), "foreign keys broken: {broken:?}");
    }
}

// ------------------------------------------------------------------ 2. through the new API

/// The old order line, as the new API returns lines.
fn expected_line(line: &Row) -> NewOrderLine {
    NewOrderLine {
        remote_id: text_id(line.int("remote_id")),
        product_id: line.opt_int("product_id").map(text_id),
        variant_id: line.opt_int("variant_id").map(text_id),
        sku: line.text("sku"),
        name: line.text("name"),
        quantity: line.int("quantity") as i32,
        quantity_shipped: line.int("quantity_shipped") as i32,
        price: line.money("price"),
        address_remote_id: line.opt_int("address_remote_id").map(text_id),
    }
}

fn expected_address(address: &Row) -> NewOrderAddress {
    NewOrderAddress {
        kind: match address.text("kind").as_str() {
            "billing" => AddressKind::Billing,
            _ => AddressKind::Shipping,
        },
        remote_id: address.opt_int("remote_id").map(text_id),
        first_name: address.text("first_name"),
        last_name: address.text("last_name"),
        company: address.text("company"),
        street_1: address.text("street_1"),
        street_2: address.text("street_2"),
        city: address.text("city"),
        state: address.text("state"),
        zip: address.text("zip"),
        country_iso2: address.text("country_iso2"),
        email: address.text("email"),
        phone: address.text("phone"),
        shipping_method: address.opt_text("shipping_method"),
    }
}

/// The JSON the release kept of an order (`raw`, LZ4 or text as `raw_encoding` says).
fn raw_json(order: &Row) -> String {
    let bytes = order.bytes("raw");
    match order.text("raw_encoding").as_str() {
        "lz4" => String::from_utf8(lz4_flex::decompress_size_prepended(&bytes).unwrap()).unwrap(),
        _ => String::from_utf8(bytes).unwrap(),
    }
}

fn by_debug<T: fmt::Debug>(mut items: Vec<T>) -> Vec<T> {
    items.sort_by_key(|item| format!("{item:?}"));
    items
}

/// Every order of a filter, through every page.
async fn all_pages(storage: &Storage, scope: &StoreScope, filter: &OrderFilter) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let page = storage.list_orders(scope, filter, 7, after).await.unwrap();
        ids.extend(page.orders.iter().map(|o| o.id.get()));
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => return ids,
        }
    }
}

async fn the_api_reads_what_the_release_wrote(m: Migrated) {
    let (old, storage, scope) = (&m.old, &m.storage, &m.scope);
    let orders = old.rows_where("orders", "store_id", m.store_id);
    assert_eq!(
        storage.count_orders(scope).await.unwrap(),
        orders.len() as i64
    );

    // Every order, by the channel's id (now text) and by ours, with its lines and addresses.
    for order in &orders {
        let id = order.int("id");
        let remote = text_id(order.int("remote_id"));
        let found = storage
            .find_order_by_remote_id(scope, &remote)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("order {remote} is found by its number"));
        assert_eq!(
            storage
                .get_order(scope, OrderId::from_raw(id))
                .await
                .unwrap(),
            found
        );
        let s = &found.summary;
        assert_eq!(s.id.get(), id);
        assert_eq!(s.store_id.get(), m.store_id);
        assert_eq!(s.remote_id, remote);
        assert_eq!(s.status_code, text_id(order.int("status_id")));
        assert_eq!(s.status_name, order.text("status_name"));
        assert_eq!(s.fulfilment_state.as_str(), order.text("fulfilment_state"));
        assert_eq!(s.customer_id, order.opt_int("customer_id").map(text_id));
        assert_eq!(s.email, order.opt_text("email"));
        assert_eq!(s.currency, order.text("currency"));
        assert_eq!(s.subtotal, order.money("subtotal"));
        assert_eq!(s.total, order.money("total"));
        assert_eq!(s.tax, order.money("tax"));
        assert_eq!(s.payment_method, order.opt_text("payment_method"));
        assert_eq!(s.payment_status, order.opt_text("payment_status"));
        assert_eq!(s.date_created, order.time("date_created"));
        assert_eq!(s.date_modified, order.time("date_modified"));
        assert_eq!(s.is_deleted, order.flag("is_deleted"));
        assert_eq!(s.imported_at, order.time("imported_at"));
        assert_eq!(s.updated_at, order.time("updated_at"));
        assert_eq!(found.raw_json, raw_json(order), "order {remote}'s raw JSON");
        let json: Value = serde_json::from_str(&found.raw_json).unwrap();
        assert_eq!(json["id"], Value::from(order.int("remote_id")));

        let lines = old.rows_where("order_lines", "order_id", id);
        assert!(!lines.is_empty());
        let mut want: Vec<NewOrderLine> = lines.iter().map(|l| expected_line(l)).collect();
        want.sort_by(|a, b| id_order(&a.remote_id, &b.remote_id));
        assert_eq!(
            found.lines, want,
            "order {remote}'s lines, in the channel's id order"
        );
        let addresses = old.rows_where("order_addresses", "order_id", id);
        assert_eq!(
            by_debug(found.addresses.clone()),
            by_debug(addresses.iter().map(|a| expected_address(a)).collect()),
            "order {remote}'s addresses"
        );
        assert_eq!(
            found.addresses[0].kind,
            AddressKind::Billing,
            "billing first"
        );

        // Found by its number in a search too.
        let all = OrderFilter {
            include_deleted: true,
            ..OrderFilter::default()
        };
        let hits = storage
            .search_orders(scope, &all, Some(&format!("#{remote}")), 100, None)
            .await
            .unwrap();
        assert!(hits.orders.iter().any(|o| o.id.get() == id), "#{remote}");
    }

    // Lists, through every page: by id; without the archived; newest first; per status code
    // and per state. Each summary as the order reads.
    let mut ids: Vec<i64> = orders.iter().map(|o| o.int("id")).collect();
    ids.sort();
    let everything = OrderFilter {
        include_deleted: true,
        ..OrderFilter::default()
    };
    assert_eq!(all_pages(storage, scope, &everything).await, ids);
    let page = storage
        .list_orders(scope, &everything, 1000, None)
        .await
        .unwrap();
    for summary in &page.orders {
        let order = storage.get_order(scope, summary.id).await.unwrap();
        assert_eq!(&order.summary, summary);
    }
    let live: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| !old.rows_where("orders", "id", *id)[0].flag("is_deleted"))
        .collect();
    assert!(live.len() < ids.len());
    assert_eq!(
        all_pages(storage, scope, &OrderFilter::default()).await,
        live
    );
    let mut newest: Vec<&&Row> = orders.iter().collect();
    newest.sort_by_key(|o| std::cmp::Reverse((o.time("date_created"), o.int("id"))));
    let newest_first = OrderFilter {
        include_deleted: true,
        newest_first: true,
        ..OrderFilter::default()
    };
    assert_eq!(
        all_pages(storage, scope, &newest_first).await,
        newest.iter().map(|o| o.int("id")).collect::<Vec<_>>()
    );
    let codes: BTreeSet<i64> = orders.iter().map(|o| o.int("status_id")).collect();
    for code in &codes {
        let filter = OrderFilter {
            status_code: Some(text_id(*code)),
            include_deleted: true,
            ..OrderFilter::default()
        };
        let want: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| old.rows_where("orders", "id", *id)[0].int("status_id") == *code)
            .collect();
        assert_eq!(
            all_pages(storage, scope, &filter).await,
            want,
            "status {code}"
        );
    }
    for state in FulfilmentState::ALL {
        let filter = OrderFilter {
            fulfilment_state: Some(state),
            include_deleted: true,
            ..OrderFilter::default()
        };
        let want: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| {
                old.rows_where("orders", "id", *id)[0].text("fulfilment_state") == state.as_str()
            })
            .collect();
        assert_eq!(all_pages(storage, scope, &filter).await, want, "{state:?}");
    }

    // Counts per status code (the codes in the channel's order) and per state.
    let mut per_status: BTreeMap<i64, (String, i64)> = BTreeMap::new();
    for order in &orders {
        let entry = per_status
            .entry(order.int("status_id"))
            .or_insert((String::new(), 0));
        entry.0 = entry.0.clone().max(order.text("status_name"));
        entry.1 += 1;
    }
    assert_eq!(
        storage.count_orders_by_status(scope).await.unwrap(),
        per_status
            .into_iter()
            .map(|(code, (name, count))| StatusCount {
                status_code: text_id(code),
                status_name: name,
                count,
            })
            .collect::<Vec<_>>()
    );
    let mut per_state: BTreeMap<String, i64> = BTreeMap::new();
    for order in &orders {
        *per_state.entry(order.text("fulfilment_state")).or_default() += 1;
    }
    assert_eq!(
        storage
            .count_orders_by_fulfilment_state(scope)
            .await
            .unwrap()
            .into_iter()
            .map(|(state, n)| (state.as_str().to_owned(), n))
            .collect::<BTreeMap<_, _>>(),
        per_state
    );

    // Checkpoints: the last id is the cursor, as text.
    let checkpoints = old.rows_where("sync_checkpoints", "store_id", m.store_id);
    assert!(!checkpoints.is_empty());
    for checkpoint in checkpoints {
        let stream = checkpoint.text("stream");
        assert_eq!(
            storage.get_checkpoint(scope, &stream).await.unwrap(),
            Some(Checkpoint {
                stream: stream.clone(),
                window_start: checkpoint.opt_time("window_start"),
                window_end: checkpoint.opt_time("window_end"),
                cursor: checkpoint.opt_int("last_id").map(text_id),
                completed_at: checkpoint.opt_time("completed_at"),
            }),
            "checkpoint {stream}"
        );
    }

    // The catalog: every SKU with its ids as text and its tracking mapped.
    let products = old.rows_where("products", "store_id", m.store_id);
    assert_eq!(
        storage.count_products(scope).await.unwrap(),
        products.len() as i64
    );
    for sku in old.rows_where("skus", "store_id", m.store_id) {
        let name = sku.text("sku");
        assert_eq!(
            storage.find_sku(scope, &name).await.unwrap(),
            Some(SkuRecord {
                sku: name.clone(),
                product_remote_id: text_id(sku.int("product_remote_id")),
                variant_remote_id: sku.opt_int("variant_remote_id").map(text_id),
                stock_tracking: stock_tracking_of(sku),
                updated_at: sku.time("updated_at"),
            }),
            "SKU {name}"
        );
    }

    // Stock: on hand, what open orders reserve, the store's last report, the last push.
    let reserved = old_reserved(old, m.store_id);
    let stock: HashMap<String, StockRow> = storage
        .stock_rows(scope)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.sku.clone(), row))
        .collect();
    let levels = old.rows_where("stock_levels", "store_id", m.store_id);
    assert_eq!(stock.len(), levels.len());
    for level in levels {
        let sku = level.text("sku");
        let catalog = old_sku(old, m.store_id, &sku).map(|k| CatalogStock {
            product_remote_id: text_id(k.int("product_remote_id")),
            variant_remote_id: k.opt_int("variant_remote_id").map(text_id),
            stock_tracking: stock_tracking_of(k),
            reported_level: k.opt_int("inventory_level"),
            reported_at: k.opt_time("inventory_reported_at"),
        });
        let last_push = level.opt_text("last_push_status").map(|status| LastPush {
            level: level.opt_int("last_push_level"),
            status,
            message: level.opt_text("last_push_message"),
            at: level.time("last_push_at"),
        });
        assert_eq!(
            stock[&sku],
            StockRow {
                sku: sku.clone(),
                on_hand: level.int("on_hand"),
                reserved: reserved.get(&sku).copied().unwrap_or(0),
                updated_at: level.time("updated_at"),
                catalog,
                last_push,
            },
            "stock of {sku}"
        );
    }
    assert_eq!(
        storage.stock_buffer(scope).await.unwrap(),
        old_buffer(old, m.store_id)
    );

    // The outbox: every row, its part and order id as text, its payload still read.
    let outbox = old.rows_where("outbox", "store_id", m.store_id);
    let listed = storage.list_outbox(Some(scope), false, 1000).await.unwrap();
    assert_eq!(listed.len(), outbox.len());
    let listed: HashMap<i64, OutboxRow> = listed.into_iter().map(|r| (r.id.get(), r)).collect();
    for old_row in &outbox {
        let id = old_row.int("id");
        let row = &listed[&id];
        assert_eq!(
            storage
                .get_outbox(scope, OutboxId::from_raw(id))
                .await
                .unwrap(),
            *row
        );
        check_outbox_row(old_row, row);
    }
    let counts = storage.count_outbox(Some(scope)).await.unwrap();
    let count = |state: &str| outbox.iter().filter(|r| r.text("state") == state).count() as i64;
    assert_eq!(
        (
            counts.pending,
            counts.sending,
            counts.delivered,
            counts.failed
        ),
        (
            count("pending"),
            count("sending"),
            count("delivered"),
            count("failed")
        )
    );
}

/// An outbox row read through the new API against the release's row.
fn check_outbox_row(old: &Row, row: &OutboxRow) {
    let id = old.int("id");
    let millis = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap();
    assert_eq!(row.store_id.get(), old.int("store_id"));
    assert_eq!(row.request_key, old.text("request_key"));
    assert_eq!(row.order_id.get(), old.int("order_id"));
    assert_eq!(row.order_remote_id, text_id(old.int("order_remote_id")));
    assert_eq!(
        row.payload,
        old.text("payload"),
        "the payload is kept as written"
    );
    assert_eq!(row.state.as_str(), old.text("state"));
    assert_eq!(i64::from(row.attempts), old.int("attempts"));
    assert_eq!(row.next_attempt_at, millis(old.int("next_attempt_at")));
    assert_eq!(row.lease_owner, old.opt_text("lease_owner"));
    assert_eq!(row.locked_until, old.opt_int("locked_until").map(millis));
    assert_eq!(row.last_error, old.opt_text("last_error"));
    assert_eq!(row.remote_result, old.opt_text("remote_result"));
    assert_eq!(
        row.delivered_by.map(|d| d.as_str().to_owned()),
        old.opt_text("delivered_by")
    );
    assert_eq!(row.created_at, old.time("created_at"));
    assert_eq!(row.updated_at, old.time("updated_at"));
    assert_eq!(row.delivered_at, old.opt_time("delivered_at"));

    // The payload the release wrote (numeric ids) reads, with its ids as text.
    let json: Value = serde_json::from_str(&old.text("payload")).unwrap();
    match OutboxPayload::parse(&row.payload)
        .unwrap_or_else(|e| panic!("outbox row {id}'s payload does not parse: {e}"))
    {
        OutboxPayload::Shipment(payload) => {
            assert_eq!(row.kind, OutboxKind::Shipment);
            let address = json["address_remote_id"]
                .as_i64()
                .expect("a numeric address id");
            assert_eq!(payload.address_remote_id, text_id(address));
            assert_eq!(row.part, text_id(old.int("part")));
            assert_eq!(
                row.part, payload.address_remote_id,
                "a shipment's part is its address"
            );
            assert_eq!(
                serde_json::to_value(&payload.carrier).unwrap(),
                json["carrier"]
            );
            assert_eq!(
                Value::from(payload.tracking_number.clone()),
                json["tracking_number"]
            );
            assert_eq!(
                payload.tracking_link.clone().map(Value::from),
                json.get("tracking_link").cloned()
            );
            assert_eq!(
                payload.shipped_at,
                DateTime::parse_from_rfc3339(json["shipped_at"].as_str().unwrap()).unwrap()
            );
            let items: Vec<PayloadItem> = json["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| PayloadItem {
                    line_remote_id: text_id(item["line_remote_id"].as_i64().unwrap()),
                    sku: item["sku"].as_str().unwrap().to_owned(),
                    quantity: item["quantity"].as_i64().unwrap() as i32,
                })
                .collect();
            assert_eq!(payload.items, items);
        }
        OutboxPayload::OrderStatus { to } => {
            assert_eq!(row.kind, OutboxKind::OrderStatus);
            assert_eq!(row.part, STATUS_PART);
            assert_eq!(serde_json::to_value(to).unwrap(), json["to"]);
        }
    }
}

// ------------------------------------------------------------------ 3. the outbox still counts

async fn pending_outbox_rows_still_hold_back_what_they_ship(m: Migrated) {
    let (old, storage, scope) = (&m.old, &m.storage, &m.scope);
    let is_open = |r: &&Row| matches!(r.text("state").as_str(), "pending" | "sending");
    let open_rows: Vec<&Row> = old
        .rows_where("outbox", "store_id", m.store_id)
        .into_iter()
        .filter(is_open)
        .collect();
    let orders: BTreeSet<i64> = open_rows.iter().map(|r| r.int("order_id")).collect();
    let (mut nothing_left, mut remainder, mut cancelled) = (0, 0, 0);
    for order_id in orders {
        let old_order = old.rows_where("orders", "id", order_id)[0];
        let remote = text_id(old_order.int("remote_id"));
        let order = storage
            .find_order_by_remote_id(scope, &remote)
            .await
            .unwrap()
            .unwrap();
        let open = storage
            .open_outbox_for_order(scope, order.summary.id)
            .await
            .unwrap();
        let mine: Vec<&&Row> = open_rows
            .iter()
            .filter(|r| r.int("order_id") == order_id)
            .collect();
        assert_eq!(
            open.iter().map(|r| r.id.get()).collect::<Vec<_>>(),
            mine.iter().map(|r| r.int("id")).collect::<Vec<_>>(),
            "order {remote}'s open rows"
        );

        // What the release's open rows hold, read from their JSON (numeric ids).
        let mut held: HashMap<i64, i32> = HashMap::new();
        let mut cancellation = false;
        for row in &mine {
            let json: Value = serde_json::from_str(&row.text("payload")).unwrap();
            if row.text("kind") == "order_status" {
                cancellation |= json["to"] == "cancelled";
                continue;
            }
            for item in json["items"].as_array().unwrap() {
                *held
                    .entry(item["line_remote_id"].as_i64().unwrap())
                    .or_default() += item["quantity"].as_i64().unwrap() as i32;
            }
        }

        let everything = plan_shipment(&order, &open, &[]);
        if cancellation {
            cancelled += 1;
            match everything {
                Err(FulfilmentError::Rejected(message)) => {
                    assert!(message.contains("cancellation"), "{message}")
                }
                other => panic!("order {remote}: a queued cancellation must refuse: {other:?}"),
            }
            continue;
        }
        // What remains once the open rows are delivered, by consignment.
        let lines = old.rows_where("order_lines", "order_id", order_id);
        let shipping: Vec<i64> = old
            .rows_where("order_addresses", "order_id", order_id)
            .iter()
            .filter(|a| a.text("kind") == "shipping")
            .filter_map(|a| a.opt_int("remote_id"))
            .collect();
        let left = |line: &Row| {
            let quantity = (line.int("quantity") - line.int("quantity_shipped")) as i32;
            (quantity - held.get(&line.int("remote_id")).copied().unwrap_or(0)).max(0)
        };
        let mut by_address: BTreeMap<String, Vec<PayloadItem>> = BTreeMap::new();
        for line in &lines {
            if left(line) > 0 {
                let address = line
                    .opt_int("address_remote_id")
                    .unwrap_or_else(|| shipping[0]);
                by_address
                    .entry(text_id(address))
                    .or_default()
                    .push(PayloadItem {
                        line_remote_id: text_id(line.int("remote_id")),
                        sku: line.text("sku"),
                        quantity: left(line),
                    });
            }
        }
        let mut want: Vec<(String, Vec<PayloadItem>)> = by_address.into_iter().collect();
        want.sort_by(|a, b| id_order(&a.0, &b.0));
        for (_, items) in &mut want {
            items.sort_by(|a, b| id_order(&a.line_remote_id, &b.line_remote_id));
        }
        if want.is_empty() {
            nothing_left += 1;
            match everything {
                Err(FulfilmentError::Rejected(message)) => {
                    assert!(message.contains("nothing left to ship"), "{message}")
                }
                other => panic!("order {remote}: everything is queued, yet {other:?}"),
            }
        } else {
            remainder += 1;
            assert_eq!(
                everything.unwrap(),
                want,
                "order {remote}: only what the open rows do not hold"
            );
        }
        // Asking again for what a row holds, on top of what remains, is refused.
        for line in &lines {
            let Some(queued) = held.get(&line.int("remote_id")) else {
                continue;
            };
            assert!(*queued > 0);
            let again = [ItemSpec::Line {
                line_remote_id: text_id(line.int("remote_id")),
                quantity: left(line) + 1,
            }];
            match plan_shipment(&order, &open, &again) {
                Err(FulfilmentError::Rejected(message)) => assert!(
                    message.contains(&format!("{queued} waiting in the outbox")),
                    "{message}"
                ),
                other => panic!(
                    "order {remote}: line {} shipped again past what is queued: {other:?}",
                    line.int("remote_id")
                ),
            }
        }
    }
    assert!(
        nothing_left >= 1 && remainder >= 1 && cancelled >= 1,
        "the fixture has an order wholly queued ({nothing_left}), one partly queued \
         ({remainder}) and a queued cancellation ({cancelled})"
    );
}

// ------------------------------------------------------------------ 4. the stock push plan

/// What the release's open orders reserve per SKU: unshipped units on lines of orders that are
/// not archived, cancelled, refunded or shipped.
fn old_reserved(old: &Snapshot, store_id: i64) -> HashMap<String, i64> {
    let mut reserved = HashMap::new();
    for order in old.rows_where("orders", "store_id", store_id) {
        if order.flag("is_deleted")
            || ["cancelled", "refunded", "shipped"]
                .contains(&order.text("fulfilment_state").as_str())
        {
            continue;
        }
        for line in old.rows_where("order_lines", "order_id", order.int("id")) {
            *reserved.entry(line.text("sku")).or_default() +=
                (line.int("quantity") - line.int("quantity_shipped")).max(0);
        }
    }
    reserved
}

fn old_sku<'a>(old: &'a Snapshot, store_id: i64, sku: &str) -> Option<&'a Row> {
    old.rows_where("skus", "store_id", store_id)
        .into_iter()
        .find(|k| k.text("sku") == sku)
}

fn old_buffer(old: &Snapshot, store_id: i64) -> i64 {
    old.rows_where("stock_settings", "store_id", store_id)
        .first()
        .map_or(0, |s| s.int("safety_buffer"))
}

/// The plan the release made of its own data (`stock/plan.rs` at 0f86c59): its tracking modes
/// and integer ids, the ids written as text.
fn old_plan(old: &Snapshot, store_id: i64) -> Plan {
    let buffer = old_buffer(old, store_id);
    let reserved = old_reserved(old, store_id);
    let levels = old.rows_where("stock_levels", "store_id", store_id);
    let mut per_product: HashMap<i64, Vec<String>> = HashMap::new();
    for level in &levels {
        if let Some(sku) = old_sku(old, store_id, &level.text("sku")) {
            if sku.text("inventory_tracking") == "product" {
                per_product
                    .entry(sku.int("product_remote_id"))
                    .or_default()
                    .push(level.text("sku"));
            }
        }
    }
    let mut plan = Plan::default();
    for level in &levels {
        let name = level.text("sku");
        let available =
            (level.int("on_hand") - reserved.get(&name).copied().unwrap_or(0) - buffer.max(0))
                .max(0);
        let Some(sku) = old_sku(old, store_id, &name) else {
            plan.skipped.push((name, Skip::NotInCatalog, available));
            continue;
        };
        let product = sku.int("product_remote_id");
        let target = match (
            sku.text("inventory_tracking").as_str(),
            sku.opt_int("variant_remote_id"),
        ) {
            ("none", _) => Err(Skip::Untracked),
            ("variant", None) => Err(Skip::TrackedOnVariants),
            ("variant", Some(variant)) => Ok(Target::Variant {
                product_id: text_id(product),
                variant_id: text_id(variant),
            }),
            _ if per_product[&product].len() > 1 => Err(Skip::SharedProductStock {
                product_id: text_id(product),
                skus: per_product[&product].clone(),
            }),
            _ => Ok(Target::Product {
                product_id: text_id(product),
            }),
        };
        let reported = sku.opt_int("inventory_level");
        match target {
            Err(skip) => plan.skipped.push((name, skip, available)),
            Ok(_) if reported == Some(available) => plan.unchanged.push(name),
            Ok(target) => {
                let variant = matches!(target, Target::Variant { .. });
                let write = Write {
                    sku: name,
                    target,
                    level: available,
                    reported,
                };
                if variant {
                    plan.variant_writes.push(write);
                } else {
                    plan.product_writes.push(write);
                }
            }
        }
    }
    plan
}

/// A plan with each list by SKU (the stock view's order is the database's collation).
fn by_sku(mut plan: Plan) -> Plan {
    plan.variant_writes.sort_by(|a, b| a.sku.cmp(&b.sku));
    plan.product_writes.sort_by(|a, b| a.sku.cmp(&b.sku));
    plan.unchanged.sort();
    plan.skipped.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, skip, _) in &mut plan.skipped {
        if let Skip::SharedProductStock { skus, .. } = skip {
            skus.sort();
        }
    }
    plan
}

async fn the_stock_plan_is_the_one_the_old_data_implies(m: Migrated) {
    let want = by_sku(old_plan(&m.old, m.store_id));
    // The fixture exercises every branch it can: both kinds of write, an unchanged SKU and
    // each reason to skip (a sandbox product tracked per product has one SKU, so no SKUs
    // share a product's level).
    assert!(!want.variant_writes.is_empty() && !want.product_writes.is_empty());
    assert!(!want.unchanged.is_empty());
    let reasons: BTreeSet<&str> = want.skipped.iter().map(|(_, s, _)| s.status()).collect();
    for reason in ["not_in_catalog", "untracked", "tracked_on_variants"] {
        assert!(
            reasons.contains(reason),
            "a SKU skipped as {reason}: {reasons:?}"
        );
    }

    let rows = m.storage.stock_rows(&m.scope).await.unwrap();
    let buffer = m.storage.stock_buffer(&m.scope).await.unwrap();
    assert_eq!(by_sku(plan_push(&rows, buffer)), want);
}

// ------------------------------------------------------------------ 5. ids keep growing

async fn ids_continue_above_the_old_ones(m: Migrated) {
    let (old, storage, scope) = (&m.old, &m.storage, &m.scope);
    // The counters the release left (at least its largest ids).
    let above = |table: &str| {
        let max = old.max_id(table);
        old.sequences.get(table).copied().unwrap_or(max).max(max)
    };
    let now = Utc::now();
    let address = |kind, remote_id: Option<&str>| NewOrderAddress {
        kind,
        remote_id: remote_id.map(str::to_owned),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        company: String::new(),
        street_1: "1 Main St".into(),
        street_2: String::new(),
        city: "Ottawa".into(),
        state: "Ontario".into(),
        zip: "K1P 1J9".into(),
        country_iso2: "CA".into(),
        email: "ada@example.com".into(),
        phone: String::new(),
        shipping_method: None,
    };
    // An order whose ids are not numbers, as the new schema allows.
    let remote = "902-3159896-1390916";
    let outcome = storage
        .upsert_orders(
            scope,
            &[NewOrderRecord {
                remote_id: remote.into(),
                status_code: "Unshipped".into(),
                status_name: "Unshipped".into(),
                fulfilment_state: FulfilmentState::Ready,
                customer_id: Some("A1B2C3".into()),
                email: Some("ada@example.com".into()),
                currency: "CAD".into(),
                subtotal: Decimal::new(1000, 2),
                total: Decimal::new(1130, 2),
                tax: Decimal::new(130, 2),
                payment_method: None,
                payment_status: None,
                date_created: now,
                date_modified: now,
                is_deleted: false,
                raw_json: "{}".into(),
                lines: vec![NewOrderLine {
                    remote_id: "L-1".into(),
                    product_id: Some("B07XYZ".into()),
                    variant_id: None,
                    sku: "NEW-1".into(),
                    name: "New".into(),
                    quantity: 1,
                    quantity_shipped: 0,
                    price: Decimal::new(1000, 2),
                    address_remote_id: Some("S-1".into()),
                }],
                addresses: vec![
                    address(AddressKind::Billing, None),
                    address(AddressKind::Shipping, Some("S-1")),
                ],
            }],
        )
        .await
        .unwrap();
    assert_eq!(outcome.inserted, 1);
    let order = storage
        .find_order_by_remote_id(scope, remote)
        .await
        .unwrap()
        .unwrap();
    let id = order.summary.id.get();
    assert!(
        id > above("orders"),
        "the new order's id {id} is above every id the release handed out ({})",
        above("orders")
    );
    let lines = m
        .raw
        .rows(&format!("SELECT id FROM order_lines WHERE order_id = {id}"))
        .await;
    assert!(lines.iter().all(|l| l.int("id") > above("order_lines")));
    let addresses = m
        .raw
        .rows(&format!(
            "SELECT id FROM order_addresses WHERE order_id = {id}"
        ))
        .await;
    assert_eq!(addresses.len(), 2);
    assert!(addresses
        .iter()
        .all(|a| a.int("id") > above("order_addresses")));

    let payload = serde_json::to_string(&OutboxPayload::OrderStatus {
        to: StatusTarget::OnHold,
    })
    .unwrap();
    let enqueued = storage
        .enqueue_outbox(
            scope,
            order.summary.id,
            remote,
            "after-the-migration",
            &[NewOutboxEntry {
                part: STATUS_PART.into(),
                kind: OutboxKind::OrderStatus,
                payload,
            }],
            |_, _| Ok::<(), String>(()),
        )
        .await
        .unwrap();
    let row = &enqueued.rows()[0];
    assert!(row.id.get() > above("outbox"));
    assert_eq!(row.part, STATUS_PART);

    storage
        .upsert_products(
            scope,
            &[NewProduct {
                remote_id: "B07XYZ".into(),
                name: "New".into(),
                sku: "NEW".into(),
                stock_tracking: StockTracking::Variant,
                date_modified: now,
            }],
        )
        .await
        .unwrap();
    storage
        .upsert_skus(
            scope,
            &[NewSku {
                sku: "NEW-1".into(),
                product_remote_id: "B07XYZ".into(),
                variant_remote_id: Some("B07XYZ-1".into()),
                stock_tracking: StockTracking::Variant,
            }],
        )
        .await
        .unwrap();
    for (table, key) in [
        ("products", "remote_id = 'B07XYZ'"),
        ("skus", "sku = 'NEW-1'"),
    ] {
        let rows = m
            .raw
            .rows(&format!("SELECT id FROM {table} WHERE {key}"))
            .await;
        assert_eq!(rows.len(), 1);
        assert!(rows[0].int("id") > above(table), "{table}");
    }
}

// ------------------------------------------------------------------ two stores, one merchant

/// The release's database with a second store of the same merchant, which holds two of the
/// first store's SKUs with other figures: one counted a day after the first store's, one a day
/// before. Each SKU keeps the later count.
async fn two_stores_keep_the_latest_count(kind: Kind) {
    run_with_url(kind, |url| async move {
        load_dump(&url).await;
        let raw = Raw::open(&url).await;
        let first = raw.rows("SELECT id, user_id FROM stores").await;
        assert_eq!(first.len(), 1, "the fixture has one store");
        let (first_id, user_id) = (first[0].int("id"), first[0].int("user_id"));
        let levels = raw
            .rows(&format!(
                "SELECT sku, on_hand, updated_at FROM stock_levels WHERE store_id = {first_id} \
                 ORDER BY sku"
            ))
            .await;
        assert!(levels.len() >= 2, "the fixture's store holds stock");
        let (later, earlier) = (&levels[0], &levels[1]);
        raw.execute(&format!(
            "INSERT INTO stores (user_id, channel, remote_id, api_base_url, status, updated_at) \
             SELECT user_id, channel, 'second-store', api_base_url, status, updated_at \
             FROM stores WHERE id = {first_id}"
        ))
        .await;
        let second_id = raw
            .rows("SELECT id FROM stores WHERE remote_id = 'second-store'")
            .await[0]
            .int("id");
        let day = chrono::Duration::days(1);
        let stamp = |row: &Row, shift: chrono::Duration| {
            (row.time("updated_at") + shift).to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
        };
        for (row, shift, on_hand) in [
            (later, day, later.int("on_hand") + 7),
            (earlier, -day, earlier.int("on_hand") + 5),
        ] {
            raw.execute(&format!(
                "INSERT INTO stock_levels (store_id, sku, on_hand, updated_at) \
                 VALUES ({second_id}, '{}', {on_hand}, '{}')",
                row.text("sku"),
                stamp(row, shift)
            ))
            .await;
        }
        raw.close().await;

        let storage = Storage::open(&url)
            .await
            .expect("today's code opens (and migrates) the database");
        let stores = storage.list_all_stores().await.unwrap();
        assert_eq!(stores.len(), 2);
        let expected = [
            (later.text("sku"), later.int("on_hand") + 7),
            (earlier.text("sku"), earlier.int("on_hand")),
        ];
        for store in &stores {
            let rows: HashMap<String, StockRow> = storage
                .stock_rows(&store.scope())
                .await
                .unwrap()
                .into_iter()
                .map(|row| (row.sku.clone(), row))
                .collect();
            for (sku, on_hand) in &expected {
                assert_eq!(
                    rows[sku].on_hand,
                    *on_hand,
                    "{sku} in store {}: the most recently counted figure",
                    store.id().get()
                );
            }
        }
        let raw = Raw::open(&url).await;
        let merchant = raw
            .rows(&format!(
                "SELECT sku FROM stock_on_hand WHERE user_id = {user_id}"
            ))
            .await;
        assert_eq!(
            merchant.len(),
            levels.len(),
            "one figure per SKU: {merchant:?}"
        );
        raw.close().await;
        storage.close().await;
    })
    .await
}

// ------------------------------------------------------------------ deliveries lined up by order

/// The migration that lines pending deliveries up by order.
const NEXT_IN_LINE: i64 = 20261206000900;

/// The release's database brought up to the migration before [`NEXT_IN_LINE`] (the schema's
/// own files, run by sqlx's migrator from a copy of the directory without the later ones), given
/// one subscription with deliveries in every state, then opened by today's code.
async fn pending_deliveries_lined_up(kind: Kind) {
    run_with_url(kind, |url| async move {
        load_dump(&url).await;
        let backend = if url.starts_with("sqlite://") {
            "sqlite"
        } else {
            "postgres"
        };
        let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        let before = crate::common::TempDir::create("migrations").unwrap();
        for file in std::fs::read_dir(&source).unwrap() {
            let file = file.unwrap();
            let name = file.file_name().into_string().unwrap();
            let version: i64 = name.split('_').next().unwrap().parse().unwrap();
            if version < NEXT_IN_LINE {
                std::fs::copy(file.path(), before.path().join(&name)).unwrap();
            }
        }
        let migrator = sqlx::migrate::Migrator::new(before.path()).await.unwrap();
        let raw = Raw::open(&url).await;
        match &raw {
            Raw::Sqlite(pool) => migrator.run(pool).await,
            Raw::Postgres(pool) => migrator.run(pool).await,
        }
        .expect("the migrations before the one under test run");

        // One subscription; order 1 has a delivered event, then two pending; order 2 a given-up
        // event, then a pending one; order 3 one pending.
        let store = raw.rows("SELECT id, user_id FROM stores").await;
        let (store_id, user_id) = (store[0].int("id"), store[0].int("user_id"));
        let secret = if raw.is_sqlite() {
            "X'00'"
        } else {
            "'\\x00'::bytea"
        };
        raw.execute(&format!(
            "INSERT INTO event_subscriptions (user_id, url, secret, created_at) \
             VALUES ({user_id}, 'https://wms.example.com/events', {secret}, 1)"
        ))
        .await;
        let subscription = raw.rows("SELECT id FROM event_subscriptions").await[0].int("id");
        let mut events = Vec::new();
        for (seq, (order, state)) in [
            (1, "delivered"),
            (1, "pending"),
            (1, "pending"),
            (2, "failed"),
            (2, "pending"),
            (3, "pending"),
        ]
        .into_iter()
        .enumerate()
        {
            let payload = format!(r#"{{"order":{{"id":{order},"number":"{order}"}}}}"#);
            raw.execute(&format!(
                "INSERT INTO events (commit_seq, user_id, store_id, type, subject, payload, \
                 created_at) VALUES ({}, {user_id}, {store_id}, 'order.updated', \
                 'order:{order}', '{payload}', 1)",
                seq + 1
            ))
            .await;
            let event = raw
                .rows(&format!(
                    "SELECT id FROM events WHERE commit_seq = {}",
                    seq + 1
                ))
                .await[0]
                .int("id");
            raw.execute(&format!(
                "INSERT INTO event_deliveries (subscription_id, event_id, subject, state, \
                 next_attempt_at, updated_at) VALUES ({subscription}, {event}, 'order:{order}', \
                 '{state}', 1, 1)"
            ))
            .await;
            events.push(event);
        }
        raw.close().await;

        let storage = Storage::open(&url)
            .await
            .expect("today's code opens (and migrates) the database");
        let lease = std::time::Duration::from_secs(60);
        let claimed = |claimed: Vec<cenports::storage::ClaimedDelivery>| {
            let mut ids: Vec<i64> = claimed.iter().map(|d| d.event.id).collect();
            ids.sort();
            ids
        };
        // The first pending of each order: order 1's second event, order 2's second (the
        // given-up one no longer holds it back), order 3's.
        assert_eq!(
            claimed(storage.claim_deliveries("p1", 100, lease).await.unwrap()),
            [events[1], events[4], events[5]]
        );
        // Delivered, order 1's first pending one lets its next go.
        let held = storage
            .list_deliveries(None, None, None, 100, None)
            .await
            .unwrap();
        let second = held.iter().find(|d| d.event.id == events[1]).unwrap();
        assert!(storage
            .delivery_succeeded(second.id, "p1", 200)
            .await
            .unwrap());
        assert_eq!(
            claimed(storage.claim_deliveries("p1", 100, lease).await.unwrap()),
            [events[2]]
        );
        storage.close().await;
    })
    .await
}
