//! Webhooks in for BigCommerce (`docs/WEBHOOKS.md`).
//!
//! - **Callbacks** are signed with Standard Webhooks, keyed with the raw bytes of the API
//!   account's client secret; [`read_callback`] verifies the signature over the raw body with a
//!   five-minute timestamp tolerance (replays), then reads the light payload
//!   (`{scope, data: {type, id, ...}}`) into a [`Hint`]. The `webhook-id` header is the message
//!   id the core de-duplicates by.
//! - **Hooks**: one per scope in [`HOOK_SCOPES`], all pointing at the store's receiver, each
//!   sending the core's header secret. [`HooksOut::ensure_hooks`] lists the hooks first and
//!   only creates what is missing, re-activates what BigCommerce deactivated (after 48 hours of
//!   failed deliveries), updates a hook whose destination or header drifted, and deletes
//!   duplicates and hooks of ours for scopes no longer needed. A hook is "ours" when its
//!   destination ends with this store's receiver path, so hooks of other apps on the same API
//!   account are never touched, and a change of public URL re-points ours. Cost: one
//!   `GET /v3/hooks`, plus one request per hook to change; a healthy store's check is one
//!   request.

use async_trait::async_trait;
use bigcommerce_client::{CreateHook, Hook, UpdateHook};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::{api_error, BigCommerceStore, HookHeaders};
use crate::channel::{Callback, CallbackError, ChannelError, Hint, HookReport, HooksOut};

/// The scopes the hub subscribes to, one hook each.
pub const HOOK_SCOPES: [&str; 9] = [
    "store/order/created",
    "store/order/updated",
    "store/order/statusUpdated",
    "store/order/archived",
    "store/shipment/created",
    "store/shipment/updated",
    "store/shipment/deleted",
    "store/product/inventory/updated",
    "store/sku/inventory/updated",
];

/// The light payload, as far as the hub reads it.
#[derive(Debug, Deserialize)]
pub struct LightPayload {
    /// e.g. `store/order/created`.
    pub scope: String,
    /// `{type, id, ...}`.
    pub data: PayloadData,
}

/// The `data` of a callback.
#[derive(Debug, Deserialize)]
pub struct PayloadData {
    /// `order`, `shipment`, `product`, `sku`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The resource id (a SKU id for `sku`).
    pub id: u64,
    /// A shipment's order.
    #[serde(default, rename = "orderId")]
    pub order_id: Option<u64>,
    /// Inventory events name their product here.
    #[serde(default)]
    pub inventory: Option<PayloadInventory>,
}

/// The `inventory` object of inventory callbacks.
#[derive(Debug, Deserialize)]
pub struct PayloadInventory {
    /// The product whose stock changed.
    #[serde(default)]
    pub product_id: Option<u64>,
}

impl LightPayload {
    /// What to fetch for this callback; `None` for events the hub does not act on.
    pub fn hint(&self) -> Option<Hint> {
        let data = &self.data;
        let inventory_product = data.inventory.as_ref().and_then(|i| i.product_id);
        match data.kind.as_str() {
            "order" => Some(Hint::Order(data.id.to_string())),
            // A shipment changes its order's quantities shipped and often its status.
            "shipment" => data.order_id.map(|id| Hint::Order(id.to_string())),
            "product" => Some(Hint::Product(
                inventory_product.unwrap_or(data.id).to_string(),
            )),
            // A SKU's id is not a product id: only the inventory's product id says which.
            "sku" => inventory_product.map(|id| Hint::Product(id.to_string())),
            _ => None,
        }
    }
}

/// Verifies a callback's Standard Webhooks signature with the client secret, then reads it.
pub fn read_callback(
    client_secret: &SecretString,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<Callback, CallbackError> {
    standardwebhooks::Webhook::from_bytes(client_secret.expose_secret().as_bytes().to_vec())
        .and_then(|webhook| webhook.verify(body, headers))
        .map_err(|error| CallbackError::Unauthenticated(error.to_string()))?;
    let message_id = headers
        .get(standardwebhooks::HEADER_WEBHOOK_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let payload: LightPayload = serde_json::from_slice(body).map_err(|_| {
        CallbackError::Malformed("the body is not a BigCommerce webhook payload".into())
    })?;
    Ok(Callback {
        message_id,
        hint: payload.hint(),
        scope: payload.scope,
    })
}

/// Whether a hook points at this store's receiver (at any public URL).
fn is_ours(hook: &Hook, receiver_path: &str) -> bool {
    hook.destination
        .as_deref()
        .and_then(|d| Url::parse(d).ok())
        .is_some_and(|url| url.path().trim_end_matches('/').ends_with(receiver_path))
}

#[async_trait]
impl HooksOut for BigCommerceStore {
    async fn ensure_hooks(
        &self,
        destination: &str,
        receiver_path: &str,
        headers: &HookHeaders,
    ) -> Result<HookReport, ChannelError> {
        let client = &self.client;
        let mut report = HookReport {
            destination: destination.to_owned(),
            ..HookReport::default()
        };
        let mut ours: Vec<Hook> = client
            .list_hooks()
            .await
            .map_err(api_error)?
            .into_iter()
            .filter(|hook| is_ours(hook, receiver_path))
            .collect();
        ours.sort_by_key(|hook| hook.id);
        for scope in HOOK_SCOPES {
            let mut matching = ours.iter().filter(|h| h.scope.as_deref() == Some(scope));
            match matching.next() {
                None => {
                    client
                        .create_hook(&CreateHook {
                            scope: scope.to_owned(),
                            destination: destination.to_owned(),
                            is_active: Some(true),
                            headers: Some(headers.clone()),
                        })
                        .await
                        .map_err(api_error)?;
                    report.created += 1;
                }
                Some(hook) => {
                    let active = hook.is_active != Some(false);
                    let right = active
                        && hook.destination.as_deref() == Some(destination)
                        && hook.headers.as_ref() == Some(headers);
                    if right {
                        report.unchanged += 1;
                    } else {
                        client
                            .update_hook(
                                hook.id,
                                &UpdateHook {
                                    is_active: Some(true),
                                    destination: Some(destination.to_owned()),
                                    headers: Some(headers.clone()),
                                    ..UpdateHook::default()
                                },
                            )
                            .await
                            .map_err(api_error)?;
                        if active {
                            report.updated += 1;
                        } else {
                            report.reactivated += 1;
                        }
                    }
                }
            }
            for duplicate in matching {
                client.delete_hook(duplicate.id).await.map_err(api_error)?;
                report.deleted += 1;
            }
        }
        for stale in ours
            .iter()
            .filter(|h| !HOOK_SCOPES.contains(&h.scope.as_deref().unwrap_or_default()))
        {
            client.delete_hook(stale.id).await.map_err(api_error)?;
            report.deleted += 1;
        }
        Ok(report)
    }

    async fn remove_hooks(&self, receiver_path: &str) -> Result<u64, ChannelError> {
        let mut deleted = 0;
        for hook in self.client.list_hooks().await.map_err(api_error)? {
            if is_ours(&hook, receiver_path) {
                self.client.delete_hook(hook.id).await.map_err(api_error)?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(json: &str) -> Option<Hint> {
        serde_json::from_str::<LightPayload>(json).unwrap().hint()
    }

    #[test]
    fn each_light_payload_names_what_to_fetch() {
        assert_eq!(
            hint(r#"{"scope":"store/order/created","data":{"type":"order","id":250}}"#),
            Some(Hint::Order("250".into()))
        );
        assert_eq!(
            hint(
                r#"{"scope":"store/shipment/created","data":{"type":"shipment","id":3,"orderId":251}}"#
            ),
            Some(Hint::Order("251".into()))
        );
        assert_eq!(
            hint(
                r#"{"scope":"store/sku/inventory/updated","data":{"type":"sku","id":461,"inventory":{"product_id":167,"method":"absolute","value":5,"variant_id":509}}}"#
            ),
            Some(Hint::Product("167".into()))
        );
        assert_eq!(
            hint(
                r#"{"scope":"store/product/inventory/updated","data":{"type":"product","id":7,"inventory":{"product_id":7}}}"#
            ),
            Some(Hint::Product("7".into()))
        );
        assert_eq!(
            hint(r#"{"scope":"store/cart/created","data":{"type":"cart","id":1}}"#),
            None
        );
    }
}
