//! v2 orders, order products, shipping addresses, consignments, statuses and shipments
//! (scope: Orders; reads need read-only, writes need modify).

use chrono::{DateTime, Utc};
use futures::{Stream, TryStreamExt};
use reqwest::Method;

use super::{collect_pages, page_size, v2_page, v2_pages};
use crate::client::Client;
use crate::dates::format_query_datetime;
use crate::error::Result;
use crate::http::Request;
use crate::models::orders::{
    Order, OrderConsignments, OrderProduct, OrderShippingAddress, OrderStatus, OrdersCount,
    UpdateOrder,
};
use crate::models::shipments::{Count, CreateShipment, Shipment, UpdateShipment};

/// Sort orders for `GET /v2/orders`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderSort {
    /// `id:asc` — stable under concurrent changes; use it for keyset walks.
    IdAsc,
    /// `id:desc`.
    IdDesc,
    /// `date_modified:asc`.
    DateModifiedAsc,
    /// `date_modified:desc`.
    DateModifiedDesc,
    /// `date_created:asc`.
    DateCreatedAsc,
    /// `date_created:desc`.
    DateCreatedDesc,
}

impl OrderSort {
    /// The query value, e.g. `id:asc`.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderSort::IdAsc => "id:asc",
            OrderSort::IdDesc => "id:desc",
            OrderSort::DateModifiedAsc => "date_modified:asc",
            OrderSort::DateModifiedDesc => "date_modified:desc",
            OrderSort::DateCreatedAsc => "date_created:asc",
            OrderSort::DateCreatedDesc => "date_created:desc",
        }
    }
}

/// Filters for `GET /v2/orders` and `GET /v2/orders/count`. Dates are sent as ISO 8601.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderQuery {
    /// `min_id` (inclusive).
    pub min_id: Option<u64>,
    /// `max_id` (inclusive).
    pub max_id: Option<u64>,
    /// `min_date_created`.
    pub min_date_created: Option<DateTime<Utc>>,
    /// `max_date_created`.
    pub max_date_created: Option<DateTime<Utc>>,
    /// `min_date_modified`.
    pub min_date_modified: Option<DateTime<Utc>>,
    /// `max_date_modified`.
    pub max_date_modified: Option<DateTime<Utc>>,
    /// `status_id`.
    pub status_id: Option<u64>,
    /// `customer_id`.
    pub customer_id: Option<u64>,
    /// `email`.
    pub email: Option<String>,
    /// `channel_id`.
    pub channel_id: Option<u64>,
    /// `is_deleted`: `Some(true)` lists archived orders, which BigCommerce leaves out of every
    /// listing and count otherwise. `None` and `Some(false)` send nothing (the default).
    pub is_deleted: Option<bool>,
    /// `sort`.
    pub sort: Option<OrderSort>,
    /// First page (1-based; default 1). Ignored by keyset walks.
    pub page: Option<u32>,
    /// Page size, at most 250 (default 250).
    pub limit: Option<u32>,
    /// Adds `include=consignments.line_items&consignment_structure=object`, so each order
    /// brings its consignments and (up to 50 per consignment) line items.
    pub include_line_items: bool,
}

impl OrderQuery {
    fn filters(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        let mut push = |key: &str, value: Option<String>| {
            if let Some(value) = value {
                pairs.push((key.to_owned(), value));
            }
        };
        let date = |d: &Option<DateTime<Utc>>| d.as_ref().map(format_query_datetime);
        push("min_id", self.min_id.map(|v| v.to_string()));
        push("max_id", self.max_id.map(|v| v.to_string()));
        push("min_date_created", date(&self.min_date_created));
        push("max_date_created", date(&self.max_date_created));
        push("min_date_modified", date(&self.min_date_modified));
        push("max_date_modified", date(&self.max_date_modified));
        push("status_id", self.status_id.map(|v| v.to_string()));
        push("customer_id", self.customer_id.map(|v| v.to_string()));
        push("email", self.email.clone());
        push("channel_id", self.channel_id.map(|v| v.to_string()));
        push(
            "is_deleted",
            self.is_deleted.filter(|d| *d).map(|_| "true".to_owned()),
        );
        pairs
    }

    fn list_request(&self) -> Request {
        let mut request = Request::get("/v2/orders").query(self.filters());
        if let Some(sort) = self.sort {
            request = request.param("sort", sort.as_str());
        }
        if self.include_line_items {
            request = request
                .param("include", "consignments.line_items")
                .param("consignment_structure", "object");
        }
        request
    }
}

/// An order with all its line items.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderWithLines {
    /// The order.
    pub order: Order,
    /// Every line item of the order.
    pub lines: Vec<OrderProduct>,
    /// `true` when the lines came from `GET /v2/orders/{id}/products` (the embedded ones were
    /// truncated or absent) rather than from the order's consignments.
    pub lines_fetched_separately: bool,
}

impl Client {
    /// `GET /v2/orders`: one page (`page`, default 1). An empty page is an empty `Vec`.
    pub async fn list_orders(&self, query: &OrderQuery) -> Result<Vec<Order>> {
        let request = query
            .list_request()
            .param("page", query.page.unwrap_or(1).max(1))
            .param("limit", page_size(query.limit));
        v2_page(self, &request).await
    }

    /// `GET /v2/orders` page after page (`page` = 1, 2, ...) until a short or empty page.
    ///
    /// Page numbers shift when orders change during the walk (`docs/HARD-PROBLEMS.md` note 1);
    /// for a sync prefer [`Client::order_pages_by_id`].
    pub fn order_pages(
        &self,
        query: &OrderQuery,
    ) -> impl Stream<Item = Result<Vec<Order>>> + Send + 'static {
        v2_pages(
            self.clone(),
            query.list_request(),
            page_size(query.limit),
            query.page.unwrap_or(1),
        )
    }

    /// A keyset walk of `GET /v2/orders`: `sort=id:asc`, always page 1, with `min_id` moved
    /// past the last id of each page. Orders cannot slide between pages, so none is skipped
    /// when orders change during the walk. Starts at `query.min_id`.
    pub fn order_pages_by_id(
        &self,
        query: &OrderQuery,
    ) -> impl Stream<Item = Result<Vec<Order>>> + Send + 'static {
        let client = self.clone();
        let mut query = query.clone();
        query.sort = Some(OrderSort::IdAsc);
        let limit = page_size(query.limit);
        async_stream::try_stream! {
            loop {
                let request = query
                    .list_request()
                    .param("page", 1)
                    .param("limit", limit);
                let orders: Vec<Order> = v2_page(&client, &request).await?;
                let count = orders.len();
                let last_id = orders.iter().map(|order| order.id).max();
                if count == 0 {
                    break;
                }
                yield orders;
                match last_id {
                    Some(last) if count >= limit as usize => query.min_id = Some(last + 1),
                    _ => break,
                }
            }
        }
    }

    /// Like [`Client::order_pages_by_id`] with consignment line items included, completing each
    /// order's lines: an order whose consignment carries BigCommerce's `__warning__` (more
    /// than 50 lines), or whose lines were not embedded, gets them from
    /// `GET /v2/orders/{id}/products`.
    pub fn order_pages_with_lines(
        &self,
        query: &OrderQuery,
    ) -> impl Stream<Item = Result<Vec<OrderWithLines>>> + Send + 'static {
        let client = self.clone();
        let mut query = query.clone();
        query.include_line_items = true;
        let pages = self.order_pages_by_id(&query);
        async_stream::try_stream! {
            futures::pin_mut!(pages);
            while let Some(orders) = pages.try_next().await? {
                let mut completed = Vec::with_capacity(orders.len());
                for order in orders {
                    completed.push(client.complete_order_lines(order).await?);
                }
                yield completed;
            }
        }
    }

    /// Completes an order's lines: the embedded ones when complete, else every page of
    /// `GET /v2/orders/{id}/products`.
    pub async fn complete_order_lines(&self, order: Order) -> Result<OrderWithLines> {
        if let Some(lines) = order.embedded_line_items() {
            return Ok(OrderWithLines {
                order,
                lines,
                lines_fetched_separately: false,
            });
        }
        if order.line_items_truncated() {
            tracing::debug!(
                order.id = order.id,
                "bc.orders: consignment line items truncated, fetching all products"
            );
        }
        let lines = self.list_order_products(order.id).await?;
        Ok(OrderWithLines {
            order,
            lines,
            lines_fetched_separately: true,
        })
    }

    /// `GET /v2/orders/count` with the query's filters.
    pub async fn count_orders(&self, query: &OrderQuery) -> Result<OrdersCount> {
        let request = Request::get("/v2/orders/count").query(query.filters());
        self.send_expecting(&request).await
    }

    /// `GET /v2/orders/{id}`.
    pub async fn get_order(&self, order_id: u64) -> Result<Order> {
        self.send_expecting(&Request::get(format!("/v2/orders/{order_id}")))
            .await
    }

    /// `GET /v2/orders/{id}` and all its line items.
    pub async fn get_order_with_lines(&self, order_id: u64) -> Result<OrderWithLines> {
        let order = self.get_order(order_id).await?;
        self.complete_order_lines(order).await
    }

    /// `PUT /v2/orders/{id}` with the set fields.
    pub async fn update_order(&self, order_id: u64, update: &UpdateOrder) -> Result<Order> {
        let request = Request::new(Method::PUT, format!("/v2/orders/{order_id}")).json(update)?;
        self.send_expecting(&request).await
    }

    /// Changes an order's status (`PUT /v2/orders/{id}` with `status_id`).
    pub async fn update_order_status(&self, order_id: u64, status_id: u64) -> Result<Order> {
        let update = UpdateOrder {
            status_id: Some(status_id),
            ..UpdateOrder::default()
        };
        self.update_order(order_id, &update).await
    }

    /// Archives an order (`PUT /v2/orders/{id}` with `is_deleted: true`).
    pub async fn archive_order(&self, order_id: u64) -> Result<Order> {
        let update = UpdateOrder {
            is_deleted: Some(true),
            ..UpdateOrder::default()
        };
        self.update_order(order_id, &update).await
    }

    /// `GET /v2/orders/{id}/products`, page after page.
    pub fn order_product_pages(
        &self,
        order_id: u64,
    ) -> impl Stream<Item = Result<Vec<OrderProduct>>> + Send + 'static {
        v2_pages(
            self.clone(),
            Request::get(format!("/v2/orders/{order_id}/products")),
            super::MAX_PAGE_SIZE,
            1,
        )
    }

    /// Every line item of one order (`GET /v2/orders/{id}/products`, all pages).
    pub async fn list_order_products(&self, order_id: u64) -> Result<Vec<OrderProduct>> {
        collect_pages(self.order_product_pages(order_id)).await
    }

    /// Every shipping address of one order (`GET /v2/orders/{id}/shipping_addresses`).
    pub async fn list_order_shipping_addresses(
        &self,
        order_id: u64,
    ) -> Result<Vec<OrderShippingAddress>> {
        collect_pages(v2_pages(
            self.clone(),
            Request::get(format!("/v2/orders/{order_id}/shipping_addresses")),
            super::MAX_PAGE_SIZE,
            1,
        ))
        .await
    }

    /// `GET /v2/orders/{id}/consignments?include=consignments.line_items`.
    pub async fn get_order_consignments(&self, order_id: u64) -> Result<OrderConsignments> {
        let request = Request::get(format!("/v2/orders/{order_id}/consignments"))
            .param("include", "consignments.line_items");
        Ok(self.send(&request).await?.unwrap_or_default())
    }

    /// `GET /v2/order_statuses`.
    pub async fn list_order_statuses(&self) -> Result<Vec<OrderStatus>> {
        v2_page(self, &Request::get("/v2/order_statuses")).await
    }

    /// Every shipment of one order (`GET /v2/orders/{id}/shipments`, all pages; a 204 is none).
    pub async fn list_shipments(&self, order_id: u64) -> Result<Vec<Shipment>> {
        collect_pages(v2_pages(
            self.clone(),
            Request::get(format!("/v2/orders/{order_id}/shipments")),
            super::MAX_PAGE_SIZE,
            1,
        ))
        .await
    }

    /// `GET /v2/orders/{id}/shipments/count`.
    pub async fn count_shipments(&self, order_id: u64) -> Result<u64> {
        let count: Count = self
            .send_expecting(&Request::get(format!(
                "/v2/orders/{order_id}/shipments/count"
            )))
            .await?;
        Ok(count.count)
    }

    /// `GET /v2/orders/{id}/shipments/{shipment_id}`.
    pub async fn get_shipment(&self, order_id: u64, shipment_id: u64) -> Result<Shipment> {
        self.send_expecting(&Request::get(format!(
            "/v2/orders/{order_id}/shipments/{shipment_id}"
        )))
        .await
    }

    /// `POST /v2/orders/{id}/shipments`.
    ///
    /// Never retried after it may have reached BigCommerce: a timeout, a reset connection or
    /// a 5xx returns [`crate::Error::OutcomeUnknown`], and the caller must list the order's
    /// shipments (looking for its marker in `comments`) before sending it again.
    pub async fn create_shipment(
        &self,
        order_id: u64,
        shipment: &CreateShipment,
    ) -> Result<Shipment> {
        let request = Request::new(Method::POST, format!("/v2/orders/{order_id}/shipments"))
            .json(shipment)?;
        self.send_expecting(&request).await
    }

    /// `PUT /v2/orders/{id}/shipments/{shipment_id}` (tracking details; items cannot change).
    pub async fn update_shipment(
        &self,
        order_id: u64,
        shipment_id: u64,
        update: &UpdateShipment,
    ) -> Result<Shipment> {
        let request = Request::new(
            Method::PUT,
            format!("/v2/orders/{order_id}/shipments/{shipment_id}"),
        )
        .json(update)?;
        self.send_expecting(&request).await
    }

    /// `DELETE /v2/orders/{id}/shipments/{shipment_id}`.
    pub async fn delete_shipment(&self, order_id: u64, shipment_id: u64) -> Result<()> {
        let request = Request::new(
            Method::DELETE,
            format!("/v2/orders/{order_id}/shipments/{shipment_id}"),
        );
        self.send::<serde_json::Value>(&request).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn archived_orders_are_asked_for_with_is_deleted_true_on_lists_and_counts() {
        let query = OrderQuery {
            is_deleted: Some(true),
            min_id: Some(7),
            ..OrderQuery::default()
        };
        assert_eq!(value(&query.filters(), "is_deleted"), Some("true"));
        assert_eq!(
            value(&query.list_request().query, "is_deleted"),
            Some("true")
        );
        assert_eq!(value(&query.filters(), "min_id"), Some("7"));
    }

    #[test]
    fn without_is_deleted_nothing_is_sent_so_archived_orders_stay_hidden() {
        for is_deleted in [None, Some(false)] {
            let query = OrderQuery {
                is_deleted,
                ..OrderQuery::default()
            };
            assert_eq!(
                value(&query.filters(), "is_deleted"),
                None,
                "{is_deleted:?}"
            );
        }
    }
}
