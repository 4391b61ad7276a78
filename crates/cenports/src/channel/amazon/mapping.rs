//! Amazon → the core: the one place where Amazon's orders (Orders API 2026-01-01) and listings
//! become storage records.
//!
//! Status codes are Amazon's v0 order statuses (`Unshipped`, `PartiallyShipped`, ...), the
//! names sellers know from Seller Central; the 2026 API's `fulfillmentStatus`
//! (`PARTIALLY_SHIPPED`, `CANCELLED`) is translated to them.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use crate::channel::StatusMapping;
use crate::storage::{
    AddressKind, ChannelStatus, FulfilmentState, NewOrderAddress, NewOrderLine, NewOrderRecord,
    NewProduct, NewSku, OrderAfterDelivery, StockTracking,
};

/// The remote id of an order's one shipping address (Amazon ships an order to one recipient
/// and gives the address no id).
pub const RECIPIENT_ID: &str = "recipient";

/// Amazon's order statuses (v0 code, name).
pub const ORDER_STATUSES: [(&str, &str); 8] = [
    ("Pending", "Pending"),
    ("Unshipped", "Unshipped"),
    ("PartiallyShipped", "Partially Shipped"),
    ("Shipped", "Shipped"),
    ("Canceled", "Canceled"),
    ("Unfulfillable", "Unfulfillable"),
    ("InvoiceUnconfirmed", "Invoice Unconfirmed"),
    ("PendingAvailability", "Pending Availability"),
];

/// Amazon's statuses → our [`FulfilmentState`], before a store's overrides:
///
/// | Amazon | state | why |
/// |---|---|---|
/// | Pending | `on_hold` | payment not authorised: no address yet, not shippable |
/// | Unshipped | `ready` | |
/// | PartiallyShipped | `partially_shipped` | |
/// | Shipped | `shipped` | |
/// | Canceled | `cancelled` | |
/// | Unfulfillable, InvoiceUnconfirmed, PendingAvailability | `other` | |
pub fn status_mapping() -> StatusMapping {
    use FulfilmentState::*;
    StatusMapping::from_entries([
        ("Pending", OnHold),
        ("Unshipped", Ready),
        ("PartiallyShipped", PartiallyShipped),
        ("Shipped", Shipped),
        ("Canceled", Cancelled),
        ("Unfulfillable", Other),
    ])
}

/// The name of a status code.
pub fn status_name(code: &str) -> String {
    ORDER_STATUSES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| (*name).to_owned())
        .unwrap_or_else(|| code.to_owned())
}

/// The v0 status of a 2026 `fulfillmentStatus`.
pub fn status_of_2026(status: &str) -> String {
    match status {
        "PENDING" => "Pending",
        "UNSHIPPED" => "Unshipped",
        "PARTIALLY_SHIPPED" => "PartiallyShipped",
        "SHIPPED" => "Shipped",
        "CANCELLED" => "Canceled",
        "UNFULFILLABLE" => "Unfulfillable",
        "INVOICE_UNCONFIRMED" => "InvoiceUnconfirmed",
        "PENDING_AVAILABILITY" => "PendingAvailability",
        other => other,
    }
    .to_owned()
}

/// The 2026 `fulfillmentStatuses` value of a status code.
pub fn status_to_2026(code: &str) -> Option<&'static str> {
    Some(match code.trim() {
        "Pending" => "PENDING",
        "Unshipped" => "UNSHIPPED",
        "PartiallyShipped" => "PARTIALLY_SHIPPED",
        "Shipped" => "SHIPPED",
        "Canceled" => "CANCELLED",
        "Unfulfillable" => "UNFULFILLABLE",
        "InvoiceUnconfirmed" => "INVOICE_UNCONFIRMED",
        "PendingAvailability" => "PENDING_AVAILABILITY",
        _ => return None,
    })
}

/// A 2026-01-01 `Order`, with the datasets the hub asks for.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// `902-3159896-1390916`.
    pub order_id: String,
    /// Placed.
    pub created_time: DateTime<Utc>,
    /// Last changed.
    pub last_updated_time: DateTime<Utc>,
    /// The items.
    #[serde(default)]
    pub order_items: Vec<Item>,
    /// `BUYER` (with a restricted data token).
    #[serde(default)]
    pub buyer: Option<Buyer>,
    /// `RECIPIENT`.
    #[serde(default)]
    pub recipient: Option<Recipient>,
    /// `PROCEEDS`.
    #[serde(default)]
    pub proceeds: Option<Proceeds>,
    /// `FULFILLMENT`.
    #[serde(default)]
    pub fulfillment: Option<Fulfillment>,
    /// `PACKAGES`.
    #[serde(default)]
    pub packages: Vec<Package>,
}

/// An order item.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    /// The item's id: the line's remote id, and what `confirmShipment` names.
    pub order_item_id: String,
    /// Ordered.
    pub quantity_ordered: i64,
    /// The product.
    pub product: Product,
    /// Shipped and left.
    #[serde(default)]
    pub fulfillment: Option<ItemFulfillment>,
}

/// What an item sells.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    /// ASIN.
    #[serde(default)]
    pub asin: Option<String>,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// The seller's SKU.
    #[serde(default)]
    pub seller_sku: Option<String>,
    /// Its price (absent while the order is `Pending`).
    #[serde(default)]
    pub price: Option<Price>,
}

/// An item's price.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Price {
    /// One unit's price.
    #[serde(default)]
    pub unit_price: Option<Money>,
}

/// Money.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    /// The amount, as text (`"12.30"`) or a number.
    #[serde(default)]
    pub amount: Value,
    /// ISO currency.
    #[serde(default)]
    pub currency_code: String,
}

impl Money {
    fn decimal(&self) -> Decimal {
        match &self.amount {
            Value::String(text) => text.trim().parse().unwrap_or_default(),
            Value::Number(number) => number.to_string().parse().unwrap_or_default(),
            _ => Decimal::ZERO,
        }
    }
}

/// An item's shipped and unshipped quantities.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFulfillment {
    /// Shipped.
    #[serde(default)]
    pub quantity_fulfilled: i64,
}

/// The buyer (personal data).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Buyer {
    /// The anonymised relay e-mail.
    #[serde(default)]
    pub buyer_email: Option<String>,
}

/// The recipient.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    /// Where the order goes.
    #[serde(default)]
    pub delivery_address: Option<Address>,
}

/// A delivery address (name, lines and phone only with a restricted data token).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Address {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address_line1: Option<String>,
    #[serde(default)]
    pub address_line2: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub state_or_region: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub country_code: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

/// The order's totals.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Proceeds {
    /// What the buyer pays.
    #[serde(default)]
    pub grand_total: Option<Money>,
}

/// Who fulfils the order and its status.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fulfillment {
    /// `UNSHIPPED`, `CANCELLED`...
    #[serde(default)]
    pub fulfillment_status: String,
    /// `MERCHANT` or `AMAZON`.
    #[serde(default)]
    pub fulfilled_by: Option<String>,
}

/// A confirmed package.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    /// The seller's reference (ours: the outbox row id).
    #[serde(default)]
    pub package_reference_id: String,
}

impl Order {
    /// The order's v0 status code.
    pub fn status_code(&self) -> String {
        self.fulfillment
            .as_ref()
            .map(|f| status_of_2026(&f.fulfillment_status))
            .unwrap_or_default()
    }

    /// Whether Amazon fulfils it (`AFN`): not the warehouse's.
    pub fn fulfilled_by_amazon(&self) -> bool {
        self.fulfillment
            .as_ref()
            .and_then(|f| f.fulfilled_by.as_deref())
            == Some("AMAZON")
    }

    /// Each item's shipped quantity.
    pub fn lines_shipped(&self) -> Vec<(String, i32)> {
        self.order_items
            .iter()
            .map(|item| (item.order_item_id.clone(), shipped(item)))
            .collect()
    }

    /// The order as a delivery leaves it.
    pub fn after_delivery(&self) -> OrderAfterDelivery {
        let code = self.status_code();
        OrderAfterDelivery {
            status: ChannelStatus {
                status_name: status_name(&code),
                fulfilment_state: status_mapping().state(&code),
                status_code: code,
            },
            date_modified: self.last_updated_time,
            lines_shipped: self.lines_shipped(),
        }
    }
}

fn shipped(item: &Item) -> i32 {
    let shipped = item
        .fulfillment
        .as_ref()
        .map_or(0, |f| f.quantity_fulfilled);
    i32::try_from(shipped).unwrap_or(i32::MAX)
}

fn text(value: &Option<String>) -> String {
    value.as_deref().unwrap_or_default().trim().to_owned()
}

/// `Jane Q. Doe` → (`Jane Q.`, `Doe`); one word is a last name.
fn split_name(name: &str) -> (String, String) {
    match name.trim().rsplit_once(' ') {
        Some((first, last)) => (first.trim().to_owned(), last.trim().to_owned()),
        None => (String::new(), name.trim().to_owned()),
    }
}

/// Maps an order read with `FULFILLMENT`, `RECIPIENT`, `BUYER` and `PROCEEDS` (and `raw`, its
/// JSON as Amazon sent it) to the record storage upserts.
///
/// - A `Pending` order has no address yet (Amazon releases it with the payment) and no prices:
///   it is stored without a shipping address and mapped `on_hold`; its next change brings both.
/// - Prices are Amazon's unit prices; the subtotal is their sum over the quantities, the total
///   the `PROCEEDS` grand total; tax is not given by the 2026 search and is stored as 0.
pub fn order_record(order: &Order, raw: &Value, mapping: &StatusMapping) -> NewOrderRecord {
    let code = order.status_code();
    let mut currency = String::new();
    let mut subtotal = Decimal::ZERO;
    let lines = order
        .order_items
        .iter()
        .map(|item| {
            let unit = item
                .product
                .price
                .as_ref()
                .and_then(|p| p.unit_price.as_ref());
            let price = unit.map(Money::decimal).unwrap_or_default();
            if let Some(unit) = unit.filter(|u| !u.currency_code.is_empty()) {
                currency.clone_from(&unit.currency_code);
            }
            let quantity = i32::try_from(item.quantity_ordered).unwrap_or(i32::MAX);
            subtotal += price * Decimal::from(quantity);
            NewOrderLine {
                remote_id: item.order_item_id.clone(),
                product_id: None,
                variant_id: None,
                sku: text(&item.product.seller_sku),
                name: text(&item.product.title),
                quantity,
                quantity_shipped: shipped(item),
                price,
                address_remote_id: None,
            }
        })
        .collect();
    let total = order.proceeds.as_ref().and_then(|p| p.grand_total.as_ref());
    if let Some(total) = total.filter(|t| !t.currency_code.is_empty()) {
        currency.clone_from(&total.currency_code);
    }
    let email = order
        .buyer
        .as_ref()
        .and_then(|b| b.buyer_email.clone())
        .filter(|e| !e.trim().is_empty());
    let mut addresses = Vec::new();
    if let Some(address) = order
        .recipient
        .as_ref()
        .and_then(|r| r.delivery_address.as_ref())
    {
        let (first_name, last_name) = split_name(&text(&address.name));
        addresses.push(NewOrderAddress {
            kind: AddressKind::Shipping,
            remote_id: Some(RECIPIENT_ID.to_owned()),
            first_name,
            last_name,
            company: String::new(),
            street_1: text(&address.address_line1),
            street_2: text(&address.address_line2),
            city: text(&address.city),
            state: text(&address.state_or_region),
            zip: text(&address.postal_code),
            country_iso2: text(&address.country_code),
            email: email.clone().unwrap_or_default(),
            phone: text(&address.phone),
            shipping_method: None,
        });
    }
    NewOrderRecord {
        remote_id: order.order_id.clone(),
        status_name: status_name(&code),
        fulfilment_state: mapping.state(&code),
        status_code: code,
        customer_id: None,
        email,
        currency,
        subtotal,
        total: total.map(Money::decimal).unwrap_or(subtotal),
        tax: Decimal::ZERO,
        payment_method: None,
        payment_status: None,
        date_created: order.created_time,
        date_modified: order.last_updated_time,
        is_deleted: false,
        raw_json: raw.to_string(),
        lines,
        addresses,
    }
}

/// A listing as the catalog's product (its remote id is the SKU: Amazon addresses listings by
/// seller and SKU) with its one SKU, tracked on the "product", and the merchant-fulfilled
/// quantity it reports.
pub fn listing_records(sku: &str, listing: &Value) -> (NewProduct, NewSku, Option<i64>) {
    let summary = &listing["summaries"][0];
    let name = summary["itemName"].as_str().unwrap_or(sku).to_owned();
    let modified = summary["lastUpdatedDate"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let product = NewProduct {
        remote_id: sku.to_owned(),
        name,
        sku: sku.to_owned(),
        stock_tracking: StockTracking::Product,
        date_modified: modified,
    };
    let entry = NewSku {
        sku: sku.to_owned(),
        product_remote_id: sku.to_owned(),
        variant_remote_id: None,
        stock_tracking: StockTracking::Product,
    };
    (product, entry, merchant_quantity(listing))
}

/// The merchant-fulfilled (`DEFAULT` channel) quantity of a listing read with
/// `fulfillmentAvailability`.
pub fn merchant_quantity(listing: &Value) -> Option<i64> {
    listing["fulfillmentAvailability"]
        .as_array()?
        .iter()
        .find(|entry| entry["fulfillmentChannelCode"] == "DEFAULT")
        .and_then(|entry| entry["quantity"].as_i64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_mapping_follows_amazons_meanings() {
        let m = status_mapping();
        assert_eq!(m.state("Pending"), FulfilmentState::OnHold);
        assert_eq!(m.state("Unshipped"), FulfilmentState::Ready);
        assert_eq!(
            m.state("PartiallyShipped"),
            FulfilmentState::PartiallyShipped
        );
        assert_eq!(m.state("Shipped"), FulfilmentState::Shipped);
        assert_eq!(m.state("Canceled"), FulfilmentState::Cancelled);
        assert_eq!(m.state("Unfulfillable"), FulfilmentState::Other);
        for (code, _) in ORDER_STATUSES {
            assert_eq!(
                status_of_2026(status_to_2026(code).unwrap()),
                code,
                "{code}"
            );
        }
    }

    #[test]
    fn an_order_with_its_recipient_maps_to_lines_and_one_shipping_address() {
        let raw = serde_json::json!({
            "orderId": "702-3159896-1390916",
            "createdTime": "2026-03-01T10:00:00Z",
            "lastUpdatedTime": "2026-03-01T11:00:00Z",
            "orderItems": [{
                "orderItemId": "12345678901234",
                "quantityOrdered": 2,
                "product": {"sellerSku": "TRA-MUG-001", "title": "Mug",
                            "price": {"unitPrice": {"amount": "12.50", "currencyCode": "CAD"}}},
                "fulfillment": {"quantityFulfilled": 1, "quantityUnfulfilled": 1}
            }],
            "buyer": {"buyerEmail": "x@marketplace.amazon.ca"},
            "recipient": {"deliveryAddress": {"name": "Ada King Lovelace", "addressLine1": "1 Main St",
                          "city": "Ottawa", "stateOrRegion": "ON", "postalCode": "K1A 0A1", "countryCode": "CA"}},
            "proceeds": {"grandTotal": {"amount": "28.25", "currencyCode": "CAD"}},
            "fulfillment": {"fulfillmentStatus": "PARTIALLY_SHIPPED", "fulfilledBy": "MERCHANT"}
        });
        let order: Order = serde_json::from_value(raw.clone()).unwrap();
        let record = order_record(&order, &raw, &status_mapping());
        assert_eq!(record.status_code, "PartiallyShipped");
        assert_eq!(record.status_name, "Partially Shipped");
        assert_eq!(record.fulfilment_state, FulfilmentState::PartiallyShipped);
        assert_eq!(record.subtotal, Decimal::new(2500, 2));
        assert_eq!(record.total, Decimal::new(2825, 2));
        assert_eq!(record.currency, "CAD");
        assert_eq!(record.lines[0].remote_id, "12345678901234");
        assert_eq!(record.lines[0].quantity_shipped, 1);
        assert_eq!(record.addresses[0].remote_id.as_deref(), Some(RECIPIENT_ID));
        assert_eq!(record.addresses[0].first_name, "Ada King");
        assert_eq!(record.addresses[0].last_name, "Lovelace");
        assert!(!order.fulfilled_by_amazon());
    }
}
