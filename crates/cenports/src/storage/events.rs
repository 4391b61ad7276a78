//! Events for the warehouse's systems (`docs/EVENTS.md`): the event log, the merchants'
//! subscriptions and the delivery queue.
//!
//! An event is written in the transaction that makes it happen: an import that finds an order
//! cancelled ([`announce_orders`], called by the page save), an outbox row closed as delivered
//! or failed, a stock push recorded. In the same statement batch each event gets one delivery
//! row per matching subscription ([`record_events`]). Nothing is held in memory between the
//! commit and the delivery, so a process killed in between loses nothing: the next dispatcher
//! (any process on the database) claims the pending rows.
//!
//! Deliveries of one subject (one order, or a store's stock) to one subscription go out one at a
//! time, in event order: a delivery is claimable only when no earlier one of its subject is
//! still pending ([`Storage::claim_deliveries`]). Each delivery row says so itself
//! (`next_in_line`: the pending one with the smallest event id of its subject and
//! subscription), kept in the transactions that record deliveries ([`record_events`]), deliver
//! them, give them up and resend them ([`LINE_UP`]), so the claim reads one index however long
//! the queue. A failure pauses the whole subscription with a doubling back-off (1 s up to an
//! hour); a delivery is given up after a day of failures.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::QueryBuilder;

use super::error::Context;
use super::orders::order_read_sql;
use super::{from_millis, ms, Backend, IdList, Storage, StorageError};
use super::{AddressKind, FulfilmentState, NewOrderAddress, NewOrderLine, NewOrderRecord};
use super::{DeliveryId, OrderRecord, OrderSummary, StoreId, SubscriptionId, UserId};

/// What happened. The stored and published spelling is [`EventType::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// An order can be picked: it reached the ready state (new, paid, released from hold).
    OrderReady,
    /// What a ready, held or partly shipped order ships changed: its lines or a shipping
    /// address.
    OrderUpdated,
    /// A ready or partly shipped order was put on hold: stop picking it.
    OrderOnHold,
    /// An order the warehouse knew of was cancelled or refunded before it shipped: do not ship
    /// it.
    OrderCancelled,
    /// A shipment was written to the store (carrier, tracking, lines).
    ShipmentDelivered,
    /// A shipment could not be written to the store and was given up.
    ShipmentFailed,
    /// Available quantities were pushed to the store.
    StockPushed,
}

impl EventType {
    /// Every type, in the order the documentation lists them.
    pub const ALL: [EventType; 7] = [
        Self::OrderReady,
        Self::OrderUpdated,
        Self::OrderOnHold,
        Self::OrderCancelled,
        Self::ShipmentDelivered,
        Self::ShipmentFailed,
        Self::StockPushed,
    ];

    /// The published name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderReady => "order.ready",
            Self::OrderUpdated => "order.updated",
            Self::OrderOnHold => "order.on_hold",
            Self::OrderCancelled => "order.cancelled",
            Self::ShipmentDelivered => "shipment.delivered",
            Self::ShipmentFailed => "shipment.failed",
            Self::StockPushed => "stock.pushed",
        }
    }

    /// Every name, comma-separated (for messages).
    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an event type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an event type; the types are {types}", types = EventType::names())]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownEventType(s.to_owned()))
    }
}

/// The public id of an event (`evt_<n>`): the Standard Webhooks `webhook-id`, the same on every
/// attempt and in the feed, so a receiver can drop what it already has.
pub fn event_public_id(id: i64) -> String {
    format!("evt_{id}")
}

/// A subscription to record. The secret is already sealed ([`subscription_aad`]).
#[derive(Debug, Clone)]
pub struct NewSubscription {
    /// The merchant.
    pub user_id: UserId,
    /// Only this store's events (`None`: every store of the merchant).
    pub store_id: Option<StoreId>,
    /// The endpoint, already checked.
    pub url: String,
    /// The types wanted; empty means all.
    pub event_types: Vec<EventType>,
    /// The signing secret, sealed.
    pub sealed_secret: Vec<u8>,
}

/// The associated data the signing secret of `user`'s subscription to `url` is sealed with.
pub fn subscription_aad(user: UserId, url: &str) -> String {
    format!("event_subscription:{}:{url}", user.get())
}

/// A subscription with its delivery figures.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Our id.
    pub id: SubscriptionId,
    /// The merchant.
    pub user_id: UserId,
    /// Only this store (`None`: every store of the merchant).
    pub store_id: Option<StoreId>,
    /// The endpoint.
    pub url: String,
    /// The types wanted; empty means all.
    pub event_types: Vec<EventType>,
    /// The sealed signing secret.
    pub sealed_secret: Vec<u8>,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Failed attempts since the last success.
    pub failures_in_a_row: i32,
    /// When the current run of failures began (`None`: the last attempt succeeded).
    pub failing_since: Option<DateTime<Utc>>,
    /// No attempt before this (after a failure).
    pub paused_until: Option<DateTime<Utc>>,
    /// Deliveries waiting.
    pub pending: i64,
    /// Deliveries done.
    pub delivered: i64,
    /// Deliveries given up.
    pub failed: i64,
}

impl Subscription {
    /// Whether it takes events of this type.
    pub fn wants(&self, event_type: EventType) -> bool {
        self.event_types.is_empty() || self.event_types.contains(&event_type)
    }
}

fn types_column(types: &[EventType]) -> String {
    if types.is_empty() {
        String::new()
    } else {
        format!(
            ",{},",
            types
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(",")
        )
    }
}

fn parse_types(column: &str) -> Vec<EventType> {
    column
        .split(',')
        .filter(|t| !t.is_empty())
        .filter_map(|t| t.parse().ok())
        .collect()
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Not delivered yet (waiting, being sent, or retrying).
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Given up after a day of failures (a resend queues it again).
    Failed,
}

impl DeliveryState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

impl FromStr for DeliveryState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "delivered" => Ok(Self::Delivered),
            "failed" => Ok(Self::Failed),
            other => Err(format!(
                "{other:?} is not a delivery state; the states are pending, delivered and failed"
            )),
        }
    }
}

/// An event as the feed and the deliveries publish it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// Our id (the public id is [`event_public_id`]).
    pub id: i64,
    /// Where it sits in the feed.
    pub cursor: EventCursor,
    /// The store it is about.
    pub store_id: StoreId,
    /// What happened.
    pub event_type: EventType,
    /// The event's data (JSON).
    pub data: Value,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

impl EventRecord {
    /// The JSON body a subscriber receives and the feed lists: `id`, `type`, `timestamp`,
    /// `store_id` and `data`.
    pub fn envelope(&self) -> Value {
        json!({
            "id": event_public_id(self.id),
            "type": self.event_type.as_str(),
            "timestamp": self.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "store_id": self.store_id.get(),
            "data": self.data,
        })
    }
}

/// A position in the event feed: after this sequence number. Opaque to clients (`4182`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventCursor(i64);

impl fmt::Display for EventCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for EventCursor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().parse::<i64>() {
            Ok(seq) if seq >= 0 => Ok(EventCursor(seq)),
            _ => Err(format!(
                "{s:?} is not an event cursor; give the next_cursor of an earlier answer, or \
                 leave it out to start from the oldest event kept"
            )),
        }
    }
}

/// A delivery as the dashboard, the CLI and the API list it.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    /// Our id.
    pub id: DeliveryId,
    /// The subscription.
    pub subscription_id: SubscriptionId,
    /// The event.
    pub event: EventRecord,
    /// Where it is.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: i32,
    /// The next attempt (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The endpoint's last HTTP status, if it answered.
    pub last_status: Option<i32>,
    /// The last failure, as an operator reads it.
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A delivery taken by a dispatcher, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    /// Our id.
    pub id: DeliveryId,
    /// The subscription.
    pub subscription_id: SubscriptionId,
    /// The merchant (for the secret's associated data).
    pub user_id: UserId,
    /// The endpoint.
    pub url: String,
    /// The sealed signing secret.
    pub sealed_secret: Vec<u8>,
    /// The event.
    pub event: EventRecord,
    /// This attempt's number (1 for the first).
    pub attempt: i32,
}

/// How many deliveries are in each state, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DeliveryCounts {
    /// Waiting or retrying.
    pub pending: i64,
    /// Delivered.
    pub delivered: i64,
    /// Given up.
    pub failed: i64,
    /// Age of the oldest pending delivery's event, in seconds (0 when none).
    pub oldest_pending_seconds: f64,
    /// Subscriptions whose last attempt failed.
    pub failing_subscriptions: i64,
}

/// An event to record in the current transaction.
#[derive(Debug, Clone)]
pub(super) struct NewEvent {
    pub(super) event_type: EventType,
    /// `order:<our id>` or `stock`: deliveries of one subject keep their order.
    pub(super) subject: String,
    pub(super) data: Value,
}

/// The back-off of a subscription after `failures` failed attempts in a row: 1 s, doubling, at
/// most an hour.
pub fn backoff(failures: i32) -> Duration {
    let exponent = failures.clamp(1, 13) - 1;
    Duration::from_secs((1u64 << exponent).min(3600))
}

/// How long a delivery is retried before it is given up.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// How long events are kept (the feed's reach); deliveries go with their events.
pub const EVENT_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

// ---------------------------------------------------------------------------------------------
// Which order events an import makes.

/// Whether the warehouse may be working on an order in this state.
fn in_warehouse(state: FulfilmentState) -> bool {
    matches!(
        state,
        FulfilmentState::Ready | FulfilmentState::OnHold | FulfilmentState::PartiallyShipped
    )
}

/// The event a new version of an order makes, given what the warehouse was last told of it
/// (`None` for an order never seen): its state and content fingerprint
/// ([`content_fingerprint`]; `None` when unknown, e.g. recorded by a release that kept none).
///
/// - `order.ready` when it reaches the ready state from any other (or first seen ready);
/// - `order.on_hold` when a ready or partly shipped order goes on hold;
/// - `order.cancelled` when an order the warehouse knew (ready, on hold, partly shipped) is
///   cancelled or refunded;
/// - `order.updated` when a ready, held or partly shipped order keeps its state but what it
///   ships changed.
///
/// At most one: a state change carries the new content in its data.
pub(crate) fn order_event(
    told: Option<(FulfilmentState, Option<i64>)>,
    state: FulfilmentState,
    fingerprint: Option<i64>,
) -> Option<EventType> {
    use FulfilmentState::*;
    let Some((before, told_fingerprint)) = told else {
        return (state == Ready).then_some(EventType::OrderReady);
    };
    if state == before {
        let changed = matches!((told_fingerprint, fingerprint), (Some(a), Some(b)) if a != b);
        return (in_warehouse(state) && changed).then_some(EventType::OrderUpdated);
    }
    match state {
        Ready => Some(EventType::OrderReady),
        OnHold if matches!(before, Ready | PartiallyShipped) => Some(EventType::OrderOnHold),
        Cancelled | Refunded if in_warehouse(before) => Some(EventType::OrderCancelled),
        _ => None,
    }
}

/// A fingerprint of what an order ships: its lines (id, SKU, quantity, address) and its shipping
/// addresses, in a stable order. Billing details, prices and shipped quantities are left out:
/// changes to them are not the warehouse's business.
pub(crate) fn content_fingerprint(lines: &[NewOrderLine], addresses: &[NewOrderAddress]) -> i64 {
    let mut hash = Sha256::new();
    let mut field = |text: &str| {
        hash.update(text.as_bytes());
        hash.update([0u8]);
    };
    let mut lines: Vec<&NewOrderLine> = lines.iter().collect();
    lines.sort_by(|a, b| a.remote_id.cmp(&b.remote_id));
    for line in lines {
        field("line");
        field(&line.remote_id);
        field(&line.sku);
        field(&line.quantity.to_string());
        field(line.address_remote_id.as_deref().unwrap_or(""));
    }
    let mut shipping: Vec<&NewOrderAddress> = addresses
        .iter()
        .filter(|a| a.kind == AddressKind::Shipping)
        .collect();
    shipping.sort_by(|a, b| a.remote_id.cmp(&b.remote_id));
    for a in shipping {
        field("address");
        for text in [
            a.remote_id.as_deref().unwrap_or(""),
            &a.first_name,
            &a.last_name,
            &a.company,
            &a.street_1,
            &a.street_2,
            &a.city,
            &a.state,
            &a.zip,
            &a.country_iso2,
            &a.phone,
            a.shipping_method.as_deref().unwrap_or(""),
        ] {
            field(text);
        }
    }
    let digest = hash.finalize();
    i64::from_be_bytes(
        digest[..8]
            .try_into()
            .expect("a SHA-256 digest has 8 bytes"),
    )
}

/// What an order event says of its order.
pub(crate) struct OrderFacts<'a> {
    pub(crate) id: i64,
    pub(crate) remote_id: &'a str,
    pub(crate) status_name: &'a str,
    pub(crate) state: FulfilmentState,
    pub(crate) date_created: DateTime<Utc>,
    pub(crate) date_modified: DateTime<Utc>,
    pub(crate) email: Option<&'a str>,
    pub(crate) currency: &'a str,
    pub(crate) total: rust_decimal::Decimal,
    pub(crate) lines: &'a [NewOrderLine],
    pub(crate) addresses: &'a [NewOrderAddress],
}

impl<'a> OrderFacts<'a> {
    pub(crate) fn of_new(id: i64, o: &'a NewOrderRecord) -> Self {
        OrderFacts {
            id,
            remote_id: &o.remote_id,
            status_name: &o.status_name,
            state: o.fulfilment_state,
            date_created: o.date_created,
            date_modified: o.date_modified,
            email: o.email.as_deref(),
            currency: &o.currency,
            total: o.total,
            lines: &o.lines,
            addresses: &o.addresses,
        }
    }

    pub(crate) fn of_stored(o: &'a OrderRecord) -> Self {
        let s = &o.summary;
        OrderFacts {
            id: s.id.get(),
            remote_id: &s.remote_id,
            status_name: &s.status_name,
            state: s.fulfilment_state,
            date_created: s.date_created,
            date_modified: s.date_modified,
            email: s.email.as_deref(),
            currency: &s.currency,
            total: s.total,
            lines: &o.lines,
            addresses: &o.addresses,
        }
    }

    /// The event's `data`: the order as a warehouse picks it, with the state it left.
    pub(crate) fn data(&self, previous: Option<FulfilmentState>) -> Value {
        let ship_to: Vec<Value> = self
            .addresses
            .iter()
            .filter(|a| a.kind == AddressKind::Shipping)
            .map(|a| {
                json!({
                    "address_id": a.remote_id,
                    "first_name": a.first_name,
                    "last_name": a.last_name,
                    "company": a.company,
                    "street_1": a.street_1,
                    "street_2": a.street_2,
                    "city": a.city,
                    "state": a.state,
                    "zip": a.zip,
                    "country_iso2": a.country_iso2,
                    "phone": a.phone,
                    "email": a.email,
                    "shipping_method": a.shipping_method,
                })
            })
            .collect();
        let lines: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                json!({
                    "line_id": l.remote_id,
                    "sku": l.sku,
                    "name": l.name,
                    "quantity": l.quantity,
                    "quantity_shipped": l.quantity_shipped,
                    "address_id": l.address_remote_id,
                })
            })
            .collect();
        json!({
            "order": {
                "id": self.id,
                "number": self.remote_id,
                "status": self.status_name,
                "fulfilment_state": self.state.as_str(),
                "previous_state": previous.map(FulfilmentState::as_str),
                "date_created": self.date_created,
                "date_modified": self.date_modified,
                "email": self.email,
                "currency": self.currency,
                "total": self.total.normalize().to_string(),
                "ship_to": ship_to,
                "lines": lines,
            }
        })
    }
}

/// `count` placeholders for the parameters `first`, `first + 1`, …, for lists bound one value
/// each: the generic functions below build their SQL as text, as `QueryBuilder` cannot be
/// borrowed across their executor bounds. PostgreSQL's are `$first, …`; SQLite's are plain `?`,
/// numbered by position, so a statement that uses them must take **all** its parameters from
/// here, in order. (SQLite looks a `$N` up by name in a list, at parse and at every bind: with
/// the 1,750 of an events page that cost 15% of an import's CPU, `docs/PERFORMANCE.md`,
/// "Events".)
fn placeholders<DB: sqlx::Database>(first: usize, count: usize) -> String {
    if DB::NAME == "SQLite" {
        return vec!["?"; count].join(", ");
    }
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `DB` is PostgreSQL, whose concurrent transactions need the row locks that SQLite's
/// single writer makes unnecessary (and does not parse).
fn is_postgres<DB: sqlx::Database>() -> bool {
    DB::NAME == "PostgreSQL"
}

/// One order a page save wrote, for [`announce_orders`].
pub(super) struct WrittenOrder<'a> {
    /// Our id.
    pub(super) id: i64,
    /// Whether this transaction inserted it (then it was never announced; its row already
    /// holds its state and fingerprint as announced).
    pub(super) inserted: bool,
    /// The version written.
    pub(super) order: &'a NewOrderRecord,
}

// ---------------------------------------------------------------------------------------------
// Writing events inside another transaction. Generic over the backend: called from inside
// `with_pool!` bodies with that backend's connection.

/// Compares each written order with what the warehouse was told of it, records the events that
/// makes ([`order_event`]) and what is now told. Runs in the page's transaction, after the
/// upsert: the rows of the orders that existed are locked by it, so two writers of one order
/// announce one after the other, never both from the same old state.
pub(super) async fn announce_orders<DB>(
    conn: &mut DB::Connection,
    user: UserId,
    store: StoreId,
    written: &[WrittenOrder<'_>],
) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database + sqlx::database::HasStatementCache,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'r> (i64, Option<String>, Option<i64>): sqlx::FromRow<'r, DB::Row>,
    for<'r> (i64,): sqlx::FromRow<'r, DB::Row>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut told: HashMap<i64, Option<(FulfilmentState, Option<i64>)>> = HashMap::new();
    let existing: Vec<i64> = written
        .iter()
        .filter(|w| !w.inserted)
        .map(|w| w.id)
        .collect();
    for chunk in existing.chunks(500) {
        let sql = format!(
            "SELECT id, announced_state, announced_hash FROM orders WHERE id IN ({}) \
             AND store_id = {}",
            placeholders::<DB>(1, chunk.len()),
            placeholders::<DB>(1 + chunk.len(), 1)
        );
        let mut query =
            sqlx::query_as::<DB, (i64, Option<String>, Option<i64>)>(&sql).persistent(false);
        for id in chunk {
            query = query.bind(*id);
        }
        query = query.bind(store.0);
        let rows = query.fetch_all(&mut *conn).await?;
        for (id, state, fingerprint) in rows {
            let state = state.and_then(|s| s.parse::<FulfilmentState>().ok());
            told.insert(id, state.map(|s| (s, fingerprint)));
        }
    }
    let mut events = Vec::new();
    for w in written {
        let state = w.order.fulfilment_state;
        let fingerprint = content_fingerprint(&w.order.lines, &w.order.addresses);
        let before = if w.inserted {
            None
        } else {
            told.get(&w.id).copied().flatten()
        };
        if let Some(event_type) = order_event(before, state, Some(fingerprint)) {
            events.push(NewEvent {
                event_type,
                subject: format!("order:{}", w.id),
                data: OrderFacts::of_new(w.id, w.order).data(before.map(|(s, _)| s)),
            });
        }
        if !w.inserted && before != Some((state, Some(fingerprint))) {
            sqlx::query::<DB>(
                "UPDATE orders SET announced_state = $1, announced_hash = $2 \
                 WHERE store_id = $3 AND id = $4",
            )
            .bind(state.as_str())
            .bind(fingerprint)
            .bind(store.0)
            .bind(w.id)
            .execute(&mut *conn)
            .await?;
        }
    }
    record_events::<DB>(conn, user, store, &events).await
}

/// Records the event that a state change of a stored order makes (an outbox delivery that
/// read the order back): like [`announce_orders`] for one order whose content did not change.
/// The order's row must already be updated in this transaction, which holds its lock.
pub(super) async fn announce_state<DB>(
    conn: &mut DB::Connection,
    store: StoreId,
    order_id: i64,
) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database + sqlx::database::HasStatementCache,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'r> (i64, Option<String>, Option<i64>): sqlx::FromRow<'r, DB::Row>,
    for<'r> (i64,): sqlx::FromRow<'r, DB::Row>,
    for<'r> OrderSummary: sqlx::FromRow<'r, DB::Row>,
    for<'r> NewOrderLine: sqlx::FromRow<'r, DB::Row>,
    for<'r> NewOrderAddress: sqlx::FromRow<'r, DB::Row>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let told: Option<(i64, Option<String>, Option<i64>)> = sqlx::query_as::<DB, _>(
        "SELECT s.user_id, o.announced_state, o.announced_hash FROM orders o \
         JOIN stores s ON s.id = o.store_id WHERE o.store_id = $1 AND o.id = $2",
    )
    .bind(store.0)
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((user, told_state, fingerprint)) = told else {
        return Ok(());
    };
    let [order_sql, lines_sql, addresses_sql] = order_read_sql("id", "");
    let summary: OrderSummary = sqlx::query_as::<DB, OrderSummary>(&order_sql)
        .bind(store.0)
        .bind(order_id)
        .fetch_one(&mut *conn)
        .await?;
    let before = told_state
        .and_then(|s| s.parse::<FulfilmentState>().ok())
        .map(|s| (s, fingerprint));
    let state = summary.fulfilment_state;
    if before.map(|(s, _)| s) == Some(state) {
        return Ok(());
    }
    sqlx::query::<DB>("UPDATE orders SET announced_state = $1 WHERE store_id = $2 AND id = $3")
        .bind(state.as_str())
        .bind(store.0)
        .bind(order_id)
        .execute(&mut *conn)
        .await?;
    let Some(event_type) = order_event(before, state, fingerprint) else {
        return Ok(());
    };
    let lines: Vec<NewOrderLine> = sqlx::query_as::<DB, NewOrderLine>(&lines_sql)
        .bind(store.0)
        .bind(order_id)
        .fetch_all(&mut *conn)
        .await?;
    let addresses: Vec<NewOrderAddress> = sqlx::query_as::<DB, NewOrderAddress>(&addresses_sql)
        .bind(store.0)
        .bind(order_id)
        .fetch_all(&mut *conn)
        .await?;
    let order = OrderRecord {
        summary,
        raw_json: String::new(),
        lines,
        addresses,
    };
    let event = NewEvent {
        event_type,
        subject: format!("order:{order_id}"),
        data: OrderFacts::of_stored(&order).data(before.map(|(s, _)| s)),
    };
    record_events::<DB>(conn, UserId(user), store, &[event]).await
}

/// Inserts events of one store and, for each, one pending delivery per subscription of the
/// store's owner that wants it. Two statements for any number of events.
pub(super) async fn record_events<DB>(
    conn: &mut DB::Connection,
    user: UserId,
    store: StoreId,
    events: &[NewEvent],
) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database + sqlx::database::HasStatementCache,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'r> (i64,): sqlx::FromRow<'r, DB::Row>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    if events.is_empty() {
        return Ok(());
    }
    let now = Utc::now().timestamp_millis();
    // The feed's sequence numbers, from the one counter row: its lock is held until this
    // transaction commits, so numbers become visible in order (see the migration).
    let (last,): (i64,) = sqlx::query_as::<DB, (i64,)>(
        "UPDATE event_counter SET last_seq = last_seq + $1 WHERE id = 1 RETURNING last_seq",
    )
    .bind(events.len() as i64)
    .fetch_one(&mut *conn)
    .await?;
    let mut seq = last - events.len() as i64;
    let mut ids: Vec<i64> = Vec::with_capacity(events.len());
    for chunk in events.chunks(250) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", placeholders::<DB>(1 + i * 7, 7)))
            .collect();
        let sql = format!(
            "INSERT INTO events (commit_seq, user_id, store_id, type, subject, payload, \
             created_at) VALUES {} RETURNING id",
            rows.join(", ")
        );
        let mut query = sqlx::query_as::<DB, (i64,)>(&sql).persistent(false);
        for e in chunk {
            seq += 1;
            query = query
                .bind(seq)
                .bind(user.0)
                .bind(store.0)
                .bind(e.event_type.as_str())
                .bind(e.subject.clone())
                .bind(e.data.to_string())
                .bind(now);
        }
        let rows = query.fetch_all(&mut *conn).await?;
        ids.extend(rows.into_iter().map(|(id,)| id));
    }
    if is_postgres::<DB>() {
        // Whether a new delivery is next in line depends on the pending ones of its subject; the
        // dispatcher changes those under the subscription's row lock ([`lock_subscription`]).
        // Holding it in share mode until this transaction commits keeps a delivery that is
        // being delivered from being taken as still pending, and one being resent from being
        // missed: either way the new delivery would be wrongly in line or wrongly not.
        sqlx::query::<DB>(
            "SELECT id FROM event_subscriptions WHERE user_id = $1 ORDER BY id FOR SHARE",
        )
        .bind(user.0)
        .execute(&mut *conn)
        .await?;
    }
    for chunk in ids.chunks(500) {
        // Each delivery waits for the subscription's pause, if any, like those already
        // waiting ([`Storage::delivery_failed`]). It is next in line when it is the first of
        // its subject among these and none of its subject is pending already (the statement
        // reads the table as it was before it, on both backends).
        let sql = format!(
            "INSERT INTO event_deliveries (subscription_id, event_id, subject, next_attempt_at, \
             updated_at, next_in_line) SELECT s.id, e.id, e.subject, \
             CASE WHEN s.paused_until > e.created_at THEN s.paused_until ELSE e.created_at END, \
             e.created_at, \
             CASE WHEN ROW_NUMBER() OVER (PARTITION BY s.id, e.subject ORDER BY e.id) = 1 \
                 AND NOT EXISTS (SELECT 1 FROM event_deliveries p WHERE p.subscription_id = s.id \
                     AND p.subject = e.subject AND p.state = 'pending') \
             THEN 1 ELSE 0 END \
             FROM events e JOIN event_subscriptions s ON s.user_id = e.user_id \
             AND (s.store_id IS NULL OR s.store_id = e.store_id) \
             AND (s.event_types = '' OR s.event_types LIKE '%,' || e.type || ',%') \
             WHERE e.id IN ({}) ORDER BY e.id, s.id",
            placeholders::<DB>(1, chunk.len())
        );
        let mut query = sqlx::query::<DB>(&sql).persistent(false);
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records the `shipment.*` event of an outbox row closed in this transaction (nothing for a
/// row that is not a shipment).
pub(super) async fn shipment_event<DB>(
    conn: &mut DB::Connection,
    outbox_id: i64,
    event_type: EventType,
    store_shipment_id: Option<&str>,
    error: Option<&str>,
) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database + sqlx::database::HasStatementCache,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'r> (i64, i64, i64, String, String): sqlx::FromRow<'r, DB::Row>,
    for<'r> (i64,): sqlx::FromRow<'r, DB::Row>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let row: Option<(i64, i64, i64, String, String)> = sqlx::query_as::<DB, _>(
        "SELECT s.user_id, o.store_id, o.order_id, o.order_remote_id, o.payload FROM outbox o \
         JOIN stores s ON s.id = o.store_id WHERE o.id = $1 AND o.kind = 'shipment'",
    )
    .bind(outbox_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((user, store, order_id, order_number, payload)) = row else {
        return Ok(());
    };
    let event = NewEvent {
        event_type,
        subject: format!("order:{order_id}"),
        data: shipment_data(
            order_id,
            &order_number,
            outbox_id,
            &payload,
            store_shipment_id,
            error,
        ),
    };
    record_events::<DB>(conn, UserId(user), StoreId(store), &[event]).await
}

/// The `stock.pushed` event of a push's records: every SKU a level was sent for, with the level
/// and the outcome of its read-back. `None` when the push sent nothing.
pub(super) fn stock_pushed(records: &[super::PushRecord]) -> Option<NewEvent> {
    let skus: Vec<Value> = records
        .iter()
        .filter_map(|r| {
            r.level_sent.map(|level| {
                json!({
                    "sku": r.sku,
                    "available": level,
                    "status": r.status,
                    "store_level": r.reported_level,
                })
            })
        })
        .collect();
    (!skus.is_empty()).then(|| NewEvent {
        event_type: EventType::StockPushed,
        subject: "stock".to_owned(),
        data: json!({ "skus": skus }),
    })
}

/// The data of a `shipment.*` event, from an outbox row: the order, the shipment as the
/// warehouse reported it (carrier, tracking, lines) and the store's id of it or the error.
fn shipment_data(
    order_id: i64,
    order_number: &str,
    outbox_id: i64,
    payload: &str,
    store_shipment_id: Option<&str>,
    error: Option<&str>,
) -> Value {
    let payload: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
    let items: Vec<Value> = payload["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    json!({
                        "line_id": i["line_remote_id"],
                        "sku": i["sku"],
                        "quantity": i["quantity"],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "order": { "id": order_id, "number": order_number },
        "shipment": {
            "id": outbox_id,
            "carrier": payload["carrier"],
            "tracking_number": payload["tracking_number"],
            "tracking_link": payload.get("tracking_link").cloned().unwrap_or(Value::Null),
            "shipped_at": payload["shipped_at"],
            "address_id": payload["address_remote_id"],
            "items": items,
            "store_shipment_id": store_shipment_id,
        },
        "error": error,
    })
}

// ---------------------------------------------------------------------------------------------
// Subscriptions, the feed and the delivery queue.

const SUBSCRIPTION_COLUMNS: &str = "s.id, s.user_id, s.store_id, s.url, s.event_types, \
     s.secret, s.created_at, s.failures_in_a_row, s.failing_since, s.paused_until, \
     (SELECT COUNT(*) FROM event_deliveries d WHERE d.subscription_id = s.id \
         AND d.state = 'pending') AS pending, \
     (SELECT COUNT(*) FROM event_deliveries d WHERE d.subscription_id = s.id \
         AND d.state = 'delivered') AS delivered, \
     (SELECT COUNT(*) FROM event_deliveries d WHERE d.subscription_id = s.id \
         AND d.state = 'failed') AS failed";

from_row_both!(Subscription, |row| {
    use sqlx::Row;
    let paused_until: i64 = row.try_get("paused_until")?;
    Ok(Subscription {
        id: SubscriptionId(row.try_get("id")?),
        user_id: UserId(row.try_get("user_id")?),
        store_id: row.try_get::<Option<i64>, _>("store_id")?.map(StoreId),
        url: row.try_get("url")?,
        event_types: parse_types(&row.try_get::<String, _>("event_types")?),
        sealed_secret: row.try_get("secret")?,
        created_at: from_millis(row.try_get("created_at")?),
        failures_in_a_row: row.try_get("failures_in_a_row")?,
        failing_since: row
            .try_get::<Option<i64>, _>("failing_since")?
            .map(from_millis),
        paused_until: (paused_until > 0).then(|| from_millis(paused_until)),
        pending: row.try_get("pending")?,
        delivered: row.try_get("delivered")?,
        failed: row.try_get("failed")?,
    })
});

const EVENT_COLUMNS: &str = "e.id AS event_id, e.commit_seq, e.store_id AS event_store_id, \
     e.type AS event_type, e.payload, e.created_at AS event_created_at";

fn event_from_row<R>(row: &R) -> Result<EventRecord, sqlx::Error>
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let id: i64 = row.try_get("event_id")?;
    let event_type: String = row.try_get("event_type")?;
    let payload: String = row.try_get("payload")?;
    Ok(EventRecord {
        id,
        cursor: EventCursor(row.try_get("commit_seq")?),
        store_id: StoreId(row.try_get("event_store_id")?),
        event_type: event_type
            .parse()
            .map_err(|e: UnknownEventType| sqlx::Error::Decode(Box::new(e)))?,
        data: serde_json::from_str(&payload).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        created_at: from_millis(row.try_get("event_created_at")?),
    })
}

from_row_both!(EventRecord, |row| { event_from_row(row) });

from_row_both!(DeliveryRecord, |row| {
    use sqlx::Row;
    let state: String = row.try_get("state")?;
    let state: DeliveryState = state
        .parse()
        .map_err(|e: String| sqlx::Error::Decode(e.into()))?;
    Ok(DeliveryRecord {
        id: DeliveryId(row.try_get("id")?),
        subscription_id: SubscriptionId(row.try_get("subscription_id")?),
        event: event_from_row(row)?,
        state,
        attempts: row.try_get("attempts")?,
        next_attempt_at: (state == DeliveryState::Pending)
            .then(|| row.try_get::<i64, _>("next_attempt_at").map(from_millis))
            .transpose()?,
        last_status: row.try_get("last_status")?,
        last_error: row.try_get("last_error")?,
        delivered_at: row
            .try_get::<Option<i64>, _>("delivered_at")?
            .map(from_millis),
    })
});

from_row_both!(ClaimedDelivery, |row| {
    use sqlx::Row;
    Ok(ClaimedDelivery {
        id: DeliveryId(row.try_get("id")?),
        subscription_id: SubscriptionId(row.try_get("subscription_id")?),
        user_id: UserId(row.try_get("user_id")?),
        url: row.try_get("url")?,
        sealed_secret: row.try_get("secret")?,
        event: event_from_row(row)?,
        attempt: row.try_get("attempts")?,
    })
});

const DELIVERY_COLUMNS: &str = "d.id, d.subscription_id, d.state, d.attempts, \
     d.next_attempt_at, d.last_status, d.last_error, d.delivered_at";

/// Makes a subscription's waiting deliveries due now (`$1` the subscription): after its pause
/// ends early (a success, a resend), what [`Storage::delivery_failed`] held back goes out.
fn release_sql(now_ms: &str) -> String {
    format!(
        "UPDATE event_deliveries SET next_attempt_at = {now_ms} WHERE subscription_id = $1 \
         AND state = 'pending' AND next_attempt_at > {now_ms}"
    )
}

/// Puts the first pending delivery of one subject for one subscription (`$1`, `$2`) next in
/// line, and no other: run after a delivery of theirs leaves the pending state (delivered,
/// given up) or joins it again (resent). It writes only the rows whose flag is wrong, flipping
/// them.
const LINE_UP: &str = "UPDATE event_deliveries SET next_in_line = 1 - next_in_line \
     WHERE subscription_id = $1 AND subject = $2 AND state = 'pending' \
     AND next_in_line <> CASE WHEN event_id = (SELECT MIN(p.event_id) FROM event_deliveries p \
         WHERE p.subscription_id = $1 AND p.subject = $2 AND p.state = 'pending') \
     THEN 1 ELSE 0 END";

/// What ends the statement that reads a delivery's subscription (aliased `s`) before its
/// deliveries' states change: on PostgreSQL it locks the subscription's row until the
/// transaction ends, so that a page recording new deliveries for it ([`record_events`], which
/// holds the row in share mode) sees the change whole or not at all, and so sets `next_in_line`
/// right. Nothing on SQLite, whose write transactions run one at a time.
fn lock_subscription(backend: &Backend) -> &'static str {
    match backend {
        Backend::Sqlite(_) => "",
        Backend::Postgres(_) => " FOR UPDATE OF s",
    }
}

impl Storage {
    /// Records a subscription; returns it.
    pub async fn create_subscription(
        &self,
        new: &NewSubscription,
    ) -> Result<Subscription, StorageError> {
        let now = Utc::now().timestamp_millis();
        let id: i64 = with_pool!(self, |pool| {
            sqlx::query_scalar::<Db, i64>(
                "INSERT INTO event_subscriptions (user_id, store_id, url, event_types, secret, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(new.user_id.0)
            .bind(new.store_id.map(|s| s.0))
            .bind(&new.url)
            .bind(types_column(&new.event_types))
            .bind(&new.sealed_secret)
            .bind(now)
            .fetch_one(pool)
            .await
            .op("recording a subscription")
        })?;
        self.get_subscription(Some(new.user_id), SubscriptionId(id))
            .await
    }

    /// The subscriptions of `user` (`None`: every user's, for operators), oldest first.
    pub async fn list_subscriptions(
        &self,
        user: Option<UserId>,
    ) -> Result<Vec<Subscription>, StorageError> {
        let sql = format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM event_subscriptions s \
             WHERE ($1 IS NULL OR s.user_id = $1) ORDER BY s.id"
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, Subscription>(&sql)
                .bind(user.map(|u| u.0))
                .fetch_all(pool)
                .await
                .op("listing subscriptions")
        })
    }

    /// One subscription of `user` (`None`: any user's); [`StorageError::NotFound`] otherwise.
    pub async fn get_subscription(
        &self,
        user: Option<UserId>,
        id: SubscriptionId,
    ) -> Result<Subscription, StorageError> {
        let sql = format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM event_subscriptions s \
             WHERE s.id = $1 AND ($2 IS NULL OR s.user_id = $2)"
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, Subscription>(&sql)
                .bind(id.0)
                .bind(user.map(|u| u.0))
                .fetch_optional(pool)
                .await
                .op("reading a subscription")
        })?
        .ok_or_else(|| StorageError::NotFound {
            what: "subscription",
            id: id.to_string(),
        })
    }

    /// Removes a subscription of `user` (`None`: any user's) with its deliveries, pending ones
    /// included. [`StorageError::NotFound`] if there is none.
    pub async fn remove_subscription(
        &self,
        user: Option<UserId>,
        id: SubscriptionId,
    ) -> Result<(), StorageError> {
        let removed = with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin_with(BEGIN_WRITE).await.op("removing a subscription")?;
                let found: Option<i64> = sqlx::query_scalar::<Db, i64>(
                    "SELECT id FROM event_subscriptions WHERE id = $1 AND ($2 IS NULL OR user_id = $2)",
                )
                .bind(id.0)
                .bind(user.map(|u| u.0))
                .fetch_optional(&mut *tx)
                .await
                .op("removing a subscription")?;
                if found.is_none() {
                    return Ok(false);
                }
                for sql in [
                    "DELETE FROM event_deliveries WHERE subscription_id = $1",
                    "DELETE FROM event_subscriptions WHERE id = $1",
                ] {
                    sqlx::query::<Db>(sql)
                        .bind(id.0)
                        .execute(&mut *tx)
                        .await
                        .op("removing a subscription")?;
                }
                tx.commit().await.op("removing a subscription")?;
                Ok::<bool, StorageError>(true)
            }
            .await
        })?;
        if removed {
            Ok(())
        } else {
            Err(StorageError::NotFound {
                what: "subscription",
                id: id.to_string(),
            })
        }
    }

    /// Up to `limit` events after `after` (from the oldest kept when `None`), of `user`'s
    /// stores (`None`: every store), in feed order: their sequence numbers, which become
    /// visible in order, so a cursor never passes an event that commits later.
    pub async fn events_after(
        &self,
        user: Option<UserId>,
        after: Option<EventCursor>,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StorageError> {
        let after = after.unwrap_or_default();
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events e WHERE ($1 IS NULL OR e.user_id = $1) \
             AND e.commit_seq > $2 ORDER BY e.commit_seq LIMIT $3"
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, EventRecord>(&sql)
                .bind(user.map(|u| u.0))
                .bind(after.0)
                .bind(i64::from(limit.clamp(1, 1000)))
                .persistent(false)
                .fetch_all(pool)
                .await
                .op("reading the event feed")
        })
    }

    /// A page of deliveries, newest first, before `before` (exclusive): of one subscription or
    /// of all of `user`'s (`None`: every user's), optionally in one state.
    pub async fn list_deliveries(
        &self,
        user: Option<UserId>,
        subscription: Option<SubscriptionId>,
        state: Option<DeliveryState>,
        limit: u32,
        before: Option<DeliveryId>,
    ) -> Result<Vec<DeliveryRecord>, StorageError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS}, {EVENT_COLUMNS} FROM event_deliveries d \
             JOIN events e ON e.id = d.event_id \
             JOIN event_subscriptions s ON s.id = d.subscription_id \
             WHERE ($1 IS NULL OR s.user_id = $1) AND ($2 IS NULL OR d.subscription_id = $2) \
             AND ($3 IS NULL OR d.state = $3) AND ($4 IS NULL OR d.id < $4) \
             ORDER BY d.id DESC LIMIT $5"
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, DeliveryRecord>(&sql)
                .bind(user.map(|u| u.0))
                .bind(subscription.map(|s| s.0))
                .bind(state.map(DeliveryState::as_str))
                .bind(before.map(|d| d.0))
                .bind(i64::from(limit.clamp(1, 1000)))
                .persistent(false)
                .fetch_all(pool)
                .await
                .op("listing deliveries")
        })
    }

    /// Takes up to `limit` deliveries that are due, for `owner`, until `lease` from now: pending,
    /// next in line (no earlier delivery of their subject is pending for their subscription, so
    /// one subject's events go out in order), not held by a live claim, of a subscription that
    /// is not paused; the longest due first. Each claim counts an attempt.
    ///
    /// One index answers it, the due times of the deliveries next in line, whatever the length
    /// of the queue. "Now" is the database's clock, read once and bound: PostgreSQL can bound
    /// an index scan with a value, not with `clock_timestamp()` (`docs/PERFORMANCE.md`,
    /// "Events").
    pub async fn claim_deliveries(
        &self,
        owner: &str,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<ClaimedDelivery>, StorageError> {
        const OP: &str = "claiming event deliveries";
        let clock = format!("SELECT {}", self.backend.now_ms());
        let skip_locked = match self.backend {
            Backend::Sqlite(_) => "",
            Backend::Postgres(_) => " FOR UPDATE OF d SKIP LOCKED",
        };
        let pick = format!(
            "SELECT d.id FROM event_deliveries d \
             JOIN event_subscriptions s ON s.id = d.subscription_id \
             WHERE d.state = 'pending' AND d.next_in_line = 1 AND d.next_attempt_at <= $1 \
             AND (d.claimed_until IS NULL OR d.claimed_until <= $1) \
             AND s.paused_until <= $1 \
             ORDER BY d.next_attempt_at, d.event_id LIMIT $2{skip_locked}"
        );
        let read = format!(
            "SELECT d.id, d.subscription_id, d.attempts, s.user_id, s.url, s.secret, \
             {EVENT_COLUMNS} FROM event_deliveries d \
             JOIN event_subscriptions s ON s.id = d.subscription_id \
             JOIN events e ON e.id = d.event_id WHERE d.claimed_by = "
        );
        with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin_with(BEGIN_WRITE).await.op(OP)?;
                let now: i64 = sqlx::query_scalar::<Db, i64>(&clock)
                    .fetch_one(&mut *tx)
                    .await
                    .op(OP)?;
                let ids: Vec<i64> = sqlx::query_scalar::<Db, i64>(&pick)
                    .bind(now)
                    .bind(i64::from(limit.max(1)))
                    .fetch_all(&mut *tx)
                    .await
                    .op(OP)?;
                if ids.is_empty() {
                    tx.commit().await.op(OP)?;
                    return Ok(Vec::new());
                }
                let mut claim =
                    QueryBuilder::<Db>::new("UPDATE event_deliveries SET claimed_by = ");
                claim
                    .push_bind(owner)
                    .push(", claimed_until = ")
                    .push_bind(now + ms(lease))
                    .push(
                        ", attempts = attempts + 1, first_attempt_at = COALESCE(first_attempt_at, ",
                    )
                    .push_bind(now)
                    .push("), updated_at = ")
                    .push_bind(now)
                    .push(" WHERE state = 'pending'");
                Db::push_id_list(&mut claim, "id", ids.clone());
                claim.build().execute(&mut *tx).await.op(OP)?;
                let mut read = QueryBuilder::<Db>::new(&read);
                read.push_bind(owner);
                Db::push_id_list(&mut read, "d.id", ids);
                let claimed: Vec<ClaimedDelivery> = read
                    .build_query_as::<ClaimedDelivery>()
                    .fetch_all(&mut *tx)
                    .await
                    .op(OP)?;
                tx.commit().await.op(OP)?;
                Ok::<_, StorageError>(claimed)
            }
            .await
        })
    }

    /// Records a delivery the endpoint took (`status`, 2xx), and that its subscription works
    /// again. Returns `false` when `owner` no longer held it (another process took it over;
    /// the receiver de-duplicates by event id).
    pub async fn delivery_succeeded(
        &self,
        id: DeliveryId,
        owner: &str,
        status: u16,
    ) -> Result<bool, StorageError> {
        const OP: &str = "recording an event delivery";
        let now_ms = self.backend.now_ms();
        let held = format!(
            "SELECT d.subscription_id, d.subject, s.failures_in_a_row FROM event_deliveries d \
             JOIN event_subscriptions s ON s.id = d.subscription_id \
             WHERE d.id = $1 AND d.claimed_by = $2 AND d.state = 'pending'{}",
            lock_subscription(&self.backend)
        );
        let done = format!(
            "UPDATE event_deliveries SET state = 'delivered', delivered_at = {now_ms}, \
             last_status = $1, last_error = NULL, claimed_by = NULL, claimed_until = NULL, \
             next_in_line = 0, updated_at = {now_ms} \
             WHERE id = $2 AND claimed_by = $3 AND state = 'pending'"
        );
        let release = release_sql(now_ms);
        with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin_with(BEGIN_WRITE).await.op(OP)?;
                let held: Option<(i64, String, i32)> =
                    sqlx::query_as::<Db, (i64, String, i32)>(&held)
                        .bind(id.0)
                        .bind(owner)
                        .fetch_optional(&mut *tx)
                        .await
                        .op(OP)?;
                let Some((subscription, subject, was_failing)) = held else {
                    return Ok(false);
                };
                let updated = sqlx::query::<Db>(&done)
                    .bind(i32::from(status))
                    .bind(id.0)
                    .bind(owner)
                    .execute(&mut *tx)
                    .await
                    .op(OP)?
                    .rows_affected();
                if updated == 0 {
                    return Ok(false);
                }
                // The next delivery of its subject, if any, may go now.
                sqlx::query::<Db>(LINE_UP)
                    .bind(subscription)
                    .bind(&subject)
                    .execute(&mut *tx)
                    .await
                    .op(OP)?;
                if was_failing > 0 {
                    for sql in [
                        "UPDATE event_subscriptions SET failures_in_a_row = 0, \
                         failing_since = NULL, paused_until = 0 WHERE id = $1",
                        release.as_str(),
                    ] {
                        sqlx::query::<Db>(sql)
                            .bind(subscription)
                            .execute(&mut *tx)
                            .await
                            .op(OP)?;
                    }
                }
                tx.commit().await.op(OP)?;
                Ok::<bool, StorageError>(true)
            }
            .await
        })
    }

    /// Records a failed attempt: the subscription pauses for its [`backoff`], and the delivery
    /// waits for the pause to end, or is given up (`failed`) when its first attempt is at least
    /// `give_up_after` old. Returns the delivery's state after it, or `None` when `owner` no
    /// longer held it.
    pub async fn delivery_failed(
        &self,
        id: DeliveryId,
        owner: &str,
        status: Option<u16>,
        error: &str,
        give_up_after: Duration,
    ) -> Result<Option<DeliveryState>, StorageError> {
        const OP: &str = "recording a failed event delivery";
        let now_ms = self.backend.now_ms();
        // Its first statement updates the subscription's row, which locks it before the
        // delivery's state changes, as [`lock_subscription`] does elsewhere.
        let pause = format!(
            "UPDATE event_subscriptions SET failures_in_a_row = CASE \
             WHEN paused_until > {now_ms} THEN failures_in_a_row ELSE failures_in_a_row + 1 END, \
             failing_since = COALESCE(failing_since, {now_ms}) WHERE id = \
             (SELECT subscription_id FROM event_deliveries WHERE id = $1 AND claimed_by = $2 \
              AND state = 'pending') RETURNING id, failures_in_a_row"
        );
        // Attempts that were in flight together fail together: only the first failure of a
        // round counts and sets the pause; the others find it paused and leave it as it is.
        let set_pause = format!(
            "UPDATE event_subscriptions SET paused_until = CASE WHEN paused_until > {now_ms} \
             THEN paused_until ELSE {now_ms} + $1 END WHERE id = $2"
        );
        // The subscription's other waiting deliveries wait for the pause too, so the claim
        // query's index on the due time skips them instead of reading them on every look.
        let hold_back = format!(
            "UPDATE event_deliveries SET next_attempt_at = {now_ms} + $1 WHERE subscription_id = $2 \
             AND state = 'pending' AND next_attempt_at < {now_ms} + $1 \
             AND (claimed_until IS NULL OR claimed_until <= {now_ms})"
        );
        let record = format!(
            "UPDATE event_deliveries SET \
             state = CASE WHEN first_attempt_at <= {now_ms} - $1 THEN 'failed' ELSE 'pending' END, \
             next_in_line = CASE WHEN first_attempt_at <= {now_ms} - $1 THEN 0 \
                 ELSE next_in_line END, \
             next_attempt_at = {now_ms} + $2, last_status = $3, last_error = $4, \
             claimed_by = NULL, claimed_until = NULL, updated_at = {now_ms} \
             WHERE id = $5 AND claimed_by = $6 AND state = 'pending' RETURNING state, subject"
        );
        with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin_with(BEGIN_WRITE).await.op(OP)?;
                let paused: Option<(i64, i32)> = sqlx::query_as::<Db, (i64, i32)>(&pause)
                    .bind(id.0)
                    .bind(owner)
                    .fetch_optional(&mut *tx)
                    .await
                    .op(OP)?;
                let Some((subscription, failures)) = paused else {
                    return Ok(None);
                };
                let wait = ms(backoff(failures));
                for sql in [&set_pause, &hold_back] {
                    sqlx::query::<Db>(sql)
                        .bind(wait)
                        .bind(subscription)
                        .execute(&mut *tx)
                        .await
                        .op(OP)?;
                }
                let recorded: Option<(String, String)> =
                    sqlx::query_as::<Db, (String, String)>(&record)
                        .bind(ms(give_up_after))
                        .bind(wait)
                        .bind(status.map(i32::from))
                        .bind(error)
                        .bind(id.0)
                        .bind(owner)
                        .fetch_optional(&mut *tx)
                        .await
                        .op(OP)?;
                let state: Option<DeliveryState> =
                    recorded.as_ref().and_then(|(state, _)| state.parse().ok());
                if let (Some(DeliveryState::Failed), Some((_, subject))) = (state, &recorded) {
                    // Given up: it no longer holds back the later events of its subject.
                    sqlx::query::<Db>(LINE_UP)
                        .bind(subscription)
                        .bind(subject)
                        .execute(&mut *tx)
                        .await
                        .op(OP)?;
                }
                tx.commit().await.op(OP)?;
                Ok::<_, StorageError>(state)
            }
            .await
        })
    }

    /// An operator's or merchant's "resend": queues a delivery of `user`'s (`None`: anyone's)
    /// again at once, with its attempts reset, and lifts its subscription's pause. A delivered
    /// one is sent again too (same event id: the receiver may drop it). Returns the delivery;
    /// [`StorageError::NotFound`] if there is none.
    pub async fn resend_delivery(
        &self,
        user: Option<UserId>,
        id: DeliveryId,
    ) -> Result<DeliveryRecord, StorageError> {
        const OP: &str = "resending an event delivery";
        let now_ms = self.backend.now_ms();
        let find = format!(
            "SELECT d.subscription_id, d.subject FROM event_deliveries d \
             JOIN event_subscriptions s ON s.id = d.subscription_id \
             WHERE d.id = $1 AND ($2 IS NULL OR s.user_id = $2){}",
            lock_subscription(&self.backend)
        );
        let requeue = format!(
            "UPDATE event_deliveries SET state = 'pending', attempts = 0, \
             first_attempt_at = NULL, next_attempt_at = {now_ms}, claimed_by = NULL, \
             claimed_until = NULL, updated_at = {now_ms} WHERE id = $1"
        );
        let release = release_sql(now_ms);
        let subscription: Option<i64> = with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin_with(BEGIN_WRITE).await.op(OP)?;
                let found: Option<(i64, String)> = sqlx::query_as::<Db, (i64, String)>(&find)
                    .bind(id.0)
                    .bind(user.map(|u| u.0))
                    .fetch_optional(&mut *tx)
                    .await
                    .op(OP)?;
                let Some((subscription, subject)) = found else {
                    return Ok(None);
                };
                sqlx::query::<Db>(&requeue)
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .op(OP)?;
                // Pending again, it goes before the later events of its subject, and after the
                // earlier ones still pending.
                sqlx::query::<Db>(LINE_UP)
                    .bind(subscription)
                    .bind(&subject)
                    .execute(&mut *tx)
                    .await
                    .op(OP)?;
                for sql in [
                    "UPDATE event_subscriptions SET paused_until = 0 WHERE id = $1",
                    release.as_str(),
                ] {
                    sqlx::query::<Db>(sql)
                        .bind(subscription)
                        .execute(&mut *tx)
                        .await
                        .op(OP)?;
                }
                tx.commit().await.op(OP)?;
                Ok::<_, StorageError>(Some(subscription))
            }
            .await
        })?;
        let not_found = || StorageError::NotFound {
            what: "delivery",
            id: id.to_string(),
        };
        let subscription = subscription.ok_or_else(not_found)?;
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS}, {EVENT_COLUMNS} FROM event_deliveries d \
             JOIN events e ON e.id = d.event_id WHERE d.id = $1 AND d.subscription_id = $2"
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, DeliveryRecord>(&sql)
                .bind(id.0)
                .bind(subscription)
                .fetch_optional(pool)
                .await
                .op(OP)
        })?
        .ok_or_else(not_found)
    }

    /// Deliveries per state, the oldest pending one's age and the failing subscriptions.
    pub async fn delivery_counts(&self) -> Result<DeliveryCounts, StorageError> {
        const OP: &str = "counting event deliveries";
        let now_ms = self.backend.now_ms();
        let oldest = format!(
            "SELECT COALESCE(MAX({now_ms} - e.created_at), 0) FROM event_deliveries d \
             JOIN events e ON e.id = d.event_id WHERE d.state = 'pending'"
        );
        with_pool!(self, |pool| {
            async {
                let rows: Vec<(String, i64)> = sqlx::query_as::<Db, (String, i64)>(
                    "SELECT state, COUNT(*) FROM event_deliveries GROUP BY state",
                )
                .fetch_all(pool)
                .await
                .op(OP)?;
                let mut counts = DeliveryCounts::default();
                for (state, n) in rows {
                    match state.as_str() {
                        "pending" => counts.pending = n,
                        "delivered" => counts.delivered = n,
                        "failed" => counts.failed = n,
                        _ => {}
                    }
                }
                let oldest: i64 = sqlx::query_scalar::<Db, i64>(&oldest)
                    .fetch_one(pool)
                    .await
                    .op(OP)?;
                counts.oldest_pending_seconds = oldest.max(0) as f64 / 1000.0;
                counts.failing_subscriptions = sqlx::query_scalar::<Db, i64>(
                    "SELECT COUNT(*) FROM event_subscriptions WHERE failures_in_a_row > 0",
                )
                .fetch_one(pool)
                .await
                .op(OP)?;
                Ok::<_, StorageError>(counts)
            }
            .await
        })
    }

    /// Deletes events older than `retention` that no delivery still waits for (their
    /// deliveries with them). Returns how many events went.
    pub async fn prune_events(&self, retention: Duration) -> Result<u64, StorageError> {
        const OP: &str = "pruning old events";
        let now_ms = self.backend.now_ms();
        let old = format!(
            "SELECT id FROM events e WHERE e.created_at < {now_ms} - $1 AND NOT EXISTS \
             (SELECT 1 FROM event_deliveries d WHERE d.event_id = e.id AND d.state = 'pending') \
             ORDER BY id LIMIT 5000"
        );
        with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin_with(BEGIN_WRITE).await.op(OP)?;
                let ids: Vec<i64> = sqlx::query_scalar::<Db, i64>(&old)
                    .bind(ms(retention))
                    .fetch_all(&mut *tx)
                    .await
                    .op(OP)?;
                for chunk in ids.chunks(500) {
                    for table in ["event_deliveries", "events"] {
                        let column = if table == "events" { "id" } else { "event_id" };
                        let mut qb = QueryBuilder::<Db>::new(format!(
                            "DELETE FROM {table} WHERE {column} IN ("
                        ));
                        let mut list = qb.separated(", ");
                        for id in chunk {
                            list.push_bind(*id);
                        }
                        qb.push(")");
                        qb.build()
                            .persistent(false)
                            .execute(&mut *tx)
                            .await
                            .op(OP)?;
                    }
                }
                tx.commit().await.op(OP)?;
                Ok::<u64, StorageError>(ids.len() as u64)
            }
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FulfilmentState::*;

    #[test]
    fn a_new_order_is_announced_only_when_ready() {
        assert_eq!(
            order_event(None, Ready, Some(1)),
            Some(EventType::OrderReady)
        );
        for state in [
            OnHold,
            Cancelled,
            Shipped,
            PartiallyShipped,
            Refunded,
            Other,
        ] {
            assert_eq!(order_event(None, state, Some(1)), None, "{state:?}");
        }
    }

    #[test]
    fn state_changes_make_the_events_a_warehouse_acts_on() {
        let told = |s| Some((s, Some(7)));
        assert_eq!(
            order_event(told(OnHold), Ready, Some(7)),
            Some(EventType::OrderReady)
        );
        assert_eq!(
            order_event(told(Other), Ready, Some(7)),
            Some(EventType::OrderReady)
        );
        assert_eq!(
            order_event(told(Ready), OnHold, Some(7)),
            Some(EventType::OrderOnHold)
        );
        assert_eq!(order_event(told(Other), OnHold, Some(7)), None);
        assert_eq!(
            order_event(told(Ready), Cancelled, Some(7)),
            Some(EventType::OrderCancelled)
        );
        assert_eq!(
            order_event(told(OnHold), Refunded, Some(7)),
            Some(EventType::OrderCancelled)
        );
        // Never told of it: nothing to call off.
        assert_eq!(order_event(told(Other), Cancelled, Some(7)), None);
        assert_eq!(order_event(told(Ready), Shipped, Some(7)), None);
    }

    #[test]
    fn a_content_change_is_an_update_only_while_the_warehouse_may_work_on_it() {
        assert_eq!(
            order_event(Some((Ready, Some(1))), Ready, Some(2)),
            Some(EventType::OrderUpdated)
        );
        assert_eq!(order_event(Some((Ready, Some(1))), Ready, Some(1)), None);
        assert_eq!(
            order_event(Some((Shipped, Some(1))), Shipped, Some(2)),
            None
        );
        // Unknown before (an order imported by an older release): no update on a guess.
        assert_eq!(order_event(Some((Ready, None)), Ready, Some(2)), None);
    }

    #[test]
    fn the_back_off_doubles_up_to_an_hour_and_covers_a_day_in_forty_attempts() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(12), Duration::from_secs(2048));
        assert_eq!(backoff(13), Duration::from_secs(3600));
        assert_eq!(backoff(100), Duration::from_secs(3600));
        let day: Duration = (1..=36).map(backoff).sum();
        assert!(day >= GIVE_UP_AFTER, "{day:?}");
    }

    #[test]
    fn cursors_read_back_what_they_print() {
        let cursor = EventCursor(812);
        assert_eq!(cursor.to_string().parse::<EventCursor>(), Ok(cursor));
        assert!("".parse::<EventCursor>().is_err());
        assert!("-1".parse::<EventCursor>().is_err());
        assert!("1-2".parse::<EventCursor>().is_err());
    }

    #[test]
    fn event_types_parse_their_names_and_list_them_when_unknown() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
        }
        let error = "order.shipped"
            .parse::<EventType>()
            .unwrap_err()
            .to_string();
        assert!(error.contains("order.cancelled"), "{error}");
    }
}
