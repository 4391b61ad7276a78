//! Orders API v0: `getOrders`, `getOrder`, `getOrderItems`, `getOrderAddress`,
//! `getOrderBuyerInfo` and `confirmShipment`.
//!
//! ## How `getOrders` pages
//!
//! A search is a window on one time (`PurchaseDate` for `CreatedAfter`, `LastUpdateDate` for
//! `LastUpdatedAfter`), sorted ascending on that time, ties broken by order id. The window's
//! upper bound is fixed by the first page: the `…Before` given, or, when none is, two minutes
//! before the request (the bound Amazon asks callers to stay behind), and the payload reports
//! it as `CreatedBefore`/`LastUpdatedBefore` so the next window can start there. `NextToken`
//! seals the whole search and a keyset cursor (the last order's time and id), not an offset,
//! so during a walk:
//!
//! - an order changed mid-walk gets a `LastUpdateDate` of "now", past the window's bound: it
//!   leaves this walk (wherever it stood) and is found by the next window. Nothing shifts, so
//!   no other order is skipped or repeated;
//! - a new order is likewise past the bound;
//! - only an order backdated into the window behind the cursor (the control API's
//!   `purchase_date`, standing for Amazon's late-surfacing orders) is missed by the walk.
//!
//! Both bounds are inclusive ("at or after", "at or before"), so an order updated exactly at a
//! window's `LastUpdatedBefore` is returned by that window and by the next one starting there:
//! a consumer de-duplicates by `AmazonOrderId`, as it must with Amazon.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{errors, json, open, render, seal, AppState, Caller, Params};
use crate::account::{RuleError, SellerAccount, ShipmentConfirmation};
use crate::clock::{iso, parse_iso};
use crate::model::{FulfillmentChannel, Order, OrderStatus, PackageItem};

/// How far behind now a search window must end.
pub const SETTLE: i64 = 120;

/// The most orders a page holds.
pub const MAX_PAGE: usize = 100;

/// Which API's parameter names and values a search reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    V0,
    V2026,
}

impl Dialect {
    fn name(self, v0: &'static str) -> &'static str {
        match self {
            Dialect::V0 => v0,
            Dialect::V2026 => match v0 {
                "CreatedAfter" => "createdAfter",
                "CreatedBefore" => "createdBefore",
                "LastUpdatedAfter" => "lastUpdatedAfter",
                "LastUpdatedBefore" => "lastUpdatedBefore",
                "OrderStatuses" => "fulfillmentStatuses",
                "FulfillmentChannels" => "fulfilledBy",
                "MaxResultsPerPage" => "maxResultsPerPage",
                "MarketplaceIds" => "marketplaceIds",
                other => other,
            },
        }
    }
}

/// A search, as the first page defines it and `NextToken` carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrdersQuery {
    /// `v0` or `2026`: a token is only good for the API that issued it.
    pub api: String,
    /// Filter on `LastUpdateDate` (else `PurchaseDate`).
    pub by_update: bool,
    /// Inclusive bounds, Unix seconds.
    pub after: i64,
    pub before: i64,
    /// `None`: any status. `Some(empty)`: only statuses the sandbox has no orders in were
    /// asked for (`PendingAvailability`, `InvoiceUnconfirmed`), so nothing matches.
    pub statuses: Option<Vec<OrderStatus>>,
    pub channels: Vec<FulfillmentChannel>,
    pub marketplaces: Vec<String>,
    pub order_ids: Vec<String>,
    pub max: usize,
    /// The last order returned: its time and id.
    pub cursor: Option<(i64, String)>,
}

impl OrdersQuery {
    /// The time a search sorts and filters on.
    pub fn key(&self, order: &Order) -> i64 {
        if self.by_update {
            order.last_update_date.timestamp()
        } else {
            order.purchase_date.timestamp()
        }
    }

    /// One page: the orders after the cursor, and the cursor of the next page if any.
    pub fn page(&self, account: &SellerAccount) -> (Vec<Order>, Option<(i64, String)>) {
        let mut hits: Vec<(i64, &Order)> = account
            .orders()
            .iter()
            .filter(|o| {
                let key = self.key(o);
                key >= self.after
                    && key <= self.before
                    && self.statuses.as_ref().is_none_or(|s| s.contains(&o.status))
                    && (self.channels.is_empty() || self.channels.contains(&o.fulfillment_channel))
                    && (self.marketplaces.is_empty()
                        || self.marketplaces.contains(&o.marketplace_id))
                    && (self.order_ids.is_empty() || self.order_ids.contains(&o.amazon_order_id))
            })
            .map(|o| (self.key(o), o))
            .filter(|(key, o)| match &self.cursor {
                Some((ckey, cid)) => (*key, o.amazon_order_id.as_str()) > (*ckey, cid.as_str()),
                None => true,
            })
            .collect();
        // Only the page's orders need sorting: select them first (linear), so a walk over a
        // large account does not sort the whole history at every page.
        let order = |a: &(i64, &Order), b: &(i64, &Order)| {
            (a.0, &a.1.amazon_order_id).cmp(&(b.0, &b.1.amazon_order_id))
        };
        let more = hits.len() > self.max;
        if more {
            hits.select_nth_unstable_by(self.max, order);
            hits.truncate(self.max);
        }
        hits.sort_by(order);
        let next = if more {
            hits.last()
                .map(|(key, o)| (*key, o.amazon_order_id.clone()))
        } else {
            None
        };
        (hits.into_iter().map(|(_, o)| o.clone()).collect(), next)
    }
}

fn date_param(params: &Params, name: &str) -> Result<Option<DateTime<Utc>>, Response> {
    match params.one(name) {
        None => Ok(None),
        Some(text) => parse_iso(text).map(Some).ok_or_else(|| {
            errors::invalid_input(&format!(
                "Invalid {name}: '{text}' is not an ISO 8601 date-time."
            ))
        }),
    }
}

/// Reads and checks a first page's search parameters.
pub fn parse_query(
    params: &Params,
    dialect: Dialect,
    marketplace_id: &str,
    now: DateTime<Utc>,
) -> Result<OrdersQuery, Response> {
    let n = |v0| dialect.name(v0);
    let marketplaces = params.list(n("MarketplaceIds"));
    if dialect == Dialect::V0 && marketplaces.is_empty() {
        return Err(errors::invalid_input(
            "Missing required parameter MarketplaceIds.",
        ));
    }
    if let Some(other) = marketplaces.iter().find(|m| *m != marketplace_id) {
        return Err(errors::invalid_input(&format!(
            "Invalid {}: the seller does not sell in marketplace '{other}'.",
            n("MarketplaceIds")
        )));
    }
    let created_after = date_param(params, n("CreatedAfter"))?;
    let created_before = date_param(params, n("CreatedBefore"))?;
    let updated_after = date_param(params, n("LastUpdatedAfter"))?;
    let updated_before = date_param(params, n("LastUpdatedBefore"))?;
    let order_ids = params.list("AmazonOrderIds");
    if order_ids.len() > 50 {
        return Err(errors::invalid_input(
            "AmazonOrderIds holds at most 50 order ids.",
        ));
    }
    let (by_update, after, before, after_name, before_name) = match (created_after, updated_after) {
        (Some(_), Some(_)) => {
            return Err(errors::invalid_input(&format!(
                "Exactly one of {} and {} may be given.",
                n("CreatedAfter"),
                n("LastUpdatedAfter")
            )))
        }
        (None, None) => {
            return Err(errors::invalid_input(&format!(
                "Either {} or {} is required.",
                n("CreatedAfter"),
                n("LastUpdatedAfter")
            )))
        }
        (Some(after), None) => {
            if updated_before.is_some() {
                return Err(errors::invalid_input(&format!(
                    "{} cannot be given with {}.",
                    n("LastUpdatedBefore"),
                    n("CreatedAfter")
                )));
            }
            (
                false,
                after,
                created_before,
                n("CreatedAfter"),
                n("CreatedBefore"),
            )
        }
        (None, Some(after)) => {
            if created_before.is_some() {
                return Err(errors::invalid_input(&format!(
                    "{} cannot be given with {}.",
                    n("CreatedBefore"),
                    n("LastUpdatedAfter")
                )));
            }
            (
                true,
                after,
                updated_before,
                n("LastUpdatedAfter"),
                n("LastUpdatedBefore"),
            )
        }
    };
    let latest = now - Duration::seconds(SETTLE);
    let before = match before {
        Some(before) if before > latest => {
            return Err(errors::invalid_input(&format!(
            "{before_name} ({}) must be at least two minutes before the time of the request ({}).",
            iso(before),
            iso(now)
        )))
        }
        Some(before) if before < after => {
            return Err(errors::invalid_input(&format!(
                "{before_name} must be equal to or after {after_name}."
            )))
        }
        Some(before) => before,
        None => latest,
    };
    if after > before {
        return Err(errors::invalid_input(&format!(
            "{after_name} ({}) must be at least two minutes before the time of the request ({}).",
            iso(after),
            iso(now)
        )));
    }
    let asked = params.list(n("OrderStatuses"));
    let mut statuses = Vec::new();
    for text in &asked {
        let status = match dialect {
            Dialect::V0 => OrderStatus::parse(text),
            Dialect::V2026 => OrderStatus::parse_2026(text),
        };
        match status {
            Some(status) => statuses.push(status),
            // Valid values the sandbox has no orders in: they match nothing.
            None if matches!(
                text.as_str(),
                "PendingAvailability" | "InvoiceUnconfirmed" | "PENDING_AVAILABILITY"
            ) => {}
            None => {
                return Err(errors::invalid_input(&format!(
                    "Invalid {}: '{text}'.",
                    n("OrderStatuses")
                )))
            }
        }
    }
    let mut channels = Vec::new();
    for text in params.list(n("FulfillmentChannels")) {
        let channel = match (dialect, text.as_str()) {
            (Dialect::V0, _) => FulfillmentChannel::parse(&text),
            (Dialect::V2026, "MERCHANT") => Some(FulfillmentChannel::Mfn),
            (Dialect::V2026, "AMAZON") => Some(FulfillmentChannel::Afn),
            _ => None,
        };
        match channel {
            Some(channel) => channels.push(channel),
            None => {
                return Err(errors::invalid_input(&format!(
                    "Invalid {}: '{text}'.",
                    n("FulfillmentChannels")
                )))
            }
        }
    }
    let max = match params.one(n("MaxResultsPerPage")) {
        None => MAX_PAGE,
        Some(text) => match text.parse::<usize>() {
            Ok(max) if (1..=MAX_PAGE).contains(&max) => max,
            _ => {
                return Err(errors::invalid_input(&format!(
                    "{} must be a number from 1 to {MAX_PAGE}.",
                    n("MaxResultsPerPage")
                )))
            }
        },
    };
    Ok(OrdersQuery {
        api: match dialect {
            Dialect::V0 => "v0",
            Dialect::V2026 => "2026",
        }
        .to_string(),
        by_update,
        after: after.timestamp(),
        before: before.timestamp(),
        statuses: (!asked.is_empty()).then_some(statuses),
        channels,
        marketplaces,
        order_ids,
        max,
        cursor: None,
    })
}

/// The search of a request: from its `NextToken`, or from its parameters.
pub fn query_of(
    state: &AppState,
    params: &Params,
    dialect: Dialect,
    token_name: &str,
) -> Result<OrdersQuery, Response> {
    let api = if dialect == Dialect::V0 { "v0" } else { "2026" };
    match params.one(token_name) {
        Some(token) => match open::<OrdersQuery>(&state.seal_key, token) {
            Some(query) if query.api == api && query.cursor.is_some() => Ok(query),
            _ => Err(errors::invalid_input(&format!("Invalid {token_name}."))),
        },
        None => parse_query(
            params,
            dialect,
            &state.config.marketplace_id,
            state.clock.now(),
        ),
    }
}

fn before_field(query: &OrdersQuery, dialect: Dialect) -> (&'static str, String) {
    let before = DateTime::from_timestamp(query.before, 0).unwrap_or_default();
    let name = match (query.by_update, dialect) {
        (true, Dialect::V0) => "LastUpdatedBefore",
        (false, Dialect::V0) => "CreatedBefore",
        (true, Dialect::V2026) => "lastUpdatedBefore",
        (false, Dialect::V2026) => "createdBefore",
    };
    (name, iso(before))
}

/// `GET /orders/v0/orders`.
pub async fn get_orders(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    if params.list("MarketplaceIds").is_empty() {
        return errors::invalid_input("Missing required parameter MarketplaceIds.");
    }
    let query = match query_of(&state, &params, Dialect::V0, "NextToken") {
        Ok(query) => query,
        Err(response) => return response,
    };
    let (orders, next) = query.page(&state.account.read());
    let mut payload = json!({
        "Orders": orders.iter().map(|o| render::order_v0(o, &caller)).collect::<Vec<_>>(),
    });
    let (name, before) = before_field(&query, Dialect::V0);
    payload[name] = json!(before);
    if let Some(cursor) = next {
        let next = OrdersQuery {
            cursor: Some(cursor),
            ..query
        };
        payload["NextToken"] = json!(seal(&state.seal_key, &next));
    }
    json(StatusCode::OK, &json!({"payload": payload}))
}

/// Whether an id has Amazon's 3-7-7 form.
pub fn is_order_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.len() == 3
        && [3, 7, 7]
            .iter()
            .zip(&parts)
            .all(|(len, part)| part.len() == *len && part.bytes().all(|b| b.is_ascii_digit()))
}

/// The order of a path, or the answer to send: 400 for an id not in 3-7-7 form, 404 for an
/// unknown one.
fn find_order(state: &AppState, id: &str) -> Result<Order, Response> {
    if !is_order_id(id) {
        return Err(errors::invalid_input(&format!(
            "Invalid AmazonOrderId '{id}': an order id has the form 3-7-7 digits."
        )));
    }
    state
        .account
        .read()
        .order(id)
        .cloned()
        .ok_or_else(|| errors::not_found(&format!("Order {id} was not found.")))
}

/// `GET /orders/v0/orders/{orderId}`.
pub async fn get_order(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    match find_order(&state, &id) {
        Ok(order) => json(
            StatusCode::OK,
            &json!({"payload": render::order_v0(&order, &caller)}),
        ),
        Err(response) => response,
    }
}

/// Where a `getOrderItems` walk stands.
#[derive(Debug, Serialize, Deserialize)]
struct ItemsCursor {
    order: String,
    offset: usize,
}

/// `GET /orders/v0/orders/{orderId}/orderItems`.
pub async fn get_order_items(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let order = match find_order(&state, &id) {
        Ok(order) => order,
        Err(response) => return response,
    };
    let params = Params::parse(query.as_deref());
    let offset = match params.one("NextToken") {
        None => 0,
        Some(token) => match open::<ItemsCursor>(&state.seal_key, token) {
            Some(cursor) if cursor.order == id => cursor.offset,
            _ => return errors::invalid_input("Invalid NextToken."),
        },
    };
    let size = state.config.order_items_page_size.max(1);
    let items: Vec<Value> = order
        .items
        .iter()
        .skip(offset)
        .take(size)
        .map(|item| render::order_item_v0(&order, item))
        .collect();
    let mut payload = json!({"AmazonOrderId": order.amazon_order_id, "OrderItems": items});
    if offset + size < order.items.len() {
        payload["NextToken"] = json!(seal(
            &state.seal_key,
            &ItemsCursor {
                order: id,
                offset: offset + size,
            }
        ));
    }
    json(StatusCode::OK, &json!({"payload": payload}))
}

/// `GET /orders/v0/orders/{orderId}/address` (restricted data tokens only; the gate checks).
pub async fn get_order_address(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let order = match find_order(&state, &id) {
        Ok(order) => order,
        Err(response) => return response,
    };
    let mut payload = json!({"AmazonOrderId": order.amazon_order_id});
    if order.has_address() {
        payload["ShippingAddress"] = render::address_v0(&order.address, true);
    }
    json(StatusCode::OK, &json!({"payload": payload}))
}

/// `GET /orders/v0/orders/{orderId}/buyerInfo` (restricted data tokens only).
pub async fn get_order_buyer_info(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let order = match find_order(&state, &id) {
        Ok(order) => order,
        Err(response) => return response,
    };
    let mut payload = json!({"AmazonOrderId": order.amazon_order_id});
    if order.status != OrderStatus::Pending {
        payload["BuyerEmail"] = json!(order.buyer.email);
        payload["BuyerName"] = json!(order.buyer.name);
    }
    json(StatusCode::OK, &json!({"payload": payload}))
}

/// The `confirmShipment` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmShipmentRequest {
    pub package_detail: Option<PackageDetail>,
    pub marketplace_id: Option<String>,
    pub cod_collection_method: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageDetail {
    pub package_reference_id: Option<String>,
    pub carrier_code: Option<String>,
    pub carrier_name: Option<String>,
    pub shipping_method: Option<String>,
    pub tracking_number: Option<String>,
    pub ship_date: Option<String>,
    pub ship_from_supply_source_id: Option<String>,
    pub order_items: Option<Vec<ConfirmItem>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmItem {
    pub order_item_id: Option<String>,
    pub quantity: Option<i64>,
}

fn required<T>(value: Option<T>, name: &str) -> Result<T, Response> {
    value.ok_or_else(|| errors::invalid_input(&format!("Missing required field {name}.")))
}

fn confirmation_of(body: ConfirmShipmentRequest) -> Result<ShipmentConfirmation, Response> {
    let marketplace_id = required(body.marketplace_id, "marketplaceId")?;
    let detail = required(body.package_detail, "packageDetail")?;
    let text = |value: Option<String>, name: &str| -> Result<String, Response> {
        match value {
            Some(value) if !value.trim().is_empty() => Ok(value),
            _ => Err(errors::invalid_input(&format!(
                "Missing required field packageDetail.{name}."
            ))),
        }
    };
    let ship_date_text = text(detail.ship_date, "shipDate")?;
    let ship_date = parse_iso(&ship_date_text).ok_or_else(|| {
        errors::invalid_input(&format!(
            "Invalid packageDetail.shipDate '{ship_date_text}': use ISO 8601."
        ))
    })?;
    let mut items = Vec::new();
    for (n, item) in required(detail.order_items, "packageDetail.orderItems")?
        .into_iter()
        .enumerate()
    {
        let order_item_id = text(item.order_item_id, &format!("orderItems[{n}].orderItemId"))?;
        let quantity = required(
            item.quantity,
            &format!("packageDetail.orderItems[{n}].quantity"),
        )?;
        if quantity < 1 || quantity > i64::from(u32::MAX) {
            return Err(errors::invalid_input(&format!(
                "The quantity of order item {order_item_id} must be at least 1."
            )));
        }
        items.push(PackageItem {
            order_item_id,
            quantity: quantity as u32,
        });
    }
    Ok(ShipmentConfirmation {
        marketplace_id,
        package_reference_id: text(detail.package_reference_id, "packageReferenceId")?,
        carrier_code: text(detail.carrier_code, "carrierCode")?,
        carrier_name: detail.carrier_name,
        shipping_method: detail.shipping_method,
        tracking_number: text(detail.tracking_number, "trackingNumber")?,
        ship_date,
        items,
    })
}

/// `POST /orders/v0/orders/{orderId}/shipmentConfirmation`: 204 when the package is recorded.
pub async fn confirm_shipment(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<ConfirmShipmentRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if !is_order_id(&id) {
        return errors::invalid_input(&format!(
            "Invalid AmazonOrderId '{id}': an order id has the form 3-7-7 digits."
        ));
    }
    let body = match body {
        Ok(Json(body)) => body,
        Err(rejection) => {
            return errors::invalid_input(&format!(
                "The request body is invalid: {}",
                rejection.body_text()
            ))
        }
    };
    let confirmation = match confirmation_of(body) {
        Ok(confirmation) => confirmation,
        Err(response) => return response,
    };
    match state.change(|account, now| account.confirm_shipment(&id, confirmation, now)) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(RuleError::NotFound(message)) => errors::not_found(&message),
        Err(RuleError::Invalid(message)) => errors::invalid_input(&message),
    }
}
