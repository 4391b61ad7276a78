//! # Fulfilment: shipments and order status, written back exactly once
//!
//! A warehouse's "this parcel left" or "hold this order" becomes a row of the durable outbox
//! ([`crate::storage::Storage::enqueue_outbox`]) once it passes the checks the channel would
//! make, then a worker ([`worker`]) delivers it. Design, states and the exactly-once argument:
//! `docs/FULFILMENT.md` (DESIGN-NOTES note 2).
//!
//! - [`request_shipment`]: check a shipment against the hub's copy of the order (and what the
//!   outbox already holds for it) and enqueue it: one row per shipping address.
//! - [`request_status_change`]: enqueue a status change.
//! - [`worker::drain`] / [`worker::run`]: deliver.
//! - [`carriers`]: carriers as the hub names them; [`bigcommerce`]: everything BigCommerce
//!   spells its own way (provider values, status ids, the marker on read-back).
//!
//! The core here is channel-agnostic: payloads name lines and addresses by the channel's ids
//! (kept beside ours in storage) and carriers by our names.

pub mod bigcommerce;
pub mod carriers;
pub mod worker;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::storage::{
    AddressKind, EnqueueError, Enqueued, FulfilmentState, NewOutboxEntry, OrderRecord, OutboxKind,
    OutboxRow, Storage, StorageError, StoreScope,
};
pub use carriers::Carrier;

/// What an outbox row asks the channel to do, as stored (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutboxPayload {
    /// Create a shipment.
    Shipment(ShipmentPayload),
    /// Change the order's status.
    OrderStatus {
        /// The status wanted.
        to: StatusTarget,
    },
}

impl OutboxPayload {
    /// Reads a stored payload.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

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
    /// When the parcel left, as the warehouse says (kept in the hub; BigCommerce dates a
    /// shipment itself).
    pub shipped_at: DateTime<Utc>,
    /// The channel's shipping address (consignment) id.
    pub address_remote_id: i64,
    /// What ships.
    pub items: Vec<PayloadItem>,
}

/// One line of a shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadItem {
    /// The channel's line id (BigCommerce `order_product_id`).
    pub line_remote_id: i64,
    /// The line's SKU, for people reading the outbox.
    pub sku: String,
    /// Quantity.
    pub quantity: i32,
}

/// A status an order can be moved to from the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusTarget {
    /// Cancelled.
    Cancelled,
    /// On hold (see [`bigcommerce::status_id`] for how BigCommerce spells it).
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

/// What to ship: a quantity of a SKU (spread over the order's lines with that SKU) or of one
/// order line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemSpec {
    /// By SKU.
    Sku {
        /// The SKU as on the order.
        sku: String,
        /// Quantity.
        quantity: i32,
    },
    /// By the channel's line id.
    Line {
        /// The channel's line id.
        line_remote_id: i64,
        /// Quantity.
        quantity: i32,
    },
}

/// A shipment as a warehouse reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentRequest {
    /// The channel's order id.
    pub order_remote_id: i64,
    /// The carrier.
    pub carrier: Carrier,
    /// The tracking number.
    pub tracking_number: String,
    /// A tracking link of the merchant's own.
    pub tracking_link: Option<String>,
    /// When the parcel left (default: now).
    pub shipped_at: Option<DateTime<Utc>>,
    /// What ships; empty means everything that remains.
    pub items: Vec<ItemSpec>,
    /// The idempotency key; default [`ShipmentRequest::default_key`].
    pub request_key: Option<String>,
}

impl ShipmentRequest {
    /// The key used when the caller gives none: the same tracking number for the same order is
    /// the same parcel, so reporting it twice enters the outbox once.
    pub fn default_key(&self) -> String {
        format!(
            "ship:{}:{}:{}",
            self.order_remote_id,
            self.carrier.slug(),
            self.tracking_number
        )
    }
}

/// Why a request was not accepted. Every message says what happened and what to do.
#[derive(Debug, thiserror::Error)]
pub enum FulfilmentError {
    /// The order is not in the hub.
    #[error(
        "order {order} is not in the hub for store {store}; import it with `cenports sync \
         --store {store}` and try again"
    )]
    OrderNotImported {
        /// The store hash.
        store: String,
        /// The channel's order id.
        order: i64,
    },
    /// The request breaks a rule the channel would enforce; nothing was enqueued.
    #[error("{0}")]
    Rejected(String),
    /// A stored outbox payload could not be read.
    #[error("outbox row {row} holds a payload this version cannot read; upgrade cenports")]
    Payload {
        /// The row.
        row: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<EnqueueError<FulfilmentError>> for FulfilmentError {
    fn from(e: EnqueueError<FulfilmentError>) -> Self {
        match e {
            EnqueueError::Rejected(e) => e,
            EnqueueError::Storage(e) => FulfilmentError::Storage(e),
        }
    }
}

/// What a request produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    /// The outbox rows (one per shipping address for a shipment).
    pub rows: Vec<OutboxRow>,
    /// True when the key had been used already and nothing was added.
    pub duplicate: bool,
}

impl From<Enqueued> for Requested {
    fn from(e: Enqueued) -> Self {
        match e {
            Enqueued::New(rows) => Requested {
                rows,
                duplicate: false,
            },
            Enqueued::Duplicate(rows) => Requested {
                rows,
                duplicate: true,
            },
        }
    }
}

/// Checks a shipment against the hub's copy of the order and enqueues it, one outbox row per
/// shipping address. The check is repeated inside the enqueue transaction against the order's
/// open outbox rows, so two concurrent requests cannot together ship more than remains.
pub async fn request_shipment(
    storage: &Storage,
    scope: &StoreScope,
    store_hash: &str,
    request: &ShipmentRequest,
) -> Result<Requested, FulfilmentError> {
    if request.tracking_number.trim().is_empty() {
        return Err(FulfilmentError::Rejected(
            "a tracking number is required; give the carrier's number with --tracking".into(),
        ));
    }
    if request.tracking_number.chars().count() > bigcommerce::MAX_TRACKING_NUMBER {
        return Err(FulfilmentError::Rejected(format!(
            "the tracking number is {} characters long; BigCommerce accepts at most {}",
            request.tracking_number.chars().count(),
            bigcommerce::MAX_TRACKING_NUMBER
        )));
    }
    let order = load_order(storage, scope, store_hash, request.order_remote_id).await?;
    let key = request
        .request_key
        .clone()
        .unwrap_or_else(|| request.default_key());
    // A key already used answers with what it produced, delivered or not: a client retrying
    // after a lost answer (or the same parcel reported twice) must not be told "nothing left
    // to ship" about the shipment it created itself.
    let earlier = storage.outbox_by_key(scope, &key).await?;
    if !earlier.is_empty() {
        return Ok(Requested {
            rows: earlier,
            duplicate: true,
        });
    }
    let open = storage
        .open_outbox_for_order(scope, order.summary.id)
        .await?;
    let plan = plan_shipment(&order, &open, &request.items)?;
    let shipped_at = request.shipped_at.unwrap_or_else(Utc::now);
    let entries = plan
        .iter()
        .map(|(address, items)| {
            let payload = OutboxPayload::Shipment(ShipmentPayload {
                carrier: request.carrier.clone(),
                tracking_number: request.tracking_number.trim().to_owned(),
                tracking_link: request.tracking_link.clone(),
                shipped_at,
                address_remote_id: *address,
                items: items.clone(),
            });
            NewOutboxEntry {
                part: *address,
                kind: OutboxKind::Shipment,
                payload: serde_json::to_string(&payload).expect("a payload serialises"),
            }
        })
        .collect::<Vec<_>>();
    let enqueued = storage
        .enqueue_outbox(
            scope,
            order.summary.id,
            order.summary.remote_id,
            &key,
            &entries,
            |fresh| {
                // The plan must still fit once every row open now is delivered.
                let fresh_plan = plan_shipment(&order, fresh, &as_line_items(&plan))?;
                if fresh_plan == plan {
                    Ok(())
                } else {
                    Err(FulfilmentError::Rejected(
                        "another shipment of this order was requested at the same moment; \
                         check `cenports outbox` and try again"
                            .into(),
                    ))
                }
            },
        )
        .await?;
    Ok(enqueued.into())
}

/// Enqueues a status change (`request_key`: the caller's idempotency key; a fresh one when
/// `None`, as status changes may legitimately repeat).
pub async fn request_status_change(
    storage: &Storage,
    scope: &StoreScope,
    store_hash: &str,
    order_remote_id: i64,
    to: StatusTarget,
    request_key: Option<String>,
) -> Result<Requested, FulfilmentError> {
    let order = load_order(storage, scope, store_hash, order_remote_id).await?;
    if order.summary.is_deleted {
        return Err(FulfilmentError::Rejected(format!(
            "order {order_remote_id} is archived in BigCommerce; restore it there first"
        )));
    }
    let key = request_key.unwrap_or_else(|| {
        format!(
            "status:{order_remote_id}:{to}:{}",
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        )
    });
    let payload = serde_json::to_string(&OutboxPayload::OrderStatus { to }).expect("serialises");
    let entries = [NewOutboxEntry {
        part: 0,
        kind: OutboxKind::OrderStatus,
        payload,
    }];
    let enqueued = storage
        .enqueue_outbox(
            scope,
            order.summary.id,
            order.summary.remote_id,
            &key,
            &entries,
            |_| Ok::<(), FulfilmentError>(()),
        )
        .await?;
    Ok(enqueued.into())
}

async fn load_order(
    storage: &Storage,
    scope: &StoreScope,
    store_hash: &str,
    order_remote_id: i64,
) -> Result<OrderRecord, FulfilmentError> {
    storage
        .find_order_by_remote_id(scope, order_remote_id)
        .await?
        .ok_or_else(|| FulfilmentError::OrderNotImported {
            store: store_hash.to_owned(),
            order: order_remote_id,
        })
}

/// The plan's items as line specs (to re-check a plan against fresh open rows).
fn as_line_items(plan: &[(i64, Vec<PayloadItem>)]) -> Vec<ItemSpec> {
    plan.iter()
        .flat_map(|(_, items)| items.iter())
        .map(|item| ItemSpec::Line {
            line_remote_id: item.line_remote_id,
            quantity: item.quantity,
        })
        .collect()
}

/// Checks a shipment against the order and the outbox rows still open for it, and splits it
/// by shipping address: `(address id, items)` by address id, items by line id.
///
/// The rules are BigCommerce's, checked before calling it:
/// - an archived, cancelled, declined or refunded order cannot be shipped, nor one whose
///   cancellation is waiting in the outbox;
/// - every item names a line of the order (by line id, or by a SKU on the order);
/// - quantities are at least 1 and at most what remains: ordered − shipped − already
///   requested in open outbox rows; a SKU on several lines fills them in line order;
/// - with no items, everything that remains ships (and there must be something left);
/// - each line ships to its own consignment: one row per address.
pub fn plan_shipment(
    order: &OrderRecord,
    open: &[OutboxRow],
    items: &[ItemSpec],
) -> Result<Vec<(i64, Vec<PayloadItem>)>, FulfilmentError> {
    let id = order.summary.remote_id;
    let rejected = |text: String| Err(FulfilmentError::Rejected(text));
    if order.summary.is_deleted {
        return rejected(format!(
            "order {id} is archived in BigCommerce and cannot be shipped; restore it there first"
        ));
    }
    if bigcommerce::refuses_shipments(order.summary.status_id)
        || order.summary.fulfilment_state == FulfilmentState::Cancelled
    {
        return rejected(format!(
            "order {id} is {} and cannot be shipped; if it should ship, change its status in \
             BigCommerce first",
            order.summary.status_name
        ));
    }
    // What open rows will ship, and whether a cancellation is queued.
    let mut reserved: HashMap<i64, i32> = HashMap::new();
    for row in open {
        match OutboxPayload::parse(&row.payload) {
            Ok(OutboxPayload::Shipment(p)) => {
                for item in p.items {
                    *reserved.entry(item.line_remote_id).or_default() += item.quantity;
                }
            }
            Ok(OutboxPayload::OrderStatus {
                to: StatusTarget::Cancelled,
            }) => {
                return rejected(format!(
                    "order {id} has a cancellation waiting in the outbox (row {}); it cannot be \
                     shipped",
                    row.id.get()
                ))
            }
            Ok(OutboxPayload::OrderStatus { .. }) => {}
            Err(source) => {
                return Err(FulfilmentError::Payload {
                    row: row.id.to_string(),
                    source,
                })
            }
        }
    }
    let remaining = |line: &crate::storage::NewOrderLine| {
        (line.quantity
            - line.quantity_shipped
            - reserved.get(&line.remote_id).copied().unwrap_or(0))
        .max(0)
    };
    let describe = |line: &crate::storage::NewOrderLine| {
        let pending = reserved.get(&line.remote_id).copied().unwrap_or(0);
        format!(
            "{} left to ship (ordered {}, shipped {}{})",
            remaining(line),
            line.quantity,
            line.quantity_shipped,
            if pending > 0 {
                format!(", {pending} waiting in the outbox")
            } else {
                String::new()
            }
        )
    };

    // Quantities per line id.
    let mut wanted: BTreeMap<i64, i32> = BTreeMap::new();
    if items.is_empty() {
        for line in &order.lines {
            let left = remaining(line);
            if left > 0 {
                wanted.insert(line.remote_id, left);
            }
        }
        if wanted.is_empty() {
            return rejected(format!(
                "nothing left to ship on order {id}: every line is shipped or waiting in the \
                 outbox (see `cenports outbox`)"
            ));
        }
    }
    // Lines by id for line specs; SKUs fill lines in line order.
    let mut taken: HashMap<i64, i32> = HashMap::new();
    for spec in items {
        match spec {
            ItemSpec::Line {
                line_remote_id,
                quantity,
            } => {
                let Some(line) = order.lines.iter().find(|l| l.remote_id == *line_remote_id) else {
                    let known: Vec<String> = order
                        .lines
                        .iter()
                        .map(|l| format!("{} ({})", l.remote_id, l.sku))
                        .collect();
                    return rejected(format!(
                        "order {id} has no line {line_remote_id}; its lines are {}",
                        known.join(", ")
                    ));
                };
                if *quantity < 1 {
                    return rejected(format!(
                        "the quantity for line {line_remote_id} must be at least 1"
                    ));
                }
                let already = taken.entry(line.remote_id).or_default();
                if *already + quantity > remaining(line) {
                    return rejected(format!(
                        "line {line_remote_id} ({}) of order {id} has {}; {} asked",
                        line.sku,
                        describe(line),
                        *already + quantity
                    ));
                }
                *already += quantity;
                *wanted.entry(line.remote_id).or_default() += quantity;
            }
            ItemSpec::Sku { sku, quantity } => {
                let lines: Vec<_> = order.lines.iter().filter(|l| &l.sku == sku).collect();
                if lines.is_empty() {
                    let mut known: Vec<&str> = order.lines.iter().map(|l| l.sku.as_str()).collect();
                    known.dedup();
                    return rejected(format!(
                        "order {id} has no line with SKU {sku:?}; its SKUs are {}",
                        known.join(", ")
                    ));
                }
                if *quantity < 1 {
                    return rejected(format!("the quantity for SKU {sku} must be at least 1"));
                }
                let available: i32 = lines
                    .iter()
                    .map(|l| remaining(l) - taken.get(&l.remote_id).copied().unwrap_or(0))
                    .sum();
                if *quantity > available {
                    let detail: Vec<String> = lines
                        .iter()
                        .map(|l| format!("line {}: {}", l.remote_id, describe(l)))
                        .collect();
                    return rejected(format!(
                        "SKU {sku} on order {id} has {available} left to ship in all ({}); \
                         {quantity} asked",
                        detail.join("; ")
                    ));
                }
                let mut left = *quantity;
                for line in lines {
                    let already = taken.entry(line.remote_id).or_default();
                    let free = remaining(line) - *already;
                    let take = free.min(left);
                    if take > 0 {
                        *already += take;
                        *wanted.entry(line.remote_id).or_default() += take;
                        left -= take;
                    }
                }
            }
        }
    }

    // Group by consignment.
    let shipping: Vec<i64> = order
        .addresses
        .iter()
        .filter(|a| a.kind == AddressKind::Shipping)
        .filter_map(|a| a.remote_id)
        .collect();
    let mut by_address: BTreeMap<i64, Vec<PayloadItem>> = BTreeMap::new();
    for (line_id, quantity) in wanted {
        let line = order
            .lines
            .iter()
            .find(|l| l.remote_id == line_id)
            .expect("planned lines come from the order");
        let address = match line.address_remote_id {
            Some(address) => address,
            None if shipping.len() == 1 => shipping[0],
            None => {
                return rejected(format!(
                    "line {line_id} ({}) of order {id} has no shipping address in the hub; \
                     import the order again with `cenports sync` and retry",
                    line.sku
                ))
            }
        };
        by_address.entry(address).or_default().push(PayloadItem {
            line_remote_id: line_id,
            sku: line.sku.clone(),
            quantity,
        });
    }
    Ok(by_address.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{NewOrderAddress, NewOrderLine, OrderId, OrderSummary, StoreId};
    use rust_decimal::Decimal;

    fn line(id: i64, sku: &str, quantity: i32, shipped: i32, address: Option<i64>) -> NewOrderLine {
        NewOrderLine {
            remote_id: id,
            product_id: None,
            variant_id: None,
            sku: sku.into(),
            name: sku.into(),
            quantity,
            quantity_shipped: shipped,
            price: Decimal::ONE,
            address_remote_id: address,
        }
    }

    fn shipping(id: i64) -> NewOrderAddress {
        NewOrderAddress {
            kind: AddressKind::Shipping,
            remote_id: Some(id),
            first_name: String::new(),
            last_name: String::new(),
            company: String::new(),
            street_1: String::new(),
            street_2: String::new(),
            city: String::new(),
            state: String::new(),
            zip: String::new(),
            country_iso2: "CA".into(),
            email: String::new(),
            phone: String::new(),
            shipping_method: None,
        }
    }

    fn order(lines: Vec<NewOrderLine>, addresses: Vec<NewOrderAddress>) -> OrderRecord {
        let now = Utc::now();
        OrderRecord {
            summary: OrderSummary {
                id: OrderId(1),
                store_id: StoreId(1),
                remote_id: 100,
                status_id: 11,
                status_name: "Awaiting Fulfillment".into(),
                fulfilment_state: FulfilmentState::Ready,
                customer_id: None,
                email: None,
                currency: "CAD".into(),
                subtotal: Decimal::ZERO,
                total: Decimal::ZERO,
                tax: Decimal::ZERO,
                payment_method: None,
                payment_status: None,
                date_created: now,
                date_modified: now,
                is_deleted: false,
                imported_at: now,
                updated_at: now,
            },
            raw_json: "{}".into(),
            lines,
            addresses,
        }
    }

    fn sku(sku: &str, quantity: i32) -> ItemSpec {
        ItemSpec::Sku {
            sku: sku.into(),
            quantity,
        }
    }

    #[test]
    fn a_sku_on_two_consignments_fills_its_lines_in_order_and_splits_by_address() {
        let order = order(
            vec![
                line(1, "MUG-1", 2, 1, Some(10)),
                line(2, "MUG-1", 3, 0, Some(20)),
                line(3, "TEE-S", 1, 0, Some(20)),
            ],
            vec![shipping(10), shipping(20)],
        );
        let plan = plan_shipment(&order, &[], &[sku("MUG-1", 3), sku("TEE-S", 1)]).unwrap();
        let summary: Vec<(i64, Vec<(i64, i32)>)> = plan
            .into_iter()
            .map(|(address, items)| {
                (
                    address,
                    items
                        .iter()
                        .map(|i| (i.line_remote_id, i.quantity))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![(10, vec![(1, 1)]), (20, vec![(2, 2), (3, 1)])],
            "line 1 had one left; the other two mugs come from line 2"
        );
    }

    #[test]
    fn a_line_without_its_consignment_uses_the_only_shipping_address_and_is_refused_otherwise() {
        let single = order(vec![line(1, "MUG-1", 1, 0, None)], vec![shipping(10)]);
        let plan = plan_shipment(&single, &[], &[]).unwrap();
        assert_eq!(plan[0].0, 10);
        let double = order(
            vec![line(1, "MUG-1", 1, 0, None)],
            vec![shipping(10), shipping(20)],
        );
        let error = plan_shipment(&double, &[], &[]).unwrap_err().to_string();
        assert!(
            error.contains("no shipping address") && error.contains("cenports sync"),
            "{error}"
        );
    }

    #[test]
    fn the_same_line_named_twice_cannot_exceed_what_remains() {
        let order = order(vec![line(7, "MUG-1", 2, 0, Some(10))], vec![shipping(10)]);
        let items = [
            ItemSpec::Line {
                line_remote_id: 7,
                quantity: 1,
            },
            sku("MUG-1", 2),
        ];
        let error = plan_shipment(&order, &[], &items).unwrap_err().to_string();
        assert!(
            error.contains("has 1 left to ship") && error.contains("2 asked"),
            "{error}"
        );
        let fine = plan_shipment(&order, &[], &items[..1]).unwrap();
        assert_eq!(fine[0].1[0].quantity, 1);
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
