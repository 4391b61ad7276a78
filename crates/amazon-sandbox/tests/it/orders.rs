//! Orders API v0 (and 2026-01-01's search) behaviour: windows, the two-minute rule, paging
//! under change, items, restricted data, shipment confirmation and its refusals, faults.

use std::collections::HashSet;

use crate::support::{iso, sandbox, sandbox_with, settle, unshipped_order, Answer, Api};
use amazon_sandbox::{
    AmazonSandboxConfig, FaultKind, FaultRule, FulfillmentChannel, NewOrder, OrderStatus,
};
use reqwest::Method;
use serde_json::{json, Value};

fn orders_path(sandbox: &amazon_sandbox::AmazonSandbox, query: &str) -> String {
    format!(
        "/orders/v0/orders?MarketplaceIds={}&{query}",
        sandbox.marketplace_id()
    )
}

fn ids(answer: &Answer) -> Vec<String> {
    answer.body["payload"]["Orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["AmazonOrderId"].as_str().unwrap().to_string())
        .collect()
}

/// Every page of a search, following `NextToken`; the last page's answer too.
async fn walk(api: &Api, first: &str, marketplace: &str) -> (Vec<Value>, Answer) {
    let mut orders = Vec::new();
    let mut answer = api.get(first).await;
    loop {
        assert_eq!(answer.status, 200, "{}", answer.body);
        orders.extend(
            answer.body["payload"]["Orders"]
                .as_array()
                .unwrap()
                .iter()
                .cloned(),
        );
        let Some(token) = answer.body["payload"]["NextToken"].as_str() else {
            return (orders, answer);
        };
        let next = format!(
            "/orders/v0/orders?MarketplaceIds={marketplace}&NextToken={}",
            urlencode(token)
        );
        answer = api.get(&next).await;
    }
}

fn urlencode(text: &str) -> String {
    url_escape(text)
}

fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn get_orders_stays_two_minutes_behind_now() {
    let sandbox = sandbox().await;
    let api = Api::login(&sandbox, "full").await;
    let start = sandbox.state().clock.now();
    let placed: Vec<String> = (0..3)
        .map(|_| {
            sandbox
                .place_order(NewOrder::default())
                .unwrap()
                .amazon_order_id
        })
        .collect();
    let after = iso(start - chrono::Duration::hours(1));

    let fresh = api
        .get(&orders_path(&sandbox, &format!("CreatedAfter={after}")))
        .await;
    assert_eq!(fresh.status, 200);
    assert!(
        ids(&fresh).is_empty(),
        "orders under two minutes old are not searchable yet"
    );
    assert_eq!(
        fresh.body["payload"]["CreatedBefore"],
        iso(sandbox.state().clock.now() - chrono::Duration::seconds(120))
    );

    let too_late = api
        .get(&orders_path(
            &sandbox,
            &format!(
                "CreatedAfter={after}&CreatedBefore={}",
                iso(sandbox.state().clock.now())
            ),
        ))
        .await;
    assert_eq!((too_late.status, too_late.code()), (400, "InvalidInput"));
    assert!(
        too_late.message().contains("two minutes"),
        "{}",
        too_late.message()
    );

    settle(&sandbox);
    let settled = api
        .get(&orders_path(&sandbox, &format!("CreatedAfter={after}")))
        .await;
    let mut expected = placed.clone();
    expected.sort();
    assert_eq!(ids(&settled), expected, "same second: sorted by order id");
    let by_update = api
        .get(&orders_path(&sandbox, &format!("LastUpdatedAfter={after}")))
        .await;
    assert_eq!(ids(&by_update).len(), 3);
    assert!(by_update.body["payload"]["LastUpdatedBefore"].is_string());
    assert!(by_update.body["payload"].get("CreatedBefore").is_none());
}

#[tokio::test]
async fn get_orders_refuses_bad_searches_with_invalid_input() {
    let sandbox = sandbox().await;
    let api = Api::login(&sandbox, "full").await;
    let m = sandbox.marketplace_id().to_string();
    let now = sandbox.state().clock.now();
    let old = iso(now - chrono::Duration::days(2));
    let older = iso(now - chrono::Duration::days(3));
    let cases = [
        format!("/orders/v0/orders?CreatedAfter={old}"),
        format!("/orders/v0/orders?MarketplaceIds={m}"),
        format!("/orders/v0/orders?MarketplaceIds={m}&CreatedAfter={old}&LastUpdatedAfter={old}"),
        format!("/orders/v0/orders?MarketplaceIds={m}&CreatedAfter={old}&LastUpdatedBefore={old}"),
        format!("/orders/v0/orders?MarketplaceIds={m}&LastUpdatedAfter={old}&CreatedBefore={old}"),
        format!("/orders/v0/orders?MarketplaceIds={m}&CreatedAfter={old}&CreatedBefore={older}"),
        format!("/orders/v0/orders?MarketplaceIds={m}&CreatedAfter=last-tuesday"),
        format!("/orders/v0/orders?MarketplaceIds={m}&CreatedAfter={old}&MaxResultsPerPage=0"),
        format!("/orders/v0/orders?MarketplaceIds={m}&CreatedAfter={old}&MaxResultsPerPage=101"),
        format!("/orders/v0/orders?MarketplaceIds={m}&CreatedAfter={old}&OrderStatuses=Lost"),
        format!("/orders/v0/orders?MarketplaceIds={m}&CreatedAfter={old}&FulfillmentChannels=FBA"),
        format!("/orders/v0/orders?MarketplaceIds=ATVPDKIKX0DER&CreatedAfter={old}"),
        format!("/orders/v0/orders?MarketplaceIds={m}&NextToken=bm90IGEgdG9rZW4"),
    ];
    for path in cases {
        let answer = api.get(&path).await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, "InvalidInput"),
            "{path}: {}",
            answer.body
        );
    }
    let fine = api
        .get(&format!("/orders/v0/orders?MarketplaceIds={m}&CreatedAfter={older}&CreatedBefore={old}&MaxResultsPerPage=100&OrderStatuses=Unshipped,PartiallyShipped&FulfillmentChannels=MFN"))
        .await;
    assert_eq!(fine.status, 200, "{}", fine.body);
}

#[tokio::test]
async fn a_paged_walk_returns_every_order_once_in_ascending_time() {
    let sandbox = sandbox_with(AmazonSandboxConfig {
        orders: 250,
        rate_scale: 0.0,
        seed: 21,
        ..AmazonSandboxConfig::default()
    })
    .await;
    let api = Api::login(&sandbox, "full").await;
    let after = iso(sandbox.state().clock.now() - chrono::Duration::days(31));
    let first = orders_path(
        &sandbox,
        &format!("CreatedAfter={after}&MaxResultsPerPage=40&FulfillmentChannels=MFN,AFN"),
    );
    let (orders, last) = walk(&api, &first, sandbox.marketplace_id()).await;
    let bound = sandbox.state().clock.now() - chrono::Duration::seconds(120);
    let expected = sandbox
        .state()
        .account
        .read()
        .orders()
        .iter()
        .filter(|o| o.purchase_date <= bound)
        .count();
    assert!(expected > 200);
    assert_eq!(orders.len(), expected);
    let unique: HashSet<&str> = orders
        .iter()
        .map(|o| o["AmazonOrderId"].as_str().unwrap())
        .collect();
    assert_eq!(unique.len(), expected);
    let dates: Vec<&str> = orders
        .iter()
        .map(|o| o["PurchaseDate"].as_str().unwrap())
        .collect();
    assert!(
        dates.windows(2).all(|w| w[0] <= w[1]),
        "ascending PurchaseDate"
    );
    assert!(last.body["payload"].get("NextToken").is_none());

    // Filters hold across pages: the token carries them, whatever the later request says.
    let mfn = orders_path(
        &sandbox,
        &format!("CreatedAfter={after}&MaxResultsPerPage=40&FulfillmentChannels=MFN"),
    );
    let (only_mfn, _) = walk(&api, &mfn, sandbox.marketplace_id()).await;
    assert!(only_mfn.iter().all(|o| o["FulfillmentChannel"] == "MFN"));
    assert!(only_mfn.len() < orders.len() && only_mfn.len() > orders.len() / 2);

    // A valid status the sandbox has no orders in matches nothing (not everything).
    let none = api
        .get(&orders_path(
            &sandbox,
            &format!("CreatedAfter={after}&OrderStatuses=PendingAvailability"),
        ))
        .await;
    assert_eq!(none.status, 200);
    assert!(ids(&none).is_empty());
    let shipped = api
        .get(&orders_path(
            &sandbox,
            &format!("CreatedAfter={after}&OrderStatuses=Shipped,InvoiceUnconfirmed"),
        ))
        .await;
    assert!(!ids(&shipped).is_empty());
    assert!(shipped.body["payload"]["Orders"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["OrderStatus"] == "Shipped"));

    // A token of another search API, or edited, is refused.
    let page = api.get(&first).await;
    let token = page.body["payload"]["NextToken"]
        .as_str()
        .unwrap()
        .to_string();
    let edited = format!("{}A", &token[..token.len() - 1]);
    let edited = if edited == token {
        format!("{}B", &token[..token.len() - 1])
    } else {
        edited
    };
    let refused = api
        .get(&format!(
            "/orders/v0/orders?MarketplaceIds={}&NextToken={}",
            sandbox.marketplace_id(),
            urlencode(&edited)
        ))
        .await;
    assert_eq!((refused.status, refused.code()), (400, "InvalidInput"));
    let cross = api
        .get(&format!(
            "/orders/2026-01-01/orders?paginationToken={}",
            urlencode(&token)
        ))
        .await;
    assert_eq!(cross.status, 400);
}

#[tokio::test]
async fn an_order_changed_during_a_walk_moves_to_the_next_window_without_shifting_others() {
    let sandbox = sandbox_with(AmazonSandboxConfig {
        orders: 300,
        rate_scale: 0.0,
        seed: 5,
        ..AmazonSandboxConfig::default()
    })
    .await;
    let api = Api::login(&sandbox, "full").await;
    let m = sandbox.marketplace_id().to_string();
    let after = iso(sandbox.state().clock.now() - chrono::Duration::days(4));
    let first = orders_path(
        &sandbox,
        &format!("LastUpdatedAfter={after}&MaxResultsPerPage=10"),
    );
    let (baseline, _) = walk(&api, &first, &m).await;
    let changeable = |o: &Value| matches!(o["OrderStatus"].as_str(), Some("Unshipped" | "Pending"));
    let seen_index = baseline
        .iter()
        .take(10)
        .position(changeable)
        .expect("a changeable order on page 1");
    let ahead_index = baseline
        .iter()
        .skip(30)
        .position(changeable)
        .expect("a changeable order on a later page")
        + 30;
    let seen = baseline[seen_index]["AmazonOrderId"]
        .as_str()
        .unwrap()
        .to_string();
    let ahead = baseline[ahead_index]["AmazonOrderId"]
        .as_str()
        .unwrap()
        .to_string();

    // Second walk: page one, then both orders change, then the rest.
    let page = api.get(&first).await;
    let mut walked = ids(&page);
    assert!(walked.contains(&seen));
    sandbox
        .request_cancellation(&seen, "Found cheaper somewhere else.")
        .unwrap();
    sandbox
        .request_cancellation(&ahead, "Ordered by mistake.")
        .unwrap();
    let token = page.body["payload"]["NextToken"].as_str().unwrap();
    let (rest, last) = walk(
        &api,
        &format!(
            "/orders/v0/orders?MarketplaceIds={m}&NextToken={}",
            urlencode(token)
        ),
        &m,
    )
    .await;
    walked.extend(
        rest.iter()
            .map(|o| o["AmazonOrderId"].as_str().unwrap().to_string()),
    );
    let unique: HashSet<&String> = walked.iter().collect();
    assert_eq!(unique.len(), walked.len(), "no order twice in one walk");
    let expected: Vec<String> = baseline
        .iter()
        .map(|o| o["AmazonOrderId"].as_str().unwrap().to_string())
        .filter(|id| *id != ahead)
        .collect();
    assert_eq!(
        walked, expected,
        "only the changed order ahead left this walk; nothing shifted"
    );

    // The next window, from the bound this one reported, has both changes.
    settle(&sandbox);
    let bound = last.body["payload"]["LastUpdatedBefore"]
        .as_str()
        .unwrap()
        .to_string();
    let next = api
        .get(&orders_path(&sandbox, &format!("LastUpdatedAfter={bound}")))
        .await;
    let next_ids = ids(&next);
    assert!(
        next_ids.contains(&seen) && next_ids.contains(&ahead),
        "{next_ids:?}"
    );
}

#[tokio::test]
async fn get_order_answers_404_for_an_unknown_id_and_400_for_a_malformed_one() {
    let sandbox = sandbox().await;
    let api = Api::login(&sandbox, "full").await;
    let order = unshipped_order(&sandbox, &[1]);
    let found = api
        .get(&format!("/orders/v0/orders/{}", order.amazon_order_id))
        .await;
    assert_eq!(found.status, 200);
    assert_eq!(found.body["payload"]["OrderStatus"], "Unshipped");
    assert_eq!(found.body["payload"]["NumberOfItemsUnshipped"], 1);
    let unknown = api.get("/orders/v0/orders/702-0000000-0000000").await;
    assert_eq!((unknown.status, unknown.code()), (404, "NotFound"));
    let malformed = api.get("/orders/v0/orders/12345").await;
    assert_eq!((malformed.status, malformed.code()), (400, "InvalidInput"));
}

#[tokio::test]
async fn order_items_page_with_next_token_and_pending_items_have_no_prices() {
    let sandbox = sandbox_with(AmazonSandboxConfig {
        order_items_page_size: 2,
        rate_scale: 0.0,
        ..AmazonSandboxConfig::default()
    })
    .await;
    let api = Api::login(&sandbox, "full").await;
    let order = unshipped_order(&sandbox, &[1, 2, 1, 3, 1]);
    let id = &order.amazon_order_id;
    let mut seen = Vec::new();
    let mut path = format!("/orders/v0/orders/{id}/orderItems");
    let mut pages = 0;
    loop {
        let page = api.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(page.body["payload"]["AmazonOrderId"], id.as_str());
        pages += 1;
        for item in page.body["payload"]["OrderItems"].as_array().unwrap() {
            assert!(item["ItemPrice"]["Amount"].is_string());
            seen.push(item["OrderItemId"].as_str().unwrap().to_string());
        }
        match page.body["payload"]["NextToken"].as_str() {
            Some(token) => {
                path = format!(
                    "/orders/v0/orders/{id}/orderItems?NextToken={}",
                    urlencode(token)
                )
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = order
        .items
        .iter()
        .map(|i| i.order_item_id.clone())
        .collect();
    assert_eq!(seen, expected);

    // A token is bound to its order.
    let first = api.get(&format!("/orders/v0/orders/{id}/orderItems")).await;
    let token = first.body["payload"]["NextToken"].as_str().unwrap();
    let other = unshipped_order(&sandbox, &[1]);
    let refused = api
        .get(&format!(
            "/orders/v0/orders/{}/orderItems?NextToken={}",
            other.amazon_order_id,
            urlencode(token)
        ))
        .await;
    assert_eq!((refused.status, refused.code()), (400, "InvalidInput"));

    let pending = sandbox.place_order(NewOrder::default()).unwrap();
    let items = api
        .get(&format!(
            "/orders/v0/orders/{}/orderItems",
            pending.amazon_order_id
        ))
        .await;
    let item = &items.body["payload"]["OrderItems"][0];
    assert!(
        item.get("ItemPrice").is_none() && item.get("ItemTax").is_none(),
        "{item}"
    );
    assert!(item["QuantityOrdered"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn personal_data_needs_a_restricted_data_token_for_the_resource() {
    let sandbox = sandbox().await;
    let api = Api::login(&sandbox, "full").await;
    let order = unshipped_order(&sandbox, &[2]);
    let id = order.amazon_order_id.clone();
    let pending = sandbox
        .place_order(NewOrder::default())
        .unwrap()
        .amazon_order_id;

    // An access token: the address's non-personal part, no buyer; address and buyer info refused.
    let plain = api.get(&format!("/orders/v0/orders/{id}")).await;
    let address = &plain.body["payload"]["ShippingAddress"];
    assert_eq!(address["PostalCode"], order.address.postal_code.as_str());
    assert!(address.get("Name").is_none() && address.get("AddressLine1").is_none());
    assert!(plain.body["payload"].get("BuyerInfo").is_none());
    for path in [
        format!("/orders/v0/orders/{id}/address"),
        format!("/orders/v0/orders/{id}/buyerInfo"),
    ] {
        let refused = api.get(&path).await;
        assert_eq!(
            (refused.status, refused.code()),
            (403, "Unauthorized"),
            "{path}"
        );
    }
    // A pending order has no address yet, whatever the token.
    assert!(
        api.get(&format!("/orders/v0/orders/{pending}")).await.body["payload"]
            .get("ShippingAddress")
            .is_none()
    );

    // A token for this order with both data elements.
    let rdt = api
        .rdt(&[
            (
                "GET",
                &format!("/orders/v0/orders/{id}"),
                &["buyerInfo", "shippingAddress"],
            ),
            ("GET", "/orders/v0/orders/{orderId}/address", &[]),
        ])
        .await;
    assert!(rdt.starts_with("Atz.sprdt|"));
    let restricted = api.with_token(&rdt);
    let full = restricted.get(&format!("/orders/v0/orders/{id}")).await;
    assert_eq!(full.status, 200);
    assert_eq!(
        full.body["payload"]["ShippingAddress"]["Name"],
        order.address.name.as_str()
    );
    assert_eq!(
        full.body["payload"]["BuyerInfo"]["BuyerEmail"],
        order.buyer.email.as_str()
    );
    let got = restricted
        .get(&format!("/orders/v0/orders/{id}/address"))
        .await;
    assert_eq!(
        got.body["payload"]["ShippingAddress"]["AddressLine1"],
        order.address.address_line1.as_str()
    );
    let pending_address = restricted
        .get(&format!("/orders/v0/orders/{pending}/address"))
        .await;
    assert_eq!(pending_address.status, 200);
    assert!(pending_address.body["payload"]
        .get("ShippingAddress")
        .is_none());

    // It opens nothing else: another order's getOrder, getOrders, the items.
    let other = unshipped_order(&sandbox, &[1]).amazon_order_id;
    for path in [
        format!("/orders/v0/orders/{other}"),
        orders_path(&sandbox, "CreatedAfter=2020-01-01"),
        format!("/orders/v0/orders/{id}/orderItems"),
    ] {
        assert_eq!(restricted.get(&path).await.status, 403, "{path}");
    }

    // getOrders with a bulk token: buyer info on every order, no street address.
    let bulk = api.with_token(
        &api.rdt(&[("GET", "/orders/v0/orders", &["buyerInfo"])])
            .await,
    );
    settle(&sandbox);
    let listed = bulk
        .get(&orders_path(
            &sandbox,
            "CreatedAfter=2020-01-01&OrderStatuses=Unshipped",
        ))
        .await;
    let orders = listed.body["payload"]["Orders"].as_array().unwrap();
    assert!(!orders.is_empty());
    assert!(orders
        .iter()
        .all(|o| o["BuyerInfo"]["BuyerName"].is_string()));
    assert!(orders
        .iter()
        .all(|o| o["ShippingAddress"].get("AddressLine1").is_none()));
}

#[tokio::test]
async fn restricted_data_token_requests_are_checked() {
    let sandbox = sandbox_with(AmazonSandboxConfig {
        restricted_token_lifetime_secs: 300,
        rate_scale: 0.0,
        ..AmazonSandboxConfig::default()
    })
    .await;
    let api = Api::login(&sandbox, "full").await;
    let path = "/tokens/2021-03-01/restrictedDataToken";
    let bad_bodies = [
        json!({}),
        json!({"restrictedResources": []}),
        json!({"restrictedResources": [{"method": "GET", "path": "/orders/v0/orders/{orderId}"}]}),
        json!({"restrictedResources": [{"method": "GET", "path": "/listings/2021-08-01/items/A/B"}]}),
        json!({"restrictedResources": [{"method": "", "path": "/orders/v0/orders/{orderId}/address"}]}),
        json!({"restrictedResources": [{"method": "GET", "path": "/orders/v0/orders", "dataElements": ["dateOfBirth"]}]}),
    ];
    for body in bad_bodies {
        let answer = api.send(Method::POST, path, Some(body.clone())).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
        assert_eq!(answer.code(), "InvalidInput");
    }
    let ok = api
        .send(Method::POST, path, Some(json!({"restrictedResources": [{"method": "GET", "path": "/orders/v0/orders/{orderId}/address"}]})))
        .await;
    assert_eq!(ok.body["expiresIn"], 300);
    let order = unshipped_order(&sandbox, &[1]);
    let restricted = api.with_token(ok.body["restrictedDataToken"].as_str().unwrap());
    let address = format!("/orders/v0/orders/{}/address", order.amazon_order_id);
    assert_eq!(restricted.get(&address).await.status, 200);
    sandbox.advance_clock(chrono::Duration::seconds(300));
    let expired = restricted.get(&address).await;
    assert_eq!(expired.status, 403);
    assert_eq!(
        expired.body["errors"][0]["details"],
        "The access token you provided has expired."
    );
}

fn confirmation(marketplace: &str, reference: &str, items: &[(&str, u32)]) -> Value {
    json!({
        "marketplaceId": marketplace,
        "packageDetail": {
            "packageReferenceId": reference,
            "carrierCode": "Canada Post",
            "carrierName": "Canada Post",
            "shippingMethod": "Expedited Parcel",
            "trackingNumber": format!("70231234{reference}"),
            "shipDate": "2025-03-01T15:00:00Z",
            "orderItems": items.iter().map(|(id, q)| json!({"orderItemId": id, "quantity": q})).collect::<Vec<_>>(),
        },
    })
}

#[tokio::test]
async fn confirming_shipments_ships_items_and_moves_the_status() {
    let sandbox = sandbox().await;
    let api = Api::login(&sandbox, "full").await;
    let m = sandbox.marketplace_id().to_string();
    let order = unshipped_order(&sandbox, &[2, 1]);
    let id = &order.amazon_order_id;
    let (a, b) = (
        order.items[0].order_item_id.as_str(),
        order.items[1].order_item_id.as_str(),
    );
    let path = format!("/orders/v0/orders/{id}/shipmentConfirmation");

    let first = api
        .send(Method::POST, &path, Some(confirmation(&m, "1", &[(a, 1)])))
        .await;
    assert_eq!(first.status, 204, "{}", first.body);
    assert_eq!(first.body, Value::Null);
    let got = api.get(&format!("/orders/v0/orders/{id}")).await;
    assert_eq!(got.body["payload"]["OrderStatus"], "PartiallyShipped");
    assert_eq!(got.body["payload"]["NumberOfItemsShipped"], 1);
    assert_eq!(got.body["payload"]["NumberOfItemsUnshipped"], 2);

    let second = api
        .send(
            Method::POST,
            &path,
            Some(confirmation(&m, "2", &[(a, 1), (b, 1)])),
        )
        .await;
    assert_eq!(second.status, 204, "{}", second.body);
    let items = api.get(&format!("/orders/v0/orders/{id}/orderItems")).await;
    let shipped: Vec<u64> = items.body["payload"]["OrderItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["QuantityShipped"].as_u64().unwrap())
        .collect();
    assert_eq!(shipped, [2, 1]);
    assert_eq!(sandbox.order(id).unwrap().status, OrderStatus::Shipped);
    let packages: Vec<_> = sandbox
        .packages()
        .into_iter()
        .filter(|(o, _)| o == id)
        .collect();
    assert_eq!(packages.len(), 2);
    assert_eq!(packages[1].1.tracking_number, "702312342");
    assert_eq!(packages[1].1.items.len(), 2);
}

#[tokio::test]
async fn confirm_shipment_refusals_change_nothing() {
    let sandbox = sandbox().await;
    let api = Api::login(&sandbox, "full").await;
    let m = sandbox.marketplace_id().to_string();
    let order = unshipped_order(&sandbox, &[2]);
    let id = order.amazon_order_id.clone();
    let item = order.items[0].order_item_id.clone();
    let path = format!("/orders/v0/orders/{id}/shipmentConfirmation");
    assert_eq!(
        api.send(
            Method::POST,
            &path,
            Some(confirmation(&m, "1", &[(&item, 1)]))
        )
        .await
        .status,
        204
    );
    let before = sandbox.order(&id).unwrap();

    let mut missing_carrier = confirmation(&m, "5", &[(&item, 1)]);
    missing_carrier["packageDetail"]
        .as_object_mut()
        .unwrap()
        .remove("carrierCode");
    let mut bad_date = confirmation(&m, "6", &[(&item, 1)]);
    bad_date["packageDetail"]["shipDate"] = json!("next week");
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "the same package reference id again",
            confirmation(&m, "1", &[(&item, 1)]),
            "already been confirmed",
        ),
        (
            "more than remains",
            confirmation(&m, "2", &[(&item, 2)]),
            "left to ship",
        ),
        (
            "a zero quantity",
            confirmation(&m, "3", &[(&item, 0)]),
            "at least 1",
        ),
        (
            "an item of another order",
            confirmation(&m, "4", &[("12345678901234", 1)]),
            "not in order",
        ),
        (
            "another marketplace",
            confirmation("ATVPDKIKX0DER", "7", &[(&item, 1)]),
            "marketplace",
        ),
        (
            "a reference id that is not a number",
            confirmation(&m, "PKG-1", &[(&item, 1)]),
            "positive number",
        ),
        ("no carrier", missing_carrier, "carrierCode"),
        ("a date that is not ISO 8601", bad_date, "shipDate"),
    ];
    for (case, body, needle) in cases {
        let answer = api.send(Method::POST, &path, Some(body)).await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, "InvalidInput"),
            "{case}: {}",
            answer.body
        );
        assert!(
            answer.message().contains(needle),
            "{case}: {}",
            answer.message()
        );
    }
    let not_json = api
        .http
        .post(format!("{}{path}", api.base))
        .header("x-amz-access-token", &api.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let not_json = crate::support::answer(not_json).await;
    assert_eq!((not_json.status, not_json.code()), (400, "InvalidInput"));
    assert_eq!(
        sandbox.order(&id).unwrap(),
        before,
        "no refusal changed the order"
    );

    // Orders that cannot be shipped at all.
    let cancelled = unshipped_order(&sandbox, &[1]);
    sandbox.cancel_order(&cancelled.amazon_order_id).unwrap();
    let pending = sandbox.place_order(NewOrder::default()).unwrap();
    let afn = sandbox
        .place_order(NewOrder {
            fulfillment_channel: Some(FulfillmentChannel::Afn),
            ..NewOrder::default()
        })
        .unwrap();
    sandbox.advance_order(&afn.amazon_order_id).unwrap();
    for (order, needle) in [
        (&cancelled, "Canceled"),
        (&pending, "Pending"),
        (&afn, "fulfilled by Amazon"),
    ] {
        let body = confirmation(&m, "1", &[(&order.items[0].order_item_id, 1)]);
        let answer = api
            .send(
                Method::POST,
                &format!(
                    "/orders/v0/orders/{}/shipmentConfirmation",
                    order.amazon_order_id
                ),
                Some(body),
            )
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, "InvalidInput"),
            "{needle}"
        );
        assert!(answer.message().contains(needle), "{}", answer.message());
    }
    let unknown = api
        .send(
            Method::POST,
            "/orders/v0/orders/702-0000000-0000001/shipmentConfirmation",
            Some(confirmation(&m, "1", &[(&item, 1)])),
        )
        .await;
    assert_eq!((unknown.status, unknown.code()), (404, "NotFound"));
}

#[tokio::test]
async fn a_lost_answer_to_a_confirmation_is_found_applied_on_retry() {
    let sandbox = sandbox().await;
    let api = Api::login(&sandbox, "full").await;
    let m = sandbox.marketplace_id().to_string();
    let order = unshipped_order(&sandbox, &[1]);
    let item = order.items[0].order_item_id.clone();
    let path = format!(
        "/orders/v0/orders/{}/shipmentConfirmation",
        order.amazon_order_id
    );

    // Refused before the effect: nothing applied.
    sandbox.add_fault(FaultRule {
        count: Some(1),
        path_contains: Some("/shipmentConfirmation".into()),
        ..FaultRule::always(FaultKind::Error503)
    });
    let unavailable = api
        .send(
            Method::POST,
            &path,
            Some(confirmation(&m, "1", &[(&item, 1)])),
        )
        .await;
    assert_eq!(
        (unavailable.status, unavailable.code()),
        (503, "ServiceUnavailable")
    );
    assert_eq!(
        sandbox.order(&order.amazon_order_id).unwrap().status,
        OrderStatus::Unshipped
    );

    // Applied, then the answer is lost.
    sandbox.add_fault(FaultRule {
        count: Some(1),
        after_effect: true,
        path_contains: Some("/shipmentConfirmation".into()),
        ..FaultRule::always(FaultKind::Error500)
    });
    let lost = api
        .send(
            Method::POST,
            &path,
            Some(confirmation(&m, "1", &[(&item, 1)])),
        )
        .await;
    assert_eq!((lost.status, lost.code()), (500, "InternalFailure"));
    assert_eq!(
        sandbox.order(&order.amazon_order_id).unwrap().status,
        OrderStatus::Shipped
    );
    // The retry with the same package reference id says so, and ships nothing twice.
    let retry = api
        .send(
            Method::POST,
            &path,
            Some(confirmation(&m, "1", &[(&item, 1)])),
        )
        .await;
    assert_eq!(retry.status, 400);
    assert_eq!(sandbox.packages().len(), 1);

    let log: Vec<Value> = reqwest::get(format!("{}/_sandbox/requests", sandbox.endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let faults: Vec<&str> = log.iter().filter_map(|r| r["fault"].as_str()).collect();
    assert_eq!(faults, ["Error503", "Error500 after effect"]);
}

#[tokio::test]
async fn a_late_applied_confirmation_answers_503_and_ships_a_moment_later() {
    let sandbox = sandbox().await;
    let api = Api::login(&sandbox, "full").await;
    let m = sandbox.marketplace_id().to_string();
    let order = unshipped_order(&sandbox, &[1]);
    let item = order.items[0].order_item_id.clone();
    let path = format!(
        "/orders/v0/orders/{}/shipmentConfirmation",
        order.amazon_order_id
    );
    sandbox.add_fault(FaultRule {
        count: Some(1),
        path_contains: Some("/shipmentConfirmation".into()),
        latency_ms: Some(300),
        ..FaultRule::always(FaultKind::LateApply)
    });
    let answer = api
        .send(
            Method::POST,
            &path,
            Some(confirmation(&m, "1", &[(&item, 1)])),
        )
        .await;
    assert_eq!((answer.status, answer.code()), (503, "ServiceUnavailable"));
    // Nothing yet: a client reading back now finds no package.
    assert_eq!(
        sandbox.order(&order.amazon_order_id).unwrap().status,
        OrderStatus::Unshipped
    );
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(
        sandbox.order(&order.amazon_order_id).unwrap().status,
        OrderStatus::Shipped
    );
    assert_eq!(sandbox.packages().len(), 1);
}

#[tokio::test]
async fn search_orders_2026_includes_the_datasets_asked_for() {
    let sandbox = sandbox().await;
    let api = Api::login(&sandbox, "full").await;
    let order = unshipped_order(&sandbox, &[2, 1]);
    let id = order.amazon_order_id.clone();
    let item = order.items[0].order_item_id.clone();
    let m = sandbox.marketplace_id().to_string();
    let shipped = api
        .send(
            Method::POST,
            &format!("/orders/v0/orders/{id}/shipmentConfirmation"),
            Some(confirmation(&m, "1", &[(&item, 2)])),
        )
        .await;
    assert_eq!(shipped.status, 204);
    settle(&sandbox);

    let bare = api
        .get("/orders/2026-01-01/orders?lastUpdatedAfter=2020-01-01T00:00:00Z")
        .await;
    assert_eq!(bare.status, 200, "{}", bare.body);
    let found = &bare.body["orders"][0];
    assert_eq!(found["orderId"], id.as_str());
    assert_eq!(found["orderItems"].as_array().unwrap().len(), 2);
    assert!(found.get("fulfillment").is_none() && found.get("packages").is_none());

    let full = api
        .get(&format!("/orders/2026-01-01/orders/{id}?includedData=FULFILLMENT,PACKAGES,RECIPIENT,BUYER,PROCEEDS"))
        .await;
    let got = &full.body["order"];
    assert_eq!(got["fulfillment"]["fulfillmentStatus"], "PARTIALLY_SHIPPED");
    assert_eq!(got["fulfillment"]["fulfilledBy"], "MERCHANT");
    assert_eq!(
        got["packages"][0]["packageItems"][0],
        json!({"orderItemId": item, "quantity": 2})
    );
    assert_eq!(got["orderItems"][0]["fulfillment"]["quantityFulfilled"], 2);
    assert!(got["recipient"]["deliveryAddress"]["postalCode"].is_string());
    assert!(
        got["recipient"]["deliveryAddress"]
            .get("addressLine1")
            .is_none(),
        "personal part needs a token"
    );
    assert!(got.get("buyer").is_none());

    let rdt = api
        .rdt(&[(
            "GET",
            "/orders/2026-01-01/orders/{orderId}",
            &["buyerInfo", "shippingAddress"],
        )])
        .await;
    let open = api
        .with_token(&rdt)
        .get(&format!(
            "/orders/2026-01-01/orders/{id}?includedData=RECIPIENT,BUYER"
        ))
        .await;
    assert_eq!(
        open.body["order"]["buyer"]["buyerEmail"],
        order.buyer.email.as_str()
    );
    assert_eq!(
        open.body["order"]["recipient"]["deliveryAddress"]["name"],
        order.address.name.as_str()
    );

    let filtered = api
        .get("/orders/2026-01-01/orders?lastUpdatedAfter=2020-01-01T00:00:00Z&fulfillmentStatuses=SHIPPED")
        .await;
    assert!(filtered.body["orders"].as_array().unwrap().is_empty());
    for bad in [
        "/orders/2026-01-01/orders?lastUpdatedAfter=2020-01-01&createdAfter=2020-01-01",
        "/orders/2026-01-01/orders?createdAfter=2020-01-01&includedData=EVERYTHING",
        "/orders/2026-01-01/orders?createdAfter=2020-01-01&fulfillmentStatuses=Unshipped",
    ] {
        assert_eq!(api.get(bad).await.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn concurrent_confirmations_of_one_package_ship_it_once() {
    let sandbox = sandbox().await;
    let api = Api::login(&sandbox, "full").await;
    let m = sandbox.marketplace_id().to_string();
    let order = unshipped_order(&sandbox, &[3]);
    let item = order.items[0].order_item_id.clone();
    let path = format!(
        "/orders/v0/orders/{}/shipmentConfirmation",
        order.amazon_order_id
    );
    let attempts = (0..8).map(|_| {
        let api = api.clone();
        let path = path.clone();
        let body = confirmation(&m, "1", &[(&item, 1)]);
        tokio::spawn(async move { api.send(Method::POST, &path, Some(body)).await.status })
    });
    let mut statuses: Vec<u16> = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [204, 400, 400, 400, 400, 400, 400, 400]);
    assert_eq!(
        sandbox.order(&order.amazon_order_id).unwrap().items[0].quantity_shipped,
        1
    );
    assert_eq!(sandbox.packages().len(), 1);
}
