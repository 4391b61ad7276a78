//! The sandbox's data in Amazon's JSON: Orders v0 (`PascalCase`, money as `{CurrencyCode,
//! Amount}`), Orders 2026-01-01 (`camelCase`, datasets by `includedData`) and Listings Items.
//!
//! Personal data follows the restricted data token: an order's full `ShippingAddress` only
//! with `shippingAddress` among the token's data elements (otherwise the non-personal part:
//! city, region, postal code, country — as Amazon answers an LWA token), `BuyerInfo` only with
//! `buyerInfo`. A `Pending` order has no address at all yet, and a `Pending` order's items no
//! prices, as the models' notes say.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::Caller;
use crate::clock::iso;
use crate::model::{
    amount, Address, FulfillmentChannel, Listing, Order, OrderItem, OrderStatus, MARKETPLACE_US,
};

/// `Amazon.ca` or `Amazon.com`.
pub fn sales_channel(marketplace_id: &str) -> &'static str {
    if marketplace_id == MARKETPLACE_US {
        "Amazon.com"
    } else {
        "Amazon.ca"
    }
}

fn money(cents: i64, currency: &str) -> Value {
    json!({"CurrencyCode": currency, "Amount": amount(cents)})
}

/// A v0 `Address`: in full, or only its non-personal part.
pub fn address_v0(address: &Address, full: bool) -> Value {
    let mut out = Map::new();
    if full {
        out.insert("Name".into(), json!(address.name));
        out.insert("AddressLine1".into(), json!(address.address_line1));
        if let Some(line2) = &address.address_line2 {
            out.insert("AddressLine2".into(), json!(line2));
        }
    }
    out.insert("City".into(), json!(address.city));
    out.insert("StateOrRegion".into(), json!(address.state_or_region));
    out.insert("PostalCode".into(), json!(address.postal_code));
    out.insert("CountryCode".into(), json!(address.country_code));
    if full {
        if let Some(phone) = &address.phone {
            out.insert("Phone".into(), json!(phone));
        }
        out.insert(
            "AddressType".into(),
            json!(if address.residential {
                "Residential"
            } else {
                "Commercial"
            }),
        );
    }
    Value::Object(out)
}

/// A v0 `Order` as `getOrders` and `getOrder` return it to this caller.
pub fn order_v0(order: &Order, caller: &Caller) -> Value {
    let mut out = json!({
        "AmazonOrderId": order.amazon_order_id,
        "PurchaseDate": iso(order.purchase_date),
        "LastUpdateDate": iso(order.last_update_date),
        "OrderStatus": order.status.as_str(),
        "FulfillmentChannel": order.fulfillment_channel.as_str(),
        "SalesChannel": sales_channel(&order.marketplace_id),
        "ShipServiceLevel": order.ship_service_level,
        "NumberOfItemsShipped": order.items_shipped(),
        "NumberOfItemsUnshipped": order.items_unshipped(),
        "PaymentMethod": "Other",
        "PaymentMethodDetails": ["Standard"],
        "MarketplaceId": order.marketplace_id,
        "ShipmentServiceLevelCategory": order.shipment_service_level_category,
        "OrderType": "StandardOrder",
        "EarliestShipDate": iso(order.earliest_ship_date),
        "LatestShipDate": iso(order.latest_ship_date),
        "IsBusinessOrder": order.is_business_order,
        "IsPrime": order.is_prime,
        "IsPremiumOrder": false,
        "IsGlobalExpressEnabled": false,
        "IsReplacementOrder": false,
        "IsSoldByAB": false,
        "IsISPU": false,
        "IsAccessPointOrder": false,
        "HasRegulatedItems": false,
    });
    if order.status != OrderStatus::Pending {
        out["OrderTotal"] = money(order.total_cents(), &order.currency);
    }
    if order.has_address() {
        out["ShippingAddress"] = address_v0(&order.address, caller.may_read("shippingAddress"));
    }
    if caller.may_read("buyerInfo") && order.status != OrderStatus::Pending {
        out["BuyerInfo"] = json!({
            "BuyerEmail": order.buyer.email,
            "BuyerName": order.buyer.name,
        });
    }
    out
}

/// A v0 `OrderItem`; a `Pending` order's items carry no prices.
pub fn order_item_v0(order: &Order, item: &OrderItem) -> Value {
    let mut out = json!({
        "ASIN": item.asin,
        "SellerSKU": item.seller_sku,
        "OrderItemId": item.order_item_id,
        "Title": item.title,
        "QuantityOrdered": item.quantity_ordered,
        "QuantityShipped": item.quantity_shipped,
        "ProductInfo": {"NumberOfItems": "1"},
        "ConditionId": "New",
        "ConditionSubtypeId": "New",
        "IsTransparency": false,
        "SerialNumberRequired": false,
    });
    if order.status != OrderStatus::Pending {
        let currency = &order.currency;
        out["ItemPrice"] = money(item.item_price_cents, currency);
        out["ShippingPrice"] = money(item.shipping_price_cents, currency);
        out["ItemTax"] = money(item.item_tax_cents, currency);
        out["ShippingTax"] = money(0, currency);
        out["ShippingDiscount"] = money(0, currency);
        out["ShippingDiscountTax"] = money(0, currency);
        out["PromotionDiscount"] = money(0, currency);
        out["PromotionDiscountTax"] = money(0, currency);
        out["PromotionIds"] = json!([]);
        out["IsGift"] = json!("false");
    }
    if let Some(reason) = &order.buyer_cancel_reason {
        out["BuyerRequestedCancel"] = json!({
            "IsBuyerRequestedCancel": "true",
            "BuyerCancelReason": reason,
        });
    }
    out
}

/// The datasets of the 2026 API (`includedData`).
pub const DATASETS_2026: [&str; 11] = [
    "BUYER",
    "RECIPIENT",
    "PROCEEDS",
    "EXPENSE",
    "PROMOTION",
    "CANCELLATION",
    "FULFILLMENT",
    "PACKAGES",
    "TAX",
    "PAYMENT",
    "FULFILLMENT_ORDERS",
];

fn money_2026(cents: i64, currency: &str) -> Value {
    json!({"amount": amount(cents), "currencyCode": currency})
}

/// A 2026-01-01 `Order` with the datasets asked for. Datasets the sandbox has no data for
/// (`EXPENSE`, `PROMOTION`, `TAX`, `PAYMENT`, `FULFILLMENT_ORDERS`) are accepted and left out.
pub fn order_2026(order: &Order, included: &BTreeSet<String>, caller: &Caller) -> Value {
    let has = |name: &str| included.contains(name);
    let currency = &order.currency;
    let mut programs = Vec::new();
    if order.is_prime {
        programs.push("PRIME");
    }
    if order.is_business_order {
        programs.push("AMAZON_BUSINESS");
    }
    let items: Vec<Value> = order
        .items
        .iter()
        .map(|item| {
            let mut product = json!({
                "asin": item.asin,
                "title": item.title,
                "sellerSku": item.seller_sku,
                "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
            });
            if order.status != OrderStatus::Pending {
                let unit = item.item_price_cents / i64::from(item.quantity_ordered.max(1));
                product["price"] = json!({"unitPrice": money_2026(unit, currency)});
            }
            let mut value = json!({
                "orderItemId": item.order_item_id,
                "quantityOrdered": item.quantity_ordered,
                "product": product,
            });
            if has("FULFILLMENT") {
                value["fulfillment"] = json!({
                    "quantityFulfilled": item.quantity_shipped,
                    "quantityUnfulfilled": item.remaining(),
                });
            }
            if has("PROCEEDS") && order.status != OrderStatus::Pending {
                value["proceeds"] = json!({
                    "proceedsTotal": money_2026(
                        item.item_price_cents + item.shipping_price_cents + item.item_tax_cents,
                        currency,
                    ),
                });
            }
            if has("CANCELLATION") {
                if let Some(reason) = &order.buyer_cancel_reason {
                    value["cancellation"] = json!({
                        "cancellationRequest": {
                            "requester": "BUYER",
                            "cancelReason": reason,
                        },
                    });
                }
            }
            value
        })
        .collect();
    let mut out = json!({
        "orderId": order.amazon_order_id,
        "createdTime": iso(order.purchase_date),
        "lastUpdatedTime": iso(order.last_update_date),
        "programs": programs,
        "salesChannel": {
            "channelName": sales_channel(&order.marketplace_id),
            "marketplaceId": order.marketplace_id,
            "marketplaceName": sales_channel(&order.marketplace_id),
        },
        "orderItems": items,
    });
    if has("BUYER") && caller.may_read("buyerInfo") && order.status != OrderStatus::Pending {
        out["buyer"] = json!({"buyerName": order.buyer.name, "buyerEmail": order.buyer.email});
    }
    if has("RECIPIENT") && order.has_address() {
        let a = &order.address;
        let mut address = json!({
            "city": a.city,
            "stateOrRegion": a.state_or_region,
            "postalCode": a.postal_code,
            "countryCode": a.country_code,
        });
        if caller.may_read("shippingAddress") {
            address["name"] = json!(a.name);
            address["addressLine1"] = json!(a.address_line1);
            if let Some(line2) = &a.address_line2 {
                address["addressLine2"] = json!(line2);
            }
            if let Some(phone) = &a.phone {
                address["phone"] = json!(phone);
            }
            address["addressType"] = json!(if a.residential {
                "RESIDENTIAL"
            } else {
                "COMMERCIAL"
            });
        }
        out["recipient"] = json!({"deliveryAddress": address});
    }
    if has("PROCEEDS") && order.status != OrderStatus::Pending {
        out["proceeds"] = json!({"grandTotal": money_2026(order.total_cents(), currency)});
    }
    if has("FULFILLMENT") {
        out["fulfillment"] = json!({
            "fulfillmentStatus": order.status.as_2026(),
            "fulfilledBy": match order.fulfillment_channel {
                FulfillmentChannel::Mfn => "MERCHANT",
                FulfillmentChannel::Afn => "AMAZON",
            },
            "fulfillmentServiceLevel": order.shipment_service_level_category.to_ascii_uppercase(),
            "shipByWindow": {
                "earliestDateTime": iso(order.earliest_ship_date),
                "latestDateTime": iso(order.latest_ship_date),
            },
        });
    }
    if has("PACKAGES") {
        let packages: Vec<Value> = order
            .packages
            .iter()
            .map(|p| {
                let mut value = json!({
                    "packageReferenceId": p.package_reference_id,
                    "createdTime": iso(p.confirmed_at),
                    "packageStatus": {"status": "SHIPPED"},
                    "carrier": p.carrier_code,
                    "shipTime": iso(p.ship_date),
                    "trackingNumber": p.tracking_number,
                    "packageItems": p.items.iter().map(|i| json!({
                        "orderItemId": i.order_item_id,
                        "quantity": i.quantity,
                    })).collect::<Vec<_>>(),
                });
                if let Some(method) = &p.shipping_method {
                    value["shippingService"] = json!(method);
                }
                value
            })
            .collect();
        out["packages"] = json!(packages);
    }
    out
}

/// The datasets of `getListingsItem` (`includedData`).
pub const LISTING_DATASETS: [&str; 8] = [
    "summaries",
    "attributes",
    "issues",
    "offers",
    "fulfillmentAvailability",
    "procurement",
    "relationships",
    "productTypes",
];

/// A Listings Items `Item` with the datasets asked for.
pub fn listing_item(
    listing: &Listing,
    marketplace_id: &str,
    currency: &str,
    included: &BTreeSet<String>,
) -> Value {
    let has = |name: &str| included.contains(name);
    let mut out = json!({"sku": listing.sku});
    if has("summaries") {
        out["summaries"] = json!([{
            "marketplaceId": marketplace_id,
            "asin": listing.asin,
            "productType": listing.product_type,
            "conditionType": "new_new",
            "status": if listing.quantity > 0 { json!(["BUYABLE", "DISCOVERABLE"]) } else { json!(["DISCOVERABLE"]) },
            "itemName": listing.item_name,
            "createdDate": iso(listing.created),
            "lastUpdatedDate": iso(listing.last_updated),
        }]);
    }
    if has("attributes") {
        out["attributes"] = json!({
            "item_name": [{"value": listing.item_name, "language_tag": "en_CA", "marketplace_id": marketplace_id}],
            "condition_type": [{"value": "new_new", "marketplace_id": marketplace_id}],
            "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": listing.quantity}],
            "purchasable_offer": [{
                "marketplace_id": marketplace_id,
                "currency": currency,
                "our_price": [{"schedule": [{"value_with_tax": amount(listing.price_cents).parse::<f64>().unwrap_or(0.0)}]}],
            }],
        });
    }
    if has("issues") {
        out["issues"] = json!([]);
    }
    if has("offers") {
        out["offers"] = json!([{
            "marketplaceId": marketplace_id,
            "offerType": "B2C",
            "price": {"currencyCode": currency, "amount": amount(listing.price_cents)},
        }]);
    }
    if has("fulfillmentAvailability") {
        out["fulfillmentAvailability"] =
            json!([{"fulfillmentChannelCode": "DEFAULT", "quantity": listing.quantity}]);
    }
    if has("procurement") {
        out["procurement"] = json!([]);
    }
    if has("relationships") {
        out["relationships"] = json!([{"marketplaceId": marketplace_id, "relationships": []}]);
    }
    if has("productTypes") {
        out["productTypes"] =
            json!([{"marketplaceId": marketplace_id, "productType": listing.product_type}]);
    }
    out
}
