//! Conformance: every operation's success and error answers are validated against the
//! response schemas of Amazon's published models (Swagger 2.0), which are not in the
//! repository: they are read, when present, from `../shared/amazon/reference` beside the
//! checkout. Skipped, with a printed notice, only when that folder is absent.

use crate::support::swagger::{reference_dir, Spec};
use crate::support::{sandbox_with, settle, unshipped_order, Answer, Api};
use amazon_sandbox::{AmazonSandbox, AmazonSandboxConfig, FaultKind, FaultRule, NewOrder};
use reqwest::Method;
use serde_json::{json, Value};

macro_rules! specs_or_skip {
    () => {
        match reference_dir() {
            Some(dir) => dir,
            None => {
                eprintln!("NOTICE: ../shared/amazon/reference is absent; conformance test skipped");
                return;
            }
        }
    };
}

/// Checks an answer against the model, and that it is the status the test expects.
fn check(spec: &Spec, template: &str, method: &Method, answer: &Answer, want: u16) {
    assert_eq!(answer.status, want, "{method} {template}: {}", answer.body);
    spec.check(template, method.as_str(), answer.status, &answer.body);
}

async fn account() -> (AmazonSandbox, Api) {
    let sandbox = sandbox_with(AmazonSandboxConfig {
        orders: 120,
        rate_scale: 0.0,
        order_items_page_size: 2,
        seed: 8,
        ..AmazonSandboxConfig::default()
    })
    .await;
    let api = Api::login(&sandbox, "full").await;
    (sandbox, api)
}

/// One fault of `kind` on the next request to `path`.
fn once(sandbox: &AmazonSandbox, kind: FaultKind, path: &str) {
    sandbox.add_fault(FaultRule {
        count: Some(1),
        path_contains: Some(path.to_string()),
        ..FaultRule::always(kind)
    });
}

#[tokio::test]
async fn orders_v0_answers_conform_to_the_model() {
    let dir = specs_or_skip!();
    let spec = Spec::load(&dir, "ordersV0.json");
    let (sandbox, api) = account().await;
    let m = sandbox.marketplace_id().to_string();
    let get = Method::GET;
    let order = unshipped_order(&sandbox, &[1, 2, 1]);
    let id = order.amazon_order_id.clone();
    sandbox
        .request_cancellation(&id, "Ordered by mistake.")
        .unwrap();
    let pending = sandbox
        .place_order(NewOrder::default())
        .unwrap()
        .amazon_order_id;
    let cancelled = unshipped_order(&sandbox, &[1]).amazon_order_id;
    sandbox.cancel_order(&cancelled).unwrap();
    settle(&sandbox);

    let list = "/orders/v0/orders";
    for query in [
        format!("MarketplaceIds={m}&CreatedAfter=2020-01-01"),
        format!("MarketplaceIds={m}&LastUpdatedAfter=2020-01-01&MaxResultsPerPage=5"),
        format!("MarketplaceIds={m}&CreatedAfter=2020-01-01&OrderStatuses=Pending,Canceled"),
    ] {
        let answer = api.get(&format!("{list}?{query}")).await;
        check(&spec, list, &get, &answer, 200);
        assert!(!answer.body["payload"]["Orders"]
            .as_array()
            .unwrap()
            .is_empty());
    }
    let rdt = api
        .rdt(&[("GET", list, &["buyerInfo", "shippingAddress"])])
        .await;
    let answer = api
        .with_token(&rdt)
        .get(&format!(
            "{list}?MarketplaceIds={m}&CreatedAfter=2020-01-01"
        ))
        .await;
    check(&spec, list, &get, &answer, 200);
    check(
        &spec,
        list,
        &get,
        &api.get(&format!("{list}?MarketplaceIds={m}")).await,
        400,
    );
    check(
        &spec,
        list,
        &get,
        &api.with_token("")
            .get(&format!("{list}?MarketplaceIds={m}"))
            .await,
        403,
    );
    for (kind, status) in [
        (FaultKind::QuotaExceeded, 429),
        (FaultKind::Error500, 500),
        (FaultKind::Error503, 503),
    ] {
        once(&sandbox, kind, list);
        check(
            &spec,
            list,
            &get,
            &api.get(&format!(
                "{list}?MarketplaceIds={m}&CreatedAfter=2020-01-01"
            ))
            .await,
            status,
        );
    }

    let one = "/orders/v0/orders/{orderId}";
    let rdt = api
        .rdt(&[("GET", one, &["buyerInfo", "shippingAddress"])])
        .await;
    for order_id in [&id, &pending, &cancelled] {
        check(
            &spec,
            one,
            &get,
            &api.get(&format!("/orders/v0/orders/{order_id}")).await,
            200,
        );
        check(
            &spec,
            one,
            &get,
            &api.with_token(&rdt)
                .get(&format!("/orders/v0/orders/{order_id}"))
                .await,
            200,
        );
    }
    check(
        &spec,
        one,
        &get,
        &api.get("/orders/v0/orders/1-2-3").await,
        400,
    );
    check(
        &spec,
        one,
        &get,
        &api.get("/orders/v0/orders/702-0000000-0000000").await,
        404,
    );

    let items = "/orders/v0/orders/{orderId}/orderItems";
    let first = api.get(&format!("/orders/v0/orders/{id}/orderItems")).await;
    check(&spec, items, &get, &first, 200);
    let token = first.body["payload"]["NextToken"].as_str().unwrap();
    let next = api
        .http
        .get(format!("{}/orders/v0/orders/{id}/orderItems", api.base))
        .query(&[("NextToken", token)])
        .header("x-amz-access-token", &api.token)
        .send()
        .await
        .unwrap();
    check(&spec, items, &get, &crate::support::answer(next).await, 200);
    check(
        &spec,
        items,
        &get,
        &api.get(&format!("/orders/v0/orders/{pending}/orderItems"))
            .await,
        200,
    );
    check(
        &spec,
        items,
        &get,
        &api.get(&format!("/orders/v0/orders/{id}/orderItems?NextToken=x"))
            .await,
        400,
    );
    check(
        &spec,
        items,
        &get,
        &api.get("/orders/v0/orders/702-0000000-0000000/orderItems")
            .await,
        404,
    );

    let address = "/orders/v0/orders/{orderId}/address";
    let buyer = "/orders/v0/orders/{orderId}/buyerInfo";
    let rdt = api.rdt(&[("GET", address, &[]), ("GET", buyer, &[])]).await;
    let restricted = api.with_token(&rdt);
    for order_id in [&id, &pending] {
        check(
            &spec,
            address,
            &get,
            &restricted
                .get(&format!("/orders/v0/orders/{order_id}/address"))
                .await,
            200,
        );
        check(
            &spec,
            buyer,
            &get,
            &restricted
                .get(&format!("/orders/v0/orders/{order_id}/buyerInfo"))
                .await,
            200,
        );
    }
    check(
        &spec,
        address,
        &get,
        &api.get(&format!("/orders/v0/orders/{id}/address")).await,
        403,
    );
    check(
        &spec,
        buyer,
        &get,
        &api.get(&format!("/orders/v0/orders/{id}/buyerInfo")).await,
        403,
    );
    check(
        &spec,
        address,
        &get,
        &restricted
            .get("/orders/v0/orders/702-0000000-0000000/address")
            .await,
        404,
    );

    let confirm = "/orders/v0/orders/{orderId}/shipmentConfirmation";
    let post = Method::POST;
    let body = |reference: &str| {
        json!({"marketplaceId": m, "packageDetail": {
            "packageReferenceId": reference, "carrierCode": "Canada Post", "trackingNumber": "1",
            "shipDate": "2025-01-01T00:00:00Z",
            "orderItems": [{"orderItemId": order.items[0].order_item_id, "quantity": 1}]}})
    };
    let path = format!("/orders/v0/orders/{id}/shipmentConfirmation");
    let done = api.send(post.clone(), &path, Some(body("1"))).await;
    assert_eq!(done.status, 204);
    assert!(
        !spec.documents(confirm, "POST", 204),
        "204 has no body in the model"
    );
    check(
        &spec,
        confirm,
        &post,
        &api.send(post.clone(), &path, Some(body("1"))).await,
        400,
    );
    check(
        &spec,
        confirm,
        &post,
        &api.with_token("Atza|x")
            .send(post.clone(), &path, Some(body("2")))
            .await,
        403,
    );
    check(
        &spec,
        confirm,
        &post,
        &api.send(
            post.clone(),
            "/orders/v0/orders/702-0000000-0000000/shipmentConfirmation",
            Some(body("1")),
        )
        .await,
        404,
    );
    once(&sandbox, FaultKind::QuotaExceeded, "/shipmentConfirmation");
    check(
        &spec,
        confirm,
        &post,
        &api.send(post.clone(), &path, Some(body("2"))).await,
        429,
    );
}

#[tokio::test]
async fn orders_2026_answers_conform_to_the_model() {
    let dir = specs_or_skip!();
    let spec = Spec::load(&dir, "orders_2026-01-01.json");
    let (sandbox, api) = account().await;
    let get = Method::GET;
    let order = unshipped_order(&sandbox, &[2]);
    let m = sandbox.marketplace_id().to_string();
    let shipped = api
        .send(
            Method::POST,
            &format!("/orders/v0/orders/{}/shipmentConfirmation", order.amazon_order_id),
            Some(json!({"marketplaceId": m, "packageDetail": {
                "packageReferenceId": "1", "carrierCode": "Canada Post", "shippingMethod": "Expedited Parcel",
                "trackingNumber": "1", "shipDate": "2025-01-01T00:00:00Z",
                "orderItems": [{"orderItemId": order.items[0].order_item_id, "quantity": 1}]}})),
        )
        .await;
    assert_eq!(shipped.status, 204);
    sandbox
        .request_cancellation(
            &sandbox
                .place_order(NewOrder::default())
                .unwrap()
                .amazon_order_id,
            "Late",
        )
        .unwrap();
    settle(&sandbox);
    let all = "includedData=BUYER,RECIPIENT,PROCEEDS,EXPENSE,PROMOTION,CANCELLATION,FULFILLMENT,PACKAGES,TAX,PAYMENT,FULFILLMENT_ORDERS";
    let search = "/orders/2026-01-01/orders";
    let rdt = api
        .rdt(&[
            ("GET", search, &["buyerInfo", "shippingAddress"]),
            (
                "GET",
                "/orders/2026-01-01/orders/{orderId}",
                &["buyerInfo", "shippingAddress"],
            ),
        ])
        .await;
    for client in [api.clone(), api.with_token(&rdt)] {
        let page = client
            .get(&format!(
                "{search}?createdAfter=2020-01-01&maxResultsPerPage=50&{all}"
            ))
            .await;
        check(&spec, search, &get, &page, 200);
        assert!(page.body["pagination"]["nextToken"].is_string());
        check(
            &spec,
            search,
            &get,
            &client
                .get(&format!("{search}?lastUpdatedAfter=2020-01-01"))
                .await,
            200,
        );
        let one = client
            .get(&format!("{search}/{}?{all}", order.amazon_order_id))
            .await;
        check(
            &spec,
            "/orders/2026-01-01/orders/{orderId}",
            &get,
            &one,
            200,
        );
    }
    check(
        &spec,
        search,
        &get,
        &api.get(&format!(
            "{search}?maxResultsPerPage=500&createdAfter=2020-01-01"
        ))
        .await,
        400,
    );
    check(
        &spec,
        search,
        &get,
        &api.with_token("").get(search).await,
        403,
    );
    once(&sandbox, FaultKind::Error503, search);
    check(
        &spec,
        search,
        &get,
        &api.get(&format!("{search}?createdAfter=2020-01-01")).await,
        503,
    );
    let one = "/orders/2026-01-01/orders/{orderId}";
    check(
        &spec,
        one,
        &get,
        &api.get(&format!("{search}/702-0000000-0000000")).await,
        404,
    );
    check(
        &spec,
        one,
        &get,
        &api.get(&format!("{search}/not-an-id")).await,
        400,
    );
}

#[tokio::test]
async fn tokens_answers_conform_to_the_model() {
    let dir = specs_or_skip!();
    let spec = Spec::load(&dir, "tokens_2021-03-01.json");
    let (sandbox, api) = account().await;
    let path = "/tokens/2021-03-01/restrictedDataToken";
    let post = Method::POST;
    let good = json!({"restrictedResources": [{"method": "GET", "path": "/orders/v0/orders/{orderId}/address"}]});
    check(
        &spec,
        path,
        &post,
        &api.send(post.clone(), path, Some(good.clone())).await,
        200,
    );
    check(
        &spec,
        path,
        &post,
        &api.send(post.clone(), path, Some(json!({"restrictedResources": []})))
            .await,
        400,
    );
    let lacking = Api::login(&sandbox, "missing-restricted-data").await;
    check(
        &spec,
        path,
        &post,
        &lacking.send(post.clone(), path, Some(good.clone())).await,
        403,
    );
    once(&sandbox, FaultKind::QuotaExceeded, path);
    check(
        &spec,
        path,
        &post,
        &api.send(post.clone(), path, Some(good)).await,
        429,
    );
}

#[tokio::test]
async fn listings_answers_conform_to_the_model() {
    let dir = specs_or_skip!();
    let spec = Spec::load(&dir, "listingsItems_2021-08-01.json");
    let (sandbox, api) = account().await;
    let template = "/listings/2021-08-01/items/{sellerId}/{sku}";
    let listing = sandbox.listings()[2].clone();
    let m = sandbox.marketplace_id().to_string();
    let path = format!(
        "/listings/2021-08-01/items/{}/{}?marketplaceIds={m}",
        sandbox.seller_id(),
        listing.sku
    );
    let (get, patch) = (Method::GET, Method::PATCH);
    check(&spec, template, &get, &api.get(&path).await, 200);
    let all = "summaries,attributes,issues,offers,fulfillmentAvailability,procurement,relationships,productTypes";
    check(
        &spec,
        template,
        &get,
        &api.get(&format!("{path}&includedData={all}")).await,
        200,
    );
    check(
        &spec,
        template,
        &get,
        &api.get(&format!("{path}&includedData=everything")).await,
        400,
    );
    check(
        &spec,
        template,
        &get,
        &api.get(&format!(
            "/listings/2021-08-01/items/{}/NOPE?marketplaceIds={m}",
            sandbox.seller_id()
        ))
        .await,
        404,
    );
    let lacking = Api::login(&sandbox, "missing-listings").await;
    check(&spec, template, &get, &lacking.get(&path).await, 403);

    let body = |quantity: Value| {
        json!({"productType": listing.product_type, "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
            "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}]}]})
    };
    let accepted = api.send(patch.clone(), &path, Some(body(json!(12)))).await;
    check(&spec, template, &patch, &accepted, 200);
    let invalid = api.send(patch.clone(), &path, Some(body(json!(-1)))).await;
    check(&spec, template, &patch, &invalid, 200);
    assert_eq!(invalid.body["status"], "INVALID");
    let preview = api
        .send(
            patch.clone(),
            &format!("{path}&mode=VALIDATION_PREVIEW"),
            Some(body(json!(3))),
        )
        .await;
    check(&spec, template, &patch, &preview, 200);
    check(
        &spec,
        template,
        &patch,
        &api.send(patch.clone(), &path, Some(json!({"patches": []})))
            .await,
        400,
    );
    check(
        &spec,
        template,
        &patch,
        &lacking
            .send(patch.clone(), &path, Some(body(json!(1))))
            .await,
        403,
    );
    once(&sandbox, FaultKind::Error500, "/listings/");
    check(
        &spec,
        template,
        &patch,
        &api.send(patch.clone(), &path, Some(body(json!(1)))).await,
        500,
    );
}
