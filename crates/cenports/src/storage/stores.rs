//! Users and stores: creating and finding users, saving a store on connect (and reconnect), the
//! owner-checked scope of a store ([`Storage::store_scope`]), reading, listing and updating
//! stores, their encrypted credentials, disconnecting, and the per-store figures of `/metrics`
//! ([`Storage::store_figures`]). The role-aware store lookups of the HTTP API are in
//! `accounts.rs`.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::error::Context;
use super::{now, parse_col, Backend, OutboxCounts, Storage, StorageError, STORE_COLUMNS};
use super::{EncryptedSecret, NewStore, StoreCredentials, StoreId, StoreProfile, StoreRecord};
use super::{StoreScope, User, UserId};

const USER_COLUMNS: &str = "id, email, created_at";

from_row_both!(User, |row| {
    Ok(User {
        id: UserId(row.try_get("id")?),
        email: row.try_get("email")?,
        created_at: row.try_get("created_at")?,
    })
});

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
    /// Jobs waiting for the store (webhook hints, walks, asked-for syncs), not yet claimed.
    pub jobs_queued: i64,
    /// How long the oldest of them has waited, in milliseconds.
    pub oldest_job_age_ms: Option<i64>,
}

impl Storage {
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

    /// The connected stores with this channel's key (several users may connect one seller's
    /// account), by id: whom a channel's queued notification is for.
    pub async fn connected_stores_with_key(
        &self,
        channel: &str,
        remote_id: &str,
    ) -> Result<Vec<StoreRecord>, StorageError> {
        let sql = format!(
            "SELECT {STORE_COLUMNS} FROM stores WHERE channel = $1 AND remote_id = $2 \
             AND status = 'connected' ORDER BY id"
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, StoreRecord>(&sql)
                .bind(channel)
                .bind(remote_id)
                .fetch_all(pool)
                .await
                .op("finding the stores of a channel's key")
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

    // ---------------------------------------------------------------- figures

    /// Figures of every store for `/metrics`: orders held, outbox rows per state, how far the
    /// order sync has come and the jobs waiting. Five aggregate statements, whatever the number
    /// of stores.
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
                jobs_queued: 0,
                oldest_job_age_ms: None,
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
        for backlog in self.job_backlog(None).await? {
            if let Some(i) = find(&mut figures, backlog.store_id.0) {
                figures[i].jobs_queued = backlog.queued;
                figures[i].oldest_job_age_ms = Some(backlog.oldest_age_ms);
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
