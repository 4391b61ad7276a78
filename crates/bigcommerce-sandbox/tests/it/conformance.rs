//! Conformance: every kind of sandbox response body is validated against the response schema
//! of BigCommerce's official OpenAPI descriptions, which are not in the repository: they are
//! read, when present, from `../shared/bigcommerce/reference` beside the checkout. Skipped,
//! with a printed notice, only when that folder is absent (CI has it).

use crate::support::openapi::{reference_dir, Spec};
use crate::support::{place, sandbox, small_store, Api};
use reqwest::Method;
use serde_json::{json, Value};

macro_rules! specs_or_skip {
    () => {
        match reference_dir() {
            Some(dir) => dir,
            None => {
                eprintln!(
                    "NOTICE: ../shared/bigcommerce/reference is absent; conformance test skipped"
                );
                return;
            }
        }
    };
}

#[tokio::test]
async fn orders_v2_responses_conform_to_the_official_schema() {
    let dir = specs_or_skip!();
    let spec = Spec::load(&dir, "orders.v2.oas2.yml");
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 11);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let lines: Vec<(&str, u32, usize)> = (0..55)
        .map(|i| (if i % 2 == 0 { "MUG-1" } else { "SOCK-1-M" }, 1, 0))
        .collect();
    let big = place(&sandbox, &store.hash, 1, &lines);
    let id = place(
        &sandbox,
        &store.hash,
        2,
        &[("MUG-1", 2, 0), ("SOCK-1-L", 1, 1)],
    );

    for query in [
        "",
        "?include=consignments.line_items&consignment_structure=object",
        "?include=consignments&consignment_structure=object",
        "?limit=250&sort=date_modified:asc",
    ] {
        let (status, body) = api.get(&format!("/v2/orders{query}")).await;
        assert_eq!(status, 200);
        spec.check("/orders", "GET", 200, &body);
    }
    // `include=consignments` without `consignment_structure=object` answers the legacy array
    // structure, which the parameter's description mentions but the schema does not describe;
    // it is covered by a behaviour test instead (orders_v2.rs).
    let (_, order) = api.get(&format!("/v2/orders/{id}")).await;
    spec.check("/orders/{order_id}", "GET", 200, &order);
    let (_, order) = api
        .get(&format!(
            "/v2/orders/{big}?include=consignments.line_items&consignment_structure=object"
        ))
        .await;
    spec.check("/orders/{order_id}", "GET", 200, &order);
    let (_, count) = api.get("/v2/orders/count").await;
    spec.check("/orders/count", "GET", 200, &count);
    let (_, products) = api.get(&format!("/v2/orders/{id}/products")).await;
    spec.check("/orders/{order_id}/products", "GET", 200, &products);
    let line_id = products[0]["id"].as_u64().unwrap();
    let (_, product) = api
        .get(&format!("/v2/orders/{id}/products/{line_id}"))
        .await;
    spec.check(
        "/orders/{order_id}/products/{product_id}",
        "GET",
        200,
        &product,
    );
    let (_, addresses) = api
        .get(&format!("/v2/orders/{id}/shipping_addresses"))
        .await;
    spec.check(
        "/orders/{order_id}/shipping_addresses",
        "GET",
        200,
        &addresses,
    );
    let address_id = addresses[0]["id"].as_u64().unwrap();
    let (_, address) = api
        .get(&format!("/v2/orders/{id}/shipping_addresses/{address_id}"))
        .await;
    spec.check(
        "/orders/{order_id}/shipping_addresses/{id}",
        "GET",
        200,
        &address,
    );
    for query in ["", "?include=line_items"] {
        let (_, consignments) = api
            .get(&format!("/v2/orders/{id}/consignments{query}"))
            .await;
        spec.check("/orders/{order_id}/consignments", "GET", 200, &consignments);
    }
    let (_, statuses) = api.get("/v2/order_statuses").await;
    spec.check("/order_statuses", "GET", 200, &statuses);
    let (_, status) = api.get("/v2/order_statuses/11").await;
    spec.check("/order_statuses/{status_id}", "GET", 200, &status);

    let (code, _, shipment) = api
        .send(
            Method::POST,
            &format!("/v2/orders/{id}/shipments"),
            Some(json!({"order_address_id": address_id, "tracking_number": "7312", "shipping_provider": "canadapost", "items": [{"order_product_id": line_id, "quantity": 1}]})),
        )
        .await;
    assert_eq!(code, 201, "{shipment}");
    spec.check("/orders/{order_id}/shipments", "POST", 201, &shipment);
    let (_, shipments) = api.get(&format!("/v2/orders/{id}/shipments")).await;
    spec.check("/orders/{order_id}/shipments", "GET", 200, &shipments);
    let shipment_id = shipment["id"].as_u64().unwrap();
    let (_, one) = api
        .get(&format!("/v2/orders/{id}/shipments/{shipment_id}"))
        .await;
    spec.check(
        "/orders/{order_id}/shipments/{shipment_id}",
        "GET",
        200,
        &one,
    );
    let (_, count) = api.get(&format!("/v2/orders/{id}/shipments/count")).await;
    spec.check("/orders/{order_id}/shipments/count", "GET", 200, &count);
    let (code, _, updated) = api
        .send(
            Method::PUT,
            &format!("/v2/orders/{id}/shipments/{shipment_id}"),
            Some(json!({"tracking_number": "7313"})),
        )
        .await;
    assert_eq!(code, 200);
    spec.check(
        "/orders/{order_id}/shipments/{shipment_id}",
        "PUT",
        200,
        &updated,
    );
    let (code, _, order) = api
        .send(
            Method::PUT,
            &format!("/v2/orders/{id}"),
            Some(json!({"status_id": 9})),
        )
        .await;
    assert_eq!(code, 200);
    spec.check("/orders/{order_id}", "PUT", 200, &order);

    let (code, missing) = api.get("/v2/orders/999999").await;
    assert_eq!(code, 404);
    spec.check("/orders/{order_id}", "GET", 404, &missing);
}

#[tokio::test]
async fn store_information_responses_conform_to_the_official_schema() {
    let dir = specs_or_skip!();
    let spec = Spec::load(&dir, "store_information.v2.yml");
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 12);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let (_, body) = api.get("/v2/store").await;
    spec.check("/store", "GET", 200, &body);
    let (_, body) = api.get("/v2/time").await;
    spec.check("/time", "GET", 200, &body);
}

#[tokio::test]
async fn catalog_responses_conform_to_the_official_schema() {
    let dir = specs_or_skip!();
    let products = Spec::load(&dir, "products_catalog.v3.yml");
    let variants = Spec::load(&dir, "product-variants_catalog.v3.yml");
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 13);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    for query in ["", "?include=variants", "?limit=1&page=2"] {
        let (status, body) = api.get(&format!("/v3/catalog/products{query}")).await;
        assert_eq!(status, 200, "{body}");
        products.check("/catalog/products", "GET", 200, &body);
    }
    let (_, list) = api.get("/v3/catalog/products?include=variants").await;
    let product_id = list["data"][2]["id"].as_u64().unwrap();
    let (_, one) = api
        .get(&format!(
            "/v3/catalog/products/{product_id}?include=variants"
        ))
        .await;
    products.check("/catalog/products/{product_id}", "GET", 200, &one);
    let (status, batch) = api
        .send(
            Method::PUT,
            "/v3/catalog/products",
            Some(json!([{"id": list["data"][0]["id"], "inventory_level": 12}])),
        )
        .await
        .into_body();
    assert_eq!(status, 200, "{batch}");
    products.check("/catalog/products", "PUT", 200, &batch);
    let (_, per_product) = api
        .get(&format!("/v3/catalog/products/{product_id}/variants"))
        .await;
    variants.check(
        "/catalog/products/{product_id}/variants",
        "GET",
        200,
        &per_product,
    );
    let variant_id = per_product["data"][0]["id"].as_u64().unwrap();
    let (_, one) = api
        .get(&format!(
            "/v3/catalog/products/{product_id}/variants/{variant_id}"
        ))
        .await;
    variants.check(
        "/catalog/products/{product_id}/variants/{variant_id}",
        "GET",
        200,
        &one,
    );
    let (_, all) = api.get("/v3/catalog/variants").await;
    variants.check("/catalog/variants", "GET", 200, &all);
    let (status, batch) = api
        .send(
            Method::PUT,
            "/v3/catalog/variants",
            Some(json!([{"id": variant_id, "inventory_level": 3}])),
        )
        .await
        .into_body();
    assert_eq!(status, 200, "{batch}");
    variants.check("/catalog/variants", "PUT", 200, &batch);
    let (status, invalid) = api
        .send(
            Method::PUT,
            "/v3/catalog/variants",
            Some(json!([{"id": 987654, "inventory_level": 3}])),
        )
        .await
        .into_body();
    assert_eq!(status, 422, "{invalid}");
    variants.check("/catalog/variants", "PUT", 422, &invalid);
    let (status, missing) = api.get("/v3/catalog/products/987654").await;
    assert_eq!(status, 404);
    products.check("/catalog/products/{product_id}", "GET", 404, &missing);
}

#[tokio::test]
async fn webhook_responses_conform_to_the_official_schema() {
    let dir = specs_or_skip!();
    let spec = Spec::load(&dir, "webhooks.v3.yml");
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 14);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let (status, created) = api
        .send(
            Method::POST,
            "/v3/hooks",
            Some(json!({"scope": "store/order/created", "destination": "https://127.0.0.1:9/hooks", "is_active": true, "headers": {"x-cenports-key": "k"}})),
        )
        .await
        .into_body();
    assert_eq!(status, 200, "{created}");
    spec.check("/hooks", "POST", 200, &created);
    let (_, list) = api.get("/v3/hooks").await;
    spec.check("/hooks", "GET", 200, &list);
    let id = created["data"]["id"].as_u64().unwrap();
    let (_, one) = api.get(&format!("/v3/hooks/{id}")).await;
    spec.check("/hooks/{webhook_id}", "GET", 200, &one);
    let (_, updated) = api
        .send(
            Method::PUT,
            &format!("/v3/hooks/{id}"),
            Some(json!({"is_active": false})),
        )
        .await
        .into_body();
    spec.check("/hooks/{webhook_id}", "PUT", 200, &updated);
    let (_, deleted) = api
        .send(Method::DELETE, &format!("/v3/hooks/{id}"), None)
        .await
        .into_body();
    spec.check("/hooks/{webhook_id}", "DELETE", 200, &deleted);
}

trait IntoBody {
    fn into_body(self) -> (u16, Value);
}

impl IntoBody for (u16, reqwest::header::HeaderMap, Value) {
    fn into_body(self) -> (u16, Value) {
        (self.0, self.2)
    }
}

/// The checker itself must be able to fail: a body with a wrong type is rejected.
#[test]
fn the_conformance_check_rejects_a_body_that_breaks_the_schema() {
    let Some(dir) = reference_dir() else {
        eprintln!("NOTICE: ../shared/bigcommerce/reference is absent; conformance test skipped");
        return;
    };
    let spec = Spec::load(&dir, "orders.v2.oas2.yml");
    let wrong = json!([{"id": "not-a-number", "status_id": "eleven"}]);
    let outcome = std::panic::catch_unwind(|| spec.check("/orders", "GET", 200, &wrong));
    assert!(outcome.is_err(), "a string id must not conform");
    spec.check("/orders", "GET", 200, &json!([{"id": 1, "status_id": 11}]));
}
