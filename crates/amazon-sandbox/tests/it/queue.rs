//! The `ORDER_CHANGE` queue: notifications for every change, SQS's at-least-once delivery
//! (redelivery after the visibility timeout unless deleted, latest receipt handle only),
//! long polling, duplicates, and live mode feeding it.

use std::time::{Duration, Instant};

use crate::support::{sandbox, sandbox_with, Api};
use amazon_sandbox::{AmazonSandboxConfig, LiveSettings, NewOrder};
use reqwest::Method;
use serde_json::{json, Value};

async fn receive(sandbox: &amazon_sandbox::AmazonSandbox, query: &str) -> Vec<Value> {
    let body: Value = reqwest::get(format!(
        "{}/_sandbox/queue/receive?{query}",
        sandbox.endpoint()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    body["messages"].as_array().unwrap().clone()
}

async fn delete(sandbox: &amazon_sandbox::AmazonSandbox, handle: &str) -> bool {
    let body: Value = reqwest::Client::new()
        .post(format!("{}/_sandbox/queue/delete", sandbox.endpoint()))
        .json(&json!({"receipt_handle": handle}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["deleted"].as_bool().unwrap()
}

fn notification(message: &Value) -> Value {
    serde_json::from_str(message["body"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn every_order_change_is_notified_in_amazons_shape() {
    let sandbox = sandbox().await;
    let api = Api::login(&sandbox, "full").await;
    let order = crate::support::unshipped_order(&sandbox, &[1]);
    let id = order.amazon_order_id.clone();
    sandbox
        .request_cancellation(&id, "Found cheaper somewhere else.")
        .unwrap();
    let confirmed = api
        .send(
            Method::POST,
            &format!("/orders/v0/orders/{id}/shipmentConfirmation"),
            Some(json!({
                "marketplaceId": sandbox.marketplace_id(),
                "packageDetail": {
                    "packageReferenceId": "1", "carrierCode": "Canada Post", "trackingNumber": "1",
                    "shipDate": "2025-01-01T00:00:00Z",
                    "orderItems": [{"orderItemId": order.items[0].order_item_id, "quantity": 1}],
                },
            })),
        )
        .await;
    assert_eq!(confirmed.status, 204);

    let messages = receive(&sandbox, "max=10").await;
    let bodies: Vec<Value> = messages.iter().map(notification).collect();
    let seen: Vec<(&str, &str)> = bodies
        .iter()
        .map(|b| {
            let n = &b["Payload"]["OrderChangeNotification"];
            (
                n["OrderChangeType"].as_str().unwrap(),
                n["Summary"]["OrderStatus"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("OrderStatusChange", "Pending"),
            ("OrderStatusChange", "Unshipped"),
            ("BuyerRequestedChange", "Unshipped"),
            ("OrderStatusChange", "Shipped"),
        ]
    );
    let first = &bodies[0];
    assert_eq!(first["NotificationType"], "ORDER_CHANGE");
    assert_eq!(first["NotificationVersion"], "1.0");
    assert_eq!(
        first["Payload"]["OrderChangeNotification"]["AmazonOrderId"],
        id.as_str()
    );
    assert_eq!(
        first["Payload"]["OrderChangeNotification"]["SellerId"],
        sandbox.seller_id().as_str()
    );
    assert_eq!(
        first["Payload"]["OrderChangeNotification"]["Summary"]["FulfillmentType"],
        "MFN"
    );
    assert_eq!(
        first["Payload"]["OrderChangeNotification"]["Summary"]["OrderItems"][0]["SellerSKU"],
        order.items[0].seller_sku.as_str()
    );
    assert!(first["NotificationMetadata"]["NotificationId"].is_string());
    let ids: std::collections::HashSet<&str> = bodies
        .iter()
        .map(|b| {
            b["NotificationMetadata"]["NotificationId"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 4);
    assert_eq!(
        bodies[2]["Payload"]["OrderChangeNotification"]["Summary"]["OrderItems"][0]
            ["BuyerRequestedCancel"]["BuyerCancelReason"],
        "Found cheaper somewhere else."
    );
    assert!(
        !serde_json::to_string(&bodies)
            .unwrap()
            .contains(&order.buyer.email),
        "no personal data"
    );
}

#[tokio::test]
async fn an_undeleted_message_is_delivered_again_after_its_visibility_timeout() {
    let sandbox = sandbox_with(AmazonSandboxConfig {
        visibility_timeout_secs: 30,
        rate_scale: 0.0,
        ..AmazonSandboxConfig::default()
    })
    .await;
    sandbox.place_order(NewOrder::default()).unwrap();
    let first = receive(&sandbox, "max=10").await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["receive_count"], 1);
    assert!(
        receive(&sandbox, "max=10").await.is_empty(),
        "hidden while in flight"
    );

    sandbox.advance_clock(chrono::Duration::seconds(30));
    let again = receive(&sandbox, "max=10").await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["message_id"], first[0]["message_id"]);
    assert_eq!(again[0]["body"], first[0]["body"]);
    assert_eq!(again[0]["receive_count"], 2);
    assert_ne!(again[0]["receipt_handle"], first[0]["receipt_handle"]);

    // The first handle is stale: accepted, nothing deleted.
    assert!(!delete(&sandbox, first[0]["receipt_handle"].as_str().unwrap()).await);
    sandbox.advance_clock(chrono::Duration::seconds(30));
    let third = receive(&sandbox, "max=10&visibility=600").await;
    assert_eq!(third[0]["receive_count"], 3);
    assert!(delete(&sandbox, third[0]["receipt_handle"].as_str().unwrap()).await);
    sandbox.advance_clock(chrono::Duration::seconds(3600));
    assert!(
        receive(&sandbox, "max=10").await.is_empty(),
        "deleted for good"
    );
    let stats: Value = reqwest::get(format!("{}/_sandbox/queue", sandbox.endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (stats["sent"].as_u64(), stats["deleted"].as_u64()),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn a_long_poll_returns_as_soon_as_a_notification_arrives() {
    let sandbox = sandbox().await;
    let started = Instant::now();
    let empty = receive(&sandbox, "wait=1").await;
    assert!(empty.is_empty());
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for the poll"
    );

    let placer = sandbox.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        placer.place_order(NewOrder::default()).unwrap();
    });
    let started = Instant::now();
    let messages = receive(&sandbox, "wait=10&max=10").await;
    assert_eq!(messages.len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "woken by the send, not the timeout"
    );
    let refused = reqwest::get(format!(
        "{}/_sandbox/queue/receive?wait=21",
        sandbox.endpoint()
    ))
    .await
    .unwrap();
    assert_eq!(refused.status(), 400);
}

#[tokio::test]
async fn duplicates_and_changed_visibility_behave_like_sqs() {
    let sandbox = sandbox().await;
    let client = reqwest::Client::new();
    let set = client
        .put(format!("{}/_sandbox/queue/duplicates", sandbox.endpoint()))
        .json(&json!({"share": 1.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    sandbox.place_order(NewOrder::default()).unwrap();
    let messages = receive(&sandbox, "max=10").await;
    assert_eq!(messages.len(), 2);
    assert_ne!(messages[0]["message_id"], messages[1]["message_id"]);
    assert_eq!(notification(&messages[0]), notification(&messages[1]));

    // Visibility 0 puts a message back at once.
    let handle = messages[0]["receipt_handle"].as_str().unwrap();
    let changed = client
        .post(format!(
            "{}/_sandbox/queue/change_visibility",
            sandbox.endpoint()
        ))
        .json(&json!({"receipt_handle": handle, "visibility_timeout": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let back = receive(&sandbox, "max=10").await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0]["message_id"], messages[0]["message_id"]);
}

#[tokio::test]
async fn live_mode_trades_and_notifies() {
    let sandbox = sandbox_with(AmazonSandboxConfig {
        orders: 20,
        rate_scale: 0.0,
        ..AmazonSandboxConfig::default()
    })
    .await;
    let before = sandbox.state().account.read().orders().len();
    sandbox
        .start_live(LiveSettings {
            rate: 200.0,
            seed: Some(3),
        })
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    sandbox.stop_live();
    let status = sandbox.state().live.status();
    assert!(status.events_so_far >= 20, "{status:?}");
    let after = sandbox.state().account.read().orders().len();
    assert!(after > before, "new orders placed");
    let messages = receive(&sandbox, "max=10").await;
    assert_eq!(messages.len(), 10);
    assert!(sandbox
        .start_live(LiveSettings {
            rate: 0.0,
            seed: None
        })
        .is_err());
}
