//! BigCommerce → domain: the one place where the client's models become storage records.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use bigcommerce_client::models::orders::{Consignments, OrderShippingAddress};
use bigcommerce_client::{Address, InventoryTracking as BcTracking, OrderWithLines, Product};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::storage::{
    AddressKind, FulfilmentState, InventoryTracking, NewOrderAddress, NewOrderLine, NewOrderRecord,
    NewProduct, NewSku,
};

/// How BigCommerce status ids map to our [`FulfilmentState`], per store.
///
/// The default ([`StatusMapping::default`]) follows BigCommerce's own meaning of its system
/// statuses:
///
/// | Status id | BigCommerce name | Fulfilment state |
/// |---|---|---|
/// | 11, 9, 8 | Awaiting Fulfillment, Awaiting Shipment, Awaiting Pickup | `ready` |
/// | 7, 1, 12, 13, 0 | Awaiting Payment, Pending, Manual Verification Required, Disputed, Incomplete | `on_hold` |
/// | 5, 6 | Cancelled, Declined | `cancelled` |
/// | 2, 10 | Shipped, Completed | `shipped` |
/// | 3 | Partially Shipped | `partially_shipped` |
/// | 4, 14 | Refunded, Partially Refunded | `refunded` |
/// | anything else | | `other` |
///
/// A store overrides entries with [`StatusMapping::set`] or from text (`"7=ready,12=ready"`,
/// see [`FromStr`]), e.g. a merchant whose warehouse ships "Awaiting Payment" orders on
/// account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMapping {
    states: BTreeMap<u64, FulfilmentState>,
    fallback: FulfilmentState,
}

impl Default for StatusMapping {
    fn default() -> Self {
        use FulfilmentState::*;
        let states = [
            (11, Ready),
            (9, Ready),
            (8, Ready),
            (7, OnHold),
            (1, OnHold),
            (12, OnHold),
            (13, OnHold),
            (0, OnHold),
            (5, Cancelled),
            (6, Cancelled),
            (2, Shipped),
            (10, Shipped),
            (3, PartiallyShipped),
            (4, Refunded),
            (14, Refunded),
        ]
        .into_iter()
        .collect();
        StatusMapping {
            states,
            fallback: Other,
        }
    }
}

impl StatusMapping {
    /// The state of a status id.
    pub fn state(&self, status_id: u64) -> FulfilmentState {
        self.states
            .get(&status_id)
            .copied()
            .unwrap_or(self.fallback)
    }

    /// Maps `status_id` to `state` (overriding the default).
    pub fn set(&mut self, status_id: u64, state: FulfilmentState) -> &mut Self {
        self.states.insert(status_id, state);
        self
    }

    /// The state of status ids not in the table (default `other`).
    pub fn set_fallback(&mut self, state: FulfilmentState) -> &mut Self {
        self.fallback = state;
        self
    }

    /// Every explicit entry, by status id.
    pub fn entries(&self) -> impl Iterator<Item = (u64, FulfilmentState)> + '_ {
        self.states.iter().map(|(id, state)| (*id, *state))
    }
}

/// The overrides as `id=state` pairs separated by commas, e.g. `"7=ready, 12=ready"`.
impl FromStr for StatusMapping {
    type Err = InvalidStatusMapping;

    /// Parses overrides of the default table. `*=state` sets the fallback.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut mapping = StatusMapping::default();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let invalid = || InvalidStatusMapping(pair.to_owned());
            let (id, state) = pair.split_once('=').ok_or_else(invalid)?;
            let state = FulfilmentState::from_str(state.trim()).map_err(|_| invalid())?;
            match id.trim() {
                "*" => mapping.set_fallback(state),
                id => mapping.set(id.parse().map_err(|_| invalid())?, state),
            };
        }
        Ok(mapping)
    }
}

/// A status mapping entry that is not `status_id=state`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid status mapping entry {0:?}: write `status_id=state`, e.g. `7=ready`, with a state \
     among ready, on_hold, cancelled, shipped, partially_shipped, refunded, other"
)]
pub struct InvalidStatusMapping(String);

impl fmt::Display for StatusMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (id, state) in self.entries() {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{id}={}", state.as_str())?;
        }
        write!(f, ",*={}", self.fallback.as_str())
    }
}

/// Whether an order's shipping addresses are embedded in it (consignments included as
/// objects). When not, the caller reads `GET /v2/orders/{id}/shipping_addresses`.
pub fn has_embedded_shipping(order: &OrderWithLines) -> bool {
    match &order.order.consignments {
        Some(Consignments::Object(_)) | Some(Consignments::List(_)) => true,
        // Digital orders and orders without a shipping address have nothing to fetch.
        _ => {
            order.order.order_is_digital == Some(true)
                || order.order.shipping_address_count == Some(0)
        }
    }
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn id_i64(id: Option<u64>) -> Option<i64> {
    id.filter(|id| *id != 0)
        .and_then(|id| i64::try_from(id).ok())
}

fn count_i32(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn address(
    kind: AddressKind,
    remote_id: Option<i64>,
    a: &Address,
    method: Option<&str>,
) -> NewOrderAddress {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    NewOrderAddress {
        kind,
        remote_id,
        first_name: text(&a.first_name),
        last_name: text(&a.last_name),
        company: text(&a.company),
        street_1: text(&a.street_1),
        street_2: text(&a.street_2),
        city: text(&a.city),
        state: text(&a.state),
        zip: text(&a.zip),
        country_iso2: text(&a.country_iso2),
        email: text(&a.email),
        phone: text(&a.phone),
        shipping_method: non_empty(method),
    }
}

/// Maps an order with all its lines to the record storage upserts.
///
/// - Amounts are exact decimals in the order's transactional currency
///   (`default_currency_code`, else `currency_code`): subtotal excluding tax, total including
///   tax, total tax; a line's price is its unit price excluding tax (`price_ex_tax`, else
///   `base_price`).
/// - Shipping addresses come from the embedded consignments (their `id` is BigCommerce's
///   `order_address_id`, needed to create shipments); `fallback_shipping` is used when the
///   consignments were not embedded. The billing address has no id.
/// - A missing `date_modified` (never seen from BigCommerce) falls back to `date_created`, then
///   to the UNIX epoch, so the order is still stored and any later version replaces it.
pub fn order_record(
    order: &OrderWithLines,
    mapping: &StatusMapping,
    fallback_shipping: &[OrderShippingAddress],
) -> NewOrderRecord {
    let o = &order.order;
    let status_id = o.status_id.unwrap_or(0);
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    let date_created = o.date_created.or(o.date_modified).unwrap_or(epoch);
    let date_modified = o.date_modified.unwrap_or(date_created);
    let zero = Decimal::ZERO;

    let mut addresses = Vec::new();
    if let Some(billing) = &o.billing_address {
        addresses.push(address(AddressKind::Billing, None, billing, None));
    }
    let mut embedded = false;
    let consignments = match &o.consignments {
        Some(Consignments::Object(c)) => std::slice::from_ref(c.as_ref()),
        Some(Consignments::List(list)) => list.as_slice(),
        _ => &[],
    };
    for consignment in consignments {
        for shipping in &consignment.shipping {
            embedded = true;
            addresses.push(address(
                AddressKind::Shipping,
                id_i64(Some(shipping.id)),
                &shipping.address,
                shipping.shipping_method.as_deref(),
            ));
        }
    }
    if !embedded {
        for shipping in fallback_shipping {
            addresses.push(address(
                AddressKind::Shipping,
                id_i64(Some(shipping.id)),
                &shipping.address,
                shipping.shipping_method.as_deref(),
            ));
        }
    }

    let lines = order
        .lines
        .iter()
        .map(|l| NewOrderLine {
            remote_id: id_i64(Some(l.id)).unwrap_or_default(),
            product_id: id_i64(l.product_id),
            variant_id: id_i64(l.variant_id),
            sku: l.sku.clone().unwrap_or_default(),
            name: l.name.clone().unwrap_or_default(),
            quantity: count_i32(l.quantity),
            quantity_shipped: count_i32(l.quantity_shipped),
            price: l.price_ex_tax.or(l.base_price).unwrap_or(zero),
            address_remote_id: id_i64(l.order_address_id),
        })
        .collect();

    NewOrderRecord {
        remote_id: id_i64(Some(o.id)).unwrap_or_default(),
        status_id: i32::try_from(status_id).unwrap_or(i32::MAX),
        status_name: o.status.clone().unwrap_or_default(),
        fulfilment_state: mapping.state(status_id),
        customer_id: id_i64(o.customer_id),
        email: non_empty(o.customer_email()),
        currency: non_empty(o.default_currency_code.as_deref())
            .or_else(|| non_empty(o.currency_code.as_deref()))
            .or_else(|| non_empty(o.store_default_currency_code.as_deref()))
            .unwrap_or_default(),
        subtotal: o.subtotal_ex_tax.unwrap_or(zero),
        total: o.total_inc_tax.unwrap_or(zero),
        tax: o.total_tax.unwrap_or(zero),
        payment_method: non_empty(o.payment_method.as_deref()),
        payment_status: non_empty(o.payment_status.as_deref()),
        date_created,
        date_modified,
        is_deleted: o.is_deleted.unwrap_or(false),
        raw_json: o.raw_json().to_owned(),
        lines,
        addresses,
    }
}

fn tracking(t: Option<&BcTracking>) -> InventoryTracking {
    match t {
        Some(BcTracking::Product) => InventoryTracking::Product,
        Some(BcTracking::Variant) => InventoryTracking::Variant,
        // `none`, absent, or a value this client does not know: stock is not pushed for it.
        _ => InventoryTracking::None,
    }
}

/// Maps a product (read with `include=variants`) to its row and its SKU index entries: the
/// product's own SKU (no variant id), then each variant's. A product without options has one
/// base variant carrying the product's SKU; its entry comes last and wins, so the index names
/// the variant id stock writes need.
pub fn product_records(product: &Product) -> (NewProduct, Vec<NewSku>) {
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    let remote_id = id_i64(Some(product.id)).unwrap_or_default();
    let inventory_tracking = tracking(product.inventory_tracking.as_ref());
    let record = NewProduct {
        remote_id,
        name: product.name.clone().unwrap_or_default(),
        sku: product.sku.clone().unwrap_or_default(),
        inventory_tracking,
        date_modified: product
            .date_modified
            .or(product.date_created)
            .unwrap_or(epoch),
    };
    let mut skus = Vec::with_capacity(product.variants.len() + 1);
    if let Some(sku) = non_empty(product.sku.as_deref()) {
        skus.push(NewSku {
            sku,
            product_remote_id: remote_id,
            variant_remote_id: None,
            inventory_tracking,
        });
    }
    for variant in &product.variants {
        if let Some(sku) = non_empty(variant.sku.as_deref()) {
            skus.push(NewSku {
                sku,
                product_remote_id: remote_id,
                variant_remote_id: id_i64(Some(variant.id)),
                inventory_tracking,
            });
        }
    }
    (record, skus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_mapping_follows_bigcommerce_meanings() {
        let m = StatusMapping::default();
        assert_eq!(m.state(11), FulfilmentState::Ready);
        assert_eq!(m.state(9), FulfilmentState::Ready);
        assert_eq!(m.state(7), FulfilmentState::OnHold);
        assert_eq!(m.state(5), FulfilmentState::Cancelled);
        assert_eq!(m.state(10), FulfilmentState::Shipped);
        assert_eq!(m.state(3), FulfilmentState::PartiallyShipped);
        assert_eq!(m.state(14), FulfilmentState::Refunded);
        assert_eq!(m.state(99), FulfilmentState::Other);
    }

    #[test]
    fn a_store_overrides_the_mapping_from_text() {
        let m: StatusMapping = "7=ready, *=on_hold".parse().unwrap();
        assert_eq!(m.state(7), FulfilmentState::Ready);
        assert_eq!(m.state(99), FulfilmentState::OnHold);
        assert_eq!(m.state(11), FulfilmentState::Ready);
        assert!("7:ready".parse::<StatusMapping>().is_err());
        assert!("7=sent".parse::<StatusMapping>().is_err());
        let again: StatusMapping = m.to_string().parse().unwrap();
        assert_eq!(again, m);
    }
}
