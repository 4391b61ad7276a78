//! # Fulfilment: shipments and order status, written back exactly once
//!
//! A warehouse's "this parcel left" or "hold this order" becomes a row of the durable outbox
//! ([`crate::storage::Storage::enqueue_outbox`]) once it passes the checks the channel would
//! make, then a worker ([`worker`]) delivers it. Design, states and the exactly-once argument:
//! `docs/FULFILMENT.md` (`docs/HARD-PROBLEMS.md` note 2).
//!
//! - [`request_shipment`]: check a shipment against the hub's copy of the order (and what the
//!   outbox already holds for it) and enqueue it: one row per shipping address.
//! - [`request_status_change`]: enqueue a status change.
//! - [`worker::drain`] / [`worker::run`]: deliver, through the store's
//!   [`crate::channel::FulfilmentOut`] (each channel spells carriers, statuses and its marker
//!   its own way in its `fulfilment.rs`).
//! - [`carriers`]: carriers as the hub names them.
//!
//! The core here is channel-agnostic: payloads name lines and addresses by the channel's ids
//! (kept beside ours in storage, as text) and carriers by our names; the channel's own rules
//! (its longest tracking number, the statuses it refuses to ship) come from its
//! [`Channel`].

pub mod batch;
pub mod worker;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::channel::carriers;
use crate::channel::Channel;
pub use crate::channel::{Carrier, PayloadItem, ShipmentPayload, StatusTarget};
use crate::storage::{
    AddressKind, EnqueueError, Enqueued, FulfilmentState, NewOutboxEntry, OrderRecord, OutboxKind,
    OutboxRow, Storage, StorageError, StoreRecord, STATUS_PART,
};

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
        line_remote_id: String,
        /// Quantity.
        quantity: i32,
    },
}

/// A shipment as a warehouse reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentRequest {
    /// The channel's order id.
    pub order_remote_id: String,
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

/// The longest tracking link taken (characters): a link is a URL a customer clicks, and a
/// store keeps it; 2,000 is what browsers and servers accept everywhere.
pub const MAX_TRACKING_LINK: usize = 2_000;

/// What is wrong with a shipment's tracking number or tracking link. The one rule every
/// surface applies ([`check_tracking`]); each surface names its own field in the message
/// ([`TrackingProblem::describe`]: `--tracking` on the command line, `tracking_number` in the
/// API, "Tracking number" on the dashboard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackingProblem {
    /// The tracking number is empty or only spaces.
    NumberMissing,
    /// The tracking number is longer than the channel takes.
    NumberTooLong {
        /// Its length in characters.
        length: usize,
        /// The channel's limit.
        longest: usize,
        /// The channel's display name.
        channel: String,
    },
    /// The tracking number holds control characters (NUL, a line break, a tab, an escape…).
    NumberHasControlCharacters,
    /// The tracking link is not an absolute `http://` or `https://` URL.
    LinkNotHttp,
    /// The tracking link is longer than [`MAX_TRACKING_LINK`].
    LinkTooLong {
        /// Its length in characters.
        length: usize,
    },
}

impl TrackingProblem {
    /// The problem in a sentence, naming the fields as `number` and `link` (the caller's
    /// spelling of them).
    pub fn describe(&self, number: &str, link: &str) -> String {
        match self {
            Self::NumberMissing => {
                format!("{number} is required: give the carrier's tracking number")
            }
            Self::NumberTooLong {
                length,
                longest,
                channel,
            } => {
                format!("{number} is {length} characters long; {channel} accepts at most {longest}")
            }
            Self::NumberHasControlCharacters => format!(
                "{number} has control characters (a line break, tab, NUL or escape); give the \
                 carrier's number as printed on the label"
            ),
            Self::LinkNotHttp => format!(
                "{link} must be an absolute http:// or https:// URL (e.g. \
                 https://carrier.example/track?n=123), or left out"
            ),
            Self::LinkTooLong { length } => {
                format!("{link} is {length} characters long; at most {MAX_TRACKING_LINK} are taken")
            }
        }
    }
}

impl std::fmt::Display for TrackingProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe("the tracking number", "the tracking link"))
    }
}

/// Checks a shipment's tracking number and link, as every surface must before anything is
/// written to a store: the number not blank, within the channel's limit and without control
/// characters; the link, if any, an absolute `http`/`https` URL with a host, no spaces or
/// control characters, and at most [`MAX_TRACKING_LINK`] characters.
pub fn check_tracking(
    number: &str,
    link: Option<&str>,
    channel: &dyn Channel,
) -> Result<(), TrackingProblem> {
    if number.trim().is_empty() {
        return Err(TrackingProblem::NumberMissing);
    }
    if number.chars().any(char::is_control) {
        return Err(TrackingProblem::NumberHasControlCharacters);
    }
    let longest = channel.max_tracking_number();
    let length = number.chars().count();
    if length > longest {
        return Err(TrackingProblem::NumberTooLong {
            length,
            longest,
            channel: channel.display_name().to_owned(),
        });
    }
    if let Some(link) = link {
        let length = link.chars().count();
        if length > MAX_TRACKING_LINK {
            return Err(TrackingProblem::LinkTooLong { length });
        }
        // Checked on the text as given: the URL parser would silently drop tabs and line
        // breaks.
        let plain = !link.chars().any(|c| c.is_control() || c.is_whitespace());
        let lower = link.get(..8).unwrap_or(link).to_ascii_lowercase();
        let spelled_out = lower.starts_with("http://") || lower.starts_with("https://");
        let web = url::Url::parse(link).is_ok_and(|url| {
            matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some_and(|h| !h.is_empty())
        });
        if !(plain && spelled_out && web) {
            return Err(TrackingProblem::LinkNotHttp);
        }
    }
    Ok(())
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
        /// The channel's store key.
        store: String,
        /// The channel's order id.
        order: String,
    },
    /// The request breaks a rule the channel would enforce; nothing was enqueued.
    #[error("{0}")]
    Rejected(String),
    /// The tracking number or link is not acceptable ([`check_tracking`]); nothing was
    /// enqueued.
    #[error("{0}")]
    Tracking(TrackingProblem),
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
/// shipping address. The check is repeated inside the enqueue transaction against the order
/// and its open outbox rows as read there, under the order's lock, so concurrent requests (and
/// deliveries or imports committed meanwhile) cannot together ship more than remains.
pub async fn request_shipment(
    storage: &Storage,
    store: &StoreRecord,
    channel: &dyn Channel,
    request: &ShipmentRequest,
) -> Result<Requested, FulfilmentError> {
    let scope = &store.scope();
    check_tracking(
        &request.tracking_number,
        request.tracking_link.as_deref(),
        channel,
    )
    .map_err(FulfilmentError::Tracking)?;
    let order = load_order(storage, store, &request.order_remote_id).await?;
    check_shippable(&order, channel)?;
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
                address_remote_id: address.clone(),
                items: items.clone(),
            });
            NewOutboxEntry {
                part: address.clone(),
                kind: OutboxKind::Shipment,
                payload: serde_json::to_string(&payload).expect("a payload serialises"),
            }
        })
        .collect::<Vec<_>>();
    let enqueued = storage
        .enqueue_outbox(
            scope,
            order.summary.id,
            &order.summary.remote_id,
            &key,
            &entries,
            |fresh, open| {
                // Checked again on the order and its open rows as they are inside the
                // transaction (another request, a delivery or an import may have committed
                // since the read above): the same request must make the same plan.
                check_shippable(fresh, channel)?;
                let fresh_plan = plan_shipment(fresh, open, &request.items)?;
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
    store: &StoreRecord,
    channel: &dyn Channel,
    order_remote_id: &str,
    to: StatusTarget,
    request_key: Option<String>,
) -> Result<Requested, FulfilmentError> {
    let scope = &store.scope();
    let order = load_order(storage, store, order_remote_id).await?;
    if order.summary.is_deleted {
        return Err(FulfilmentError::Rejected(format!(
            "order {order_remote_id} is archived in {}; restore it there first",
            channel.display_name()
        )));
    }
    if let Some(reason) = channel.refuses_status_change(to) {
        return Err(FulfilmentError::Rejected(reason));
    }
    let key = request_key.unwrap_or_else(|| {
        format!(
            "status:{order_remote_id}:{to}:{}",
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        )
    });
    let payload = serde_json::to_string(&OutboxPayload::OrderStatus { to }).expect("serialises");
    let entries = [NewOutboxEntry {
        part: STATUS_PART.to_owned(),
        kind: OutboxKind::OrderStatus,
        payload,
    }];
    let enqueued = storage
        .enqueue_outbox(
            scope,
            order.summary.id,
            &order.summary.remote_id,
            &key,
            &entries,
            |_, _| Ok::<(), FulfilmentError>(()),
        )
        .await?;
    Ok(enqueued.into())
}

pub(crate) async fn load_order(
    storage: &Storage,
    store: &StoreRecord,
    order_remote_id: &str,
) -> Result<OrderRecord, FulfilmentError> {
    storage
        .find_order_by_remote_id(&store.scope(), order_remote_id)
        .await?
        .ok_or_else(|| FulfilmentError::OrderNotImported {
            store: store.remote_id.clone(),
            order: order_remote_id.to_owned(),
        })
}

/// The channel's refusals, checked before anything is planned: an archived order, or one in a
/// status the channel will not ship (or that we hold as cancelled).
pub(crate) fn check_shippable(
    order: &OrderRecord,
    channel: &dyn Channel,
) -> Result<(), FulfilmentError> {
    let id = &order.summary.remote_id;
    let name = channel.display_name();
    if order.summary.is_deleted {
        return Err(FulfilmentError::Rejected(format!(
            "order {id} is archived in {name} and cannot be shipped; restore it there first"
        )));
    }
    if channel.refuses_shipment(&order.summary.status_code)
        || order.summary.fulfilment_state == FulfilmentState::Cancelled
    {
        return Err(FulfilmentError::Rejected(format!(
            "order {id} is {} and cannot be shipped; if it should ship, change its status in \
             {name} first",
            order.summary.status_name
        )));
    }
    Ok(())
}

/// Checks a shipment against the order and the outbox rows still open for it, and splits it
/// by shipping address: `(address id, items)` by address id, items by line id.
///
/// The rules are the ones a channel enforces, checked before calling it (the channel's own
/// refusals of an order's status were checked before):
/// - an order whose cancellation is waiting in the outbox cannot be shipped;
/// - every item names a line of the order (by line id, or by a SKU on the order);
/// - quantities are at least 1 and at most what remains: ordered − shipped − already
///   requested in open outbox rows; a SKU on several lines fills them in line order;
/// - with no items, everything that remains ships (and there must be something left);
/// - each line ships to its own consignment: one row per address.
pub fn plan_shipment(
    order: &OrderRecord,
    open: &[OutboxRow],
    items: &[ItemSpec],
) -> Result<Vec<(String, Vec<PayloadItem>)>, FulfilmentError> {
    plan_shipment_after(order, open, &[], items)
}

/// [`plan_shipment`] as if `also` (items of shipments planned but not yet queued, e.g. the
/// earlier parcels of a bulk import, [`batch`]) were open rows of the order too.
pub fn plan_shipment_after(
    order: &OrderRecord,
    open: &[OutboxRow],
    also: &[PayloadItem],
    items: &[ItemSpec],
) -> Result<Vec<(String, Vec<PayloadItem>)>, FulfilmentError> {
    let id = &order.summary.remote_id;
    let rejected = |text: String| Err(FulfilmentError::Rejected(text));
    // What open rows will ship, and whether a cancellation is queued.
    let mut reserved: HashMap<String, i32> = HashMap::new();
    for item in also {
        *reserved.entry(item.line_remote_id.clone()).or_default() += item.quantity;
    }
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
    let mut wanted: BTreeMap<String, i32> = BTreeMap::new();
    if items.is_empty() {
        for line in &order.lines {
            let left = remaining(line);
            if left > 0 {
                wanted.insert(line.remote_id.clone(), left);
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
    let mut taken: HashMap<String, i32> = HashMap::new();
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
                let already = taken.entry(line.remote_id.clone()).or_default();
                if *already + quantity > remaining(line) {
                    return rejected(format!(
                        "line {line_remote_id} ({}) of order {id} has {}; {} asked",
                        line.sku,
                        describe(line),
                        *already + quantity
                    ));
                }
                *already += quantity;
                *wanted.entry(line.remote_id.clone()).or_default() += quantity;
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
                    let already = taken.entry(line.remote_id.clone()).or_default();
                    let free = remaining(line) - *already;
                    let take = free.min(left);
                    if take > 0 {
                        *already += take;
                        *wanted.entry(line.remote_id.clone()).or_default() += take;
                        left -= take;
                    }
                }
            }
        }
    }

    // Group by consignment.
    let shipping: Vec<&String> = order
        .addresses
        .iter()
        .filter(|a| a.kind == AddressKind::Shipping)
        .filter_map(|a| a.remote_id.as_ref())
        .collect();
    let mut by_address: BTreeMap<String, Vec<PayloadItem>> = BTreeMap::new();
    for (line_id, quantity) in wanted {
        let line = order
            .lines
            .iter()
            .find(|l| l.remote_id == line_id)
            .expect("planned lines come from the order");
        let address = match &line.address_remote_id {
            Some(address) => address.clone(),
            None if shipping.len() == 1 => shipping[0].clone(),
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
    // In the channel's id order (numeric ids by value), so rows and items come out as the
    // order lists its addresses and lines.
    let mut plan: Vec<(String, Vec<PayloadItem>)> = by_address.into_iter().collect();
    plan.sort_by(|a, b| id_order(&a.0, &b.0));
    for (_, items) in &mut plan {
        items.sort_by(|a, b| id_order(&a.line_remote_id, &b.line_remote_id));
    }
    Ok(plan)
}

/// Channel ids in their natural order: shorter first, then by text, which orders numeric ids
/// by value (`"9"` before `"10"`) and any other text consistently.
pub fn id_order(a: &str, b: &str) -> std::cmp::Ordering {
    (a.len(), a).cmp(&(b.len(), b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{NewOrderAddress, NewOrderLine, OrderId, OrderSummary, StoreId};
    use rust_decimal::Decimal;

    fn line(id: i64, sku: &str, quantity: i32, shipped: i32, address: Option<i64>) -> NewOrderLine {
        NewOrderLine {
            remote_id: id.to_string(),
            product_id: None,
            variant_id: None,
            sku: sku.into(),
            name: sku.into(),
            quantity,
            quantity_shipped: shipped,
            price: Decimal::ONE,
            address_remote_id: address.map(|a| a.to_string()),
        }
    }

    fn shipping(id: i64) -> NewOrderAddress {
        NewOrderAddress {
            kind: AddressKind::Shipping,
            remote_id: Some(id.to_string()),
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
                remote_id: "100".into(),
                status_code: "11".into(),
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
        let summary: Vec<(String, Vec<(String, i32)>)> = plan
            .into_iter()
            .map(|(address, items)| {
                (
                    address,
                    items
                        .iter()
                        .map(|i| (i.line_remote_id.clone(), i.quantity))
                        .collect(),
                )
            })
            .collect();
        let ids = |address: &str, lines: &[(&str, i32)]| {
            (
                address.to_owned(),
                lines
                    .iter()
                    .map(|(l, q)| (l.to_string(), *q))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            summary,
            vec![ids("10", &[("1", 1)]), ids("20", &[("2", 2), ("3", 1)])],
            "line 1 had one left; the other two mugs come from line 2"
        );
    }

    #[test]
    fn a_line_without_its_consignment_uses_the_only_shipping_address_and_is_refused_otherwise() {
        let single = order(vec![line(1, "MUG-1", 1, 0, None)], vec![shipping(10)]);
        let plan = plan_shipment(&single, &[], &[]).unwrap();
        assert_eq!(plan[0].0, "10");
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
                line_remote_id: "7".into(),
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
}
