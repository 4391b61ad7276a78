//! A small Selling Partner API client: Login with Amazon, restricted data tokens, the seller's
//! token buckets, retries, and Amazon's errors in words a person can act on.
//!
//! - **Access tokens.** The refresh token is exchanged at Login with Amazon
//!   (`POST {auth}/auth/o2/token`, `grant_type=refresh_token`) for an access token, cached until
//!   a minute before it expires and sent as `x-amz-access-token`. A 403 saying the token
//!   expired (a clock that disagrees, a token revoked early) refreshes it once and resends.
//! - **Restricted data tokens.** Addresses and buyer data need a token from the Tokens API
//!   naming the resources read; the client asks for one covering the 2026-01-01 `searchOrders`
//!   and `getOrder` with `shippingAddress` and `buyerInfo`, and caches it like the access token.
//! - **Pacing.** Every request takes a token of its operation's bucket first
//!   ([`super::limiter`]), in the class of its scope; a 429 empties the bucket and waits for it.
//! - **Retries.** 429s are retried (Amazon did nothing); 5xx answers and dropped connections
//!   only for operations that may be sent twice ([`Operation::idempotent`]).
//! - **The channel's clock.** Amazon's `Date` header gives its time; [`SpApi::now`] reads it.
//! - **Secrets.** Tokens and the client secret are never in a URL, a log line, an error or a
//!   `Debug` output.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::limiter::{Operation, SellerLimiter};
use crate::channel::current_priority;

/// The header that carries the access token.
pub const ACCESS_TOKEN_HEADER: &str = "x-amz-access-token";
/// The header that carries the operation's rate.
pub const RATE_LIMIT_HEADER: &str = "x-amzn-ratelimit-limit";
/// Login with Amazon's token path, below the auth host.
pub const TOKEN_PATH: &str = "/auth/o2/token";
/// The paths a restricted data token opens (with `shippingAddress` and `buyerInfo`).
pub const SEARCH_ORDERS_PATH: &str = "/orders/2026-01-01/orders";
/// The 2026-01-01 `getOrder`, as a restricted resource.
pub const GET_ORDER_PATH: &str = "/orders/2026-01-01/orders/{orderId}";

/// A token is renewed this long before Amazon says it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// How a client reaches Amazon for one seller. `Debug` prints `***` for the secrets.
#[derive(Clone)]
pub struct SpApiConfig {
    /// The SP-API host (`https://sellingpartnerapi-na.amazon.com`).
    pub endpoint: Url,
    /// The Login with Amazon host (`https://api.amazon.com`).
    pub auth_url: Url,
    /// The seller (merchant token).
    pub seller_id: String,
    /// The marketplace every call is scoped to.
    pub marketplace_id: String,
    /// The app's LWA client id.
    pub client_id: String,
    /// The app's LWA client secret.
    pub client_secret: SecretString,
    /// The seller's refresh token for the app.
    pub refresh_token: SecretString,
    /// Time allowed for each request.
    pub timeout: Duration,
    /// Retries of a failed idempotent request (5xx, dropped connection).
    pub max_retries: u32,
    /// Retries of a 429 (each waits for the bucket first).
    pub max_quota_retries: u32,
}

impl std::fmt::Debug for SpApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpApiConfig")
            .field("endpoint", &self.endpoint.as_str())
            .field("auth_url", &self.auth_url.as_str())
            .field("seller_id", &self.seller_id)
            .field("marketplace_id", &self.marketplace_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("refresh_token", &"***")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Amazon's error, with what the hub needs to act on it. Never holds a token or secret.
#[derive(Debug, thiserror::Error)]
pub enum AmazonError {
    /// Login with Amazon refused the app's credentials or the refresh token.
    #[error("Login with Amazon refused the {what} ({code}: {description}); {fix}")]
    Login {
        /// What was refused, in the merchant's words.
        what: &'static str,
        /// OAuth's error code (`invalid_client`, `invalid_grant`).
        code: String,
        /// Amazon's description.
        description: String,
        /// What to do.
        fix: &'static str,
    },
    /// 403: the token is refused, or the app lacks the operation's role.
    #[error(
        "Amazon refused {operation} (403 Unauthorized{}): the app authorisation lacks the role \
         this operation needs, or it was revoked; authorise the app again with its roles and \
         reconnect",
        if details.is_empty() { String::new() } else { format!(": {details}") }
    )]
    Unauthorized {
        /// The operation.
        operation: &'static str,
        /// Amazon's details.
        details: String,
    },
    /// 404.
    #[error("Amazon has no such resource for {operation}: {message}")]
    NotFound {
        /// The operation.
        operation: &'static str,
        /// Amazon's message.
        message: String,
    },
    /// 400 and other refusals: sending it again cannot help.
    #[error("Amazon refused {operation} ({status} {code}): {message}")]
    Invalid {
        /// The operation.
        operation: &'static str,
        /// HTTP status.
        status: u16,
        /// Amazon's error code (`InvalidInput`).
        code: String,
        /// Amazon's message and details.
        message: String,
    },
    /// 429 on every try.
    #[error(
        "Amazon's quota for {operation} stayed exhausted after {tries} tries; the hub tries \
         again later"
    )]
    QuotaExceeded {
        /// The operation.
        operation: &'static str,
        /// Tries made.
        tries: u32,
    },
    /// 5xx.
    #[error("Amazon failed {operation} ({status}); the hub tries again later")]
    Server {
        /// The operation.
        operation: &'static str,
        /// HTTP status.
        status: u16,
    },
    /// The request did not complete (DNS, refused, reset, timeout).
    #[error("Amazon could not be reached for {operation} at {host}: {message}")]
    Transport {
        /// The operation (or `Login with Amazon`).
        operation: &'static str,
        /// The host tried.
        host: String,
        /// What failed (reqwest's message, which holds no header).
        message: String,
    },
    /// An answer the hub could not read.
    #[error("Amazon's answer to {operation} could not be read: {message}")]
    Decode {
        /// The operation.
        operation: &'static str,
        /// What was wrong.
        message: String,
    },
}

/// A 2xx answer.
#[derive(Debug)]
pub struct Answer {
    /// The status (200, 204).
    pub status: u16,
    /// The JSON body (`Null` when empty).
    pub body: Value,
}

#[derive(Debug, Clone)]
struct Token {
    value: SecretString,
    until: Instant,
}

/// Which token a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// The LWA access token.
    Access,
    /// The restricted data token (order search and `getOrder` with personal data).
    Restricted,
}

/// One seller's client. Cheap to share behind an `Arc`.
pub struct SpApi {
    http: reqwest::Client,
    config: SpApiConfig,
    limiter: Arc<SellerLimiter>,
    access: tokio::sync::Mutex<Option<Token>>,
    restricted: tokio::sync::Mutex<Option<Token>>,
    /// Amazon's clock minus ours, in ms, from the last `Date` header.
    skew_ms: AtomicI64,
}

impl std::fmt::Debug for SpApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpApi")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct LwaAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct LwaError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

#[derive(Deserialize, Default)]
struct ErrorList {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize, Default)]
struct ErrorEntry {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: Option<String>,
}

impl SpApi {
    /// A client pacing on `limiter` (the seller's, from the registry).
    pub fn new(config: SpApiConfig, limiter: Arc<SellerLimiter>) -> Result<SpApi, AmazonError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!(
                "Cenports/",
                env!("CARGO_PKG_VERSION"),
                " (Language=Rust)"
            ))
            .build()
            .map_err(|error| AmazonError::Transport {
                operation: "client setup",
                host: config.endpoint.to_string(),
                message: error.to_string(),
            })?;
        Ok(SpApi {
            http,
            config,
            limiter,
            access: tokio::sync::Mutex::new(None),
            restricted: tokio::sync::Mutex::new(None),
            skew_ms: AtomicI64::new(0),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SpApiConfig {
        &self.config
    }

    /// The seller's limiter.
    pub fn limiter(&self) -> &Arc<SellerLimiter> {
        &self.limiter
    }

    /// Amazon's time as its last answer's `Date` said, moved on by our clock since.
    pub fn amazon_now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.skew_ms.load(Ordering::Relaxed))
    }

    fn observe_date(&self, headers: &reqwest::header::HeaderMap) {
        let Some(date) = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        else {
            return;
        };
        let skew = date.with_timezone(&Utc) - Utc::now();
        self.skew_ms
            .store(skew.num_milliseconds(), Ordering::Relaxed);
    }

    fn transport(&self, operation: &'static str, url: &Url, error: reqwest::Error) -> AmazonError {
        // reqwest's message names the URL without headers; our URLs carry no secret.
        let message = if error.is_timeout() {
            format!("no answer within {:?}", self.config.timeout)
        } else {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        };
        AmazonError::Transport {
            operation,
            host: url.host_str().unwrap_or_default().to_owned(),
            message,
        }
    }

    /// The access token, exchanged at Login with Amazon when none is cached or `renew`.
    async fn access_token(&self, renew: bool) -> Result<SecretString, AmazonError> {
        let mut cached = self.access.lock().await;
        if let Some(token) = cached
            .as_ref()
            .filter(|t| !renew && t.until > Instant::now())
        {
            return Ok(token.value.clone());
        }
        let url = self
            .config
            .auth_url
            .join(TOKEN_PATH)
            .map_err(|error| AmazonError::Decode {
                operation: "Login with Amazon",
                message: error.to_string(),
            })?;
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", self.config.refresh_token.expose_secret()),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.expose_secret()),
        ];
        let mut attempt = 0;
        let response = loop {
            attempt += 1;
            match self.http.post(url.clone()).form(&form).send().await {
                Ok(response) if response.status().is_server_error() => {
                    if attempt > self.config.max_retries {
                        return Err(AmazonError::Server {
                            operation: "Login with Amazon",
                            status: response.status().as_u16(),
                        });
                    }
                }
                Ok(response) => break response,
                Err(error) => {
                    if attempt > self.config.max_retries {
                        return Err(self.transport("Login with Amazon", &url, error));
                    }
                }
            }
            tokio::time::sleep(backoff(attempt)).await;
        };
        self.observe_date(response.headers());
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| self.transport("Login with Amazon", &url, error))?;
        if !status.is_success() {
            let refused: LwaError = serde_json::from_slice(&bytes).unwrap_or(LwaError {
                error: status.as_u16().to_string(),
                error_description: String::new(),
            });
            let (what, fix) = match refused.error.as_str() {
                "invalid_client" => (
                    "app's client id or client secret",
                    "copy the LWA credentials of the app again (Solution Provider Portal or \
                     Developer Central › the app › View LWA credentials) and reconnect",
                ),
                "invalid_grant" => (
                    "refresh token",
                    "the seller's authorisation of the app was revoked or the token belongs to \
                     another app: have the seller authorise the app again and reconnect with \
                     the new refresh token",
                ),
                _ => (
                    "token request",
                    "check the credentials and the Login with Amazon URL \
                     (CENPORTS_AMAZON_AUTH_URL), then reconnect",
                ),
            };
            return Err(AmazonError::Login {
                what,
                code: refused.error,
                description: refused.error_description,
                fix,
            });
        }
        let answer: LwaAnswer =
            serde_json::from_slice(&bytes).map_err(|error| AmazonError::Decode {
                operation: "Login with Amazon",
                message: error.to_string(),
            })?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        let token = Token {
            value: SecretString::from(answer.access_token),
            until: Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN),
        };
        *cached = Some(token.clone());
        Ok(token.value)
    }

    /// Exchanges the refresh token now (connect's first check).
    pub async fn login(&self) -> Result<(), AmazonError> {
        self.access_token(true).await.map(|_| ())
    }

    /// The restricted data token for order searches and `getOrder`, created when none is
    /// cached or `renew`.
    ///
    /// Boxed: it calls [`SpApi::call`], which calls it.
    fn restricted_token(
        &self,
        renew: bool,
    ) -> futures::future::BoxFuture<'_, Result<SecretString, AmazonError>> {
        Box::pin(self.restricted_token_inner(renew))
    }

    async fn restricted_token_inner(&self, renew: bool) -> Result<SecretString, AmazonError> {
        let mut cached = self.restricted.lock().await;
        if let Some(token) = cached
            .as_ref()
            .filter(|t| !renew && t.until > Instant::now())
        {
            return Ok(token.value.clone());
        }
        let answer = self.create_restricted_data_token().await?;
        let value = answer.body["restrictedDataToken"]
            .as_str()
            .ok_or_else(|| AmazonError::Decode {
                operation: Operation::CreateRestrictedDataToken.name(),
                message: "no restrictedDataToken".into(),
            })?
            .to_owned();
        let lifetime = Duration::from_secs(answer.body["expiresIn"].as_u64().unwrap_or(3600));
        let token = Token {
            value: SecretString::from(value),
            until: Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN),
        };
        *cached = Some(token.clone());
        Ok(token.value)
    }

    /// `createRestrictedDataToken` for the order search and `getOrder` with the shipping
    /// address and the buyer's data (connect's probe of the role too).
    pub async fn create_restricted_data_token(&self) -> Result<Answer, AmazonError> {
        let elements = ["shippingAddress", "buyerInfo"];
        let body = serde_json::json!({
            "restrictedResources": [
                {"method": "GET", "path": SEARCH_ORDERS_PATH, "dataElements": elements},
                {"method": "GET", "path": GET_ORDER_PATH, "dataElements": elements},
            ]
        });
        self.call(
            Operation::CreateRestrictedDataToken,
            Method::POST,
            "/tokens/2021-03-01/restrictedDataToken",
            &[],
            Some(&body),
            Auth::Access,
        )
        .await
    }

    /// Sends one operation: paced on the seller's bucket, with the token `auth` names, retried
    /// as the operation allows. Answers 2xx bodies; everything else is an [`AmazonError`].
    pub async fn call(
        &self,
        operation: Operation,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        auth: Auth,
    ) -> Result<Answer, AmazonError> {
        let name = operation.name();
        let mut url = self
            .config
            .endpoint
            .join(path.trim_start_matches('/'))
            .map_err(|error| AmazonError::Decode {
                operation: name,
                message: error.to_string(),
            })?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let mut failures = 0u32;
        let mut quota_tries = 0u32;
        let mut renewed = false;
        loop {
            let token = match auth {
                Auth::Access => self.access_token(false).await?,
                Auth::Restricted => self.restricted_token(false).await?,
            };
            self.limiter.acquire(operation, current_priority()).await;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .header(ACCESS_TOKEN_HEADER, token.expose_secret())
                .header("accept", "application/json");
            if let Some(body) = body {
                request = request.json(body);
            }
            let started = Instant::now();
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) => {
                    failures += 1;
                    if operation.idempotent() && failures <= self.config.max_retries {
                        tracing::debug!(amazon.operation = name, error = %error, "amazon: retrying after a transport error");
                        tokio::time::sleep(backoff(failures)).await;
                        continue;
                    }
                    return Err(self.transport(name, &url, error));
                }
            };
            self.observe_date(response.headers());
            if let Some(rate) = response
                .headers()
                .get(RATE_LIMIT_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
            {
                self.limiter.set_rate(operation, rate);
            }
            let status = response.status().as_u16();
            let bytes = match response.bytes().await {
                Ok(bytes) => bytes,
                Err(error) => {
                    failures += 1;
                    if operation.idempotent() && failures <= self.config.max_retries {
                        tokio::time::sleep(backoff(failures)).await;
                        continue;
                    }
                    return Err(self.transport(name, &url, error));
                }
            };
            tracing::debug!(
                amazon.operation = name,
                http.status = status,
                duration_ms = started.elapsed().as_millis() as u64,
                "amazon: request"
            );
            if (200..300).contains(&status) {
                let body = if bytes.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(&bytes).map_err(|error| AmazonError::Decode {
                        operation: name,
                        message: error.to_string(),
                    })?
                };
                return Ok(Answer { status, body });
            }
            let errors: ErrorList = serde_json::from_slice(&bytes).unwrap_or_default();
            let first = errors.errors.into_iter().next().unwrap_or_default();
            let details = first.details.clone().unwrap_or_default();
            match status {
                429 => {
                    self.limiter.exhausted(operation);
                    quota_tries += 1;
                    if quota_tries <= self.config.max_quota_retries {
                        continue;
                    }
                    return Err(AmazonError::QuotaExceeded {
                        operation: name,
                        tries: quota_tries,
                    });
                }
                403 if details.contains("expired") && !renewed => {
                    renewed = true;
                    match auth {
                        Auth::Access => {
                            self.access_token(true).await?;
                        }
                        Auth::Restricted => {
                            self.restricted_token(true).await?;
                        }
                    }
                    continue;
                }
                403 => {
                    return Err(AmazonError::Unauthorized {
                        operation: name,
                        details,
                    })
                }
                404 => {
                    return Err(AmazonError::NotFound {
                        operation: name,
                        message: first.message,
                    })
                }
                500..=599 => {
                    failures += 1;
                    if operation.idempotent() && failures <= self.config.max_retries {
                        tokio::time::sleep(backoff(failures)).await;
                        continue;
                    }
                    return Err(AmazonError::Server {
                        operation: name,
                        status,
                    });
                }
                _ => {
                    let message = if details.is_empty() {
                        first.message
                    } else {
                        format!("{} ({details})", first.message)
                    };
                    return Err(AmazonError::Invalid {
                        operation: name,
                        status,
                        code: first.code,
                        message,
                    });
                }
            }
        }
    }
}

/// 0.5 s, 1 s, 2 s, ... up to 8 s, with up to a quarter of jitter.
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(500) * 2u32.saturating_pow(attempt.saturating_sub(1).min(4));
    let jitter = rand::random::<f64>() * 0.25;
    base.mul_f64(1.0 + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_leaves_the_secrets_out() {
        let config = SpApiConfig {
            endpoint: Url::parse("https://sellingpartnerapi-na.amazon.com").unwrap(),
            auth_url: Url::parse("https://api.amazon.com").unwrap(),
            seller_id: "A1".into(),
            marketplace_id: "A2EUQ1WTGCTBG2".into(),
            client_id: "amzn1.application-oa2-client.x".into(),
            client_secret: SecretString::from("the-client-secret".to_owned()),
            refresh_token: SecretString::from("Atzr|the-refresh-token".to_owned()),
            timeout: Duration::from_secs(1),
            max_retries: 0,
            max_quota_retries: 0,
        };
        let api = SpApi::new(config, Arc::default()).unwrap();
        let shown = format!("{api:?}");
        assert!(shown.contains("amzn1.application-oa2-client.x"), "{shown}");
        assert!(
            !shown.contains("the-client-secret") && !shown.contains("Atzr|"),
            "{shown}"
        );
    }
}
