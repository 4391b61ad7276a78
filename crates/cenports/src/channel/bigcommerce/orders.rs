//! Orders in for BigCommerce: `GET /v2/orders` walked by id (`docs/HARD-PROBLEMS.md`
//! note 1, `docs/SYNC.md`), one order, and the counts reconciliation compares.
//!
//! - A page is `sort=id:asc&min_id=K&limit=250` with the window's filters and the consignments'
//!   line items embedded (`include=consignments.line_items`); the cursor is the page's last id,
//!   so the next page starts one past it. Ids never change, so nothing slides into a page
//!   already read.
//! - BigCommerce leaves archived orders out of every listing unless asked with
//!   `is_deleted=true`: the [`STREAM_ARCHIVED_ORDERS`] stream walks them, so an order archived
//!   after it was imported is marked so in the hub.
//! - One order is read with the same listing narrowed to its id (one request, rendered exactly
//!   as the walk saw it), else with `GET /v2/orders/{id}` and its products (archived and
//!   incomplete orders are not listed).
//! - `GET /v2/orders/count` gives every status with its count in one request.

use async_trait::async_trait;
use bigcommerce_client::{Client, OrderQuery as BcQuery, OrderSort, OrderWithLines, MAX_PAGE_SIZE};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;

use super::mapping::{has_embedded_shipping, order_record};
use super::{api_error, BigCommerceStore};
use crate::channel::{ChannelError, OrderPage, OrderQuery, OrdersIn, StatusMapping, StatusTotal};
use crate::storage::{NewOrderRecord, STREAM_ORDERS};

/// The checkpoint stream of the archived-orders pass: it walks the same frozen window as
/// [`STREAM_ORDERS`] with `is_deleted=true` and its own cursor, so each resumes on its own.
pub const STREAM_ARCHIVED_ORDERS: &str = "orders_archived";

/// BigCommerce's order statuses (id as text, name), as `GET /v2/order_statuses` lists them.
pub const ORDER_STATUSES: [(&str, &str); 15] = [
    ("0", "Incomplete"),
    ("1", "Pending"),
    ("2", "Shipped"),
    ("3", "Partially Shipped"),
    ("4", "Refunded"),
    ("5", "Cancelled"),
    ("6", "Declined"),
    ("7", "Awaiting Payment"),
    ("8", "Awaiting Pickup"),
    ("9", "Awaiting Shipment"),
    ("10", "Completed"),
    ("11", "Awaiting Fulfillment"),
    ("12", "Manual Verification Required"),
    ("13", "Disputed"),
    ("14", "Partially Refunded"),
];

/// Awaiting Fulfillment (11), then Awaiting Shipment (9): walked first on a new store.
pub const OPEN_STATUSES: [&str; 2] = ["11", "9"];

/// The query's status as BigCommerce's status id: `Ok(None)` without a status, `Err(())` for
/// a code that cannot be one of BigCommerce's (nothing matches it).
fn status_id(query: &OrderQuery) -> Result<Option<u64>, ()> {
    match query.status.as_deref() {
        None => Ok(None),
        Some(code) => code.trim().parse().map(Some).map_err(|_| ()),
    }
}

/// The first id after a cursor (the last id of a committed page).
fn min_id(cursor: Option<&str>) -> Option<u64> {
    cursor
        .and_then(|c| c.trim().parse::<u64>().ok())
        .map(|id| id + 1)
}

/// The listing's filters for a query, resumed after `cursor`.
fn listing(query: &OrderQuery, status: Option<u64>, cursor: Option<&str>) -> BcQuery {
    BcQuery {
        min_id: min_id(cursor),
        min_date_modified: query.modified_from,
        max_date_modified: query.modified_to,
        min_date_created: query.created_from,
        max_date_created: query.created_to,
        status_id: status,
        is_deleted: (query.stream == STREAM_ARCHIVED_ORDERS).then_some(true),
        ..BcQuery::default()
    }
}

impl BigCommerceStore {
    /// The order's record, reading its shipping addresses when they were not embedded.
    async fn record(
        &self,
        order: &OrderWithLines,
        mapping: &StatusMapping,
    ) -> Result<NewOrderRecord, ChannelError> {
        let fallback = if has_embedded_shipping(order) {
            Vec::new()
        } else {
            self.client
                .list_order_shipping_addresses(order.order.id)
                .await
                .map_err(api_error)?
        };
        Ok(order_record(order, mapping, &fallback))
    }
}

/// The first page of a listing with every order's lines complete.
async fn first_page(
    client: &Client,
    query: &BcQuery,
) -> Result<Vec<OrderWithLines>, bigcommerce_client::Error> {
    let pages = client.order_pages_with_lines(query);
    futures::pin_mut!(pages);
    Ok(pages.try_next().await?.unwrap_or_default())
}

#[async_trait]
impl OrdersIn for BigCommerceStore {
    async fn now(&self) -> Result<DateTime<Utc>, ChannelError> {
        self.client.get_time().await.map_err(api_error)
    }

    fn max_page_size(&self) -> u32 {
        MAX_PAGE_SIZE
    }

    fn status_mapping(&self) -> StatusMapping {
        super::mapping::status_mapping()
    }

    fn streams(&self) -> Vec<String> {
        vec![STREAM_ORDERS.to_owned(), STREAM_ARCHIVED_ORDERS.to_owned()]
    }

    fn open_statuses(&self) -> Vec<String> {
        OPEN_STATUSES.iter().map(|s| (*s).to_owned()).collect()
    }

    async fn count(
        &self,
        query: &OrderQuery,
        cursor: Option<&str>,
    ) -> Result<Option<u64>, ChannelError> {
        // Archived orders are few: not worth a request.
        if query.stream == STREAM_ARCHIVED_ORDERS {
            return Ok(None);
        }
        let Ok(status) = status_id(query) else {
            return Ok(Some(0));
        };
        let counted = self
            .client
            .count_orders(&listing(query, status, cursor))
            .await
            .map_err(api_error)?;
        Ok(Some(counted.count))
    }

    async fn page(
        &self,
        query: &OrderQuery,
        cursor: Option<&str>,
        mapping: &StatusMapping,
    ) -> Result<OrderPage, ChannelError> {
        let Ok(status) = status_id(query) else {
            return Ok(OrderPage::default());
        };
        let limit = query.page_size.clamp(1, MAX_PAGE_SIZE);
        let listing = BcQuery {
            sort: Some(OrderSort::IdAsc),
            limit: Some(limit),
            include_line_items: true,
            ..listing(query, status, cursor)
        };
        let orders = first_page(&self.client, &listing)
            .await
            .map_err(api_error)?;
        let archived = query.stream == STREAM_ARCHIVED_ORDERS;
        let mut records = Vec::with_capacity(orders.len());
        for order in &orders {
            let mut record = self.record(order, mapping).await?;
            // Listed only because archived: marked so, whatever the payload says.
            record.is_deleted |= archived;
            records.push(record);
        }
        let last = orders.iter().map(|o| o.order.id).max();
        Ok(OrderPage {
            cursor: last
                .map(|id| id.to_string())
                .or_else(|| cursor.map(str::to_owned)),
            more: orders.len() >= limit as usize,
            orders: records,
        })
    }

    async fn fetch(
        &self,
        order: &str,
        mapping: &StatusMapping,
    ) -> Result<Option<NewOrderRecord>, ChannelError> {
        let Ok(order_id) = order.trim().parse::<u64>() else {
            return Ok(None);
        };
        let listing = BcQuery {
            min_id: Some(order_id),
            max_id: Some(order_id),
            sort: Some(OrderSort::IdAsc),
            limit: Some(1),
            include_line_items: true,
            ..BcQuery::default()
        };
        let listed = first_page(&self.client, &listing)
            .await
            .map_err(api_error)?
            .into_iter()
            .find(|o| o.order.id == order_id);
        let order = match listed {
            Some(order) => order,
            None => match self.client.get_order_with_lines(order_id).await {
                Ok(order) => order,
                Err(bigcommerce_client::Error::NotFound { .. }) => return Ok(None),
                Err(error) => return Err(api_error(error)),
            },
        };
        self.record(&order, mapping).await.map(Some)
    }

    async fn count_by_status(&self) -> Result<Option<Vec<StatusTotal>>, ChannelError> {
        let counts = self
            .client
            .count_orders(&BcQuery::default())
            .await
            .map_err(api_error)?;
        Ok(Some(
            counts
                .statuses
                .into_iter()
                .map(|status| StatusTotal {
                    code: status.id.to_string(),
                    name: status.name.or(status.system_label).unwrap_or_default(),
                    count: status.count.unwrap_or(0),
                })
                .collect(),
        ))
    }

    /// Incomplete (`0`, abandoned checkouts) is never listed, so never imported.
    fn reconciles_status(&self, status: &str) -> bool {
        status.trim() != "0"
    }

    async fn created_span(&self, status: &str) -> Result<Vec<DateTime<Utc>>, ChannelError> {
        let Ok(status_id) = status.trim().parse::<u64>() else {
            return Ok(Vec::new());
        };
        let mut dates = Vec::new();
        for sort in [OrderSort::DateCreatedAsc, OrderSort::DateCreatedDesc] {
            let query = BcQuery {
                status_id: Some(status_id),
                sort: Some(sort),
                limit: Some(1),
                ..BcQuery::default()
            };
            let first = self.client.list_orders(&query).await.map_err(api_error)?;
            dates.extend(first.into_iter().filter_map(|o| o.date_created));
        }
        Ok(dates)
    }
}
