//! Listings Items API: reading a listing and setting its merchant-fulfilled quantity with a
//! JSON Patch; bad content comes back as `INVALID` with issues, bad requests as 400.

use crate::support::{sandbox, Api};
use reqwest::Method;
use serde_json::{json, Value};

fn quantity_patch(product_type: &str, value: Value) -> Value {
    json!({
        "productType": product_type,
        "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability", "value": value}],
    })
}

#[tokio::test]
async fn patching_fulfillment_availability_sets_the_quantity() {
    let sandbox = sandbox().await;
    let api = Api::login(&sandbox, "full").await;
    let listing = sandbox.listings()[3].clone();
    let path = format!(
        "/listings/2021-08-01/items/{}/{}?marketplaceIds={}",
        sandbox.seller_id(),
        listing.sku,
        sandbox.marketplace_id()
    );
    let patched = api
        .send(
            Method::PATCH,
            &path,
            Some(quantity_patch(
                &listing.product_type,
                json!([{"fulfillment_channel_code": "DEFAULT", "quantity": 37}]),
            )),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["status"], "ACCEPTED");
    assert_eq!(patched.body["sku"], listing.sku.as_str());
    assert_eq!(patched.body["issues"], json!([]));
    assert!(patched.body["submissionId"].is_string());
    assert_eq!(sandbox.listing(&listing.sku).unwrap().quantity, 37);

    let read = api
        .get(&format!(
            "{path}&includedData=summaries,attributes,fulfillmentAvailability"
        ))
        .await;
    assert_eq!(read.status, 200);
    assert_eq!(
        read.body["fulfillmentAvailability"],
        json!([{"fulfillmentChannelCode": "DEFAULT", "quantity": 37}])
    );
    assert_eq!(
        read.body["attributes"]["fulfillment_availability"][0]["quantity"],
        37
    );
    assert_eq!(read.body["summaries"][0]["asin"], listing.asin.as_str());
    // `summaries` only by default.
    let default = api.get(&path).await;
    assert!(default.body.get("summaries").is_some() && default.body.get("attributes").is_none());

    // A preview validates without saving; delete sets nothing to sell.
    let preview = api
        .send(
            Method::PATCH,
            &format!("{path}&mode=VALIDATION_PREVIEW"),
            Some(quantity_patch(
                &listing.product_type,
                json!([{"fulfillment_channel_code": "DEFAULT", "quantity": 5}]),
            )),
        )
        .await;
    assert_eq!(preview.body["status"], "VALID");
    assert_eq!(sandbox.listing(&listing.sku).unwrap().quantity, 37);
    let delete = api
        .send(
            Method::PATCH,
            &path,
            Some(json!({"productType": listing.product_type, "patches": [{"op": "delete", "path": "/attributes/fulfillment_availability"}]})),
        )
        .await;
    assert_eq!(delete.body["status"], "ACCEPTED");
    assert_eq!(sandbox.listing(&listing.sku).unwrap().quantity, 0);
}

#[tokio::test]
async fn bad_listing_content_is_invalid_with_issues_and_changes_nothing() {
    let sandbox = sandbox().await;
    let api = Api::login(&sandbox, "full").await;
    let listing = sandbox.listings()[0].clone();
    let seller = sandbox.seller_id();
    let m = sandbox.marketplace_id().to_string();
    let path = format!(
        "/listings/2021-08-01/items/{seller}/{}?marketplaceIds={m}",
        listing.sku
    );
    let pt = listing.product_type.as_str();
    let cases = [
        (
            "a negative quantity",
            quantity_patch(
                pt,
                json!([{"fulfillment_channel_code": "DEFAULT", "quantity": -3}]),
            ),
            "INVALID_ATTRIBUTE",
        ),
        (
            "a fractional quantity",
            quantity_patch(
                pt,
                json!([{"fulfillment_channel_code": "DEFAULT", "quantity": 1.5}]),
            ),
            "INVALID_ATTRIBUTE",
        ),
        (
            "no quantity",
            quantity_patch(pt, json!([{"fulfillment_channel_code": "DEFAULT"}])),
            "MISSING_ATTRIBUTE",
        ),
        (
            "no value",
            json!({"productType": pt, "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability"}]}),
            "MISSING_ATTRIBUTE",
        ),
        (
            "an Amazon channel only",
            quantity_patch(
                pt,
                json!([{"fulfillment_channel_code": "AMAZON_NA", "quantity": 3}]),
            ),
            "INVALID_ATTRIBUTE",
        ),
        (
            "a nested path",
            json!({"productType": pt, "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability/0/quantity", "value": [3]}]}),
            "INVALID_ATTRIBUTE",
        ),
        (
            "another product type",
            quantity_patch(
                "NOT_A_TYPE",
                json!([{"fulfillment_channel_code": "DEFAULT", "quantity": 3}]),
            ),
            "INVALID_ATTRIBUTE",
        ),
    ];
    for (case, body, category) in cases {
        let answer = api.send(Method::PATCH, &path, Some(body)).await;
        assert_eq!(answer.status, 200, "{case}: {}", answer.body);
        assert_eq!(answer.body["status"], "INVALID", "{case}");
        let issue = &answer.body["issues"][0];
        assert_eq!(issue["severity"], "ERROR", "{case}");
        assert_eq!(issue["categories"][0], category, "{case}: {issue}");
        assert!(issue["code"].is_string() && issue["message"].is_string());
    }
    assert_eq!(
        sandbox.listing(&listing.sku).unwrap(),
        listing,
        "nothing changed"
    );

    let unknown = api
        .send(
            Method::PATCH,
            &format!("/listings/2021-08-01/items/{seller}/NO-SUCH-SKU?marketplaceIds={m}"),
            Some(quantity_patch(
                pt,
                json!([{"fulfillment_channel_code": "DEFAULT", "quantity": 3}]),
            )),
        )
        .await;
    assert_eq!(unknown.body["status"], "INVALID");
    let missing = api
        .get(&format!(
            "/listings/2021-08-01/items/{seller}/NO-SUCH-SKU?marketplaceIds={m}"
        ))
        .await;
    assert_eq!((missing.status, missing.code()), (404, "NotFound"));

    // Requests that break the request schema are 400s.
    for body in [
        json!({"patches": []}),
        json!({"productType": pt}),
        json!({"productType": pt, "patches": [{"op": "move", "path": "/attributes/fulfillment_availability"}]}),
    ] {
        let answer = api.send(Method::PATCH, &path, Some(body.clone())).await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, "InvalidInput"),
            "{body}"
        );
    }
    let no_marketplace = api
        .get(&format!(
            "/listings/2021-08-01/items/{seller}/{}",
            listing.sku
        ))
        .await;
    assert_eq!(no_marketplace.status, 400);
    let other_seller = api
        .get(&format!(
            "/listings/2021-08-01/items/A0THERSELLER00/{}?marketplaceIds={m}",
            listing.sku
        ))
        .await;
    assert_eq!(
        (other_seller.status, other_seller.code()),
        (403, "Unauthorized")
    );
}
