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
//! Imports follow DESIGN-NOTES note 1: [`Storage::save_page`] writes a page of orders and the
//! stream's checkpoint in one transaction, so the cursor never moves past data that is not
//! committed; an order whose `date_modified` is not newer than the stored one is skipped without
//! any write, so re-reading an overlap costs reads only.

mod error;
mod models;
mod money;
mod raw;

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row};

pub use error::StorageError;
pub use models::*;

use error::Context;
use money::Money;

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
/// prepared without being cached (`persistent`).
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

/// Timestamps are taken at microsecond precision, what PostgreSQL keeps, so a value written
/// and read back compares equal on both backends.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

const USER_COLUMNS: &str = "id, email, created_at";

from_row_both!(User, |row| {
    Ok(User {
        id: UserId(row.try_get("id")?),
        email: row.try_get("email")?,
        created_at: row.try_get("created_at")?,
    })
});

const STORE_COLUMNS: &str =
    "id, user_id, channel, remote_id, api_base_url, name, domain, currency, \
     timezone, weight_units, dimension_units, plan, client_id, status, connected_at, updated_at";

from_row_both!(StoreRecord, |row| {
    Ok(StoreRecord {
        scope: StoreScope {
            user_id: UserId(row.try_get("user_id")?),
            store_id: StoreId(row.try_get("id")?),
        },
        channel: row.try_get("channel")?,
        remote_id: row.try_get("remote_id")?,
        api_base_url: row.try_get("api_base_url")?,
        profile: StoreProfile {
            name: row.try_get("name")?,
            domain: row.try_get("domain")?,
            currency: row.try_get("currency")?,
            timezone: row.try_get("timezone")?,
            weight_units: row.try_get("weight_units")?,
            dimension_units: row.try_get("dimension_units")?,
            plan: row.try_get("plan")?,
        },
        client_id: row.try_get("client_id")?,
        status: parse_col(row.try_get("status")?)?,
        connected_at: row.try_get("connected_at")?,
        updated_at: row.try_get("updated_at")?,
    })
});

const ORDER_COLUMNS: &str = "id, store_id, remote_id, status_id, status_name, fulfilment_state, \
     customer_id, email, currency, subtotal, total, tax, payment_method, payment_status, \
     date_created, date_modified, is_deleted, imported_at, updated_at";

from_row_both!(OrderSummary, |row| {
    Ok(OrderSummary {
        id: OrderId(row.try_get("id")?),
        store_id: StoreId(row.try_get("store_id")?),
        remote_id: row.try_get("remote_id")?,
        status_id: row.try_get("status_id")?,
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
        last_id: row.try_get("last_id")?,
        completed_at: row.try_get("completed_at")?,
    })
});

from_row_both!(SkuRecord, |row| {
    Ok(SkuRecord {
        sku: row.try_get("sku")?,
        product_remote_id: row.try_get("product_remote_id")?,
        variant_remote_id: row.try_get("variant_remote_id")?,
        inventory_tracking: parse_col(row.try_get("inventory_tracking")?)?,
        updated_at: row.try_get("updated_at")?,
    })
});

/// Keeps, for each remote id, the newest version in the page (a page may repeat an order that
/// changed while it was being read; one statement must not touch a row twice on PostgreSQL).
fn dedupe_latest<T, K: std::hash::Hash + Eq>(
    items: &[T],
    key: impl Fn(&T) -> K,
    version: impl Fn(&T) -> DateTime<Utc>,
) -> Vec<&T> {
    let mut index: HashMap<K, usize> = HashMap::with_capacity(items.len());
    let mut out: Vec<&T> = Vec::with_capacity(items.len());
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
    fn push_id_list(qb: &mut QueryBuilder<'_, Self>, column: &str, ids: Vec<i64>);
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
}

impl IdList for sqlx::Postgres {
    fn push_id_list(qb: &mut QueryBuilder<'_, Self>, column: &str, ids: Vec<i64>) {
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
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across application crashes in WAL mode; only an OS crash can
            // lose the last transactions, which the next sync re-imports (upserts are idempotent).
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StorageError::OpenSqlite {
                path: path.to_owned(),
                source,
            })?;
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

    // ---------------------------------------------------------------- users

    /// Creates a user. Emails are unique case-insensitively.
    pub async fn create_user(&self, email: &str) -> Result<User, StorageError> {
        const OP: &str = "creating a user";
        let email = email.trim();
        let sql = format!(
            "INSERT INTO users (email, email_key, created_at) VALUES ($1, $2, $3) \
             RETURNING {USER_COLUMNS}"
        );
        let result = with_pool!(self, |pool| {
            sqlx::query_as::<Db, User>(&sql)
                .bind(email)
                .bind(email.to_lowercase())
                .bind(now())
                .fetch_one(pool)
                .await
        });
        match result {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StorageError::EmailTaken {
                    email: email.to_owned(),
                })
            }
            other => other.op(OP),
        }
    }

    /// Finds a user by email, case-insensitively.
    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, StorageError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email_key = $1");
        let key = email.trim().to_lowercase();
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, User>(&sql)
                .bind(&key)
                .fetch_optional(pool)
                .await
                .op("finding a user")
        })
    }

    /// Returns the user with this email, creating it if needed (safe under concurrency).
    pub async fn ensure_user(&self, email: &str) -> Result<User, StorageError> {
        let email = email.trim();
        with_pool!(self, |pool| {
            sqlx::query::<Db>(
                "INSERT INTO users (email, email_key, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (email_key) DO NOTHING",
            )
            .bind(email)
            .bind(email.to_lowercase())
            .bind(now())
            .execute(pool)
            .await
            .map(|_| ())
            .op("creating a user")
        })?;
        self.find_user_by_email(email)
            .await?
            .ok_or_else(|| StorageError::NotFound {
                what: "user",
                id: email.to_owned(),
            })
    }

    // ---------------------------------------------------------------- stores

    /// Saves a store on connect, or updates it on reconnect (same channel, remote id and user):
    /// profile and encrypted credentials are replaced, the status becomes connected.
    pub async fn save_store(
        &self,
        user: UserId,
        store: &NewStore,
    ) -> Result<StoreRecord, StorageError> {
        let now = now();
        let p = &store.profile;
        let c = &store.credentials;
        let sql = format!(
            "INSERT INTO stores (user_id, channel, remote_id, api_base_url, name, domain, \
             currency, timezone, weight_units, dimension_units, plan, client_id, \
             client_secret_ciphertext, client_secret_nonce, access_token_ciphertext, \
             access_token_nonce, status, connected_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             'connected', $17, $17) \
             ON CONFLICT (channel, remote_id, user_id) DO UPDATE SET \
             api_base_url = excluded.api_base_url, name = excluded.name, \
             domain = excluded.domain, currency = excluded.currency, \
             timezone = excluded.timezone, weight_units = excluded.weight_units, \
             dimension_units = excluded.dimension_units, plan = excluded.plan, \
             client_id = excluded.client_id, \
             client_secret_ciphertext = excluded.client_secret_ciphertext, \
             client_secret_nonce = excluded.client_secret_nonce, \
             access_token_ciphertext = excluded.access_token_ciphertext, \
             access_token_nonce = excluded.access_token_nonce, status = 'connected', \
             connected_at = excluded.connected_at, updated_at = excluded.updated_at \
             RETURNING {STORE_COLUMNS}"
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, StoreRecord>(&sql)
                .bind(user.0)
                .bind(&store.channel)
                .bind(&store.remote_id)
                .bind(&store.api_base_url)
                .bind(&p.name)
                .bind(&p.domain)
                .bind(&p.currency)
                .bind(&p.timezone)
                .bind(&p.weight_units)
                .bind(&p.dimension_units)
                .bind(&p.plan)
                .bind(&c.client_id)
                .bind(&c.client_secret.ciphertext)
                .bind(&c.client_secret.nonce)
                .bind(&c.access_token.ciphertext)
                .bind(&c.access_token.nonce)
                .bind(now)
                .fetch_one(pool)
                .await
                .op("saving a store")
        })
    }

    /// The scope of `store` if and only if `user` owns it; [`StorageError::NotFound`] otherwise
    /// (another tenant's store is indistinguishable from a missing one).
    pub async fn store_scope(
        &self,
        user: UserId,
        store: StoreId,
    ) -> Result<StoreScope, StorageError> {
        let found: Option<i64> = with_pool!(self, |pool| {
            sqlx::query_scalar::<Db, i64>("SELECT id FROM stores WHERE id = $1 AND user_id = $2")
                .bind(store.0)
                .bind(user.0)
                .fetch_optional(pool)
                .await
                .op_store("looking up a store", store)
        })?;
        match found {
            Some(_) => Ok(StoreScope {
                user_id: user,
                store_id: store,
            }),
            None => Err(StorageError::NotFound {
                what: "store",
                id: store.to_string(),
            }),
        }
    }

    /// The store of a scope.
    pub async fn get_store(&self, scope: &StoreScope) -> Result<StoreRecord, StorageError> {
        let sql = format!("SELECT {STORE_COLUMNS} FROM stores WHERE id = $1 AND user_id = $2");
        let store = scope.store_id;
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, StoreRecord>(&sql)
                .bind(store.0)
                .bind(scope.user_id.0)
                .fetch_optional(pool)
                .await
                .op_store("reading a store", store)
        })?
        .ok_or_else(|| StorageError::NotFound {
            what: "store",
            id: store.to_string(),
        })
    }

    /// The stores a user owns, by id.
    pub async fn list_stores(&self, user: UserId) -> Result<Vec<StoreRecord>, StorageError> {
        let sql = format!("SELECT {STORE_COLUMNS} FROM stores WHERE user_id = $1 ORDER BY id");
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, StoreRecord>(&sql)
                .bind(user.0)
                .fetch_all(pool)
                .await
                .op("listing stores")
        })
    }

    /// Every store of every user, by id: for operators and the sync scheduler only.
    pub async fn list_all_stores(&self) -> Result<Vec<StoreRecord>, StorageError> {
        let sql = format!("SELECT {STORE_COLUMNS} FROM stores ORDER BY id");
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, StoreRecord>(&sql)
                .fetch_all(pool)
                .await
                .op("listing all stores")
        })
    }

    /// Replaces the store profile (e.g. after re-reading `/v2/store`).
    pub async fn update_store_profile(
        &self,
        scope: &StoreScope,
        profile: &StoreProfile,
    ) -> Result<(), StorageError> {
        let store = scope.store_id;
        let affected = with_pool!(self, |pool| {
            sqlx::query::<Db>(
                "UPDATE stores SET name = $1, domain = $2, currency = $3, timezone = $4, \
                 weight_units = $5, dimension_units = $6, plan = $7, updated_at = $8 \
                 WHERE id = $9 AND user_id = $10",
            )
            .bind(&profile.name)
            .bind(&profile.domain)
            .bind(&profile.currency)
            .bind(&profile.timezone)
            .bind(&profile.weight_units)
            .bind(&profile.dimension_units)
            .bind(&profile.plan)
            .bind(now())
            .bind(store.0)
            .bind(scope.user_id.0)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            .op_store("updating a store profile", store)
        })?;
        not_found_if_zero(affected, "store", store)
    }

    /// The encrypted credentials, or `None` once the store is disconnected.
    pub async fn get_store_credentials(
        &self,
        scope: &StoreScope,
    ) -> Result<Option<StoreCredentials>, StorageError> {
        let store = scope.store_id;
        type CredRow = (
            Option<String>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
        );
        let row: Option<CredRow> = with_pool!(self, |pool| {
            sqlx::query_as::<Db, CredRow>(
                "SELECT client_id, client_secret_ciphertext, client_secret_nonce, \
                 access_token_ciphertext, access_token_nonce FROM stores \
                 WHERE id = $1 AND user_id = $2",
            )
            .bind(store.0)
            .bind(scope.user_id.0)
            .fetch_optional(pool)
            .await
            .op_store("reading store credentials", store)
        })?;
        let Some(row) = row else {
            return Err(StorageError::NotFound {
                what: "store",
                id: store.to_string(),
            });
        };
        Ok(match row {
            (Some(client_id), Some(sc), Some(sn), Some(tc), Some(tn)) => Some(StoreCredentials {
                client_id,
                client_secret: EncryptedSecret {
                    ciphertext: sc,
                    nonce: sn,
                },
                access_token: EncryptedSecret {
                    ciphertext: tc,
                    nonce: tn,
                },
            }),
            _ => None,
        })
    }

    /// Disconnects a store: forgets its secrets (the ciphertexts are set to NULL, not kept) and
    /// marks it disconnected. Its orders and catalog stay.
    pub async fn disconnect_store(&self, scope: &StoreScope) -> Result<(), StorageError> {
        let store = scope.store_id;
        let affected = with_pool!(self, |pool| {
            sqlx::query::<Db>(
                "UPDATE stores SET client_secret_ciphertext = NULL, client_secret_nonce = NULL, \
                 access_token_ciphertext = NULL, access_token_nonce = NULL, \
                 status = 'disconnected', updated_at = $1 WHERE id = $2 AND user_id = $3",
            )
            .bind(now())
            .bind(store.0)
            .bind(scope.user_id.0)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            .op_store("disconnecting a store", store)
        })?;
        not_found_if_zero(affected, "store", store)
    }

    // ---------------------------------------------------------------- orders

    /// Upserts orders by `(store, remote_id)` in one transaction; see [`Storage::save_page`].
    pub async fn upsert_orders(
        &self,
        scope: &StoreScope,
        orders: &[NewOrderRecord],
    ) -> Result<UpsertOutcome, StorageError> {
        self.save_page(scope, orders, None).await
    }

    /// Writes a page of orders and, optionally, the stream's checkpoint, in ONE transaction: the
    /// cursor moves only with the data, and a failure leaves neither.
    ///
    /// An order is inserted if new, updated if its `date_modified` is newer than the stored one
    /// (its lines and addresses are then replaced), and otherwise skipped without any write. If
    /// the page holds the same order twice, the newest version counts.
    pub async fn save_page(
        &self,
        scope: &StoreScope,
        orders: &[NewOrderRecord],
        checkpoint: Option<&Checkpoint>,
    ) -> Result<UpsertOutcome, StorageError> {
        const OP: &str = "saving a page of orders";
        let store = scope.store_id;
        let page = dedupe_latest(orders, |o| o.remote_id, |o| o.date_modified);
        let now = now();
        let mut outcome = UpsertOutcome {
            unchanged: (orders.len() - page.len()) as u64,
            ..UpsertOutcome::default()
        };
        with_pool!(self, |pool| {
            let mut tx = pool.begin_with(BEGIN_WRITE).await.op_store(OP, store)?;

            // 1. The stored versions, to skip unchanged orders before sending them at all.
            let mut existing: HashMap<i64, DateTime<Utc>> = HashMap::with_capacity(page.len());
            for chunk in page.chunks(ORDER_CHUNK) {
                let mut qb = QueryBuilder::<Db>::new(
                    "SELECT remote_id, date_modified FROM orders WHERE store_id = ",
                );
                qb.push_bind(store.0);
                Db::push_id_list(
                    &mut qb,
                    "remote_id",
                    chunk.iter().map(|o| o.remote_id).collect(),
                );
                let rows: Vec<(i64, DateTime<Utc>)> = qb
                    .build_query_as()
                    .persistent(persistent(chunk.len(), ORDER_CHUNK))
                    .fetch_all(&mut *tx)
                    .await
                    .op_store(OP, store)?;
                existing.extend(rows);
            }
            let to_write: Vec<&NewOrderRecord> = page
                .iter()
                .copied()
                .filter(|o| {
                    existing
                        .get(&o.remote_id)
                        .is_none_or(|d| o.date_modified > *d)
                })
                .collect();
            outcome.unchanged += (page.len() - to_write.len()) as u64;
            // Only what is written is compressed: an incremental sync reads mostly unchanged
            // orders.
            let raw: HashMap<i64, Vec<u8>> = to_write
                .iter()
                .map(|o| (o.remote_id, raw::encode(&o.raw_json)))
                .collect();
            let by_remote: HashMap<i64, &NewOrderRecord> =
                to_write.iter().map(|o| (o.remote_id, *o)).collect();

            // 2. One multi-row upsert per chunk. The WHERE re-checks the version inside the
            //    statement, so a concurrent writer can never make us overwrite newer data.
            let mut written: Vec<(i64, &NewOrderRecord)> = Vec::with_capacity(to_write.len());
            let mut replaced: Vec<i64> = Vec::new();
            for chunk in to_write.chunks(ORDER_CHUNK) {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO orders (store_id, remote_id, status_id, status_name, \
                     fulfilment_state, customer_id, email, currency, subtotal, total, tax, \
                     payment_method, payment_status, date_created, date_modified, is_deleted, \
                     raw, raw_encoding, imported_at, updated_at) ",
                );
                qb.push_values(chunk, |mut b, o| {
                    b.push_bind(store.0)
                        .push_bind(o.remote_id)
                        .push_bind(o.status_id)
                        .push_bind(o.status_name.as_str())
                        .push_bind(o.fulfilment_state.as_str())
                        .push_bind(o.customer_id)
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
                        .push_bind(raw[&o.remote_id].as_slice())
                        .push_bind(raw::ENCODING_LZ4)
                        .push_bind(now)
                        .push_bind(now);
                });
                qb.push(
                    " ON CONFLICT (store_id, remote_id) DO UPDATE SET \
                     status_id = excluded.status_id, status_name = excluded.status_name, \
                     fulfilment_state = excluded.fulfilment_state, \
                     customer_id = excluded.customer_id, email = excluded.email, \
                     currency = excluded.currency, subtotal = excluded.subtotal, \
                     total = excluded.total, tax = excluded.tax, \
                     payment_method = excluded.payment_method, \
                     payment_status = excluded.payment_status, \
                     date_created = excluded.date_created, \
                     date_modified = excluded.date_modified, is_deleted = excluded.is_deleted, \
                     raw = excluded.raw, raw_encoding = excluded.raw_encoding, \
                     updated_at = excluded.updated_at \
                     WHERE orders.date_modified < excluded.date_modified \
                     RETURNING id, remote_id",
                );
                let rows: Vec<(i64, i64)> = qb
                    .build_query_as()
                    .persistent(persistent(chunk.len(), ORDER_CHUNK))
                    .fetch_all(&mut *tx)
                    .await
                    .op_store(OP, store)?;
                for (id, remote_id) in rows {
                    let Some(order) = by_remote.get(&remote_id) else {
                        continue;
                    };
                    if existing.contains_key(&remote_id) {
                        outcome.updated += 1;
                        replaced.push(id);
                    } else {
                        outcome.inserted += 1;
                    }
                    written.push((id, *order));
                }
            }
            // Rows a concurrent writer had already made newer were skipped by the WHERE.
            outcome.unchanged += (to_write.len() - written.len()) as u64;

            // 3. Lines and addresses of changed orders are replaced wholesale: simpler and as
            //    fast as diffing, and the channel's ids are kept so shipments can name them.
            for chunk in replaced.chunks(CHILD_CHUNK) {
                for table in ["order_lines", "order_addresses"] {
                    let mut qb =
                        QueryBuilder::<Db>::new(format!("DELETE FROM {table} WHERE store_id = "));
                    qb.push_bind(store.0);
                    Db::push_id_list(&mut qb, "order_id", chunk.to_vec());
                    qb.build()
                        .persistent(persistent(chunk.len(), CHILD_CHUNK))
                        .execute(&mut *tx)
                        .await
                        .op_store(OP, store)?;
                }
            }
            let lines: Vec<(i64, &NewOrderLine)> = written
                .iter()
                .flat_map(|(id, o)| o.lines.iter().map(move |l| (*id, l)))
                .collect();
            for chunk in lines.chunks(CHILD_CHUNK) {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO order_lines (order_id, store_id, remote_id, product_id, \
                     variant_id, sku, name, quantity, quantity_shipped, price, \
                     address_remote_id) ",
                );
                qb.push_values(chunk, |mut b, (order_id, l)| {
                    b.push_bind(*order_id)
                        .push_bind(store.0)
                        .push_bind(l.remote_id)
                        .push_bind(l.product_id)
                        .push_bind(l.variant_id)
                        .push_bind(l.sku.as_str())
                        .push_bind(l.name.as_str())
                        .push_bind(l.quantity)
                        .push_bind(l.quantity_shipped)
                        .push_bind(Money(l.price))
                        .push_bind(l.address_remote_id);
                });
                qb.build()
                    .persistent(persistent(chunk.len(), CHILD_CHUNK))
                    .execute(&mut *tx)
                    .await
                    .op_store(OP, store)?;
            }
            let addresses: Vec<(i64, &NewOrderAddress)> = written
                .iter()
                .flat_map(|(id, o)| o.addresses.iter().map(move |a| (*id, a)))
                .collect();
            for chunk in addresses.chunks(CHILD_CHUNK) {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO order_addresses (order_id, store_id, kind, remote_id, \
                     first_name, last_name, company, street_1, street_2, city, state, zip, \
                     country_iso2, email, phone, shipping_method) ",
                );
                qb.push_values(chunk, |mut b, (order_id, a)| {
                    b.push_bind(*order_id)
                        .push_bind(store.0)
                        .push_bind(a.kind.as_str())
                        .push_bind(a.remote_id)
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
                    .execute(&mut *tx)
                    .await
                    .op_store(OP, store)?;
            }

            // 4. The checkpoint, last, in the same transaction.
            if let Some(cp) = checkpoint {
                sqlx::query::<Db>(CHECKPOINT_UPSERT)
                    .bind(store.0)
                    .bind(&cp.stream)
                    .bind(cp.window_start)
                    .bind(cp.window_end)
                    .bind(cp.last_id)
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
                "SELECT stream, window_start, window_end, last_id, completed_at \
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

    /// One order with its lines, addresses and raw JSON.
    pub async fn get_order(
        &self,
        scope: &StoreScope,
        order: OrderId,
    ) -> Result<OrderRecord, StorageError> {
        self.read_order(scope, "id", order.0)
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
        remote_id: i64,
    ) -> Result<Option<OrderRecord>, StorageError> {
        self.read_order(scope, "remote_id", remote_id).await
    }

    async fn read_order(
        &self,
        scope: &StoreScope,
        key_column: &'static str,
        key: i64,
    ) -> Result<Option<OrderRecord>, StorageError> {
        const OP: &str = "reading an order";
        let store = scope.store_id;
        let order_sql = format!(
            "SELECT {ORDER_COLUMNS}, raw, raw_encoding FROM orders WHERE store_id = $1 AND {key_column} = $2"
        );
        let lines_sql = format!(
            "SELECT {LINE_COLUMNS} FROM order_lines WHERE store_id = $1 AND order_id = $2 \
             ORDER BY remote_id"
        );
        let addresses_sql = format!(
            "SELECT {ADDRESS_COLUMNS} FROM order_addresses WHERE store_id = $1 AND order_id = $2 \
             ORDER BY kind, remote_id, id"
        );
        with_pool!(self, |pool| {
            let mut conn = pool.acquire().await.op_store(OP, store)?;
            let Some(row) = sqlx::query::<Db>(&order_sql)
                .bind(store.0)
                .bind(key)
                .fetch_optional(&mut *conn)
                .await
                .op_store(OP, store)?
            else {
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
        let rows: Vec<(i32, String, i64)> = with_pool!(self, |pool| {
            sqlx::query_as::<Db, (i32, String, i64)>(
                "SELECT status_id, MAX(status_name), COUNT(*) FROM orders WHERE store_id = $1 \
                 GROUP BY status_id ORDER BY status_id",
            )
            .bind(store.0)
            .fetch_all(pool)
            .await
            .op_store("counting orders by status", store)
        })?;
        Ok(rows
            .into_iter()
            .map(|(status_id, status_name, count)| StatusCount {
                status_id,
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

    // ---------------------------------------------------------------- catalog

    /// Upserts products by `(store, remote_id)`; like orders, a product whose `date_modified` is
    /// not newer than the stored one is not written.
    pub async fn upsert_products(
        &self,
        scope: &StoreScope,
        products: &[NewProduct],
    ) -> Result<UpsertOutcome, StorageError> {
        const OP: &str = "upserting products";
        let store = scope.store_id;
        let page = dedupe_latest(products, |p| p.remote_id, |p| p.date_modified);
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
                Db::push_id_list(
                    &mut qb,
                    "remote_id",
                    chunk.iter().map(|p| p.remote_id).collect(),
                );
                let existing: HashSet<i64> = qb
                    .build_query_scalar::<i64>()
                    .persistent(persistent(chunk.len(), ORDER_CHUNK))
                    .fetch_all(&mut *tx)
                    .await
                    .op_store(OP, store)?
                    .into_iter()
                    .collect();
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO products (store_id, remote_id, name, sku, inventory_tracking, \
                     date_modified, updated_at) ",
                );
                qb.push_values(chunk, |mut b, p| {
                    b.push_bind(store.0)
                        .push_bind(p.remote_id)
                        .push_bind(p.name.as_str())
                        .push_bind(p.sku.as_str())
                        .push_bind(p.inventory_tracking.as_str())
                        .push_bind(p.date_modified)
                        .push_bind(now);
                });
                qb.push(
                    " ON CONFLICT (store_id, remote_id) DO UPDATE SET name = excluded.name, \
                     sku = excluded.sku, inventory_tracking = excluded.inventory_tracking, \
                     date_modified = excluded.date_modified, updated_at = excluded.updated_at \
                     WHERE products.date_modified < excluded.date_modified RETURNING remote_id",
                );
                let written: Vec<i64> = qb
                    .build_query_scalar::<i64>()
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
                     inventory_tracking, updated_at) ",
                );
                qb.push_values(chunk, |mut b, s| {
                    b.push_bind(store.0)
                        .push_bind(s.sku.as_str())
                        .push_bind(s.product_remote_id)
                        .push_bind(s.variant_remote_id)
                        .push_bind(s.inventory_tracking.as_str())
                        .push_bind(now);
                });
                qb.push(
                    " ON CONFLICT (store_id, sku) DO UPDATE SET \
                     product_remote_id = excluded.product_remote_id, \
                     variant_remote_id = excluded.variant_remote_id, \
                     inventory_tracking = excluded.inventory_tracking, \
                     updated_at = excluded.updated_at \
                     WHERE skus.product_remote_id <> excluded.product_remote_id \
                     OR skus.variant_remote_id IS DISTINCT FROM excluded.variant_remote_id \
                     OR skus.inventory_tracking <> excluded.inventory_tracking",
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
                "SELECT sku, product_remote_id, variant_remote_id, inventory_tracking, updated_at \
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

const CHECKPOINT_UPSERT: &str = "INSERT INTO sync_checkpoints (store_id, stream, window_start, \
     window_end, last_id, completed_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (store_id, stream) DO UPDATE SET window_start = excluded.window_start, \
     window_end = excluded.window_end, last_id = excluded.last_id, \
     completed_at = excluded.completed_at, updated_at = excluded.updated_at";

fn not_found_if_zero(
    affected: u64,
    what: &'static str,
    store: StoreId,
) -> Result<(), StorageError> {
    if affected == 0 {
        Err(StorageError::NotFound {
            what,
            id: store.to_string(),
        })
    } else {
        Ok(())
    }
}

// The fulfilment outbox's storage (after the macros above, which it uses).
mod outbox;
pub use outbox::*;
// Webhooks and reconciliation (docs/WEBHOOKS.md). Declared here, after the macros, because a
// child module sees `with_pool!` only when it is declared below it.
mod webhooks;
pub use webhooks::{WebhookEndpoint, WebhookTarget};

// Accounts (roles, API keys, sessions, login throttling) and the reads of the HTTP API.
mod accounts;
mod reads;
pub use accounts::*;
pub use reads::*;

// The sync history (one row per sync of a store).
mod sync_runs;
pub use sync_runs::{SyncCounts, SyncRunRecord, SyncTrigger, SYNC_RUNS_KEPT};
