//! BigCommerce → the core: the one place where the client's models become storage records.
//! Ids become text (`"101"`), status ids become status codes (`"11"`).

use bigcommerce_client::models::orders::{Consignments, OrderShippingAddress};
use bigcommerce_client::{Address, InventoryTracking as BcTracking, OrderWithLines, Product};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::channel::StatusMapping;
use crate::storage::{
    AddressKind, FulfilmentState, NewOrderAddress, NewOrderLine, NewOrderRecord, NewProduct,
    NewSku, StockTracking,
};

/// BigCommerce's status ids → our [`FulfilmentState`], before a store's overrides. It follows
/// BigCommerce's own meaning of its system statuses:
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
/// Status codes are the ids as decimal text (`"11"`).
pub fn status_mapping() -> StatusMapping {
    use FulfilmentState::*;
    StatusMapping::from_entries([
        ("11", Ready),
        ("9", Ready),
        ("8", Ready),
        ("7", OnHold),
        ("1", OnHold),
        ("12", OnHold),
        ("13", OnHold),
        ("0", OnHold),
        ("5", Cancelled),
        ("6", Cancelled),
        ("2", Shipped),
        ("10", Shipped),
        ("3", PartiallyShipped),
        ("4", Refunded),
        ("14", Refunded),
    ])
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

/// A BigCommerce id as the core's text id; `0` (BigCommerce's "none") is no id.
pub fn id_text(id: Option<u64>) -> Option<String> {
    id.filter(|id| *id != 0).map(|id| id.to_string())
}

fn count_i32(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn address(
    kind: AddressKind,
    remote_id: Option<String>,
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
                id_text(Some(shipping.id)),
                &shipping.address,
                shipping.shipping_method.as_deref(),
            ));
        }
    }
    if !embedded {
        for shipping in fallback_shipping {
            addresses.push(address(
                AddressKind::Shipping,
                id_text(Some(shipping.id)),
                &shipping.address,
                shipping.shipping_method.as_deref(),
            ));
        }
    }

    let lines = order
        .lines
        .iter()
        .map(|l| NewOrderLine {
            remote_id: l.id.to_string(),
            product_id: id_text(l.product_id),
            variant_id: id_text(l.variant_id),
            sku: l.sku.clone().unwrap_or_default(),
            name: l.name.clone().unwrap_or_default(),
            quantity: count_i32(l.quantity),
            quantity_shipped: count_i32(l.quantity_shipped),
            price: l.price_ex_tax.or(l.base_price).unwrap_or(zero),
            address_remote_id: id_text(l.order_address_id),
        })
        .collect();

    NewOrderRecord {
        remote_id: o.id.to_string(),
        status_code: status_id.to_string(),
        status_name: o.status.clone().unwrap_or_default(),
        fulfilment_state: mapping.state(&status_id.to_string()),
        customer_id: id_text(o.customer_id),
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

/// How a product's stock is tracked, in the core's words: `product` (one level on the
/// product), `variant` (a level per variant), or `untracked` (BigCommerce's `none`, absent, or
/// a value this client does not know: stock is not pushed for it).
fn tracking(t: Option<&BcTracking>) -> StockTracking {
    match t {
        Some(BcTracking::Product) => StockTracking::Product,
        Some(BcTracking::Variant) => StockTracking::Variant,
        _ => StockTracking::Untracked,
    }
}

/// Maps a product (read with `include=variants`) to its row and its SKU index entries: the
/// product's own SKU (no variant id), then each variant's. A product without options has one
/// base variant carrying the product's SKU; its entry comes last and wins, so the index names
/// the variant id stock writes need.
///
/// Each SKU's tracking is where its level lives: a product tracked per variant gives its
/// variants `variant` and its own SKU `derived` (BigCommerce reports the sum of the variants
/// there, and a push never writes it); a product tracked on the product gives every SKU
/// `product`.
pub fn product_records(product: &Product) -> (NewProduct, Vec<NewSku>) {
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    let remote_id = product.id.to_string();
    let stock_tracking = tracking(product.inventory_tracking.as_ref());
    let own_sku_tracking = match stock_tracking {
        StockTracking::Variant => StockTracking::Derived,
        other => other,
    };
    let record = NewProduct {
        remote_id: remote_id.clone(),
        name: product.name.clone().unwrap_or_default(),
        sku: product.sku.clone().unwrap_or_default(),
        stock_tracking,
        date_modified: product
            .date_modified
            .or(product.date_created)
            .unwrap_or(epoch),
    };
    let mut skus = Vec::with_capacity(product.variants.len() + 1);
    if let Some(sku) = non_empty(product.sku.as_deref()) {
        skus.push(NewSku {
            sku,
            product_remote_id: remote_id.clone(),
            variant_remote_id: None,
            stock_tracking: own_sku_tracking,
        });
    }
    for variant in &product.variants {
        if let Some(sku) = non_empty(variant.sku.as_deref()) {
            skus.push(NewSku {
                sku,
                product_remote_id: remote_id.clone(),
                variant_remote_id: id_text(Some(variant.id)),
                stock_tracking,
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
        let m = status_mapping();
        assert_eq!(m.state("11"), FulfilmentState::Ready);
        assert_eq!(m.state("9"), FulfilmentState::Ready);
        assert_eq!(m.state("7"), FulfilmentState::OnHold);
        assert_eq!(m.state("5"), FulfilmentState::Cancelled);
        assert_eq!(m.state("10"), FulfilmentState::Shipped);
        assert_eq!(m.state("3"), FulfilmentState::PartiallyShipped);
        assert_eq!(m.state("14"), FulfilmentState::Refunded);
        assert_eq!(m.state("99"), FulfilmentState::Other);
    }
}
