//! Registering, removing and repairing a store's hooks (`/v3/hooks`).
//!
//! - **One hook per scope** in [`HOOK_SCOPES`] (orders created, updated, status changed,
//!   archived; shipments created, updated, deleted; product and SKU inventory), all pointing at
//!   the store's receiver URL ([`super::destination`]), each sending our custom header
//!   [`super::HEADER_HOOK_KEY`] with the store's header secret.
//! - **The header secret** is 32 random bytes (base64url), generated once per store, stored
//!   encrypted like the credentials (AEAD with the store and purpose as associated data) in
//!   `webhook_endpoints`, and saved *before* any hook is created so that the first callback is
//!   already accepted. It proves a callback came through a hook we registered; the Standard
//!   Webhooks signature proves it came from BigCommerce.
//! - **Idempotent**: [`register_hooks`] lists the hooks first and only creates what is missing,
//!   re-activates what BigCommerce deactivated (after 48 hours of failed deliveries), updates a
//!   hook whose destination or header drifted, and deletes duplicates and hooks of ours for
//!   scopes no longer needed. The health check ([`repair_all`], run by `cenports serve`) is the
//!   same call. A hook is "ours" when its destination ends with this store's receiver path, so
//!   hooks of other apps on the same API account are never touched, and a change of public URL
//!   re-points ours.
//! - [`remove_hooks`] deletes ours and forgets the endpoint (callbacks then get 404).
//!
//! Cost: one `GET /v3/hooks`, plus one request per hook to create, update or delete; a healthy
//! store's check is one request.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bigcommerce_client::{Client, CreateHook, Hook, UpdateHook};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{destination, receiver_path, HEADER_HOOK_KEY, PURPOSE_HEADER_SECRET};
use crate::config::Settings;
use crate::secrets::{self, SecretBox, NONCE_LEN};
use crate::storage::{
    EncryptedSecret, Storage, StorageError, StoreRecord, StoreStatus, WebhookEndpoint,
};
use crate::sync::scheduler::store_client;

/// The scopes the hub subscribes to, one hook each.
pub const HOOK_SCOPES: [&str; 9] = [
    "store/order/created",
    "store/order/updated",
    "store/order/statusUpdated",
    "store/order/archived",
    "store/shipment/created",
    "store/shipment/updated",
    "store/shipment/deleted",
    "store/product/inventory/updated",
    "store/sku/inventory/updated",
];

/// Why hooks could not be registered, repaired or removed.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// BigCommerce refused or failed a hooks request.
    #[error("managing the webhooks of store {store}: BigCommerce request failed")]
    Api {
        /// The store hash.
        store: String,
        /// The client's error (endpoint, status).
        #[source]
        source: bigcommerce_client::Error,
    },
    /// The hub's database failed.
    #[error("managing the webhooks of store {store}: the database failed")]
    Storage {
        /// The store hash.
        store: String,
        /// The storage error.
        #[source]
        source: StorageError,
    },
}

/// What a registration or repair did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookReport {
    /// The destination every hook points at.
    pub destination: String,
    /// Hooks created.
    pub created: u64,
    /// Hooks BigCommerce had deactivated, activated again.
    pub reactivated: u64,
    /// Active hooks whose destination or header was corrected.
    pub updated: u64,
    /// Duplicate or no longer needed hooks of ours deleted.
    pub deleted: u64,
    /// Hooks already right.
    pub unchanged: u64,
}

impl HookReport {
    /// Whether anything had to change.
    pub fn changed(&self) -> bool {
        self.created + self.reactivated + self.updated + self.deleted > 0
    }
}

fn api(store: &StoreRecord) -> impl Fn(bigcommerce_client::Error) -> RegistrationError + '_ {
    move |source| RegistrationError::Api {
        store: store.remote_id.clone(),
        source,
    }
}

fn db(store: &StoreRecord) -> impl Fn(StorageError) -> RegistrationError + '_ {
    move |source| RegistrationError::Storage {
        store: store.remote_id.clone(),
        source,
    }
}

/// Whether a hook points at this store's receiver (at any public URL).
fn is_ours(hook: &Hook, store: &StoreRecord) -> bool {
    let path = receiver_path(store.id());
    hook.destination
        .as_deref()
        .and_then(|d| Url::parse(d).ok())
        .is_some_and(|url| url.path().trim_end_matches('/').ends_with(&path))
}

/// The store's header secret: the stored one, or a new random one (saved before use).
async fn header_secret(
    storage: &Storage,
    secret_box: &SecretBox,
    store: &StoreRecord,
    destination: &str,
) -> Result<SecretString, RegistrationError> {
    let aad = secrets::aad(&store.remote_id, PURPOSE_HEADER_SECRET);
    let existing = storage
        .get_webhook_endpoint(&store.scope())
        .await
        .map_err(db(store))?;
    if let Some(endpoint) = existing {
        let mut sealed = endpoint.header_secret.nonce.clone();
        sealed.extend_from_slice(&endpoint.header_secret.ciphertext);
        if let Ok(secret) = secret_box.decrypt(&sealed, &aad) {
            if endpoint.destination != destination {
                storage
                    .save_webhook_endpoint(
                        &store.scope(),
                        &WebhookEndpoint {
                            destination: destination.to_owned(),
                            ..endpoint
                        },
                    )
                    .await
                    .map_err(db(store))?;
            }
            return Ok(secret);
        }
        // A key change made it unreadable: a new secret replaces it below.
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = SecretString::from(URL_SAFE_NO_PAD.encode(bytes));
    let mut sealed = secret_box.encrypt(&secret, &aad);
    let ciphertext = sealed.split_off(NONCE_LEN);
    storage
        .save_webhook_endpoint(
            &store.scope(),
            &WebhookEndpoint {
                header_secret: EncryptedSecret {
                    ciphertext,
                    nonce: sealed,
                },
                destination: destination.to_owned(),
            },
        )
        .await
        .map_err(db(store))?;
    Ok(secret)
}

/// Registers (or repairs) the store's hooks so that each of [`HOOK_SCOPES`] has exactly one
/// active hook of ours, pointing at `public_url`'s receiver with the store's header secret.
pub async fn register_hooks(
    storage: &Storage,
    secret_box: &SecretBox,
    store: &StoreRecord,
    client: &Client,
    public_url: &Url,
) -> Result<HookReport, RegistrationError> {
    let destination = destination(public_url, store.id());
    let secret = header_secret(storage, secret_box, store, &destination).await?;
    let headers: BTreeMap<String, String> = [(
        HEADER_HOOK_KEY.to_owned(),
        secret.expose_secret().to_owned(),
    )]
    .into();
    let mut report = HookReport {
        destination: destination.clone(),
        ..HookReport::default()
    };
    let mut ours: Vec<Hook> = client
        .list_hooks()
        .await
        .map_err(api(store))?
        .into_iter()
        .filter(|hook| is_ours(hook, store))
        .collect();
    ours.sort_by_key(|hook| hook.id);
    for scope in HOOK_SCOPES {
        let mut matching = ours.iter().filter(|h| h.scope.as_deref() == Some(scope));
        match matching.next() {
            None => {
                client
                    .create_hook(&CreateHook {
                        scope: scope.to_owned(),
                        destination: destination.clone(),
                        is_active: Some(true),
                        headers: Some(headers.clone()),
                    })
                    .await
                    .map_err(api(store))?;
                report.created += 1;
            }
            Some(hook) => {
                let active = hook.is_active != Some(false);
                let right = active
                    && hook.destination.as_deref() == Some(destination.as_str())
                    && hook.headers.as_ref() == Some(&headers);
                if right {
                    report.unchanged += 1;
                } else {
                    client
                        .update_hook(
                            hook.id,
                            &UpdateHook {
                                is_active: Some(true),
                                destination: Some(destination.clone()),
                                headers: Some(headers.clone()),
                                ..UpdateHook::default()
                            },
                        )
                        .await
                        .map_err(api(store))?;
                    if active {
                        report.updated += 1;
                    } else {
                        report.reactivated += 1;
                    }
                }
            }
        }
        for duplicate in matching {
            client.delete_hook(duplicate.id).await.map_err(api(store))?;
            report.deleted += 1;
        }
    }
    for stale in ours
        .iter()
        .filter(|h| !HOOK_SCOPES.contains(&h.scope.as_deref().unwrap_or_default()))
    {
        client.delete_hook(stale.id).await.map_err(api(store))?;
        report.deleted += 1;
    }
    if report.changed() {
        tracing::info!(
            store.id = store.id().get(),
            hooks.created = report.created,
            hooks.reactivated = report.reactivated,
            hooks.updated = report.updated,
            hooks.deleted = report.deleted,
            "webhooks: hooks registered or repaired"
        );
    }
    Ok(report)
}

/// Deletes every hook of ours of the store and forgets its endpoint; returns how many hooks
/// were deleted. Call it before the store's credentials are forgotten.
pub async fn remove_hooks(
    storage: &Storage,
    store: &StoreRecord,
    client: &Client,
) -> Result<u64, RegistrationError> {
    let mut deleted = 0;
    for hook in client.list_hooks().await.map_err(api(store))? {
        if is_ours(&hook, store) {
            client.delete_hook(hook.id).await.map_err(api(store))?;
            deleted += 1;
        }
    }
    storage
        .delete_webhook_endpoint(&store.scope())
        .await
        .map_err(db(store))?;
    Ok(deleted)
}

/// The health check: [`register_hooks`] for every connected store, when a public URL is set.
/// A failing store is logged and does not stop the others; returns the reports by store hash.
pub async fn repair_all(
    settings: &Settings,
    storage: &Storage,
) -> anyhow::Result<BTreeMap<String, HookReport>> {
    let mut reports = BTreeMap::new();
    let Some(public_url) = &settings.public_url else {
        return Ok(reports);
    };
    let secret_box = settings.secret_box()?;
    for store in storage.list_all_stores().await? {
        if store.status != StoreStatus::Connected {
            continue;
        }
        let outcome = async {
            let client = store_client(settings, storage, &store).await?;
            Ok::<_, anyhow::Error>(
                register_hooks(storage, &secret_box, &store, &client, public_url).await?,
            )
        }
        .await;
        match outcome {
            Ok(report) => {
                reports.insert(store.remote_id.clone(), report);
            }
            Err(error) => tracing::warn!(
                store.id = store.id().get(),
                error = %format!("{error:#}"),
                "webhooks: health check failed for a store; next check"
            ),
        }
    }
    Ok(reports)
}
