//! The storage error: what failed, for which store, and what to do about it.

use super::models::{StoreId, UnknownValue};

/// Everything the storage layer can fail with. Sources are kept (`#[source]`), so the CLI's
/// `anyhow` chain shows the database's own words under ours.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The SQLite file could not be opened or created.
    #[error(
        "could not open the SQLite database at {path}; check the path and permissions, or set \
         CENPORTS_DATABASE_URL"
    )]
    OpenSqlite {
        /// The path as given.
        path: String,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// PostgreSQL could not be reached.
    #[error(
        "could not connect to PostgreSQL at {target}; check that the server is running and \
         that CENPORTS_DATABASE_URL names the right host, database and user"
    )]
    ConnectPostgres {
        /// Host, port and database (never the password).
        target: String,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// The database URL could not be understood.
    #[error(
        "the database URL is not valid: {reason}; use a file path, sqlite://path/cenports.db or \
         postgres://user@host/db in CENPORTS_DATABASE_URL"
    )]
    InvalidUrl {
        /// What is wrong with it.
        reason: String,
    },
    /// Applying the schema migrations failed.
    #[error(
        "could not bring the {backend} database schema up to date; if the database was written \
         by a newer cenports, upgrade this binary, otherwise restore it from a backup"
    )]
    Migrate {
        /// `SQLite` or `PostgreSQL`.
        backend: &'static str,
        /// The cause.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A user with this email already exists.
    #[error("a Cenports user with the email {email} already exists")]
    EmailTaken {
        /// The email as given.
        email: String,
    },
    /// The row does not exist, or belongs to another tenant (deliberately indistinguishable).
    #[error("{what} {id} not found")]
    NotFound {
        /// `store`, `user`, `order`.
        what: &'static str,
        /// The id looked up.
        id: String,
    },
    /// A stored value is not one this version understands.
    #[error("{op}{}: the database holds a value this version does not understand", for_store(.store))]
    Corrupt {
        /// The operation.
        op: &'static str,
        /// The store, when the operation had one.
        store: Option<StoreId>,
        /// The value.
        #[source]
        source: UnknownValue,
    },
    /// A query failed.
    #[error("{op}{} failed", for_store(.store))]
    Query {
        /// The operation, e.g. `upserting orders`.
        op: &'static str,
        /// The store, when the operation had one.
        store: Option<StoreId>,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
}

fn for_store(store: &Option<StoreId>) -> String {
    match store {
        Some(id) => format!(" for {id}"),
        None => String::new(),
    }
}

/// Attaches operation and store context to a `sqlx` result.
pub(crate) trait Context<T> {
    /// Operation with no store (users, store listing).
    fn op(self, op: &'static str) -> Result<T, StorageError>;
    /// Operation on one store.
    fn op_store(self, op: &'static str, store: StoreId) -> Result<T, StorageError>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn op(self, op: &'static str) -> Result<T, StorageError> {
        self.map_err(|source| StorageError::Query {
            op,
            store: None,
            source,
        })
    }

    fn op_store(self, op: &'static str, store: StoreId) -> Result<T, StorageError> {
        self.map_err(|source| StorageError::Query {
            op,
            store: Some(store),
            source,
        })
    }
}
