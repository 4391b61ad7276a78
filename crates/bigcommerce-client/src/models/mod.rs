//! Typed models of BigCommerce's resources.
//!
//! Conventions shared by every model:
//! - unknown fields are ignored (no `deny_unknown_fields`), so new BigCommerce fields never
//!   break a sync;
//! - a field BigCommerce may omit or null is an `Option` (and the lenient helpers turn `""`
//!   into `None` for money and dates);
//! - money is [`rust_decimal::Decimal`], dates are `DateTime<Utc>`, ids are `u64`.

pub mod catalog;
pub mod hooks;
pub mod orders;
pub mod shipments;
pub mod store;

use serde::{Deserialize, Serialize};

use crate::money::{de_opt_string, de_opt_u64};

/// A v2 sub-resource link such as an order's
/// `"products": {"url": "https://.../v2/orders/100/products", "resource": "/orders/100/products"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// Absolute URL of the sub-resource.
    pub url: String,
    /// Path relative to the API version root (`/orders/100/products`).
    pub resource: String,
}

/// A postal address as v2 returns it on orders and shipments (`billing_address`,
/// `shipping_address`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Address {
    /// First name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub last_name: Option<String>,
    /// Company.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub company: Option<String>,
    /// Street, first line.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub street_1: Option<String>,
    /// Street, second line.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub street_2: Option<String>,
    /// City.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub city: Option<String>,
    /// State or province name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub state: Option<String>,
    /// Postal code.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub zip: Option<String>,
    /// Country name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub country: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub country_iso2: Option<String>,
    /// Phone.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub phone: Option<String>,
    /// Email.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub email: Option<String>,
}

/// v3 `meta.pagination`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pagination {
    /// Items across all pages.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub total: Option<u64>,
    /// Items on this page.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub count: Option<u64>,
    /// Page size.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub per_page: Option<u64>,
    /// This page's number (1-based).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub current_page: Option<u64>,
    /// Number of pages.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub total_pages: Option<u64>,
}

/// v3 `meta`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Present on collections.
    #[serde(default)]
    pub pagination: Option<Pagination>,
}

/// The v3 envelope `{"data": ..., "meta": {"pagination": ...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The payload.
    pub data: T,
    /// Paging information.
    #[serde(default)]
    pub meta: Meta,
    /// Partial failures of a batch (207 Multi-Status), as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<serde_json::Value>,
}

impl<T> Envelope<T> {
    /// Whether a later page exists, judged by `meta.pagination`. Without pagination the caller
    /// falls back to "a short page is the last one".
    pub fn has_more_pages(&self) -> Option<bool> {
        let pagination = self.meta.pagination.as_ref()?;
        let current = pagination.current_page?;
        let total = pagination.total_pages?;
        Some(current < total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_envelope_with_pagination_is_parsed() {
        let json = r#"{
            "data": [{"id": 1}, {"id": 2}],
            "meta": {"pagination": {"total": 5, "count": 2, "per_page": 2, "current_page": 1,
                     "total_pages": 3, "links": {"current": "?page=1&limit=2", "next": "?page=2&limit=2"}}}
        }"#;
        let envelope: Envelope<Vec<serde_json::Value>> = serde_json::from_str(json).unwrap();
        assert_eq!(envelope.data.len(), 2);
        assert_eq!(envelope.has_more_pages(), Some(true));
        let pagination = envelope.meta.pagination.unwrap();
        assert_eq!(pagination.total, Some(5));
        assert_eq!(pagination.total_pages, Some(3));
    }

    #[test]
    fn v3_envelope_on_the_last_page_or_without_meta() {
        let last: Envelope<Vec<u32>> = serde_json::from_str(
            r#"{"data": [], "meta": {"pagination": {"current_page": 3, "total_pages": 3}}}"#,
        )
        .unwrap();
        assert_eq!(last.has_more_pages(), Some(false));
        let bare: Envelope<Vec<u32>> = serde_json::from_str(r#"{"data": [1]}"#).unwrap();
        assert_eq!(bare.has_more_pages(), None);
        let empty_meta: Envelope<Vec<u32>> =
            serde_json::from_str(r#"{"data": [1], "meta": {}}"#).unwrap();
        assert_eq!(empty_meta.has_more_pages(), None);
    }
}
