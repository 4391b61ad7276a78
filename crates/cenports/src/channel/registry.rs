//! The registry: which implementation serves each `stores.channel`, and every store's client.
//!
//! This is the one place outside a channel's folder that names a channel ([`builtin`]). One
//! [`Channels`] is made per process ([`crate::server::App::build`] for `serve` and `worker`,
//! `Settings::channels` for the CLI) and shared by every task: the scheduler, the outbox
//! worker, the webhook receiver and worker, the API and the dashboard. It holds
//!
//! - the channels by name;
//! - the key that opens stored credentials (read once, not on every client);
//! - the per-store limiters, keyed by the channel's store identity ([`Limiters`]);
//! - a client per store, kept while the store's row is unchanged: a reconnect (rotated
//!   credentials) changes its `updated_at`, and the client is rebuilt with the new token.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use url::Url;

use super::amazon::{self, Amazon};
use super::bigcommerce::{self, BigCommerce};
use super::credentials::{decrypt_credentials, CredentialsError, PURPOSE_CLIENT_SECRET};
use super::{Channel, Limiters, OpenOptions, Priority, StoreClient};
use crate::secrets::SecretBox;
use crate::storage::{EncryptedSecret, Storage, StoreId, StoreRecord};

/// A channel's host setting: `key` in the config file (`{channel}_api_url` for its API host),
/// `CENPORTS_{KEY}` in the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiUrlSetting {
    /// The name the URL is kept under in [`ApiUrls`]: the channel's name for its API host, or
    /// `{channel}_{what}` for another host of the channel (Amazon's Login with Amazon host is
    /// `amazon_auth`).
    pub channel: &'static str,
    /// The config file's key (`bigcommerce_api_url`, `amazon_auth_url`).
    pub key: &'static str,
    /// Its public host; empty for an optional host that has none (Amazon's notification
    /// queue): unset, it is left out of [`ApiUrls`].
    pub default: &'static str,
}

impl ApiUrlSetting {
    /// Whether the host may be left unset.
    pub fn optional(&self) -> bool {
        self.default.is_empty()
    }
}

/// Every built-in channel's host settings.
pub const API_URL_SETTINGS: [ApiUrlSetting; 4] = [
    ApiUrlSetting {
        channel: bigcommerce::CHANNEL,
        key: "bigcommerce_api_url",
        default: bigcommerce::DEFAULT_API_URL,
    },
    ApiUrlSetting {
        channel: amazon::CHANNEL,
        key: "amazon_api_url",
        default: amazon::DEFAULT_API_URL,
    },
    ApiUrlSetting {
        channel: amazon::AUTH_URL_NAME,
        key: "amazon_auth_url",
        default: amazon::DEFAULT_AUTH_URL,
    },
    ApiUrlSetting {
        channel: amazon::QUEUE_URL_NAME,
        key: "amazon_queue_url",
        default: "",
    },
];

/// The API host of each built-in channel, as configured.
pub type ApiUrls = BTreeMap<&'static str, Url>;

/// The built-in channels on their configured API hosts (the default host where none is set;
/// an optional host only where one is set).
pub fn builtin(api_urls: &ApiUrls) -> Vec<Arc<dyn Channel>> {
    let url = |setting: &ApiUrlSetting| {
        api_urls
            .get(setting.channel)
            .cloned()
            .unwrap_or_else(|| Url::parse(setting.default).expect("a default URL is valid"))
    };
    vec![
        Arc::new(BigCommerce::new(url(&API_URL_SETTINGS[0]))),
        Arc::new(
            Amazon::new(url(&API_URL_SETTINGS[1]), url(&API_URL_SETTINGS[2]))
                .with_queue(api_urls.get(API_URL_SETTINGS[3].channel).cloned()),
        ),
    ]
}

/// Runs `future` in `priority` for each built-in channel that takes the class from a scope of
/// its own (its client crate's), for [`super::with_priority`]: one line per such channel.
pub(super) async fn with_channel_priority<F: Future>(priority: Priority, future: F) -> F::Output {
    bigcommerce::with_priority(priority, future).await
}

/// The channel of `store` among `channels` (a registry's, or [`builtin`]'s for a command that
/// needs no credentials).
pub fn channel_of<'a>(
    channels: &'a [Arc<dyn Channel>],
    store: &StoreRecord,
) -> Result<&'a Arc<dyn Channel>, UnknownChannel> {
    channels
        .iter()
        .find(|c| c.name() == store.channel)
        .ok_or_else(|| UnknownChannel {
            store: store.remote_id.clone(),
            channel: store.channel.clone(),
        })
}

/// A store whose channel this build does not know.
#[derive(Debug, thiserror::Error)]
#[error(
    "store {store} uses the channel {channel:?}, which this version of cenports does not know; \
     upgrade cenports, or disconnect the store"
)]
pub struct UnknownChannel {
    /// The channel's store key.
    pub store: String,
    /// The stored channel name.
    pub channel: String,
}

/// The channels, the credentials key, the per-store limiters and clients of a process. Clone
/// freely (a handle).
#[derive(Clone)]
pub struct Channels {
    channels: Arc<Vec<Arc<dyn Channel>>>,
    secret_box: Arc<SecretBox>,
    limiters: Limiters,
    options: OpenOptions,
    clients: Arc<tokio::sync::Mutex<ClientCache>>,
}

type ClientCache = HashMap<StoreId, (DateTime<Utc>, Arc<dyn StoreClient>)>;

impl std::fmt::Debug for Channels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channels")
            .field(
                "channels",
                &self.channels.iter().map(|c| c.name()).collect::<Vec<_>>(),
            )
            .field("limiters", &self.limiters)
            .field("options", &self.options)
            .finish()
    }
}

impl Channels {
    /// The registry of `channels`, opening credentials with `secret_box`.
    pub fn new(secret_box: Arc<SecretBox>, channels: Vec<Arc<dyn Channel>>) -> Self {
        Channels {
            channels: Arc::new(channels),
            secret_box,
            limiters: Limiters::default(),
            options: OpenOptions::default(),
            clients: Arc::default(),
        }
    }

    /// The built-in channels on their configured hosts.
    pub fn standard(secret_box: Arc<SecretBox>, api_urls: &ApiUrls) -> Self {
        Self::new(secret_box, builtin(api_urls))
    }

    /// Adds (or replaces, by name) a channel: tests plug their own in.
    pub fn with_channel(mut self, channel: Arc<dyn Channel>) -> Self {
        let channels = Arc::make_mut(&mut self.channels);
        channels.retain(|c| c.name() != channel.name());
        channels.push(channel);
        self
    }

    /// Every client opened from now on uses this request timeout (the outbox's CLI flag).
    pub fn with_request_timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
        self.options.request_timeout = timeout;
        self.clients = Arc::default();
        self
    }

    /// Every channel, in registration order.
    pub fn all(&self) -> &[Arc<dyn Channel>] {
        &self.channels
    }

    /// The channel named `name` (`stores.channel`).
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Channel>> {
        self.channels.iter().find(|c| c.name() == name)
    }

    /// The channel of a store.
    pub fn of(&self, store: &StoreRecord) -> Result<&Arc<dyn Channel>, UnknownChannel> {
        channel_of(&self.channels, store)
    }

    /// The key that opens stored secrets.
    pub fn secret_box(&self) -> &Arc<SecretBox> {
        &self.secret_box
    }

    /// The per-store limiters every client of this registry paces on.
    pub fn limiters(&self) -> &Limiters {
        &self.limiters
    }

    /// The store's client, built once and kept while the store's row is unchanged. The
    /// credentials are read from the database when it is (re)built, so rotated credentials are
    /// used at once.
    pub async fn client(
        &self,
        storage: &Storage,
        store: &StoreRecord,
    ) -> Result<Arc<dyn StoreClient>> {
        let mut clients = self.clients.lock().await;
        if let Some((version, client)) = clients.get(&store.id()) {
            if *version == store.updated_at {
                return Ok(client.clone());
            }
        }
        let client = self.open(storage, store).await?;
        clients.insert(store.id(), (store.updated_at, client.clone()));
        Ok(client)
    }

    /// The client of the store with this id (its row is read first, so a reconnect is seen).
    pub async fn client_by_id(
        &self,
        storage: &Storage,
        store: StoreId,
    ) -> Result<Arc<dyn StoreClient>> {
        let record = storage
            .find_store(store)
            .await?
            .with_context(|| format!("{store} is no longer in the hub"))?;
        self.client(storage, &record).await
    }

    /// A client of its own for `store`, not kept: what a one-shot command that is the
    /// process's only user of the store wants. It still paces on the registry's limiter.
    pub async fn open(
        &self,
        storage: &Storage,
        store: &StoreRecord,
    ) -> Result<Arc<dyn StoreClient>> {
        let sealed = storage
            .get_store_credentials(&store.scope())
            .await?
            .ok_or_else(|| CredentialsError::Disconnected {
                store: store.remote_id.clone(),
            })?;
        let credentials = decrypt_credentials(&self.secret_box, &store.remote_id, &sealed)
            .context(
                "the key (secret_key or key_file setting) is not the one the store was saved \
                 with; restore that key, or reconnect the store with `cenports connect`",
            )?;
        let channel = self.of(store)?;
        let client = channel
            .open(store, credentials, &self.options, &self.limiters)
            .with_context(|| format!("could not build the {} client", channel.display_name()))?;
        Ok(client)
    }

    /// Drops the kept client of a store (its token may have been revoked): the next use
    /// rebuilds it.
    pub async fn forget(&self, store: StoreId) {
        self.clients.lock().await.remove(&store);
    }

    /// The requests left in the store's quota window as the last answer to any of its clients
    /// said; `None` before the first.
    pub async fn requests_left(&self, store: StoreId) -> Option<u64> {
        let clients = self.clients.lock().await;
        clients.get(&store)?.1.requests_left()
    }

    /// Opens a secret stored for a store under `purpose` (the webhook header secret, the client
    /// secret that keys callback signatures); `None` when it does not open with this key.
    pub fn open_secret(
        &self,
        store: &StoreRecord,
        value: &EncryptedSecret,
        purpose: &str,
    ) -> Option<SecretString> {
        let mut sealed = Vec::with_capacity(value.nonce.len() + value.ciphertext.len());
        sealed.extend_from_slice(&value.nonce);
        sealed.extend_from_slice(&value.ciphertext);
        self.secret_box
            .decrypt(&sealed, &crate::secrets::aad(&store.remote_id, purpose))
            .ok()
    }

    /// The store's client secret, which keys its callbacks' signatures.
    pub fn client_secret(
        &self,
        store: &StoreRecord,
        value: &EncryptedSecret,
    ) -> Option<SecretString> {
        self.open_secret(store, value, PURPOSE_CLIENT_SECRET)
    }
}

/// Where the outbox worker gets a store's client: the registry in production, clients given
/// up front in tests that drive a channel by hand.
pub trait ChannelClients: Sync {
    /// The client of `store`.
    fn client(
        &self,
        storage: &Storage,
        store: StoreId,
    ) -> impl Future<Output = Result<Arc<dyn StoreClient>>> + Send;
}

impl ChannelClients for Channels {
    async fn client(&self, storage: &Storage, store: StoreId) -> Result<Arc<dyn StoreClient>> {
        self.client_by_id(storage, store).await
    }
}

impl ChannelClients for HashMap<StoreId, Arc<dyn StoreClient>> {
    async fn client(&self, _: &Storage, store: StoreId) -> Result<Arc<dyn StoreClient>> {
        self.get(&store)
            .cloned()
            .with_context(|| format!("no channel client for {store}"))
    }
}
