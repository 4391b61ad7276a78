//! Helpers for the client's black-box tests against a real sandbox on a loopback port: start a
//! sandbox, build stores (generated or hand-made), point a real [`Client`] at them, and read
//! what the sandbox recorded (request log, counters, faults).
//!
//! Copied in spirit from the sandbox crate's own `tests/it/support`; test directories are not
//! shared between crates.

use std::time::Duration;

use bigcommerce_client::{Client, ClientConfig};
use bigcommerce_sandbox::log::{Counters, RequestRecord};
use bigcommerce_sandbox::model::{
    Address, InventoryTracking, OptionKind, OptionValue, Product, Variant,
};
use bigcommerce_sandbox::{
    FaultKind, FaultRule, NewOrder, NewOrderLine, Plan, RateLimit, Sandbox, SandboxConfig,
    StoreInfo, StoreSpec,
};
use rust_decimal::Decimal;
use secrecy::SecretString;
use url::Url;

/// The profile with every scope the merchant guide asks for.
pub const MERCHANT: &str = "merchant-guide";

/// A sandbox on a random loopback port.
pub async fn sandbox() -> Sandbox {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Sandbox::start(
        listener,
        SandboxConfig {
            webhook_retry_scale: 0.0001,
            webhook_timeout_ms: 500,
            ..SandboxConfig::default()
        },
    )
    .await
    .unwrap()
}

/// A store built by the sandbox's seeded generator, on the unlimited plan (no quota) unless the
/// test sets one.
pub fn generated_store(sandbox: &Sandbox, seed: u64, products: usize, orders: usize) -> StoreInfo {
    sandbox.create_store(StoreSpec {
        seed,
        products,
        orders,
        plan: Plan::Unlimited,
        ..StoreSpec::default()
    })
}

/// A store with a small hand-made catalog and no history:
/// `MUG-1` (stock per product, 500), `GIFT-1` (untracked), `SOCK-1` with variants `SOCK-1-M`
/// and `SOCK-1-L` (stock per variant, 300 each).
pub fn small_store(sandbox: &Sandbox, seed: u64) -> StoreInfo {
    let store = generated_store(sandbox, seed, 0, 0);
    sandbox.with_store(&store.hash, |data, _| {
        data.add_product(product(
            "Trail Mug",
            "MUG-1",
            InventoryTracking::Product,
            500,
            vec![],
        ));
        data.add_product(product(
            "Gift Card",
            "GIFT-1",
            InventoryTracking::None,
            0,
            vec![],
        ));
        data.add_product(product(
            "Wool Socks",
            "SOCK-1",
            InventoryTracking::Variant,
            0,
            vec![variant("SOCK-1-M", "M", 300), variant("SOCK-1-L", "L", 300)],
        ));
    });
    store
}

pub fn product(
    name: &str,
    sku: &str,
    tracking: InventoryTracking,
    level: i64,
    variants: Vec<Variant>,
) -> Product {
    let at = chrono::Utc::now() - chrono::Duration::days(30);
    let at = chrono::DateTime::from_timestamp(at.timestamp(), 0).unwrap();
    Product {
        id: 0,
        name: name.to_string(),
        sku: sku.to_string(),
        price: Decimal::new(1999, 2),
        weight: Decimal::new(5, 1),
        inventory_tracking: tracking,
        inventory_level: level,
        inventory_warning_level: 0,
        is_visible: true,
        date_created: at,
        date_modified: at,
        variants,
    }
}

pub fn variant(sku: &str, size: &str, level: i64) -> Variant {
    Variant {
        id: 0,
        product_id: 0,
        sku: sku.to_string(),
        sku_id: None,
        price: None,
        weight: None,
        inventory_level: level,
        inventory_warning_level: 0,
        upc: String::new(),
        option_values: vec![OptionValue {
            id: 1,
            option_id: 1,
            option_display_name: "Size".to_string(),
            label: size.to_string(),
            kind: OptionKind::MultipleChoice,
        }],
    }
}

pub fn address(first: &str) -> Address {
    Address {
        first_name: first.to_string(),
        last_name: "Tremblay".to_string(),
        company: String::new(),
        street_1: "12 Rideau St".to_string(),
        street_2: String::new(),
        city: "Ottawa".to_string(),
        state: "Ontario".to_string(),
        zip: "K1N 5W8".to_string(),
        country: "Canada".to_string(),
        country_iso2: "CA".to_string(),
        phone: "613-555-0199".to_string(),
        email: format!("{}@example.com", first.to_lowercase()),
    }
}

/// Places an order of `lines` (sku, quantity, address index) shipping to `addresses`
/// addresses, as a shopper's checkout would.
pub fn place(sandbox: &Sandbox, hash: &str, addresses: usize, lines: &[(&str, u32, usize)]) -> u64 {
    let order = NewOrder {
        billing_address: Some(address("Marie")),
        shipping_addresses: (0..addresses)
            .map(|i| address(["Marie", "Luc", "Anne"][i % 3]))
            .collect(),
        lines: lines
            .iter()
            .map(|(sku, quantity, address_index)| NewOrderLine {
                sku: sku.to_string(),
                quantity: *quantity,
                address_index: *address_index,
                modifiers: Vec::new(),
            })
            .collect(),
        ..NewOrder::default()
    };
    sandbox
        .with_store(hash, |data, events| data.place_order(order, events))
        .unwrap()
        .unwrap()
}

/// The access token of one of the store's API accounts.
pub fn token(store: &StoreInfo, profile: &str) -> String {
    store.account(profile).unwrap().access_token.clone()
}

/// A client config pointing at the sandbox with the given account, with retry delays short
/// enough for tests (the policy is the same, only the clock is faster).
pub fn config(sandbox: &Sandbox, store: &StoreInfo, profile: &str) -> ClientConfig {
    let account = store.account(profile).unwrap();
    let mut config = ClientConfig::new(
        store.hash.clone(),
        SecretString::from(account.access_token.clone()),
        account.client_id.clone(),
    );
    config.api_base_url = Url::parse(sandbox.base_url()).unwrap();
    config.client_secret = Some(SecretString::from(account.client_secret.clone()));
    config.timeout = Duration::from_secs(5);
    config.retry_base_delay = Duration::from_millis(20);
    config.max_retry_delay = Duration::from_secs(2);
    config
}

/// A client with [`config`].
pub fn client(sandbox: &Sandbox, store: &StoreInfo, profile: &str) -> Client {
    Client::new(config(sandbox, store, profile)).unwrap()
}

/// Every request the sandbox logged for the store, oldest first.
pub fn requests(sandbox: &Sandbox, hash: &str) -> Vec<RequestRecord> {
    sandbox.store(hash).unwrap().log.lock().since(0)
}

/// The store's request counters.
pub fn counters(sandbox: &Sandbox, hash: &str) -> Counters {
    sandbox.store(hash).unwrap().log.lock().counters()
}

/// Forgets the request log, so a test counts only what follows.
pub fn clear_log(sandbox: &Sandbox, hash: &str) {
    sandbox.store(hash).unwrap().log.lock().clear();
}

/// How many logged requests answered `status`.
pub fn count_status(sandbox: &Sandbox, hash: &str, status: u16) -> u64 {
    counters(sandbox, hash)
        .by_status
        .get(&status)
        .copied()
        .unwrap_or(0)
}

/// Sets the store's quota (a fresh window starts now).
pub fn set_rate_limit(sandbox: &Sandbox, hash: &str, quota: Option<u32>, window_ms: u64) {
    sandbox
        .store(hash)
        .unwrap()
        .rate
        .lock()
        .set_limit(RateLimit { quota, window_ms });
}

/// Adds a fault rule that strikes `count` matching requests.
pub fn add_fault(sandbox: &Sandbox, hash: &str, rule: FaultRule) {
    sandbox.store(hash).unwrap().faults.lock().push(rule);
}

/// A fault of `kind` on `method` requests whose path contains `path`, `count` times.
pub fn fault(kind: FaultKind, method: &str, path: &str, count: u32) -> FaultRule {
    FaultRule {
        method: Some(method.to_string()),
        path_contains: Some(path.to_string()),
        count: Some(count),
        ..FaultRule::always(kind)
    }
}

/// How many faults struck so far in the store.
pub fn faults_struck(sandbox: &Sandbox, hash: &str) -> u64 {
    sandbox.store(hash).unwrap().faults.lock().struck
}

/// Waits (up to 5 s) until the sandbox has logged at least `wanted` requests matching
/// `matches`, and returns how many it logged. A request the client gave up on is logged when
/// the sandbox finishes with it, which for a hang is later than the client's error.
pub async fn logged_eventually(
    sandbox: &Sandbox,
    hash: &str,
    wanted: usize,
    matches: impl Fn(&RequestRecord) -> bool,
) -> usize {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let count = requests(sandbox, hash)
            .iter()
            .filter(|r| matches(r))
            .count();
        if count >= wanted || tokio::time::Instant::now() >= deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
