//! The state one sandbox server shares between its requests, its webhook dispatcher and its
//! live-mode tasks: the settings, the stores by hash and what each store keeps. Everything here
//! is re-exported at the crate root (`bigcommerce_sandbox::SandboxState`, ...).
//!
//! This module sits above [`crate::webhooks`] and [`crate::live`]: it owns the dispatcher and
//! the live runs and lends them what they need through the [`StoreLookup`] and [`LiveHost`]
//! traits they define, so neither of them depends on it.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use crate::faults::FaultPlan;
use crate::handle::StoreLookup;
use crate::live::{LiveControl, LiveHost};
use crate::log::RequestLog;
use crate::model::{ApiAccount, StoreProfile};
use crate::ratelimit::{Plan, RateLimit, RateWindow};
use crate::store::{Event, StoreData};
use crate::webhooks::Dispatcher;
use crate::{credentials, generate};

// Defined below the webhook dispatcher and live mode, which use it too.
pub use crate::handle::StoreHandle;

/// Settings of a sandbox server.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// How much faster than BigCommerce's schedule webhook retries run (1.0 = real time:
    /// 60 s, 180 s, ... 86,400 s). Tests use e.g. 1/6000 to retry after 10 ms.
    pub webhook_retry_scale: f64,
    /// Timeout of a webhook delivery.
    pub webhook_timeout_ms: u64,
    /// How many request-log entries each store keeps (oldest dropped first).
    pub request_log_capacity: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            webhook_retry_scale: 1.0,
            webhook_timeout_ms: 10_000,
            request_log_capacity: 100_000,
        }
    }
}

/// How to build a store.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct StoreSpec {
    /// The store hash; derived from the seed when absent.
    pub hash: Option<String>,
    /// Seed of the generator: the same seed gives the same store.
    pub seed: u64,
    /// Catalog products to generate.
    pub products: usize,
    /// Historical orders to generate.
    pub orders: usize,
    pub plan: Plan,
    /// Overrides the plan's quota and window (tests use short windows).
    pub rate_limit: Option<RateLimit>,
    /// Store name (`GET /v2/store`).
    pub name: Option<String>,
}

impl Default for StoreSpec {
    fn default() -> Self {
        StoreSpec {
            hash: None,
            seed: 1,
            products: 50,
            orders: 0,
            plan: Plan::Standard,
            rate_limit: None,
            name: None,
        }
    }
}

/// What a caller needs to talk to a store: its hash and API accounts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreInfo {
    pub hash: String,
    pub name: String,
    pub plan: Plan,
    pub rate_limit: RateLimit,
    pub accounts: Vec<ApiAccount>,
}

impl StoreInfo {
    /// The account of a profile (`merchant-guide`, `read-only`, `missing-orders-modify`, ...).
    pub fn account(&self, profile: &str) -> Option<&ApiAccount> {
        self.accounts.iter().find(|a| a.profile == profile)
    }
}

/// State shared by every request of one sandbox server.
#[derive(Debug)]
pub struct SandboxState {
    /// `http://127.0.0.1:PORT` (`https://` when serving TLS): what resource links and
    /// `API PATH` point at.
    pub base_url: String,
    pub config: SandboxConfig,
    pub stores: RwLock<HashMap<String, Arc<StoreHandle>>>,
    pub webhooks: Dispatcher,
    pub live: LiveControl,
}

impl SandboxState {
    /// The store with this hash.
    pub fn store(&self, hash: &str) -> Option<Arc<StoreHandle>> {
        self.stores.read().get(hash).cloned()
    }
}

/// How the webhook dispatcher finds the store of a message.
impl StoreLookup for SandboxState {
    fn find_store(&self, hash: &str) -> Option<Arc<StoreHandle>> {
        self.store(hash)
    }
}

/// How live mode keeps its runs and publishes the webhooks its changes fire.
impl LiveHost for SandboxState {
    fn live(&self) -> &LiveControl {
        &self.live
    }

    fn publish(&self, store: &Arc<StoreHandle>, events: Vec<Event>) {
        self.webhooks.publish(store, events);
    }
}

/// Builds a store from `spec` and registers it (replacing one with the same hash).
pub fn create_store(state: &SandboxState, spec: StoreSpec) -> StoreInfo {
    let hash = spec
        .hash
        .clone()
        .unwrap_or_else(|| credentials::store_hash(spec.seed));
    let name = spec
        .name
        .clone()
        .unwrap_or_else(|| format!("Sandbox Store {hash}"));
    let accounts = credentials::accounts(spec.seed, &hash);
    let profile = StoreProfile {
        id: hash.clone(),
        name: name.clone(),
        domain: format!("store-{hash}.mybigcommerce.com"),
        admin_email: "owner@example.com".to_string(),
        order_email: "orders@example.com".to_string(),
        phone: "+1 613 555 0100".to_string(),
        address: "100 Queen St, Ottawa, ON K1P 1J9, Canada".to_string(),
        country: "Canada".to_string(),
        country_code: "CA".to_string(),
        timezone_name: "America/Toronto".to_string(),
        timezone_raw_offset: -18000,
        currency: "CAD".to_string(),
        currency_symbol: "$".to_string(),
        weight_units: "kg".to_string(),
        dimension_units: "Centimeters".to_string(),
        plan_name: spec.plan.display_name().to_string(),
        plan_level: spec.plan.display_name().to_string(),
    };
    let mut data = StoreData::new(&hash, profile, accounts.clone());
    generate::populate(&mut data, spec.seed, spec.products, spec.orders);
    let rate_limit = spec
        .rate_limit
        .unwrap_or_else(|| RateLimit::for_plan(spec.plan));
    let handle = Arc::new(StoreHandle {
        hash: hash.clone(),
        plan: spec.plan,
        data: RwLock::new(data),
        rate: Mutex::new(RateWindow::new(rate_limit)),
        faults: Mutex::new(FaultPlan::new(spec.seed)),
        log: Mutex::new(RequestLog::new(state.config.request_log_capacity)),
    });
    state.stores.write().insert(hash.clone(), handle);
    StoreInfo {
        hash,
        name,
        plan: spec.plan,
        rate_limit,
        accounts,
    }
}
