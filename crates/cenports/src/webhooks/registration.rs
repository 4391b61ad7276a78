//! Registering, removing and repairing a store's hooks.
//!
//! - **The hooks** are the channel's business ([`crate::channel::HooksOut`], e.g. one hook
//!   per event it needs, all pointing at the store's receiver URL
//!   ([`super::destination`]), each sending our custom header [`super::HEADER_HOOK_KEY`] with
//!   the store's header secret). It is idempotent: it creates only what is missing, re-activates
//!   what the channel deactivated, corrects what drifted and deletes duplicates, touching only
//!   hooks whose destination ends with this store's receiver path.
//! - **The header secret** is 32 random bytes (base64url), generated once per store, stored
//!   encrypted like the credentials (AEAD with the store and purpose as associated data) in
//!   `webhook_endpoints`, and saved *before* any hook is created so that the first callback is
//!   already accepted. It proves a callback came through a hook we registered; the channel's
//!   signature proves it came from the channel.
//! - The health check ([`repair_all`], run by `cenports serve`) is [`register_hooks`] again for
//!   every connected store. [`remove_hooks`] deletes ours and forgets the endpoint (callbacks
//!   then get 404).

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{destination, receiver_path, HEADER_HOOK_KEY, PURPOSE_HEADER_SECRET};
use crate::channel::{ChannelError, Channels, HookReport, StoreClient};
use crate::secrets::{self, SecretBox, NONCE_LEN};
use crate::storage::{
    EncryptedSecret, Storage, StorageError, StoreRecord, StoreStatus, WebhookEndpoint,
};

/// Why hooks could not be registered, repaired or removed.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// The channel refused or failed a hooks request.
    #[error("managing the webhooks of store {store}: {} request failed", source.channel())]
    Api {
        /// The channel's store key.
        store: String,
        /// The channel's error (endpoint, status).
        #[source]
        source: ChannelError,
    },
    /// The channel calls nobody back over HTTP.
    #[error("store {store}'s channel has no webhooks to register")]
    Unsupported {
        /// The channel's store key.
        store: String,
    },
    /// The hub's database failed.
    #[error("managing the webhooks of store {store}: the database failed")]
    Storage {
        /// The channel's store key.
        store: String,
        /// The storage error.
        #[source]
        source: StorageError,
    },
}

fn api(store: &StoreRecord) -> impl Fn(ChannelError) -> RegistrationError + '_ {
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

fn hooks_of<'a>(
    store: &StoreRecord,
    client: &'a dyn StoreClient,
) -> Result<&'a dyn crate::channel::HooksOut, RegistrationError> {
    client
        .hooks()
        .ok_or_else(|| RegistrationError::Unsupported {
            store: store.remote_id.clone(),
        })
}

/// Registers (or repairs) the store's hooks so that each hook the channel needs exists once,
/// active, pointing at `public_url`'s receiver with the store's header secret.
pub async fn register_hooks(
    storage: &Storage,
    secret_box: &SecretBox,
    store: &StoreRecord,
    client: &dyn StoreClient,
    public_url: &Url,
) -> Result<HookReport, RegistrationError> {
    let hooks = hooks_of(store, client)?;
    let destination = destination(public_url, store);
    let secret = header_secret(storage, secret_box, store, &destination).await?;
    let headers: BTreeMap<String, String> = [(
        HEADER_HOOK_KEY.to_owned(),
        secret.expose_secret().to_owned(),
    )]
    .into();
    let report = hooks
        .ensure_hooks(&destination, &receiver_path(store), &headers)
        .await
        .map_err(api(store))?;
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
    client: &dyn StoreClient,
) -> Result<u64, RegistrationError> {
    let deleted = match client.hooks() {
        Some(hooks) => hooks
            .remove_hooks(&receiver_path(store))
            .await
            .map_err(api(store))?,
        None => 0,
    };
    storage
        .delete_webhook_endpoint(&store.scope())
        .await
        .map_err(db(store))?;
    Ok(deleted)
}

/// The health check: [`register_hooks`] for every connected store whose channel calls back
/// over HTTP, when a public URL is set. A failing store is logged and does not stop the others;
/// returns the reports by store key.
pub async fn repair_all(
    storage: &Storage,
    channels: &Channels,
    public_url: Option<&Url>,
) -> anyhow::Result<BTreeMap<String, HookReport>> {
    let mut reports = BTreeMap::new();
    let Some(public_url) = public_url else {
        return Ok(reports);
    };
    for store in storage.list_all_stores().await? {
        if store.status != StoreStatus::Connected {
            continue;
        }
        let outcome = async {
            let client = channels.client(storage, &store).await?;
            if client.hooks().is_none() {
                return Ok(None);
            }
            let report = register_hooks(
                storage,
                channels.secret_box(),
                &store,
                client.as_ref(),
                public_url,
            )
            .await?;
            Ok::<_, anyhow::Error>(Some(report))
        }
        .await;
        match outcome {
            Ok(Some(report)) => {
                reports.insert(store.remote_id.clone(), report);
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(
                store.id = store.id().get(),
                error = %format!("{error:#}"),
                "webhooks: health check failed for a store; next check"
            ),
        }
    }
    Ok(reports)
}
