//! Stock out for Amazon: the merchant-fulfilled quantity of each SKU (`docs/AMAZON.md`).
//!
//! - A write is one `patchListingsItem` per SKU (batch limit 1, paced at the operation's 5/s):
//!   `replace` of `/attributes/fulfillment_availability` with the `DEFAULT` (merchant)
//!   channel's quantity. The patch names the listing's product type, read once per SKU with
//!   `getListingsItem` (or from the catalog walk) and kept for the client's life.
//! - Amazon answers a patch it will not apply with `status: INVALID` and its issues: the item
//!   is rejected with their messages. An unknown SKU is rejected too (a patch cannot create a
//!   listing).
//! - The read-back is `getListingsItem` with `fulfillmentAvailability`, one SKU a request.
//!
//! The `JSON_LISTINGS_FEED` of the Feeds API would write thousands of SKUs per document, but is
//! processed in minutes and read back through a report; for the quantities a warehouse pushes
//! after each sync the per-SKU patch is immediate and exact.

use std::collections::HashMap;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{AmazonError, Auth};
use super::limiter::Operation;
use super::mapping::merchant_quantity;
use super::orders::url_segment;
use super::{api_error, AmazonStore};
use crate::channel::{ChannelError, StockOut, Write, WriteKind, WriteOutcome};

impl AmazonStore {
    /// The listing's product type (what a patch must name), read when not yet known.
    async fn product_type(&self, sku: &str) -> Result<Option<String>, AmazonError> {
        if let Some(known) = self
            .product_types
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(sku)
            .cloned()
        {
            return Ok(Some(known));
        }
        Ok(self
            .listing(sku)
            .await?
            .and_then(|listing| self.remember_product_type(sku, &listing)))
    }

    /// Keeps a listing's product type for later patches.
    pub(super) fn remember_product_type(&self, sku: &str, listing: &Value) -> Option<String> {
        let product_type = listing["summaries"][0]["productType"].as_str()?.to_owned();
        self.product_types
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sku.to_owned(), product_type.clone());
        Some(product_type)
    }
}

#[async_trait]
impl StockOut for AmazonStore {
    fn batch_limit(&self, _kind: WriteKind) -> usize {
        1
    }

    fn read_limit(&self) -> usize {
        1
    }

    async fn write(&self, _kind: WriteKind, items: &[Write]) -> Result<WriteOutcome, ChannelError> {
        let Some(item) = items.first() else {
            return Ok(WriteOutcome::Applied);
        };
        let sku = item.target.id().trim();
        let rejected = |message: String| WriteOutcome::Rejected {
            items: vec![(0, message.clone())],
            message,
        };
        let Some(product_type) = self.product_type(sku).await.map_err(api_error)? else {
            return Ok(rejected(format!(
                "Amazon has no listing with SKU {sku} for this seller and marketplace"
            )));
        };
        let config = self.api.config();
        let path = format!(
            "/listings/2021-08-01/items/{}/{}",
            config.seller_id,
            url_segment(sku)
        );
        let body = json!({
            "productType": product_type,
            "patches": [{
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": item.level.max(0)}],
            }],
        });
        let answer = self
            .api
            .call(
                Operation::PatchListingsItem,
                Method::PATCH,
                &path,
                &[("marketplaceIds", config.marketplace_id.clone())],
                Some(&body),
                Auth::Access,
            )
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(AmazonError::NotFound { message, .. }) => return Ok(rejected(message)),
            Err(error @ AmazonError::Invalid { .. }) => return Ok(rejected(error.to_string())),
            Err(error) => return Err(api_error(error)),
        };
        match answer.body["status"].as_str() {
            Some("ACCEPTED") | Some("VALID") => Ok(WriteOutcome::Applied),
            status => {
                let issues: Vec<String> = answer.body["issues"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|issue| {
                        format!(
                            "{} ({})",
                            issue["message"].as_str().unwrap_or_default(),
                            issue["code"].as_str().unwrap_or_default()
                        )
                    })
                    .collect();
                Ok(rejected(format!(
                    "Amazon answered {} for SKU {sku}: {}",
                    status.unwrap_or("no status"),
                    issues.join("; ")
                )))
            }
        }
    }

    async fn read(
        &self,
        _kind: WriteKind,
        ids: &[String],
    ) -> Result<HashMap<String, i64>, ChannelError> {
        let mut levels = HashMap::with_capacity(ids.len());
        for sku in ids {
            let sku = sku.trim();
            if let Some(listing) = self.listing(sku).await.map_err(api_error)? {
                self.remember_product_type(sku, &listing);
                if let Some(level) = merchant_quantity(&listing) {
                    levels.insert(sku.to_owned(), level);
                }
            }
        }
        Ok(levels)
    }
}
