//! Fulfilment out: what the outbox asks a channel to write, in the core's words.
//!
//! These are the outbox's payloads as stored (JSON): a row written by an older release keeps
//! working, so ids accept the JSON numbers that release wrote as well as text.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

pub use super::carriers::Carrier;

/// One shipment to one shipping address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentPayload {
    /// The carrier.
    pub carrier: Carrier,
    /// The tracking number.
    pub tracking_number: String,
    /// A tracking link of the merchant's own, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_link: Option<String>,
    /// When the parcel left, as the warehouse says (kept in the hub; a channel may date a
    /// shipment itself).
    pub shipped_at: DateTime<Utc>,
    /// The channel's shipping address id.
    #[serde(deserialize_with = "text_id")]
    pub address_remote_id: String,
    /// What ships.
    pub items: Vec<PayloadItem>,
}

/// One line of a shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadItem {
    /// The channel's line id.
    #[serde(deserialize_with = "text_id")]
    pub line_remote_id: String,
    /// The line's SKU, for people reading the outbox.
    pub sku: String,
    /// Quantity.
    pub quantity: i32,
}

/// An id stored as text, or as the JSON number an older release wrote.
fn text_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(i64),
    }
    Ok(match Id::deserialize(deserializer)? {
        Id::Text(text) => text,
        Id::Number(number) => number.to_string(),
    })
}

/// A status an order can be moved to from the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusTarget {
    /// Cancelled.
    Cancelled,
    /// On hold (each channel says which of its statuses that is).
    OnHold,
    /// Awaiting shipment.
    AwaitingShipment,
    /// Completed.
    Completed,
}

impl StatusTarget {
    /// Every target, CLI spelling first.
    pub const ALL: [(&'static str, StatusTarget); 4] = [
        ("cancelled", StatusTarget::Cancelled),
        ("on-hold", StatusTarget::OnHold),
        ("awaiting-shipment", StatusTarget::AwaitingShipment),
        ("completed", StatusTarget::Completed),
    ];

    /// The CLI spelling.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map(|(s, _)| *s)
            .unwrap_or_default()
    }
}

impl fmt::Display for StatusTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StatusTarget {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let key = text.trim().to_ascii_lowercase().replace(['_', ' '], "-");
        let key = if key == "canceled" {
            "cancelled".into()
        } else {
            key
        };
        Self::ALL
            .iter()
            .find(|(s, _)| *s == key)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                format!(
                    "{text:?} is not a status the hub sets: use cancelled, on-hold, \
                     awaiting-shipment or completed"
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_of_an_older_release_with_numeric_ids_still_reads() {
        let old = r#"{"carrier":"canada-post","tracking_number":"CP1","shipped_at":"2026-01-01T00:00:00Z","address_remote_id":7,"items":[{"line_remote_id":40,"sku":"MUG-1","quantity":2}]}"#;
        let payload: ShipmentPayload = serde_json::from_str(old).unwrap();
        assert_eq!(payload.address_remote_id, "7");
        assert_eq!(payload.items[0].line_remote_id, "40");
        let again = serde_json::to_string(&payload).unwrap();
        assert!(again.contains(r#""address_remote_id":"7""#), "{again}");
        let reread: ShipmentPayload = serde_json::from_str(&again).unwrap();
        assert_eq!(reread, payload);
    }

    #[test]
    fn status_targets_parse_in_the_cli_spelling_and_refuse_others_with_the_list() {
        assert_eq!(
            "on-hold".parse::<StatusTarget>().unwrap(),
            StatusTarget::OnHold
        );
        assert_eq!(
            "Awaiting_Shipment".parse::<StatusTarget>().unwrap(),
            StatusTarget::AwaitingShipment
        );
        assert_eq!(
            "canceled".parse::<StatusTarget>().unwrap(),
            StatusTarget::Cancelled
        );
        let error = "shipped".parse::<StatusTarget>().unwrap_err();
        assert!(
            error.contains("cancelled, on-hold, awaiting-shipment or completed"),
            "{error}"
        );
    }
}
