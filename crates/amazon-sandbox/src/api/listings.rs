//! Listings Items API 2021-08-01: `getListingsItem` and `patchListingsItem` on the seller's
//! own SKUs. A patch may set the merchant-fulfilled quantity with a JSON Patch on
//! `/attributes/fulfillment_availability`; the sandbox applies it at once (Amazon applies an
//! accepted submission within minutes).
//!
//! What is a 400 and what is an `INVALID` submission: a body that does not follow the request
//! schema (not JSON, no `productType` or `patches`, an `op` outside `add`, `replace`, `merge`,
//! `delete`, a patch without `path`) is a 400 `InvalidInput`; a well-formed patch whose
//! content Amazon would not accept (another product type, a nested path, an attribute the
//! sandbox does not hold, a quantity that is missing, negative or not a whole number, an
//! unknown SKU) is 200 with `status: INVALID` and the `issues` that say why, and nothing
//! changes.

use std::collections::BTreeSet;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::{errors, json, render, AppState, Params};

/// Attributes the sandbox stores; a patch on another is refused as an issue.
const PATCHABLE: [&str; 1] = ["fulfillment_availability"];

fn listing_error(status: StatusCode, code: &str, message: &str) -> Response {
    errors::error(status, code, message, "")
}

/// Checks the seller and marketplaces of a listings request.
fn check_scope(state: &AppState, seller_id: &str, params: &Params) -> Result<String, Response> {
    if seller_id != state.seller_id() {
        return Err(errors::unauthorized(""));
    }
    let marketplaces = params.list("marketplaceIds");
    if marketplaces.is_empty() {
        return Err(listing_error(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "Missing required parameter marketplaceIds.",
        ));
    }
    if let Some(other) = marketplaces
        .iter()
        .find(|m| **m != state.config.marketplace_id)
    {
        return Err(listing_error(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            &format!("Invalid marketplaceIds: the seller does not sell in marketplace '{other}'."),
        ));
    }
    Ok(state.config.marketplace_id.clone())
}

/// `GET /listings/2021-08-01/items/{sellerId}/{sku}`.
pub async fn get_listings_item(
    State(state): State<AppState>,
    Path((seller_id, sku)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let marketplace = match check_scope(&state, &seller_id, &params) {
        Ok(marketplace) => marketplace,
        Err(response) => return response,
    };
    let mut included: BTreeSet<String> = params.list("includedData").into_iter().collect();
    if let Some(unknown) = included
        .iter()
        .find(|d| !render::LISTING_DATASETS.contains(&d.as_str()))
    {
        return listing_error(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            &format!("Invalid includedData value '{unknown}'."),
        );
    }
    if included.is_empty() {
        included.insert("summaries".to_string());
    }
    let account = state.account.read();
    match account.listings.get(&sku) {
        Some(listing) => json(
            StatusCode::OK,
            &render::listing_item(listing, &marketplace, &account.currency, &included),
        ),
        None => listing_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("SKU '{sku}' is not found in marketplace {marketplace}."),
        ),
    }
}

/// An issue of a submission.
fn issue(code: &str, message: &str, category: &str, attribute: Option<&str>) -> Value {
    let mut value = json!({
        "code": code,
        "message": message,
        "severity": "ERROR",
        "categories": [category],
    });
    if let Some(attribute) = attribute {
        value["attributeNames"] = json!([attribute]);
    }
    value
}

/// Reads the quantity a `fulfillment_availability` value sets, or the issue against it.
fn quantity_of(value: Option<&Value>) -> Result<u32, Value> {
    let attribute = Some("fulfillment_availability");
    let entries = value
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            issue(
                "90220",
                "'fulfillment_availability' is required but not supplied.",
                "MISSING_ATTRIBUTE",
                attribute,
            )
        })?;
    let entry = entries
        .iter()
        .find(|e| e.get("fulfillment_channel_code").and_then(Value::as_str) == Some("DEFAULT"))
        .ok_or_else(|| {
            issue(
                "90000900",
                "'fulfillment_availability' needs an entry with fulfillment_channel_code 'DEFAULT' (merchant-fulfilled).",
                "INVALID_ATTRIBUTE",
                attribute,
            )
        })?;
    match entry.get("quantity") {
        None => Err(issue(
            "90220",
            "'quantity' of 'fulfillment_availability' is required but not supplied.",
            "MISSING_ATTRIBUTE",
            attribute,
        )),
        Some(quantity) => quantity
            .as_u64()
            .filter(|q| *q <= u64::from(u32::MAX))
            .map(|q| q as u32)
            .ok_or_else(|| {
                issue(
                    "90000900",
                    &format!("The value '{quantity}' of 'quantity' in 'fulfillment_availability' is invalid: it must be a whole number of 0 or more."),
                    "INVALID_ATTRIBUTE",
                    attribute,
                )
            }),
    }
}

/// `PATCH /listings/2021-08-01/items/{sellerId}/{sku}`.
pub async fn patch_listings_item(
    State(state): State<AppState>,
    Path((seller_id, sku)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    body: bytes::Bytes,
) -> Response {
    let params = Params::parse(query.as_deref());
    let marketplace = match check_scope(&state, &seller_id, &params) {
        Ok(marketplace) => marketplace,
        Err(response) => return response,
    };
    let preview = match params.one("mode") {
        None => false,
        Some("VALIDATION_PREVIEW") => true,
        Some(other) => {
            return listing_error(
                StatusCode::BAD_REQUEST,
                "InvalidInput",
                &format!("Invalid mode '{other}'."),
            )
        }
    };
    let bad = |message: &str| listing_error(StatusCode::BAD_REQUEST, "InvalidInput", message);
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return bad("The request body is not JSON.");
    };
    let Some(product_type) = body.get("productType").and_then(Value::as_str) else {
        return bad("Missing required field productType.");
    };
    let Some(patches) = body
        .get("patches")
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
    else {
        return bad("Missing required field patches.");
    };
    let mut parsed = Vec::new();
    for (n, patch) in patches.iter().enumerate() {
        let op = patch.get("op").and_then(Value::as_str);
        if !matches!(op, Some("add" | "replace" | "merge" | "delete")) {
            return bad(&format!(
                "patches[{n}].op must be one of add, replace, merge, delete."
            ));
        }
        let Some(path) = patch.get("path").and_then(Value::as_str) else {
            return bad(&format!("Missing required field patches[{n}].path."));
        };
        parsed.push((op.unwrap_or_default(), path.to_string(), patch.get("value")));
    }

    let now = state.clock.now();
    let mut account = state.account.write();
    let mut issues = Vec::new();
    let mut quantity = None;
    match account.listings.get(&sku) {
        None => issues.push(issue(
            "4000001",
            &format!("SKU '{sku}' does not exist in marketplace {marketplace}; a patch cannot create a listing (use putListingsItem)."),
            "INVALID_ATTRIBUTE",
            None,
        )),
        Some(listing) if listing.product_type != product_type => issues.push(issue(
            "4000003",
            &format!("The product type '{product_type}' does not match the listing's product type '{}'.", listing.product_type),
            "INVALID_ATTRIBUTE",
            None,
        )),
        Some(_) => {
            for (op, path, value) in &parsed {
                let attribute = path.strip_prefix("/attributes/").unwrap_or("");
                if attribute.is_empty() || attribute.contains('/') {
                    issues.push(issue(
                        "90000900",
                        &format!("Patch path '{path}' is invalid: only top-level attributes (/attributes/<name>) can be patched."),
                        "INVALID_ATTRIBUTE",
                        None,
                    ));
                    continue;
                }
                if !PATCHABLE.contains(&attribute) {
                    issues.push(issue(
                        "90000900",
                        &format!("The attribute '{attribute}' cannot be patched in this sandbox."),
                        "INVALID_ATTRIBUTE",
                        Some(attribute),
                    ));
                    continue;
                }
                if *op == "delete" {
                    quantity = Some(0);
                    continue;
                }
                match quantity_of(*value) {
                    Ok(q) => quantity = Some(q),
                    Err(problem) => issues.push(problem),
                }
            }
        }
    }
    let status = if !issues.is_empty() {
        "INVALID"
    } else if preview {
        "VALID"
    } else {
        if let Some(quantity) = quantity {
            let _ = account.set_quantity(&sku, quantity, now);
        }
        "ACCEPTED"
    };
    drop(account);
    let submission_id = format!("{:032x}", rand::random::<u128>());
    let submission_id = format!(
        "{}-{}-{}-{}-{}",
        &submission_id[0..8],
        &submission_id[8..12],
        &submission_id[12..16],
        &submission_id[16..20],
        &submission_id[20..32]
    );
    json(
        StatusCode::OK,
        &json!({
            "sku": sku,
            "status": status,
            "submissionId": submission_id,
            "issues": issues,
        }),
    )
}
