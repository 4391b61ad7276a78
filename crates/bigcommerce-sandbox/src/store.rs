//! One emulated store: its data, its API accounts and the rules that change it.
//!
//! Every change goes through a method of [`StoreData`] so that the REST API, the control API and
//! live mode behave the same way; each method appends the webhook [`Event`]s the change fires to
//! `events`, which the caller hands to the dispatcher after releasing the lock.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SubsecRound, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::model::*;

/// The sandbox clock: BigCommerce's v2 dates have one-second resolution.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// Something that happened in the store that webhooks may report.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Webhook scope, e.g. `store/order/created`.
    pub scope: String,
    /// The `data` object of the callback payload (`{type, id, ...}`).
    pub data: Value,
}

impl Event {
    fn new(scope: &str, data: Value) -> Event {
        Event {
            scope: scope.to_string(),
            data,
        }
    }
}

/// A change BigCommerce would refuse, with the status code and message it would answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub status: u16,
    pub message: String,
}

impl RuleError {
    pub fn bad_request(message: impl Into<String>) -> RuleError {
        RuleError {
            status: 400,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> RuleError {
        RuleError {
            status: 404,
            message: message.into(),
        }
    }
    pub fn unprocessable(message: impl Into<String>) -> RuleError {
        RuleError {
            status: 422,
            message: message.into(),
        }
    }
}

/// An order to place: what a shopper checked out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewOrder {
    pub customer_id: Option<u64>,
    pub status_id: Option<u32>,
    pub billing_address: Option<Address>,
    /// One entry per shipping address; lines name the address by index.
    pub shipping_addresses: Vec<Address>,
    pub lines: Vec<NewOrderLine>,
    pub date_created: Option<DateTime<Utc>>,
    pub payment_method: Option<String>,
    pub customer_message: Option<String>,
}

/// A line of a [`NewOrder`], by SKU.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewOrderLine {
    pub sku: String,
    pub quantity: u32,
    /// Index into `shipping_addresses` (default 0).
    #[serde(default)]
    pub address_index: usize,
    /// Modifiers the shopper filled in (text fields, checkboxes, pick lists), beside the
    /// variant's own options.
    #[serde(default)]
    pub modifiers: Vec<NewModifier>,
}

/// A modifier chosen for an order line: `value` is the text of a text field, else the label of
/// the chosen value (`Yes`), which gets an option value id of its own.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewModifier {
    pub name: String,
    #[serde(default = "text_field")]
    pub kind: OptionKind,
    pub value: String,
}

fn text_field() -> OptionKind {
    OptionKind::TextField
}

/// A change to an order (`PUT /v2/orders/{id}`, fields the sandbox understands).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OrderUpdate {
    pub status_id: Option<u32>,
    pub is_deleted: Option<bool>,
    pub staff_notes: Option<String>,
    pub customer_message: Option<String>,
    pub payment_method: Option<String>,
    pub billing_address: Option<Value>,
}

/// A shipment request (`POST /v2/orders/{id}/shipments`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewShipment {
    pub order_address_id: u64,
    pub tracking_number: String,
    pub merchant_shipping_cost: Option<Decimal>,
    pub shipping_method: String,
    pub shipping_provider: String,
    pub tracking_carrier: String,
    pub tracking_link: String,
    pub comments: String,
    pub items: Vec<(u64, u32)>,
}

/// A change to a shipment (`PUT /v2/orders/{id}/shipments/{id}`): items cannot change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ShipmentUpdate {
    pub order_address_id: Option<u64>,
    pub tracking_number: Option<String>,
    pub merchant_shipping_cost: Option<Decimal>,
    pub shipping_method: Option<String>,
    pub shipping_provider: Option<String>,
    pub tracking_carrier: Option<String>,
    pub tracking_link: Option<String>,
    pub comments: Option<String>,
}

/// A change to a product's stock or price (catalog batch update).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProductUpdate {
    pub id: u64,
    pub inventory_level: Option<i64>,
    pub inventory_warning_level: Option<i64>,
    pub inventory_tracking: Option<InventoryTracking>,
    pub price: Option<Decimal>,
    pub name: Option<String>,
    pub sku: Option<String>,
    pub is_visible: Option<bool>,
}

/// A change to a variant (variants batch update).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VariantUpdate {
    pub id: u64,
    pub inventory_level: Option<i64>,
    pub inventory_warning_level: Option<i64>,
    pub price: Option<Decimal>,
    pub sku: Option<String>,
}

/// Where a SKU lives in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkuLocation {
    pub product_id: u64,
    pub variant_id: u64,
}

/// All data of one store.
#[derive(Debug)]
pub struct StoreData {
    pub hash: String,
    pub profile: StoreProfile,
    pub accounts: Vec<ApiAccount>,
    pub orders: BTreeMap<u64, Order>,
    pub products: BTreeMap<u64, Product>,
    pub hooks: BTreeMap<u64, Hook>,
    pub skus: HashMap<String, SkuLocation>,
    next_order_id: u64,
    next_line_id: u64,
    next_address_id: u64,
    next_shipment_id: u64,
    pub(crate) next_product_id: u64,
    pub(crate) next_variant_id: u64,
    next_hook_id: u64,
    next_customer_id: u64,
    /// Ids of order-line modifiers (an option id, then a value id), kept apart from the
    /// generator's option ids.
    next_modifier_id: u64,
}

impl StoreData {
    /// An empty store. Ids start where a new BigCommerce store's do (orders at 100).
    pub fn new(hash: &str, profile: StoreProfile, accounts: Vec<ApiAccount>) -> StoreData {
        StoreData {
            hash: hash.to_string(),
            profile,
            accounts,
            orders: BTreeMap::new(),
            products: BTreeMap::new(),
            hooks: BTreeMap::new(),
            skus: HashMap::new(),
            next_order_id: 100,
            next_line_id: 1,
            next_address_id: 1,
            next_shipment_id: 1,
            next_product_id: 77,
            next_variant_id: 1,
            next_hook_id: 20_000_000,
            next_customer_id: 1,
            next_modifier_id: 500_000,
        }
    }

    /// The account whose access token this is.
    pub fn account_by_token(&self, token: &str) -> Option<&ApiAccount> {
        self.accounts.iter().find(|a| a.access_token == token)
    }

    /// The account with this client id.
    pub fn account_by_client_id(&self, client_id: &str) -> Option<&ApiAccount> {
        self.accounts.iter().find(|a| a.client_id == client_id)
    }

    /// Adds a product and indexes its SKUs. Ids are assigned here; a product without
    /// variants gets its base variant.
    pub fn add_product(&mut self, mut product: Product) -> u64 {
        product.id = self.next_product_id;
        self.next_product_id += 1;
        if product.variants.is_empty() {
            product.variants.push(Variant {
                id: 0,
                product_id: 0,
                sku: product.sku.clone(),
                sku_id: None,
                price: None,
                weight: None,
                inventory_level: product.inventory_level,
                inventory_warning_level: 0,
                upc: String::new(),
                option_values: Vec::new(),
            });
        }
        for variant in &mut product.variants {
            variant.id = self.next_variant_id;
            self.next_variant_id += 1;
            variant.product_id = product.id;
            if !variant.option_values.is_empty() {
                variant.sku_id = Some(variant.id);
            }
            self.skus.insert(
                variant.sku.clone(),
                SkuLocation {
                    product_id: product.id,
                    variant_id: variant.id,
                },
            );
        }
        let id = product.id;
        self.products.insert(id, product);
        id
    }

    /// Places an order as a checkout would: prices from the catalog, stock decremented by the
    /// product's tracking mode, `store/order/created` fired.
    pub fn place_order(
        &mut self,
        new: NewOrder,
        events: &mut Vec<Event>,
    ) -> Result<u64, RuleError> {
        if new.lines.is_empty() {
            return Err(RuleError::bad_request(
                "An order needs at least one product.",
            ));
        }
        let created = new.date_created.unwrap_or_else(now);
        let billing = new.billing_address.unwrap_or_default();
        let mut ship_to = new.shipping_addresses;
        if ship_to.is_empty() {
            ship_to.push(billing.clone());
        }
        let order_id = self.next_order_id;
        let mut addresses = Vec::with_capacity(ship_to.len());
        for address in ship_to {
            let id = self.next_address_id;
            self.next_address_id += 1;
            let (method, cost) = if address.country_iso2 == "CA" {
                ("Canada Post Expedited", Decimal::new(1495, 2))
            } else {
                ("UPS Ground", Decimal::new(995, 2))
            };
            addresses.push(ShippingAddress {
                id,
                shipping_zone_name: address.country.clone(),
                address,
                shipping_method: method.to_string(),
                base_cost: cost,
                cost_ex_tax: cost,
                cost_inc_tax: cost,
                cost_tax: Decimal::ZERO,
                shipping_zone_id: 1,
            });
        }
        let mut lines = Vec::with_capacity(new.lines.len());
        for line in &new.lines {
            let location = *self.skus.get(&line.sku).ok_or_else(|| {
                RuleError::bad_request(format!("The SKU '{}' does not exist.", line.sku))
            })?;
            let address = addresses.get(line.address_index).ok_or_else(|| {
                RuleError::bad_request(format!(
                    "The line for SKU '{}' names shipping address {} but the order has {}.",
                    line.sku,
                    line.address_index,
                    addresses.len()
                ))
            })?;
            if line.quantity == 0 {
                return Err(RuleError::bad_request("The quantity must be at least 1."));
            }
            let product = &self.products[&location.product_id];
            let variant = product
                .variants
                .iter()
                .find(|v| v.id == location.variant_id)
                .expect("SKU index points at an existing variant");
            let price = variant.price.unwrap_or(product.price);
            let tax = (price * Decimal::new(5, 2)).round_dp(4);
            let mut name = product.name.clone();
            if !variant.option_values.is_empty() {
                let labels: Vec<&str> = variant
                    .option_values
                    .iter()
                    .map(|o| o.label.as_str())
                    .collect();
                name = format!("{} - {}", name, labels.join(", "));
            }
            let mut options: Vec<LineOption> = variant
                .option_values
                .iter()
                .map(|o| LineOption {
                    option_id: o.option_id,
                    kind: o.kind,
                    display_name: o.option_display_name.clone(),
                    display_value: o.label.clone(),
                    value_id: Some(o.id),
                })
                .collect();
            for modifier in &line.modifiers {
                let option_id = self.next_modifier_id;
                let value_id = (modifier.kind != OptionKind::TextField).then_some(option_id + 1);
                self.next_modifier_id += 2;
                options.push(LineOption {
                    option_id,
                    kind: modifier.kind,
                    display_name: modifier.name.clone(),
                    display_value: modifier.value.clone(),
                    value_id,
                });
            }
            lines.push(OrderLine {
                id: self.next_line_id,
                product_id: product.id,
                variant_id: variant.id,
                order_address_id: address.id,
                name,
                sku: variant.sku.clone(),
                base_price: price,
                price_ex_tax: price,
                price_inc_tax: price + tax,
                price_tax: tax,
                quantity: line.quantity,
                quantity_shipped: 0,
                quantity_refunded: 0,
                weight: variant.weight.unwrap_or(product.weight),
                options,
            });
            self.next_line_id += 1;
        }
        for line in &lines {
            self.adjust_stock(
                line.product_id,
                line.variant_id,
                -(line.quantity as i64),
                created,
                events,
            );
        }
        let customer_id = new.customer_id.unwrap_or_else(|| {
            self.next_customer_id += 1;
            self.next_customer_id - 1
        });
        let status_id = new.status_id.unwrap_or(status::AWAITING_FULFILLMENT);
        if status_name(status_id).is_none() {
            return Err(RuleError::bad_request(format!(
                "The status id {status_id} is not valid."
            )));
        }
        let order = Order {
            id: order_id,
            customer_id,
            date_created: created,
            date_modified: created,
            date_shipped: None,
            status_id,
            is_deleted: false,
            currency_code: self.profile.currency.clone(),
            payment_method: new
                .payment_method
                .unwrap_or_else(|| "Credit Card".to_string()),
            payment_status: "captured".to_string(),
            customer_message: new.customer_message.unwrap_or_default(),
            staff_notes: String::new(),
            billing_address: billing,
            shipping_addresses: addresses,
            lines,
            shipments: Vec::new(),
            discount_amount: Decimal::ZERO,
            cart_id: format!("{:08x}-0000-4000-8000-{:012x}", order_id, order_id * 7919),
            ip_address: "203.0.113.10".to_string(),
        };
        self.next_order_id += 1;
        self.orders.insert(order_id, order);
        events.push(Event::new(
            "store/order/created",
            json!({"type": "order", "id": order_id}),
        ));
        Ok(order_id)
    }

    fn adjust_stock(
        &mut self,
        product_id: u64,
        variant_id: u64,
        delta: i64,
        at: DateTime<Utc>,
        events: &mut Vec<Event>,
    ) {
        let Some(product) = self.products.get_mut(&product_id) else {
            return;
        };
        match product.inventory_tracking {
            InventoryTracking::None => return,
            InventoryTracking::Product => {
                product.inventory_level = (product.inventory_level + delta).max(0);
                // A simple product's base variant and the product share one stock figure.
                if let [base] = product.variants.as_mut_slice() {
                    if base.option_values.is_empty() {
                        base.inventory_level = product.inventory_level;
                    }
                }
                events.push(Event::new(
                    "store/product/inventory/order/updated",
                    json!({"type": "product", "id": product_id, "inventory": {"product_id": product_id, "method": "relative", "value": delta}}),
                ));
            }
            InventoryTracking::Variant => {
                if let Some(variant) = product.variants.iter_mut().find(|v| v.id == variant_id) {
                    variant.inventory_level = (variant.inventory_level + delta).max(0);
                    events.push(Event::new(
                        "store/sku/inventory/order/updated",
                        json!({"type": "sku", "id": variant.sku_id.unwrap_or(variant.id), "inventory": {"product_id": product_id, "method": "relative", "value": delta, "variant_id": variant_id}}),
                    ));
                }
            }
        }
        product.date_modified = product.date_modified.max(at);
    }

    /// Applies `PUT /v2/orders/{id}`.
    pub fn update_order(
        &mut self,
        id: u64,
        update: OrderUpdate,
        events: &mut Vec<Event>,
    ) -> Result<(), RuleError> {
        let order = self
            .orders
            .get_mut(&id)
            .ok_or_else(|| RuleError::not_found("The requested resource was not found."))?;
        let at = now();
        let mut changed = false;
        if let Some(status_id) = update.status_id {
            if status_name(status_id).is_none() {
                return Err(RuleError::bad_request(format!(
                    "The field 'status_id' is invalid: {status_id} is not an order status id."
                )));
            }
            if status_id != order.status_id {
                let previous = order.status_id;
                order.status_id = status_id;
                changed = true;
                events.push(Event::new(
                    "store/order/statusUpdated",
                    json!({"type": "order", "id": id, "status": {"previous_status_id": previous, "new_status_id": status_id}}),
                ));
            }
        }
        if let Some(deleted) = update.is_deleted {
            if deleted != order.is_deleted {
                order.is_deleted = deleted;
                changed = true;
                if deleted {
                    events.push(Event::new(
                        "store/order/archived",
                        json!({"type": "order", "id": id}),
                    ));
                }
            }
        }
        if let Some(notes) = update.staff_notes {
            changed |= notes != order.staff_notes;
            order.staff_notes = notes;
        }
        if let Some(message) = update.customer_message {
            changed |= message != order.customer_message;
            order.customer_message = message;
        }
        if let Some(method) = update.payment_method {
            changed |= method != order.payment_method;
            order.payment_method = method;
        }
        if let Some(Value::Object(fields)) = update.billing_address {
            let mut billing = serde_json::to_value(&order.billing_address).unwrap_or(Value::Null);
            if let Value::Object(current) = &mut billing {
                for (k, v) in fields {
                    if current.contains_key(&k) {
                        current.insert(k, v);
                    }
                }
            }
            if let Ok(address) = serde_json::from_value(billing) {
                order.billing_address = address;
                changed = true;
            }
        }
        if changed {
            order.date_modified = at.max(order.date_modified);
            events.push(Event::new(
                "store/order/updated",
                json!({"type": "order", "id": id}),
            ));
        }
        Ok(())
    }

    /// Marks an order modified without other change (the store "touching" it).
    pub fn touch_order(&mut self, id: u64, events: &mut Vec<Event>) -> Result<(), RuleError> {
        let order = self
            .orders
            .get_mut(&id)
            .ok_or_else(|| RuleError::not_found("The requested resource was not found."))?;
        order.date_modified = now().max(order.date_modified);
        events.push(Event::new(
            "store/order/updated",
            json!({"type": "order", "id": id}),
        ));
        Ok(())
    }

    /// Applies `POST /v2/orders/{id}/shipments` with BigCommerce's validation and effects.
    pub fn create_shipment(
        &mut self,
        order_id: u64,
        new: NewShipment,
        events: &mut Vec<Event>,
    ) -> Result<u64, RuleError> {
        let order = self
            .orders
            .get_mut(&order_id)
            .ok_or_else(|| RuleError::not_found("The requested resource was not found."))?;
        if matches!(
            order.status_id,
            status::CANCELLED | status::DECLINED | status::REFUNDED
        ) {
            return Err(RuleError::bad_request(format!(
                "The order is {} and cannot be shipped.",
                status_name(order.status_id).unwrap_or("closed")
            )));
        }
        if !order
            .shipping_addresses
            .iter()
            .any(|a| a.id == new.order_address_id)
        {
            return Err(RuleError::bad_request(
                "The field 'order_address_id' is invalid: it is not a shipping address of this order.",
            ));
        }
        if new.items.is_empty() {
            return Err(RuleError::bad_request("The field 'items' is required."));
        }
        let mut requested: BTreeMap<u64, u32> = BTreeMap::new();
        for (line_id, quantity) in &new.items {
            *requested.entry(*line_id).or_default() += quantity;
        }
        let mut items = Vec::new();
        for (line_id, quantity) in &requested {
            let line = order.lines.iter().find(|l| l.id == *line_id).ok_or_else(|| {
                RuleError::bad_request(format!(
                    "The field 'order_product_id' is invalid: {line_id} is not a product of this order."
                ))
            })?;
            if line.order_address_id != new.order_address_id {
                return Err(RuleError::bad_request(format!(
                    "The order product {line_id} does not ship to address {}.",
                    new.order_address_id
                )));
            }
            if *quantity == 0 {
                return Err(RuleError::bad_request(
                    "The field 'quantity' must be at least 1.",
                ));
            }
            if *quantity > line.remaining() {
                return Err(RuleError::bad_request(format!(
                    "The quantity specified for order product {line_id} is greater than the quantity remaining to ship ({}).",
                    line.remaining()
                )));
            }
            items.push(ShipmentItem {
                order_product_id: *line_id,
                product_id: line.product_id,
                quantity: *quantity,
            });
        }
        for item in &items {
            if let Some(line) = order
                .lines
                .iter_mut()
                .find(|l| l.id == item.order_product_id)
            {
                line.quantity_shipped += item.quantity;
            }
        }
        let at = now();
        let shipment_id = self.next_shipment_id;
        self.next_shipment_id += 1;
        order.shipments.push(Shipment {
            id: shipment_id,
            order_address_id: new.order_address_id,
            date_created: at,
            tracking_number: new.tracking_number,
            merchant_shipping_cost: new.merchant_shipping_cost.unwrap_or(Decimal::ZERO),
            shipping_method: new.shipping_method,
            shipping_provider: new.shipping_provider,
            tracking_carrier: new.tracking_carrier,
            tracking_link: new.tracking_link,
            comments: new.comments,
            items,
        });
        let previous = order.status_id;
        let fully_shipped = order.lines.iter().all(|l| l.remaining() == 0);
        order.status_id = if fully_shipped {
            status::SHIPPED
        } else {
            status::PARTIALLY_SHIPPED
        };
        if fully_shipped {
            order.date_shipped = Some(at);
        }
        order.date_modified = at.max(order.date_modified);
        events.push(Event::new(
            "store/shipment/created",
            json!({"type": "shipment", "id": shipment_id, "orderId": order_id}),
        ));
        if previous != order.status_id {
            events.push(Event::new(
                "store/order/statusUpdated",
                json!({"type": "order", "id": order_id, "status": {"previous_status_id": previous, "new_status_id": order.status_id}}),
            ));
        }
        events.push(Event::new(
            "store/order/updated",
            json!({"type": "order", "id": order_id}),
        ));
        Ok(shipment_id)
    }

    /// Applies `PUT /v2/orders/{id}/shipments/{id}` (tracking details only).
    pub fn update_shipment(
        &mut self,
        order_id: u64,
        shipment_id: u64,
        update: ShipmentUpdate,
        events: &mut Vec<Event>,
    ) -> Result<(), RuleError> {
        let order = self
            .orders
            .get_mut(&order_id)
            .ok_or_else(|| RuleError::not_found("The requested resource was not found."))?;
        if let Some(address_id) = update.order_address_id {
            if !order.shipping_addresses.iter().any(|a| a.id == address_id) {
                return Err(RuleError::bad_request(
                    "The field 'order_address_id' is invalid.",
                ));
            }
        }
        let shipment = order
            .shipments
            .iter_mut()
            .find(|s| s.id == shipment_id)
            .ok_or_else(|| RuleError::not_found("The requested resource was not found."))?;
        if let Some(v) = update.order_address_id {
            shipment.order_address_id = v;
        }
        if let Some(v) = update.tracking_number {
            shipment.tracking_number = v;
        }
        if let Some(v) = update.merchant_shipping_cost {
            shipment.merchant_shipping_cost = v;
        }
        if let Some(v) = update.shipping_method {
            shipment.shipping_method = v;
        }
        if let Some(v) = update.shipping_provider {
            shipment.shipping_provider = v;
        }
        if let Some(v) = update.tracking_carrier {
            shipment.tracking_carrier = v;
        }
        if let Some(v) = update.tracking_link {
            shipment.tracking_link = v;
        }
        if let Some(v) = update.comments {
            shipment.comments = v;
        }
        order.date_modified = now().max(order.date_modified);
        events.push(Event::new(
            "store/shipment/updated",
            json!({"type": "shipment", "id": shipment_id, "orderId": order_id}),
        ));
        Ok(())
    }

    /// Applies `DELETE /v2/orders/{id}/shipments/{id}`. As in BigCommerce, the shipped
    /// quantities return to the lines but the order keeps its status.
    pub fn delete_shipment(
        &mut self,
        order_id: u64,
        shipment_id: u64,
        events: &mut Vec<Event>,
    ) -> Result<(), RuleError> {
        let order = self
            .orders
            .get_mut(&order_id)
            .ok_or_else(|| RuleError::not_found("The requested resource was not found."))?;
        let index = order
            .shipments
            .iter()
            .position(|s| s.id == shipment_id)
            .ok_or_else(|| RuleError::not_found("The requested resource was not found."))?;
        let shipment = order.shipments.remove(index);
        for item in shipment.items {
            if let Some(line) = order
                .lines
                .iter_mut()
                .find(|l| l.id == item.order_product_id)
            {
                line.quantity_shipped = line.quantity_shipped.saturating_sub(item.quantity);
            }
        }
        order.date_modified = now().max(order.date_modified);
        events.push(Event::new(
            "store/shipment/deleted",
            json!({"type": "shipment", "id": shipment_id, "orderId": order_id}),
        ));
        Ok(())
    }

    /// Applies one product of a catalog batch update.
    pub fn update_product(
        &mut self,
        update: &ProductUpdate,
        events: &mut Vec<Event>,
    ) -> Result<(), RuleError> {
        let at = now();
        let product = self.products.get_mut(&update.id).ok_or_else(|| {
            RuleError::unprocessable(format!("Product {} does not exist.", update.id))
        })?;
        if let Some(level) = update.inventory_level {
            if level < 0 {
                return Err(RuleError::unprocessable(
                    "inventory_level must be greater than or equal to 0.",
                ));
            }
        }
        if let Some(tracking) = update.inventory_tracking {
            product.inventory_tracking = tracking;
        }
        if let Some(level) = update.inventory_level {
            if product.inventory_level != level {
                product.inventory_level = level;
                if product.inventory_tracking == InventoryTracking::Product {
                    events.push(Event::new(
                        "store/product/inventory/updated",
                        json!({"type": "product", "id": product.id, "inventory": {"product_id": product.id, "method": "absolute", "value": level}}),
                    ));
                }
            }
        }
        if let Some(v) = update.inventory_warning_level {
            product.inventory_warning_level = v;
        }
        if let Some(v) = update.price {
            product.price = v;
        }
        if let Some(v) = &update.name {
            product.name = v.clone();
        }
        if let Some(v) = update.is_visible {
            product.is_visible = v;
        }
        if let Some(sku) = &update.sku {
            if product.variants.len() == 1 && product.variants[0].option_values.is_empty() {
                self.skus.remove(&product.sku);
                product.sku = sku.clone();
                product.variants[0].sku = sku.clone();
                self.skus.insert(
                    sku.clone(),
                    SkuLocation {
                        product_id: product.id,
                        variant_id: product.variants[0].id,
                    },
                );
            }
        }
        // The base variant of a simple product mirrors the product's stock.
        if product.variants.len() == 1 && product.variants[0].option_values.is_empty() {
            product.variants[0].inventory_level = product.inventory_level;
        }
        product.date_modified = at.max(product.date_modified);
        events.push(Event::new(
            "store/product/updated",
            json!({"type": "product", "id": product.id}),
        ));
        Ok(())
    }

    /// Applies one variant of a variants batch update.
    pub fn update_variant(
        &mut self,
        update: &VariantUpdate,
        events: &mut Vec<Event>,
    ) -> Result<u64, RuleError> {
        let at = now();
        if let Some(level) = update.inventory_level {
            if level < 0 {
                return Err(RuleError::unprocessable(
                    "inventory_level must be greater than or equal to 0.",
                ));
            }
        }
        let product = self
            .products
            .values_mut()
            .find(|p| p.variants.iter().any(|v| v.id == update.id))
            .ok_or_else(|| {
                RuleError::unprocessable(format!("Variant {} does not exist.", update.id))
            })?;
        let tracking = product.inventory_tracking;
        let product_id = product.id;
        let variant = product
            .variants
            .iter_mut()
            .find(|v| v.id == update.id)
            .expect("found above");
        if let Some(level) = update.inventory_level {
            if variant.inventory_level != level {
                variant.inventory_level = level;
                if tracking == InventoryTracking::Variant {
                    events.push(Event::new(
                        "store/sku/inventory/updated",
                        json!({"type": "sku", "id": variant.sku_id.unwrap_or(variant.id), "inventory": {"product_id": product_id, "method": "absolute", "value": level, "variant_id": variant.id}}),
                    ));
                }
            }
        }
        if let Some(v) = update.inventory_warning_level {
            variant.inventory_warning_level = v;
        }
        if let Some(v) = update.price {
            variant.price = Some(v);
        }
        if let Some(sku) = &update.sku {
            self.skus.remove(&variant.sku);
            variant.sku = sku.clone();
            self.skus.insert(
                sku.clone(),
                SkuLocation {
                    product_id,
                    variant_id: variant.id,
                },
            );
        }
        // A simple product's base variant and the product share one stock figure.
        if product.variants.len() == 1 && product.variants[0].option_values.is_empty() {
            product.inventory_level = product.variants[0].inventory_level;
        }
        product.date_modified = at.max(product.date_modified);
        events.push(Event::new(
            "store/product/updated",
            json!({"type": "product", "id": product_id}),
        ));
        Ok(product_id)
    }

    /// Creates a webhook for the account with this client id.
    pub fn create_hook(&mut self, mut hook: Hook) -> Hook {
        hook.id = self.next_hook_id;
        self.next_hook_id += 1;
        let ts = now().timestamp();
        hook.created_at = ts;
        hook.updated_at = ts;
        self.hooks.insert(hook.id, hook.clone());
        hook
    }
}
