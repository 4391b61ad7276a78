//! Orders and catalog in for Amazon (`docs/AMAZON.md`).
//!
//! - **The walk** is `searchOrders` (Orders API 2026-01-01) by last-updated window, with
//!   `includedData=BUYER,RECIPIENT,FULFILLMENT,PROCEEDS`: each page brings up to 100 orders
//!   with their items and their recipient, so a page costs one request of the scarce search
//!   bucket and nothing else (the v0 walk would add a `getOrderItems` per order; the figures
//!   are in `docs/AMAZON.md`). It carries a restricted data token that opens the address and
//!   the buyer's e-mail. Only merchant-fulfilled orders are asked for (`fulfilledBy=MERCHANT`):
//!   Amazon ships the others, and the warehouse never sees them.
//! - **The cursor** is Amazon's `nextToken`, committed with each page. It carries the whole
//!   search (Amazon ignores a later request's filters), so resuming a window resumes the same
//!   search. A token Amazon no longer accepts restarts the window from its start: reading it
//!   again costs requests, not writes.
//! - **The horizon**: Amazon refuses a `lastUpdatedBefore` later than two minutes before the
//!   request, so [`OrdersIn::horizon`] keeps every window two minutes (and a margin) behind
//!   the channel's now, which is read from Amazon's `Date` header.
//! - **One order**: `getOrder` (2026-01-01) with the same datasets.
//! - Amazon cannot count orders: no counts, no reconciliation by counts.
//! - **The catalog**: Amazon lists a seller's listings only by SKU here (`searchListingsItems`
//!   is not used), so the catalog walk reads, with `getListingsItem`, the listings of the SKUs
//!   the order walks saw since the last catalog walk. A SKU never ordered enters the catalog
//!   through a targeted fetch of it (its product id is the SKU).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use reqwest::Method;
use serde_json::Value;

use super::client::{AmazonError, Answer, Auth};
use super::limiter::Operation;
use super::mapping::{self, listing_records, order_record, Order};
use super::{api_error, AmazonStore};
use crate::channel::{
    CatalogIn, CatalogPage, ChannelError, OrderPage, OrderQuery, OrdersIn, StatusMapping,
    StatusTotal,
};
use crate::storage::{NewOrderRecord, STREAM_ORDERS};

/// Most orders per search page.
pub const MAX_PAGE_SIZE: u32 = 100;

/// The datasets every order is read with.
pub const INCLUDED_DATA: &str = "BUYER,RECIPIENT,FULFILLMENT,PROCEEDS";

/// Unshipped, then Partially Shipped: walked first on a new seller.
pub const OPEN_STATUSES: [&str; 2] = ["Unshipped", "PartiallyShipped"];

/// How far behind Amazon's now every window ends: Amazon's two minutes, and a margin for the
/// time between reading the clock and sending the search.
pub const HORIZON: Duration = Duration::from_secs(2 * 60 + 10);

/// The start of a window from the beginning of time: Amazon needs a start, and no order of the
/// Selling Partner API is older.
const BEGINNING: &str = "2015-01-01T00:00:00Z";

/// An order id of the 3-7-7 form that no order has: what [`OrdersIn::now`] asks for, to read
/// Amazon's clock at the cost of one `getOrder` token.
const CLOCK_PROBE_ORDER: &str = "000-0000000-0000000";

fn iso(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The search's parameters for a query (a first page; later pages send the token).
fn search_params(query: &OrderQuery, marketplace: &str) -> Option<Vec<(&'static str, String)>> {
    let mut params = vec![
        ("marketplaceIds", marketplace.to_owned()),
        ("fulfilledBy", "MERCHANT".to_owned()),
        ("includedData", INCLUDED_DATA.to_owned()),
        (
            "maxResultsPerPage",
            query.page_size.clamp(1, MAX_PAGE_SIZE).to_string(),
        ),
    ];
    if let Some(status) = &query.status {
        // A code that is none of Amazon's matches nothing.
        params.push((
            "fulfillmentStatuses",
            mapping::status_to_2026(status)?.into(),
        ));
    }
    let by_creation = query.modified_from.is_none()
        && query.modified_to.is_none()
        && (query.created_from.is_some() || query.created_to.is_some());
    if by_creation {
        let after = query.created_from.map(iso).unwrap_or(BEGINNING.into());
        params.push(("createdAfter", after));
        if let Some(to) = query.created_to {
            params.push(("createdBefore", iso(to)));
        }
    } else {
        let after = query.modified_from.map(iso).unwrap_or(BEGINNING.into());
        params.push(("lastUpdatedAfter", after));
        if let Some(to) = query.modified_to {
            params.push(("lastUpdatedBefore", iso(to)));
        }
    }
    Some(params)
}

impl AmazonStore {
    async fn search(&self, params: &[(&str, String)]) -> Result<Answer, AmazonError> {
        self.api
            .call(
                Operation::SearchOrders,
                Method::GET,
                super::client::SEARCH_ORDERS_PATH,
                params,
                None,
                Auth::Restricted,
            )
            .await
    }

    /// The merchant-fulfilled orders of a search answer, mapped; their SKUs are remembered for
    /// the catalog walk.
    fn records(
        &self,
        orders: &[Value],
        mapping: &StatusMapping,
    ) -> Result<Vec<NewOrderRecord>, ChannelError> {
        let mut records = Vec::with_capacity(orders.len());
        let mut seen = self.seen_skus.lock().unwrap_or_else(|e| e.into_inner());
        for raw in orders {
            let order: Order = serde_json::from_value(raw.clone()).map_err(|error| {
                api_error(AmazonError::Decode {
                    operation: Operation::SearchOrders.name(),
                    message: error.to_string(),
                })
            })?;
            if order.fulfilled_by_amazon() {
                continue;
            }
            for item in &order.order_items {
                if let Some(sku) = item.product.seller_sku.as_deref() {
                    if !sku.trim().is_empty() {
                        seen.insert(sku.trim().to_owned());
                    }
                }
            }
            records.push(order_record(&order, raw, mapping));
        }
        Ok(records)
    }

    /// One listing, with its summary and merchant-fulfilled quantity; `None` for an unknown SKU.
    pub(super) async fn listing(&self, sku: &str) -> Result<Option<Value>, AmazonError> {
        let config = self.api.config();
        let path = format!(
            "/listings/2021-08-01/items/{}/{}",
            config.seller_id,
            url_segment(sku)
        );
        let answer = self
            .api
            .call(
                Operation::GetListingsItem,
                Method::GET,
                &path,
                &[
                    ("marketplaceIds", config.marketplace_id.clone()),
                    ("includedData", "summaries,fulfillmentAvailability".into()),
                ],
                None,
                Auth::Access,
            )
            .await;
        match answer {
            Ok(answer) => Ok(Some(answer.body)),
            Err(AmazonError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// One order read with `getOrder` and `included` datasets, as Amazon sent it and parsed;
    /// `None` when Amazon has no such order.
    pub(super) async fn get_order(
        &self,
        order: &str,
        included: &str,
        auth: Auth,
    ) -> Result<Option<(Value, Order)>, ChannelError> {
        let path = format!("/orders/2026-01-01/orders/{}", url_segment(order.trim()));
        let answer = self
            .api
            .call(
                Operation::GetOrder,
                Method::GET,
                &path,
                &[("includedData", included.to_owned())],
                None,
                auth,
            )
            .await;
        let body = match answer {
            Ok(answer) => answer.body,
            Err(AmazonError::NotFound { .. }) => return Ok(None),
            // Not an Amazon order id at all.
            Err(AmazonError::Invalid { status: 400, .. }) => return Ok(None),
            Err(error) => return Err(api_error(error)),
        };
        let raw = body["order"].clone();
        let order: Order = serde_json::from_value(raw.clone()).map_err(|error| {
            api_error(AmazonError::Decode {
                operation: Operation::GetOrder.name(),
                message: error.to_string(),
            })
        })?;
        Ok(Some((raw, order)))
    }
}

/// A SKU or id as one path segment (a SKU may hold `/` or spaces).
pub(super) fn url_segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[async_trait]
impl OrdersIn for AmazonStore {
    /// Amazon's clock, from the `Date` of a `getOrder` of an order that cannot exist (one
    /// token of a 0.5/s bucket): the two-minute rule is relative to it.
    async fn now(&self) -> Result<DateTime<Utc>, ChannelError> {
        let path = format!("/orders/v0/orders/{CLOCK_PROBE_ORDER}");
        match self
            .api
            .call(
                Operation::GetOrder,
                Method::GET,
                &path,
                &[],
                None,
                Auth::Access,
            )
            .await
        {
            Ok(_) | Err(AmazonError::NotFound { .. }) => Ok(self.api.amazon_now()),
            Err(error) => Err(api_error(error)),
        }
    }

    fn horizon(&self) -> Duration {
        HORIZON
    }

    fn max_page_size(&self) -> u32 {
        MAX_PAGE_SIZE
    }

    fn status_mapping(&self) -> StatusMapping {
        mapping::status_mapping()
    }

    fn streams(&self) -> Vec<String> {
        vec![STREAM_ORDERS.to_owned()]
    }

    fn open_statuses(&self) -> Vec<String> {
        OPEN_STATUSES.iter().map(|s| (*s).to_owned()).collect()
    }

    async fn count(&self, _: &OrderQuery, _: Option<&str>) -> Result<Option<u64>, ChannelError> {
        Ok(None)
    }

    async fn page(
        &self,
        query: &OrderQuery,
        cursor: Option<&str>,
        mapping: &StatusMapping,
    ) -> Result<OrderPage, ChannelError> {
        let marketplace = &self.api.config().marketplace_id;
        let Some(first) = search_params(query, marketplace) else {
            return Ok(OrderPage::default());
        };
        let answer = match cursor {
            Some(token) => {
                let params = [
                    ("marketplaceIds", marketplace.clone()),
                    ("includedData", INCLUDED_DATA.to_owned()),
                    ("paginationToken", token.to_owned()),
                ];
                match self.search(&params).await {
                    Err(AmazonError::Invalid { status: 400, .. }) => {
                        tracing::warn!(
                            store.key = %self.store_key,
                            "amazon: the search's pagination token is no longer accepted; \
                             the window is read again from its start"
                        );
                        self.search(&first).await
                    }
                    other => other,
                }
            }
            None => self.search(&first).await,
        }
        .map_err(api_error)?;
        let orders = answer.body["orders"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let next = answer.body["pagination"]["nextToken"]
            .as_str()
            .map(str::to_owned);
        Ok(OrderPage {
            orders: self.records(&orders, mapping)?,
            more: next.is_some(),
            cursor: next.or_else(|| cursor.map(str::to_owned)),
        })
    }

    async fn fetch(
        &self,
        order: &str,
        mapping: &StatusMapping,
    ) -> Result<Option<NewOrderRecord>, ChannelError> {
        let Some((raw, order)) = self
            .get_order(order, INCLUDED_DATA, Auth::Restricted)
            .await?
        else {
            return Ok(None);
        };
        // Amazon's own orders are not the warehouse's (never imported by the walks either).
        if order.fulfilled_by_amazon() {
            return Ok(None);
        }
        Ok(self.records(&[raw], mapping)?.pop())
    }

    async fn count_by_status(&self) -> Result<Option<Vec<StatusTotal>>, ChannelError> {
        Ok(None)
    }

    async fn created_span(&self, _status: &str) -> Result<Vec<DateTime<Utc>>, ChannelError> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl CatalogIn for AmazonStore {
    fn products(
        &self,
        _from: Option<DateTime<Utc>>,
        _to: DateTime<Utc>,
        page_size: u32,
    ) -> BoxStream<'_, Result<CatalogPage, ChannelError>> {
        let skus: Vec<String> = {
            let mut seen = self.seen_skus.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut *seen).into_iter().collect()
        };
        let size = page_size.clamp(1, 250) as usize;
        Box::pin(async_stream::try_stream! {
            for chunk in skus.chunks(size) {
                let mut page = CatalogPage::default();
                for sku in chunk {
                    if let Some(listing) = self.listing(sku).await.map_err(api_error)? {
                        self.remember_product_type(sku, &listing);
                        add_listing(&mut page, sku, &listing);
                    }
                }
                yield page;
            }
        })
    }

    async fn fetch_product(&self, product: &str) -> Result<Option<CatalogPage>, ChannelError> {
        let sku = product.trim();
        Ok(self.listing(sku).await.map_err(api_error)?.map(|listing| {
            self.remember_product_type(sku, &listing);
            let mut page = CatalogPage::default();
            add_listing(&mut page, sku, &listing);
            page
        }))
    }
}

fn add_listing(page: &mut CatalogPage, sku: &str, listing: &Value) {
    let (product, entry, level) = listing_records(sku, listing);
    page.products.push(product);
    page.skus.push(entry);
    if let Some(level) = level {
        page.levels.push((sku.to_owned(), level));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_searches_by_last_update_and_a_status_by_its_2026_name() {
        let query = OrderQuery {
            stream: STREAM_ORDERS.into(),
            status: Some("Unshipped".into()),
            modified_to: Some(DateTime::from_timestamp(1_780_000_000, 500_000_000).unwrap()),
            page_size: 250,
            ..OrderQuery::default()
        };
        let params = search_params(&query, "A2EUQ1WTGCTBG2").unwrap();
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("fulfillmentStatuses"), Some("UNSHIPPED"));
        assert_eq!(get("lastUpdatedAfter"), Some(BEGINNING));
        assert_eq!(get("lastUpdatedBefore"), Some("2026-05-28T20:26:40Z"));
        assert_eq!(get("maxResultsPerPage"), Some("100"));
        assert_eq!(get("fulfilledBy"), Some("MERCHANT"));
        let unknown = OrderQuery {
            status: Some("11".into()),
            ..query
        };
        assert!(search_params(&unknown, "A2EUQ1WTGCTBG2").is_none());
        assert_eq!(url_segment("MUG 1/2"), "MUG%201%2F2");
    }
}
