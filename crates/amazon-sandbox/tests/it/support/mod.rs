//! Helpers shared by the sandbox's black-box tests.

pub mod swagger;

use amazon_sandbox::{AmazonSandbox, AmazonSandboxConfig, NewOrder, NewOrderItem, Order};
use reqwest::Method;
use serde_json::{json, Value};

/// A sandbox on a random loopback port, with a small account and no rate limits.
pub async fn sandbox() -> AmazonSandbox {
    sandbox_with(AmazonSandboxConfig {
        rate_scale: 0.0,
        ..AmazonSandboxConfig::default()
    })
    .await
}

pub async fn sandbox_with(config: AmazonSandboxConfig) -> AmazonSandbox {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    AmazonSandbox::start(listener, config).await.unwrap()
}

/// An answer: status, headers, JSON body (`Null` when empty).
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first error's code.
    pub fn code(&self) -> &str {
        self.body["errors"][0]["code"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["errors"][0]["message"].as_str().unwrap_or("")
    }
}

/// A client of one sandbox with one token.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Api {
    /// Logs in with a profile's refresh token at the LWA endpoint.
    pub async fn login(sandbox: &AmazonSandbox, profile: &str) -> Api {
        let app = sandbox.app(profile).unwrap();
        let http = reqwest::Client::new();
        let response = http
            .post(sandbox.auth_endpoint())
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", app.refresh_token.as_str()),
                ("client_id", app.client_id.as_str()),
                ("client_secret", app.client_secret.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        Api {
            http,
            base: sandbox.endpoint().to_string(),
            token: body["access_token"].as_str().unwrap().to_string(),
        }
    }

    /// The same client with another token.
    pub fn with_token(&self, token: &str) -> Api {
        Api {
            token: token.to_string(),
            ..self.clone()
        }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header("x-amz-access-token", &self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    /// A restricted data token for these resources, as `(method, path, dataElements)`.
    pub async fn rdt(&self, resources: &[(&str, &str, &[&str])]) -> String {
        let resources: Vec<Value> = resources
            .iter()
            .map(|(m, p, d)| json!({"method": m, "path": p, "dataElements": d}))
            .collect();
        let answer = self
            .send(
                Method::POST,
                "/tokens/2021-03-01/restrictedDataToken",
                Some(json!({"restrictedResources": resources})),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body["restrictedDataToken"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// Places an MFN order of `quantity` of one stocked SKU and authorises its payment.
pub fn unshipped_order(sandbox: &AmazonSandbox, lines: &[u32]) -> Order {
    let skus: Vec<String> = sandbox.listings().iter().map(|l| l.sku.clone()).collect();
    let items = lines
        .iter()
        .enumerate()
        .map(|(n, quantity)| {
            let sku = skus[n].clone();
            let now = sandbox.state().clock.now();
            sandbox
                .state()
                .account
                .write()
                .set_quantity(&sku, 1_000, now)
                .unwrap();
            NewOrderItem {
                sku,
                quantity: *quantity,
            }
        })
        .collect();
    let order = sandbox
        .place_order(NewOrder {
            items,
            ..NewOrder::default()
        })
        .unwrap();
    sandbox.advance_order(&order.amazon_order_id).unwrap()
}

/// Moves the sandbox clock past the two-minute window so that what was just done is visible
/// to searches.
pub fn settle(sandbox: &AmazonSandbox) {
    sandbox.advance_clock(chrono::Duration::seconds(121));
}

/// `CreatedAfter`-style ISO time.
pub fn iso(time: chrono::DateTime<chrono::Utc>) -> String {
    amazon_sandbox::clock::iso(time)
}
