//! Client configuration.

use std::fmt;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

/// The public BigCommerce API host.
pub const DEFAULT_API_BASE_URL: &str = "https://api.bigcommerce.com";

/// Default share of the store's quota this client may use; the rest is left to other apps.
pub const DEFAULT_QUOTA_SHARE: f64 = 0.8;

/// Everything needed to talk to one store.
///
/// Secrets are [`SecretString`]s and the hand-written `Debug` prints `***` for them, so a
/// config can be logged safely.
#[derive(Clone)]
pub struct ClientConfig {
    /// API host without the `/stores/{hash}` part, e.g. `https://api.bigcommerce.com` or a
    /// sandbox's `http://127.0.0.1:PORT`.
    pub api_base_url: Url,
    /// The store hash (the `{store_hash}` in `https://store-{store_hash}.mybigcommerce.com`).
    pub store_hash: String,
    /// The API account's access token, sent as `X-Auth-Token`.
    pub access_token: SecretString,
    /// The API account's client id (sent as `X-Auth-Client`; also identifies webhooks).
    pub client_id: String,
    /// The API account's client secret. Not used by requests; kept so callers can verify
    /// webhook signatures from the same config.
    pub client_secret: Option<SecretString>,
    /// Total time allowed for one HTTP attempt, including reading the body.
    pub timeout: Duration,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Share of the store's quota this client may use (0 < share <= 1). At `0.8` a request waits
    /// when fewer than 20% of the window's requests are left. `1.0` disables pacing.
    pub quota_share: f64,
    /// Explicit switch for proactive pacing. When `false` the client only reacts to 429s.
    pub pacing: bool,
    /// How many times a retryable failure is retried (so `max_retries + 1` attempts in total).
    pub max_retries: u32,
    /// First backoff delay; doubled on every retry, with jitter.
    pub retry_base_delay: Duration,
    /// Upper bound for one backoff delay (and for a 429's reset wait).
    pub max_retry_delay: Duration,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl ClientConfig {
    /// A config with defaults for everything except the credentials: the public API host, a
    /// 30 s timeout, pacing on at 80% of the quota and 3 retries.
    pub fn new(
        store_hash: impl Into<String>,
        access_token: SecretString,
        client_id: impl Into<String>,
    ) -> Self {
        Self {
            api_base_url: Url::parse(DEFAULT_API_BASE_URL).expect("the default URL is valid"),
            store_hash: store_hash.into(),
            access_token,
            client_id: client_id.into(),
            client_secret: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            quota_share: DEFAULT_QUOTA_SHARE,
            pacing: true,
            max_retries: 3,
            retry_base_delay: Duration::from_millis(500),
            max_retry_delay: Duration::from_secs(60),
            user_agent: format!("cenports-bigcommerce-client/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Whether proactive pacing is on: the flag is set and the share leaves something to others.
    pub fn pacing_enabled(&self) -> bool {
        self.pacing && self.quota_share < 1.0
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("api_base_url", &self.api_base_url.as_str())
            .field("store_hash", &self.store_hash)
            .field("access_token", &"***")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("quota_share", &self.quota_share)
            .field("pacing", &self.pacing)
            .field("max_retries", &self.max_retries)
            .field("retry_base_delay", &self.retry_base_delay)
            .field("max_retry_delay", &self.max_retry_delay)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_secrets() {
        let mut config =
            ClientConfig::new("abc123", SecretString::from("tok-very-secret"), "client-1");
        config.client_secret = Some(SecretString::from("shh-secret"));
        let printed = format!("{config:?}");
        assert!(!printed.contains("tok-very-secret"));
        assert!(!printed.contains("shh-secret"));
        assert!(printed.contains("***"));
        assert!(printed.contains("abc123"));
    }

    #[test]
    fn quota_share_of_one_disables_pacing() {
        let mut config = ClientConfig::new("abc", SecretString::from("t"), "c");
        assert!(config.pacing_enabled());
        config.quota_share = 1.0;
        assert!(!config.pacing_enabled());
        config.quota_share = 0.8;
        config.pacing = false;
        assert!(!config.pacing_enabled());
    }
}
