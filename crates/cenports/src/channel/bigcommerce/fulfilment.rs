//! Fulfilment out for BigCommerce: how a carrier and a status are spelled there, the shipment
//! body with our marker, how our shipment is recognised on read-back, and the order as
//! BigCommerce has it after a write (`docs/FULFILMENT.md`).

use async_trait::async_trait;
use bigcommerce_client::{CreateShipment, Error as BcError, NewShipmentItem, Shipment};

use super::{api_error, mapping, BigCommerceStore};
use crate::channel::{
    Carrier, ChannelError, Delivered, FulfilmentOut, ShipmentPayload, StatusTarget,
};
use crate::storage::{ChannelStatus, FulfilmentState, OrderAfterDelivery, OutboxId};

/// The prefix of the marker our shipments carry in `comments`: `cenports:<outbox id>`.
pub const MARKER_PREFIX: &str = "cenports:";

/// BigCommerce's limit on `tracking_number`.
pub const MAX_TRACKING_NUMBER: usize = 50;

/// The marker of an outbox row.
pub fn marker(id: OutboxId) -> String {
    format!("{MARKER_PREFIX}{}", id.get())
}

/// Whether `comments` carry exactly this row's marker (as a whole word: `cenports:12` is not
/// `cenports:123`).
pub fn has_marker(comments: Option<&str>, id: OutboxId) -> bool {
    let wanted = marker(id);
    comments.is_some_and(|c| c.split_whitespace().any(|word| word == wanted))
}

/// Our shipment among an order's shipments, found by its marker.
pub fn find_ours(shipments: &[Shipment], id: OutboxId) -> Option<&Shipment> {
    shipments
        .iter()
        .find(|s| has_marker(s.comments.as_deref(), id))
}

/// How a carrier is written on a BigCommerce shipment: `(shipping_provider,
/// tracking_carrier, shipping_method)`.
///
/// - Carriers BigCommerce integrates natively get their `shipping_provider` value (the enum of
///   `orderShipment_Post` in the v2 Orders reference) and an empty `tracking_carrier`:
///   BigCommerce builds the tracking link from provider and number.
/// - DHL and Purolator are not in that enum; they get an empty provider and their AfterShip
///   slug as `tracking_carrier` (the reference: "one of the valid tracking-carrier values" of
///   AfterShip), which also yields a tracking link.
/// - A custom carrier gets neither (BigCommerce would refuse an unknown provider); its name
///   goes to `shipping_method`, which the shopper sees.
///
/// The table is documented in docs/FULFILMENT.md.
pub fn carrier_fields(carrier: &Carrier) -> (&'static str, &'static str, String) {
    let method = carrier.display_name().to_owned();
    match carrier {
        Carrier::CanadaPost => ("canadapost", "", method),
        Carrier::Ups => ("ups", "", method),
        Carrier::FedEx => ("fedex", "", method),
        Carrier::Usps => ("usps", "", method),
        Carrier::Dhl => ("", "dhl", method),
        Carrier::Purolator => ("", "purolator", method),
        Carrier::Custom(_) => ("", "", method),
    }
}

/// A BigCommerce id the hub holds as text; a value that is not one (never written by the hub)
/// becomes `0`, which BigCommerce refuses by name.
fn numeric(id: &str) -> u64 {
    id.trim().parse().unwrap_or(0)
}

/// The body of `POST /v2/orders/{id}/shipments` for one outbox row, with its marker.
pub fn shipment_body(id: OutboxId, payload: &ShipmentPayload) -> CreateShipment {
    let (provider, tracking_carrier, method) = carrier_fields(&payload.carrier);
    CreateShipment {
        order_address_id: numeric(&payload.address_remote_id),
        tracking_number: Some(payload.tracking_number.clone()),
        shipping_method: Some(method),
        shipping_provider: Some(provider.to_owned()),
        tracking_carrier: Some(tracking_carrier.to_owned()),
        tracking_link: payload.tracking_link.clone(),
        comments: Some(marker(id)),
        items: payload
            .items
            .iter()
            .map(|item| NewShipmentItem {
                order_product_id: numeric(&item.line_remote_id),
                quantity: item.quantity as u64,
            })
            .collect(),
    }
}

/// BigCommerce's status id for a target status.
///
/// BigCommerce has no "On Hold" status; the hub puts an order on hold with **Manual
/// Verification Required** (12), the status meant for "a person must look at this before it
/// ships", which the default mapping reads back as `on_hold`.
pub fn status_id(target: StatusTarget) -> u64 {
    match target {
        StatusTarget::Cancelled => 5,
        StatusTarget::OnHold => 12,
        StatusTarget::AwaitingShipment => 9,
        StatusTarget::Completed => 10,
    }
}

/// BigCommerce's name of the statuses a delivery can produce, for when the channel's answer is
/// not at hand.
pub fn status_name(status_id: u64) -> &'static str {
    match status_id {
        2 => "Shipped",
        3 => "Partially Shipped",
        5 => "Cancelled",
        9 => "Awaiting Shipment",
        10 => "Completed",
        12 => "Manual Verification Required",
        _ => "",
    }
}

/// Statuses BigCommerce refuses to ship (its 400 "The order is … and cannot be shipped"):
/// Refunded, Cancelled, Declined.
pub fn refuses_shipments(status_code: &str) -> bool {
    matches!(status_code.trim(), "4" | "5" | "6")
}

/// Our state for a status a delivery produced.
pub fn fulfilment_state(status_id: u64) -> FulfilmentState {
    mapping::status_mapping().state(&status_id.to_string())
}

#[async_trait]
impl FulfilmentOut for BigCommerceStore {
    async fn create_shipment(
        &self,
        order: &str,
        row: OutboxId,
        shipment: &ShipmentPayload,
    ) -> Result<Delivered, ChannelError> {
        let order_id = numeric(order);
        let body = shipment_body(row, shipment);
        let created = self
            .client
            .create_shipment(order_id, &body)
            .await
            .map_err(api_error)?;
        Ok(Delivered {
            result: created.id.to_string(),
            order: self.snapshot(order_id).await,
        })
    }

    async fn find_shipment(
        &self,
        order: &str,
        row: OutboxId,
    ) -> Result<Option<Delivered>, ChannelError> {
        let order_id = numeric(order);
        let shipments = self
            .client
            .list_shipments(order_id)
            .await
            .map_err(api_error)?;
        match find_ours(&shipments, row) {
            Some(ours) => Ok(Some(Delivered {
                result: ours.id.to_string(),
                order: self.snapshot(order_id).await,
            })),
            None => Ok(None),
        }
    }

    async fn set_status(&self, order: &str, to: StatusTarget) -> Result<Delivered, ChannelError> {
        let order = self
            .client
            .update_order_status(numeric(order), status_id(to))
            .await
            .map_err(api_error)?;
        Ok(Delivered {
            result: order_status_result(&order),
            order: status_snapshot(&order),
        })
    }

    async fn find_status(
        &self,
        order: &str,
        to: StatusTarget,
    ) -> Result<Option<Delivered>, ChannelError> {
        let order = self
            .client
            .get_order(numeric(order))
            .await
            .map_err(api_error)?;
        if order.status_id == Some(status_id(to)) {
            Ok(Some(Delivered {
                result: order_status_result(&order),
                order: status_snapshot(&order),
            }))
        } else {
            Ok(None)
        }
    }
}

impl BigCommerceStore {
    /// The order as BigCommerce has it after a shipment: its status (Shipped / Partially
    /// Shipped), `date_modified` and every line's shipped quantity (`GET /v2/orders/{id}` and
    /// its products). A failed read gives `None`: the shipment is recorded all the same, and the
    /// next import brings the order.
    async fn snapshot(&self, order_id: u64) -> Option<OrderAfterDelivery> {
        let read = async {
            let order = self.client.get_order(order_id).await?;
            let lines = self.client.list_order_products(order_id).await?;
            Ok::<_, BcError>((order, lines))
        };
        match read.await {
            Ok((order, lines)) => Some(OrderAfterDelivery {
                status: channel_status(&order),
                date_modified: order.date_modified?,
                lines_shipped: lines
                    .iter()
                    .map(|l| {
                        (
                            l.id.to_string(),
                            i32::try_from(l.quantity_shipped).unwrap_or(i32::MAX),
                        )
                    })
                    .collect(),
            }),
            Err(error) => {
                tracing::warn!(order.id = order_id, error = %error, "outbox: delivered, but the order could not be read back; the next sync brings it");
                None
            }
        }
    }
}

/// The order as a status change's answer (or read-back) gives it.
fn status_snapshot(order: &bigcommerce_client::Order) -> Option<OrderAfterDelivery> {
    Some(OrderAfterDelivery {
        status: channel_status(order),
        date_modified: order.date_modified?,
        lines_shipped: Vec::new(),
    })
}

fn channel_status(order: &bigcommerce_client::Order) -> ChannelStatus {
    let id = order.status_id.unwrap_or_default();
    ChannelStatus {
        status_code: id.to_string(),
        status_name: order
            .status
            .clone()
            .unwrap_or_else(|| status_name(id).to_owned()),
        fulfilment_state: fulfilment_state(id),
    }
}

fn order_status_result(order: &bigcommerce_client::Order) -> String {
    let id = order.status_id.unwrap_or_default();
    order
        .status
        .clone()
        .unwrap_or_else(|| format!("{} ({id})", status_name(id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::PayloadItem;

    #[test]
    fn the_marker_is_matched_as_a_whole_word_only() {
        let id = OutboxId::from_raw(12);
        assert!(has_marker(Some("cenports:12"), id));
        assert!(has_marker(Some("packed by Ann\ncenports:12"), id));
        assert!(!has_marker(Some("cenports:123"), id));
        assert!(!has_marker(Some("cenports:1"), id));
        assert!(!has_marker(None, id));
    }

    #[test]
    fn carriers_map_to_bigcommerce_provider_and_tracking_carrier_values() {
        // Providers BigCommerce accepts (orders.v2 `shipping_provider_standard`).
        const PROVIDERS: [&str; 11] = [
            "",
            "auspost",
            "canadapost",
            "endicia",
            "usps",
            "fedex",
            "ups",
            "upsready",
            "upsonline",
            "shipperhq",
            "royalmail",
        ];
        for (_, carrier) in Carrier::KNOWN {
            let (provider, tracking_carrier, _) = carrier_fields(&carrier);
            assert!(PROVIDERS.contains(&provider), "{carrier:?}: {provider}");
            assert!(
                !(provider.is_empty() && tracking_carrier.is_empty()),
                "{carrier:?} gets a tracking link one way or the other"
            );
        }
        let (provider, tracking_carrier, method) =
            carrier_fields(&Carrier::Custom("Speedy".into()));
        assert_eq!(
            (provider, tracking_carrier, method.as_str()),
            ("", "", "Speedy")
        );
    }

    #[test]
    fn the_shipment_body_carries_the_marker_and_order_product_ids() {
        let payload = ShipmentPayload {
            carrier: Carrier::CanadaPost,
            tracking_number: "CP123".into(),
            tracking_link: None,
            shipped_at: chrono::Utc::now(),
            address_remote_id: "7".into(),
            items: vec![PayloadItem {
                line_remote_id: "40".into(),
                sku: "MUG-1".into(),
                quantity: 2,
            }],
        };
        let body = shipment_body(OutboxId::from_raw(9), &payload);
        assert_eq!(body.comments.as_deref(), Some("cenports:9"));
        assert_eq!(body.order_address_id, 7);
        assert_eq!(body.shipping_provider.as_deref(), Some("canadapost"));
        assert_eq!(body.items[0].order_product_id, 40);
        assert_eq!(body.items[0].quantity, 2);
    }
}
