//! Transport-level behaviour of the client against a scripted loopback server: pacing,
//! 429 handling, retries, the never-retry-a-POST rule, timeouts, truncated bodies, error
//! mapping and paging.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::{QuotaStore, Reply, TestServer, STORE_HASH, TOKEN};
use bigcommerce_client::{
    CreateShipment, Error, NewShipmentItem, OrderQuery, ProductQuery, ProductUpdate,
};
use futures::{StreamExt, TryStreamExt};
use serde_json::json;

const TIME_BODY: &str = r#"{"time": 1529512970}"#;

async fn run_many(client: &bigcommerce_client::Client, total: usize, concurrency: usize) -> usize {
    futures::stream::iter(0..total)
        .map(|_| {
            let client = client.clone();
            async move { client.get_time().await }
        })
        .buffer_unordered(concurrency)
        .filter(|result| futures::future::ready(result.is_ok()))
        .count()
        .await
}

#[tokio::test]
async fn pacing_keeps_a_run_of_three_times_the_quota_free_of_429s() {
    let store = QuotaStore::new(10, Duration::from_millis(300));
    let quota = Arc::clone(&store);
    let server = TestServer::start(move |_| quota.answer(TIME_BODY)).await;
    let client = server.client();

    let succeeded = run_many(&client, 30, 4).await;

    assert_eq!(succeeded, 30);
    assert_eq!(store.rejected(), 0, "the server answered 429");
    let stats = client.stats();
    assert_eq!(stats.rate_limited, 0);
    assert_eq!(stats.requests_sent, 30);
    assert!(
        stats.throttled > 0,
        "a run of 3x the quota must have waited"
    );
    assert_eq!(stats.last_quota, Some(10));
    assert_eq!(stats.in_flight, 0);
}

#[tokio::test]
async fn clients_sharing_one_limiter_stay_free_of_429s_under_high_concurrency() {
    let store = QuotaStore::new(12, Duration::from_millis(300));
    let quota = Arc::clone(&store);
    let server = TestServer::start(move |_| quota.answer(TIME_BODY)).await;
    let first = server.client();
    let second =
        bigcommerce_client::Client::with_limiter(server.config(), Arc::clone(first.limiter()))
            .unwrap();
    let started = tokio::time::Instant::now();

    let (a, b) = tokio::join!(run_many(&first, 18, 6), run_many(&second, 18, 6));

    assert_eq!(a + b, 36);
    assert_eq!(store.rejected(), 0, "the server answered 429");
    assert_eq!(first.stats().requests_sent, 36);
    // 36 requests at 80% of 12 per 300 ms need at least three resets.
    assert!(started.elapsed() >= Duration::from_millis(600));
}

#[tokio::test]
async fn without_pacing_the_same_run_meets_429s_and_recovers_by_waiting_for_the_reset() {
    let store = QuotaStore::new(10, Duration::from_millis(300));
    let quota = Arc::clone(&store);
    let server = TestServer::start(move |_| quota.answer(TIME_BODY)).await;
    let mut config = server.config();
    config.quota_share = 1.0;
    config.max_retries = 10;
    let client = bigcommerce_client::Client::new(config).unwrap();

    let succeeded = run_many(&client, 30, 4).await;

    assert_eq!(succeeded, 30);
    assert!(store.rejected() > 0);
    assert_eq!(client.stats().rate_limited, store.rejected());
}

#[tokio::test]
async fn a_429_without_headers_is_retried_after_a_backoff() {
    let calls = AtomicUsize::new(0);
    let server = TestServer::start(move |_| {
        if calls.fetch_add(1, Ordering::SeqCst) < 2 {
            Reply::json(429, "")
        } else {
            Reply::json(200, TIME_BODY)
        }
    })
    .await;
    let client = server.client();

    client.get_time().await.unwrap();

    assert_eq!(server.count(), 3);
    assert_eq!(client.stats().rate_limited, 2);
}

#[tokio::test]
async fn rate_limited_on_every_attempt_reports_rate_limited() {
    let server = TestServer::start(|_| Reply::json(429, "")).await;
    let mut config = server.config();
    config.max_retries = 2;
    let client = bigcommerce_client::Client::new(config).unwrap();

    let error = client.get_time().await.unwrap_err();

    assert!(
        matches!(error, Error::RateLimited { attempts: 3, .. }),
        "{error:?}"
    );
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn server_errors_on_a_get_are_retried() {
    let calls = AtomicUsize::new(0);
    let server = TestServer::start(move |_| match calls.fetch_add(1, Ordering::SeqCst) {
        0 => Reply::json(500, "{}"),
        1 => Reply::json(502, "<html>bad gateway</html>"),
        _ => Reply::json(200, TIME_BODY),
    })
    .await;

    let time = server.client().get_time().await.unwrap();

    assert_eq!(time.timestamp(), 1529512970);
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn a_put_is_retried_after_a_503() {
    let calls = AtomicUsize::new(0);
    let server = TestServer::start(move |_| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::json(503, "")
        } else {
            Reply::json(200, r#"{"id": 7, "status_id": 2}"#)
        }
    })
    .await;

    let order = server.client().update_order_status(7, 2).await.unwrap();

    assert_eq!(order.status_id, Some(2));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].method, "PUT");
    assert_eq!(requests[1].body, br#"{"status_id":2}"#);
}

fn shipment() -> CreateShipment {
    CreateShipment {
        order_address_id: 51,
        tracking_number: Some("1Z999".into()),
        comments: Some("cenports:42".into()),
        items: vec![NewShipmentItem {
            order_product_id: 65,
            quantity: 1,
        }],
        ..CreateShipment::default()
    }
}

#[tokio::test]
async fn a_shipment_post_answered_with_502_is_not_retried_and_its_outcome_is_unknown() {
    let server = TestServer::start(|_| Reply::json(502, "")).await;

    let error = server
        .client()
        .create_shipment(100, &shipment())
        .await
        .unwrap_err();

    assert!(matches!(error, Error::OutcomeUnknown { .. }), "{error:?}");
    assert!(error
        .to_string()
        .contains("may or may not have been applied"));
    assert!(error.to_string().contains("POST /v2/orders/100/shipments"));
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_shipment_post_that_times_out_is_sent_exactly_once() {
    let server = TestServer::start(|_| Reply::Hang(Duration::from_secs(3))).await;
    let mut config = server.config();
    config.timeout = Duration::from_millis(200);
    let client = bigcommerce_client::Client::new(config).unwrap();

    let error = client.create_shipment(100, &shipment()).await.unwrap_err();

    assert!(matches!(error, Error::OutcomeUnknown { .. }), "{error:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.count(), 1);
    let sent: serde_json::Value = serde_json::from_slice(&server.requests()[0].body).unwrap();
    assert_eq!(
        sent,
        json!({"order_address_id": 51, "tracking_number": "1Z999", "comments": "cenports:42",
               "items": [{"order_product_id": 65, "quantity": 1}]})
    );
}

#[tokio::test]
async fn a_get_that_keeps_timing_out_is_retried_then_reports_a_timeout() {
    let server = TestServer::start(|_| Reply::Hang(Duration::from_secs(3))).await;
    let mut config = server.config();
    config.timeout = Duration::from_millis(150);
    config.max_retries = 1;
    let client = bigcommerce_client::Client::new(config).unwrap();

    let error = client.get_order(5).await.unwrap_err();

    assert!(
        matches!(error, Error::Timeout { attempts: 2, .. }),
        "{error:?}"
    );
    assert_eq!(server.count(), 2);
    assert_eq!(client.stats().in_flight, 0);
}

#[tokio::test]
async fn a_truncated_body_on_a_get_is_retried() {
    let calls = AtomicUsize::new(0);
    let server = TestServer::start(move |_| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::Truncated {
                status: 200,
                body: r#"[{"id": 1, "sta"#.into(),
            }
        } else {
            Reply::json(200, r#"[{"id": 1, "status_id": 11}]"#)
        }
    })
    .await;

    let orders = server
        .client()
        .list_orders(&OrderQuery::default())
        .await
        .unwrap();

    assert_eq!(orders.len(), 1);
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn an_undecodable_body_on_a_get_becomes_a_decode_error_after_two_retries() {
    let server = TestServer::start(|_| Reply::json(200, "{not json")).await;

    let error = server.client().get_store().await.unwrap_err();

    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    assert!(error.to_string().contains("GET /v2/store"));
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn statuses_map_to_errors_that_say_what_to_do_and_never_show_the_token_or_host() {
    let server = TestServer::start(|request| match request.endpoint() {
        "/v2/time" => Reply::json(401, r#"[{"status": 401, "message": "Unauthorized"}]"#),
        "/v2/orders/1" => Reply::json(403, r#"[{"status": 403, "message": "Forbidden"}]"#),
        "/v2/orders/2" => Reply::json(
            404,
            r#"[{"status": 404, "message": "The requested resource was not found."}]"#,
        ),
        "/v3/catalog/products" => Reply::json(
            422,
            r#"{"status": 422, "title": "JSON data is missing or invalid",
                "type": "https://developer.bigcommerce.com/docs/start/about/status-codes",
                "errors": {"inventory_level": "must be an integer"}}"#,
        ),
        _ => Reply::json(405, ""),
    })
    .await;
    let client = server.client();
    let host = server.url.host_str().unwrap().to_owned();

    let unauthorized = client.get_time().await.unwrap_err();
    assert!(matches!(unauthorized, Error::Unauthorized { .. }));
    assert!(unauthorized
        .to_string()
        .contains("create a new API account"));

    let forbidden = client.update_order_status(1, 2).await.unwrap_err();
    assert_eq!(
        forbidden.to_string(),
        "PUT /v2/orders/1: the access token lacks Orders: Modify (store_v2_orders); edit the API \
         account in BigCommerce and reconnect"
    );

    let missing = client.get_order(2).await.unwrap_err();
    assert!(matches!(missing, Error::NotFound { .. }));

    let invalid = client
        .update_products(&[ProductUpdate {
            id: 1,
            inventory_level: Some(-1),
            ..ProductUpdate::default()
        }])
        .await
        .unwrap_err();
    let Error::Validation { status, errors, .. } = &invalid else {
        panic!("expected a validation error, got {invalid:?}");
    };
    assert_eq!(*status, 422);
    assert_eq!(errors[0].field.as_deref(), Some("inventory_level"));

    for error in [&unauthorized, &forbidden, &missing, &invalid] {
        let text = format!("{error} {error:?}");
        assert!(!text.contains(TOKEN));
        assert!(!text.contains(&host));
    }
    // Client errors are not retried.
    assert_eq!(server.count(), 4);
}

#[tokio::test]
async fn requests_carry_the_auth_and_json_headers_and_the_store_path() {
    let server = TestServer::start(|_| Reply::json(200, TIME_BODY)).await;

    server.client().get_time().await.unwrap();

    let request = &server.requests()[0];
    assert_eq!(request.path, format!("/stores/{STORE_HASH}/v2/time"));
    assert_eq!(request.header("x-auth-token"), Some(TOKEN));
    assert_eq!(request.header("accept"), Some("application/json"));
    assert_eq!(request.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn v2_paging_stops_at_a_204_or_a_short_page() {
    let server = TestServer::start(|request| {
        let page: u64 = request.param("page").unwrap().parse().unwrap();
        match page {
            1 => Reply::json(200, r#"[{"id": 1}, {"id": 2}]"#),
            2 => Reply::json(200, r#"[{"id": 3}, {"id": 4}]"#),
            _ => Reply::no_content(),
        }
    })
    .await;
    let client = server.client();
    let query = OrderQuery {
        limit: Some(2),
        ..OrderQuery::default()
    };

    let pages: Vec<_> = client.order_pages(&query).try_collect().await.unwrap();

    assert_eq!(pages.len(), 2);
    assert_eq!(server.count(), 3);
    assert_eq!(server.requests()[2].param("limit"), Some("2"));
}

#[tokio::test]
async fn the_keyset_walk_moves_min_id_past_each_page() {
    let server = TestServer::start(|request| match request.param("min_id") {
        None => Reply::json(200, r#"[{"id": 10}, {"id": 12}]"#),
        Some("13") => Reply::json(200, r#"[{"id": 20}]"#),
        Some(other) => panic!("unexpected min_id {other}"),
    })
    .await;
    let query = OrderQuery {
        limit: Some(2),
        ..OrderQuery::default()
    };

    let pages: Vec<_> = server
        .client()
        .order_pages_by_id(&query)
        .try_collect()
        .await
        .unwrap();

    assert_eq!(pages.len(), 2);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests
        .iter()
        .all(|r| r.param("sort") == Some("id:asc") && r.param("page") == Some("1")));
}

fn line(order_id: u64, id: u64) -> serde_json::Value {
    json!({"id": id, "order_id": order_id, "product_id": 77, "variant_id": 500,
           "order_address_id": 51, "sku": format!("SKU-{id}"), "quantity": 1,
           "quantity_shipped": 0, "base_price": "1.0000", "price_inc_tax": "1.0000",
           "total_inc_tax": "1.0000", "weight": "0.5000"})
}

#[tokio::test]
async fn orders_with_more_than_fifty_lines_fall_back_to_the_products_endpoint() {
    let small = json!({
        "id": 1, "items_total": 2, "date_modified": "Tue, 05 Mar 2019 21:50:23 +0000",
        "consignments": {"pickups": [], "downloads": [], "email": {"gift_certificates": []},
            "shipping": [{"id": 51, "first_name": "Jane", "items_total": 2,
                          "line_items": [line(1, 1), line(1, 2)]}]}
    });
    let big = json!({
        "id": 2, "items_total": 60, "date_modified": "Tue, 05 Mar 2019 21:50:23 +0000",
        "consignments": {"pickups": [], "downloads": [], "email": {"gift_certificates": []},
            "shipping": [{"id": 52, "first_name": "Joe", "items_total": 60,
                          "line_items": (1..=50).map(|i| line(2, 100 + i)).collect::<Vec<_>>(),
                          "__warning__": {"message": "Not all line items of this consignment are returned with this response, only 50 are included. Please use the `/v2/orders/{order_id}/products` endpoint to fetch all line items."}}]}
    });
    let orders_page = serde_json::to_string(&json!([small, big])).unwrap();
    let products_page =
        serde_json::to_string(&(1..=60).map(|i| line(2, 100 + i)).collect::<Vec<_>>()).unwrap();
    let server = TestServer::start(move |request| match request.endpoint() {
        "/v2/orders" => {
            assert_eq!(request.param("include"), Some("consignments.line_items"));
            assert_eq!(request.param("consignment_structure"), Some("object"));
            Reply::json(200, orders_page.clone())
        }
        "/v2/orders/2/products" => Reply::json(200, products_page.clone()),
        other => panic!("unexpected request to {other}"),
    })
    .await;

    let pages: Vec<_> = server
        .client()
        .order_pages_with_lines(&OrderQuery::default())
        .try_collect()
        .await
        .unwrap();

    let orders = &pages[0];
    assert_eq!(orders.len(), 2);
    assert_eq!(orders[0].lines.len(), 2);
    assert!(!orders[0].lines_fetched_separately);
    assert_eq!(orders[1].lines.len(), 60);
    assert!(orders[1].lines_fetched_separately);
    assert!(orders[1].order.line_items_truncated());
    let endpoints: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.endpoint().to_owned())
        .collect();
    assert_eq!(endpoints, ["/v2/orders", "/v2/orders/2/products"]);
}

#[tokio::test]
async fn v3_paging_follows_meta_pagination() {
    let server = TestServer::start(|request| {
        let page: u64 = request.param("page").unwrap().parse().unwrap();
        assert_eq!(request.param("include"), Some("variants"));
        assert_eq!(request.param("id:in"), Some("1,2,3"));
        let body = json!({
            "data": [{"id": page, "name": format!("P{page}"), "inventory_tracking": "variant",
                      "variants": [{"id": 100 + page, "product_id": page, "sku": "V", "inventory_level": 3}]}],
            "meta": {"pagination": {"total": 2, "count": 1, "per_page": 1,
                                    "current_page": page, "total_pages": 2}}
        });
        Reply::json(200, body.to_string())
    })
    .await;
    let query = ProductQuery {
        ids: vec![1, 2, 3],
        include_variants: true,
        limit: Some(1),
        ..ProductQuery::default()
    };

    let pages: Vec<_> = server
        .client()
        .product_pages(&query)
        .try_collect()
        .await
        .unwrap();

    assert_eq!(pages.len(), 2);
    assert_eq!(pages[1][0].variants[0].id, 102);
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn an_oversized_batch_is_refused_before_sending() {
    let server = TestServer::start(|_| Reply::json(200, r#"{"data": []}"#)).await;
    let updates: Vec<ProductUpdate> = (1..=11)
        .map(|id| ProductUpdate {
            id,
            inventory_level: Some(1),
            ..ProductUpdate::default()
        })
        .collect();

    let error = server.client().update_products(&updates).await.unwrap_err();

    assert!(matches!(error, Error::InvalidRequest { .. }), "{error:?}");
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn a_post_refused_with_429_was_not_applied_and_is_retried() {
    let calls = AtomicUsize::new(0);
    let server = TestServer::start(move |_| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::json(429, "")
                .with_header("X-Rate-Limit-Requests-Left", 0)
                .with_header("X-Rate-Limit-Requests-Quota", 150)
                .with_header("X-Rate-Limit-Time-Reset-Ms", 50)
                .with_header("X-Rate-Limit-Time-Window-Ms", 30000)
        } else {
            Reply::json(
                201,
                r#"{"id": 9, "order_id": 100, "order_address_id": 51, "comments": "cenports:42",
                    "items": [{"order_product_id": 65, "product_id": 0, "quantity": 1}]}"#,
            )
        }
    })
    .await;

    let created = server
        .client()
        .create_shipment(100, &shipment())
        .await
        .unwrap();

    assert_eq!(created.id, 9);
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn a_delete_whose_first_answer_was_lost_treats_the_later_404_as_done() {
    let calls = AtomicUsize::new(0);
    let server = TestServer::start(move |_| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::Hang(Duration::from_secs(3))
        } else {
            Reply::json(404, r#"[{"status": 404, "message": "not found"}]"#)
        }
    })
    .await;
    let mut config = server.config();
    config.timeout = Duration::from_millis(150);
    let client = bigcommerce_client::Client::new(config).unwrap();

    client.delete_shipment(100, 9).await.unwrap();

    assert_eq!(server.count(), 2);
}
