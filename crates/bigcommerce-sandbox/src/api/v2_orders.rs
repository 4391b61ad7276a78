//! Orders v2: orders, order products, shipping addresses, consignments, order statuses and
//! shipments, with BigCommerce's filters, sorting, paging (`204` for an empty page) and
//! validation.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

use super::errors::v2_error;
use super::render::{
    ConsignmentObject, Includes, LineView, OrderView, ShipmentView, ShippingAddressView,
};
use super::{json, json_bytes, AppState};
use crate::model::{status_name, Order, ORDER_STATUSES};
use crate::state::StoreHandle;
use crate::store::{NewShipment, OrderUpdate, RuleError, ShipmentUpdate};

type Params = Query<HashMap<String, String>>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/orders", get(list_orders))
        .route("/v2/orders/count", get(count_orders))
        .route(
            "/v2/orders/{order_id}",
            get(get_order).put(update_order).delete(archive_order),
        )
        .route("/v2/orders/{order_id}/products", get(list_order_products))
        .route(
            "/v2/orders/{order_id}/products/{product_id}",
            get(get_order_product),
        )
        .route(
            "/v2/orders/{order_id}/shipping_addresses",
            get(list_shipping_addresses),
        )
        .route(
            "/v2/orders/{order_id}/shippingaddresses",
            get(list_shipping_addresses),
        )
        .route(
            "/v2/orders/{order_id}/shipping_addresses/{address_id}",
            get(get_shipping_address),
        )
        .route(
            "/v2/orders/{order_id}/shippingaddresses/{address_id}",
            get(get_shipping_address),
        )
        .route("/v2/orders/{order_id}/consignments", get(get_consignments))
        .route("/v2/orders/{order_id}/coupons", get(list_empty))
        .route("/v2/orders/{order_id}/taxes", get(list_empty))
        .route("/v2/orders/{order_id}/messages", get(list_empty))
        .route(
            "/v2/orders/{order_id}/shipments",
            get(list_shipments)
                .post(create_shipment)
                .delete(delete_all_shipments),
        )
        .route(
            "/v2/orders/{order_id}/shipments/count",
            get(count_shipments),
        )
        .route(
            "/v2/orders/{order_id}/shipments/{shipment_id}",
            get(get_shipment)
                .put(update_shipment)
                .delete(delete_shipment),
        )
        .route("/v2/order_statuses", get(list_order_statuses))
        .route("/v2/order_statuses/{status_id}", get(get_order_status))
}

/// `http://host/stores/{hash}/v2`: the base of resource links.
fn v2_base(state: &AppState, hash: &str) -> String {
    format!("{}/stores/{hash}/v2", state.base_url)
}

fn store(state: &AppState, hash: &str) -> Result<std::sync::Arc<StoreHandle>, Response> {
    state.store(hash).ok_or_else(not_found)
}

fn not_found() -> Response {
    v2_error(
        StatusCode::NOT_FOUND,
        "The requested resource was not found.",
        None,
    )
}

fn bad_request(message: &str) -> Response {
    v2_error(StatusCode::BAD_REQUEST, message, None)
}

fn rule_error(error: RuleError) -> Response {
    v2_error(
        StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST),
        &error.message,
        None,
    )
}

/// Parses a date filter in RFC 2822, ISO 8601, or a bare date (midnight UTC).
pub fn parse_date(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(at) = DateTime::parse_from_rfc2822(value) {
        return Some(at.with_timezone(&Utc));
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Some(at.with_timezone(&Utc));
    }
    if let Ok(at) = DateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(at.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return date.and_hms_opt(0, 0, 0).map(|at| at.and_utc());
    }
    None
}

/// The order filters of `GET /v2/orders` and `GET /v2/orders/count`.
#[derive(Debug, Default)]
struct OrderFilter {
    min_id: Option<u64>,
    max_id: Option<u64>,
    min_created: Option<DateTime<Utc>>,
    max_created: Option<DateTime<Utc>>,
    min_modified: Option<DateTime<Utc>>,
    max_modified: Option<DateTime<Utc>>,
    status_id: Option<u32>,
    customer_id: Option<u64>,
    email: Option<String>,
    is_deleted: bool,
    cart_id: Option<String>,
    payment_method: Option<String>,
}

fn parse_number<T: std::str::FromStr>(
    params: &HashMap<String, String>,
    name: &str,
) -> Result<Option<T>, Response> {
    match params.get(name) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            bad_request(&format!(
                "The field '{name}' is invalid: '{v}' is not a number."
            ))
        }),
    }
}

fn parse_date_param(
    params: &HashMap<String, String>,
    name: &str,
) -> Result<Option<DateTime<Utc>>, Response> {
    match params.get(name) {
        None => Ok(None),
        Some(v) => parse_date(v).map(Some).ok_or_else(|| {
            bad_request(&format!(
                "The field '{name}' is invalid: '{v}' is not an RFC 2822 or ISO 8601 date."
            ))
        }),
    }
}

impl OrderFilter {
    fn parse(params: &HashMap<String, String>) -> Result<OrderFilter, Response> {
        Ok(OrderFilter {
            min_id: parse_number(params, "min_id")?,
            max_id: parse_number(params, "max_id")?,
            min_created: parse_date_param(params, "min_date_created")?,
            max_created: parse_date_param(params, "max_date_created")?,
            min_modified: parse_date_param(params, "min_date_modified")?,
            max_modified: parse_date_param(params, "max_date_modified")?,
            status_id: parse_number(params, "status_id")?,
            customer_id: parse_number(params, "customer_id")?,
            email: params.get("email").cloned(),
            is_deleted: params
                .get("is_deleted")
                .map(|v| v == "true")
                .unwrap_or(false),
            cart_id: params.get("cart_id").cloned(),
            payment_method: params.get("payment_method").cloned(),
        })
    }

    fn matches(&self, o: &Order) -> bool {
        // Archived orders are listed only when asked for; incomplete ones only by status.
        o.is_deleted == self.is_deleted
            && match self.status_id {
                Some(status) => o.status_id == status,
                None => o.status_id != 0,
            }
            && self.min_created.is_none_or(|t| o.date_created >= t)
            && self.max_created.is_none_or(|t| o.date_created <= t)
            && self.min_modified.is_none_or(|t| o.date_modified >= t)
            && self.max_modified.is_none_or(|t| o.date_modified <= t)
            && self.customer_id.is_none_or(|c| o.customer_id == c)
            && self
                .email
                .as_deref()
                .is_none_or(|e| o.billing_address.email.eq_ignore_ascii_case(e))
            && self.cart_id.as_deref().is_none_or(|c| o.cart_id == c)
            && self
                .payment_method
                .as_deref()
                .is_none_or(|p| o.payment_method == p)
    }

    /// Matching orders in id order.
    fn select<'a>(
        &'a self,
        orders: &'a std::collections::BTreeMap<u64, Order>,
    ) -> impl Iterator<Item = &'a Order> + 'a {
        let low = self.min_id.unwrap_or(0);
        // min_id above max_id selects nothing (an empty range, not a panic).
        let high = self.max_id.unwrap_or(u64::MAX).max(low);
        let empty = self.max_id.is_some_and(|max| max < low);
        orders
            .range(low..=high)
            .filter(move |_| !empty)
            .map(|(_, o)| o)
            .filter(move |o| self.matches(o))
    }
}

/// Page and limit as v2 reads them: `page` from 1, `limit` default 50, at most 250.
fn paging(params: &HashMap<String, String>) -> Result<(usize, usize), Response> {
    let page: usize = parse_number(params, "page")?.unwrap_or(1).max(1);
    let limit: usize = parse_number(params, "limit")?.unwrap_or(50);
    if limit > 250 {
        return Err(v2_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The limit parameter exceeds the maximum of 250.",
            None,
        ));
    }
    Ok((page, limit.max(1)))
}

/// v2 answers an empty page with `204 No Content` and no body.
fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

async fn list_orders(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Query(params): Params,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let filter = match OrderFilter::parse(&params) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (page, limit) = match paging(&params) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let includes = Includes::parse(
        params.get("include").map(String::as_str),
        params.get("consignment_structure").map(String::as_str),
    );
    let sort = params.get("sort").map(String::as_str).unwrap_or("id:asc");
    let (field, descending) = match sort.split_once(':') {
        Some((field, dir)) => (field, dir.eq_ignore_ascii_case("desc")),
        None => (sort, false),
    };
    let base = v2_base(&state, &hash);
    let data = store.data.read();
    let skip = (page - 1) * limit;
    let selected: Vec<&Order> = if field == "id" && !descending {
        filter.select(&data.orders).skip(skip).take(limit).collect()
    } else {
        let mut all: Vec<&Order> = filter.select(&data.orders).collect();
        match field {
            "id" => {}
            "customer_id" => all.sort_by_key(|o| (o.customer_id, o.id)),
            "date_created" => all.sort_by_key(|o| (o.date_created, o.id)),
            "date_modified" => all.sort_by_key(|o| (o.date_modified, o.id)),
            "status_id" => all.sort_by_key(|o| (o.status_id, o.id)),
            "channel_id" | "external_id" => {}
            other => {
                return bad_request(&format!(
                    "The field 'sort' is invalid: '{other}' is not a sortable field (id, customer_id, date_created, date_modified, status_id, channel_id, external_id)."
                ))
            }
        }
        if descending {
            all.reverse();
        }
        all.into_iter().skip(skip).take(limit).collect()
    };
    if selected.is_empty() {
        return no_content();
    }
    let views: Vec<OrderView> = selected
        .into_iter()
        .map(|order| OrderView {
            order,
            base: &base,
            includes,
        })
        .collect();
    let mut body = Vec::with_capacity(views.len() * 6 * 1024);
    if serde_json::to_writer(&mut body, &views).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    drop(data);
    json_bytes(StatusCode::OK, body)
}

async fn count_orders(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Query(params): Params,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut filter = match OrderFilter::parse(&params) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let only_status = filter.status_id.take();
    let data = store.data.read();
    let mut counts: HashMap<u32, u64> = HashMap::new();
    for order in data.orders.values() {
        if order.is_deleted == filter.is_deleted {
            let mut probe = filter_without_status(&filter);
            probe.status_id = Some(order.status_id);
            if probe.matches(order) {
                *counts.entry(order.status_id).or_default() += 1;
            }
        }
    }
    let statuses: Vec<Value> = ORDER_STATUSES
        .iter()
        .filter(|(id, _, _)| only_status.is_none_or(|s| s == *id))
        .map(|(id, name, description)| {
            json!({
                "id": id,
                "name": name,
                "system_label": name,
                "custom_label": name,
                "system_description": description,
                "count": counts.get(id).copied().unwrap_or(0),
                "sort_order": id,
            })
        })
        .collect();
    let total: u64 = match only_status {
        Some(s) => counts.get(&s).copied().unwrap_or(0),
        None => counts
            .iter()
            .filter(|(id, _)| **id != 0)
            .map(|(_, c)| c)
            .sum(),
    };
    json(
        StatusCode::OK,
        &json!({"statuses": statuses, "count": total}),
    )
}

fn filter_without_status(f: &OrderFilter) -> OrderFilter {
    OrderFilter {
        min_id: f.min_id,
        max_id: f.max_id,
        min_created: f.min_created,
        max_created: f.max_created,
        min_modified: f.min_modified,
        max_modified: f.max_modified,
        status_id: None,
        customer_id: f.customer_id,
        email: f.email.clone(),
        is_deleted: f.is_deleted,
        cart_id: f.cart_id.clone(),
        payment_method: f.payment_method.clone(),
    }
}

fn render_order(state: &AppState, hash: &str, order: &Order, includes: Includes) -> Response {
    let base = v2_base(state, hash);
    json(
        StatusCode::OK,
        &OrderView {
            order,
            base: &base,
            includes,
        },
    )
}

async fn get_order(
    State(state): State<AppState>,
    Path((hash, order_id)): Path<(String, u64)>,
    Query(params): Params,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let includes = Includes::parse(
        params.get("include").map(String::as_str),
        params.get("consignment_structure").map(String::as_str),
    );
    let data = store.data.read();
    match data.orders.get(&order_id) {
        Some(order) => render_order(&state, &hash, order, includes),
        None => not_found(),
    }
}

fn parse_body(body: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(body)
        .map_err(|e| bad_request(&format!("The request body is not valid JSON: {e}.")))
}

/// Reads a JSON value that BigCommerce accepts as a number or a numeric string.
fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_string(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

async fn update_order(
    State(state): State<AppState>,
    Path((hash, order_id)): Path<(String, u64)>,
    body: Bytes,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let body = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Value::Object(fields) = body else {
        return bad_request("The request body must be a JSON object.");
    };
    let status_id = match fields.get("status_id") {
        None => None,
        Some(v) => match as_u64(v) {
            Some(id) => Some(id as u32),
            None => return bad_request("The field 'status_id' is invalid: expected an integer."),
        },
    };
    let update = OrderUpdate {
        status_id,
        is_deleted: fields.get("is_deleted").and_then(Value::as_bool),
        staff_notes: as_string(fields.get("staff_notes")),
        customer_message: as_string(fields.get("customer_message")),
        payment_method: as_string(fields.get("payment_method")),
        billing_address: fields.get("billing_address").cloned(),
    };
    let mut events = Vec::new();
    let mut data = store.data.write();
    let result = data.update_order(order_id, update, &mut events);
    let response = match result {
        Ok(()) => render_order(&state, &hash, &data.orders[&order_id], Includes::default()),
        Err(error) => rule_error(error),
    };
    drop(data);
    state.webhooks.publish(&store, events);
    response
}

/// `DELETE /v2/orders/{id}` archives the order (it stays readable with `is_deleted: true`).
async fn archive_order(
    State(state): State<AppState>,
    Path((hash, order_id)): Path<(String, u64)>,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut events = Vec::new();
    let result = store.data.write().update_order(
        order_id,
        OrderUpdate {
            is_deleted: Some(true),
            ..OrderUpdate::default()
        },
        &mut events,
    );
    state.webhooks.publish(&store, events);
    match result {
        Ok(()) => no_content(),
        Err(error) => rule_error(error),
    }
}

async fn list_order_products(
    State(state): State<AppState>,
    Path((hash, order_id)): Path<(String, u64)>,
    Query(params): Params,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (page, limit) = match paging(&params) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let data = store.data.read();
    let Some(order) = data.orders.get(&order_id) else {
        return not_found();
    };
    let views: Vec<LineView> = order
        .lines
        .iter()
        .skip((page - 1) * limit)
        .take(limit)
        .map(|line| LineView { order_id, line })
        .collect();
    if views.is_empty() {
        return no_content();
    }
    json(StatusCode::OK, &views)
}

async fn get_order_product(
    State(state): State<AppState>,
    Path((hash, order_id, line_id)): Path<(String, u64, u64)>,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let data = store.data.read();
    let line = data
        .orders
        .get(&order_id)
        .and_then(|o| o.lines.iter().find(|l| l.id == line_id));
    match line {
        Some(line) => json(StatusCode::OK, &LineView { order_id, line }),
        None => not_found(),
    }
}

async fn list_shipping_addresses(
    State(state): State<AppState>,
    Path((hash, order_id)): Path<(String, u64)>,
    Query(params): Params,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (page, limit) = match paging(&params) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let base = v2_base(&state, &hash);
    let data = store.data.read();
    let Some(order) = data.orders.get(&order_id) else {
        return not_found();
    };
    let views: Vec<ShippingAddressView> = order
        .shipping_addresses
        .iter()
        .skip((page - 1) * limit)
        .take(limit)
        .map(|address| ShippingAddressView {
            order,
            address,
            base: &base,
        })
        .collect();
    if views.is_empty() {
        return no_content();
    }
    json(StatusCode::OK, &views)
}

async fn get_shipping_address(
    State(state): State<AppState>,
    Path((hash, order_id, address_id)): Path<(String, u64, u64)>,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let base = v2_base(&state, &hash);
    let data = store.data.read();
    let Some(order) = data.orders.get(&order_id) else {
        return not_found();
    };
    match order.shipping_addresses.iter().find(|a| a.id == address_id) {
        Some(address) => json(
            StatusCode::OK,
            &ShippingAddressView {
                order,
                address,
                base: &base,
            },
        ),
        None => not_found(),
    }
}

async fn get_consignments(
    State(state): State<AppState>,
    Path((hash, order_id)): Path<(String, u64)>,
    Query(params): Params,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let line_items = params
        .get("include")
        .is_some_and(|v| v.split(',').any(|p| p.trim().ends_with("line_items")));
    let base = v2_base(&state, &hash);
    let data = store.data.read();
    let Some(order) = data.orders.get(&order_id) else {
        return not_found();
    };
    json(
        StatusCode::OK,
        &ConsignmentObject {
            order,
            base: &base,
            line_items,
            cap: false,
        },
    )
}

/// Sub-resources the sandbox keeps empty (coupons, taxes, messages): an empty v2 list.
async fn list_empty(
    State(state): State<AppState>,
    Path((hash, order_id)): Path<(String, u64)>,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if store.data.read().orders.contains_key(&order_id) {
        no_content()
    } else {
        not_found()
    }
}

async fn list_shipments(
    State(state): State<AppState>,
    Path((hash, order_id)): Path<(String, u64)>,
    Query(params): Params,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (page, limit) = match paging(&params) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let data = store.data.read();
    let Some(order) = data.orders.get(&order_id) else {
        return not_found();
    };
    let views: Vec<ShipmentView> = order
        .shipments
        .iter()
        .skip((page - 1) * limit)
        .take(limit)
        .map(|shipment| ShipmentView { order, shipment })
        .collect();
    if views.is_empty() {
        return no_content();
    }
    json(StatusCode::OK, &views)
}

async fn count_shipments(
    State(state): State<AppState>,
    Path((hash, order_id)): Path<(String, u64)>,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let data = store.data.read();
    match data.orders.get(&order_id) {
        Some(order) => json(StatusCode::OK, &json!({"count": order.shipments.len()})),
        None => not_found(),
    }
}

async fn get_shipment(
    State(state): State<AppState>,
    Path((hash, order_id, shipment_id)): Path<(String, u64, u64)>,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let data = store.data.read();
    let Some(order) = data.orders.get(&order_id) else {
        return not_found();
    };
    match order.shipments.iter().find(|s| s.id == shipment_id) {
        Some(shipment) => json(StatusCode::OK, &ShipmentView { order, shipment }),
        None => not_found(),
    }
}

/// Reads the tracking fields shared by shipment POST and PUT.
fn tracking_fields(fields: &serde_json::Map<String, Value>) -> Result<ShipmentUpdate, Response> {
    let order_address_id = match fields.get("order_address_id") {
        None => None,
        Some(v) => Some(as_u64(v).ok_or_else(|| {
            bad_request("The field 'order_address_id' is invalid: expected an integer.")
        })?),
    };
    let merchant_shipping_cost = match fields.get("merchant_shipping_cost") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            as_string(Some(v))
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad_request("The field 'merchant_shipping_cost' is invalid."))?,
        ),
    };
    let provider = as_string(fields.get("shipping_provider"));
    if let Some(provider) = &provider {
        const PROVIDERS: [&str; 10] = [
            "",
            "auspost",
            "canadapost",
            "endicia",
            "usps",
            "fedex",
            "royalmail",
            "ups",
            "upsready",
            "upsonline",
        ];
        if !PROVIDERS.contains(&provider.as_str()) && provider != "shipperhq" {
            return Err(bad_request(&format!(
                "The field 'shipping_provider' is invalid: '{provider}' is not one of auspost, canadapost, endicia, usps, fedex, royalmail, ups, upsready, upsonline, shipperhq (use tracking_carrier for other carriers)."
            )));
        }
    }
    Ok(ShipmentUpdate {
        order_address_id,
        tracking_number: as_string(fields.get("tracking_number")),
        merchant_shipping_cost,
        shipping_method: as_string(fields.get("shipping_method")),
        shipping_provider: provider,
        tracking_carrier: as_string(fields.get("tracking_carrier")),
        tracking_link: as_string(fields.get("tracking_link")),
        comments: as_string(fields.get("comments")),
    })
}

async fn create_shipment(
    State(state): State<AppState>,
    Path((hash, order_id)): Path<(String, u64)>,
    body: Bytes,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let body = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Value::Object(fields) = body else {
        return bad_request("The request body must be a JSON object.");
    };
    if fields.contains_key("product_id") {
        return bad_request(
            "The field 'product_id' is not allowed: items are identified by 'order_product_id'.",
        );
    }
    let tracking = match tracking_fields(&fields) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(order_address_id) = tracking.order_address_id else {
        return bad_request("The field 'order_address_id' is required.");
    };
    let Some(Value::Array(raw_items)) = fields.get("items") else {
        return bad_request("The field 'items' is required and must be an array.");
    };
    let mut items = Vec::with_capacity(raw_items.len());
    for item in raw_items {
        if item.get("order_product_id").is_none() && item.get("product_id").is_some() {
            return bad_request(
                "The field 'items.product_id' is not accepted: identify each item by 'order_product_id' (the id from /v2/orders/{id}/products).",
            );
        }
        let Some(line_id) = item.get("order_product_id").and_then(as_u64) else {
            return bad_request("The field 'items.order_product_id' is required.");
        };
        let Some(quantity) = item.get("quantity").and_then(as_u64) else {
            return bad_request("The field 'items.quantity' is required.");
        };
        items.push((line_id, quantity as u32));
    }
    let new = NewShipment {
        order_address_id,
        tracking_number: tracking.tracking_number.unwrap_or_default(),
        merchant_shipping_cost: tracking.merchant_shipping_cost,
        shipping_method: tracking.shipping_method.unwrap_or_default(),
        shipping_provider: tracking.shipping_provider.unwrap_or_default(),
        tracking_carrier: tracking.tracking_carrier.unwrap_or_default(),
        tracking_link: tracking.tracking_link.unwrap_or_default(),
        comments: tracking.comments.unwrap_or_default(),
        items,
    };
    let mut events = Vec::new();
    let mut data = store.data.write();
    let response = match data.create_shipment(order_id, new, &mut events) {
        Ok(shipment_id) => {
            let order = &data.orders[&order_id];
            let shipment = order
                .shipments
                .iter()
                .find(|s| s.id == shipment_id)
                .expect("just created");
            json(StatusCode::CREATED, &ShipmentView { order, shipment })
        }
        Err(error) => rule_error(error),
    };
    drop(data);
    state.webhooks.publish(&store, events);
    response
}

async fn update_shipment(
    State(state): State<AppState>,
    Path((hash, order_id, shipment_id)): Path<(String, u64, u64)>,
    body: Bytes,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let body = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Value::Object(fields) = body else {
        return bad_request("The request body must be a JSON object.");
    };
    if fields.contains_key("items") {
        return bad_request(
            "The field 'items' cannot be changed: delete the shipment and create a new one.",
        );
    }
    let update = match tracking_fields(&fields) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let mut events = Vec::new();
    let mut data = store.data.write();
    let response = match data.update_shipment(order_id, shipment_id, update, &mut events) {
        Ok(()) => {
            let order = &data.orders[&order_id];
            let shipment = order
                .shipments
                .iter()
                .find(|s| s.id == shipment_id)
                .expect("just updated");
            json(StatusCode::OK, &ShipmentView { order, shipment })
        }
        Err(error) => rule_error(error),
    };
    drop(data);
    state.webhooks.publish(&store, events);
    response
}

async fn delete_shipment(
    State(state): State<AppState>,
    Path((hash, order_id, shipment_id)): Path<(String, u64, u64)>,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut events = Vec::new();
    let result = store
        .data
        .write()
        .delete_shipment(order_id, shipment_id, &mut events);
    state.webhooks.publish(&store, events);
    match result {
        Ok(()) => no_content(),
        Err(error) => rule_error(error),
    }
}

async fn delete_all_shipments(
    State(state): State<AppState>,
    Path((hash, order_id)): Path<(String, u64)>,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut events = Vec::new();
    let result = {
        let mut data = store.data.write();
        match data.orders.get(&order_id) {
            None => Err(RuleError::not_found(
                "The requested resource was not found.",
            )),
            Some(order) => {
                let ids: Vec<u64> = order.shipments.iter().map(|s| s.id).collect();
                ids.into_iter()
                    .try_for_each(|id| data.delete_shipment(order_id, id, &mut events))
            }
        }
    };
    state.webhooks.publish(&store, events);
    match result {
        Ok(()) => no_content(),
        Err(error) => rule_error(error),
    }
}

fn status_json(id: u32, name: &str, description: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "system_label": name,
        "custom_label": name,
        "system_description": description,
        "order": id,
    })
}

async fn list_order_statuses() -> Response {
    let statuses: Vec<Value> = ORDER_STATUSES
        .iter()
        .map(|(id, name, description)| status_json(*id, name, description))
        .collect();
    json(StatusCode::OK, &statuses)
}

async fn get_order_status(Path((_hash, status_id)): Path<(String, u32)>) -> Response {
    match ORDER_STATUSES.iter().find(|(id, _, _)| *id == status_id) {
        Some((id, name, description)) => json(StatusCode::OK, &status_json(*id, name, description)),
        None => {
            let _ = status_name(status_id);
            not_found()
        }
    }
}
