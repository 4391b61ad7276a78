//! # Storage: one contract, two backends
//!
//! [`Storage`] is the hub's only door to its database. It opens an embedded SQLite file (the
//! default, `cenports.db`) or a PostgreSQL server (a `postgres://` URL), runs the versioned
//! migrations of that backend on open, and offers the same functions on both.
//!
//! How the two backends share one body of code: every query is a runtime `sqlx` query with binds
//! (no `query!` macros, so building needs no database), written once in SQL both dialects accept
//! (`$1` placeholders, `INSERT .. ON CONFLICT .. DO UPDATE .. WHERE`, `RETURNING`). The private
//! `with_pool!` macro expands each function body once per backend, so the compiler checks the
//! body against each driver's types. The few real differences are types: money (see
//! `money.rs`), timestamps (TEXT on SQLite, TIMESTAMPTZ on PostgreSQL, both through
//! `chrono::DateTime<Utc>`), and how a write transaction starts (`BEGIN IMMEDIATE` on SQLite, so
//! two writers queue on the busy timeout instead of failing on lock upgrade).
//!
//! Tenancy is in the types: order, checkpoint and catalog functions take a [`StoreScope`] first,
//! and a scope only comes out of an owner-checked lookup ([`Storage::store_scope`]) or a store
//! record that storage returned. Every tenant-owned query also filters by the scope's store.
//!
//! Imports follow `docs/HARD-PROBLEMS.md` note 1: [`Storage::save_page`] writes a page of orders
//! and the stream's checkpoint in one transaction, so the cursor never moves past data that is
//! not committed; an order whose `date_modified` is not newer than the stored one is skipped
//! without any write, so re-reading an overlap costs reads only.
//!
//! Where things are: this file holds [`Storage`] itself (opening, closing, the readiness ping,
//! the planner's statistics) and the private helpers its parts share. Each aggregate has its own
//! file, an `impl Storage` block with that aggregate's private helpers: `stores.rs` (users,
//! stores, the per-store figures of `/metrics`), `orders.rs` (orders, the page save, checkpoints,
//! order reads), `catalog.rs` (products, SKUs), `outbox.rs`, `stock.rs`, `webhooks.rs`,
//! `accounts.rs` and `sync_runs.rs`.

mod error;
mod models;
mod money;
mod raw;

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::QueryBuilder;

pub use error::StorageError;
pub use models::*;

use error::Context;

/// The database used when none is configured: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "cenports.db";

/// How long a SQLite writer waits for another writer before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Rows per multi-row statement, far under SQLite's 32,766 bound parameters and PostgreSQL's
/// 65,535.
///
/// Small and FIXED on purpose: both drivers cache a prepared statement per distinct SQL text
/// (up to 100 per connection), and a multi-row statement's text depends on its row count. With
/// chunks as large as a page, almost every page (a page has a varying number of lines) made a
/// new statement: prepared again (a parse and, on PostgreSQL, a round trip describing thousands
/// of parameters) and kept in the cache, where the compiled multi-row inserts of SQLite grew
/// the hub's memory with the size of the store (≈300 MB after 100,000 orders). Now every full
/// chunk shares one cached statement per table, and the one partial chunk of a page is run
/// prepared without being cached (`persistent`). PostgreSQL writes a page's rows without
/// chunks, one `UNNEST` statement per table (`PageRows` in `orders.rs`); it still reads a
/// page's stored versions by `ORDER_CHUNK`.
const ORDER_CHUNK: usize = 250;
const CHILD_CHUNK: usize = 500;

/// Whether a chunk's statement is worth caching: only full chunks, whose text repeats.
fn persistent(len: usize, chunk: usize) -> bool {
    len == chunk
}

/// The database behind a [`Storage`].
#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Backend {
    /// The database's clock in epoch milliseconds, as an SQL expression. Leases and schedules
    /// are computed with it, never with a host's clock: hosts sharing one database may
    /// disagree about the time, the database is one clock for all of them (on SQLite it is
    /// the one host's clock).
    fn now_ms(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
            Backend::Postgres(_) => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }
}

/// Expands `$body` once per backend with `$pool` bound to that backend's pool, `Db` to its
/// `sqlx::Database` and `BEGIN_WRITE` to the statement that opens a write transaction.
macro_rules! with_pool {
    ($storage:expr, |$pool:ident| $body:expr) => {
        match &$storage.backend {
            Backend::Sqlite($pool) => {
                #[allow(dead_code)]
                type Db = sqlx::Sqlite;
                // IMMEDIATE takes the write lock up front: a deferred transaction that reads
                // first and writes later fails with SQLITE_BUSY instead of waiting.
                #[allow(dead_code)]
                const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
                $body
            }
            Backend::Postgres($pool) => {
                #[allow(dead_code)]
                type Db = sqlx::Postgres;
                #[allow(dead_code)]
                const BEGIN_WRITE: &str = "BEGIN";
                $body
            }
        }
    };
}

/// Implements `sqlx::FromRow` for both backends' rows with one body.
macro_rules! from_row_both {
    ($ty:ty, |$row:ident| $body:block) => {
        impl<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> for $ty {
            fn from_row($row: &'r sqlx::sqlite::SqliteRow) -> Result<Self, sqlx::Error> {
                $body
            }
        }
        impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for $ty {
            fn from_row($row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
                $body
            }
        }
    };
}

// Declared after the macros above so that it can use them.
mod stock;
pub use stock::{
    CatalogStock, LastPush, PushRecord, StockRow, MAX_STOCK_LEVEL, NON_RESERVING_STATES,
};

fn parse_col<T: FromStr<Err = UnknownValue>>(text: String) -> Result<T, sqlx::Error> {
    text.parse::<T>()
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// A duration in milliseconds, for SQL that adds it to the database's clock (leases, retry and
/// job times, `outbox.rs` and `fleet.rs`).
fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}

/// An epoch-milliseconds column (leases, schedules, events) as a time.
fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Timestamps are taken at microsecond precision, what PostgreSQL keeps, so a value written
/// and read back compares equal on both backends.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

// The columns of a `StoreRecord` row, read by stores.rs, accounts.rs and webhooks.rs.
const STORE_COLUMNS: &str =
    "id, user_id, channel, remote_id, api_base_url, name, domain, currency, \
     timezone, weight_units, dimension_units, plan, client_id, status, connected_at, updated_at";

/// Keeps, for each remote id, the newest version in the page (a page may repeat an order that
/// changed while it was being read; one statement must not touch a row twice on PostgreSQL).
fn dedupe_latest<'a, T, K: std::hash::Hash + Eq>(
    items: &'a [T],
    key: impl Fn(&'a T) -> K,
    version: impl Fn(&T) -> DateTime<Utc>,
) -> Vec<&'a T> {
    let mut index: HashMap<K, usize> = HashMap::with_capacity(items.len());
    let mut out: Vec<&'a T> = Vec::with_capacity(items.len());
    for item in items {
        match index.get(&key(item)) {
            Some(&i) => {
                if version(item) > version(out[i]) {
                    out[i] = item;
                }
            }
            None => {
                index.insert(key(item), out.len());
                out.push(item);
            }
        }
    }
    out
}

/// How each backend writes "`column` is one of these ids".
///
/// SQLite gets a list of binds (`IN ($2, $3, ...)`, the only form it has). PostgreSQL gets ONE
/// array bind (`= ANY($2)`): the statement text is the same whatever the page size, so it is
/// prepared once per connection, and the server parses and plans one parameter instead of
/// hundreds.
trait IdList: sqlx::Database {
    /// Our ids (integers).
    fn push_id_list(qb: &mut QueryBuilder<'_, Self>, column: &str, ids: Vec<i64>);
    /// A channel's ids (text).
    fn push_text_list(qb: &mut QueryBuilder<'_, Self>, column: &str, ids: Vec<String>);
}

impl IdList for sqlx::Sqlite {
    fn push_id_list(qb: &mut QueryBuilder<'_, Self>, column: &str, ids: Vec<i64>) {
        qb.push(format_args!(" AND {column} IN ("));
        let mut list = qb.separated(", ");
        for id in ids {
            list.push_bind(id);
        }
        qb.push(")");
    }

    fn push_text_list(qb: &mut QueryBuilder<'_, Self>, column: &str, ids: Vec<String>) {
        qb.push(format_args!(" AND {column} IN ("));
        let mut list = qb.separated(", ");
        for id in ids {
            list.push_bind(id);
        }
        qb.push(")");
    }
}

impl IdList for sqlx::Postgres {
    fn push_id_list(qb: &mut QueryBuilder<'_, Self>, column: &str, ids: Vec<i64>) {
        qb.push(format_args!(" AND {column} = ANY("));
        qb.push_bind(ids);
        qb.push(")");
    }

    fn push_text_list(qb: &mut QueryBuilder<'_, Self>, column: &str, ids: Vec<String>) {
        qb.push(format_args!(" AND {column} = ANY("));
        qb.push_bind(ids);
        qb.push(")");
    }
}

/// The handle to the hub's database. Cheap to clone (it is a connection pool).
#[derive(Debug, Clone)]
pub struct Storage {
    backend: Backend,
}

impl Storage {
    /// Opens the database named by `url` and brings its schema up to date.
    ///
    /// - `postgres://…` or `postgresql://…`: a PostgreSQL server;
    /// - `sqlite://path`, `sqlite:path` or a plain path: a SQLite file, created if missing, in WAL
    ///   mode with foreign keys on and a busy timeout.
    pub async fn open(url: &str) -> Result<Self, StorageError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::open_postgres(url).await
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            Self::open_sqlite(path).await
        }
    }

    async fn open_sqlite(path: &str) -> Result<Self, StorageError> {
        if path.is_empty() || path.starts_with(":memory:") {
            return Err(StorageError::InvalidUrl {
                reason: format!(
                    "{path:?} is not a file (an in-memory database would vanish with each \
                     connection)"
                ),
            });
        }
        // The file holds customer data and password hashes: made 0600 before SQLite opens it
        // (SQLite gives the -wal and -shm files the database file's mode), and a wider file
        // made earlier is reported.
        private_file::create(Path::new(path)).map_err(|source| StorageError::OpenSqlite {
            path: path.to_owned(),
            source: sqlx::Error::Io(source),
        })?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: every commit reaches the disk before it returns. NORMAL (WAL) would survive
            // a crash of the process but could lose the last commits on power loss, and with
            // them an outbox row marked `sending` (sent again without a read-back) or a
            // shipment `ship` reported as queued. The cost to an import is in
            // docs/PERFORMANCE.md.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        // No idle timeout and no lifetime: see `open_postgres`.
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|source| StorageError::OpenSqlite {
                path: path.to_owned(),
                source,
            })?;
        private_file::warn_if_readable_by_others(Path::new(path));
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|source| StorageError::Migrate {
                backend: "SQLite",
                source,
            })?;
        Ok(Self {
            backend: Backend::Sqlite(pool),
        })
    }

    async fn open_postgres(url: &str) -> Result<Self, StorageError> {
        let options = PgConnectOptions::from_str(url).map_err(|e| StorageError::InvalidUrl {
            reason: e.to_string(),
        })?;
        let target = format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("(default database)")
        );
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10))
            // No idle timeout and no lifetime: with either, sqlx 0.8 runs a maintenance task
            // whose loop over the idle count spins a core without yielding when that count
            // races below zero (seen in a test: a process stuck at 100 % CPU at shutdown).
            // Connections are kept instead; a broken one is replaced when it fails.
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|source| StorageError::ConnectPostgres { target, source })?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|source| StorageError::Migrate {
                backend: "PostgreSQL",
                source,
            })?;
        Ok(Self {
            backend: Backend::Postgres(pool),
        })
    }

    /// `"SQLite"` or `"PostgreSQL"`, for logs and the CLI.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }

    /// Closes every connection (waits for those in use to be returned).
    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await)
    }

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
}

// Users and stores (stores.rs), orders and checkpoints (orders.rs), the catalog (catalog.rs):
// like the modules below, declared after the macros, which they use.
mod catalog;
mod orders;
mod stores;
pub use stores::StoreFigures;

// The fulfilment outbox's storage (after the macros above, which it uses).
mod outbox;
pub use outbox::*;
// Webhooks and reconciliation (docs/WEBHOOKS.md). Declared here, after the macros, because a
// child module sees `with_pool!` only when it is declared below it.
mod webhooks;
pub use webhooks::{WebhookEndpoint, WebhookTarget};

// The fleet: live processes, store leases and durable jobs (docs/ARCHITECTURE.md).
mod fleet;
pub use fleet::{
    Accepted, Backlog, FleetProcess, HeldLease, JobKind, JobRow, ProcessInfo, Queued, Rebalance,
};

// Accounts (roles, API keys, sessions, login throttling).
mod accounts;
pub use accounts::*;

// Events for the warehouse's systems: the log, subscriptions and deliveries (docs/EVENTS.md).
mod events;
pub use events::{
    backoff, event_public_id, subscription_aad, ClaimedDelivery, DeliveryCounts, DeliveryRecord,
    DeliveryState, EventCursor, EventRecord, EventType, NewSubscription, Subscription,
    UnknownEventType, EVENT_RETENTION, GIVE_UP_AFTER,
};

// The sync history (one row per sync of a store).
mod sync_runs;
pub use sync_runs::{SyncCounts, SyncRunRecord, SyncTrigger, SYNC_RUNS_KEPT};

#[cfg(test)]
mod tests {
    use super::{Backend, Storage};

    /// Every pooled SQLite connection commits with `synchronous=FULL` in WAL mode: a commit the
    /// hub reported (a queued shipment, a row marked `sending`) survives a power loss.
    #[tokio::test]
    async fn sqlite_connections_commit_durably() {
        let dir = std::env::temp_dir().join(format!(
            "cenports-durable-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hub.db");
        let storage = Storage::open(path.to_str().unwrap()).await.unwrap();
        let Backend::Sqlite(pool) = &storage.backend else {
            panic!("a path opens SQLite")
        };
        // Hold four at once: the pool's every connection, not the same one four times.
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(pool.acquire().await.unwrap());
        }
        for conn in &mut held {
            let (synchronous,): (i64,) = sqlx::query_as("PRAGMA synchronous")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            let (journal,): (String,) = sqlx::query_as("PRAGMA journal_mode")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            assert_eq!((synchronous, journal.as_str()), (2, "wal"), "2 is FULL");
        }
        drop(held);
        storage.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// The SQLite files' permissions: owner only.
mod private_file {
    use std::path::{Path, PathBuf};

    /// Creates `path` empty with mode 0600 if it does not exist (whatever the umask); an
    /// existing file is left as it is.
    pub fn create(path: &Path) -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Logs a warning (stderr for the CLI) for each of the database, `-wal` and `-shm` files
    /// that other users may read or write, with the command that fixes it.
    pub fn warn_if_readable_by_others(path: &Path) {
        #[cfg(unix)]
        for suffix in ["", "-wal", "-shm"] {
            use std::os::unix::fs::PermissionsExt;
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let file = PathBuf::from(name);
            let Ok(meta) = std::fs::metadata(&file) else {
                continue;
            };
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    "{} is readable by other users (mode {mode:o}) though it holds customer \
                     data and password hashes; restrict it with `chmod 600 {}`",
                    file.display(),
                    file.display()
                );
            }
        }
        #[cfg(not(unix))]
        let _ = path;
    }
}
