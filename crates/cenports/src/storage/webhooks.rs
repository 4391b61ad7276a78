//! Storage for webhooks and reconciliation (`docs/WEBHOOKS.md`): the per-store webhook
//! endpoint (its encrypted header secret and destination), the receipts that de-duplicate
//! callbacks by `webhook-id`, and the per-status views reconciliation compares with the channel.
//!
//! A child of `storage` so that it shares the private backend and the `with_pool!` expansion;
//! every function takes the tenant first, except the two the unauthenticated receiver and the
//! job worker need to go from a store id in a URL to the store ([`Storage::webhook_target`],
//! [`Storage::find_store`]) and the expiry sweep, which is tenant-agnostic housekeeping.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, Row};

use super::error::Context;
use super::{now, Backend, EncryptedSecret, Storage, StorageError, StoreId, StoreRecord};
use super::{StatusCount, StoreScope, STORE_COLUMNS};

/// A store's webhook endpoint: what [`Storage::save_webhook_endpoint`] keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// The secret the channel sends back in our custom header, encrypted (AEAD, random nonce).
    pub header_secret: EncryptedSecret,
    /// The callback URL the hooks were registered with.
    pub destination: String,
}

/// What the receiver needs to check a callback for one store, read in one query.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    /// The store (its scope is the tenant of everything the callback leads to).
    pub store: StoreRecord,
    /// The store's client secret (signs callbacks), encrypted; `None` once disconnected.
    pub client_secret: Option<EncryptedSecret>,
    /// The store's webhook endpoint.
    pub endpoint: WebhookEndpoint,
}

impl Storage {
    /// Saves (or replaces) a store's webhook endpoint.
    pub async fn save_webhook_endpoint(
        &self,
        scope: &StoreScope,
        endpoint: &WebhookEndpoint,
    ) -> Result<(), StorageError> {
        let store = scope.store_id;
        let now = now();
        with_pool!(self, |pool| {
            sqlx::query::<Db>(
                "INSERT INTO webhook_endpoints (store_id, header_secret_ciphertext, \
                 header_secret_nonce, destination, created_at, updated_at) \
                 SELECT id, $1, $2, $3, $4, $4 FROM stores WHERE id = $5 AND user_id = $6 \
                 ON CONFLICT (store_id) DO UPDATE SET \
                 header_secret_ciphertext = excluded.header_secret_ciphertext, \
                 header_secret_nonce = excluded.header_secret_nonce, \
                 destination = excluded.destination, updated_at = excluded.updated_at",
            )
            .bind(&endpoint.header_secret.ciphertext)
            .bind(&endpoint.header_secret.nonce)
            .bind(&endpoint.destination)
            .bind(now)
            .bind(store.0)
            .bind(scope.user_id.0)
            .execute(pool)
            .await
            .map(|_| ())
            .op_store("saving a webhook endpoint", store)
        })?;
        Ok(())
    }

    /// A store's webhook endpoint, if its hooks were registered.
    pub async fn get_webhook_endpoint(
        &self,
        scope: &StoreScope,
    ) -> Result<Option<WebhookEndpoint>, StorageError> {
        let store = scope.store_id;
        let row: Option<(Vec<u8>, Vec<u8>, String)> = with_pool!(self, |pool| {
            sqlx::query_as::<Db, (Vec<u8>, Vec<u8>, String)>(
                "SELECT w.header_secret_ciphertext, w.header_secret_nonce, w.destination \
                 FROM webhook_endpoints w JOIN stores s ON s.id = w.store_id \
                 WHERE w.store_id = $1 AND s.user_id = $2",
            )
            .bind(store.0)
            .bind(scope.user_id.0)
            .fetch_optional(pool)
            .await
            .op_store("reading a webhook endpoint", store)
        })?;
        Ok(row.map(|(ciphertext, nonce, destination)| WebhookEndpoint {
            header_secret: EncryptedSecret { ciphertext, nonce },
            destination,
        }))
    }

    /// Forgets a store's webhook endpoint (after its hooks were removed): callbacks for it are
    /// then answered 404.
    pub async fn delete_webhook_endpoint(&self, scope: &StoreScope) -> Result<(), StorageError> {
        let store = scope.store_id;
        with_pool!(self, |pool| {
            sqlx::query::<Db>(
                "DELETE FROM webhook_endpoints WHERE store_id = $1 \
                 AND store_id IN (SELECT id FROM stores WHERE user_id = $2)",
            )
            .bind(store.0)
            .bind(scope.user_id.0)
            .execute(pool)
            .await
            .map(|_| ())
            .op_store("deleting a webhook endpoint", store)
        })?;
        Ok(())
    }

    /// The store named by a callback URL with its endpoint and client secret, in one query;
    /// `None` when there is no such store or it has no endpoint. For the receiver only: the
    /// caller must still prove it is the channel (header secret and signature) before acting.
    pub async fn webhook_target(&self, id: StoreId) -> Result<Option<WebhookTarget>, StorageError> {
        let columns: Vec<String> = STORE_COLUMNS
            .split(',')
            .map(|c| format!("s.{}", c.trim()))
            .collect();
        let sql = format!(
            "SELECT {}, s.client_secret_ciphertext, s.client_secret_nonce, \
             w.header_secret_ciphertext, w.header_secret_nonce, w.destination \
             FROM stores s JOIN webhook_endpoints w ON w.store_id = s.id WHERE s.id = $1",
            columns.join(", ")
        );
        with_pool!(self, |pool| {
            let row = sqlx::query::<Db>(&sql)
                .bind(id.0)
                .fetch_optional(pool)
                .await
                .op_store("reading a webhook target", id)?;
            let Some(row) = row else {
                return Ok(None);
            };
            let read = || -> Result<WebhookTarget, sqlx::Error> {
                let store = StoreRecord::from_row(&row)?;
                let cipher: Option<Vec<u8>> = row.try_get("client_secret_ciphertext")?;
                let nonce: Option<Vec<u8>> = row.try_get("client_secret_nonce")?;
                Ok(WebhookTarget {
                    store,
                    client_secret: cipher
                        .zip(nonce)
                        .map(|(ciphertext, nonce)| EncryptedSecret { ciphertext, nonce }),
                    endpoint: WebhookEndpoint {
                        header_secret: EncryptedSecret {
                            ciphertext: row.try_get("header_secret_ciphertext")?,
                            nonce: row.try_get("header_secret_nonce")?,
                        },
                        destination: row.try_get("destination")?,
                    },
                })
            };
            read().map(Some).op_store("reading a webhook target", id)
        })
    }

    /// A store by our id, whoever owns it: for the webhook job worker, whose jobs carry the
    /// store id of a callback that was already authenticated.
    pub async fn find_store(&self, id: StoreId) -> Result<Option<StoreRecord>, StorageError> {
        let sql = format!("SELECT {STORE_COLUMNS} FROM stores WHERE id = $1");
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, StoreRecord>(&sql)
                .bind(id.0)
                .fetch_optional(pool)
                .await
                .op_store("reading a store", id)
        })
    }

    /// Records that a callback was accepted. `true` when it is new; `false` when this
    /// `webhook-id` was already recorded for the store (a retry or a duplicate delivery), even
    /// when two deliveries race: the primary key decides, in the database.
    pub async fn record_webhook_receipt(
        &self,
        scope: &StoreScope,
        message_id: &str,
        event_scope: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let store = scope.store_id;
        let affected = with_pool!(self, |pool| {
            sqlx::query::<Db>(
                "INSERT INTO webhook_receipts (store_id, message_id, scope, received_at, \
                 expires_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (store_id, message_id) DO NOTHING",
            )
            .bind(store.0)
            .bind(message_id)
            .bind(event_scope)
            .bind(now())
            .bind(expires_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            .op_store("recording a webhook receipt", store)
        })?;
        Ok(affected == 1)
    }

    /// Forgets a receipt (the callback could not be queued after all, so its retry must be
    /// accepted).
    pub async fn forget_webhook_receipt(
        &self,
        scope: &StoreScope,
        message_id: &str,
    ) -> Result<(), StorageError> {
        let store = scope.store_id;
        with_pool!(self, |pool| {
            sqlx::query::<Db>(
                "DELETE FROM webhook_receipts WHERE store_id = $1 AND message_id = $2",
            )
            .bind(store.0)
            .bind(message_id)
            .execute(pool)
            .await
            .map(|_| ())
            .op_store("forgetting a webhook receipt", store)
        })?;
        Ok(())
    }

    /// Deletes receipts that expired before `now`; returns how many.
    pub async fn purge_webhook_receipts(&self, now: DateTime<Utc>) -> Result<u64, StorageError> {
        with_pool!(self, |pool| {
            sqlx::query::<Db>("DELETE FROM webhook_receipts WHERE expires_at < $1")
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
                .op("purging webhook receipts")
        })
    }

    /// Orders per channel status, archived (deleted) orders left out: what a channel's own
    /// counts per status count, for reconciliation.
    pub async fn count_live_orders_by_status(
        &self,
        scope: &StoreScope,
    ) -> Result<Vec<StatusCount>, StorageError> {
        let store = scope.store_id;
        let rows: Vec<(String, String, i64)> = with_pool!(self, |pool| {
            sqlx::query_as::<Db, (String, String, i64)>(
                "SELECT status_code, MAX(status_name), COUNT(*) FROM orders \
                 WHERE store_id = $1 AND is_deleted = $2 GROUP BY status_code \
                 ORDER BY length(status_code), status_code",
            )
            .bind(store.0)
            .bind(false)
            .fetch_all(pool)
            .await
            .op_store("counting live orders by status", store)
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

    /// The channel ids of the store's live (not archived) orders in one status, in their
    /// natural order (numeric ids by value).
    pub async fn list_live_order_ids_by_status(
        &self,
        scope: &StoreScope,
        status_code: &str,
    ) -> Result<Vec<String>, StorageError> {
        let store = scope.store_id;
        with_pool!(self, |pool| {
            sqlx::query_scalar::<Db, String>(
                "SELECT remote_id FROM orders WHERE store_id = $1 AND status_code = $2 \
                 AND is_deleted = $3 ORDER BY length(remote_id), remote_id",
            )
            .bind(store.0)
            .bind(status_code)
            .bind(false)
            .fetch_all(pool)
            .await
            .op_store("listing order ids by status", store)
        })
    }

    /// How many live orders of a status were created in `[from, to]` (both inclusive), and
    /// the earliest and latest creation time among them: reconciliation's side of a window.
    pub async fn live_orders_created_between(
        &self,
        scope: &StoreScope,
        status_code: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(i64, Option<DateTime<Utc>>, Option<DateTime<Utc>>), StorageError> {
        let store = scope.store_id;
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, (i64, Option<DateTime<Utc>>, Option<DateTime<Utc>>)>(
                "SELECT COUNT(*), MIN(date_created), MAX(date_created) FROM orders \
                 WHERE store_id = $1 AND status_code = $2 AND is_deleted = $3 \
                 AND date_created >= $4 AND date_created <= $5",
            )
            .bind(store.0)
            .bind(status_code)
            .bind(false)
            .bind(from)
            .bind(to)
            .fetch_one(pool)
            .await
            .op_store("counting live orders of a status in a window", store)
        })
    }

    /// The channel ids of the live orders of a status created in `[from, to]`, in their
    /// natural order.
    pub async fn list_live_order_ids_created_between(
        &self,
        scope: &StoreScope,
        status_code: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<String>, StorageError> {
        let store = scope.store_id;
        with_pool!(self, |pool| {
            sqlx::query_scalar::<Db, String>(
                "SELECT remote_id FROM orders WHERE store_id = $1 AND status_code = $2 \
                 AND is_deleted = $3 AND date_created >= $4 AND date_created <= $5 \
                 ORDER BY length(remote_id), remote_id",
            )
            .bind(store.0)
            .bind(status_code)
            .bind(false)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await
            .op_store("listing order ids of a status in a window", store)
        })
    }
}
