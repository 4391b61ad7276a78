//! The state one sandbox server shares between its requests and its live-mode task: settings,
//! clock, the seller account, app authorisations and tokens, rate limiter, faults, the
//! notification queue and the request log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::account::{OrderChange, RuleError, SellerAccount};
use crate::auth::{AppAuthorization, TokenStore};
use crate::clock::Clock;
use crate::faults::FaultPlan;
use crate::live::LiveControl;
use crate::log::RequestLog;
use crate::model::{Order, MARKETPLACE_CA};
use crate::queue::Queue;
use crate::ratelimit::RateLimiter;
use crate::{auth, generate, notifications};

/// Settings of a sandbox server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AmazonSandboxConfig {
    /// Seed of everything generated: the same seed gives the same account and credentials.
    pub seed: u64,
    /// Historical orders to generate (spread over the last 30 days).
    pub orders: usize,
    /// Listings (SKUs) to generate.
    pub listings: usize,
    /// The seller's marketplace (default Canada, `A2EUQ1WTGCTBG2`).
    pub marketplace_id: String,
    /// The marketplace's currency.
    pub currency: String,
    /// Lifetime of LWA access tokens, in seconds (Amazon: 3600).
    pub access_token_lifetime_secs: u64,
    /// Lifetime of restricted data tokens, in seconds (Amazon: 3600).
    pub restricted_token_lifetime_secs: u64,
    /// Multiplies every operation's rate (bursts unchanged); 1.0 is Amazon's usage plans,
    /// 0 turns rate limiting off.
    pub rate_scale: f64,
    /// Default visibility timeout of the notification queue, in seconds (SQS: 30).
    pub visibility_timeout_secs: u64,
    /// Order items per `getOrderItems` page.
    pub order_items_page_size: usize,
    /// Request-log entries kept (oldest dropped first).
    pub request_log_capacity: usize,
}

impl Default for AmazonSandboxConfig {
    fn default() -> Self {
        AmazonSandboxConfig {
            seed: 1,
            orders: 0,
            listings: 24,
            marketplace_id: MARKETPLACE_CA.to_string(),
            currency: "CAD".to_string(),
            access_token_lifetime_secs: 3600,
            restricted_token_lifetime_secs: 3600,
            rate_scale: 1.0,
            visibility_timeout_secs: 30,
            order_items_page_size: 100,
            request_log_capacity: 100_000,
        }
    }
}

/// State shared by every request of one sandbox server.
pub struct SandboxState {
    /// `http://127.0.0.1:PORT`: the SP-API endpoint and the LWA host.
    pub base_url: String,
    pub config: AmazonSandboxConfig,
    pub clock: Clock,
    pub apps: Vec<AppAuthorization>,
    pub account: RwLock<SellerAccount>,
    pub tokens: Mutex<TokenStore>,
    pub limiter: Mutex<RateLimiter>,
    pub faults: Mutex<FaultPlan>,
    pub queue: Queue,
    pub log: Mutex<RequestLog>,
    pub live: LiveControl,
    /// Seals pagination tokens so clients cannot forge or edit them.
    pub seal_key: [u8; 32],
    /// The `ApplicationId` and `SubscriptionId` notifications carry.
    pub application_id: String,
    pub subscription_id: String,
    notifications: AtomicU64,
}

/// Settings and endpoint only: tokens, credentials and the sealing key stay out of logs.
impl std::fmt::Debug for SandboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxState")
            .field("base_url", &self.base_url)
            .field("config", &self.config)
            .field("apps", &self.apps)
            .finish_non_exhaustive()
    }
}

impl SandboxState {
    /// Builds the account and everything around it.
    pub fn new(base_url: String, config: AmazonSandboxConfig) -> SandboxState {
        let clock = Clock::default();
        let seller_id = auth::seller_id(config.seed);
        let mut account = SellerAccount::new(
            &seller_id,
            &config.marketplace_id,
            &config.currency,
            config.seed,
        );
        generate::populate(
            &mut account,
            config.seed,
            config.listings,
            config.orders,
            clock.now(),
        );
        let seal_key: [u8; 32] =
            Sha256::digest(format!("amazon-sandbox seal {}", config.seed)).into();
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let id_bytes = Sha256::digest(format!("app {}", config.seed));
        SandboxState {
            base_url,
            clock,
            apps: auth::authorizations(config.seed),
            account: RwLock::new(account),
            tokens: Mutex::new(TokenStore::new(config.seed)),
            limiter: Mutex::new(RateLimiter::new(config.rate_scale)),
            faults: Mutex::new(FaultPlan::new(config.seed)),
            queue: Queue::new(
                config.seed,
                chrono::Duration::seconds(config.visibility_timeout_secs as i64),
            ),
            log: Mutex::new(RequestLog::new(config.request_log_capacity)),
            live: LiveControl::default(),
            seal_key,
            application_id: format!(
                "amzn1.sellerapps.app.{}-{}-{}-{}-{}",
                hex(&id_bytes[0..4]),
                hex(&id_bytes[4..6]),
                hex(&id_bytes[6..8]),
                hex(&id_bytes[8..10]),
                hex(&id_bytes[10..16])
            ),
            subscription_id: format!(
                "{}-{}-{}-{}-{}",
                hex(&id_bytes[16..20]),
                hex(&id_bytes[20..22]),
                hex(&id_bytes[22..24]),
                hex(&id_bytes[24..26]),
                hex(&id_bytes[26..32])
            ),
            notifications: AtomicU64::new(0),
            config,
        }
    }

    /// The authorisation of a profile.
    pub fn app(&self, profile: &str) -> Option<&AppAuthorization> {
        self.apps.iter().find(|a| a.profile == profile)
    }

    /// The seller id.
    pub fn seller_id(&self) -> String {
        self.account.read().seller_id.clone()
    }

    /// Runs one change on the account at the sandbox's now, publishes its notification after
    /// the lock is released, and returns the order as changed.
    pub fn change(
        &self,
        apply: impl FnOnce(
            &mut SellerAccount,
            chrono::DateTime<chrono::Utc>,
        ) -> Result<OrderChange, RuleError>,
    ) -> Result<Order, RuleError> {
        let now = self.clock.now();
        let change = apply(&mut self.account.write(), now)?;
        let order = change.order.clone();
        self.publish(&change);
        Ok(order)
    }

    /// Sends the `ORDER_CHANGE` notification of a change to the queue.
    pub fn publish(&self, change: &OrderChange) {
        let n = self.notifications.fetch_add(1, Ordering::Relaxed) + 1;
        let digest = Sha256::digest(format!("{} {n}", self.application_id));
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        let notification_id = format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        );
        let now = self.clock.now_precise();
        let body = notifications::order_change(
            change,
            &self.seller_id(),
            &self.application_id,
            &self.subscription_id,
            &notification_id,
            now,
        );
        self.queue.send(body.to_string(), now);
    }

    /// The default visibility timeout of the queue.
    pub fn visibility_timeout(&self) -> Duration {
        Duration::from_secs(self.config.visibility_timeout_secs)
    }
}
