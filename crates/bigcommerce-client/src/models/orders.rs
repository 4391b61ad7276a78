//! v2 orders: orders, order products (line items), shipping addresses, consignments, statuses
//! and counts (`reference/orders.v2.oas2.yml`).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::{Address, Resource};
use crate::dates::de_opt_datetime;
use crate::money::{
    de_opt_bool, de_opt_decimal, de_opt_string, de_opt_u64, de_u64, de_u64_or_zero,
};

/// The key BigCommerce puts inside a consignment whose `line_items` were cut at 50.
pub const CONSIGNMENT_WARNING_KEY: &str = "__warning__";

/// Most line items BigCommerce embeds in one consignment with `include=consignments.line_items`.
pub const CONSIGNMENT_LINE_ITEM_CAP: usize = 50;

/// An order (`order_Resp`), with the fields a fulfilment hub uses typed and the whole JSON
/// object kept in [`Order::raw`] so it can be stored as received.
///
/// Serializing an `Order` writes `raw` back unchanged.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(remote = "Self")]
pub struct Order {
    /// Order id.
    #[serde(deserialize_with = "de_u64")]
    pub id: u64,
    /// Customer id (`0` for guests).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub customer_id: Option<u64>,
    /// Creation time.
    #[serde(default, deserialize_with = "de_opt_datetime")]
    pub date_created: Option<DateTime<Utc>>,
    /// Last modification time (one-second resolution).
    #[serde(default, deserialize_with = "de_opt_datetime")]
    pub date_modified: Option<DateTime<Utc>>,
    /// Shipping time; `None` while unshipped (BigCommerce sends `""`).
    #[serde(default, deserialize_with = "de_opt_datetime")]
    pub date_shipped: Option<DateTime<Utc>>,
    /// Status id (see [`OrderStatus`]).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub status_id: Option<u64>,
    /// Status name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub status: Option<String>,
    /// The merchant's label for the status.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub custom_status: Option<String>,
    /// Subtotal excluding tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub subtotal_ex_tax: Option<Decimal>,
    /// Subtotal including tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub subtotal_inc_tax: Option<Decimal>,
    /// Shipping cost excluding tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub shipping_cost_ex_tax: Option<Decimal>,
    /// Shipping cost including tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub shipping_cost_inc_tax: Option<Decimal>,
    /// Handling cost including tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub handling_cost_inc_tax: Option<Decimal>,
    /// Total excluding tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub total_ex_tax: Option<Decimal>,
    /// Total including tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub total_inc_tax: Option<Decimal>,
    /// Total tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub total_tax: Option<Decimal>,
    /// Discount amount.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub discount_amount: Option<Decimal>,
    /// Coupon discount.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub coupon_discount: Option<Decimal>,
    /// Amount refunded so far.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub refunded_amount: Option<Decimal>,
    /// Number of items (sum of quantities).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub items_total: Option<u64>,
    /// Number of items shipped.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub items_shipped: Option<u64>,
    /// Payment method display name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub payment_method: Option<String>,
    /// Payment status (`authorized`, `captured`, `paid`, `""`...).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub payment_status: Option<String>,
    /// Transaction currency (the one the shopper pays in).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub default_currency_code: Option<String>,
    /// Display currency.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub currency_code: Option<String>,
    /// The store's default currency.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub store_default_currency_code: Option<String>,
    /// Display-currency exchange rate.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub currency_exchange_rate: Option<Decimal>,
    /// Billing address (its `email` is the customer's email).
    #[serde(default)]
    pub billing_address: Option<Address>,
    /// Whether the order is archived (deleted).
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub is_deleted: Option<bool>,
    /// Whether the order has only digital items.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub order_is_digital: Option<bool>,
    /// Number of shipping addresses.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub shipping_address_count: Option<u64>,
    /// Sales channel.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub channel_id: Option<u64>,
    /// Order source (`www`, `manual`, `external`...).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub order_source: Option<String>,
    /// Shopper's comment.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub customer_message: Option<String>,
    /// Merchant's notes.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub staff_notes: Option<String>,
    /// Order id in an external system.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub external_order_id: Option<String>,
    /// Link to the order's products.
    #[serde(default, deserialize_with = "de_opt_resource")]
    pub products: Option<Resource>,
    /// Link to the order's shipping addresses.
    #[serde(default, deserialize_with = "de_opt_resource")]
    pub shipping_addresses: Option<Resource>,
    /// Link to the order's coupons.
    #[serde(default, deserialize_with = "de_opt_resource")]
    pub coupons: Option<Resource>,
    /// Consignments: a link, or the embedded object with `include=consignments[.line_items]`.
    #[serde(default, deserialize_with = "de_opt_consignments")]
    pub consignments: Option<Consignments>,
    /// The whole order object as received.
    #[serde(skip)]
    pub raw: Value,
}

impl<'de> Deserialize<'de> for Order {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(deserializer)?;
        let mut order = Order::deserialize(&raw).map_err(serde::de::Error::custom)?;
        order.raw = raw;
        Ok(order)
    }
}

impl Serialize for Order {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

impl Order {
    /// The customer's email (from the billing address).
    pub fn customer_email(&self) -> Option<&str> {
        self.billing_address.as_ref()?.email.as_deref()
    }

    /// Whether BigCommerce cut the embedded line items (a consignment carries `__warning__`),
    /// so the complete list must be read from `GET /v2/orders/{id}/products`.
    pub fn line_items_truncated(&self) -> bool {
        self.raw.get("consignments").is_some_and(contains_warning)
            || self
                .consignments
                .as_ref()
                .is_some_and(Consignments::has_warning)
    }

    /// The line items embedded in the order's consignments, when they are complete: `Some`
    /// only if consignments were included as objects with full line items, no consignment
    /// was truncated and none of the consignment kinds the client does not type (digital
    /// downloads, gift certificates) is present. `None` means "fetch the products".
    pub fn embedded_line_items(&self) -> Option<Vec<OrderProduct>> {
        if self.line_items_truncated() {
            return None;
        }
        let consignments = match self.consignments.as_ref()? {
            Consignments::Object(object) => std::slice::from_ref(object.as_ref()),
            Consignments::List(list) => list.as_slice(),
            Consignments::Link(_) | Consignments::Unrecognized(_) => return None,
        };
        let mut lines = Vec::new();
        for consignment in consignments {
            if consignment.has_untyped_consignments() {
                return None;
            }
            let items = consignment
                .shipping
                .iter()
                .flat_map(|c| c.line_items.iter())
                .chain(consignment.pickups.iter().flat_map(|c| c.line_items.iter()));
            for item in items {
                match item {
                    ConsignmentLineItem::Product(product) => lines.push(product.as_ref().clone()),
                    ConsignmentLineItem::Link(_) | ConsignmentLineItem::Other(_) => return None,
                }
            }
        }
        if lines.is_empty() && self.items_total.unwrap_or(0) > 0 {
            return None;
        }
        Some(lines)
    }
}

fn contains_warning(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            map.contains_key(CONSIGNMENT_WARNING_KEY) || map.values().any(contains_warning)
        }
        Value::Array(items) => items.iter().any(contains_warning),
        _ => false,
    }
}

fn de_opt_resource<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Resource>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value.and_then(|value| Resource::deserialize(&value).ok()))
}

fn de_opt_consignments<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Consignments>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value.map(Consignments::from_value))
}

/// An order's `consignments` field in its possible shapes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Consignments {
    /// Not included: a link to `/orders/{id}/consignments`.
    Link(Resource),
    /// `consignment_structure=object` (what the client asks for).
    Object(Box<OrderConsignments>),
    /// The legacy array structure.
    List(Vec<OrderConsignments>),
    /// A shape the client does not know; kept as received (also in [`Order::raw`]).
    Unrecognized(Value),
}

impl Consignments {
    /// Classifies a JSON value; never fails, an unknown shape becomes `Unrecognized`.
    pub fn from_value(value: Value) -> Self {
        if value.get("url").is_some() && value.get("resource").is_some() {
            if let Ok(link) = Resource::deserialize(&value) {
                return Consignments::Link(link);
            }
        }
        match &value {
            Value::Object(_) => match OrderConsignments::deserialize(&value) {
                Ok(object) => Consignments::Object(Box::new(object)),
                Err(_) => Consignments::Unrecognized(value),
            },
            Value::Array(_) => match Vec::<OrderConsignments>::deserialize(&value) {
                Ok(list) => Consignments::List(list),
                Err(_) => Consignments::Unrecognized(value),
            },
            _ => Consignments::Unrecognized(value),
        }
    }

    /// Whether any consignment carries BigCommerce's truncation `__warning__`.
    pub fn has_warning(&self) -> bool {
        match self {
            Consignments::Link(_) => false,
            Consignments::Object(object) => object.has_warning(),
            Consignments::List(list) => list.iter().any(OrderConsignments::has_warning),
            Consignments::Unrecognized(value) => contains_warning(value),
        }
    }
}

/// `orderConsignment_Get`: an order's consignments by kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderConsignments {
    /// Shipping consignments (one per shipping address).
    #[serde(default)]
    pub shipping: Vec<ShippingConsignment>,
    /// Pickup consignments.
    #[serde(default)]
    pub pickups: Vec<PickupConsignment>,
    /// Digital download consignments, as received.
    #[serde(default)]
    pub downloads: Vec<Value>,
    /// Email (gift certificate) consignments, as received.
    #[serde(default)]
    pub email: Option<Value>,
    /// A truncation warning at this level, if BigCommerce ever puts one here.
    #[serde(
        default,
        rename = "__warning__",
        skip_serializing_if = "Option::is_none"
    )]
    pub warning: Option<ConsignmentWarning>,
}

impl OrderConsignments {
    /// Whether this or any contained consignment carries a `__warning__`.
    pub fn has_warning(&self) -> bool {
        self.warning.is_some()
            || self.shipping.iter().any(|c| c.warning.is_some())
            || self.pickups.iter().any(|c| c.warning.is_some())
    }

    fn has_untyped_consignments(&self) -> bool {
        let gift_certificates = self
            .email
            .as_ref()
            .and_then(|email| email.get("gift_certificates"))
            .and_then(Value::as_array)
            .is_some_and(|list| !list.is_empty());
        !self.downloads.is_empty() || gift_certificates
    }
}

/// `__warning__`: `{"message": "Not all line items of this consignment are returned ..."}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsignmentWarning {
    /// BigCommerce's message.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub message: Option<String>,
}

/// `shippingConsignment_Get`: one shipping destination with its line items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShippingConsignment {
    /// Consignment id (equals the order shipping address id).
    #[serde(deserialize_with = "de_u64")]
    pub id: u64,
    /// Destination.
    #[serde(flatten)]
    pub address: Address,
    /// Shipping method chosen at checkout.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub shipping_method: Option<String>,
    /// Items to ship to this address.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub items_total: Option<u64>,
    /// Items already shipped to this address.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub items_shipped: Option<u64>,
    /// Shipping cost including tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub cost_inc_tax: Option<Decimal>,
    /// Shipping cost excluding tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub cost_ex_tax: Option<Decimal>,
    /// Shipping zone name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub shipping_zone_name: Option<String>,
    /// Line items: full products with `include=consignments.line_items`, links otherwise.
    /// At most [`CONSIGNMENT_LINE_ITEM_CAP`] when `warning` is set.
    #[serde(default, deserialize_with = "de_line_items")]
    pub line_items: Vec<ConsignmentLineItem>,
    /// Set when BigCommerce cut `line_items`.
    #[serde(
        default,
        rename = "__warning__",
        skip_serializing_if = "Option::is_none"
    )]
    pub warning: Option<ConsignmentWarning>,
}

/// `pickupConsignment_Get`: items collected at a pickup location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PickupConsignment {
    /// Consignment id.
    #[serde(deserialize_with = "de_u64")]
    pub id: u64,
    /// Pickup method id.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub pickup_method_id: Option<u64>,
    /// Pickup location, as received.
    #[serde(default)]
    pub location: Option<Value>,
    /// Line items (see [`ShippingConsignment::line_items`]).
    #[serde(default, deserialize_with = "de_line_items")]
    pub line_items: Vec<ConsignmentLineItem>,
    /// Set when BigCommerce cut `line_items`.
    #[serde(
        default,
        rename = "__warning__",
        skip_serializing_if = "Option::is_none"
    )]
    pub warning: Option<ConsignmentWarning>,
}

/// One entry of a consignment's `line_items`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ConsignmentLineItem {
    /// A full order product (`include=consignments.line_items`).
    Product(Box<OrderProduct>),
    /// A link to `/orders/{id}/products/{product_id}`.
    Link(Resource),
    /// Anything else, as received.
    Other(Value),
}

impl<'de> Deserialize<'de> for ConsignmentLineItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        if value.get("id").is_some() {
            if let Ok(product) = OrderProduct::deserialize(&value) {
                return Ok(ConsignmentLineItem::Product(Box::new(product)));
            }
        }
        if let Ok(link) = Resource::deserialize(&value) {
            return Ok(ConsignmentLineItem::Link(link));
        }
        Ok(ConsignmentLineItem::Other(value))
    }
}

fn de_line_items<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ConsignmentLineItem>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    let items = match value {
        Some(Value::Array(items)) => items,
        Some(object @ Value::Object(_)) => vec![object],
        _ => Vec::new(),
    };
    items
        .iter()
        .map(|item| ConsignmentLineItem::deserialize(item).map_err(serde::de::Error::custom))
        .collect()
}

/// `orderProducts`: one line item of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderProduct {
    /// Order product id (what shipments reference as `order_product_id`).
    #[serde(deserialize_with = "de_u64")]
    pub id: u64,
    /// Order id.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub order_id: Option<u64>,
    /// Catalog product id (`0` for custom products).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub product_id: Option<u64>,
    /// Catalog variant id.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub variant_id: Option<u64>,
    /// The shipping address (consignment) this line ships to.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub order_address_id: Option<u64>,
    /// Product name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub name: Option<String>,
    /// SKU.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub sku: Option<String>,
    /// UPC.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub upc: Option<String>,
    /// `physical`, `digital`...
    #[serde(default, rename = "type", deserialize_with = "de_opt_string")]
    pub product_type: Option<String>,
    /// Quantity ordered.
    #[serde(default, deserialize_with = "de_u64_or_zero")]
    pub quantity: u64,
    /// Quantity shipped so far.
    #[serde(default, deserialize_with = "de_u64_or_zero")]
    pub quantity_shipped: u64,
    /// Quantity refunded.
    #[serde(default, deserialize_with = "de_u64_or_zero")]
    pub quantity_refunded: u64,
    /// Base price.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub base_price: Option<Decimal>,
    /// Unit price excluding tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub price_ex_tax: Option<Decimal>,
    /// Unit price including tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub price_inc_tax: Option<Decimal>,
    /// Line total excluding tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub total_ex_tax: Option<Decimal>,
    /// Line total including tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub total_inc_tax: Option<Decimal>,
    /// Unit weight.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub weight: Option<Decimal>,
    /// Bundled child lines point to their parent line.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub parent_order_product_id: Option<u64>,
    /// Whether this line is part of a bundle.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub is_bundled_product: Option<bool>,
    /// Bin picking number.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub bin_picking_number: Option<String>,
    /// Selected options.
    #[serde(default)]
    pub product_options: Vec<OrderProductOption>,
}

/// A selected option of an order product (size, colour...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderProductOption {
    /// Option name shown to the shopper.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub display_name: Option<String>,
    /// Selected value shown to the shopper.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub display_value: Option<String>,
}

/// `orderShippingAddress`: a destination of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderShippingAddress {
    /// Shipping address id (a shipment's `order_address_id`).
    #[serde(deserialize_with = "de_u64")]
    pub id: u64,
    /// Order id.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub order_id: Option<u64>,
    /// The address.
    #[serde(flatten)]
    pub address: Address,
    /// Shipping method chosen at checkout.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub shipping_method: Option<String>,
    /// Items to ship here.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub items_total: Option<u64>,
    /// Items already shipped here.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub items_shipped: Option<u64>,
    /// Shipping cost including tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub cost_inc_tax: Option<Decimal>,
    /// Shipping zone name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub shipping_zone_name: Option<String>,
}

/// `orderStatus_Base`: one of the store's order statuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStatus {
    /// Status id.
    #[serde(deserialize_with = "de_u64")]
    pub id: u64,
    /// Name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub name: Option<String>,
    /// System label.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub system_label: Option<String>,
    /// The merchant's label.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub custom_label: Option<String>,
    /// System description.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub system_description: Option<String>,
    /// Orders in this status (only from `/orders/count`).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub count: Option<u64>,
    /// Sort order (only from `/orders/count`).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub sort_order: Option<u64>,
}

/// `ordersCount_Full`: the number of orders, overall and per status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdersCount {
    /// Count per status.
    #[serde(default)]
    pub statuses: Vec<OrderStatus>,
    /// Total count.
    #[serde(default, deserialize_with = "de_u64_or_zero")]
    pub count: u64,
}

/// Body of `PUT /v2/orders/{id}`. Only set fields are sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpdateOrder {
    /// New status id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_id: Option<u64>,
    /// `true` archives the order (same as DELETE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_deleted: Option<bool>,
    /// Merchant's notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff_notes: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::format_query_datetime;

    const ORDER: &str = r#"{
        "id": 100, "customer_id": 20,
        "date_created": "Wed, 10 Jan 2018 21:05:30 +0000",
        "date_modified": "Wed, 05 Dec 2018 20:16:55 +0000",
        "date_shipped": "",
        "status_id": 11, "status": "Awaiting Fulfillment",
        "subtotal_ex_tax": "336.3200", "total_inc_tax": "361.9500", "total_tax": "0.0000",
        "items_total": 17, "items_shipped": 0,
        "payment_method": "Credit Card", "payment_status": "authorized",
        "payment_provider_id": 12345,
        "currency_code": "USD", "default_currency_code": "USD",
        "currency_exchange_rate": "1.0000000000",
        "billing_address": {"first_name": "Jane", "last_name": "Doe", "zip": 78751,
                            "email": "janedoe@example.com", "form_fields": []},
        "is_deleted": false, "credit_card_type": null,
        "products": {"url": "https://api.bigcommerce.com/stores/abc/v2/orders/100/products",
                     "resource": "/orders/100/products"},
        "shipping_addresses": {"url": "https://api.bigcommerce.com/stores/abc/v2/orders/100/shippingaddresses",
                               "resource": "/orders/100/shippingaddresses"},
        "consignments": {"url": "https://api.bigcommerce.com/stores/abc/v2/orders/100/consignments",
                         "resource": "/orders/100/consignments"},
        "some_future_field": {"nested": true}
    }"#;

    #[test]
    fn an_order_is_parsed_with_money_dates_links_and_raw_json() {
        let order: Order = serde_json::from_str(ORDER).unwrap();
        assert_eq!(order.id, 100);
        assert_eq!(order.status_id, Some(11));
        assert_eq!(order.date_shipped, None);
        assert_eq!(
            format_query_datetime(&order.date_modified.unwrap()),
            "2018-12-05T20:16:55Z"
        );
        assert_eq!(order.total_inc_tax, Some(Decimal::new(3619500, 4)));
        assert_eq!(order.customer_email(), Some("janedoe@example.com"));
        assert_eq!(
            order.billing_address.as_ref().unwrap().zip.as_deref(),
            Some("78751")
        );
        assert_eq!(
            order.products.as_ref().unwrap().resource,
            "/orders/100/products"
        );
        assert!(matches!(order.consignments, Some(Consignments::Link(_))));
        assert_eq!(order.raw["some_future_field"]["nested"], Value::Bool(true));
        assert!(!order.line_items_truncated());
        assert_eq!(order.embedded_line_items(), None);
        // Serializing writes the raw JSON back unchanged.
        let round_trip = serde_json::to_value(&order).unwrap();
        assert_eq!(round_trip, serde_json::from_str::<Value>(ORDER).unwrap());
    }

    fn line(id: u64) -> Value {
        serde_json::json!({
            "id": id, "order_id": 200, "product_id": 77, "variant_id": 500 + id,
            "order_address_id": 51, "name": "Towel", "sku": format!("SKU-{id}"),
            "type": "physical", "base_price": "55.9900", "price_inc_tax": "65.2300",
            "total_inc_tax": "65.2300", "weight": "1.0000", "quantity": 1,
            "quantity_shipped": 0, "product_options": []
        })
    }

    fn order_with_consignment(lines: usize, warning: bool) -> Order {
        let mut shipping = serde_json::json!({
            "id": 51, "first_name": "Jane", "last_name": "Doe", "street_1": "123 Main Street",
            "city": "Austin", "state": "Texas", "zip": "12345", "country": "United States",
            "country_iso2": "US", "email": "janedoe@example.com", "phone": 410999888,
            "shipping_method": "Free Shipping", "items_total": lines, "items_shipped": 0,
            "base_cost": 5.1, "cost_inc_tax": 6.2,
            "line_items": (1..=lines.min(CONSIGNMENT_LINE_ITEM_CAP) as u64).map(line).collect::<Vec<_>>()
        });
        if warning {
            shipping[CONSIGNMENT_WARNING_KEY] = serde_json::json!({
                "message": "Not all line items of this consignment are returned with this response, only 50 are included. Please use the `/v2/orders/{order_id}/products` endpoint to fetch all line items."
            });
        }
        let order = serde_json::json!({
            "id": 200, "status_id": 11, "items_total": lines,
            "date_modified": "Tue, 05 Mar 2019 21:50:23 +0000",
            "consignments": {"pickups": [], "shipping": [shipping], "downloads": [],
                             "email": {"gift_certificates": []}}
        });
        serde_json::from_value(order).unwrap()
    }

    #[test]
    fn embedded_line_items_are_used_when_complete() {
        let order = order_with_consignment(3, false);
        assert!(!order.line_items_truncated());
        let Some(Consignments::Object(consignments)) = &order.consignments else {
            panic!("expected object consignments");
        };
        let shipping = &consignments.shipping[0];
        assert_eq!(shipping.id, 51);
        assert_eq!(shipping.address.phone.as_deref(), Some("410999888"));
        assert_eq!(shipping.cost_inc_tax, Some(Decimal::new(62, 1)));
        let lines = order.embedded_line_items().unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].sku.as_deref(), Some("SKU-1"));
        assert_eq!(lines[0].variant_id, Some(501));
        assert_eq!(lines[0].price_inc_tax, Some(Decimal::new(652300, 4)));
    }

    #[test]
    fn a_consignment_with_the_warning_marks_the_order_truncated() {
        let order = order_with_consignment(120, true);
        assert!(order.line_items_truncated());
        let Some(Consignments::Object(consignments)) = &order.consignments else {
            panic!("expected object consignments");
        };
        let shipping = &consignments.shipping[0];
        assert_eq!(shipping.line_items.len(), CONSIGNMENT_LINE_ITEM_CAP);
        assert!(shipping
            .warning
            .as_ref()
            .unwrap()
            .message
            .as_deref()
            .unwrap()
            .contains("only 50 are included"));
        assert_eq!(order.embedded_line_items(), None);
    }

    #[test]
    fn line_item_links_are_not_taken_as_complete_lines() {
        let order: Order = serde_json::from_value(serde_json::json!({
            "id": 5, "items_total": 1,
            "consignments": {"shipping": [{"id": 1, "line_items": [
                {"url": "https://x/v2/orders/5/products/12", "resource": "/orders/5/products/12"}
            ]}]}
        }))
        .unwrap();
        let Some(Consignments::Object(consignments)) = &order.consignments else {
            panic!("expected object consignments");
        };
        assert!(matches!(
            consignments.shipping[0].line_items[0],
            ConsignmentLineItem::Link(_)
        ));
        assert_eq!(order.embedded_line_items(), None);
    }

    #[test]
    fn an_unknown_consignment_shape_does_not_break_the_order() {
        let order: Order = serde_json::from_value(serde_json::json!({
            "id": 6, "consignments": {"shipping": "surprise", "__warning__": {"message": "cut"}}
        }))
        .unwrap();
        assert!(matches!(
            order.consignments,
            Some(Consignments::Unrecognized(_))
        ));
        assert!(order.line_items_truncated());
    }

    #[test]
    fn order_count_and_statuses_are_parsed() {
        let count: OrdersCount = serde_json::from_str(
            r#"{"statuses": [{"id": 11, "name": "Awaiting Fulfillment", "system_label": "Awaiting Fulfillment",
                "custom_label": "Awaiting Fulfillment", "system_description": "paid", "count": 31, "sort_order": 3}],
                "count": 133}"#,
        )
        .unwrap();
        assert_eq!(count.count, 133);
        assert_eq!(count.statuses[0].count, Some(31));
        let just_count: OrdersCount = serde_json::from_str(r#"{"count": 27}"#).unwrap();
        assert_eq!(just_count.count, 27);
    }

    #[test]
    fn update_order_sends_only_set_fields() {
        let body = UpdateOrder {
            status_id: Some(2),
            ..UpdateOrder::default()
        };
        assert_eq!(serde_json::to_string(&body).unwrap(), r#"{"status_id":2}"#);
    }
}
