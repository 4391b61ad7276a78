//! v3 catalog: products and variants (`products_catalog.v3.yml`,
//! `product-variants_catalog.v3.yml`).

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::dates::de_opt_datetime;
use crate::money::{de_opt_bool, de_opt_decimal, de_opt_i64, de_opt_string, de_opt_u64, de_u64};

/// How a product's stock is tracked. Unknown values are kept rather than rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum InventoryTracking {
    /// `none`: stock is not tracked.
    Untracked,
    /// `product`: one level on the product.
    Product,
    /// `variant`: one level per variant.
    Variant,
    /// A value this client does not know.
    Unknown(String),
}

impl From<String> for InventoryTracking {
    fn from(value: String) -> Self {
        match value.as_str() {
            "none" => InventoryTracking::Untracked,
            "product" => InventoryTracking::Product,
            "variant" => InventoryTracking::Variant,
            _ => InventoryTracking::Unknown(value),
        }
    }
}

impl From<InventoryTracking> for String {
    fn from(value: InventoryTracking) -> Self {
        value.to_string()
    }
}

impl fmt::Display for InventoryTracking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InventoryTracking::Untracked => "none",
            InventoryTracking::Product => "product",
            InventoryTracking::Variant => "variant",
            InventoryTracking::Unknown(other) => other,
        })
    }
}

/// A catalog product (`product_Full`), with the fields a fulfilment hub uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// Product id.
    #[serde(deserialize_with = "de_u64")]
    pub id: u64,
    /// Name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub name: Option<String>,
    /// SKU (may be empty when variants carry the SKUs).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub sku: Option<String>,
    /// `physical` or `digital`.
    #[serde(default, rename = "type", deserialize_with = "de_opt_string")]
    pub product_type: Option<String>,
    /// Stock level when tracked by product.
    #[serde(default, deserialize_with = "de_opt_i64")]
    pub inventory_level: Option<i64>,
    /// Low-stock warning level.
    #[serde(default, deserialize_with = "de_opt_i64")]
    pub inventory_warning_level: Option<i64>,
    /// How stock is tracked.
    #[serde(default)]
    pub inventory_tracking: Option<InventoryTracking>,
    /// Price.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub price: Option<Decimal>,
    /// Weight.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub weight: Option<Decimal>,
    /// UPC.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub upc: Option<String>,
    /// Whether the product is visible on the storefront.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub is_visible: Option<bool>,
    /// Availability (`available`, `disabled`, `preorder`).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub availability: Option<String>,
    /// The base variant's id.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub base_variant_id: Option<u64>,
    /// Creation time.
    #[serde(default, deserialize_with = "de_opt_datetime")]
    pub date_created: Option<DateTime<Utc>>,
    /// Last modification time.
    #[serde(default, deserialize_with = "de_opt_datetime")]
    pub date_modified: Option<DateTime<Utc>>,
    /// Variants (only with `include=variants`).
    #[serde(default)]
    pub variants: Vec<Variant>,
}

/// A product variant (`productVariant_Full`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// Variant id.
    #[serde(deserialize_with = "de_u64")]
    pub id: u64,
    /// Product id.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub product_id: Option<u64>,
    /// SKU.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub sku: Option<String>,
    /// SKU id (read-only).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub sku_id: Option<u64>,
    /// Stock level when tracked by variant.
    #[serde(default, deserialize_with = "de_opt_i64")]
    pub inventory_level: Option<i64>,
    /// Low-stock warning level.
    #[serde(default, deserialize_with = "de_opt_i64")]
    pub inventory_warning_level: Option<i64>,
    /// Variant price override.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub price: Option<Decimal>,
    /// Price the storefront computes.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub calculated_price: Option<Decimal>,
    /// Weight override.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub weight: Option<Decimal>,
    /// UPC.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub upc: Option<String>,
    /// Whether the variant cannot be bought.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub purchasing_disabled: Option<bool>,
    /// The option values that define the variant (Size: S, Colour: Beige).
    #[serde(default)]
    pub option_values: Vec<VariantOptionValue>,
}

/// One option value of a variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantOptionValue {
    /// Option value id.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub id: Option<u64>,
    /// Option id.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub option_id: Option<u64>,
    /// Option name (`Color`).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub option_display_name: Option<String>,
    /// Value (`Beige`).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub label: Option<String>,
}

/// One entry of `PUT /v3/catalog/products` (batches of at most 10). Only set fields are sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProductUpdate {
    /// Product id. Required.
    pub id: u64,
    /// New stock level (product-tracked products).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory_level: Option<i64>,
    /// New low-stock warning level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory_warning_level: Option<i64>,
    /// New tracking mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory_tracking: Option<InventoryTracking>,
    /// New SKU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
}

/// One entry of `PUT /v3/catalog/variants` (batches of at most 50). Only set fields are sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VariantUpdate {
    /// Variant id. Required.
    pub id: u64,
    /// Product id (optional for the batch endpoint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<u64>,
    /// New stock level (variant-tracked products).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory_level: Option<i64>,
    /// New low-stock warning level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory_warning_level: Option<i64>,
    /// New SKU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// Disable or enable purchasing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purchasing_disabled: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Envelope;

    #[test]
    fn a_product_page_with_variants_is_parsed() {
        let page: Envelope<Vec<Product>> = serde_json::from_str(
            r#"{"data": [{"id": 77, "name": "Towel", "type": "physical", "sku": "",
                "inventory_level": 0, "inventory_tracking": "variant", "price": 55.99,
                "date_modified": "2018-08-15T14:48:31+00:00", "base_variant_id": null,
                "variants": [{"id": 501, "product_id": 77, "sku": "S-ORAN", "inventory_level": 12,
                    "price": null, "calculated_price": 55.99,
                    "option_values": [{"id": 69, "label": "S", "option_id": 18, "option_display_name": "Size"}]}]},
                {"id": 78, "name": "Mug", "inventory_tracking": "product", "inventory_level": "4"},
                {"id": 79, "name": "Gift card", "inventory_tracking": "bundle"}],
                "meta": {"pagination": {"total": 3, "count": 3, "per_page": 50, "current_page": 1, "total_pages": 1}}}"#,
        )
        .unwrap();
        let towel = &page.data[0];
        assert_eq!(towel.inventory_tracking, Some(InventoryTracking::Variant));
        assert_eq!(towel.price, Some(Decimal::new(5599, 2)));
        assert!(towel.date_modified.is_some());
        assert_eq!(towel.variants[0].inventory_level, Some(12));
        assert_eq!(
            towel.variants[0].option_values[0].label.as_deref(),
            Some("S")
        );
        assert_eq!(page.data[1].inventory_level, Some(4));
        assert_eq!(
            page.data[2].inventory_tracking,
            Some(InventoryTracking::Unknown("bundle".into()))
        );
        assert_eq!(page.has_more_pages(), Some(false));
    }

    #[test]
    fn updates_send_only_set_fields() {
        let product = ProductUpdate {
            id: 78,
            inventory_level: Some(3),
            inventory_tracking: Some(InventoryTracking::Product),
            ..ProductUpdate::default()
        };
        assert_eq!(
            serde_json::to_string(&product).unwrap(),
            r#"{"id":78,"inventory_level":3,"inventory_tracking":"product"}"#
        );
        let variant = VariantUpdate {
            id: 501,
            inventory_level: Some(0),
            ..VariantUpdate::default()
        };
        assert_eq!(
            serde_json::to_string(&variant).unwrap(),
            r#"{"id":501,"inventory_level":0}"#
        );
    }
}
