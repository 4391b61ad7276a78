//! The seller account's data as the sandbox keeps it: orders with their items, buyer, address
//! and confirmed packages, and listings with their merchant-fulfilled quantity. Rendering to
//! Amazon's JSON is [`crate::api::render`]'s; the rules that change this data are
//! [`crate::account`]'s.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The Canadian marketplace, the sandbox's default.
pub const MARKETPLACE_CA: &str = "A2EUQ1WTGCTBG2";
/// The United States marketplace.
pub const MARKETPLACE_US: &str = "ATVPDKIKX0DER";

/// An order's status as Orders API v0 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrderStatus {
    /// Placed, payment not yet authorised: no address, no prices on items.
    Pending,
    /// Payment authorised, nothing shipped.
    Unshipped,
    /// Some items shipped.
    PartiallyShipped,
    /// Every item shipped.
    Shipped,
    /// Cancelled (by the buyer, the seller or Amazon) before anything shipped.
    Canceled,
    /// Amazon cannot fulfil it (AFN only).
    Unfulfillable,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Pending,
        OrderStatus::Unshipped,
        OrderStatus::PartiallyShipped,
        OrderStatus::Shipped,
        OrderStatus::Canceled,
        OrderStatus::Unfulfillable,
    ];

    /// The v0 name (`PartiallyShipped`).
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "Pending",
            OrderStatus::Unshipped => "Unshipped",
            OrderStatus::PartiallyShipped => "PartiallyShipped",
            OrderStatus::Shipped => "Shipped",
            OrderStatus::Canceled => "Canceled",
            OrderStatus::Unfulfillable => "Unfulfillable",
        }
    }

    /// The 2026-01-01 name (`PARTIALLY_SHIPPED`, `CANCELLED`).
    pub fn as_2026(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::Unshipped => "UNSHIPPED",
            OrderStatus::PartiallyShipped => "PARTIALLY_SHIPPED",
            OrderStatus::Shipped => "SHIPPED",
            OrderStatus::Canceled => "CANCELLED",
            OrderStatus::Unfulfillable => "UNFULFILLABLE",
        }
    }

    /// Parses a v0 name.
    pub fn parse(text: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Parses a 2026-01-01 name.
    pub fn parse_2026(text: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.as_2026() == text)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who fulfils an order: the seller (`MFN`) or Amazon (`AFN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FulfillmentChannel {
    #[serde(rename = "MFN")]
    Mfn,
    #[serde(rename = "AFN")]
    Afn,
}

impl FulfillmentChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            FulfillmentChannel::Mfn => "MFN",
            FulfillmentChannel::Afn => "AFN",
        }
    }

    pub fn parse(text: &str) -> Option<FulfillmentChannel> {
        match text {
            "MFN" => Some(FulfillmentChannel::Mfn),
            "AFN" => Some(FulfillmentChannel::Afn),
            _ => None,
        }
    }
}

/// A buyer's shipping address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub name: String,
    pub address_line1: String,
    pub address_line2: Option<String>,
    pub city: String,
    pub state_or_region: String,
    pub postal_code: String,
    pub country_code: String,
    pub phone: Option<String>,
    pub residential: bool,
}

/// The buyer of an order (personal data: restricted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buyer {
    /// The anonymised relay address Amazon gives sellers (`...@marketplace.amazon.ca`).
    pub email: String,
    pub name: String,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItem {
    /// Fourteen digits, unique within the account.
    pub order_item_id: String,
    pub asin: String,
    pub seller_sku: String,
    pub title: String,
    pub quantity_ordered: u32,
    pub quantity_shipped: u32,
    /// The line's price (unit price × quantity), in cents, as `ItemPrice` reports it.
    pub item_price_cents: i64,
    pub shipping_price_cents: i64,
    pub item_tax_cents: i64,
}

impl OrderItem {
    /// Units not yet shipped.
    pub fn remaining(&self) -> u32 {
        self.quantity_ordered - self.quantity_shipped
    }
}

/// A quantity of one order item in a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageItem {
    pub order_item_id: String,
    pub quantity: u32,
}

/// A package the seller confirmed with `confirmShipment` (or Amazon shipped, for AFN).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub package_reference_id: String,
    pub carrier_code: String,
    pub carrier_name: Option<String>,
    pub shipping_method: Option<String>,
    pub tracking_number: String,
    pub ship_date: DateTime<Utc>,
    pub items: Vec<PackageItem>,
    /// When the sandbox recorded the confirmation.
    pub confirmed_at: DateTime<Utc>,
}

/// An order of the seller account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// `902-3159896-1390916`.
    pub amazon_order_id: String,
    pub marketplace_id: String,
    pub currency: String,
    pub purchase_date: DateTime<Utc>,
    pub last_update_date: DateTime<Utc>,
    pub status: OrderStatus,
    pub fulfillment_channel: FulfillmentChannel,
    /// `Std CA D2D Dom`, `Exp CA D2D Dom`.
    pub ship_service_level: String,
    /// `Standard`, `Expedited`.
    pub shipment_service_level_category: String,
    pub is_prime: bool,
    pub is_business_order: bool,
    pub earliest_ship_date: DateTime<Utc>,
    pub latest_ship_date: DateTime<Utc>,
    pub items: Vec<OrderItem>,
    pub buyer: Buyer,
    pub address: Address,
    pub packages: Vec<Package>,
    /// The buyer asked to cancel, with their reason (the seller decides).
    pub buyer_cancel_reason: Option<String>,
}

impl Order {
    pub fn items_shipped(&self) -> u32 {
        self.items.iter().map(|i| i.quantity_shipped).sum()
    }

    pub fn items_unshipped(&self) -> u32 {
        self.items.iter().map(OrderItem::remaining).sum()
    }

    /// Items, shipping and tax of every line, in cents.
    pub fn total_cents(&self) -> i64 {
        self.items
            .iter()
            .map(|i| i.item_price_cents + i.shipping_price_cents + i.item_tax_cents)
            .sum()
    }

    /// Whether the address is known yet: Amazon releases it when payment is authorised.
    pub fn has_address(&self) -> bool {
        self.status != OrderStatus::Pending
    }
}

/// A listing of the seller: one SKU in the account's marketplace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub sku: String,
    pub asin: String,
    pub product_type: String,
    pub item_name: String,
    pub price_cents: i64,
    /// Merchant-fulfilled quantity (`fulfillment_availability`, channel `DEFAULT`).
    pub quantity: u32,
    pub created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
}

/// Cents as Amazon's decimal string: `1234` → `"12.34"`.
pub fn amount(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.abs();
    format!("{sign}{}.{:02}", cents / 100, cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_have_two_places() {
        assert_eq!(amount(1234), "12.34");
        assert_eq!(amount(5), "0.05");
        assert_eq!(amount(-250), "-2.50");
    }

    #[test]
    fn statuses_round_trip_in_both_namings() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
            assert_eq!(OrderStatus::parse_2026(status.as_2026()), Some(status));
        }
    }
}
