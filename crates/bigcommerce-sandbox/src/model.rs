//! The sandbox's in-memory store: the data a BigCommerce store holds, in the shapes the
//! emulator needs to answer requests. Rendering to BigCommerce's JSON lives in `api/`; the
//! business rules that change data (placing orders, shipping, status changes) live here so that
//! the HTTP API, the control API and the live mode all go through the same code.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An OAuth scope of a store-level API account, by BigCommerce's parameter name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    StoreV2Orders,
    StoreV2OrdersReadOnly,
    StoreV2Products,
    StoreV2ProductsReadOnly,
    StoreV2Information,
    StoreV2InformationReadOnly,
    StoreV2Customers,
    StoreV2CustomersReadOnly,
    StoreV2Content,
    StoreV2ContentReadOnly,
    StoreV2Marketing,
    StoreV2MarketingReadOnly,
    StoreV2Transactions,
    StoreV2TransactionsReadOnly,
    StoreInventory,
    StoreInventoryReadOnly,
}

impl Scope {
    /// BigCommerce's parameter name, e.g. `store_v2_orders`.
    pub fn param(self) -> &'static str {
        match self {
            Scope::StoreV2Orders => "store_v2_orders",
            Scope::StoreV2OrdersReadOnly => "store_v2_orders_read_only",
            Scope::StoreV2Products => "store_v2_products",
            Scope::StoreV2ProductsReadOnly => "store_v2_products_read_only",
            Scope::StoreV2Information => "store_v2_information",
            Scope::StoreV2InformationReadOnly => "store_v2_information_read_only",
            Scope::StoreV2Customers => "store_v2_customers",
            Scope::StoreV2CustomersReadOnly => "store_v2_customers_read_only",
            Scope::StoreV2Content => "store_v2_content",
            Scope::StoreV2ContentReadOnly => "store_v2_content_read_only",
            Scope::StoreV2Marketing => "store_v2_marketing",
            Scope::StoreV2MarketingReadOnly => "store_v2_marketing_read_only",
            Scope::StoreV2Transactions => "store_v2_transactions",
            Scope::StoreV2TransactionsReadOnly => "store_v2_transactions_read_only",
            Scope::StoreInventory => "store_inventory",
            Scope::StoreInventoryReadOnly => "store_inventory_read_only",
        }
    }

    /// The control panel's words for the scope, e.g. `Orders: Modify`.
    pub fn ui_name(self) -> &'static str {
        match self {
            Scope::StoreV2Orders => "Orders: Modify",
            Scope::StoreV2OrdersReadOnly => "Orders: Read-only",
            Scope::StoreV2Products => "Products: Modify",
            Scope::StoreV2ProductsReadOnly => "Products: Read-only",
            Scope::StoreV2Information => "Information & Settings: Modify",
            Scope::StoreV2InformationReadOnly => "Information & Settings: Read-only",
            Scope::StoreV2Customers => "Customers: Modify",
            Scope::StoreV2CustomersReadOnly => "Customers: Read-only",
            Scope::StoreV2Content => "Content: Modify",
            Scope::StoreV2ContentReadOnly => "Content: Read-only",
            Scope::StoreV2Marketing => "Marketing: Modify",
            Scope::StoreV2MarketingReadOnly => "Marketing: Read-only",
            Scope::StoreV2Transactions => "Order Transactions: Modify",
            Scope::StoreV2TransactionsReadOnly => "Order Transactions: Read-only",
            Scope::StoreInventory => "Store Inventory: Modify",
            Scope::StoreInventoryReadOnly => "Store Inventory: Read-only",
        }
    }

    /// Parses a parameter name (`store_v2_orders`).
    pub fn from_param(s: &str) -> Option<Scope> {
        ALL_SCOPES.iter().copied().find(|scope| scope.param() == s)
    }
}

/// Every scope the sandbox knows.
pub const ALL_SCOPES: [Scope; 16] = [
    Scope::StoreV2Orders,
    Scope::StoreV2OrdersReadOnly,
    Scope::StoreV2Products,
    Scope::StoreV2ProductsReadOnly,
    Scope::StoreV2Information,
    Scope::StoreV2InformationReadOnly,
    Scope::StoreV2Customers,
    Scope::StoreV2CustomersReadOnly,
    Scope::StoreV2Content,
    Scope::StoreV2ContentReadOnly,
    Scope::StoreV2Marketing,
    Scope::StoreV2MarketingReadOnly,
    Scope::StoreV2Transactions,
    Scope::StoreV2TransactionsReadOnly,
    Scope::StoreInventory,
    Scope::StoreInventoryReadOnly,
];

/// A store-level API account ("Create V2/V3 API token" in the control panel).
#[derive(Clone, Serialize, Deserialize)]
pub struct ApiAccount {
    /// Short name of the profile, e.g. `merchant-guide`, `read-only`, `no-orders-modify`.
    pub profile: String,
    /// The account's name as typed in the control panel.
    pub name: String,
    pub client_id: String,
    pub client_secret: String,
    pub access_token: String,
    pub scopes: BTreeSet<Scope>,
}

impl std::fmt::Debug for ApiAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiAccount")
            .field("profile", &self.profile)
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("access_token", &"***")
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// A postal address as v2 orders carry it (billing address, shipping address / consignment).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Address {
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub street_1: String,
    pub street_2: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub country: String,
    pub country_iso2: String,
    pub phone: String,
    pub email: String,
}

/// A shipping address of an order (v2 `shipping_addresses`; a shipping consignment with
/// `consignment_structure=object`). Line items point at it by `order_address_id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShippingAddress {
    pub id: u64,
    pub address: Address,
    pub shipping_method: String,
    pub base_cost: Decimal,
    pub cost_ex_tax: Decimal,
    pub cost_inc_tax: Decimal,
    pub cost_tax: Decimal,
    pub shipping_zone_id: u64,
    pub shipping_zone_name: String,
}

/// One order line (v2 `order products`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderLine {
    /// The `order_product_id` that shipments reference.
    pub id: u64,
    pub product_id: u64,
    pub variant_id: u64,
    pub order_address_id: u64,
    pub name: String,
    pub sku: String,
    pub base_price: Decimal,
    pub price_ex_tax: Decimal,
    pub price_inc_tax: Decimal,
    pub price_tax: Decimal,
    pub quantity: u32,
    pub quantity_shipped: u32,
    pub quantity_refunded: u32,
    pub weight: Decimal,
    pub options: Vec<LineOption>,
}

/// The type of a product option, as order lines name it (`product_options[].type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptionKind {
    /// Rectangles, radio buttons or a drop-down list.
    #[default]
    MultipleChoice,
    Swatch,
    Checkbox,
    ProductPickList,
    TextField,
}

impl OptionKind {
    /// The `type` of an order line's option.
    pub fn type_name(self) -> &'static str {
        match self {
            OptionKind::MultipleChoice => "Multiple choice",
            OptionKind::Swatch => "Swatch",
            OptionKind::Checkbox => "Checkbox",
            OptionKind::ProductPickList => "Product Pick List",
            OptionKind::TextField => "Text field",
        }
    }

    /// The `display_style` of an order line's option, as BigCommerce's examples show them.
    pub fn display_style(self) -> &'static str {
        match self {
            OptionKind::MultipleChoice => "Rectangle",
            OptionKind::ProductPickList => "Pick list",
            OptionKind::Swatch | OptionKind::Checkbox | OptionKind::TextField => "",
        }
    }
}

/// One chosen option of an order line: a variant's option value or a modifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LineOption {
    /// The product's option (`option_id`, `product_option_id`).
    pub option_id: u64,
    pub kind: OptionKind,
    /// The option's name shown to the shopper (`Size`).
    pub display_name: String,
    /// The chosen value's label (`S`), or the text typed into a text field.
    pub display_value: String,
    /// The chosen option value's id; `None` for a text field, whose `value` is the text.
    pub value_id: Option<u64>,
}

impl OrderLine {
    /// Quantity still to ship.
    pub fn remaining(&self) -> u32 {
        self.quantity.saturating_sub(self.quantity_shipped)
    }
}

/// One item of a shipment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShipmentItem {
    pub order_product_id: u64,
    pub product_id: u64,
    pub quantity: u32,
}

/// A shipment recorded against an order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Shipment {
    pub id: u64,
    pub order_address_id: u64,
    pub date_created: DateTime<Utc>,
    pub tracking_number: String,
    pub merchant_shipping_cost: Decimal,
    pub shipping_method: String,
    pub shipping_provider: String,
    pub tracking_carrier: String,
    pub tracking_link: String,
    pub comments: String,
    pub items: Vec<ShipmentItem>,
}

/// A v2 order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    pub id: u64,
    pub customer_id: u64,
    pub date_created: DateTime<Utc>,
    pub date_modified: DateTime<Utc>,
    pub date_shipped: Option<DateTime<Utc>>,
    pub status_id: u32,
    pub is_deleted: bool,
    pub currency_code: String,
    pub payment_method: String,
    pub payment_status: String,
    pub customer_message: String,
    pub staff_notes: String,
    pub billing_address: Address,
    pub shipping_addresses: Vec<ShippingAddress>,
    pub lines: Vec<OrderLine>,
    pub shipments: Vec<Shipment>,
    pub discount_amount: Decimal,
    pub cart_id: String,
    pub ip_address: String,
}

impl Order {
    /// Sum of line quantities.
    pub fn items_total(&self) -> u32 {
        self.lines.iter().map(|l| l.quantity).sum()
    }

    /// Sum of shipped line quantities.
    pub fn items_shipped(&self) -> u32 {
        self.lines.iter().map(|l| l.quantity_shipped).sum()
    }

    /// Subtotal excluding tax (lines only).
    pub fn subtotal_ex_tax(&self) -> Decimal {
        self.lines
            .iter()
            .map(|l| l.price_ex_tax * Decimal::from(l.quantity))
            .sum()
    }

    /// Tax on the lines.
    pub fn subtotal_tax(&self) -> Decimal {
        self.lines
            .iter()
            .map(|l| l.price_tax * Decimal::from(l.quantity))
            .sum()
    }

    /// Shipping cost excluding tax, over every shipping address.
    pub fn shipping_ex_tax(&self) -> Decimal {
        self.shipping_addresses.iter().map(|a| a.cost_ex_tax).sum()
    }

    /// Tax on shipping.
    pub fn shipping_tax(&self) -> Decimal {
        self.shipping_addresses.iter().map(|a| a.cost_tax).sum()
    }

    /// Grand total excluding tax.
    pub fn total_ex_tax(&self) -> Decimal {
        self.subtotal_ex_tax() + self.shipping_ex_tax() - self.discount_amount
    }

    /// Grand total tax.
    pub fn total_tax(&self) -> Decimal {
        self.subtotal_tax() + self.shipping_tax()
    }

    /// Grand total including tax.
    pub fn total_inc_tax(&self) -> Decimal {
        self.total_ex_tax() + self.total_tax()
    }
}

/// `inventory_tracking` of a catalog product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InventoryTracking {
    None,
    Product,
    Variant,
}

impl InventoryTracking {
    pub fn as_str(self) -> &'static str {
        match self {
            InventoryTracking::None => "none",
            InventoryTracking::Product => "product",
            InventoryTracking::Variant => "variant",
        }
    }
}

/// One option value of a variant (e.g. Size = L).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OptionValue {
    pub id: u64,
    pub option_id: u64,
    pub option_display_name: String,
    pub label: String,
    /// How the option is shown (multiple choice, swatch, pick list).
    #[serde(default)]
    pub kind: OptionKind,
}

/// A catalog variant. Every product has at least its base variant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Variant {
    pub id: u64,
    pub product_id: u64,
    pub sku: String,
    pub sku_id: Option<u64>,
    pub price: Option<Decimal>,
    pub weight: Option<Decimal>,
    pub inventory_level: i64,
    pub inventory_warning_level: i64,
    pub upc: String,
    pub option_values: Vec<OptionValue>,
}

/// A catalog product.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Product {
    pub id: u64,
    pub name: String,
    pub sku: String,
    pub price: Decimal,
    pub weight: Decimal,
    pub inventory_tracking: InventoryTracking,
    /// Product-level stock; for variant tracking BigCommerce reports the sum of the variants.
    pub inventory_level: i64,
    pub inventory_warning_level: i64,
    pub is_visible: bool,
    pub date_created: DateTime<Utc>,
    pub date_modified: DateTime<Utc>,
    pub variants: Vec<Variant>,
}

impl Product {
    /// The stock BigCommerce reports at product level.
    pub fn reported_inventory_level(&self) -> i64 {
        match self.inventory_tracking {
            InventoryTracking::Variant => self.variants.iter().map(|v| v.inventory_level).sum(),
            _ => self.inventory_level,
        }
    }
}

/// A webhook subscription (v3 `/hooks`). Hooks belong to the API account (client id) that
/// created them: another token of the same store does not see them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hook {
    pub id: u64,
    pub client_id: String,
    pub scope: String,
    pub destination: String,
    pub is_active: bool,
    pub headers: Option<BTreeMap<String, String>>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The store's profile (`GET /v2/store`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreProfile {
    pub id: String,
    pub name: String,
    pub domain: String,
    pub admin_email: String,
    pub order_email: String,
    pub phone: String,
    pub address: String,
    pub country: String,
    pub country_code: String,
    pub timezone_name: String,
    pub timezone_raw_offset: i64,
    pub currency: String,
    pub currency_symbol: String,
    pub weight_units: String,
    pub dimension_units: String,
    pub plan_name: String,
    pub plan_level: String,
}

/// Order statuses BigCommerce defines (`GET /v2/order_statuses`): id, name, description.
pub const ORDER_STATUSES: [(u32, &str, &str); 15] = [
    (0, "Incomplete", "An incomplete order happens when a shopper reached the payment page, but did not complete the transaction."),
    (1, "Pending", "Customer started the checkout process, but did not complete it."),
    (2, "Shipped", "Order has been shipped, but receipt has not been confirmed; seller has used the Ship Items action."),
    (3, "Partially Shipped", "Only some items in the order have been shipped, due to some products being pre-order only or other reasons."),
    (4, "Refunded", "Seller has used the Refund action."),
    (5, "Cancelled", "Seller has cancelled an order, due to a stock inconsistency or other reasons."),
    (6, "Declined", "Seller has marked the order as declined for lack of manual payment, or other reasons."),
    (7, "Awaiting Payment", "Customer has completed checkout process, but payment has yet to be confirmed."),
    (8, "Awaiting Pickup", "Order has been pulled, and is awaiting customer pickup from a seller-specified location."),
    (9, "Awaiting Shipment", "Order has been pulled and packaged, and is awaiting collection from a shipping provider."),
    (10, "Completed", "Client has paid for their digital product and their file(s) are available for download."),
    (11, "Awaiting Fulfillment", "Customer has completed the checkout process and payment has been confirmed."),
    (12, "Manual Verification Required", "Order on hold while some aspect needs to be manually confirmed."),
    (13, "Disputed", "Customer has initiated a dispute resolution process for the PayPal transaction that paid for the order."),
    (14, "Partially Refunded", "Seller has partially refunded the order."),
];

/// Status ids used by the rules below.
pub mod status {
    pub const PENDING: u32 = 1;
    pub const SHIPPED: u32 = 2;
    pub const PARTIALLY_SHIPPED: u32 = 3;
    pub const REFUNDED: u32 = 4;
    pub const CANCELLED: u32 = 5;
    pub const DECLINED: u32 = 6;
    pub const AWAITING_PAYMENT: u32 = 7;
    pub const AWAITING_SHIPMENT: u32 = 9;
    pub const COMPLETED: u32 = 10;
    pub const AWAITING_FULFILLMENT: u32 = 11;
    pub const MANUAL_VERIFICATION: u32 = 12;
}

/// The name of a status id, or `None` for an unknown id.
pub fn status_name(id: u32) -> Option<&'static str> {
    ORDER_STATUSES
        .iter()
        .find(|(sid, _, _)| *sid == id)
        .map(|(_, name, _)| *name)
}
