//! Helpers shared by the sandbox's black-box tests.

pub mod examples;
pub mod openapi;

use bigcommerce_sandbox::model::InventoryTracking;
use bigcommerce_sandbox::{Sandbox, SandboxConfig, StoreInfo, StoreSpec};

/// A sandbox on a random loopback port.
pub async fn sandbox() -> Sandbox {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Sandbox::start(
        listener,
        SandboxConfig {
            webhook_retry_scale: 0.0001,
            ..SandboxConfig::default()
        },
    )
    .await
    .unwrap()
}

/// A store with a small hand-made catalog (one product per tracking mode) and no history.
pub fn small_store(sandbox: &Sandbox, seed: u64) -> StoreInfo {
    let store = sandbox.create_store(StoreSpec {
        seed,
        products: 0,
        orders: 0,
        plan: bigcommerce_sandbox::Plan::Unlimited,
        ..StoreSpec::default()
    });
    sandbox.with_store(&store.hash, |data, _| {
        data.add_product(product(
            "Trail Mug",
            "MUG-1",
            InventoryTracking::Product,
            40,
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
            vec![variant("SOCK-1-M", "M", 30), variant("SOCK-1-L", "L", 25)],
        ));
    });
    store
}

pub use bigcommerce_sandbox::fixtures::{product, variant};

/// Places an order of `lines` (sku, quantity, address index) shipping to `addresses`.
pub fn place(sandbox: &Sandbox, hash: &str, addresses: usize, lines: &[(&str, u32, usize)]) -> u64 {
    let order = bigcommerce_sandbox::fixtures::order(addresses, lines);
    sandbox
        .with_store(hash, |data, events| data.place_order(order, events))
        .unwrap()
        .unwrap()
}

/// A reqwest client and the merchant-guide token of a store.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Api {
    pub fn new(sandbox: &Sandbox, store: &StoreInfo, profile: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: format!("{}/stores/{}", sandbox.base_url(), store.hash),
            token: store.account(profile).unwrap().access_token.clone(),
        }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
        let mut request = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header("X-Auth-Token", &self.token)
            .header("Accept", "application/json");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let value = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{path}: body is not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        (status, headers, value)
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, _, body) = self.send(reqwest::Method::GET, path, None).await;
        (status, body)
    }
}
