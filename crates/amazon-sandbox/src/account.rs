//! The seller account and its rules: placing orders, payment authorisation, cancellations, the
//! buyer's cancellation requests, shipment confirmation and listing quantities. Every change
//! that Amazon would announce with an `ORDER_CHANGE` notification is returned as an
//! [`OrderChange`] for the caller to publish after the account's lock is released.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::generate;
use crate::model::{
    FulfillmentChannel, Listing, Order, OrderItem, OrderStatus, Package, PackageItem,
};

/// Why a change was refused; the API layer turns it into Amazon's error body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// No such order or listing (404 `NotFound`).
    #[error("{0}")]
    NotFound(String),
    /// The request breaks a rule (400 `InvalidInput`).
    #[error("{0}")]
    Invalid(String),
}

/// The `OrderChangeType` of an `ORDER_CHANGE` notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeType {
    /// The order's status changed (including its creation).
    OrderStatusChange,
    /// The buyer asked for something, such as a cancellation.
    BuyerRequestedChange,
}

/// A change Amazon announces, with the order as it is after the change.
#[derive(Debug, Clone)]
pub struct OrderChange {
    pub change_type: ChangeType,
    pub order: Order,
    pub at: DateTime<Utc>,
}

/// An order to place through the control API (a buyer checking out).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NewOrder {
    /// `MFN` (default) or `AFN`.
    pub fulfillment_channel: Option<FulfillmentChannel>,
    /// Lines by SKU; one to three random listings when empty.
    pub items: Vec<NewOrderItem>,
    /// `Pending` (default: payment not yet authorised) or `Unshipped`.
    pub status: Option<OrderStatus>,
    /// Backdates the order (a test tool: Amazon's eventual consistency can also surface an
    /// order late). Default: now.
    pub purchase_date: Option<DateTime<Utc>>,
}

/// One line of a [`NewOrder`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewOrderItem {
    pub sku: String,
    pub quantity: u32,
}

/// A validated `confirmShipment` request.
#[derive(Debug, Clone)]
pub struct ShipmentConfirmation {
    pub marketplace_id: String,
    pub package_reference_id: String,
    pub carrier_code: String,
    pub carrier_name: Option<String>,
    pub shipping_method: Option<String>,
    pub tracking_number: String,
    pub ship_date: DateTime<Utc>,
    pub items: Vec<PackageItem>,
}

/// The seller's orders and listings.
#[derive(Debug)]
pub struct SellerAccount {
    pub seller_id: String,
    pub marketplace_id: String,
    pub currency: String,
    orders: Vec<Order>,
    by_id: HashMap<String, usize>,
    pub listings: BTreeMap<String, Listing>,
    next_item_id: u64,
    rng: ChaCha8Rng,
}

impl SellerAccount {
    /// An empty account.
    pub fn new(seller_id: &str, marketplace_id: &str, currency: &str, seed: u64) -> SellerAccount {
        SellerAccount {
            seller_id: seller_id.to_string(),
            marketplace_id: marketplace_id.to_string(),
            currency: currency.to_string(),
            orders: Vec::new(),
            by_id: HashMap::new(),
            listings: BTreeMap::new(),
            next_item_id: 10_000_000_000_000 + (seed % 1_000_000) * 1_000_000,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xa11a_5eed),
        }
    }

    /// Every order, in the order they were added.
    pub fn orders(&self) -> &[Order] {
        &self.orders
    }

    /// The order with this id.
    pub fn order(&self, id: &str) -> Option<&Order> {
        self.by_id.get(id).map(|&i| &self.orders[i])
    }

    fn order_mut(&mut self, id: &str) -> Result<&mut Order, RuleError> {
        match self.by_id.get(id) {
            Some(&i) => Ok(&mut self.orders[i]),
            None => Err(RuleError::NotFound(format!("Order {id} was not found."))),
        }
    }

    /// A fresh order item id (fourteen digits).
    pub fn next_order_item_id(&mut self) -> String {
        self.next_item_id += 1 + self.rng.gen_range(0..997);
        self.next_item_id.to_string()
    }

    /// A fresh order id in Amazon's 3-7-7 form.
    pub fn next_order_id(&mut self) -> String {
        loop {
            let id = generate::order_id(&mut self.rng);
            if !self.by_id.contains_key(&id) {
                return id;
            }
        }
    }

    /// Adds a fully built order (the generator's path).
    pub fn insert(&mut self, order: Order) {
        self.by_id
            .insert(order.amazon_order_id.clone(), self.orders.len());
        self.orders.push(order);
    }

    /// Places an order as a buyer's checkout does: lines priced from the listings, the
    /// merchant-fulfilled quantity taken from stock.
    pub fn place_order(
        &mut self,
        new: NewOrder,
        now: DateTime<Utc>,
    ) -> Result<OrderChange, RuleError> {
        let channel = new.fulfillment_channel.unwrap_or(FulfillmentChannel::Mfn);
        let status = new.status.unwrap_or(OrderStatus::Pending);
        if !matches!(status, OrderStatus::Pending | OrderStatus::Unshipped) {
            return Err(RuleError::Invalid(
                "A new order is Pending or Unshipped.".to_string(),
            ));
        }
        let lines: Vec<(String, u32)> = if new.items.is_empty() {
            let skus: Vec<String> = self
                .listings
                .values()
                .filter(|l| channel == FulfillmentChannel::Afn || l.quantity > 0)
                .map(|l| l.sku.clone())
                .collect();
            if skus.is_empty() {
                return Err(RuleError::Invalid("No listing has stock to sell.".into()));
            }
            let count = self.rng.gen_range(1..=3.min(skus.len()));
            let mut picked = Vec::new();
            while picked.len() < count {
                let sku = skus[self.rng.gen_range(0..skus.len())].clone();
                if !picked.iter().any(|(s, _)| *s == sku) {
                    picked.push((sku, 1));
                }
            }
            picked
        } else {
            new.items
                .iter()
                .map(|i| (i.sku.clone(), i.quantity))
                .collect()
        };
        for (sku, quantity) in &lines {
            let Some(listing) = self.listings.get(sku) else {
                return Err(RuleError::Invalid(format!("No listing has SKU {sku}.")));
            };
            if *quantity == 0 {
                return Err(RuleError::Invalid(format!("Quantity of {sku} is 0.")));
            }
            if channel == FulfillmentChannel::Mfn && listing.quantity < *quantity {
                return Err(RuleError::Invalid(format!(
                    "SKU {sku} has {} available, {quantity} ordered.",
                    listing.quantity
                )));
            }
        }
        let purchase = new.purchase_date.unwrap_or(now).min(now);
        let mut items = Vec::new();
        for (sku, quantity) in &lines {
            let listing = self.listings.get_mut(sku).expect("checked above");
            if channel == FulfillmentChannel::Mfn {
                listing.quantity -= quantity;
                listing.last_updated = now;
            }
            let listing = listing.clone();
            let id = self.next_order_item_id();
            items.push(generate::item_for(&listing, *quantity, id));
        }
        let id = self.next_order_id();
        let mut order = generate::order_shell(
            &mut self.rng,
            &self.marketplace_id,
            &self.currency,
            id,
            purchase,
            channel,
            items,
        );
        order.status = status;
        order.last_update_date = now;
        let change = OrderChange {
            change_type: ChangeType::OrderStatusChange,
            order: order.clone(),
            at: now,
        };
        self.insert(order);
        Ok(change)
    }

    /// Moves an order one step the way Amazon does: payment authorised (`Pending` →
    /// `Unshipped`, the address released), or for Amazon-fulfilled orders Amazon ships
    /// (`Unshipped` → `Shipped`). A merchant-fulfilled order ships only by `confirmShipment`.
    pub fn advance_order(
        &mut self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<OrderChange, RuleError> {
        let order = self.order_mut(id)?;
        match (order.status, order.fulfillment_channel) {
            (OrderStatus::Pending, _) => order.status = OrderStatus::Unshipped,
            (OrderStatus::Unshipped, FulfillmentChannel::Afn) => {
                let items: Vec<PackageItem> = order
                    .items
                    .iter()
                    .map(|i| PackageItem {
                        order_item_id: i.order_item_id.clone(),
                        quantity: i.quantity_ordered,
                    })
                    .collect();
                for item in order.items.iter_mut() {
                    item.quantity_shipped = item.quantity_ordered;
                }
                order.packages.push(Package {
                    package_reference_id: "1".to_string(),
                    carrier_code: "AMZN_CA".to_string(),
                    carrier_name: Some("Amazon Shipping".to_string()),
                    shipping_method: None,
                    tracking_number: format!(
                        "TBC{}",
                        &order.amazon_order_id.replace('-', "")[..12]
                    ),
                    ship_date: now,
                    items,
                    confirmed_at: now,
                });
                order.status = OrderStatus::Shipped;
            }
            (status, channel) => {
                return Err(RuleError::Invalid(format!(
                    "A {} {status} order does not advance on its own.",
                    channel.as_str()
                )))
            }
        }
        order.last_update_date = now;
        Ok(OrderChange {
            change_type: ChangeType::OrderStatusChange,
            order: order.clone(),
            at: now,
        })
    }

    /// Cancels an order nothing of which has shipped (the buyer before payment, the seller, or
    /// Amazon); merchant-fulfilled stock goes back to the listings.
    pub fn cancel_order(&mut self, id: &str, now: DateTime<Utc>) -> Result<OrderChange, RuleError> {
        let order = self.order_mut(id)?;
        if !matches!(order.status, OrderStatus::Pending | OrderStatus::Unshipped) {
            return Err(RuleError::Invalid(format!(
                "Order {id} is {}; only Pending and Unshipped orders can be cancelled.",
                order.status
            )));
        }
        order.status = OrderStatus::Canceled;
        order.last_update_date = now;
        let order = order.clone();
        if order.fulfillment_channel == FulfillmentChannel::Mfn {
            for item in &order.items {
                if let Some(listing) = self.listings.get_mut(&item.seller_sku) {
                    listing.quantity += item.quantity_ordered;
                    listing.last_updated = now;
                }
            }
        }
        Ok(OrderChange {
            change_type: ChangeType::OrderStatusChange,
            order,
            at: now,
        })
    }

    /// The buyer asks the seller to cancel: the order keeps its status, its items report
    /// `BuyerRequestedCancel`, and Amazon notifies a `BuyerRequestedChange`.
    pub fn request_cancellation(
        &mut self,
        id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<OrderChange, RuleError> {
        let order = self.order_mut(id)?;
        if !matches!(order.status, OrderStatus::Pending | OrderStatus::Unshipped) {
            return Err(RuleError::Invalid(format!(
                "Order {id} is {}; a buyer can ask to cancel only before anything ships.",
                order.status
            )));
        }
        order.buyer_cancel_reason = Some(reason.to_string());
        order.last_update_date = now;
        Ok(OrderChange {
            change_type: ChangeType::BuyerRequestedChange,
            order: order.clone(),
            at: now,
        })
    }

    /// `confirmShipment`: checks every rule before changing anything, then records the package,
    /// ships the quantities and sets `PartiallyShipped` or `Shipped`.
    pub fn confirm_shipment(
        &mut self,
        id: &str,
        confirmation: ShipmentConfirmation,
        now: DateTime<Utc>,
    ) -> Result<OrderChange, RuleError> {
        let order = self.order_mut(id)?;
        if confirmation.marketplace_id != order.marketplace_id {
            return Err(RuleError::Invalid(format!(
                "Order {id} was not placed in marketplace {}.",
                confirmation.marketplace_id
            )));
        }
        if order.fulfillment_channel == FulfillmentChannel::Afn {
            return Err(RuleError::Invalid(format!(
                "Order {id} is fulfilled by Amazon; only merchant-fulfilled orders are confirmed."
            )));
        }
        match order.status {
            OrderStatus::Canceled => {
                return Err(RuleError::Invalid(format!(
                    "Order {id} is Canceled; a cancelled order cannot be shipped."
                )))
            }
            OrderStatus::Pending => {
                return Err(RuleError::Invalid(format!(
                "Order {id} is Pending; it can be shipped once payment is authorised (Unshipped)."
            )))
            }
            OrderStatus::Shipped => {
                return Err(RuleError::Invalid(format!(
                    "Order {id} is Shipped; every item has already been confirmed."
                )))
            }
            OrderStatus::Unfulfillable => {
                return Err(RuleError::Invalid(format!("Order {id} is Unfulfillable.")))
            }
            OrderStatus::Unshipped | OrderStatus::PartiallyShipped => {}
        }
        let reference = &confirmation.package_reference_id;
        if reference.is_empty()
            || !reference.bytes().all(|b| b.is_ascii_digit())
            || reference.bytes().all(|b| b == b'0')
        {
            return Err(RuleError::Invalid(format!(
                "packageReferenceId '{reference}' is not a positive number."
            )));
        }
        if order.packages.iter().any(|p| {
            p.package_reference_id.trim_start_matches('0') == reference.trim_start_matches('0')
        }) {
            return Err(RuleError::Invalid(format!(
                "packageReferenceId {reference} has already been confirmed for order {id}."
            )));
        }
        if confirmation.items.is_empty() {
            return Err(RuleError::Invalid(
                "packageDetail.orderItems is empty.".into(),
            ));
        }
        let mut wanted: BTreeMap<&str, u32> = BTreeMap::new();
        for item in &confirmation.items {
            if item.quantity == 0 {
                return Err(RuleError::Invalid(format!(
                    "The quantity of order item {} must be at least 1.",
                    item.order_item_id
                )));
            }
            *wanted.entry(item.order_item_id.as_str()).or_default() += item.quantity;
        }
        for (item_id, quantity) in &wanted {
            let Some(item) = order.items.iter().find(|i| i.order_item_id == *item_id) else {
                return Err(RuleError::Invalid(format!(
                    "Order item {item_id} is not in order {id}."
                )));
            };
            if *quantity > item.remaining() {
                return Err(RuleError::Invalid(format!(
                    "Order item {item_id}: {quantity} confirmed, {} left to ship ({} ordered, {} shipped).",
                    item.remaining(),
                    item.quantity_ordered,
                    item.quantity_shipped
                )));
            }
        }
        for (item_id, quantity) in wanted {
            let item = order
                .items
                .iter_mut()
                .find(|i| i.order_item_id == item_id)
                .expect("checked above");
            item.quantity_shipped += quantity;
        }
        order.packages.push(Package {
            package_reference_id: confirmation.package_reference_id,
            carrier_code: confirmation.carrier_code,
            carrier_name: confirmation.carrier_name,
            shipping_method: confirmation.shipping_method,
            tracking_number: confirmation.tracking_number,
            ship_date: confirmation.ship_date,
            items: confirmation.items,
            confirmed_at: now,
        });
        order.status = if order.items_unshipped() == 0 {
            OrderStatus::Shipped
        } else {
            OrderStatus::PartiallyShipped
        };
        order.last_update_date = now;
        Ok(OrderChange {
            change_type: ChangeType::OrderStatusChange,
            order: order.clone(),
            at: now,
        })
    }

    /// Sets a listing's merchant-fulfilled quantity.
    pub fn set_quantity(
        &mut self,
        sku: &str,
        quantity: u32,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        let listing = self
            .listings
            .get_mut(sku)
            .ok_or_else(|| RuleError::NotFound(format!("SKU {sku} was not found.")))?;
        listing.quantity = quantity;
        listing.last_updated = now;
        Ok(())
    }

    /// Every package confirmed on any order, with its order id, oldest first.
    pub fn packages(&self) -> Vec<(String, Package)> {
        let mut all: Vec<(String, Package)> = self
            .orders
            .iter()
            .flat_map(|o| {
                o.packages
                    .iter()
                    .map(|p| (o.amazon_order_id.clone(), p.clone()))
            })
            .collect();
        all.sort_by_key(|(_, package)| package.confirmed_at);
        all
    }

    /// The random generator of ids and live-mode choices.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }
}

/// A line's unshipped quantities, for tests and the control API.
pub fn remaining(items: &[OrderItem]) -> u32 {
    items.iter().map(OrderItem::remaining).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MARKETPLACE_CA;

    fn account() -> (SellerAccount, DateTime<Utc>) {
        let now = crate::clock::parse_iso("2025-03-01T12:00:00Z").unwrap();
        let mut account = SellerAccount::new("A1SELLER", MARKETPLACE_CA, "CAD", 3);
        generate::populate(&mut account, 3, 5, 0, now);
        (account, now)
    }

    fn confirm(reference: &str, item: &str, quantity: u32) -> ShipmentConfirmation {
        ShipmentConfirmation {
            marketplace_id: MARKETPLACE_CA.into(),
            package_reference_id: reference.into(),
            carrier_code: "Canada Post".into(),
            carrier_name: None,
            shipping_method: None,
            tracking_number: "7023".into(),
            ship_date: crate::clock::parse_iso("2025-03-01T12:00:00Z").unwrap(),
            items: vec![PackageItem {
                order_item_id: item.into(),
                quantity,
            }],
        }
    }

    #[test]
    fn placing_takes_stock_and_cancelling_gives_it_back() {
        let (mut account, now) = account();
        let sku = account.listings.keys().next().unwrap().clone();
        account.set_quantity(&sku, 50, now).unwrap();
        let before = account.listings[&sku].quantity;
        let change = account
            .place_order(
                NewOrder {
                    items: vec![NewOrderItem {
                        sku: sku.clone(),
                        quantity: 2,
                    }],
                    ..NewOrder::default()
                },
                now,
            )
            .unwrap();
        assert_eq!(account.listings[&sku].quantity, before - 2);
        account
            .cancel_order(&change.order.amazon_order_id, now)
            .unwrap();
        assert_eq!(account.listings[&sku].quantity, before);
    }

    #[test]
    fn shipment_rules_are_checked_before_anything_changes() {
        let (mut account, now) = account();
        let sku = account.listings.keys().next().unwrap().clone();
        account.set_quantity(&sku, 50, now).unwrap();
        let placed = account
            .place_order(
                NewOrder {
                    items: vec![NewOrderItem { sku, quantity: 3 }],
                    ..NewOrder::default()
                },
                now,
            )
            .unwrap();
        let id = placed.order.amazon_order_id.clone();
        let item = placed.order.items[0].order_item_id.clone();
        assert!(matches!(
            account.confirm_shipment(&id, confirm("1", &item, 1), now),
            Err(RuleError::Invalid(m)) if m.contains("Pending")
        ));
        account.advance_order(&id, now).unwrap();
        account
            .confirm_shipment(&id, confirm("1", &item, 1), now)
            .unwrap();
        assert_eq!(
            account.order(&id).unwrap().status,
            OrderStatus::PartiallyShipped
        );
        assert!(account
            .confirm_shipment(&id, confirm("1", &item, 1), now)
            .is_err());
        assert!(account
            .confirm_shipment(&id, confirm("2", &item, 3), now)
            .is_err());
        assert!(account
            .confirm_shipment(&id, confirm("x", &item, 1), now)
            .is_err());
        assert_eq!(account.order(&id).unwrap().items[0].quantity_shipped, 1);
        account
            .confirm_shipment(&id, confirm("2", &item, 2), now)
            .unwrap();
        assert_eq!(account.order(&id).unwrap().status, OrderStatus::Shipped);
    }
}
