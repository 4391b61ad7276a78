//! Orders API 2026-01-01: `searchOrders` and `getOrder`, with `includedData` choosing the
//! datasets. The search has the same semantics as v0's `getOrders` (one time window, the
//! two-minute rule, ascending order, keyset `paginationToken`: see
//! [`super::orders_v0`]), with the 2026 names: `createdAfter`, `lastUpdatedAfter`,
//! `fulfillmentStatuses` (`UNSHIPPED`, ...), `fulfilledBy` (`MERCHANT`, `AMAZON`),
//! `maxResultsPerPage`, `paginationToken`; `marketplaceIds` is optional here.
//!
//! `BUYER` and the personal part of `RECIPIENT` need a restricted data token naming the path
//! with `buyerInfo` / `shippingAddress`, as for v0; without one `buyer` is left out and the
//! delivery address has only city, region, postal code and country.

use std::collections::BTreeSet;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde_json::json;

use super::orders_v0::{is_order_id, query_of, Dialect, OrdersQuery};
use super::{errors, json, render, seal, AppState, Caller, Params};
use crate::clock::iso;

fn included_data(params: &Params) -> Result<BTreeSet<String>, Response> {
    let mut included = BTreeSet::new();
    for name in params.list("includedData") {
        if !render::DATASETS_2026.contains(&name.as_str()) {
            return Err(errors::invalid_input(&format!(
                "Invalid includedData value '{name}'."
            )));
        }
        included.insert(name);
    }
    Ok(included)
}

/// `GET /orders/2026-01-01/orders`.
pub async fn search_orders(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let included = match included_data(&params) {
        Ok(included) => included,
        Err(response) => return response,
    };
    let query = match query_of(&state, &params, Dialect::V2026, "paginationToken") {
        Ok(query) => query,
        Err(response) => return response,
    };
    let (orders, next) = query.page(&state.account.read());
    let before = chrono::DateTime::from_timestamp(query.before, 0).unwrap_or_default();
    let mut body = json!({
        "orders": orders
            .iter()
            .map(|o| render::order_2026(o, &included, &caller))
            .collect::<Vec<_>>(),
    });
    body[if query.by_update {
        "lastUpdatedBefore"
    } else {
        "createdBefore"
    }] = json!(iso(before));
    if let Some(cursor) = next {
        let next = OrdersQuery {
            cursor: Some(cursor),
            ..query
        };
        body["pagination"] = json!({"nextToken": seal(&state.seal_key, &next)});
    }
    json(StatusCode::OK, &body)
}

/// `GET /orders/2026-01-01/orders/{orderId}`.
pub async fn get_order(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let included = match included_data(&params) {
        Ok(included) => included,
        Err(response) => return response,
    };
    if !is_order_id(&id) {
        return errors::invalid_input(&format!(
            "Invalid orderId '{id}': an order id has the form 3-7-7 digits."
        ));
    }
    let account = state.account.read();
    match account.order(&id) {
        Some(order) => json(
            StatusCode::OK,
            &json!({"order": render::order_2026(order, &included, &caller)}),
        ),
        None => errors::not_found(&format!("Order {id} was not found.")),
    }
}
