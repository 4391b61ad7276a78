//! Black-box tests of the sandbox's v2 orders API over real HTTP.

use crate::support::{place, sandbox, small_store, Api};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn an_empty_page_answers_204_with_no_body() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 1);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let (status, body) = api.get("/v2/orders").await;
    assert_eq!(status, 204);
    assert!(body.is_null());
    place(&sandbox, &store.hash, 1, &[("MUG-1", 1, 0)]);
    let (status, body) = api.get("/v2/orders").await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 1);
    let (status, _) = api.get("/v2/orders?page=2").await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn orders_carry_v2_money_dates_and_links_to_the_sandbox_itself() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 2);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let id = place(&sandbox, &store.hash, 1, &[("MUG-1", 2, 0)]);
    let (status, order) = api.get(&format!("/v2/orders/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(order["subtotal_ex_tax"], "39.9800");
    assert_eq!(order["status"], "Awaiting Fulfillment");
    assert_eq!(order["status_id"], 11);
    let created = order["date_created"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc2822(created).is_ok(),
        "{created}"
    );
    assert!(created.ends_with("+0000"));
    // Real clients follow resource links: they must lead back to the sandbox.
    let url = order["products"]["url"].as_str().unwrap();
    assert!(url.starts_with(sandbox.base_url()), "{url}");
    let lines: serde_json::Value = api
        .http
        .get(url)
        .header("X-Auth-Token", &api.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(lines[0]["sku"], "MUG-1");
    assert_eq!(lines[0]["quantity"], 2);
    let url = order["shipping_addresses"]["url"].as_str().unwrap();
    let status = api
        .http
        .get(url)
        .header("X-Auth-Token", &api.token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn filters_sorting_and_limits_follow_bigcommerce() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 3);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let ids: Vec<u64> = (0..7)
        .map(|_| place(&sandbox, &store.hash, 1, &[("MUG-1", 1, 0)]))
        .collect();
    let (_, page) = api
        .get(&format!("/v2/orders?min_id={}&limit=3&sort=id:asc", ids[2]))
        .await;
    let got: Vec<u64> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_u64().unwrap())
        .collect();
    assert_eq!(got, ids[2..5]);
    let (_, page) = api
        .get(&format!("/v2/orders?max_id={}&sort=id:desc", ids[1]))
        .await;
    let got: Vec<u64> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_u64().unwrap())
        .collect();
    assert_eq!(got, vec![ids[1], ids[0]]);
    let (status, _) = api.get("/v2/orders?limit=251").await;
    assert_eq!(status, 413);
    let (status, body) = api.get("/v2/orders?min_date_modified=yesterday").await;
    assert_eq!(status, 400);
    assert!(body[0]["message"]
        .as_str()
        .unwrap()
        .contains("min_date_modified"));
    // Both documented date formats are accepted.
    let past = "Thu, 20 Apr 2017 11:32:00 -0400";
    let (_, rfc) = api
        .get(&format!("/v2/orders?min_date_modified={}", urlencode(past)))
        .await;
    let (_, iso) = api
        .get("/v2/orders?min_date_modified=2017-04-20T11:32:00.000-04:00")
        .await;
    assert_eq!(rfc.as_array().unwrap().len(), 7);
    assert_eq!(iso.as_array().unwrap().len(), 7);
    let (status, _) = api
        .get("/v2/orders?min_date_modified=2999-01-01T00:00:00Z")
        .await;
    assert_eq!(status, 204);
    let (_, cancelled) = api.get("/v2/orders?status_id=5").await;
    assert!(cancelled.is_null());
    let (_, count) = api.get("/v2/orders/count").await;
    assert_eq!(count["count"], 7);
    let awaiting = count["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == 11)
        .unwrap();
    assert_eq!(awaiting["count"], 7);
}

fn urlencode(s: &str) -> String {
    s.replace(' ', "%20")
        .replace(',', "%2C")
        .replace(':', "%3A")
        .replace('+', "%2B")
}

#[tokio::test]
async fn consignments_carry_line_items_and_cap_them_at_fifty_with_a_warning() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 4);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let lines: Vec<(&str, u32, usize)> = (0..60).map(|_| ("MUG-1", 1, 0)).collect();
    let big = place(&sandbox, &store.hash, 1, &lines);
    let split = place(
        &sandbox,
        &store.hash,
        2,
        &[("MUG-1", 1, 0), ("SOCK-1-L", 2, 1)],
    );
    let (_, orders) = api
        .get("/v2/orders?include=consignments.line_items&consignment_structure=object")
        .await;
    let big_order = orders
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == big)
        .unwrap();
    let consignment = &big_order["consignments"]["shipping"][0];
    assert_eq!(consignment["line_items"].as_array().unwrap().len(), 50);
    assert!(consignment["__warning__"]["message"]
        .as_str()
        .unwrap()
        .contains("/v2/orders/{order_id}/products"));
    // The fallback sees all 60 lines (two pages of 50).
    let (_, first) = api
        .get(&format!("/v2/orders/{big}/products?limit=50"))
        .await;
    let (_, second) = api
        .get(&format!("/v2/orders/{big}/products?limit=50&page=2"))
        .await;
    assert_eq!(
        first.as_array().unwrap().len() + second.as_array().unwrap().len(),
        60
    );

    let split_order = orders
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == split)
        .unwrap();
    let shipping = split_order["consignments"]["shipping"].as_array().unwrap();
    assert_eq!(shipping.len(), 2);
    assert_eq!(shipping[1]["line_items"][0]["sku"], "SOCK-1-L");
    assert!(shipping[0].get("__warning__").is_none());
    // Without include, consignments is a resource link.
    let (_, plain) = api.get(&format!("/v2/orders/{split}")).await;
    assert!(plain["consignments"]["resource"]
        .as_str()
        .unwrap()
        .ends_with("/consignments"));
    // The legacy structure is an array.
    let (_, legacy) = api
        .get(&format!("/v2/orders/{split}?include=consignments"))
        .await;
    assert!(legacy["consignments"].is_array());
}

#[tokio::test]
async fn shipments_validate_like_bigcommerce_and_move_the_order_status() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 5);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let id = place(
        &sandbox,
        &store.hash,
        1,
        &[("MUG-1", 2, 0), ("SOCK-1-M", 1, 0)],
    );
    let (_, lines) = api.get(&format!("/v2/orders/{id}/products")).await;
    let mug = lines[0]["id"].as_u64().unwrap();
    let sock = lines[1]["id"].as_u64().unwrap();
    let address = lines[0]["order_address_id"].as_u64().unwrap();
    let (_, before) = api.get(&format!("/v2/orders/{id}")).await;

    let post = |body: serde_json::Value| {
        let api = &api;
        async move {
            api.send(
                Method::POST,
                &format!("/v2/orders/{id}/shipments"),
                Some(body),
            )
            .await
        }
    };
    let (status, _, body) = post(
        json!({"order_address_id": 999_999, "items": [{"order_product_id": mug, "quantity": 1}]}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) =
        post(json!({"order_address_id": address, "items": [{"product_id": 77, "quantity": 1}]}))
            .await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = post(
        json!({"order_address_id": address, "items": [{"order_product_id": mug, "quantity": 3}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body[0]["message"]
            .as_str()
            .unwrap()
            .contains("greater than"),
        "{body}"
    );

    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (status, _, shipment) = post(json!({
        "order_address_id": address.to_string(),
        "tracking_number": "1Z999",
        "shipping_provider": "ups",
        "comments": "cenports:outbox-1",
        "items": [{"order_product_id": mug, "quantity": 2}]
    }))
    .await;
    assert_eq!(status, 201, "{shipment}");
    assert_eq!(shipment["items"][0]["quantity"], 2);
    let (_, order) = api.get(&format!("/v2/orders/{id}")).await;
    assert_eq!(order["status"], "Partially Shipped");
    assert_eq!(order["items_shipped"], 2);
    assert_ne!(order["date_modified"], before["date_modified"]);

    let (status, _, _) = post(
        json!({"order_address_id": address, "items": [{"order_product_id": sock, "quantity": 1}]}),
    )
    .await;
    assert_eq!(status, 201);
    let (_, order) = api.get(&format!("/v2/orders/{id}")).await;
    assert_eq!(order["status"], "Shipped");
    assert!(!order["date_shipped"].as_str().unwrap().is_empty());
    let (_, count) = api.get(&format!("/v2/orders/{id}/shipments/count")).await;
    assert_eq!(count["count"], 2);
    let (_, lines) = api.get(&format!("/v2/orders/{id}/products")).await;
    assert_eq!(lines[0]["quantity_shipped"], 2);

    // Nothing remains: a further shipment is refused.
    let (status, _, _) = post(
        json!({"order_address_id": address, "items": [{"order_product_id": mug, "quantity": 1}]}),
    )
    .await;
    assert_eq!(status, 400);

    // Items cannot be changed by PUT; tracking can.
    let shipment_id = shipment["id"].as_u64().unwrap();
    let path = format!("/v2/orders/{id}/shipments/{shipment_id}");
    let (status, _, _) = api
        .send(Method::PUT, &path, Some(json!({"items": []})))
        .await;
    assert_eq!(status, 400);
    let (status, _, updated) = api
        .send(
            Method::PUT,
            &path,
            Some(json!({"tracking_number": "1Z000"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["tracking_number"], "1Z000");
    // Deleting a shipment returns the quantities but keeps the status.
    let (status, _, _) = api.send(Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
    let (_, order) = api.get(&format!("/v2/orders/{id}")).await;
    assert_eq!(order["status"], "Shipped");
    assert_eq!(order["items_shipped"], 1);
}

#[tokio::test]
async fn status_changes_and_archiving_change_what_lists_show() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 6);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let a = place(&sandbox, &store.hash, 1, &[("MUG-1", 1, 0)]);
    let b = place(&sandbox, &store.hash, 1, &[("MUG-1", 1, 0)]);
    let (status, _, order) = api
        .send(
            Method::PUT,
            &format!("/v2/orders/{a}"),
            Some(json!({"status_id": 5})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(order["status"], "Cancelled");
    let (status, _, _) = api
        .send(
            Method::PUT,
            &format!("/v2/orders/{a}"),
            Some(json!({"status_id": 99})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _, _) = api
        .send(Method::DELETE, &format!("/v2/orders/{b}"), None)
        .await;
    assert_eq!(status, 204);
    let (_, listed) = api.get("/v2/orders").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (_, archived) = api.get("/v2/orders?is_deleted=true").await;
    assert_eq!(archived[0]["id"], b);
    assert_eq!(archived[0]["is_deleted"], true);
    let (_, statuses) = api.get("/v2/order_statuses").await;
    assert_eq!(statuses.as_array().unwrap().len(), 15);
}

#[tokio::test]
async fn tokens_and_scopes_are_enforced_with_bigcommerce_error_bodies() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 7);
    let id = place(&sandbox, &store.hash, 1, &[("MUG-1", 1, 0)]);
    let mut api = Api::new(&sandbox, &store, "read-only");
    let (status, _) = api.get(&format!("/v2/orders/{id}")).await;
    assert_eq!(status, 200);
    let (status, _, body) = api
        .send(
            Method::PUT,
            &format!("/v2/orders/{id}"),
            Some(json!({"status_id": 9})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(body[0]["status"], 403);
    assert!(body[0]["message"].as_str().unwrap().contains("scope"));
    let (status, _, body) = api
        .send(Method::PUT, "/v3/catalog/products", Some(json!([])))
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["status"], 403, "v3 errors are objects: {body}");

    let no_info = Api::new(&sandbox, &store, "missing-information");
    assert_eq!(no_info.get("/v2/store").await.0, 403);
    assert_eq!(no_info.get("/v2/orders").await.0, 200);

    api.token = "not-a-token".to_string();
    let (status, body) = api.get("/v2/orders").await;
    assert_eq!(status, 401);
    assert_eq!(body[0]["status"], 401);
    // Webhooks need no scope, but a valid token.
    let (status, _) = api.get("/v3/hooks").await;
    assert_eq!(status, 401);
    // A wrong store hash is not found.
    let wrong = reqwest::Client::new()
        .get(format!(
            "{}/stores/nosuchstore/v2/store",
            sandbox.base_url()
        ))
        .header(
            "X-Auth-Token",
            &store.account("merchant-guide").unwrap().access_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
}

#[tokio::test]
async fn the_quota_is_shared_by_every_token_of_the_store_and_reported_in_headers() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 8);
    sandbox
        .store(&store.hash)
        .unwrap()
        .rate
        .lock()
        .set_limit(bigcommerce_sandbox::RateLimit {
            quota: Some(5),
            window_ms: 60_000,
        });
    let a = Api::new(&sandbox, &store, "merchant-guide");
    let b = Api::new(&sandbox, &store, "read-only");
    for i in 0..5 {
        let api = if i % 2 == 0 { &a } else { &b };
        let (status, headers, _) = api.send(Method::GET, "/v2/time", None).await;
        assert_eq!(status, 200);
        assert_eq!(headers["x-rate-limit-requests-quota"], "5");
        assert_eq!(
            headers["x-rate-limit-requests-left"],
            (4 - i).to_string().as_str()
        );
        assert_eq!(headers["x-rate-limit-time-window-ms"], "60000");
    }
    let (status, headers, _) = b.send(Method::GET, "/v2/time", None).await;
    assert_eq!(status, 429);
    let reset: u64 = headers["x-rate-limit-time-reset-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > 0 && reset <= 60_000);
}

#[tokio::test]
async fn faults_strike_on_demand_and_the_log_records_them() {
    use bigcommerce_sandbox::{FaultKind, FaultRule};
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 9);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let control = format!("{}/_sandbox/stores/{}", sandbox.base_url(), store.hash);
    let http = reqwest::Client::new();
    let rule = FaultRule {
        count: Some(1),
        ..FaultRule::always(FaultKind::Error503)
    };
    http.post(format!("{control}/faults"))
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(api.get("/v2/time").await.0, 503);
    assert_eq!(api.get("/v2/time").await.0, 200);

    let rule = FaultRule {
        count: Some(1),
        ..FaultRule::always(FaultKind::TooManyRequestsNoHeaders)
    };
    http.post(format!("{control}/faults"))
        .json(&rule)
        .send()
        .await
        .unwrap();
    let (status, headers, _) = api.send(Method::GET, "/v2/time", None).await;
    assert_eq!(status, 429);
    assert!(headers.get("x-rate-limit-requests-left").is_none());

    for kind in [FaultKind::Reset, FaultKind::Truncate] {
        let rule = FaultRule {
            count: Some(1),
            ..FaultRule::always(kind)
        };
        http.post(format!("{control}/faults"))
            .json(&rule)
            .send()
            .await
            .unwrap();
        let result = async {
            let response = api
                .http
                .get(format!("{}/v2/store", api.base))
                .header("X-Auth-Token", &api.token)
                .send()
                .await?;
            response.bytes().await
        }
        .await;
        assert!(result.is_err(), "{kind:?} should break the exchange");
    }

    let rule = FaultRule {
        count: Some(1),
        latency_ms: Some(5_000),
        ..FaultRule::always(FaultKind::Hang)
    };
    http.post(format!("{control}/faults"))
        .json(&rule)
        .send()
        .await
        .unwrap();
    let hung = api
        .http
        .get(format!("{}/v2/time", api.base))
        .header("X-Auth-Token", &api.token)
        .timeout(std::time::Duration::from_millis(200))
        .send()
        .await;
    assert!(hung.unwrap_err().is_timeout());

    // A fault after the effect: the change is made, the answer lost.
    let id = place(&sandbox, &store.hash, 1, &[("MUG-1", 1, 0)]);
    let rule = FaultRule {
        count: Some(1),
        method: Some("PUT".into()),
        after_effect: true,
        ..FaultRule::always(FaultKind::Error502)
    };
    http.post(format!("{control}/faults"))
        .json(&rule)
        .send()
        .await
        .unwrap();
    let (status, _, _) = api
        .send(
            Method::PUT,
            &format!("/v2/orders/{id}"),
            Some(json!({"status_id": 9})),
        )
        .await;
    assert_eq!(status, 502);
    let (_, order) = api.get(&format!("/v2/orders/{id}")).await;
    assert_eq!(order["status_id"], 9);

    let records: serde_json::Value = http
        .get(format!("{control}/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let faults: Vec<&str> = records
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["fault"].as_str())
        .collect();
    assert!(faults.len() >= 6, "{faults:?}");
    let counters: serde_json::Value = http
        .get(format!("{control}/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        counters["by_endpoint"]["GET /v2/orders/{order_id}"]
            .as_u64()
            .unwrap()
            >= 1
    );
}

#[tokio::test]
async fn a_path_that_is_not_an_id_or_a_missing_method_answers_in_bigcommerce_error_json() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 31);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let id = place(&sandbox, &store.hash, 1, &[("MUG-1", 1, 0)]);
    // Clients probe paths like these (the official Python client's `OrderProducts.count`).
    for path in [
        "/v2/orders/abc".to_string(),
        format!("/v2/orders/{id}/products/count"),
        format!("/v2/orders/{id}/shipping_addresses/count"),
    ] {
        let (status, body) = api.get(&path).await;
        assert_eq!(status, 404, "GET {path}");
        assert_eq!(
            body,
            json!([{"status": 404, "message": "The requested resource was not found."}]),
            "GET {path}"
        );
    }
    let path = format!("/v2/orders/{id}/products");
    let (status, headers, body) = api.send(Method::DELETE, &path, None).await;
    assert_eq!(status, 405, "DELETE {path}");
    assert_eq!(headers["allow"], "GET,HEAD");
    assert_eq!(body[0]["status"], 405, "{body}");
}

#[tokio::test]
async fn a_late_apply_fault_answers_504_and_makes_the_change_later_even_if_the_client_hung_up() {
    use bigcommerce_sandbox::{FaultKind, FaultRule};
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 32);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let control = format!("{}/_sandbox/stores/{}", sandbox.base_url(), store.hash);
    let http = reqwest::Client::new();
    let id = place(&sandbox, &store.hash, 1, &[("MUG-1", 1, 0)]);
    let rule = FaultRule {
        count: Some(1),
        method: Some("PUT".into()),
        apply_after_ms: Some(300),
        ..FaultRule::always(FaultKind::LateApply)
    };
    http.post(format!("{control}/faults"))
        .json(&rule)
        .send()
        .await
        .unwrap();

    // Answered at once with a 504; not applied yet, applied 300 ms later.
    let (status, _, _) = api
        .send(
            Method::PUT,
            &format!("/v2/orders/{id}"),
            Some(json!({"status_id": 9})),
        )
        .await;
    assert_eq!(status, 504);
    let (_, order) = api.get(&format!("/v2/orders/{id}")).await;
    assert_eq!(order["status_id"], 11, "not applied at the time of the 504");
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let (_, order) = api.get(&format!("/v2/orders/{id}")).await;
    assert_eq!(order["status_id"], 9, "applied after apply_after_ms");

    // With latency, a client that gives up before the answer still gets the change applied.
    let rule = FaultRule {
        count: Some(1),
        method: Some("PUT".into()),
        latency_ms: Some(400),
        apply_after_ms: Some(100),
        ..FaultRule::always(FaultKind::LateApply)
    };
    http.post(format!("{control}/faults"))
        .json(&rule)
        .send()
        .await
        .unwrap();
    let gave_up = api
        .http
        .put(format!("{}/v2/orders/{id}", api.base))
        .header("X-Auth-Token", &api.token)
        .json(&json!({"status_id": 12}))
        .timeout(std::time::Duration::from_millis(100))
        .send()
        .await;
    assert!(gave_up.unwrap_err().is_timeout());
    tokio::time::sleep(std::time::Duration::from_millis(900)).await;
    let (_, order) = api.get(&format!("/v2/orders/{id}")).await;
    assert_eq!(
        order["status_id"], 12,
        "applied although the client hung up"
    );
}

#[tokio::test]
async fn order_product_options_carry_the_value_id_and_the_label_as_bigcommerce_does() {
    use bigcommerce_sandbox::model::OptionKind;
    use bigcommerce_sandbox::NewModifier;
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 41);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let mut order = bigcommerce_sandbox::fixtures::order(1, &[("SOCK-1-L", 1, 0)]);
    order.lines[0].modifiers = vec![
        NewModifier {
            name: "Add Letters".into(),
            kind: OptionKind::TextField,
            value: "MB".into(),
        },
        NewModifier {
            name: "Is this a gift?".into(),
            kind: OptionKind::Checkbox,
            value: "Yes".into(),
        },
    ];
    let id = sandbox
        .with_store(&store.hash, |data, events| data.place_order(order, events))
        .unwrap()
        .unwrap();
    let (_, variants) = api.get("/v3/catalog/variants?sku=SOCK-1-L").await;
    let size = &variants["data"][0]["option_values"][0];

    let (_, products) = api.get(&format!("/v2/orders/{id}/products")).await;
    let options = products[0]["product_options"].as_array().unwrap();
    assert_eq!(options.len(), 3, "{options:?}");
    let chosen = &options[0];
    assert_eq!(chosen["type"], "Multiple choice");
    assert_eq!(chosen["value"], size["id"].as_u64().unwrap().to_string());
    assert_eq!(chosen["display_value"], "L");
    assert_eq!(chosen["display_value_customer"], "L");
    assert_eq!(chosen["display_value_merchant"], "L");
    assert_eq!(chosen["display_name"], "Size");
    assert_eq!(chosen["display_name_customer"], "Size");
    assert_eq!(chosen["display_name_merchant"], "Size");
    assert_eq!(chosen["name"], "Size");
    assert_eq!(chosen["display_style"], "Rectangle");
    assert_eq!(chosen["option_id"], size["option_id"]);
    let text = &options[1];
    assert_eq!(text["type"], "Text field");
    assert_eq!(
        (text["value"].as_str(), text["display_value"].as_str()),
        (Some("MB"), Some("MB"))
    );
    assert_eq!(text["display_style"], "");
    let checkbox = &options[2];
    assert_eq!(checkbox["type"], "Checkbox");
    assert_eq!(checkbox["display_value"], "Yes");
    let value = checkbox["value"].as_str().unwrap();
    assert!(value.bytes().all(|b| b.is_ascii_digit()), "{value}");

    // Line items embedded in consignments carry the same options.
    let (_, order) = api
        .get(&format!(
            "/v2/orders/{id}?include=consignments.line_items&consignment_structure=object"
        ))
        .await;
    let embedded = &order["consignments"]["shipping"][0]["line_items"][0]["product_options"];
    assert_eq!(embedded, &products[0]["product_options"]);
    assert_eq!(order["fees"], json!([]));
}
