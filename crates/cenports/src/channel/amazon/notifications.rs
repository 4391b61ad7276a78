//! Amazon's `ORDER_CHANGE` notifications, read from the app's queue.
//!
//! Amazon calls nobody back over HTTP: a seller's notifications go to a destination the app
//! registered with the Notifications API, an SQS queue (or EventBridge). The hub long-polls
//! that queue ([`crate::webhooks::queue`]), records each notification once by its
//! `NotificationId`, queues a fetch of the order it names, and deletes the message.
//!
//! The queue is reached over the HTTP surface of the Amazon sandbox's stand-in for SQS
//! (`docs/AMAZON-SANDBOX.md`, "`ORDER_CHANGE` notifications: the queue stand-in"):
//! `GET {queue}/receive?wait=W&max=10&visibility=V` and `POST {queue}/delete`, with SQS's
//! semantics (at least once, a visibility timeout, the latest receipt handle deletes). Talking
//! to a real SQS queue needs AWS's signed requests and is not built (`docs/AMAZON.md`,
//! "Notifications"); without a queue setting the hub polls, as before.
//!
//! A notification carries no personal data and is a hint, not data: the hub reads the order
//! itself, so a stale or duplicated notification costs one `getOrder`, never a wrong order.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use url::Url;

use super::{store_key, DISPLAY_NAME};
use crate::channel::{
    Callback, ChannelError, ErrorKind, Hint, QueueIn, QueuedCallback, QueuedMessage,
};

/// The most messages one receive asks for (SQS's limit).
const MAX_MESSAGES: usize = 10;

/// How long a received message stays hidden from other readers: longer than recording it
/// takes, short enough that a process that dies holding it loses only this much time.
const VISIBILITY: Duration = Duration::from_secs(30);

/// The app's notification queue.
#[derive(Debug, Clone)]
pub struct AmazonQueue {
    http: reqwest::Client,
    url: Url,
}

impl AmazonQueue {
    /// The queue at `url` (`amazon_queue_url`, e.g. `http://127.0.0.1:8091/_sandbox/queue`).
    pub fn new(url: Url) -> Self {
        AmazonQueue {
            http: reqwest::Client::new(),
            url,
        }
    }

    fn endpoint(&self, action: &str) -> String {
        format!("{}/{action}", self.url.as_str().trim_end_matches('/'))
    }
}

fn unavailable(what: &str, error: impl std::fmt::Display) -> ChannelError {
    ChannelError::new(
        DISPLAY_NAME,
        ErrorKind::Unavailable,
        format!("the Amazon notification queue could not be {what} ({error}); the hub tries again"),
    )
}

#[derive(Deserialize)]
struct Received {
    messages: Vec<Message>,
}

#[derive(Deserialize)]
struct Message {
    receipt_handle: String,
    body: String,
}

#[async_trait]
impl QueueIn for AmazonQueue {
    async fn receive(&self, wait: Duration) -> Result<Vec<QueuedMessage>, ChannelError> {
        let wait = wait.as_secs().min(20);
        let answer = self
            .http
            .get(self.endpoint("receive"))
            .query(&[
                ("wait", wait.to_string()),
                ("max", MAX_MESSAGES.to_string()),
                ("visibility", VISIBILITY.as_secs().to_string()),
            ])
            .timeout(Duration::from_secs(wait + 10))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|error| unavailable("read", error.without_url()))?;
        let received: Received = answer
            .json()
            .await
            .map_err(|error| unavailable("read", error.without_url()))?;
        Ok(received
            .messages
            .into_iter()
            .map(|message| QueuedMessage {
                content: read_notification(&message.body),
                receipt: message.receipt_handle,
            })
            .collect())
    }

    async fn delete(&self, receipt: &str) -> Result<(), ChannelError> {
        self.http
            .post(self.endpoint("delete"))
            .json(&serde_json::json!({ "receipt_handle": receipt }))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|error| unavailable("told a message was handled", error.without_url()))?;
        Ok(())
    }

    fn describe(&self) -> String {
        self.url.to_string()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Notification {
    notification_type: String,
    #[serde(default)]
    payload: Option<Payload>,
    notification_metadata: Metadata,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata {
    notification_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Payload {
    order_change_notification: OrderChange,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OrderChange {
    seller_id: String,
    amazon_order_id: String,
    order_change_type: String,
    summary: Summary,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Summary {
    marketplace_id: String,
    #[serde(default)]
    fulfillment_type: Option<String>,
}

/// One message's body as a callback about a seller's store in a marketplace: an
/// `ORDER_CHANGE` of a merchant-fulfilled order hints at that order; another notification
/// type, or an order Amazon fulfils (never the warehouse's), hints at nothing.
pub fn read_notification(body: &str) -> Result<QueuedCallback, String> {
    let notification: Notification = serde_json::from_str(body)
        .map_err(|error| format!("not an SP-API notification ({error})"))?;
    let message_id = notification.notification_metadata.notification_id;
    let Some(change) = notification
        .payload
        .filter(|_| notification.notification_type == "ORDER_CHANGE")
        .map(|payload| payload.order_change_notification)
    else {
        return Err(format!(
            "a {} notification, which the hub does not subscribe to",
            notification.notification_type
        ));
    };
    let fulfilled_by_amazon = change.summary.fulfillment_type.as_deref() == Some("AFN");
    Ok(QueuedCallback {
        store_key: store_key(&change.seller_id, &change.summary.marketplace_id),
        callback: Callback {
            message_id,
            scope: format!("ORDER_CHANGE/{}", change.order_change_type),
            hint: (!fulfilled_by_amazon).then_some(Hint::Order(change.amazon_order_id)),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(notification_type: &str, fulfilment: &str) -> String {
        serde_json::json!({
            "NotificationVersion": "1.0",
            "NotificationType": notification_type,
            "PayloadVersion": "1.0",
            "EventTime": "2026-12-06T10:00:00.000Z",
            "Payload": {"OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": "A3SELLER",
                "AmazonOrderId": "902-3159896-1390916",
                "OrderChangeType": "OrderStatusChange",
                "Summary": {"MarketplaceId": "ATVPDKIKX0DER", "OrderStatus": "Canceled",
                            "FulfillmentType": fulfilment},
            }},
            "NotificationMetadata": {"ApplicationId": "amzn1.sp.solution.x",
                                     "SubscriptionId": "s", "PublishTime": "2026-12-06T10:00:01.000Z",
                                     "NotificationId": "n-1"},
        })
        .to_string()
    }

    #[test]
    fn an_order_change_hints_at_its_order_in_its_sellers_marketplace() {
        let read = read_notification(&body("ORDER_CHANGE", "MFN")).unwrap();
        assert_eq!(read.store_key, "A3SELLER.ATVPDKIKX0DER");
        assert_eq!(read.callback.message_id, "n-1");
        assert_eq!(read.callback.scope, "ORDER_CHANGE/OrderStatusChange");
        assert_eq!(
            read.callback.hint,
            Some(Hint::Order("902-3159896-1390916".into()))
        );
    }

    #[test]
    fn amazons_own_orders_and_other_notifications_hint_at_nothing() {
        let read = read_notification(&body("ORDER_CHANGE", "AFN")).unwrap();
        assert_eq!(read.callback.hint, None);
        let other = read_notification(&body("ANY_OFFER_CHANGED", "MFN")).unwrap_err();
        assert!(other.contains("ANY_OFFER_CHANGED"), "{other}");
        assert!(read_notification("{}")
            .unwrap_err()
            .contains("not an SP-API"));
    }
}
