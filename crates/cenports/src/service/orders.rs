//! Imported orders: a filtered, searched, cursor-paginated list, and one order with its lines,
//! addresses and the writes the hub made for it.

use chrono::{DateTime, Utc};

use super::paging::{page_size, parse_cursor};
use super::shipments::Shipment;
use super::stores::scope_for;
use super::{AppState, ServiceError};
use crate::accounts::StoreAccess;
use crate::storage::{
    AddressKind, FulfilmentState, NewOrderAddress, OrderFilter, OrderId, OrderPage, OrderRecord,
    OutboxKind, OutboxRow,
};

/// What an order list asks for, as a surface read it (the API from its query string, the
/// dashboard from its filter form); all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct OrderQuery {
    /// Only this channel status code; 1 to 100 characters, no control characters.
    pub status_code: Option<String>,
    /// Only this fulfilment state.
    pub fulfilment_state: Option<FulfilmentState>,
    /// Only orders modified at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only orders created at the channel at or after this day or instant (inclusive), as
    /// given: `YYYY-MM-DD` (midnight UTC) or RFC 3339; checked here.
    pub created_from: Option<String>,
    /// Only orders created at the channel before this day or instant (exclusive), as given.
    pub created_to: Option<String>,
    /// An order number, or part of the customer's email or name (case-insensitive); at most
    /// 200 characters, no control characters.
    pub search: Option<String>,
    /// Include orders archived at the channel.
    pub include_deleted: bool,
    /// Newest first (created at the channel, descending) instead of our id, ascending.
    pub newest_first: bool,
    /// Page size, 1 to [`super::paging::MAX_PAGE`] (default [`super::paging::DEFAULT_PAGE`]).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A `created_from` / `created_to` value, or an invalid query naming the parameter and the
/// forms it takes.
fn created_bound(name: &str, text: Option<&str>) -> Result<Option<DateTime<Utc>>, ServiceError> {
    let Some(text) = text else {
        return Ok(None);
    };
    crate::dates::parse_day_or_instant(text)
        .map(Some)
        .ok_or_else(|| {
            ServiceError::InvalidQuery(format!(
                "{name} is not a day or an instant: use YYYY-MM-DD (midnight UTC) or RFC \
                 3339, e.g. 2026-01-31 or 2026-01-31T12:00:00Z"
            ))
        })
}

/// A page of the store's orders, filtered and searched. The query is checked before the
/// store is looked up.
pub async fn list_orders(
    state: &AppState,
    access: StoreAccess,
    store_id: i64,
    query: &OrderQuery,
) -> Result<OrderPage, ServiceError> {
    let limit = page_size(query.limit)?;
    let after = parse_cursor(query.cursor.as_deref())?.map(OrderId::from_raw);
    if query
        .search
        .as_ref()
        .is_some_and(|s| s.chars().count() > 200 || s.chars().any(char::is_control))
    {
        return Err(ServiceError::InvalidQuery(
            "search is at most 200 characters, without control characters".into(),
        ));
    }
    if query
        .status_code
        .as_ref()
        .is_some_and(|s| s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control))
    {
        return Err(ServiceError::InvalidQuery(
            "status_code is 1 to 100 characters, without control characters".into(),
        ));
    }
    let created_from = created_bound("created_from", query.created_from.as_deref())?;
    let created_to = created_bound("created_to", query.created_to.as_deref())?;
    let scope = scope_for(state, access, store_id).await?;
    let filter = OrderFilter {
        status_code: query.status_code.clone(),
        fulfilment_state: query.fulfilment_state,
        since: query.since,
        created_from,
        created_to,
        include_deleted: query.include_deleted,
        newest_first: query.newest_first,
    };
    Ok(state
        .storage
        .search_orders(&scope, &filter, query.search.as_deref(), limit, after)
        .await?)
}

/// One order in full: what the channel sent, and what the hub wrote for it.
#[derive(Debug)]
pub struct OrderDetail {
    /// The order: summary, lines (by line id), addresses (billing first, then shipping by id).
    pub order: OrderRecord,
    /// Shipments requested through the hub (API, dashboard or CLI), oldest first.
    pub shipments: Vec<Shipment>,
    /// Status changes requested through the hub, oldest first.
    pub status_changes: Vec<OutboxRow>,
}

impl OrderDetail {
    /// The billing address.
    pub fn billing_address(&self) -> Option<&NewOrderAddress> {
        self.order
            .addresses
            .iter()
            .find(|a| a.kind == AddressKind::Billing)
    }

    /// The shipping addresses (consignments), by id.
    pub fn shipping_addresses(&self) -> impl Iterator<Item = &NewOrderAddress> {
        self.order
            .addresses
            .iter()
            .filter(|a| a.kind == AddressKind::Shipping)
    }
}

/// One order of the store with its lines, addresses and the shipments and status changes the
/// hub wrote.
pub async fn get_order(
    state: &AppState,
    access: StoreAccess,
    store_id: i64,
    order_id: i64,
) -> Result<OrderDetail, ServiceError> {
    let scope = scope_for(state, access, store_id).await?;
    if order_id <= 0 {
        return Err(ServiceError::OrderNotFound);
    }
    let order = state
        .storage
        .get_order(&scope, OrderId::from_raw(order_id))
        .await?;
    let rows = state.storage.order_outbox(&scope, order.summary.id).await?;
    let mut shipments = Vec::new();
    let mut status_changes = Vec::new();
    for row in rows {
        match row.kind {
            OutboxKind::Shipment => shipments.push(Shipment::from_row(row)),
            OutboxKind::OrderStatus => status_changes.push(row),
        }
    }
    Ok(OrderDetail {
        order,
        shipments,
        status_changes,
    })
}

/// The export of the store's orders ([`crate::export`]): one row per order line, page by page,
/// for a streamed answer; the store checked first (another merchant's is
/// [`ServiceError::StoreNotFound`] before anything is read).
pub async fn export_orders(
    state: &AppState,
    access: StoreAccess,
    store_id: i64,
    fulfilment_state: Option<FulfilmentState>,
) -> Result<crate::export::ExportPages, ServiceError> {
    let scope = scope_for(state, access, store_id).await?;
    Ok(crate::export::ExportPages::new(
        state.storage.clone(),
        scope,
        &crate::export::Selection {
            state: fulfilment_state,
        },
    ))
}

/// The pick list of the store's orders in a state ([`crate::export::pick_list`]).
pub async fn pick_list(
    state: &AppState,
    access: StoreAccess,
    store_id: i64,
    fulfilment_state: Option<FulfilmentState>,
) -> Result<Vec<crate::export::PickItem>, ServiceError> {
    let scope = scope_for(state, access, store_id).await?;
    Ok(crate::export::pick_list(
        &state.storage,
        &scope,
        &crate::export::Selection {
            state: fulfilment_state,
        },
    )
    .await?)
}
