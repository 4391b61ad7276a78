//! Fulfilment out for Amazon: `confirmShipment`, exactly once (`docs/AMAZON.md`).
//!
//! - The package's `packageReferenceId` is the outbox row's id: numeric, as Amazon requires,
//!   and unique per order, since one row confirms one package.
//! - Items are named by `orderItemId` (the line's remote id) with their quantities; the ship
//!   date is the warehouse's; the carrier is Amazon's carrier code for the hub's carrier
//!   ([`carrier_code`]), `Other` with the carrier's name for any other.
//! - **Exactly once.** Amazon refuses a package reference already confirmed for the order
//!   ("packageReferenceId N has already been confirmed"). Before any retry of an attempt whose
//!   outcome is unknown, the outbox asks [`FulfilmentOut::find_shipment`], which reads the
//!   order's packages (`getOrder` with `PACKAGES`) for the row's reference; and should a retry
//!   be sent anyway, Amazon refuses it (by the reference, or because the order "is Shipped"),
//!   and a refusal is believed only once that read finds no package of the row. Either way one
//!   row ships its quantities once, and a refused row is never taken for delivered.
//! - Amazon offers a seller no API to cancel, hold or complete a merchant-fulfilled order (a
//!   seller cancels in Seller Central): those status changes are refused by name.

use async_trait::async_trait;
use reqwest::Method;
use serde_json::json;

use super::client::{AmazonError, Auth};
use super::limiter::Operation;
use super::mapping::Order;
use super::orders::url_segment;
use super::{api_error, AmazonStore, DISPLAY_NAME};
use crate::channel::{
    Carrier, ChannelError, Delivered, ErrorKind, FulfilmentOut, ShipmentPayload, StatusTarget,
};
use crate::storage::{OrderAfterDelivery, OutboxId};

/// Statuses Amazon refuses to confirm a shipment of.
pub fn refuses_shipment(status_code: &str) -> bool {
    matches!(
        status_code.trim(),
        "Pending" | "Shipped" | "Canceled" | "Unfulfillable"
    )
}

/// Amazon's carrier code for a carrier, and the name to send with `Other`.
pub fn carrier_code(carrier: &Carrier) -> (&'static str, Option<String>) {
    match carrier {
        Carrier::CanadaPost => ("Canada Post", None),
        Carrier::Ups => ("UPS", None),
        Carrier::FedEx => ("FedEx", None),
        Carrier::Usps => ("USPS", None),
        Carrier::Dhl => ("DHL", None),
        Carrier::Purolator => ("Purolator", None),
        Carrier::Custom(name) => ("Other", Some(name.clone())),
    }
}

/// The package reference of an outbox row.
pub fn package_reference(row: OutboxId) -> String {
    row.get().to_string()
}

/// Whether Amazon refused a confirmation (400): it applied nothing of this request, though an
/// earlier attempt of the row may have been applied.
fn refused(error: &AmazonError) -> bool {
    matches!(error, AmazonError::Invalid { status: 400, .. })
}

/// The datasets a read-back needs.
const READ_BACK: &str = "FULFILLMENT,PACKAGES";

impl AmazonStore {
    /// The order as Amazon has it now; `None` if it could not be read (the next import brings
    /// it).
    async fn snapshot(&self, order: &str) -> Option<OrderAfterDelivery> {
        match self.get_order(order, READ_BACK, Auth::Access).await {
            Ok(Some((_, order))) => Some(order.after_delivery()),
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(order.id = order, error = %error, "outbox: delivered, but the order could not be read back; the next sync brings it");
                None
            }
        }
    }

    async fn read_back(&self, order: &str) -> Result<Option<Order>, ChannelError> {
        Ok(self
            .get_order(order, READ_BACK, Auth::Access)
            .await?
            .map(|(_, order)| order))
    }
}

fn delivered(row: OutboxId, order: Option<OrderAfterDelivery>) -> Delivered {
    Delivered {
        result: format!("package {}", package_reference(row)),
        order,
    }
}

/// Why Amazon takes no status change: the core refuses one before it is queued
/// ([`crate::channel::Channel::refuses_status_change`]), and a row queued by an older version
/// fails with the same words.
pub fn status_change_refusal(to: StatusTarget) -> String {
    format!(
        "Amazon does not let a seller set a merchant-fulfilled order to {to} through its API: \
         cancel an order in Seller Central (Orders › Manage Orders › Cancel order); Amazon \
         marks an order shipped when its shipment is confirmed, and the hub follows Amazon's \
         status on its next sync"
    )
}

fn unsupported(to: StatusTarget) -> ChannelError {
    ChannelError::new(DISPLAY_NAME, ErrorKind::Rejected, status_change_refusal(to))
}

#[async_trait]
impl FulfilmentOut for AmazonStore {
    async fn create_shipment(
        &self,
        order: &str,
        row: OutboxId,
        shipment: &ShipmentPayload,
    ) -> Result<Delivered, ChannelError> {
        let (code, name) = carrier_code(&shipment.carrier);
        let mut package = json!({
            "packageReferenceId": package_reference(row),
            "carrierCode": code,
            "trackingNumber": shipment.tracking_number,
            "shipDate": shipment.shipped_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "orderItems": shipment.items.iter().map(|item| json!({
                "orderItemId": item.line_remote_id,
                "quantity": item.quantity,
            })).collect::<Vec<_>>(),
        });
        if let Some(name) = name {
            package["carrierName"] = json!(name);
        }
        let body = json!({
            "marketplaceId": self.api.config().marketplace_id,
            "packageDetail": package,
        });
        let path = format!(
            "/orders/v0/orders/{}/shipmentConfirmation",
            url_segment(order.trim())
        );
        let sent = self
            .api
            .call(
                Operation::ConfirmShipment,
                Method::POST,
                &path,
                &[],
                Some(&body),
                Auth::Access,
            )
            .await;
        match sent {
            Ok(_) => Ok(delivered(row, self.snapshot(order).await)),
            // Amazon refuses a package reference it already holds, but it may say so in other
            // words first (an order the package shipped in full "is Shipped"), and the same
            // words refuse a package that is not ours. So a refusal is checked against the
            // order's packages: this row's package there is an earlier attempt of the row,
            // applied with its answer lost; otherwise the refusal stands.
            Err(error) if refused(&error) => match self.find_shipment(order, row).await? {
                Some(found) => {
                    tracing::info!(
                        order.id = order,
                        outbox.id = row.get(),
                        "outbox: Amazon already holds this package; delivered"
                    );
                    Ok(found)
                }
                None => Err(api_error(error)),
            },
            Err(error) => Err(api_error(error)),
        }
    }

    async fn find_shipment(
        &self,
        order: &str,
        row: OutboxId,
    ) -> Result<Option<Delivered>, ChannelError> {
        let Some(read) = self.read_back(order).await? else {
            return Ok(None);
        };
        let reference = package_reference(row);
        if read
            .packages
            .iter()
            .any(|p| p.package_reference_id == reference)
        {
            Ok(Some(delivered(row, Some(read.after_delivery()))))
        } else {
            Ok(None)
        }
    }

    async fn set_status(&self, _order: &str, to: StatusTarget) -> Result<Delivered, ChannelError> {
        Err(unsupported(to))
    }

    /// The order, when Amazon already has it in the status (cancelled by the buyer or in
    /// Seller Central): the one way such a request can be satisfied.
    async fn find_status(
        &self,
        order: &str,
        to: StatusTarget,
    ) -> Result<Option<Delivered>, ChannelError> {
        let Some(read) = self.read_back(order).await? else {
            return Ok(None);
        };
        let code = read.status_code();
        let matches = match to {
            StatusTarget::Cancelled => code == "Canceled",
            StatusTarget::OnHold => code == "Pending",
            StatusTarget::AwaitingShipment => code == "Unshipped",
            StatusTarget::Completed => code == "Shipped",
        };
        Ok(matches.then(|| Delivered {
            result: super::mapping::status_name(&code),
            order: Some(OrderAfterDelivery {
                lines_shipped: Vec::new(),
                ..read.after_delivery()
            }),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carriers_map_to_amazon_carrier_codes_and_others_keep_their_name() {
        assert_eq!(carrier_code(&Carrier::CanadaPost), ("Canada Post", None));
        assert_eq!(
            carrier_code(&Carrier::Custom("Speedy".into())),
            ("Other", Some("Speedy".into()))
        );
        assert_eq!(package_reference(OutboxId::from_raw(42)), "42");
        assert!(refuses_shipment("Canceled"));
        assert!(!refuses_shipment("Unshipped"));
        assert!(refused(&AmazonError::Invalid {
            operation: "confirmShipment",
            status: 400,
            code: "InvalidInput".into(),
            message: "packageReferenceId 1 has already been confirmed for order 702-1-2".into(),
        }));
    }
}
