//! Per-operation token buckets: burst, refill at the operation's rate, 429 `QuotaExceeded`,
//! `x-amzn-RateLimit-Limit`, buckets per app, and the scale knob.

use crate::support::{sandbox_with, unshipped_order, Api};
use amazon_sandbox::AmazonSandboxConfig;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn get_orders_bursts_twenty_then_refills_one_a_minute() {
    let sandbox = sandbox_with(AmazonSandboxConfig::default()).await;
    let api = Api::login(&sandbox, "full").await;
    let path = format!(
        "/orders/v0/orders?MarketplaceIds={}&CreatedAfter=2020-01-01",
        sandbox.marketplace_id()
    );
    for n in 0..20 {
        let answer = api.get(&path).await;
        assert_eq!(answer.status, 200, "request {n}");
        assert_eq!(answer.header("x-amzn-RateLimit-Limit"), Some("0.0167"));
        assert!(answer.header("x-amzn-RequestId").is_some());
    }
    let refused = api.get(&path).await;
    assert_eq!((refused.status, refused.code()), (429, "QuotaExceeded"));
    assert_eq!(refused.header("x-amzn-RateLimit-Limit"), Some("0.0167"));

    // Another app of the seller has its own bucket; another operation too.
    let other = Api::login(&sandbox, "missing-listings").await;
    assert_eq!(other.get(&path).await.status, 200);
    let order = unshipped_order(&sandbox, &[1]);
    assert_eq!(
        api.get(&format!("/orders/v0/orders/{}", order.amazon_order_id))
            .await
            .status,
        200
    );

    // 0.0167 per second: a token a minute.
    sandbox.advance_clock(chrono::Duration::seconds(30));
    assert_eq!(api.get(&path).await.status, 429);
    sandbox.advance_clock(chrono::Duration::seconds(30));
    assert_eq!(api.get(&path).await.status, 200);
    assert_eq!(api.get(&path).await.status, 429);
}

#[tokio::test]
async fn every_operation_reports_its_usage_plan_rate() {
    let sandbox = sandbox_with(AmazonSandboxConfig::default()).await;
    let api = Api::login(&sandbox, "full").await;
    let m = sandbox.marketplace_id().to_string();
    let order = unshipped_order(&sandbox, &[1]);
    let id = order.amazon_order_id.clone();
    let listing = sandbox.listings()[0].clone();
    let listing_path = format!(
        "/listings/2021-08-01/items/{}/{}?marketplaceIds={m}",
        sandbox.seller_id(),
        listing.sku
    );
    let cases: Vec<(Method, String, Option<serde_json::Value>, &str)> = vec![
        (Method::GET, format!("/orders/v0/orders/{id}"), None, "0.5"),
        (
            Method::GET,
            format!("/orders/v0/orders/{id}/orderItems"),
            None,
            "0.5",
        ),
        (
            Method::POST,
            format!("/orders/v0/orders/{id}/shipmentConfirmation"),
            Some(json!({})),
            "2",
        ),
        (
            Method::GET,
            "/orders/2026-01-01/orders?createdAfter=2020-01-01".to_string(),
            None,
            "0.0056",
        ),
        (
            Method::GET,
            format!("/orders/2026-01-01/orders/{id}"),
            None,
            "0.5",
        ),
        (
            Method::POST,
            "/tokens/2021-03-01/restrictedDataToken".to_string(),
            Some(
                json!({"restrictedResources": [{"method": "GET", "path": "/orders/v0/orders/{orderId}/address"}]}),
            ),
            "1",
        ),
        (Method::GET, listing_path.clone(), None, "5"),
        (
            Method::PATCH,
            listing_path,
            Some(json!({"productType": listing.product_type, "patches": []})),
            "5",
        ),
    ];
    for (method, path, body, rate) in cases {
        let answer = api.send(method.clone(), &path, body).await;
        assert_eq!(
            answer.header("x-amzn-RateLimit-Limit"),
            Some(rate),
            "{method} {path}: {}",
            answer.status
        );
    }
}

#[tokio::test]
async fn confirm_shipment_allows_a_burst_of_ten_and_the_scale_speeds_refills() {
    let sandbox = sandbox_with(AmazonSandboxConfig::default()).await;
    let api = Api::login(&sandbox, "full").await;
    let path = "/orders/v0/orders/702-0000000-0000000/shipmentConfirmation";
    for _ in 0..10 {
        // Unknown order: the bucket is spent all the same.
        assert_eq!(
            api.send(Method::POST, path, Some(json!({}))).await.status,
            400
        );
    }
    assert_eq!(
        api.send(Method::POST, path, Some(json!({}))).await.status,
        429
    );

    // The control API rescales (and refills) every bucket: getOrders at 60 x 0.0167 per second.
    let response = reqwest::Client::new()
        .put(format!("{}/_sandbox/rate_scale", sandbox.endpoint()))
        .json(&json!({"scale": 60.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let orders = format!(
        "/orders/v0/orders?MarketplaceIds={}&CreatedAfter=2020-01-01",
        sandbox.marketplace_id()
    );
    for _ in 0..20 {
        assert_eq!(api.get(&orders).await.status, 200);
    }
    let refused = api.get(&orders).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("x-amzn-RateLimit-Limit"), Some("1.002"));
    sandbox.advance_clock(chrono::Duration::seconds(1));
    assert_eq!(api.get(&orders).await.status, 200);
}
