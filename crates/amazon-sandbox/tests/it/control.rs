//! The control API over HTTP: shaping the account, reading what the hub did, faults and the
//! clock.

use std::time::{Duration, Instant};

use crate::support::{answer, sandbox, Api};
use reqwest::Method;
use serde_json::{json, Value};

async fn control(
    sandbox: &amazon_sandbox::AmazonSandbox,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request =
        reqwest::Client::new().request(method, format!("{}/_sandbox{path}", sandbox.endpoint()));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let got = answer(request.send().await.unwrap()).await;
    (got.status, got.body)
}

#[tokio::test]
async fn orders_move_through_their_life_by_the_control_api() {
    let sandbox = sandbox().await;
    let sku = sandbox.listings()[1].sku.clone();
    let (status, listing) = control(
        &sandbox,
        Method::PUT,
        &format!("/listings/{sku}"),
        Some(json!({"quantity": 10})),
    )
    .await;
    assert_eq!((status, listing["quantity"].as_u64()), (200, Some(10)));

    let (status, order) = control(
        &sandbox,
        Method::POST,
        "/orders",
        Some(json!({"items": [{"sku": sku, "quantity": 4}]})),
    )
    .await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["status"], "Pending");
    let id = order["amazon_order_id"].as_str().unwrap().to_string();
    assert_eq!(
        sandbox.listing(&sku).unwrap().quantity,
        6,
        "stock taken at checkout"
    );

    let (status, too_many) = control(
        &sandbox,
        Method::POST,
        "/orders",
        Some(json!({"items": [{"sku": sku, "quantity": 7}]})),
    )
    .await;
    assert_eq!(status, 400, "{too_many}");

    let (_, advanced) = control(
        &sandbox,
        Method::POST,
        &format!("/orders/{id}/advance"),
        None,
    )
    .await;
    assert_eq!(advanced["status"], "Unshipped");
    let (status, _) = control(
        &sandbox,
        Method::POST,
        &format!("/orders/{id}/advance"),
        None,
    )
    .await;
    assert_eq!(
        status, 400,
        "a merchant-fulfilled order ships only by confirmShipment"
    );
    let (_, asked) = control(
        &sandbox,
        Method::POST,
        &format!("/orders/{id}/buyer_cancel_request"),
        Some(json!({"reason": "Late"})),
    )
    .await;
    assert_eq!(asked["buyer_cancel_reason"], "Late");
    let (_, cancelled) = control(
        &sandbox,
        Method::POST,
        &format!("/orders/{id}/cancel"),
        None,
    )
    .await;
    assert_eq!(cancelled["status"], "Canceled");
    assert_eq!(
        sandbox.listing(&sku).unwrap().quantity,
        10,
        "stock given back"
    );
    let (status, _) = control(
        &sandbox,
        Method::POST,
        &format!("/orders/{id}/cancel"),
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (status, missing) =
        control(&sandbox, Method::GET, "/orders/702-0000000-0000000", None).await;
    assert_eq!(
        (status, missing["errors"][0]["code"].as_str()),
        (404, Some("NotFound"))
    );

    let (_, afn) = control(
        &sandbox,
        Method::POST,
        "/orders",
        Some(json!({"fulfillment_channel": "AFN", "status": "Unshipped"})),
    )
    .await;
    let afn_id = afn["amazon_order_id"].as_str().unwrap();
    let (_, shipped) = control(
        &sandbox,
        Method::POST,
        &format!("/orders/{afn_id}/advance"),
        None,
    )
    .await;
    assert_eq!(shipped["status"], "Shipped", "Amazon ships its own orders");
    let (_, packages) = control(&sandbox, Method::GET, "/packages", None).await;
    assert_eq!(packages.as_array().unwrap().len(), 1);
    assert_eq!(packages[0]["order_id"], afn_id);

    let (_, account) = control(&sandbox, Method::GET, "/account", None).await;
    assert_eq!(account["seller_id"], sandbox.seller_id().as_str());
    assert_eq!(account["profiles"].as_array().unwrap().len(), 4);
    assert!(account["profiles"][0].get("client_secret").is_none());
}

#[tokio::test]
async fn faults_strike_as_configured_and_the_log_counts_them() {
    let sandbox = sandbox().await;
    let api = Api::login(&sandbox, "full").await;
    let order = crate::support::unshipped_order(&sandbox, &[1]);
    let path = format!("/orders/v0/orders/{}", order.amazon_order_id);

    let (status, _) = control(
        &sandbox,
        Method::POST,
        "/faults",
        Some(json!({"kind": "latency", "latency_ms": 300, "count": 1})),
    )
    .await;
    assert_eq!(status, 201);
    let started = Instant::now();
    assert_eq!(api.get(&path).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    control(
        &sandbox,
        Method::POST,
        "/faults",
        Some(json!({"kind": "reset", "method": "GET", "count": 1})),
    )
    .await;
    let reset = api
        .http
        .get(format!("{}{path}", api.base))
        .header("x-amz-access-token", &api.token)
        .send()
        .await;
    let dropped = match reset {
        Err(_) => true,
        Ok(response) => response.bytes().await.is_err(),
    };
    assert!(dropped, "the connection was dropped");

    control(
        &sandbox,
        Method::POST,
        "/faults",
        Some(json!({"kind": "error503", "path_contains": "/orderItems"})),
    )
    .await;
    assert_eq!(
        api.get(&path).await.status,
        200,
        "the filter spares other paths"
    );
    assert_eq!(api.get(&format!("{path}/orderItems")).await.status, 503);
    assert_eq!(
        api.get(&format!("{path}/orderItems")).await.status,
        503,
        "no count: it stays"
    );
    let (_, faults) = control(&sandbox, Method::GET, "/faults", None).await;
    assert_eq!(faults["struck"], 4);
    control(&sandbox, Method::DELETE, "/faults", None).await;
    assert_eq!(api.get(&format!("{path}/orderItems")).await.status, 200);

    let (_, counters) = control(&sandbox, Method::GET, "/counters", None).await;
    assert_eq!(counters["by_operation"]["getOrderItems"], 3);
    assert_eq!(counters["by_status"]["503"], 2);
    let (_, log) = control(&sandbox, Method::GET, "/requests?after=0", None).await;
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["operation"], "getOrderItems");
    assert_eq!(last["profile"], "full");
}

#[tokio::test]
async fn the_clock_moves_only_forward() {
    let sandbox = sandbox().await;
    let (_, before) = control(&sandbox, Method::GET, "/clock", None).await;
    let (status, after) = control(
        &sandbox,
        Method::POST,
        "/clock/advance",
        Some(json!({"seconds": 3600})),
    )
    .await;
    assert_eq!(status, 200);
    let parse = |v: &Value| amazon_sandbox::clock::parse_iso(v["now"].as_str().unwrap()).unwrap();
    assert!(parse(&after) - parse(&before) >= chrono::Duration::seconds(3600));
    let (status, _) = control(
        &sandbox,
        Method::POST,
        "/clock/advance",
        Some(json!({"seconds": -10})),
    )
    .await;
    assert_eq!(status, 400);
}
