//! Imported orders: a filtered, cursor-paginated list, and one order with its lines, addresses
//! and the writes the hub made for it ([`crate::service::orders`]).

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::shipments::ShipmentView;
use super::{ApiPath, ApiQuery};
use crate::edge::auth::Principal;
use crate::edge::error::{ApiError, ErrorBody};
use crate::service::orders::{self as service, OrderQuery};
use crate::service::AppState;
use crate::storage::{FulfilmentState, NewOrderAddress, NewOrderLine, OrderSummary, OutboxRow};

/// Our fulfilment state of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = FulfilmentState)]
pub enum FulfilmentStateView {
    /// A warehouse can act on it.
    Ready,
    /// Waiting on something (payment, manual review).
    OnHold,
    /// Cancelled or declined.
    Cancelled,
    /// Fully shipped.
    Shipped,
    /// Some lines shipped.
    PartiallyShipped,
    /// Refunded.
    Refunded,
    /// Anything else.
    Other,
}

impl From<FulfilmentState> for FulfilmentStateView {
    fn from(state: FulfilmentState) -> Self {
        match state {
            FulfilmentState::Ready => Self::Ready,
            FulfilmentState::OnHold => Self::OnHold,
            FulfilmentState::Cancelled => Self::Cancelled,
            FulfilmentState::Shipped => Self::Shipped,
            FulfilmentState::PartiallyShipped => Self::PartiallyShipped,
            FulfilmentState::Refunded => Self::Refunded,
            FulfilmentState::Other => Self::Other,
        }
    }
}

impl From<FulfilmentStateView> for FulfilmentState {
    fn from(state: FulfilmentStateView) -> Self {
        match state {
            FulfilmentStateView::Ready => Self::Ready,
            FulfilmentStateView::OnHold => Self::OnHold,
            FulfilmentStateView::Cancelled => Self::Cancelled,
            FulfilmentStateView::Shipped => Self::Shipped,
            FulfilmentStateView::PartiallyShipped => Self::PartiallyShipped,
            FulfilmentStateView::Refunded => Self::Refunded,
            FulfilmentStateView::Other => Self::Other,
        }
    }
}

/// An order as listed. Amounts are exact decimal strings.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Order)]
pub struct OrderView {
    /// Our id: the `{order_id}` of the order routes.
    pub id: i64,
    /// The store.
    pub store_id: i64,
    /// The channel's order number (its order id, as text: `101`, or `902-3159896-1390916`).
    pub number: String,
    /// The channel's own code of the status (its status id, as text, where it has one).
    pub status_code: String,
    /// The channel's status name.
    pub status: String,
    /// Our fulfilment state.
    pub fulfilment_state: FulfilmentStateView,
    /// The customer's email.
    pub customer_email: Option<String>,
    /// Currency of the amounts.
    pub currency: String,
    /// Subtotal.
    #[schema(example = "12.3400")]
    pub subtotal: String,
    /// Total including tax.
    pub total: String,
    /// Tax.
    pub tax: String,
    /// Payment method.
    pub payment_method: Option<String>,
    /// Payment status.
    pub payment_status: Option<String>,
    /// Created at the channel.
    pub created_at: DateTime<Utc>,
    /// Last modified at the channel.
    pub modified_at: DateTime<Utc>,
    /// Archived at the channel.
    pub deleted: bool,
    /// First imported into the hub.
    pub imported_at: DateTime<Utc>,
}

impl From<&OrderSummary> for OrderView {
    fn from(o: &OrderSummary) -> Self {
        OrderView {
            id: o.id.get(),
            store_id: o.store_id.get(),
            number: o.remote_id.clone(),
            status_code: o.status_code.clone(),
            status: o.status_name.clone(),
            fulfilment_state: o.fulfilment_state.into(),
            customer_email: o.email.clone(),
            currency: o.currency.clone(),
            subtotal: o.subtotal.to_string(),
            total: o.total.to_string(),
            tax: o.tax.to_string(),
            payment_method: o.payment_method.clone(),
            payment_status: o.payment_status.clone(),
            created_at: o.date_created,
            modified_at: o.date_modified,
            deleted: o.is_deleted,
            imported_at: o.imported_at,
        }
    }
}

/// A page of orders.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderList {
    /// By ascending id, or newest first with `sort=newest`.
    pub orders: Vec<OrderView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The order of an order list's pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderSort {
    /// Our id, ascending.
    #[default]
    Id,
    /// Created at the channel, newest first.
    Newest,
}

/// Filters and paging of the order list; all optional, combined with AND.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrdersQuery {
    /// Only this channel status code (`status_code` of an order).
    #[param(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]+$"
    )]
    pub status_code: Option<String>,
    /// Only this fulfilment state.
    pub fulfilment_state: Option<FulfilmentStateView>,
    /// Only orders modified at or after this instant (RFC 3339, e.g. `2026-01-01T00:00:00Z`).
    pub since: Option<DateTime<Utc>>,
    /// Only orders created at the channel at or after this day or instant (inclusive):
    /// `YYYY-MM-DD` (midnight UTC) or RFC 3339.
    #[param(schema_with = day_or_instant)]
    pub created_from: Option<String>,
    /// Only orders created at the channel before this day or instant (exclusive):
    /// `YYYY-MM-DD` (midnight UTC) or RFC 3339. `created_from=2026-01-01&created_to=2026-02-01`
    /// is January; a range that ends before it starts is empty.
    #[param(schema_with = day_or_instant)]
    pub created_to: Option<String>,
    /// An order number, or part of the customer's email or name (case-insensitive); at most
    /// 200 characters, no control characters.
    #[param(max_length = 200, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub search: Option<String>,
    /// Include orders archived at the channel (default false).
    pub include_deleted: Option<bool>,
    /// Page order: `id` (our id ascending, the default: orders imported later come later,
    /// so a client walking the pages misses none) or `newest` (created at the channel, newest
    /// first: what a person looks for first).
    #[param(inline)]
    pub sort: Option<OrderSort>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
}

/// The schema of `created_from` and `created_to`: a day or an RFC 3339 instant.
fn day_or_instant() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{
        AnyOfBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
    };
    let string = |format| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(format)))
    };
    Schema::AnyOf(
        AnyOfBuilder::new()
            .item(string(KnownFormat::Date))
            .item(string(KnownFormat::DateTime))
            .build(),
    )
}

/// The store's orders, newest import last, filtered and paginated by cursor.
#[utoipa::path(
    get,
    path = "/api/v1/stores/{store_id}/orders",
    tag = "orders",
    params(("store_id" = i64, Path, description = "Our id of the store"), OrdersQuery),
    responses(
        (status = 200, description = "A page of orders", body = OrderList),
        (status = 400, description = "A filter, the limit or the cursor is not valid (`invalid_query`)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such store among the caller's (`store_not_found`)", body = ErrorBody),
    )
)]
pub async fn list_orders(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(store_id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<OrdersQuery>,
) -> Result<Json<OrderList>, ApiError> {
    let query = OrderQuery {
        status_code: query.status_code,
        fulfilment_state: query.fulfilment_state.map(Into::into),
        since: query.since,
        created_from: query.created_from,
        created_to: query.created_to,
        search: query.search,
        include_deleted: query.include_deleted.unwrap_or(false),
        newest_first: query.sort == Some(OrderSort::Newest),
        limit: query.limit,
        cursor: query.cursor,
    };
    let page = service::list_orders(&state, principal.access(), store_id, &query).await?;
    Ok(Json(OrderList {
        orders: page.orders.iter().map(OrderView::from).collect(),
        next_cursor: page.next_cursor.map(|id| id.get().to_string()),
    }))
}

/// An order line.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OrderLine)]
pub struct LineView {
    /// The channel's line id: `line_id` of a shipment item.
    pub line_id: String,
    /// SKU.
    pub sku: String,
    /// Name.
    pub name: String,
    /// The channel's product id.
    pub product_id: Option<String>,
    /// The channel's variant id.
    pub variant_id: Option<String>,
    /// Ordered.
    pub quantity: i32,
    /// Shipped so far.
    pub quantity_shipped: i32,
    /// Unit price.
    pub price: String,
    /// The shipping address this line ships to, by the channel's id.
    pub shipping_address_id: Option<String>,
}

impl From<&NewOrderLine> for LineView {
    fn from(l: &NewOrderLine) -> Self {
        LineView {
            line_id: l.remote_id.clone(),
            sku: l.sku.clone(),
            name: l.name.clone(),
            product_id: l.product_id.clone(),
            variant_id: l.variant_id.clone(),
            quantity: l.quantity,
            quantity_shipped: l.quantity_shipped,
            price: l.price.to_string(),
            shipping_address_id: l.address_remote_id.clone(),
        }
    }
}

/// An address.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Address)]
pub struct AddressView {
    /// The channel's address id (shipping addresses only).
    pub id: Option<String>,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Company.
    pub company: String,
    /// Street, first line.
    pub street_1: String,
    /// Street, second line.
    pub street_2: String,
    /// City.
    pub city: String,
    /// State or region.
    pub state: String,
    /// Postal code.
    pub zip: String,
    /// ISO 3166-1 alpha-2 country.
    pub country_iso2: String,
    /// Email.
    pub email: String,
    /// Phone.
    pub phone: String,
    /// Shipping method (shipping addresses).
    pub shipping_method: Option<String>,
}

impl From<&NewOrderAddress> for AddressView {
    fn from(a: &NewOrderAddress) -> Self {
        AddressView {
            id: a.remote_id.clone(),
            first_name: a.first_name.clone(),
            last_name: a.last_name.clone(),
            company: a.company.clone(),
            street_1: a.street_1.clone(),
            street_2: a.street_2.clone(),
            city: a.city.clone(),
            state: a.state.clone(),
            zip: a.zip.clone(),
            country_iso2: a.country_iso2.clone(),
            email: a.email.clone(),
            phone: a.phone.clone(),
            shipping_method: a.shipping_method.clone(),
        }
    }
}

/// A status change requested through the hub.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StatusChange)]
pub struct StatusChangeView {
    /// The outbox row.
    pub id: i64,
    /// `pending`, `sending`, `delivered` or `failed`.
    pub state: String,
    /// The last error.
    pub last_error: Option<String>,
    /// Requested at.
    pub created_at: DateTime<Utc>,
}

impl From<&OutboxRow> for StatusChangeView {
    fn from(row: &OutboxRow) -> Self {
        StatusChangeView {
            id: row.id.get(),
            state: row.state.as_str().to_owned(),
            last_error: row.last_error.clone(),
            created_at: row.created_at,
        }
    }
}

/// One order in full.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDetail {
    /// The listed fields.
    #[serde(flatten)]
    pub order: OrderView,
    /// Lines, by line id.
    pub lines: Vec<LineView>,
    /// The billing address.
    pub billing_address: Option<AddressView>,
    /// Shipping addresses (consignments), by id.
    pub shipping_addresses: Vec<AddressView>,
    /// Shipments requested through the hub (API or CLI), oldest first.
    pub shipments: Vec<ShipmentView>,
    /// Status changes requested through the hub, oldest first.
    pub status_changes: Vec<StatusChangeView>,
}

/// One order with its lines, addresses and the shipments and status changes the hub wrote.
#[utoipa::path(
    get,
    path = "/api/v1/stores/{store_id}/orders/{order_id}",
    tag = "orders",
    params(
        ("store_id" = i64, Path, description = "Our id of the store"),
        ("order_id" = i64, Path, description = "Our id of the order (`id` in the list)"),
    ),
    responses(
        (status = 200, description = "The order", body = OrderDetail),
        (status = 400, description = "An id is not an integer", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such store (`store_not_found`) or order in it (`order_not_found`)", body = ErrorBody),
    )
)]
pub async fn get_order(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((store_id, order_id)): ApiPath<(i64, i64)>,
) -> Result<Json<OrderDetail>, ApiError> {
    let detail = service::get_order(&state, principal.access(), store_id, order_id).await?;
    Ok(Json(OrderDetail {
        order: OrderView::from(&detail.order.summary),
        lines: detail.order.lines.iter().map(LineView::from).collect(),
        billing_address: detail.billing_address().map(AddressView::from),
        shipping_addresses: detail.shipping_addresses().map(AddressView::from).collect(),
        shipments: detail.shipments.iter().map(ShipmentView::from).collect(),
        status_changes: detail
            .status_changes
            .iter()
            .map(StatusChangeView::from)
            .collect(),
    }))
}

/// The format of an export or a pick list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentFormat {
    /// `text/csv` with a header line.
    #[default]
    Csv,
    /// JSON: one object per line (`application/x-ndjson`) for the export, a JSON document for
    /// the pick list.
    Json,
}

/// Which orders, and how.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Only orders in this fulfilment state (`ready`: what is to pick and ship).
    pub fulfilment_state: Option<FulfilmentStateView>,
    /// `csv` (default) or `json`.
    #[param(inline)]
    pub format: Option<DocumentFormat>,
}

/// The store's orders for a warehouse: one row per order line (order number, date, status,
/// customer, email, the ship-to address of the line's consignment, SKU, name, quantity, quantity
/// remaining), streamed page by page as it is read, so any number of orders exports in bounded
/// memory. CSV (with a header line; a text a spreadsheet would run as a formula is prefixed with
/// `'`) or JSON lines. Archived orders are left out.
#[utoipa::path(
    get,
    path = "/api/v1/stores/{store_id}/orders/export",
    tag = "orders",
    params(("store_id" = i64, Path, description = "Our id of the store"), ExportQuery),
    responses(
        (status = 200, description = "The rows, streamed", content(
            (String = "text/csv"),
            (String = "application/x-ndjson"),
        )),
        (status = 400, description = "A parameter is not valid (`invalid_query`)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such store among the caller's (`store_not_found`)", body = ErrorBody),
    )
)]
pub async fn export_orders(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(store_id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<axum::response::Response, ApiError> {
    let pages = service::export_orders(
        &state,
        principal.access(),
        store_id,
        query.fulfilment_state.map(Into::into),
    )
    .await?;
    Ok(stream_export(
        pages,
        query.format.unwrap_or_default() == DocumentFormat::Csv,
        &format!("orders-{store_id}"),
    ))
}

/// An export as a streamed answer (the API's and the dashboard's): a page of rows is written
/// before the next is read. A database failure mid-way ends the body early (logged); the
/// client sees a truncated transfer rather than a complete-looking file.
pub fn stream_export(
    mut pages: crate::export::ExportPages,
    csv: bool,
    name: &str,
) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let body = async_stream::stream! {
        if csv {
            yield Ok::<_, std::io::Error>(axum::body::Bytes::from(crate::export::csv_header()));
        }
        loop {
            match pages.next_page().await {
                Ok(Some(rows)) => {
                    let mut chunk = String::with_capacity(rows.len() * 160);
                    for row in &rows {
                        chunk.push_str(&if csv { row.csv_line() } else { row.json_line() });
                    }
                    yield Ok(axum::body::Bytes::from(chunk));
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::error!(error = %crate::sync::error_chain(&error), "order export failed");
                    yield Err(std::io::Error::other("the order export failed"));
                    break;
                }
            }
        }
    };
    let (content_type, extension) = if csv {
        ("text/csv; charset=utf-8", "csv")
    } else {
        ("application/x-ndjson", "jsonl")
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{extension}\""),
            ),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

/// A pick list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PickList {
    /// One entry per SKU with something left to ship, by SKU.
    pub items: Vec<PickItemView>,
}

/// One SKU of a pick list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PickItemView {
    /// The SKU.
    pub sku: String,
    /// Its name.
    pub name: String,
    /// Units to pick: what remains to ship, summed over the selected orders.
    pub quantity: i64,
    /// Orders it is on.
    pub orders: i64,
    /// Always empty: the warehouse's bin or location.
    pub bin: String,
}

/// The pick list of the selected orders: every SKU with something left to ship, summed, with
/// the number of orders it is on and a blank `bin` column for the warehouse. CSV (`sku,name,
/// quantity,orders,bin`) or JSON.
#[utoipa::path(
    get,
    path = "/api/v1/stores/{store_id}/orders/pick-list",
    tag = "orders",
    params(("store_id" = i64, Path, description = "Our id of the store"), ExportQuery),
    responses(
        (status = 200, description = "The pick list", content(
            (String = "text/csv"),
            (PickList = "application/json"),
        )),
        (status = 400, description = "A parameter is not valid (`invalid_query`)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such store among the caller's (`store_not_found`)", body = ErrorBody),
    )
)]
pub async fn pick_list(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(store_id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let items = service::pick_list(
        &state,
        principal.access(),
        store_id,
        query.fulfilment_state.map(Into::into),
    )
    .await?;
    Ok(match query.format.unwrap_or_default() {
        DocumentFormat::Csv => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            crate::export::pick_list_csv(&items),
        )
            .into_response(),
        DocumentFormat::Json => Json(PickList {
            items: items
                .into_iter()
                .map(|i| PickItemView {
                    sku: i.sku,
                    name: i.name,
                    quantity: i.quantity,
                    orders: i.orders,
                    bin: i.bin,
                })
                .collect(),
        })
        .into_response(),
    })
}
