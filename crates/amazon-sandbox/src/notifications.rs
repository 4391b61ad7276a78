//! The body of an `ORDER_CHANGE` notification, as Amazon's notification guide shows it:
//! `NotificationVersion`, `NotificationType`, `PayloadVersion`, `EventTime`, `Payload.
//! OrderChangeNotification` (seller, order id, change type and trigger, and a `Summary` of the
//! order with its items) and `NotificationMetadata` (application, subscription, publish time,
//! notification id). Like Amazon's, it carries no personal data: the hub reads the order.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::account::{ChangeType, OrderChange};
use crate::clock::iso;
use crate::model::{FulfillmentChannel, OrderStatus};

/// Millisecond ISO 8601, as notifications write times (`2022-11-29T19:42:04.284Z`).
fn iso_ms(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The notification for a change.
pub fn order_change(
    change: &OrderChange,
    seller_id: &str,
    application_id: &str,
    subscription_id: &str,
    notification_id: &str,
    published: DateTime<Utc>,
) -> Value {
    let order = &change.order;
    let (change_type, reason) = match change.change_type {
        ChangeType::OrderStatusChange => ("OrderStatusChange", "Order status changed"),
        ChangeType::BuyerRequestedChange => ("BuyerRequestedChange", "Buyer requested cancel"),
    };
    let items: Vec<Value> = order
        .items
        .iter()
        .map(|item| {
            let status = match order.status {
                OrderStatus::Canceled => "Canceled",
                _ if item.remaining() == 0 => "Shipped",
                OrderStatus::Pending => "Pending",
                _ => "Unshipped",
            };
            let mut value = json!({
                "OrderItemId": item.order_item_id,
                "SupplySourceId": null,
                "ItemFulfillmentLocation": null,
                "ItemStatus": status,
                "SellerSKU": item.seller_sku,
                "Quantity": item.quantity_ordered,
            });
            if let Some(reason) = &order.buyer_cancel_reason {
                value["BuyerRequestedCancel"] = json!({
                    "IsBuyerRequestedCancel": "true",
                    "BuyerCancelReason": reason,
                });
            }
            value
        })
        .collect();
    json!({
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": iso_ms(change.at),
        "Payload": {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": seller_id,
                "AmazonOrderId": order.amazon_order_id,
                "OrderChangeType": change_type,
                "OrderChangeTrigger": {
                    "TimeOfOrderChange": iso_ms(change.at),
                    "ChangeReason": reason,
                },
                "Summary": {
                    "MarketplaceId": order.marketplace_id,
                    "OrderStatus": order.status.as_str(),
                    "PurchaseDate": iso(order.purchase_date),
                    "DestinationPostalCode": order.has_address().then(|| order.address.postal_code.clone()),
                    "FulfillmentType": match order.fulfillment_channel {
                        FulfillmentChannel::Mfn => "MFN",
                        FulfillmentChannel::Afn => "AFN",
                    },
                    "OrderType": "StandardOrder",
                    "OrderPrograms": if order.is_prime { json!(["Prime"]) } else { json!([]) },
                    "ShippingProgram": null,
                    "EasyShipShipmentStatus": null,
                    "EarliestShipDate": iso(order.earliest_ship_date),
                    "LatestShipDate": iso(order.latest_ship_date),
                    "CancelNotifyDate": null,
                    "OrderItems": items,
                },
            },
        },
        "NotificationMetadata": {
            "ApplicationId": application_id,
            "SubscriptionId": subscription_id,
            "PublishTime": iso_ms(published),
            "NotificationId": notification_id,
        },
    })
}
