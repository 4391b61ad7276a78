//! Conformance: every kind of sandbox response body is validated against the response schema
//! of BigCommerce's official OpenAPI descriptions, which are not in the repository: they are
//! read, when present, from `../shared/bigcommerce/reference` beside the checkout. Skipped,
//! with a printed notice, only when that folder is absent (CI has it).

use crate::support::examples::{self, Known};
use crate::support::openapi::{reference_dir, Spec};
use crate::support::{self, place, sandbox, small_store, Api};
use bigcommerce_sandbox::model::{InventoryTracking, OptionKind, OptionValue};
use bigcommerce_sandbox::NewModifier;
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

// ---------------------------------------------------------------------------------------------
// Every field of the documented examples (support/examples.rs): the schemas above say what a
// field may be; the examples say which fields BigCommerce actually sends.

/// Known, intentional differences from the orders v2 examples (docs/SANDBOX.md lists them).
const ORDERS_KNOWN: &[Known] = &[
    Known {
        path: "zip",
        why: "postal codes are text: the sandbox's Canadian addresses have letters (K1N 5W8)",
    },
    Known {
        path: "phone",
        why: "the sandbox writes phone numbers with dashes (613-555-0199)",
    },
    Known {
        path: "tracking_number",
        why: "a tracking number is whatever the client sent",
    },
    Known {
        path: "currency_code\"",
        why: "a typo in the 'Multiple Items' example (a key with a quote); currency_code is sent",
    },
    Known {
        path: "product_options.*(type=File Upload)",
        why: "file-upload options are not emulated",
    },
];

/// Known, intentional differences from the catalog v3 examples (docs/SANDBOX.md lists them).
/// None today: the `{}` the variant examples show for `map_price` is matched by the sandbox's
/// `null` (an unset value matches anything).
const CATALOG_KNOWN: &[Known] = &[];

#[tokio::test]
async fn orders_v2_responses_have_every_field_of_the_documented_examples() {
    let dir = specs_or_skip!();
    examples::assert_documented(ORDERS_KNOWN);
    let spec = Spec::load(&dir, "orders.v2.oas2.yml");
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 21);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    // A line of every option type the examples show but file upload: multiple choice (size),
    // swatch (colour), and modifiers: text field, checkbox, pick list.
    sandbox.with_store(&store.hash, |data, _| {
        let mut jacket = support::variant("JACKET-1-S-OR", "S", 5);
        jacket.option_values.push(OptionValue {
            id: 2,
            option_id: 2,
            option_display_name: "Colour".into(),
            label: "Orange".into(),
            kind: OptionKind::Swatch,
        });
        data.add_product(support::product(
            "Rain Jacket",
            "JACKET-1",
            InventoryTracking::Variant,
            0,
            vec![jacket],
        ));
    });
    let mut order = bigcommerce_sandbox::fixtures::order(
        1,
        &[("JACKET-1-S-OR", 1, 0), ("SOCK-1-L", 1, 0), ("MUG-1", 2, 0)],
    );
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
        NewModifier {
            name: "PickList".into(),
            kind: OptionKind::ProductPickList,
            value: "Trail Mug".into(),
        },
    ];
    let id = sandbox
        .with_store(&store.hash, |data, events| data.place_order(order, events))
        .unwrap()
        .unwrap();
    let report = std::cell::RefCell::new(Vec::new());
    let check = |path: &str, method: &str, status: u16, body: &Value| {
        report.borrow_mut().extend(examples::compare(
            &spec,
            path,
            method,
            status,
            body,
            ORDERS_KNOWN,
        ));
    };
    let (_, list) = api.get("/v2/orders").await;
    check("/orders", "GET", 200, &list);
    let (_, order) = api.get(&format!("/v2/orders/{id}")).await;
    check("/orders/{order_id}", "GET", 200, &order);
    let (_, products) = api.get(&format!("/v2/orders/{id}/products")).await;
    check("/orders/{order_id}/products", "GET", 200, &products);
    let line_id = products[0]["id"].as_u64().unwrap();
    let (_, line) = api
        .get(&format!("/v2/orders/{id}/products/{line_id}"))
        .await;
    check(
        "/orders/{order_id}/products/{product_id}",
        "GET",
        200,
        &line,
    );
    // Line items embedded in an order's consignments are the same order products.
    let (_, embedded) = api
        .get(&format!(
            "/v2/orders/{id}?include=consignments.line_items&consignment_structure=object"
        ))
        .await;
    let embedded_line = &embedded["consignments"]["shipping"][0]["line_items"][0];
    check(
        "/orders/{order_id}/products/{product_id}",
        "GET",
        200,
        embedded_line,
    );
    let (_, addresses) = api
        .get(&format!("/v2/orders/{id}/shipping_addresses"))
        .await;
    check(
        "/orders/{order_id}/shipping_addresses",
        "GET",
        200,
        &addresses,
    );
    let address_id = addresses[0]["id"].as_u64().unwrap();
    let (_, address) = api
        .get(&format!("/v2/orders/{id}/shipping_addresses/{address_id}"))
        .await;
    check(
        "/orders/{order_id}/shipping_addresses/{id}",
        "GET",
        200,
        &address,
    );
    let (_, consignments) = api
        .get(&format!("/v2/orders/{id}/consignments?include=line_items"))
        .await;
    check("/orders/{order_id}/consignments", "GET", 200, &consignments);
    let (code, _, shipment) = api
        .send(
            Method::POST,
            &format!("/v2/orders/{id}/shipments"),
            Some(json!({"order_address_id": address_id, "tracking_number": "7312", "shipping_provider": "canadapost", "items": [{"order_product_id": line_id, "quantity": 1}]})),
        )
        .await;
    assert_eq!(code, 201, "{shipment}");
    check("/orders/{order_id}/shipments", "POST", 201, &shipment);
    let (_, shipments) = api.get(&format!("/v2/orders/{id}/shipments")).await;
    check("/orders/{order_id}/shipments", "GET", 200, &shipments);
    let (_, statuses) = api.get("/v2/order_statuses").await;
    check("/order_statuses", "GET", 200, &statuses);
    let (_, count) = api.get("/v2/orders/count").await;
    check("/orders/count", "GET", 200, &count);
    let report = report.into_inner();
    assert!(
        report.is_empty(),
        "differences from the documented examples:\n{}",
        report.join("\n")
    );
}

#[tokio::test]
async fn catalog_responses_have_every_field_of_the_documented_examples() {
    let dir = specs_or_skip!();
    let products = Spec::load(&dir, "products_catalog.v3.yml");
    let variants = Spec::load(&dir, "product-variants_catalog.v3.yml");
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 22);
    let api = Api::new(&sandbox, &store, "merchant-guide");
    let report = std::cell::RefCell::new(Vec::new());
    let check = |spec: &Spec, path: &str, method: &str, body: &Value| {
        report.borrow_mut().extend(examples::compare(
            spec,
            path,
            method,
            200,
            body,
            CATALOG_KNOWN,
        ));
    };
    let (_, list) = api.get("/v3/catalog/products?include=variants").await;
    let socks = list["data"][2]["id"].as_u64().unwrap();
    let mug = list["data"][0]["id"].as_u64().unwrap();
    for product_id in [mug, socks] {
        let (_, one) = api.get(&format!("/v3/catalog/products/{product_id}")).await;
        check(&products, "/catalog/products/{product_id}", "GET", &one);
    }
    // `PUT /catalog/products/{product_id}` documents its example under a misplaced key; the
    // answer is the same resource as the GET, so it is compared with the GET's example.
    let (status, updated) = api
        .send(
            Method::PUT,
            &format!("/v3/catalog/products/{mug}"),
            Some(json!({"inventory_level": 12})),
        )
        .await
        .into_body();
    assert_eq!(status, 200, "{updated}");
    check(&products, "/catalog/products/{product_id}", "GET", &updated);
    let (_, per_product) = api
        .get(&format!("/v3/catalog/products/{socks}/variants"))
        .await;
    check(
        &variants,
        "/catalog/products/{product_id}/variants",
        "GET",
        &per_product,
    );
    let variant_id = per_product["data"][0]["id"].as_u64().unwrap();
    let (_, one) = api
        .get(&format!(
            "/v3/catalog/products/{socks}/variants/{variant_id}"
        ))
        .await;
    check(
        &variants,
        "/catalog/products/{product_id}/variants/{variant_id}",
        "GET",
        &one,
    );
    let (status, updated) = api
        .send(
            Method::PUT,
            &format!("/v3/catalog/products/{socks}/variants/{variant_id}"),
            Some(json!({"inventory_level": 3})),
        )
        .await
        .into_body();
    assert_eq!(status, 200, "{updated}");
    check(
        &variants,
        "/catalog/products/{product_id}/variants/{variant_id}",
        "PUT",
        &updated,
    );
    let report = report.into_inner();
    assert!(
        report.is_empty(),
        "differences from the documented examples:\n{}",
        report.join("\n")
    );
}

/// The comparison itself must be able to fail: a missing nested field, a label where an id
/// string is documented, and a field of the wrong type are each reported.
#[test]
fn the_example_comparison_reports_missing_nested_fields_and_wrong_shapes() {
    let example = json!({"id": 1, "product_options": [
        {"type": "Multiple choice", "value": "69", "display_value": "S", "name": "Sizes"},
    ], "fees": []});
    let actual = json!({"id": 2, "product_options": [
        {"type": "Multiple choice", "value": "S", "display_value": "S"},
    ]});
    let found = examples::differences(&example, &actual, &[]);
    assert!(
        found.iter().any(|d| d.starts_with("fees: missing")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|d| d.starts_with("product_options.0.name: missing")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|d| d.starts_with("product_options.0.value: text in the sandbox")),
        "{found:?}"
    );
    assert_eq!(found.len(), 3, "{found:?}");
    let wrong_type = examples::differences(&json!({"price": 7.95}), &json!({"price": "7.95"}), &[]);
    assert_eq!(wrong_type.len(), 1, "{wrong_type:?}");
    let known = [Known {
        path: "product_options.*.name",
        why: "test",
    }];
    let found = examples::differences(&example, &actual, &known);
    assert_eq!(found.len(), 2, "{found:?}");
    // A kind the sandbox's answer lacks is reported, not silently skipped.
    let swatch = json!([{"type": "Swatch", "value": "112"}]);
    let found = examples::differences(
        &swatch,
        &json!([{"type": "Multiple choice", "value": "1"}]),
        &[],
    );
    assert_eq!(found.len(), 1, "{found:?}");
}
