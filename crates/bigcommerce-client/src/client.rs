//! The [`Client`] handle and its construction.

use std::fmt;
use std::sync::Arc;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use secrecy::ExposeSecret;

use crate::config::ClientConfig;
use crate::error::{Error, Result};
use crate::limiter::{LimiterStats, RateLimiter};

/// `X-Auth-Token`: the access token header.
pub const HEADER_AUTH_TOKEN: &str = "x-auth-token";
/// `X-Auth-Client`: the client id header.
pub const HEADER_AUTH_CLIENT: &str = "x-auth-client";
const JSON: &str = "application/json";

/// A client for one store. Cloning is cheap and every clone shares the connection pool and
/// the store's [`RateLimiter`].
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    /// `{api_base}/stores/{hash}` without a trailing slash.
    pub(crate) store_root: String,
    pub(crate) config: ClientConfig,
    pub(crate) limiter: Arc<RateLimiter>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("store_hash", &self.inner.config.store_hash)
            .field("api_base_url", &self.inner.config.api_base_url.as_str())
            .field("limiter", &self.inner.limiter)
            .finish()
    }
}

impl Client {
    /// Builds a client with its own limiter. Fails on an unusable configuration (empty store
    /// hash or token, a quota share outside `(0, 1]`, a base URL that is not http(s)).
    pub fn new(config: ClientConfig) -> Result<Self> {
        let limiter = Arc::new(RateLimiter::new(
            config.pacing_enabled(),
            config.quota_share,
        ));
        Self::with_limiter(config, limiter)
    }

    /// Builds a client that shares `limiter` with other clients of the same store.
    pub fn with_limiter(config: ClientConfig, limiter: Arc<RateLimiter>) -> Result<Self> {
        validate(&config)?;
        let mut token =
            HeaderValue::from_str(config.access_token.expose_secret()).map_err(|_| {
                Error::Config {
                    field: "access_token",
                    message: "contains characters not allowed in an HTTP header; paste the token \
                          again without spaces or line breaks"
                        .into(),
                }
            })?;
        token.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(HEADER_AUTH_TOKEN, token);
        if !config.client_id.is_empty() {
            let client_id =
                HeaderValue::from_str(&config.client_id).map_err(|_| Error::Config {
                    field: "client_id",
                    message: "contains characters not allowed in an HTTP header".into(),
                })?;
            headers.insert(HEADER_AUTH_CLIENT, client_id);
        }
        headers.insert(ACCEPT, HeaderValue::from_static(JSON));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON));

        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(config.user_agent.clone())
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            // A redirect would carry X-Auth-Token to wherever it points; BigCommerce's API
            // does not redirect, so any 3xx is reported instead of followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| Error::Config {
                field: "api_base_url",
                message: format!("could not build the HTTP client: {err}"),
            })?;

        let store_root = format!(
            "{}/stores/{}",
            config.api_base_url.as_str().trim_end_matches('/'),
            config.store_hash
        );
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                store_root,
                config,
                limiter,
            }),
        })
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The store hash.
    pub fn store_hash(&self) -> &str {
        &self.inner.config.store_hash
    }

    /// The store's limiter (shared by all clones).
    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.inner.limiter
    }

    /// A snapshot of the limiter's counters.
    pub fn stats(&self) -> LimiterStats {
        self.inner.limiter.stats()
    }
}

fn validate(config: &ClientConfig) -> Result<()> {
    let hash = config.store_hash.trim();
    if hash.is_empty()
        || !hash
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::Config {
            field: "store_hash",
            message: format!(
                "{:?} is not a store hash; use the part after `store-` in \
                 https://store-{{hash}}.mybigcommerce.com",
                config.store_hash
            ),
        });
    }
    if config.access_token.expose_secret().trim().is_empty() {
        return Err(Error::Config {
            field: "access_token",
            message: "is empty; copy the Access Token from the API account credentials".into(),
        });
    }
    if !(config.quota_share > 0.0 && config.quota_share <= 1.0) {
        return Err(Error::Config {
            field: "quota_share",
            message: format!(
                "{} is outside (0, 1]; use 0.8 to leave 20% of the quota to other apps",
                config.quota_share
            ),
        });
    }
    if !matches!(config.api_base_url.scheme(), "http" | "https") {
        return Err(Error::Config {
            field: "api_base_url",
            message: format!(
                "{} is not an http(s) URL; use https://api.bigcommerce.com",
                config.api_base_url
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn invalid_configs_name_the_field() {
        let config = ClientConfig::new("", SecretString::from("tok"), "cid");
        assert!(matches!(
            Client::new(config),
            Err(Error::Config {
                field: "store_hash",
                ..
            })
        ));
        let mut config = ClientConfig::new("abc", SecretString::from("tok"), "cid");
        config.quota_share = 1.5;
        assert!(matches!(
            Client::new(config),
            Err(Error::Config {
                field: "quota_share",
                ..
            })
        ));
        let config = ClientConfig::new("abc", SecretString::from(" "), "cid");
        assert!(matches!(
            Client::new(config),
            Err(Error::Config {
                field: "access_token",
                ..
            })
        ));
    }

    #[test]
    fn debug_shows_the_store_but_not_the_token() {
        let client = Client::new(ClientConfig::new(
            "abc123",
            SecretString::from("tok-secret"),
            "cid",
        ))
        .unwrap();
        let printed = format!("{client:?}");
        assert!(printed.contains("abc123"));
        assert!(!printed.contains("tok-secret"));
        assert_eq!(
            client.inner.store_root,
            "https://api.bigcommerce.com/stores/abc123"
        );
    }
}
