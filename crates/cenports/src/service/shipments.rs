//! Shipments: record one for an order (through the outbox, with the caller's request key),
//! list a store's, read one.
//!
//! **Idempotency.** A shipment request carries a request key (the API's `Idempotency-Key`
//! header; the dashboard's form sends a fresh random one rendered with the form): 1 to
//! [`MAX_IDEMPOTENCY_KEY`] printable ASCII characters. It becomes the outbox row's request key
//! (`api:<key>`, so it can never meet a key the CLI made), unique per store in the database:
//! the same key again returns the rows of the first request (`duplicate`) and adds nothing,
//! even when both requests race; the same key with a different order, carrier or tracking
//! number is [`ServiceError::IdempotencyKeyReused`]. The shipment is committed first and
//! delivered to the channel by the outbox worker of `cenports serve` (`docs/FULFILMENT.md`);
//! the row's state says where it is.

use chrono::{DateTime, Utc};

use super::paging::{page_size, parse_cursor};
use super::stores::scope_for;
use super::{AppState, ServiceError};
use crate::accounts::StoreAccess;
use crate::fulfilment::batch::{import_batch, parse_batch_csv, BatchError, BatchReport, BatchRow};
use crate::fulfilment::{
    self, Carrier, FulfilmentError, ItemSpec, OutboxPayload, ShipmentPayload, ShipmentRequest,
};
use crate::storage::{HandRetry, OrderId, OutboxId, OutboxRow, StoreScope};

/// Longest request key accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 200;
/// Prefix of request keys that came through the HTTP surfaces (the API and the dashboard).
const API_KEY_NAMESPACE: &str = "api:";

/// A shipment: one parcel to one shipping address of an order, as its outbox row holds it.
#[derive(Debug, Clone)]
pub struct Shipment {
    /// The outbox row (its id is the shipment's id).
    pub row: OutboxRow,
    /// What it ships, when the row holds a shipment this version can read.
    pub payload: Option<ShipmentPayload>,
}

impl Shipment {
    /// The shipment of an outbox row.
    pub fn from_row(row: OutboxRow) -> Self {
        let payload = match OutboxPayload::parse(&row.payload) {
            Ok(OutboxPayload::Shipment(p)) => Some(p),
            _ => None,
        };
        Shipment { row, payload }
    }

    /// The channel's shipment id, once delivered.
    pub fn channel_shipment_id(&self) -> Option<&str> {
        self.row
            .delivered_at
            .is_some()
            .then_some(self.row.remote_result.as_deref())
            .flatten()
    }
}

/// A quantity of a SKU (spread over the order's lines with that SKU) or of one line: exactly
/// one of `sku` and `line_id`.
#[derive(Debug, Clone)]
pub struct ItemInput {
    /// A SKU on the order.
    pub sku: Option<String>,
    /// A line id of the order (the channel's): 1 to 100 characters, no control characters.
    pub line_id: Option<String>,
    /// Quantity.
    pub quantity: i32,
}

/// A shipment to record, as a surface received it.
#[derive(Debug, Clone)]
pub struct NewShipment {
    /// `canada-post`, `ups`, `fedex`, `usps`, `dhl`, `purolator`, or `custom:NAME`.
    pub carrier: String,
    /// The carrier's tracking number.
    pub tracking_number: String,
    /// A tracking link of the merchant's own (for custom carriers).
    pub tracking_link: Option<String>,
    /// When the parcel left (default: now).
    pub shipped_at: Option<DateTime<Utc>>,
    /// What ships; empty: everything that remains to ship.
    pub items: Vec<ItemInput>,
}

/// What a shipment request did.
#[derive(Debug)]
pub struct RequestedShipments {
    /// True when the key had been used for this request already: nothing was added.
    pub duplicate: bool,
    /// One shipment per shipping address the items go to.
    pub shipments: Vec<Shipment>,
}

/// The outbox request key of a caller's key, or why the key is not acceptable.
fn request_key(given: Option<&str>) -> Result<String, ServiceError> {
    let key = given.ok_or(ServiceError::IdempotencyKeyRequired)?;
    let valid = !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY
        && key.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if !valid {
        return Err(ServiceError::IdempotencyKeyInvalid);
    }
    Ok(format!("{API_KEY_NAMESPACE}{key}"))
}

/// The carrier as the HTTP surfaces take it: exactly one of our slugs, or `custom:NAME` (the
/// CLI is more forgiving about spelling; an API takes exactly what its document says).
fn parse_carrier(text: &str) -> Result<Carrier, ServiceError> {
    const SLUGS: [&str; 6] = ["canada-post", "ups", "fedex", "usps", "dhl", "purolator"];
    let valid = SLUGS.contains(&text)
        || text.strip_prefix("custom:").is_some_and(|name| {
            !name.trim().is_empty()
                && name.chars().count() <= fulfilment::carriers::MAX_CUSTOM_NAME
                && !name.chars().any(char::is_control)
        });
    let parsed = if valid {
        text.parse::<Carrier>().ok()
    } else {
        None
    };
    parsed.ok_or_else(|| {
        ServiceError::Invalid(format!(
            "carrier {text:?} is not one the hub knows: use canada-post, ups, fedex, usps, dhl, \
             purolator, or custom:NAME"
        ))
    })
}

/// Whether existing rows of a key were made by this same request.
fn same_request(rows: &[OutboxRow], order: OrderId, carrier: &Carrier, tracking: &str) -> bool {
    rows.iter().all(|row| {
        row.order_id == order
            && matches!(
                OutboxPayload::parse(&row.payload),
                Ok(OutboxPayload::Shipment(p)) if p.carrier == *carrier && p.tracking_number == tracking
            )
    })
}

/// Records a shipment of an order, to be written to its channel exactly once by the outbox
/// worker: checked against the hub's copy of the order ([`fulfilment::request_shipment`]) and
/// committed to the outbox under `request_key`.
pub async fn request_shipment(
    state: &AppState,
    access: StoreAccess,
    store_id: i64,
    order_id: i64,
    request_key: Option<&str>,
    shipment: NewShipment,
) -> Result<RequestedShipments, ServiceError> {
    let scope = scope_for(state, access, store_id).await?;
    if order_id <= 0 {
        return Err(ServiceError::OrderNotFound);
    }
    let order = state
        .storage
        .get_order(&scope, OrderId::from_raw(order_id))
        .await?;
    let key = self::request_key(request_key)?;
    let carrier = parse_carrier(&shipment.carrier)?;
    let mut items = Vec::with_capacity(shipment.items.len());
    for (i, item) in shipment.items.iter().enumerate() {
        items.push(match (&item.sku, &item.line_id) {
            (Some(sku), None) => ItemSpec::Sku {
                sku: sku.clone(),
                quantity: item.quantity,
            },
            (None, Some(line)) => {
                if line.is_empty()
                    || line.chars().count() > 100
                    || line.chars().any(char::is_control)
                {
                    return Err(ServiceError::Invalid(format!(
                        "items[{i}].line_id must be 1 to 100 characters without control \
                         characters"
                    )));
                }
                ItemSpec::Line {
                    line_remote_id: line.clone(),
                    quantity: item.quantity,
                }
            }
            _ => {
                return Err(ServiceError::Invalid(format!(
                    "items[{i}] must name exactly one of sku and line_id"
                )))
            }
        });
    }
    let tracking = shipment.tracking_number.trim().to_owned();
    let store = state.storage.get_store(&scope).await?;
    let channel = state
        .channels()
        .of(&store)
        .map_err(ServiceError::Channel)?
        .clone();
    let request = ShipmentRequest {
        order_remote_id: order.summary.remote_id.clone(),
        carrier: carrier.clone(),
        // Untrimmed: the length rule counts what the client sent, as the document says.
        tracking_number: shipment.tracking_number.clone(),
        tracking_link: shipment.tracking_link,
        shipped_at: shipment.shipped_at,
        items,
        request_key: Some(key.clone()),
    };
    let requested = match fulfilment::request_shipment(
        &state.storage,
        &store,
        channel.as_ref(),
        &request,
    )
    .await
    {
        Ok(requested) => requested,
        Err(FulfilmentError::Rejected(reason)) => {
            // `request_shipment` checks quantities against the open rows before it looks at
            // the key, so a repeat of an accepted request (later, or racing it) can look like
            // "nothing left to ship" since its own rows hold the quantities: if the key has
            // rows, the request they were made for is the answer.
            let existing = state.storage.outbox_by_key(&scope, &key).await?;
            if !existing.is_empty() {
                return duplicate_or_conflict(existing, order.summary.id, &carrier, &tracking);
            }
            return Err(ServiceError::ShipmentRejected(reason));
        }
        Err(FulfilmentError::Tracking(problem)) => return Err(ServiceError::Tracking(problem)),
        Err(FulfilmentError::OrderNotImported { .. }) => return Err(ServiceError::OrderNotFound),
        Err(error @ FulfilmentError::Payload { .. }) => {
            return Err(ServiceError::Fulfilment(error))
        }
        Err(FulfilmentError::Storage(e)) => return Err(ServiceError::from(e)),
    };
    if requested.duplicate {
        // Lost a race with an identical key: the winner's rows are the answer.
        return duplicate_or_conflict(requested.rows, order.summary.id, &carrier, &tracking);
    }
    Ok(RequestedShipments {
        duplicate: false,
        shipments: requested.rows.into_iter().map(Shipment::from_row).collect(),
    })
}

fn duplicate_or_conflict(
    rows: Vec<OutboxRow>,
    order: OrderId,
    carrier: &Carrier,
    tracking: &str,
) -> Result<RequestedShipments, ServiceError> {
    if !same_request(&rows, order, carrier, tracking) {
        return Err(ServiceError::IdempotencyKeyReused);
    }
    Ok(RequestedShipments {
        duplicate: true,
        shipments: rows.into_iter().map(Shipment::from_row).collect(),
    })
}

/// A batch of shipments as a surface received it.
#[derive(Debug, Clone)]
pub enum BatchInput {
    /// A CSV file ([`fulfilment::batch::parse_batch_csv`]).
    Csv(String),
    /// Rows already split (the API's JSON), numbered from 1.
    Rows(Vec<BatchRow>),
}

/// Records a batch of shipments ([`fulfilment::batch`]): every row checked first, a bad row
/// refuses the whole batch ([`ServiceError::BatchRefused`], every bad row listed), then every
/// new parcel queued under a key made of the order, the carrier and the tracking number, so
/// the same batch again ships nothing twice (whichever surface sent it).
pub async fn import_shipments(
    state: &AppState,
    access: StoreAccess,
    store_id: i64,
    input: BatchInput,
) -> Result<BatchReport, ServiceError> {
    let scope = scope_for(state, access, store_id).await?;
    let rows = match input {
        BatchInput::Csv(text) => parse_batch_csv(&text).map_err(ServiceError::BatchRefused)?,
        BatchInput::Rows(rows) => rows,
    };
    let store = state.storage.get_store(&scope).await?;
    let channel = state
        .channels()
        .of(&store)
        .map_err(ServiceError::Channel)?
        .clone();
    let report = match import_batch(&state.storage, &store, channel.as_ref(), &rows).await {
        Ok(report) => report,
        Err(BatchError::Refused(refusal)) => return Err(ServiceError::BatchRefused(refusal)),
        Err(BatchError::Fulfilment(FulfilmentError::Storage(e))) => return Err(e.into()),
        Err(BatchError::Fulfilment(e)) => return Err(ServiceError::Fulfilment(e)),
    };
    tracing::info!(
        store.id = store_id,
        shipped = report.shipped(),
        already_shipped = report.already_shipped(),
        refused = report.refused(),
        "shipments: batch imported"
    );
    Ok(report)
}

/// A page of a store's shipments.
#[derive(Debug)]
pub struct ShipmentPage {
    /// By ascending id.
    pub shipments: Vec<Shipment>,
    /// The cursor of the next page; `None` on the last page.
    pub next_cursor: Option<OutboxId>,
}

/// The store's shipments (API, dashboard and CLI), oldest first, `limit` at a time after
/// `cursor` (the `next_cursor` of the previous page).
pub async fn list_shipments(
    state: &AppState,
    access: StoreAccess,
    store_id: i64,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<ShipmentPage, ServiceError> {
    let limit = page_size(limit)?;
    let after = parse_cursor(cursor)?.map(OutboxId::from_raw);
    let scope = scope_for(state, access, store_id).await?;
    let (rows, next) = state.storage.list_shipments(&scope, limit, after).await?;
    Ok(ShipmentPage {
        shipments: rows.into_iter().map(Shipment::from_row).collect(),
        next_cursor: next,
    })
}

/// One shipment of the store.
pub async fn get_shipment(
    state: &AppState,
    access: StoreAccess,
    store_id: i64,
    shipment_id: i64,
) -> Result<Shipment, ServiceError> {
    let scope = scope_for(state, access, store_id).await?;
    if shipment_id <= 0 {
        return Err(ServiceError::ShipmentNotFound);
    }
    let row = state
        .storage
        .get_shipment(&scope, OutboxId::from_raw(shipment_id))
        .await?;
    Ok(Shipment::from_row(row))
}

/// An operator's "retry now" of a shipment (API): see [`retry_outbox_row`]. Only the store's
/// shipments: another store's row or a status change is [`ServiceError::ShipmentNotFound`].
pub async fn retry_shipment(
    state: &AppState,
    access: StoreAccess,
    store_id: i64,
    shipment_id: i64,
) -> Result<Shipment, ServiceError> {
    let scope = scope_for(state, access, store_id).await?;
    if shipment_id <= 0 {
        return Err(ServiceError::ShipmentNotFound);
    }
    let id = OutboxId::from_raw(shipment_id);
    state.storage.get_shipment(&scope, id).await?;
    let row = retry_in_store(state, &scope, id).await?;
    Ok(Shipment::from_row(row))
}

/// An operator's "retry now" of one of the store's outbox rows (a shipment or a status change;
/// the dashboard's store page, the API through [`retry_shipment`]): a failed row goes back to
/// the queue with its attempts reset, an open one waiting for its next attempt becomes due at
/// once; one a worker holds right now is returned as it is (it is being tried). A row the
/// channel refused, retried unchanged, is refused again with the channel's reason. A row that
/// may have reached the channel is read back before it is sent again (docs/FULFILMENT.md,
/// "Failed rows and retries by hand").
pub async fn retry_outbox_row(
    state: &AppState,
    access: StoreAccess,
    store_id: i64,
    row_id: i64,
) -> Result<OutboxRow, ServiceError> {
    let scope = scope_for(state, access, store_id).await?;
    if row_id <= 0 {
        return Err(ServiceError::ShipmentNotFound);
    }
    retry_in_store(state, &scope, OutboxId::from_raw(row_id)).await
}

/// The retry of a row of a store already looked up through its owner.
async fn retry_in_store(
    state: &AppState,
    scope: &StoreScope,
    id: OutboxId,
) -> Result<OutboxRow, ServiceError> {
    match state
        .storage
        .retry_outbox_by_hand(Some(scope.store_id()), id)
        .await?
    {
        HandRetry::Delivered(_) => Err(ServiceError::ShipmentDelivered),
        HandRetry::Queued(row) => {
            tracing::info!(
                store.id = scope.store_id().get(),
                outbox.id = id.get(),
                state = row.state.as_str(),
                "outbox: row retried by hand"
            );
            Ok(row)
        }
        HandRetry::InFlight(row) => Ok(row),
    }
}
