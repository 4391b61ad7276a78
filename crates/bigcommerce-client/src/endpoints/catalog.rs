//! v3 catalog: products and variants (scope: Products; reads need read-only, writes modify).

use chrono::{DateTime, Utc};
use futures::Stream;
use reqwest::Method;

use super::{page_size, v3_pages};
use crate::client::Client;
use crate::dates::format_query_datetime;
use crate::error::{parse_error_body, Error, FieldError, Result};
use crate::http::Request;
use crate::models::catalog::{Product, ProductUpdate, Variant, VariantUpdate};
use crate::models::Envelope;

/// Most products per `PUT /v3/catalog/products`.
pub const MAX_PRODUCT_BATCH: usize = 10;
/// Most variants per `PUT /v3/catalog/variants`.
pub const MAX_VARIANT_BATCH: usize = 50;

/// Filters for `GET /v3/catalog/products`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductQuery {
    /// `id:in`.
    pub ids: Vec<u64>,
    /// `sku` (exact).
    pub sku: Option<String>,
    /// `date_modified:min`.
    pub date_modified_min: Option<DateTime<Utc>>,
    /// `date_modified:max`.
    pub date_modified_max: Option<DateTime<Utc>>,
    /// `include=variants`.
    pub include_variants: bool,
    /// First page (default 1).
    pub page: Option<u32>,
    /// Page size, at most 250 (default 250).
    pub limit: Option<u32>,
}

impl ProductQuery {
    fn request(&self) -> Request {
        let mut request = Request::get("/v3/catalog/products");
        if !self.ids.is_empty() {
            request = request.param("id:in", join_ids(&self.ids));
        }
        if let Some(sku) = &self.sku {
            request = request.param("sku", sku);
        }
        if let Some(min) = &self.date_modified_min {
            request = request.param("date_modified:min", format_query_datetime(min));
        }
        if let Some(max) = &self.date_modified_max {
            request = request.param("date_modified:max", format_query_datetime(max));
        }
        if self.include_variants {
            request = request.param("include", "variants");
        }
        request
    }
}

/// Filters for `GET /v3/catalog/variants`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VariantQuery {
    /// `id:in`.
    pub ids: Vec<u64>,
    /// `product_id:in`.
    pub product_ids: Vec<u64>,
    /// `sku` (exact).
    pub sku: Option<String>,
    /// First page (default 1).
    pub page: Option<u32>,
    /// Page size, at most 250 (default 250).
    pub limit: Option<u32>,
}

impl VariantQuery {
    fn request(&self) -> Request {
        let mut request = Request::get("/v3/catalog/variants");
        if !self.ids.is_empty() {
            request = request.param("id:in", join_ids(&self.ids));
        }
        if !self.product_ids.is_empty() {
            request = request.param("product_id:in", join_ids(&self.product_ids));
        }
        if let Some(sku) = &self.sku {
            request = request.param("sku", sku);
        }
        request
    }
}

fn join_ids(ids: &[u64]) -> String {
    ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

/// The result of a batch update: what BigCommerce returned as updated, and the failures it
/// reported for the rest (a 207 Multi-Status).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchOutcome<T> {
    /// Updated resources as returned.
    pub updated: Vec<T>,
    /// Partial failures, if any.
    pub failures: Vec<FieldError>,
}

impl Client {
    /// `GET /v3/catalog/products`, page after page.
    pub fn product_pages(
        &self,
        query: &ProductQuery,
    ) -> impl Stream<Item = Result<Vec<Product>>> + Send + 'static {
        v3_pages(
            self.clone(),
            query.request(),
            page_size(query.limit),
            query.page.unwrap_or(1),
        )
    }

    /// `GET /v3/catalog/products/{id}` (with its variants when `include_variants`).
    pub async fn get_product(&self, product_id: u64, include_variants: bool) -> Result<Product> {
        let mut request = Request::get(format!("/v3/catalog/products/{product_id}"));
        if include_variants {
            request = request.param("include", "variants");
        }
        let envelope: Envelope<Product> = self.send_expecting(&request).await?;
        Ok(envelope.data)
    }

    /// `PUT /v3/catalog/products` with at most [`MAX_PRODUCT_BATCH`] products.
    pub async fn update_products(
        &self,
        updates: &[ProductUpdate],
    ) -> Result<BatchOutcome<Product>> {
        let request = Request::new(Method::PUT, "/v3/catalog/products");
        check_batch(&request, updates.len(), MAX_PRODUCT_BATCH)?;
        self.batch_update(request.json(updates)?).await
    }

    /// `GET /v3/catalog/products/{id}/variants`, page after page.
    pub fn product_variant_pages(
        &self,
        product_id: u64,
    ) -> impl Stream<Item = Result<Vec<Variant>>> + Send + 'static {
        v3_pages(
            self.clone(),
            Request::get(format!("/v3/catalog/products/{product_id}/variants")),
            super::MAX_PAGE_SIZE,
            1,
        )
    }

    /// `GET /v3/catalog/variants`, page after page.
    pub fn variant_pages(
        &self,
        query: &VariantQuery,
    ) -> impl Stream<Item = Result<Vec<Variant>>> + Send + 'static {
        v3_pages(
            self.clone(),
            query.request(),
            page_size(query.limit),
            query.page.unwrap_or(1),
        )
    }

    /// `PUT /v3/catalog/variants` with at most [`MAX_VARIANT_BATCH`] variants.
    pub async fn update_variants(
        &self,
        updates: &[VariantUpdate],
    ) -> Result<BatchOutcome<Variant>> {
        let request = Request::new(Method::PUT, "/v3/catalog/variants");
        check_batch(&request, updates.len(), MAX_VARIANT_BATCH)?;
        self.batch_update(request.json(updates)?).await
    }

    async fn batch_update<T: serde::de::DeserializeOwned>(
        &self,
        request: Request,
    ) -> Result<BatchOutcome<T>> {
        let envelope: Option<Envelope<Vec<T>>> = self.send(&request).await?;
        let Some(envelope) = envelope else {
            return Ok(BatchOutcome {
                updated: Vec::new(),
                failures: Vec::new(),
            });
        };
        let failures = match &envelope.errors {
            Some(errors) => {
                let bytes = serde_json::to_vec(errors).unwrap_or_default();
                let parsed = parse_error_body(&bytes);
                if parsed.errors.is_empty() {
                    parsed
                        .title
                        .map(|title| FieldError {
                            field: None,
                            message: title,
                        })
                        .into_iter()
                        .collect()
                } else {
                    parsed.errors
                }
            }
            None => Vec::new(),
        };
        Ok(BatchOutcome {
            updated: envelope.data,
            failures,
        })
    }
}

fn check_batch(request: &Request, len: usize, max: usize) -> Result<()> {
    if len == 0 || len > max {
        return Err(Error::InvalidRequest {
            method: request.method.clone(),
            endpoint: request.endpoint.clone(),
            message: format!(
                "a batch must hold between 1 and {max} items, got {len}; split it into chunks of {max}"
            ),
        });
    }
    Ok(())
}
