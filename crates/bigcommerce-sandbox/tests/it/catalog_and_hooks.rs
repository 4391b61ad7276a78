//! Black-box tests of the catalog v3 API, the webhooks v3 API and webhook delivery, over real
//! HTTP: a sandbox on port 0 and, for callbacks, a local receiver on port 0.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use bigcommerce_sandbox::fixtures::{self, variant};
use bigcommerce_sandbox::model::{InventoryTracking, Product};
use bigcommerce_sandbox::{webhooks, Sandbox, SandboxConfig, StoreInfo, StoreSpec};
use bytes::Bytes;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Mutex};

/// Retries 1,000,000 times faster than BigCommerce: the whole 48-hour schedule takes ~0.2 s.
const RETRY_SCALE: f64 = 1e-6;

async fn sandbox() -> Sandbox {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Sandbox::start(
        listener,
        SandboxConfig {
            webhook_retry_scale: RETRY_SCALE,
            webhook_timeout_ms: 2_000,
            ..SandboxConfig::default()
        },
    )
    .await
    .unwrap()
}

/// A month-old product without variants, so that a fresh change is the only recent one.
fn product(name: &str, sku: &str, tracking: InventoryTracking, level: i64) -> Product {
    fixtures::product(name, sku, tracking, level, Vec::new())
}

/// The catalog of every test's store, in id order.
struct Catalog {
    /// Tracked by product, 40 in stock.
    mug: u64,
    /// Not tracked.
    gift: u64,
    /// Tracked by variant: M 30, L 25.
    socks: u64,
}

/// A store without generated data, holding the three products of [`Catalog`] plus `extra`
/// simple products `EXTRA-{i}`.
fn store(sandbox: &Sandbox, seed: u64, extra: usize) -> (StoreInfo, Catalog) {
    let store = sandbox.create_store(StoreSpec {
        seed,
        products: 0,
        orders: 0,
        plan: bigcommerce_sandbox::Plan::Unlimited,
        ..StoreSpec::default()
    });
    let catalog = sandbox
        .with_store(&store.hash, |data, _| {
            let mug = data.add_product(product(
                "Trail Mug",
                "MUG-1",
                InventoryTracking::Product,
                40,
            ));
            let gift = data.add_product(product("Gift Card", "GIFT-1", InventoryTracking::None, 0));
            let mut socks = product("Wool Socks", "SOCK-1", InventoryTracking::Variant, 0);
            socks.variants = vec![variant("SOCK-1-M", "M", 30), variant("SOCK-1-L", "L", 25)];
            let socks = data.add_product(socks);
            for i in 0..extra {
                data.add_product(product(
                    &format!("Extra {i}"),
                    &format!("EXTRA-{i}"),
                    InventoryTracking::Product,
                    5,
                ));
            }
            Catalog { mug, gift, socks }
        })
        .unwrap();
    (store, catalog)
}

/// A client of one store with one profile's token.
struct Api {
    http: reqwest::Client,
    base: String,
    control: String,
    token: String,
}

impl Api {
    fn new(sandbox: &Sandbox, store: &StoreInfo, profile: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: format!("{}/stores/{}", sandbox.base_url(), store.hash),
            control: format!("{}/_sandbox/stores/{}", sandbox.base_url(), store.hash),
            token: store.account(profile).unwrap().access_token.clone(),
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("X-Auth-Token", &self.token)
            .header("Accept", "application/json");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(Method::GET, path, None).await
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(Method::PUT, path, Some(body)).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    async fn control(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.control));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "control {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// Polls the delivery log until `done` holds (at most 3 s).
    async fn deliveries_until(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        loop {
            let log = self.control(Method::GET, "/webhook_deliveries", None).await;
            let log = log.as_array().unwrap().clone();
            if done(&log) {
                return log;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "deliveries never settled: {log:#?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// One callback as the receiver got it.
#[derive(Debug)]
struct Callback {
    headers: HeaderMap,
    body: Bytes,
}

impl Callback {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).unwrap().to_str().unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A local webhook destination answering the given statuses in turn, then `200`.
struct Receiver {
    url: String,
    callbacks: mpsc::UnboundedReceiver<Callback>,
}

impl Receiver {
    async fn start(statuses: Vec<u16>) -> Receiver {
        type Shared = Arc<(
            Mutex<std::vec::IntoIter<u16>>,
            mpsc::UnboundedSender<Callback>,
        )>;
        async fn receive(
            State(shared): State<Shared>,
            headers: HeaderMap,
            body: Bytes,
        ) -> StatusCode {
            let status = shared.0.lock().await.next().unwrap_or(200);
            let _ = shared.1.send(Callback { headers, body });
            StatusCode::from_u16(status).unwrap()
        }
        let (sender, callbacks) = mpsc::unbounded_channel();
        let shared: Shared = Arc::new((Mutex::new(statuses.into_iter()), sender));
        let app = Router::new()
            .route("/callbacks", post(receive))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/callbacks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, callbacks }
    }

    async fn next(&mut self) -> Callback {
        tokio::time::timeout(Duration::from_secs(3), self.callbacks.recv())
            .await
            .expect("a callback within 3 s")
            .expect("the receiver is running")
    }

    /// The next callback of this scope, skipping others.
    async fn next_of(&mut self, scope: &str) -> Callback {
        loop {
            let callback = self.next().await;
            if callback.json()["scope"] == scope {
                return callback;
            }
        }
    }
}

fn ids(body: &Value) -> Vec<u64> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Catalog.

#[tokio::test]
async fn products_are_paged_in_the_v3_envelope_with_bigcommerce_links() {
    let sandbox = sandbox().await;
    let (store, catalog) = store(&sandbox, 1, 2);
    let api = Api::new(&sandbox, &store, "merchant-guide");

    let (status, body) = api.get("/v3/catalog/products?limit=2&page=2").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), vec![catalog.socks, catalog.socks + 1]);
    let pagination = &body["meta"]["pagination"];
    assert_eq!(pagination["total"], 5);
    assert_eq!(pagination["count"], 2);
    assert_eq!(pagination["per_page"], 2);
    assert_eq!(pagination["current_page"], 2);
    assert_eq!(pagination["total_pages"], 3);
    assert_eq!(pagination["links"]["previous"], "?page=1&limit=2");
    assert_eq!(pagination["links"]["current"], "?page=2&limit=2");
    assert_eq!(pagination["links"]["next"], "?page=3&limit=2");

    let (_, first) = api.get("/v3/catalog/products").await;
    assert_eq!(first["meta"]["pagination"]["per_page"], 50);
    assert_eq!(
        first["meta"]["pagination"]["links"],
        json!({"current": "?page=1&limit=50"})
    );
    let mug = &first["data"][0];
    assert_eq!(mug["id"], catalog.mug);
    assert_eq!(mug["type"], "physical");
    assert_eq!(mug["price"], 19.99);
    assert_eq!(mug["inventory_tracking"], "product");
    assert_eq!(mug["custom_url"]["url"], "/trail-mug/");
    assert!(mug.get("variants").is_none(), "variants only when included");
    let created = mug["date_created"].as_str().unwrap();
    assert!(
        created.ends_with("+00:00") && created.len() == 25,
        "{created}"
    );

    let (_, capped) = api.get("/v3/catalog/products?limit=1000").await;
    assert_eq!(capped["meta"]["pagination"]["per_page"], 250);
    let (_, sorted) = api
        .get("/v3/catalog/products?sort=name&direction=desc&limit=1")
        .await;
    assert_eq!(sorted["data"][0]["name"], "Wool Socks");
}

#[tokio::test]
async fn include_variants_embeds_them_and_a_variant_tracked_product_reports_their_sum() {
    let sandbox = sandbox().await;
    let (store, catalog) = store(&sandbox, 2, 0);
    let api = Api::new(&sandbox, &store, "merchant-guide");

    let (_, body) = api
        .get("/v3/catalog/products?include=variants,images,bogus")
        .await;
    let socks = &body["data"][2];
    assert_eq!(socks["id"], catalog.socks);
    assert_eq!(socks["inventory_level"], 55);
    assert_eq!(socks["images"], json!([]));
    assert_eq!(
        socks.get("base_variant_id"),
        Some(&Value::Null),
        "a product with options has no base variant: null, as BigCommerce sends it"
    );
    let variants = socks["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    assert_eq!(variants[0]["sku"], "SOCK-1-M");
    assert_eq!(variants[0]["inventory_level"], 30);
    assert_eq!(variants[0]["calculated_price"], 19.99);
    assert_eq!(variants[0]["option_values"][0]["label"], "M");
    let mug = &body["data"][0];
    assert_eq!(mug["base_variant_id"], mug["variants"][0]["id"]);

    let (status, one) = api
        .get(&format!(
            "/v3/catalog/products/{}?include=variants",
            catalog.socks
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["data"]["variants"].as_array().unwrap().len(), 2);
    assert_eq!(one["meta"], json!({}));

    let (status, missing) = api.get("/v3/catalog/products/999999").await;
    assert_eq!(status, 404);
    assert_eq!(missing["status"], 404);
    let (status, _) = api.get("/v3/catalog/products/not-a-number").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn id_and_sku_filters_select_products_by_their_main_sku_only() {
    let sandbox = sandbox().await;
    let (store, catalog) = store(&sandbox, 3, 3);
    let api = Api::new(&sandbox, &store, "merchant-guide");

    let (_, body) = api
        .get(&format!(
            "/v3/catalog/products?id:in={},{}",
            catalog.gift, catalog.socks
        ))
        .await;
    assert_eq!(ids(&body), vec![catalog.gift, catalog.socks]);
    let (_, body) = api
        .get(&format!("/v3/catalog/products?id={}", catalog.mug))
        .await;
    assert_eq!(ids(&body), vec![catalog.mug]);
    let (_, body) = api.get("/v3/catalog/products?sku=MUG-1").await;
    assert_eq!(ids(&body), vec![catalog.mug]);
    // The spec: "Filter items by main SKU. To filter by variant SKU, see Get all variants."
    let (_, body) = api.get("/v3/catalog/products?sku=SOCK-1-M").await;
    assert_eq!(ids(&body), Vec::<u64>::new());
    let (_, body) = api.get("/v3/catalog/products?sku:in=GIFT-1,EXTRA-2").await;
    assert_eq!(ids(&body), vec![catalog.gift, catalog.socks + 3]);
    let (status, body) = api.get("/v3/catalog/products?id:in=1,two").await;
    assert_eq!(status, 422);
    assert!(body["errors"]["id:in"].is_string(), "{body}");

    let (_, variants) = api.get("/v3/catalog/variants?sku=SOCK-1-M").await;
    assert_eq!(variants["data"][0]["product_id"], catalog.socks);
    let (_, variants) = api
        .get(&format!(
            "/v3/catalog/variants?product_id:in={}",
            catalog.socks
        ))
        .await;
    assert_eq!(variants["meta"]["pagination"]["total"], 2);
}

#[tokio::test]
async fn date_modified_min_returns_only_products_changed_since() {
    let sandbox = sandbox().await;
    let (store, catalog) = store(&sandbox, 4, 0);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let since = chrono::Utc::now() - chrono::Duration::minutes(1);

    let (status, _) = api
        .put(
            "/v3/catalog/products",
            json!([{"id": catalog.gift, "price": 25}]),
        )
        .await;
    assert_eq!(status, 200);
    let iso = since
        .format("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string()
        .replace('+', "%2B");
    let (_, body) = api
        .get(&format!("/v3/catalog/products?date_modified:min={iso}"))
        .await;
    assert_eq!(ids(&body), vec![catalog.gift]);
    let (_, body) = api
        .get(&format!(
            "/v3/catalog/products?date_modified:min={}",
            since.timestamp()
        ))
        .await;
    assert_eq!(ids(&body), vec![catalog.gift]);
    let (_, body) = api
        .get(&format!(
            "/v3/catalog/products?date_modified:max={}",
            since.timestamp()
        ))
        .await;
    assert_eq!(ids(&body), vec![catalog.mug, catalog.socks]);
}

#[tokio::test]
async fn a_product_batch_applies_up_to_ten_and_refuses_eleven_with_413() {
    let sandbox = sandbox().await;
    let (store, catalog) = store(&sandbox, 5, 8);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let ten: Vec<Value> = (catalog.mug..catalog.mug + 10)
        .map(|id| json!({"id": id, "inventory_level": 7}))
        .collect();

    let (status, body) = api.put("/v3/catalog/products", json!(ten)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 10);
    assert_eq!(body["meta"], json!({}));
    assert_eq!(body["data"][0]["inventory_level"], 7);

    let mut eleven = ten.clone();
    eleven.push(json!({"id": catalog.mug, "inventory_level": 1}));
    let (status, body) = api.put("/v3/catalog/products", json!(eleven)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(
        body["title"],
        "The request payload is too large. The maximum items allowed in the array is 10."
    );
    let (_, mug) = api
        .get(&format!("/v3/catalog/products/{}", catalog.mug))
        .await;
    assert_eq!(mug["data"]["inventory_level"], 7);
}

#[tokio::test]
async fn a_batch_with_an_unknown_id_is_refused_whole_and_changes_nothing() {
    let sandbox = sandbox().await;
    let (store, catalog) = store(&sandbox, 6, 0);
    let api = Api::new(&sandbox, &store, "merchant-guide");

    let (status, body) = api
        .put(
            "/v3/catalog/products",
            json!([{"id": catalog.mug, "inventory_level": 1}, {"id": 999999, "inventory_level": 1}]),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["status"], 422);
    assert!(body["errors"]["1.id"].is_string(), "{body}");
    let (_, mug) = api
        .get(&format!("/v3/catalog/products/{}", catalog.mug))
        .await;
    assert_eq!(mug["data"]["inventory_level"], 40);

    let (status, body) = api
        .put(
            "/v3/catalog/products",
            json!([{"inventory_level": 1}, {"id": catalog.mug, "inventory_level": -3}]),
        )
        .await;
    assert_eq!(status, 422);
    assert!(body["errors"]["0.id"].is_string() && body["errors"]["1.inventory_level"].is_string());

    let (status, body) = api
        .put(
            "/v3/catalog/products",
            json!([{"id": catalog.gift, "sku": "MUG-1"}]),
        )
        .await;
    assert_eq!(status, 409, "a SKU already in use: {body}");

    let (status, body) = api
        .put(
            "/v3/catalog/variants",
            json!([{"id": 999999, "inventory_level": 1}]),
        )
        .await;
    assert_eq!(status, 422);
    assert!(body["errors"]["0.id"].is_string(), "{body}");
}

#[tokio::test]
async fn a_variant_batch_applies_up_to_fifty_and_refuses_fifty_one_with_413() {
    let sandbox = sandbox().await;
    let (store, _) = store(&sandbox, 7, 0);
    let shirt = sandbox
        .with_store(&store.hash, |data, _| {
            let mut shirt = product("Shirt", "SHIRT", InventoryTracking::Variant, 0);
            shirt.variants = (0..51)
                .map(|i| variant(&format!("SHIRT-{i}"), &format!("{i}"), 1))
                .collect();
            data.add_product(shirt)
        })
        .unwrap();
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let (_, variants) = api
        .get(&format!("/v3/catalog/products/{shirt}/variants?limit=250"))
        .await;
    let variant_ids: Vec<u64> = ids(&variants);
    assert_eq!(variant_ids.len(), 51);

    let fifty: Vec<Value> = variant_ids[..50]
        .iter()
        .map(|id| json!({"id": id, "inventory_level": 2}))
        .collect();
    let (status, body) = api.put("/v3/catalog/variants", json!(fifty)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 50);
    let (_, product) = api.get(&format!("/v3/catalog/products/{shirt}")).await;
    assert_eq!(product["data"]["inventory_level"], 50 * 2 + 1);

    let fifty_one: Vec<Value> = variant_ids
        .iter()
        .map(|id| json!({"id": id, "inventory_level": 9}))
        .collect();
    let (status, body) = api.put("/v3/catalog/variants", json!(fifty_one)).await;
    assert_eq!(status, 413, "{body}");
    let (_, product) = api.get(&format!("/v3/catalog/products/{shirt}")).await;
    assert_eq!(product["data"]["inventory_level"], 101);
}

#[tokio::test]
async fn stock_follows_the_products_tracking_mode() {
    let sandbox = sandbox().await;
    let (store, catalog) = store(&sandbox, 8, 0);
    let api = Api::new(&sandbox, &store, "merchant-guide");

    // Product tracking: one figure, mirrored on the base variant.
    api.put(
        "/v3/catalog/products",
        json!([{"id": catalog.mug, "inventory_level": 12}]),
    )
    .await;
    let (_, mug) = api
        .get(&format!(
            "/v3/catalog/products/{}?include=variants",
            catalog.mug
        ))
        .await;
    assert_eq!(mug["data"]["inventory_level"], 12);
    assert_eq!(mug["data"]["variants"][0]["inventory_level"], 12);

    // Variant tracking: the product reports the sum of its variants.
    let (_, socks) = api
        .get(&format!("/v3/catalog/products/{}/variants", catalog.socks))
        .await;
    let medium = socks["data"][0]["id"].as_u64().unwrap();
    api.put(
        "/v3/catalog/variants",
        json!([{"id": medium, "inventory_level": 5}]),
    )
    .await;
    let (_, socks) = api
        .get(&format!("/v3/catalog/products/{}", catalog.socks))
        .await;
    assert_eq!(socks["data"]["inventory_level"], 5 + 25);

    // Switching a product to variant tracking makes its variants' sum the figure.
    api.put(
        "/v3/catalog/products",
        json!([{"id": catalog.gift, "inventory_tracking": "variant"}]),
    )
    .await;
    let (_, gift) = api
        .get(&format!("/v3/catalog/products/{}", catalog.gift))
        .await;
    assert_eq!(gift["data"]["inventory_tracking"], "variant");

    // An order takes stock by the tracking mode; an untracked product keeps its figure.
    let order = json!({
        "lines": [{"sku": "MUG-1", "quantity": 2}, {"sku": "SOCK-1-L", "quantity": 1}],
        "shipping_addresses": [address()],
    });
    api.control(Method::POST, "/orders", Some(order)).await;
    let (_, mug) = api
        .get(&format!("/v3/catalog/products/{}", catalog.mug))
        .await;
    assert_eq!(mug["data"]["inventory_level"], 10);
    let (_, socks) = api
        .get(&format!("/v3/catalog/products/{}", catalog.socks))
        .await;
    assert_eq!(socks["data"]["inventory_level"], 5 + 24);
    assert_eq!(socks["data"]["total_sold"], 1);
}

#[tokio::test]
async fn a_read_only_token_reads_the_catalog_but_gets_403_on_batch_updates() {
    let sandbox = sandbox().await;
    let (store, catalog) = store(&sandbox, 9, 0);
    let api = Api::new(&sandbox, &store, "read-only");

    let (status, _) = api.get("/v3/catalog/products").await;
    assert_eq!(status, 200);
    let (status, _) = api
        .put(
            "/v3/catalog/products",
            json!([{"id": catalog.mug, "inventory_level": 1}]),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = api
        .put(
            "/v3/catalog/variants",
            json!([{"id": 1, "inventory_level": 1}]),
        )
        .await;
    assert_eq!(status, 403);
}

// ---------------------------------------------------------------------------------------------
// Webhooks API.

#[tokio::test]
async fn hooks_are_created_read_updated_and_deleted_by_their_own_account_only() {
    let sandbox = sandbox().await;
    let (store, _) = store(&sandbox, 10, 0);
    let owner = Api::new(&sandbox, &store, "merchant-guide");
    let other = Api::new(&sandbox, &store, "read-only");

    let (status, created) = owner
        .post(
            "/v3/hooks",
            json!({"scope": "store/order/*", "destination": "https://hub.example.com/webhooks", "headers": {"x-key": "k"}}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let hook = &created["data"];
    let id = hook["id"].as_u64().unwrap();
    assert_eq!(hook["is_active"], true);
    assert_eq!(hook["store_hash"], store.hash.as_str());
    assert_eq!(
        hook["client_id"],
        store.account("merchant-guide").unwrap().client_id.as_str()
    );
    assert_eq!(hook["headers"], json!({"x-key": "k"}));
    assert!(hook["created_at"].is_i64() && hook["updated_at"].is_i64());
    assert_eq!(created["meta"], json!({}));

    let (_, mine) = owner.get("/v3/hooks").await;
    assert_eq!(ids(&mine), vec![id]);
    assert_eq!(mine["meta"]["pagination"]["total"], 1);
    let (_, theirs) = other.get("/v3/hooks").await;
    assert_eq!(ids(&theirs), Vec::<u64>::new());
    let (status, _) = other.get(&format!("/v3/hooks/{id}")).await;
    assert_eq!(status, 404);
    let (status, _) = other
        .send(Method::DELETE, &format!("/v3/hooks/{id}"), None)
        .await;
    assert_eq!(status, 404);

    let (status, updated) = owner
        .put(
            &format!("/v3/hooks/{id}"),
            json!({"is_active": false, "headers": null}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["data"]["is_active"], false);
    assert_eq!(updated["data"]["headers"], Value::Null);
    let (_, inactive) = owner.get("/v3/hooks?is_active=false").await;
    assert_eq!(ids(&inactive), vec![id]);

    let (status, deleted) = owner
        .send(Method::DELETE, &format!("/v3/hooks/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(deleted["data"]["id"], id);
    let (status, _) = owner.get(&format!("/v3/hooks/{id}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_hook_with_an_unknown_scope_or_a_plain_http_destination_is_refused_with_422() {
    let sandbox = sandbox().await;
    let (store, _) = store(&sandbox, 11, 0);
    let api = Api::new(&sandbox, &store, "merchant-guide");

    let (status, body) = api
        .post(
            "/v3/hooks",
            json!({"scope": "store/order/shipped", "destination": "https://a.example.com/"}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(body["errors"]["scope"].is_string(), "{body}");
    let (status, body) = api
        .post(
            "/v3/hooks",
            json!({"scope": "store/order/created", "destination": "http://a.example.com/"}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(body["errors"]["destination"].is_string(), "{body}");
    let (status, body) = api
        .post("/v3/hooks", json!({"scope": "store/order/created"}))
        .await;
    assert_eq!(status, 422);
    assert!(body["errors"]["destination"].is_string(), "{body}");
    // One hook per scope and destination.
    let hook = json!({"scope": "store/sku/*", "destination": "https://a.example.com/"});
    assert_eq!(api.post("/v3/hooks", hook.clone()).await.0, 200);
    assert_eq!(api.post("/v3/hooks", hook).await.0, 422);
}

// ---------------------------------------------------------------------------------------------
// Delivery.

async fn subscribe(api: &Api, scope: &str, destination: &str) -> u64 {
    let (status, body) = api
        .post(
            "/v3/hooks",
            json!({"scope": scope, "destination": destination, "headers": {"x-cenports-key": "shared"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["id"].as_u64().unwrap()
}

fn address() -> Value {
    json!({
        "first_name": "Ada", "last_name": "Lovelace", "company": "", "street_1": "1 Main St",
        "street_2": "", "city": "Ottawa", "state": "Ontario", "zip": "K1P 1J9",
        "country": "Canada", "country_iso2": "CA", "phone": "", "email": "ada@example.com",
    })
}

#[tokio::test]
async fn a_callback_carries_the_light_payload_and_a_valid_standard_webhooks_signature() {
    let sandbox = sandbox().await;
    let (store, catalog) = store(&sandbox, 12, 0);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let mut receiver = Receiver::start(vec![]).await;
    subscribe(&api, "store/product/*", &receiver.url).await;

    api.put(
        "/v3/catalog/products",
        json!([{"id": catalog.mug, "inventory_level": 3}]),
    )
    .await;
    let callback = receiver.next_of("store/product/inventory/updated").await;

    let secret = store
        .account("merchant-guide")
        .unwrap()
        .client_secret
        .clone();
    let id = callback.header(webhooks::headers::WEBHOOK_ID);
    let timestamp: i64 = callback
        .header(webhooks::headers::WEBHOOK_TIMESTAMP)
        .parse()
        .unwrap();
    let signature = callback.header(webhooks::headers::WEBHOOK_SIGNATURE);
    let now = chrono::Utc::now().timestamp();
    webhooks::verify(
        secret.as_bytes(),
        id,
        timestamp,
        &callback.body,
        signature,
        now,
    )
    .unwrap();
    assert!(webhooks::verify(b"wrong", id, timestamp, &callback.body, signature, now).is_err());
    assert_eq!(callback.header("content-type"), "application/json");
    assert_eq!(callback.header("x-cenports-key"), "shared");

    let payload = callback.json();
    assert_eq!(payload["producer"], format!("stores/{}", store.hash));
    assert!(payload["store_id"]
        .as_str()
        .unwrap()
        .bytes()
        .all(|b| b.is_ascii_digit()));
    assert!(payload["created_at"].is_i64());
    let hash = payload["hash"].as_str().unwrap();
    assert!(
        hash.len() == 40 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{hash}"
    );
    assert_eq!(payload["data"]["type"], "product");
    assert_eq!(payload["data"]["id"], catalog.mug);
    assert_eq!(payload["data"]["inventory"]["value"], 3);
}

#[tokio::test]
async fn placing_an_order_fires_store_order_created() {
    let sandbox = sandbox().await;
    let (store, _) = store(&sandbox, 13, 0);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let mut receiver = Receiver::start(vec![]).await;
    subscribe(&api, "store/order/created", &receiver.url).await;

    let placed = api
        .control(
            Method::POST,
            "/orders",
            Some(json!({"lines": [{"sku": "MUG-1", "quantity": 1}], "shipping_addresses": [address()]})),
        )
        .await;
    let callback = receiver.next().await;
    let payload = callback.json();
    assert_eq!(payload["scope"], "store/order/created");
    assert_eq!(
        payload["data"],
        json!({"type": "order", "id": placed["id"]})
    );
}

#[tokio::test]
async fn a_failed_callback_is_retried_with_the_same_id_until_it_succeeds() {
    let sandbox = sandbox().await;
    let (store, _) = store(&sandbox, 14, 0);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let mut receiver = Receiver::start(vec![500, 503]).await;
    let hook = subscribe(&api, "store/order/created", &receiver.url).await;

    api.control(
        Method::POST,
        "/orders",
        Some(
            json!({"lines": [{"sku": "GIFT-1", "quantity": 1}], "shipping_addresses": [address()]}),
        ),
    )
    .await;
    let attempts = [
        receiver.next().await,
        receiver.next().await,
        receiver.next().await,
    ];
    let first_id = attempts[0]
        .header(webhooks::headers::WEBHOOK_ID)
        .to_string();
    for attempt in &attempts {
        assert_eq!(attempt.header(webhooks::headers::WEBHOOK_ID), first_id);
        assert_eq!(attempt.body, attempts[0].body);
    }
    let log = api
        .deliveries_until(|log| log.iter().any(|d| d["outcome"] == "delivered"))
        .await;
    let outcomes: Vec<(&str, u64, u64)> = log
        .iter()
        .map(|d| {
            (
                d["outcome"].as_str().unwrap(),
                d["attempt"].as_u64().unwrap(),
                d["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("retry_scheduled", 1, 500),
            ("retry_scheduled", 2, 503),
            ("delivered", 3, 200)
        ]
    );
    assert!(log.iter().all(|d| d["hook_id"] == hook));
    let (_, hook) = api.get(&format!("/v3/hooks/{hook}")).await;
    assert_eq!(hook["data"]["is_active"], true);
}

#[tokio::test]
async fn a_hook_is_deactivated_when_its_last_retry_fails() {
    let sandbox = sandbox().await;
    let (store, _) = store(&sandbox, 15, 0);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let mut receiver = Receiver::start(vec![500; 100]).await;
    let hook = subscribe(&api, "store/order/created", &receiver.url).await;

    api.control(
        Method::POST,
        "/orders",
        Some(
            json!({"lines": [{"sku": "GIFT-1", "quantity": 1}], "shipping_addresses": [address()]}),
        ),
    )
    .await;
    let log = api
        .deliveries_until(|log| log.iter().any(|d| d["outcome"] == "deactivated"))
        .await;
    // The first delivery and BigCommerce's eleven retries.
    assert_eq!(log.len(), 1 + webhooks::RETRY_SCHEDULE_SECS.len());
    assert_eq!(log.last().unwrap()["attempt"], 12);
    for _ in 0..12 {
        receiver.next().await;
    }
    let (_, body) = api.get(&format!("/v3/hooks/{hook}")).await;
    assert_eq!(body["data"]["is_active"], false);

    // An inactive hook gets nothing more, while an active one of the same scope does.
    let mut healthy = Receiver::start(vec![]).await;
    let second = subscribe(&api, "store/order/created", &healthy.url).await;
    api.control(
        Method::POST,
        "/orders",
        Some(
            json!({"lines": [{"sku": "GIFT-1", "quantity": 1}], "shipping_addresses": [address()]}),
        ),
    )
    .await;
    healthy.next().await;
    let log = api
        .deliveries_until(|log| log.iter().any(|d| d["hook_id"] == second))
        .await;
    assert_eq!(log.iter().filter(|d| d["hook_id"] == hook).count(), 12);
    assert!(receiver.callbacks.try_recv().is_err());
}

#[tokio::test]
async fn a_store_can_be_told_to_deliver_every_callback_twice() {
    let sandbox = sandbox().await;
    let (store, _) = store(&sandbox, 16, 0);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let mut receiver = Receiver::start(vec![]).await;
    subscribe(&api, "store/order/created", &receiver.url).await;
    api.control(
        Method::POST,
        "/webhook_duplicates",
        Some(json!({"probability": 1.0})),
    )
    .await;

    api.control(
        Method::POST,
        "/orders",
        Some(
            json!({"lines": [{"sku": "GIFT-1", "quantity": 1}], "shipping_addresses": [address()]}),
        ),
    )
    .await;
    let (first, second) = (receiver.next().await, receiver.next().await);
    assert_eq!(
        first.header(webhooks::headers::WEBHOOK_ID),
        second.header(webhooks::headers::WEBHOOK_ID)
    );
    assert_eq!(first.json()["hash"], second.json()["hash"]);
}

#[tokio::test]
async fn one_variant_is_updated_with_the_batch_rules_and_fires_the_same_webhooks() {
    let sandbox = sandbox().await;
    let (store, catalog) = store(&sandbox, 31, 0);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let mut receiver = Receiver::start(vec![]).await;
    subscribe(&api, "store/sku/inventory/updated", &receiver.url).await;
    let (_, socks) = api
        .get(&format!("/v3/catalog/products/{}/variants", catalog.socks))
        .await;
    let medium = socks["data"][0]["id"].as_u64().unwrap();
    let large = socks["data"][1]["id"].as_u64().unwrap();
    let path = format!("/v3/catalog/products/{}/variants/{medium}", catalog.socks);

    let (status, body) = api
        .put(&path, json!({"inventory_level": 9, "price": 21.5}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["id"], medium);
    assert_eq!(body["data"]["inventory_level"], 9);
    assert_eq!(body["data"]["price"], 21.5);
    assert!(body["data"]["sale_price"].is_null(), "{body}");
    assert_eq!(body["meta"], json!({}));
    let (_, one) = api.get(&path).await;
    assert_eq!(one["data"]["inventory_level"], 9);
    let (_, product) = api
        .get(&format!("/v3/catalog/products/{}", catalog.socks))
        .await;
    assert_eq!(product["data"]["inventory_level"], 9 + 25);
    let callback = receiver.next_of("store/sku/inventory/updated").await;
    let payload = callback.json();
    assert_eq!(payload["data"]["inventory"]["variant_id"], medium);
    assert_eq!(payload["data"]["inventory"]["value"], 9);

    // 422s name the field alone; nothing is applied.
    let (status, body) = api
        .put(&path, json!({"inventory_level": -1, "sku": 7}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["status"], 422);
    assert_eq!(body["title"], "JSON data is missing or invalid");
    assert!(body["errors"]["inventory_level"].is_string(), "{body}");
    assert!(body["errors"]["sku"].is_string(), "{body}");
    let (status, body) = api.put(&path, json!([{"inventory_level": 1}])).await;
    assert_eq!(status, 422, "{body}");
    let (_, one) = api.get(&path).await;
    assert_eq!(one["data"]["inventory_level"], 9);

    // A duplicate SKU conflicts; a variant of another product, or none, is not found.
    let (status, body) = api.put(&path, json!({"sku": "SOCK-1-L"})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["errors"]["sku"].is_string(), "{body}");
    let (status, body) = api
        .put(
            &format!("/v3/catalog/products/{}/variants/{large}", catalog.mug),
            json!({"inventory_level": 1}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["title"], "The requested variant was not found.");
    let (status, _) = api
        .put(
            "/v3/catalog/products/999999/variants/1",
            json!({"inventory_level": 1}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn one_product_is_updated_with_the_batch_rules_and_fires_the_same_webhooks() {
    let sandbox = sandbox().await;
    let (store, catalog) = store(&sandbox, 32, 0);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let mut receiver = Receiver::start(vec![]).await;
    subscribe(&api, "store/product/*", &receiver.url).await;
    let path = format!("/v3/catalog/products/{}", catalog.mug);

    let (status, body) = api
        .put(&path, json!({"inventory_level": 17, "name": "Trail Mug 2"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["inventory_level"], 17);
    assert_eq!(body["data"]["name"], "Trail Mug 2");
    assert!(body["data"]["base_variant_id"].is_u64(), "{body}");
    assert!(body["data"]["option_set_id"].is_null(), "{body}");
    let (_, mug) = api.get(&format!("{path}?include=variants")).await;
    assert_eq!(mug["data"]["inventory_level"], 17);
    assert_eq!(mug["data"]["variants"][0]["inventory_level"], 17);
    let callback = receiver.next_of("store/product/inventory/updated").await;
    assert_eq!(callback.json()["data"]["id"], catalog.mug);
    assert_eq!(callback.json()["data"]["inventory"]["value"], 17);
    let callback = receiver.next_of("store/product/updated").await;
    assert_eq!(callback.json()["data"]["id"], catalog.mug);

    // A product with options has no base variant.
    let (_, socks) = api
        .get(&format!("/v3/catalog/products/{}", catalog.socks))
        .await;
    assert!(socks["data"]["base_variant_id"].is_null(), "{socks}");

    let (status, body) = api
        .put(&path, json!({"inventory_tracking": "sometimes"}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["errors"]["inventory_tracking"].is_string(), "{body}");
    let (status, body) = api.put(&path, json!({"sku": "SOCK-1-M"})).await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = api
        .put("/v3/catalog/products/999999", json!({"inventory_level": 1}))
        .await;
    assert_eq!(status, 404);
}
