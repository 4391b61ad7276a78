//! v2 order shipments (`orderShipment`, `orderShipment_Post`, `orderShipment_Put`).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::Address;
use crate::dates::de_opt_datetime;
use crate::money::{de_opt_decimal, de_opt_string, de_opt_u64, de_u64, de_u64_or_zero};

/// A shipment of some of an order's items to one of its addresses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shipment {
    /// Shipment id.
    #[serde(deserialize_with = "de_u64")]
    pub id: u64,
    /// Order id.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub order_id: Option<u64>,
    /// Customer id.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub customer_id: Option<u64>,
    /// The order shipping address the shipment goes to.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub order_address_id: Option<u64>,
    /// Creation time.
    #[serde(default, deserialize_with = "de_opt_datetime")]
    pub date_created: Option<DateTime<Utc>>,
    /// Tracking number.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub tracking_number: Option<String>,
    /// Shipping method description.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub shipping_method: Option<String>,
    /// Shipping provider (`usps`, `ups`, a custom provider, or `""`).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub shipping_provider: Option<String>,
    /// Tracking carrier (an AfterShip slug or `""`).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub tracking_carrier: Option<String>,
    /// Custom tracking link given on create/update.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub tracking_link: Option<String>,
    /// Tracking link BigCommerce generated from provider/carrier and number.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub generated_tracking_link: Option<String>,
    /// Comments (the hub puts its `cenports:<id>` marker here).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub comments: Option<String>,
    /// Shipping cost for the merchant.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub merchant_shipping_cost: Option<Decimal>,
    /// Billing address of the order.
    #[serde(default)]
    pub billing_address: Option<Address>,
    /// Destination.
    #[serde(default)]
    pub shipping_address: Option<Address>,
    /// Items in the shipment.
    #[serde(default)]
    pub items: Vec<ShipmentItem>,
}

/// One item of a shipment as BigCommerce returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentItem {
    /// The order product (line) id.
    #[serde(deserialize_with = "de_u64")]
    pub order_product_id: u64,
    /// Catalog product id (read-only, often `0`).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub product_id: Option<u64>,
    /// Quantity shipped.
    #[serde(default, deserialize_with = "de_u64_or_zero")]
    pub quantity: u64,
}

/// One item of a shipment to create: keyed by `order_product_id` (BigCommerce rejects
/// `product_id` in the body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewShipmentItem {
    /// The order product (line) id.
    pub order_product_id: u64,
    /// Quantity to ship.
    pub quantity: u64,
}

/// Body of `POST /v2/orders/{id}/shipments`. Only set fields are sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateShipment {
    /// The order shipping address (consignment) id. Required.
    pub order_address_id: u64,
    /// Tracking number (max 50 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    /// Shipping method description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_method: Option<String>,
    /// Shipping provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_provider: Option<String>,
    /// Tracking carrier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_carrier: Option<String>,
    /// Custom tracking link (max 500 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_link: Option<String>,
    /// Comments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    /// Items to ship. Required.
    pub items: Vec<NewShipmentItem>,
}

/// Body of `PUT /v2/orders/{id}/shipments/{shipment_id}`. It has no `items`: BigCommerce
/// rejects them on update. Only set fields are sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateShipment {
    /// The order shipping address id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_address_id: Option<u64>,
    /// Tracking number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    /// Shipping method description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_method: Option<String>,
    /// Shipping provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_provider: Option<String>,
    /// Tracking carrier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_carrier: Option<String>,
    /// Custom tracking link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_link: Option<String>,
    /// Comments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
}

/// `{"count": N}` from `/orders/{id}/shipments/count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    /// The count.
    #[serde(default, deserialize_with = "de_u64_or_zero")]
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shipment_is_parsed() {
        let shipment: Shipment = serde_json::from_str(
            r#"{"id": 11, "order_id": 228, "customer_id": 11, "order_address_id": 131,
                "date_created": "Wed, 13 Mar 2019 16:35:37 +0000", "tracking_number": "EJ958083578US",
                "merchant_shipping_cost": "0.0000", "shipping_method": "None",
                "comments": "cenports:42", "shipping_provider": "usps", "tracking_carrier": "",
                "tracking_link": "", "billing_address": {"first_name": "Jane"},
                "shipping_address": {"first_name": "Trishy", "zip": "12345"},
                "items": [{"order_product_id": 194, "product_id": 0, "quantity": 1},
                          {"order_product_id": 195, "product_id": 0, "quantity": 1}],
                "shipping_provider_display_name": "USPS",
                "generated_tracking_link": "https://example.test/track"}"#,
        )
        .unwrap();
        assert_eq!(shipment.id, 11);
        assert_eq!(shipment.order_address_id, Some(131));
        assert_eq!(shipment.items.len(), 2);
        assert_eq!(shipment.items[1].order_product_id, 195);
        assert_eq!(shipment.comments.as_deref(), Some("cenports:42"));
        assert!(shipment.date_created.is_some());
    }

    #[test]
    fn create_body_uses_order_product_ids_and_skips_unset_fields() {
        let body = CreateShipment {
            order_address_id: 131,
            tracking_number: Some("1Z999".into()),
            items: vec![NewShipmentItem {
                order_product_id: 194,
                quantity: 2,
            }],
            ..CreateShipment::default()
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"order_address_id":131,"tracking_number":"1Z999","items":[{"order_product_id":194,"quantity":2}]}"#
        );
    }
}
