//! The orders of a store (filters, search, pages) and one order (lines, addresses, shipments,
//! timeline, "record a shipment").

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{NaiveDate, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use super::stores::store_nav;
use super::{layout, path_id, when, PageError, WebUser, CSRF_FIELD};
use crate::accounts::tokens;
use crate::fulfilment::Carrier;
use crate::money::format_money;
use crate::service::orders::{self as orders_service, OrderDetail, OrderQuery};
use crate::service::paging::DEFAULT_PAGE;
use crate::service::shipments::{self as shipments_service, ItemInput, NewShipment};
use crate::service::stores::scope_for;
use crate::service::AppState;
use crate::storage::{FulfilmentState, NewOrderAddress, OutboxState};

/// The fulfilment states a filter offers, as the API spells them.
const STATES: [(&str, &str); 7] = [
    ("ready", "Ready"),
    ("on_hold", "On hold"),
    ("partially_shipped", "Partially shipped"),
    ("shipped", "Shipped"),
    ("cancelled", "Cancelled"),
    ("refunded", "Refunded"),
    ("other", "Other"),
];

/// The list's filters as a form sends them: empty fields mean "any".
#[derive(Debug, Default, Deserialize)]
pub struct OrderFilters {
    #[serde(default)]
    status_code: String,
    #[serde(default)]
    state: String,
    /// `YYYY-MM-DD`: orders changed on or after that day (UTC).
    #[serde(default)]
    since: String,
    /// `YYYY-MM-DD`: orders created on or after that day (UTC).
    #[serde(default)]
    created_from: String,
    /// `YYYY-MM-DD`: orders created before that day (UTC; the day itself excluded).
    #[serde(default)]
    created_to: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    cursor: String,
}

impl OrderFilters {
    fn query_string(&self, cursor: Option<&str>) -> String {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("status_code", self.status_code.as_str()),
            ("state", self.state.as_str()),
            ("since", self.since.as_str()),
            ("created_from", self.created_from.as_str()),
            ("created_to", self.created_to.as_str()),
            ("q", self.q.as_str()),
        ] {
            if !value.is_empty() {
                pairs.append_pair(key, value);
            }
        }
        if let Some(cursor) = cursor {
            pairs.append_pair("cursor", cursor);
        }
        pairs.finish()
    }

    fn to_query(&self) -> Result<OrderQuery, PageError> {
        let bad = |what: &str| PageError::new(StatusCode::BAD_REQUEST, what.to_owned());
        let non_empty = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let status_code = non_empty(&self.status_code);
        if status_code
            .as_ref()
            .is_some_and(|s| s.chars().count() > 100 || s.chars().any(char::is_control))
        {
            return Err(bad("The status filter is not one of the listed statuses."));
        }
        let fulfilment_state = non_empty(&self.state)
            .map(|s| s.parse::<FulfilmentState>())
            .transpose()
            .map_err(|_| bad("The fulfilment state filter is not one of the listed states."))?;
        let since = non_empty(&self.since)
            .map(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d"))
            .transpose()
            .map_err(|_| bad("The date must be a day like 2026-11-26."))?
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc());
        Ok(OrderQuery {
            status_code,
            fulfilment_state,
            since,
            // Checked by the service, whose message names the field.
            created_from: non_empty(&self.created_from),
            created_to: non_empty(&self.created_to),
            search: non_empty(&self.q),
            include_deleted: false,
            // People look for the newest orders first.
            newest_first: true,
            limit: Some(DEFAULT_PAGE),
            cursor: non_empty(&self.cursor),
        })
    }
}

/// `GET /stores/{id}/orders`: filter by status, fulfilment state, "changed since" day and a
/// creation-day range (from inclusive, "before" exclusive); search by order
/// number, email or name; pages of 50 (the service's list, the API's too, so the same rules
/// apply).
pub async fn list_orders(
    State(state): State<AppState>,
    user: WebUser,
    Path(store_id): Path<String>,
    Query(filters): Query<OrderFilters>,
) -> Result<Response, PageError> {
    let id = path_id(&store_id)?;
    let scope = scope_for(&state, user.access(), id).await?;
    let statuses = state.storage().count_orders_by_status(&scope).await?;
    let list = orders_service::list_orders(&state, user.access(), id, &filters.to_query()?).await?;
    // Amounts in the order's currency; the store's when an order has none.
    let store_currency = state.storage().get_store(&scope).await?.profile.currency;
    let currency = |code: &str| {
        if code.trim().is_empty() {
            store_currency.clone()
        } else {
            code.to_owned()
        }
    };
    let held: i64 = statuses.iter().map(|s| s.count).sum();
    let body = html! {
        (store_nav(id))
        form.filters method="get" action=(format!("/stores/{id}/orders")) role="search" {
            div {
                label for="q" { "Order number or email" }
                input id="q" type="search" name="q" value=(filters.q) maxlength="200";
            }
            div {
                label for="status_code" { "Status" }
                select id="status_code" name="status_code" {
                    option value="" { "Any" }
                    @for s in &statuses {
                        option value=(s.status_code) selected[filters.status_code == s.status_code] {
                            (s.status_name) " (" (s.count) ")"
                        }
                    }
                }
            }
            div {
                label for="state" { "Fulfilment" }
                select id="state" name="state" {
                    option value="" { "Any" }
                    @for (value, label) in STATES {
                        option value=(value) selected[filters.state == value] { (label) }
                    }
                }
            }
            div {
                label for="since" { "Changed since" }
                input id="since" type="date" name="since" value=(filters.since);
            }
            div {
                label for="created_from" { "Created on or after" }
                input id="created_from" type="date" name="created_from" value=(filters.created_from);
            }
            div {
                label for="created_to" { "Created before" }
                input id="created_to" type="date" name="created_to" value=(filters.created_to);
            }
            div { button type="submit" { "Filter" } }
        }
        (import_form(&user, id))
        p {
            @let state = if filters.state.is_empty() { String::new() } else { format!("?state={}", filters.state) };
            a href=(format!("/stores/{id}/export/orders.csv{state}")) download { "Export these orders (CSV, one row per line)" }
            " · "
            a href=(format!("/stores/{id}/pick-list{}", if state.is_empty() { "?state=ready".to_owned() } else { state.clone() })) { "Pick list" }
        }
        div id="results" data-live="5" {
        p.muted { (held) " orders in the hub for this store." }
        @if list.orders.is_empty() {
            p { "No orders match." }
        } @else {
            div.table-wrap { table {
                thead { tr {
                    th scope="col" { "Order" } th scope="col" { "Customer" }
                    th scope="col" { "Status" } th scope="col" { "Fulfilment" }
                    th scope="col" { "Total" } th scope="col" { "Created" }
                } }
                tbody {
                    @for o in &list.orders {
                        tr {
                            td { a href=(format!("/stores/{id}/orders/{}", o.id.get())) { "#" (o.remote_id) } }
                            td { (o.email.as_deref().unwrap_or("—")) }
                            td { (o.status_name) }
                            td { (state_label(o.fulfilment_state)) }
                            td.amount { (format_money(o.total, &currency(&o.currency))) }
                            td { (when(Some(o.date_created))) }
                        }
                    }
                }
            } }
        }
        nav aria-label="Pages" {
            p {
                @if !filters.cursor.is_empty() {
                    a href=(format!("/stores/{id}/orders?{}", filters.query_string(None))) { "First page" }
                    " "
                }
                @if let Some(next) = list.next_cursor {
                    a rel="next" href=(format!("/stores/{id}/orders?{}", filters.query_string(Some(&next.get().to_string())))) { "Next page" }
                }
            }
        }
        }
    };
    Ok(layout("Orders", Some(&user), body).into_response())
}

fn state_label(state: FulfilmentState) -> &'static str {
    STATES
        .iter()
        .find(|(v, _)| *v == state.as_str())
        .map_or("Other", |(_, label)| label)
}

/// `GET /stores/{id}/orders/{order}`.
pub async fn show_order(
    State(state): State<AppState>,
    user: WebUser,
    Path((store_id, order_id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (id, order) = (path_id(&store_id)?, path_id(&order_id)?);
    render_order(&state, &user, id, order, None, StatusCode::OK).await
}

async fn render_order(
    state: &AppState,
    user: &WebUser,
    id: i64,
    order_id: i64,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let detail = orders_service::get_order(state, user.access(), id, order_id).await?;
    // The store was checked to be the caller's by `get_order`; its channel names the writes.
    let store = state
        .storage()
        .find_store(crate::storage::StoreId::from_raw(id))
        .await?;
    let channel = store
        .as_ref()
        .and_then(|store| state.channels().get(&store.channel).cloned())
        .map_or("the channel", |channel| channel.display_name());
    let o = &detail.order.summary;
    // Amounts in the order's currency; the store's when the order has none.
    let currency = if o.currency.trim().is_empty() {
        store.map(|s| s.profile.currency).unwrap_or_default()
    } else {
        o.currency.clone()
    };
    let body = html! {
        (store_nav(id))
        @if let Some(error) = &error { p.error role="alert" { (error) } }
        dl.profile {
            dt { "Status" } dd { (o.status_name) }
            dt { "Fulfilment" } dd { (state_label(o.fulfilment_state)) }
            dt { "Customer" } dd { (o.email.as_deref().unwrap_or("—")) }
            dt { "Total" } dd { (format_money(o.total, &currency)) " (tax " (format_money(o.tax, &currency)) ")" }
            dt { "Payment" } dd { (o.payment_method.as_deref().unwrap_or("—")) ", " (o.payment_status.as_deref().unwrap_or("—")) }
        }
        h2 { "Lines" }
        div.table-wrap id="lines" data-live="5" { table {
            thead { tr {
                th scope="col" { "SKU" } th scope="col" { "Name" } th scope="col" { "Ordered" }
                th scope="col" { "Shipped" } th scope="col" { "Price" }
            } }
            tbody {
                @for l in &detail.order.lines {
                    tr { td { (l.sku) } td { (l.name) } td { (l.quantity) } td { (l.quantity_shipped) } td { (format_money(l.price, &currency)) } }
                }
            }
        } }
        h2 { "Addresses" }
        @if let Some(billing) = detail.billing_address() {
            h3 { "Billing" } (address(billing))
        }
        @for (i, shipping) in detail.shipping_addresses().enumerate() {
            h3 { "Shipping " (i + 1) @if let Some(method) = &shipping.shipping_method { " · " (method) } }
            (address(shipping))
        }
        h2 { "Shipments" }
        div id="shipments" data-live="5" {
        @if detail.shipments.is_empty() {
            p { "No shipment recorded through the hub yet." }
        } @else {
            div.table-wrap { table {
                thead { tr {
                    th scope="col" { "Shipment" } th scope="col" { "State" } th scope="col" { "Carrier" }
                    th scope="col" { "Tracking" } th scope="col" { "Items" } th scope="col" { "Last error" }
                } }
                tbody {
                    @for s in &detail.shipments {
                        @let (row, payload) = (&s.row, s.payload.as_ref());
                        tr {
                            td { (row.id.get()) }
                            td class=(if row.state == OutboxState::Failed { "bad" } else { "" }) { (row.state.as_str()) }
                            td { (payload.map_or_else(|| "—".to_owned(), |p| carrier_name(&p.carrier.slug()))) }
                            td { (payload.map_or("—", |p| p.tracking_number.as_str())) }
                            td { @for item in payload.map(|p| p.items.as_slice()).unwrap_or_default() { (item.sku) " × " (item.quantity) br; } }
                            td { (row.last_error.as_deref().unwrap_or("—")) }
                        }
                    }
                }
            } }
        }
        }
        p.no-print { a href=(format!("/stores/{id}/orders/{}/packing-slip", o.id.get())) { "Packing slip (printable)" } }
        (shipment_form(user, id, &detail))
        h2 { "Timeline" }
        ol.timeline id="timeline" data-live="5" {
            @for (at, what) in timeline(&detail, channel) {
                li { time { (when(Some(at))) } " — " (what) }
            }
        }
    };
    let mut response = layout(&format!("Order #{}", o.remote_id), Some(user), body).into_response();
    *response.status_mut() = status;
    Ok(response)
}

/// A carrier as people write it (`Canada Post` for `canada-post`); unknown ones as stored.
fn carrier_name(slug: &str) -> String {
    slug.parse::<Carrier>()
        .map_or_else(|_| slug.to_owned(), |c| c.display_name().to_owned())
}

fn address(a: &NewOrderAddress) -> Markup {
    html! {
        address {
            (a.first_name) " " (a.last_name) br;
            @if !a.company.is_empty() { (a.company) br; }
            (a.street_1) br;
            @if !a.street_2.is_empty() { (a.street_2) br; }
            (a.city) ", " (a.state) " " (a.zip) " " (a.country_iso2) br;
            @if !a.email.is_empty() { (a.email) br; }
            @if !a.phone.is_empty() { (a.phone) }
        }
    }
}

/// What the hub did with the order, oldest first: created and changed at the channel,
/// imported, and each write it queued and delivered.
fn timeline(detail: &OrderDetail, channel: &str) -> Vec<(chrono::DateTime<Utc>, String)> {
    let o = &detail.order.summary;
    let mut events = vec![
        (o.date_created, "placed in the store".to_owned()),
        (o.imported_at, "imported by the hub".to_owned()),
    ];
    if o.date_modified > o.date_created {
        events.push((
            o.date_modified,
            format!("last changed in the store ({})", o.status_name),
        ));
    }
    for s in &detail.shipments {
        let (id, row) = (s.row.id.get(), &s.row);
        let tracking = s
            .payload
            .as_ref()
            .map_or("", |p| p.tracking_number.as_str());
        events.push((
            row.created_at,
            format!("shipment {id} requested ({tracking})"),
        ));
        let outcome = match row.state {
            OutboxState::Delivered => Some(format!(
                "shipment {id} written to the store{}",
                s.channel_shipment_id()
                    .map(|c| format!(" as {channel} shipment {c}"))
                    .unwrap_or_default()
            )),
            OutboxState::Failed => Some(format!(
                "shipment {id} failed: {}",
                row.last_error.as_deref().unwrap_or("unknown error")
            )),
            _ => None,
        };
        if let Some(outcome) = outcome {
            // A failure has no time of its own in the view: it follows the request.
            events.push((row.delivered_at.unwrap_or(row.created_at), outcome));
        }
    }
    for c in &detail.status_changes {
        events.push((
            c.created_at,
            format!(
                "status change {} requested ({})",
                c.id.get(),
                c.state.as_str()
            ),
        ));
    }
    events.sort_by_key(|(at, _)| *at);
    events
}

fn shipment_form(user: &WebUser, id: i64, detail: &OrderDetail) -> Markup {
    let open: Vec<_> = detail
        .order
        .lines
        .iter()
        .filter(|l| l.quantity > l.quantity_shipped)
        .collect();
    html! {
        h2 { "Record a shipment" }
        @if open.is_empty() {
            p.muted { "Every line has shipped." }
        } @else {
            form.card method="post" action=(format!("/stores/{id}/orders/{}/shipments", detail.order.summary.id.get())) {
                (user.csrf_input())
                // A fresh key per rendered form: submitting the same form twice records one
                // shipment (the API's idempotency).
                input type="hidden" name="request_key" value=(tokens::random_token());
                label for="carrier" { "Carrier" }
                select id="carrier" name="carrier" {
                    @for (slug, carrier) in Carrier::KNOWN {
                        option value=(slug) { (carrier.display_name()) }
                    }
                }
                label for="tracking_number" { "Tracking number" }
                input id="tracking_number" name="tracking_number" required maxlength="50";
                fieldset {
                    legend { "Quantities to ship" }
                    @for l in &open {
                        @let field = format!("qty_{}", l.remote_id);
                        label for=(field) { (l.sku) " — " (l.name) " (" (l.quantity - l.quantity_shipped) " left)" }
                        input id=(field) name=(field) type="number" min="0"
                            max=(l.quantity - l.quantity_shipped) value=(l.quantity - l.quantity_shipped);
                    }
                }
                button type="submit" { "Record shipment" }
            }
        }
    }
}

/// `POST /stores/{id}/orders/{order}/shipments`: the service the API's create-shipment calls
/// (so the same checks and `fulfilment::request_shipment`), with the form's key as the request
/// key.
pub async fn create_shipment(
    State(state): State<AppState>,
    user: WebUser,
    Path((store_id, order_id)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    user.check_csrf(form.get(CSRF_FIELD).map(String::as_str))?;
    let (id, order) = (path_id(&store_id)?, path_id(&order_id)?);
    let mut items = Vec::new();
    let mut lines: Vec<_> = form
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("qty_")?.to_owned(), v)))
        .filter(|(line, _)| !line.is_empty() && !line.chars().any(char::is_control))
        .collect();
    lines.sort_by(|a, b| crate::fulfilment::id_order(&a.0, &b.0));
    for (line_id, quantity) in lines {
        let quantity = quantity.trim();
        if quantity.is_empty() || quantity == "0" {
            continue;
        }
        let Ok(quantity) = quantity.parse::<i32>() else {
            let message = format!("The quantity {quantity:?} is not a whole number.");
            return render_order(
                &state,
                &user,
                id,
                order,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        };
        items.push(ItemInput {
            sku: None,
            line_id: Some(line_id),
            quantity,
        });
    }
    if items.is_empty() {
        let message = "Give a quantity for at least one line.".to_owned();
        return render_order(
            &state,
            &user,
            id,
            order,
            Some(message),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let key = form
        .get("request_key")
        .cloned()
        .unwrap_or_else(tokens::random_token);
    let key = format!("web-{key}");
    // What could not even be sent as a header value never came from the form we rendered.
    if key.bytes().any(|b| (b < 32 && b != b'\t') || b == 127) {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            "Reload the order page and try again.",
        ));
    }
    let shipment = NewShipment {
        carrier: form.get("carrier").cloned().unwrap_or_default(),
        tracking_number: form.get("tracking_number").cloned().unwrap_or_default(),
        tracking_link: None,
        shipped_at: None,
        items,
    };
    match shipments_service::request_shipment(
        &state,
        user.access(),
        id,
        order,
        Some(&key),
        shipment,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/stores/{id}/orders/{order}")).into_response()),
        Err(error) => {
            let page = PageError::from(error);
            if page.status == StatusCode::NOT_FOUND || page.status.is_server_error() {
                return Err(page);
            }
            render_order(&state, &user, id, order, Some(page.message), page.status).await
        }
    }
}

/// The bulk-shipments upload of the orders page: a CSV from the warehouse.
fn import_form(user: &WebUser, id: i64) -> Markup {
    html! {
        details.import {
            summary { "Ship many orders from a CSV" }
            form.card method="post" enctype="multipart/form-data" action=(format!("/stores/{id}/shipments/import")) {
                (user.csrf_input())
                p.muted {
                    "Columns: " code { "order,carrier,tracking" } ", optionally "
                    code { "sku,quantity" } " (rows of one order and tracking number are one "
                    "parcel; without a SKU everything that remains ships), "
                    code { "tracking_link" } " and " code { "shipped_at" } ". Every row is "
                    "checked first; a file with a bad row ships nothing. Uploading the same "
                    "file again ships nothing twice."
                }
                label for="shipments_csv" { "CSV file" }
                input id="shipments_csv" type="file" name="file" accept=".csv,text/csv" required;
                button type="submit" { "Check and ship" }
            }
        }
    }
}

/// `POST /stores/{id}/shipments/import` (multipart: `csrf_token`, `file`): the service the
/// API's batch calls ([`shipments_service::import_shipments`]); answers with what each parcel
/// became, or (422) every bad row.
pub async fn import_shipments(
    State(state): State<AppState>,
    user: WebUser,
    Path(store_id): Path<String>,
    mut multipart: axum::extract::Multipart,
) -> Result<Response, PageError> {
    let id = path_id(&store_id)?;
    let bad_form = || PageError::new(StatusCode::BAD_REQUEST, "Choose a CSV file and upload it.");
    let mut csrf = None;
    let mut file = None;
    while let Some(field) = multipart.next_field().await.map_err(|_| bad_form())? {
        match field.name() {
            Some(CSRF_FIELD) => csrf = Some(field.text().await.map_err(|_| bad_form())?),
            Some("file") => file = Some(field.bytes().await.map_err(|_| bad_form())?),
            _ => {}
        }
    }
    user.check_csrf(csrf.as_deref())?;
    let file = file.ok_or_else(bad_form)?;
    let text = String::from_utf8(file.to_vec()).map_err(|_| {
        PageError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The file is not UTF-8 text: save it as \"CSV UTF-8\" and upload it again.",
        )
    })?;
    let result = shipments_service::import_shipments(
        &state,
        user.access(),
        id,
        shipments_service::BatchInput::Csv(text),
    )
    .await;
    let (status, body) = match result {
        Ok(report) => {
            use crate::fulfilment::batch::ParcelOutcome;
            (
                StatusCode::OK,
                html! {
                    (store_nav(id))
                    p role="status" {
                        "Shipped " (report.shipped()) ", already shipped " (report.already_shipped())
                        ", refused " (report.refused()) " parcel(s). The hub's worker writes them "
                        "to the store; each order's page shows where its shipments are."
                    }
                    div.table-wrap { table {
                        thead { tr {
                            th scope="col" { "Lines" } th scope="col" { "Order" }
                            th scope="col" { "Tracking" } th scope="col" { "Result" }
                        } }
                        tbody {
                            @for p in &report.parcels {
                                tr {
                                    td { (p.lines.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")) }
                                    td {
                                        @match &p.outcome {
                                            ParcelOutcome::Shipped(rows) | ParcelOutcome::AlreadyShipped(rows) if !rows.is_empty() => {
                                                a href=(format!("/stores/{id}/orders/{}", rows[0].order_id.get())) { "#" (p.order) }
                                            }
                                            _ => { "#" (p.order) }
                                        }
                                    }
                                    td { (p.tracking) }
                                    td {
                                        @match &p.outcome {
                                            ParcelOutcome::Shipped(_) => "Queued",
                                            ParcelOutcome::AlreadyShipped(_) => "Already shipped",
                                            ParcelOutcome::Refused(reason) => { "Refused: " (reason) }
                                        }
                                    }
                                }
                            }
                        }
                    } }
                    p { a href=(format!("/stores/{id}/orders")) { "Back to the orders" } }
                },
            )
        }
        Err(crate::service::ServiceError::BatchRefused(refused)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            html! {
                (store_nav(id))
                div.error role="alert" {
                    p { @if let Some(problem) = &refused.file {
                        (problem) "; nothing was queued."
                    } @else {
                        "The file has " (refused.lines.len()) " bad row(s); nothing was queued. "
                        "Fix them and upload the file again."
                    } }
                }
                @if !refused.lines.is_empty() {
                    div.table-wrap { table {
                        thead { tr { th scope="col" { "Line" } th scope="col" { "What is wrong" } } }
                        tbody {
                            @for (line, reason) in &refused.lines {
                                tr { td { (line) } td { (reason) } }
                            }
                        }
                    } }
                }
                (import_form(&user, id))
            },
        ),
        Err(other) => return Err(other.into()),
    };
    let mut response = layout("Ship from a CSV", Some(&user), body).into_response();
    *response.status_mut() = status;
    Ok(response)
}

/// Which orders a warehouse document covers: `?state=ready` (any state when absent or empty).
#[derive(Debug, Default, Deserialize)]
pub struct DocumentFilter {
    #[serde(default)]
    state: String,
}

impl DocumentFilter {
    fn state(&self) -> Result<Option<FulfilmentState>, PageError> {
        let text = self.state.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse::<FulfilmentState>().map(Some).map_err(|_| {
            PageError::new(
                StatusCode::BAD_REQUEST,
                "The fulfilment state is not one of the listed states.",
            )
        })
    }
}

/// `GET /stores/{id}/export/orders.csv[?state=ready]`: the API's export
/// ([`orders_service::export_orders`]), streamed as CSV.
pub async fn export_orders(
    State(state): State<AppState>,
    user: WebUser,
    Path(store_id): Path<String>,
    Query(filter): Query<DocumentFilter>,
) -> Result<Response, PageError> {
    let id = path_id(&store_id)?;
    let pages = orders_service::export_orders(&state, user.access(), id, filter.state()?).await?;
    Ok(crate::http::api::orders::stream_export(
        pages,
        true,
        &format!("orders-{id}"),
    ))
}

/// `GET /stores/{id}/pick-list[?state=ready]`: the SKUs of the selected orders summed, with an
/// empty Bin column to fill in; printable (the stylesheet's print rules drop the navigation).
pub async fn pick_list(
    State(state): State<AppState>,
    user: WebUser,
    Path(store_id): Path<String>,
    Query(filter): Query<DocumentFilter>,
) -> Result<Response, PageError> {
    let id = path_id(&store_id)?;
    let selected = filter.state()?;
    let items = orders_service::pick_list(&state, user.access(), id, selected).await?;
    let units: i64 = items.iter().map(|i| i.quantity).sum();
    let body = html! {
        div.no-print { (store_nav(id)) }
        p {
            (items.len()) " SKU(s), " (units) " unit(s) to pick, from "
            @match selected { Some(s) => { (state_label(s)) " orders" } None => "every order" }
            ". "
            span.no-print {
                "Print this page for the floor ("
                a href=(format!("/api/v1/stores/{id}/orders/pick-list?format=csv{}", selected.map(|s| format!("&fulfilment_state={}", s.as_str())).unwrap_or_default())) { "CSV" }
                ")."
            }
        }
        div.table-wrap { table.document {
            thead { tr {
                th scope="col" { "SKU" } th scope="col" { "Name" } th scope="col" { "Quantity" }
                th scope="col" { "Orders" } th scope="col" { "Bin / location" } th scope="col" { "Picked" }
            } }
            tbody {
                @for item in &items {
                    tr {
                        td { (item.sku) } td { (item.name) } td { (item.quantity) }
                        td { (item.orders) } td.blank { } td.blank { }
                    }
                }
            }
        } }
    };
    Ok(layout("Pick list", Some(&user), body).into_response())
}

/// `GET /stores/{id}/orders/{order}/packing-slip`: the order's packing slip, to print and put
/// in the parcel: order number and date, ship-to address(es), and each line with what remains
/// to ship.
pub async fn packing_slip(
    State(state): State<AppState>,
    user: WebUser,
    Path((store_id, order_id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (id, order) = (path_id(&store_id)?, path_id(&order_id)?);
    let detail = orders_service::get_order(&state, user.access(), id, order).await?;
    let scope = scope_for(&state, user.access(), id).await?;
    let store = state.storage().get_store(&scope).await?;
    let o = &detail.order.summary;
    let body = html! {
        div.no-print { (store_nav(id)) p { "Print this page (the navigation is left out of the print)." } }
        section.slip {
            p { strong { (store.profile.name) } }
            p { "Order #" (o.remote_id) " · placed " (when(Some(o.date_created))) }
            div.addresses {
                @for a in detail.shipping_addresses() {
                    div { h2 { "Ship to" } (address(a)) }
                }
            }
            table.document {
                thead { tr {
                    th scope="col" { "SKU" } th scope="col" { "Item" }
                    th scope="col" { "Ordered" } th scope="col" { "In this parcel" } th scope="col" { "Packed" }
                } }
                tbody {
                    @for l in &detail.order.lines {
                        tr {
                            td { (l.sku) } td { (l.name) } td { (l.quantity) }
                            td { ((l.quantity - l.quantity_shipped).max(0)) } td.blank { }
                        }
                    }
                }
            }
        }
    };
    Ok(layout(
        &format!("Packing slip · order #{}", o.remote_id),
        Some(&user),
        body,
    )
    .into_response())
}
