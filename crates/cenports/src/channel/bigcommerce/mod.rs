//! # BigCommerce, the first channel
//!
//! Everything of the hub that knows BigCommerce, laid out as every channel's folder is
//! (`docs/ARCHITECTURE.md`, "Channels"):
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`BigCommerce`] (the [`Channel`]) and [`BigCommerceStore`] (a store's [`StoreClient`]), the error mapping |
//! | `connect/` | the merchant's input, the credentials `.txt`, the scope probes (`docs/CONNECT.md`) |
//! | `mapping.rs` | the client's models → the core's records; the default status mapping |
//! | `orders.rs` | orders in: the keyset-by-id walks, one order, counts per status (`docs/SYNC.md`) |
//! | `catalog.rs` | catalog in: the product walk and one product |
//! | `fulfilment.rs` | fulfilment out: carriers, statuses, the shipment with its marker, read-back |
//! | `stock.rs` | stock out: batched variant and product writes, read-back |
//! | `webhooks.rs` | webhooks in: signature, light payloads → hints, the hooks of a store |
//!
//! The wire is the `bigcommerce-client` crate; nothing outside this folder uses it (the CLI
//! aside, which builds the sandbox and the benchmarks).

mod catalog;
pub mod connect;
pub mod fulfilment;
pub mod mapping;
mod orders;
mod stock;
pub mod webhooks;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use bigcommerce_client::{Client, ClientConfig, RateLimiter};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use self::connect::{ConnectInput, ConnectSettings, StoreHash};
use super::{
    Callback, CallbackError, CatalogIn, Channel, ChannelError, ConnectField, ConnectFile,
    ConnectForm, ConnectRefused, ConnectSubmission, Credentials, ErrorKind, FulfilmentOut,
    HooksOut, Limiters, OpenOptions, OrdersIn, Pacing, Priority, StockOut, StoreClient,
    VerifiedStore,
};
use crate::storage::StoreRecord;

pub use connect::API_URL_ENV;

/// The channel's name in `stores.channel`.
pub const CHANNEL: &str = "bigcommerce";

/// The channel's name in messages.
pub const DISPLAY_NAME: &str = "BigCommerce";

/// BigCommerce's public API host.
pub const DEFAULT_API_URL: &str = bigcommerce_client::DEFAULT_API_BASE_URL;

/// The largest credentials file the dashboard accepts (BigCommerce's is a few hundred bytes).
pub const MAX_CREDENTIALS_FILE: usize = 16 * 1024;

/// BigCommerce as a channel: the API host every request goes to (the operator's choice, never
/// the merchant's; a sandbox in development).
#[derive(Debug, Clone)]
pub struct BigCommerce {
    settings: ConnectSettings,
}

impl BigCommerce {
    /// The channel on this API host.
    pub fn new(api_base_url: Url) -> Self {
        BigCommerce {
            settings: ConnectSettings::new(api_base_url),
        }
    }

    /// How connect checks and store clients reach BigCommerce.
    pub fn connect_settings(&self) -> &ConnectSettings {
        &self.settings
    }

    /// The client configuration of a stored store. The API host is the operator's, never the
    /// one recorded with the store, as for connect.
    pub fn client_config(
        &self,
        store: &StoreRecord,
        credentials: &Credentials,
    ) -> Result<ClientConfig, ChannelError> {
        let hash = StoreHash::parse(&store.remote_id).ok_or_else(|| {
            ChannelError::new(
                DISPLAY_NAME,
                ErrorKind::Unauthorized,
                format!(
                    "store {:?} has no valid BigCommerce store hash; reconnect it",
                    store.remote_id
                ),
            )
        })?;
        Ok(self.settings.client_config(
            &hash,
            credentials.access_token.clone(),
            &credentials.client_id,
            Some(credentials.client_secret.clone()),
        ))
    }
}

/// One BigCommerce store's client (cheap to clone: the client is a handle).
#[derive(Debug, Clone)]
pub struct BigCommerceStore {
    client: Client,
}

impl BigCommerceStore {
    /// The store behind a client (tests and benchmarks build clients by hand).
    pub fn new(client: Client) -> Self {
        BigCommerceStore { client }
    }

    /// The client (and so the store's limiter).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// Runs `future` with the client's requests in the class `priority`: the store's limiter
/// reads it from the client's own scope ([`bigcommerce_client::with_priority`]). Called by the
/// registry for [`super::with_priority`].
pub(crate) async fn with_priority<F: Future>(priority: Priority, future: F) -> F::Output {
    let class = match priority {
        Priority::Urgent => bigcommerce_client::Priority::Urgent,
        Priority::Hint => bigcommerce_client::Priority::Hint,
        Priority::Sync => bigcommerce_client::Priority::Sync,
        Priority::Backfill => bigcommerce_client::Priority::Backfill,
    };
    bigcommerce_client::with_priority(class, future).await
}

/// A client error in the seam's words: refusals and missing orders are final, credentials and
/// scopes need a person, the rest is worth retrying. The client's message stays the error's.
pub fn api_error(error: bigcommerce_client::Error) -> ChannelError {
    use bigcommerce_client::Error as E;
    let kind = match &error {
        E::Validation { .. } | E::InvalidRequest { .. } => ErrorKind::Rejected,
        E::NotFound { .. } => ErrorKind::NotFound,
        E::Unauthorized { .. } | E::MissingScope { .. } | E::Config { .. } => {
            ErrorKind::Unauthorized
        }
        _ => ErrorKind::Unavailable,
    };
    ChannelError::new(DISPLAY_NAME, kind, error)
}

const FIELD_STORE_URL: &str = "store_url";
const FIELD_CLIENT_ID: &str = "client_id";
const FIELD_CLIENT_SECRET: &str = "client_secret";
const FIELD_ACCESS_TOKEN: &str = "access_token";

#[async_trait]
impl Channel for BigCommerce {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    fn display_name(&self) -> &'static str {
        DISPLAY_NAME
    }

    fn connect_form(&self) -> ConnectForm {
        ConnectForm {
            intro: "Fill in the API account's credentials as the merchant guide lists them, or \
                    upload the .txt BigCommerce downloaded when the account was created. The \
                    check runs when you submit; nothing is saved until it passes.",
            fields: vec![
                ConnectField {
                    name: FIELD_STORE_URL,
                    label: "Store URL",
                    secret: false,
                    placeholder: "https://store-XXXX.mybigcommerce.com",
                    hint: "The Permanent Address from Store Profile, the API PATH, or the store \
                           hash.",
                },
                ConnectField {
                    name: FIELD_CLIENT_ID,
                    label: "Client ID",
                    secret: false,
                    placeholder: "",
                    hint: "",
                },
                ConnectField {
                    name: FIELD_CLIENT_SECRET,
                    label: "Client Secret",
                    secret: true,
                    placeholder: "",
                    hint: "",
                },
                ConnectField {
                    name: FIELD_ACCESS_TOKEN,
                    label: "Access Token",
                    secret: true,
                    placeholder: "",
                    hint: "",
                },
            ],
            file: Some(ConnectFile {
                name: "credentials_file",
                label: "Or the credentials .txt",
                hint: "When a file is given, the fields above are not used.",
                accept: ".txt,text/plain",
                max_bytes: MAX_CREDENTIALS_FILE,
            }),
            permissions_caption: "The scopes the merchant guide asks for",
        }
    }

    fn reconnect_prefill(&self, store: &StoreRecord) -> Vec<(&'static str, String)> {
        vec![
            (FIELD_STORE_URL, store.remote_id.clone()),
            (FIELD_CLIENT_ID, store.client_id.clone().unwrap_or_default()),
        ]
    }

    async fn check(&self, submission: ConnectSubmission) -> Result<VerifiedStore, ConnectRefused> {
        let ConnectSubmission {
            email,
            mut fields,
            file,
        } = submission;
        let input = match file {
            Some(text) => ConnectInput::from_credentials_txt(email, text.expose_secret())
                .map_err(|error| error.refused())?,
            None => {
                let mut take = |name: &str| {
                    fields
                        .remove(name)
                        .unwrap_or_else(|| SecretString::from(String::new()))
                };
                ConnectInput {
                    email,
                    store_url: take(FIELD_STORE_URL).expose_secret().to_owned(),
                    client_id: take(FIELD_CLIENT_ID).expose_secret().to_owned(),
                    client_secret: take(FIELD_CLIENT_SECRET),
                    access_token: take(FIELD_ACCESS_TOKEN),
                }
            }
        };
        connect::check(input, &self.settings)
            .await
            .map(connect::VerifiedStore::into_verified)
            .map_err(|error| error.refused())
    }

    fn open(
        &self,
        store: &StoreRecord,
        credentials: Credentials,
        options: &OpenOptions,
        limiters: &Limiters,
    ) -> Result<Arc<dyn StoreClient>, ChannelError> {
        let mut config = self.client_config(store, &credentials)?;
        if let Some(timeout) = options.request_timeout {
            config.timeout = timeout;
            config.connect_timeout = config.connect_timeout.min(timeout);
        }
        let limiter = limiters.get_or_insert(CHANNEL, &config.store_hash, || {
            RateLimiter::new(config.pacing_enabled(), config.quota_share)
        });
        let client = Client::with_limiter(config, limiter).map_err(api_error)?;
        Ok(Arc::new(BigCommerceStore::new(client)))
    }

    fn max_tracking_number(&self) -> usize {
        fulfilment::MAX_TRACKING_NUMBER
    }

    fn order_statuses(&self) -> &'static [(&'static str, &'static str)] {
        &orders::ORDER_STATUSES
    }

    fn refuses_shipment(&self, status_code: &str) -> bool {
        fulfilment::refuses_shipments(status_code)
    }

    fn read_callback(
        &self,
        client_secret: &SecretString,
        headers: &axum::http::HeaderMap,
        body: &[u8],
    ) -> Result<Callback, CallbackError> {
        webhooks::read_callback(client_secret, headers, body)
    }
}

impl StoreClient for BigCommerceStore {
    fn channel(&self) -> &'static str {
        DISPLAY_NAME
    }

    fn store_key(&self) -> &str {
        self.client.store_hash()
    }

    fn pacing(&self) -> Pacing {
        let stats = self.client.stats();
        Pacing {
            requests_sent: stats.requests_sent,
            throttled: stats.throttled,
            rate_limited: stats.rate_limited,
            requests_left: stats.last_requests_left,
            quota: stats.last_quota,
            window: stats.last_window_ms.map(std::time::Duration::from_millis),
        }
    }

    fn orders(&self) -> &dyn OrdersIn {
        self
    }

    fn catalog(&self) -> &dyn CatalogIn {
        self
    }

    fn fulfilment(&self) -> &dyn FulfilmentOut {
        self
    }

    fn stock(&self) -> &dyn StockOut {
        self
    }

    fn hooks(&self) -> Option<&dyn HooksOut> {
        Some(self)
    }
}

/// Headers of a hook, as BigCommerce stores them.
pub(crate) type HookHeaders = BTreeMap<String, String>;
