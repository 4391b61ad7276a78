//! Bulk shipments: a warehouse's day of parcels from a CSV (or the API's JSON rows), all or
//! nothing.
//!
//! Columns (a header names them, in any order; extra columns are ignored): `order`, `carrier`,
//! `tracking`, and optionally `sku`, `quantity`, `tracking_link`, `shipped_at`. The rows of one
//! order with one tracking number are **one parcel**: their `sku`/`quantity` pairs are what it
//! holds; a parcel whose rows name no `sku` ships everything that remains of the order.
//!
//! [`check_batch`] checks every row before anything is queued, with the same checks
//! [`super::request_shipment`] makes (the order is in the hub and shippable, the carrier is
//! known, the tracking number and link pass [`super::check_tracking`], every SKU is on the
//! order, quantities are within what remains once the outbox's open rows *and the file's
//! earlier parcels of the same order* are counted): any bad row refuses the whole file, and
//! [`BatchRefused`] lists every bad row by line number with the reason. [`queue_batch`] then
//! enqueues the parcels one by one through [`super::request_shipment`], which checks each
//! again inside its transaction.
//!
//! **Re-uploading ships nothing twice.** Each parcel's request key is
//! [`super::ShipmentRequest::default_key`]: the store (keys are unique per store), the order,
//! the carrier and the tracking number: the key `cenports ship` gives the same parcel. A parcel
//! whose key is in the outbox already, delivered or not, is "already shipped" and adds
//! nothing, so the same file uploaded again (from the CLI, the API or the dashboard) queues
//! nothing, and a file that grew since queues only its new parcels.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};

use super::{
    check_shippable, check_tracking, load_order, plan_shipment_after, request_shipment, Carrier,
    FulfilmentError, ItemSpec, PayloadItem, ShipmentRequest,
};
use crate::channel::Channel;
use crate::stock::csv;
use crate::storage::{OrderRecord, OutboxRow, Storage, StoreRecord};

/// The most rows one batch takes (a day of a large warehouse; split bigger files).
pub const MAX_BATCH_ROWS: usize = 20_000;

/// One row of a batch, as written (checked by [`check_batch`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchRow {
    /// Where it came from: the file's line number (1 is the header), or the position of a JSON
    /// row from 1.
    pub line: usize,
    /// The channel's order id (the order number).
    pub order: String,
    /// The carrier, as the CLI takes it (`canada-post`, `Canada Post`, `custom:NAME`, …).
    pub carrier: String,
    /// The tracking number.
    pub tracking: String,
    /// A SKU of the order; empty: everything that remains ships.
    pub sku: String,
    /// How many of the SKU; empty with no SKU.
    pub quantity: String,
    /// A tracking link of the merchant's own; empty for none.
    pub tracking_link: String,
    /// When the parcel left (`YYYY-MM-DD` or RFC 3339); empty: now.
    pub shipped_at: String,
}

/// Why a batch was refused; nothing of it was queued.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchRefused {
    /// `(line number, what is wrong)`, by line number; every bad row.
    pub lines: Vec<(usize, String)>,
    /// A problem with the file as a whole (no header, a missing column, no rows).
    pub file: Option<String>,
}

impl BatchRefused {
    fn file(problem: impl Into<String>) -> Self {
        BatchRefused {
            lines: Vec::new(),
            file: Some(problem.into()),
        }
    }
}

impl fmt::Display for BatchRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(problem) = &self.file {
            return write!(f, "{problem}; nothing was queued");
        }
        write!(
            f,
            "{} bad row(s); nothing was queued, fix them and upload the file again:",
            self.lines.len()
        )?;
        for (line, problem) in &self.lines {
            write!(f, "\n  line {line}: {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BatchRefused {}

/// What a batch failed with: refused rows, or the database.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Bad rows (or a bad file); nothing was queued.
    #[error(transparent)]
    Refused(BatchRefused),
    /// The database failed, or a stored payload could not be read.
    #[error(transparent)]
    Fulfilment(FulfilmentError),
}

impl From<FulfilmentError> for BatchError {
    fn from(error: FulfilmentError) -> Self {
        BatchError::Fulfilment(error)
    }
}

impl From<crate::storage::StorageError> for BatchError {
    fn from(error: crate::storage::StorageError) -> Self {
        BatchError::Fulfilment(FulfilmentError::Storage(error))
    }
}

const COLUMNS: [&str; 7] = [
    "order",
    "carrier",
    "tracking",
    "sku",
    "quantity",
    "tracking_link",
    "shipped_at",
];

/// Reads a shipments CSV into rows (every line with the header's number of fields, quoted
/// fields, a byte-order mark, `\r\n` and blank lines accepted), or refuses it listing every
/// line that does not even split into the header's fields.
pub fn parse_batch_csv(text: &str) -> Result<Vec<BatchRow>, BatchRefused> {
    let mut lines = csv::numbered_lines(text);
    let Some((header_no, header)) = lines.next() else {
        return Err(BatchRefused::file(
            "the file is empty: it needs the header `order,carrier,tracking` (optionally \
             `sku,quantity,tracking_link,shipped_at`) and one line per parcel or item",
        ));
    };
    let header =
        csv::fields(header).map_err(|e| BatchRefused::file(format!("line {header_no}: {e}")))?;
    let positions: Vec<Option<usize>> = COLUMNS.iter().map(|c| csv::column(&header, c)).collect();
    let missing: Vec<&str> = COLUMNS[..3]
        .iter()
        .zip(&positions)
        .filter(|(_, p)| p.is_none())
        .map(|(c, _)| *c)
        .collect();
    if !missing.is_empty() {
        return Err(BatchRefused::file(format!(
            "line {header_no} must be a header naming the columns order, carrier and tracking \
             (missing: {}; found `{}`)",
            missing.join(", "),
            header.join(",")
        )));
    }
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for (number, line) in lines {
        if rows.len() + bad.len() >= MAX_BATCH_ROWS {
            return Err(BatchRefused::file(format!(
                "the file has more than {MAX_BATCH_ROWS} rows; split it into smaller files"
            )));
        }
        let values = match csv::row(line, header.len()) {
            Ok(values) => values,
            Err(problem) => {
                bad.push((number, problem));
                continue;
            }
        };
        let get = |i: usize| {
            positions[i]
                .and_then(|p| values.get(p))
                .cloned()
                .unwrap_or_default()
        };
        rows.push(BatchRow {
            line: number,
            order: get(0),
            carrier: get(1),
            tracking: get(2),
            sku: get(3),
            quantity: get(4),
            tracking_link: get(5),
            shipped_at: get(6),
        });
    }
    if !bad.is_empty() {
        return Err(BatchRefused {
            lines: bad,
            file: None,
        });
    }
    if rows.is_empty() {
        return Err(BatchRefused::file(
            "the file has a header but no rows: add one line `ORDER,CARRIER,TRACKING` per parcel",
        ));
    }
    Ok(rows)
}

/// One parcel of a checked batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parcel {
    /// The rows it was made of (line numbers).
    pub lines: Vec<usize>,
    /// The shipment, with its request key set.
    pub request: ShipmentRequest,
    /// The outbox rows of an earlier request with the same key: the parcel was shipped (or
    /// queued) already and adds nothing. Empty for a new parcel.
    pub earlier: Vec<OutboxRow>,
}

/// A batch whose every row passed: its parcels in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedBatch {
    /// The parcels, in the order of their first row.
    pub parcels: Vec<Parcel>,
}

impl CheckedBatch {
    /// Parcels to queue.
    pub fn new_parcels(&self) -> usize {
        self.parcels.iter().filter(|p| p.earlier.is_empty()).count()
    }
}

/// A row's values once read.
struct ReadRow {
    line: usize,
    carrier: Carrier,
    tracking: String,
    item: Option<ItemSpec>,
    tracking_link: Option<String>,
    shipped_at: Option<DateTime<Utc>>,
}

/// Reads one row's own values (what needs no order), or says what is wrong with it.
fn read_row(row: &BatchRow, channel: &dyn Channel) -> Result<ReadRow, String> {
    let mut problems = Vec::new();
    if row.order.trim().is_empty() {
        problems.push("order is missing".to_owned());
    }
    let carrier = match row.carrier.trim() {
        "" => {
            problems.push("carrier is missing".to_owned());
            None
        }
        text => match text.parse::<Carrier>() {
            Ok(carrier) => Some(carrier),
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        },
    };
    let link = Some(row.tracking_link.trim()).filter(|l| !l.is_empty());
    if let Err(problem) = check_tracking(&row.tracking, link, channel) {
        problems.push(problem.describe("tracking", "tracking_link"));
    }
    let sku = row.sku.trim();
    let quantity = row.quantity.trim();
    let item = match (sku.is_empty(), quantity.is_empty()) {
        (true, true) => None,
        (true, false) => {
            problems.push(format!(
                "quantity {quantity} without a sku: name the SKU, or leave both empty to ship \
                 everything that remains"
            ));
            None
        }
        (false, true) => {
            problems.push(format!("SKU {sku}: quantity is missing"));
            None
        }
        (false, false) => match quantity.parse::<i32>() {
            Ok(q) if q >= 1 => Some(ItemSpec::Sku {
                sku: sku.to_owned(),
                quantity: q,
            }),
            _ => {
                problems.push(format!(
                    "SKU {sku}: quantity {quantity:?} is not a whole number of at least 1"
                ));
                None
            }
        },
    };
    let shipped_at = match row.shipped_at.trim() {
        "" => None,
        text => match crate::dates::parse_day_or_instant(text) {
            Some(at) => Some(at),
            None => {
                problems.push(format!(
                    "shipped_at {text:?} is not a day (2026-12-01) or an RFC 3339 instant \
                     (2026-12-01T15:30:00Z)"
                ));
                None
            }
        },
    };
    match (problems.is_empty(), carrier) {
        (true, Some(carrier)) => Ok(ReadRow {
            line: row.line,
            carrier,
            tracking: row.tracking.trim().to_owned(),
            item,
            tracking_link: link.map(str::to_owned),
            shipped_at,
        }),
        _ => Err(problems.join("; ")),
    }
}

/// Checks every row of a batch against the hub's copy of its orders and the outbox, and groups
/// the rows into parcels; nothing is written. Any bad row refuses the batch, listing every bad
/// row (see the module's documentation for the rules).
pub async fn check_batch(
    storage: &Storage,
    store: &StoreRecord,
    channel: &dyn Channel,
    rows: &[BatchRow],
) -> Result<CheckedBatch, BatchError> {
    if rows.is_empty() {
        return Err(BatchError::Refused(BatchRefused::file(
            "the batch has no rows",
        )));
    }
    if rows.len() > MAX_BATCH_ROWS {
        return Err(BatchError::Refused(BatchRefused::file(format!(
            "the batch has {} rows, more than {MAX_BATCH_ROWS}; split it",
            rows.len()
        ))));
    }
    let mut bad: Vec<(usize, String)> = Vec::new();
    // Parcels by (order, tracking number), in the order of their first row.
    let mut keys: HashMap<(String, String), usize> = HashMap::new();
    let mut groups: Vec<(String, Vec<ReadRow>)> = Vec::new();
    for row in rows {
        match read_row(row, channel) {
            Err(problem) => bad.push((row.line, problem)),
            Ok(read) => {
                let order = row.order.trim().to_owned();
                let key = (order.clone(), read.tracking.clone());
                let at = *keys.entry(key).or_insert_with(|| {
                    groups.push((order, Vec::new()));
                    groups.len() - 1
                });
                groups[at].1.push(read);
            }
        }
    }

    let scope = store.scope();
    let mut orders: HashMap<String, Option<(OrderRecord, Vec<OutboxRow>)>> = HashMap::new();
    // Items of the file's parcels planned so far, per order.
    let mut planned: HashMap<String, Vec<PayloadItem>> = HashMap::new();
    let mut parcels = Vec::new();
    for (order_id, group) in groups {
        let first = &group[0];
        let lines: Vec<usize> = group.iter().map(|r| r.line).collect();
        // One parcel, one carrier, link and date.
        let mut consistent = true;
        for row in &group[1..] {
            let mut differs = Vec::new();
            if row.carrier != first.carrier {
                differs.push("carrier");
            }
            if row.tracking_link.is_some() && row.tracking_link != first.tracking_link {
                differs.push("tracking_link");
            }
            if row.shipped_at.is_some() && row.shipped_at != first.shipped_at {
                differs.push("shipped_at");
            }
            if row.item.is_some() != first.item.is_some() {
                differs.push("sku (some rows name one, some do not)");
            }
            if !differs.is_empty() {
                consistent = false;
                bad.push((
                    row.line,
                    format!(
                        "order {order_id}, tracking {}: {} differs from line {}, a row of the \
                         same parcel",
                        row.tracking,
                        differs.join(", "),
                        first.line
                    ),
                ));
            }
        }
        if !consistent {
            continue;
        }
        if !orders.contains_key(&order_id) {
            let loaded = match load_order(storage, store, &order_id).await {
                Ok(order) => {
                    let open = storage
                        .open_outbox_for_order(&scope, order.summary.id)
                        .await?;
                    Some((order, open))
                }
                Err(FulfilmentError::OrderNotImported { .. }) => None,
                Err(other) => return Err(other.into()),
            };
            orders.insert(order_id.clone(), loaded);
        }
        let Some((order, open)) = orders.get(&order_id).and_then(Option::as_ref) else {
            let message = FulfilmentError::OrderNotImported {
                store: store.remote_id.clone(),
                order: order_id.clone(),
            }
            .to_string();
            bad.extend(lines.iter().map(|l| (*l, message.clone())));
            continue;
        };
        let items: Vec<ItemSpec> = group.iter().filter_map(|r| r.item.clone()).collect();
        let mut request = ShipmentRequest {
            order_remote_id: order.summary.remote_id.clone(),
            carrier: first.carrier.clone(),
            tracking_number: first.tracking.clone(),
            tracking_link: group.iter().find_map(|r| r.tracking_link.clone()),
            shipped_at: group.iter().find_map(|r| r.shipped_at),
            items: items.clone(),
            request_key: None,
        };
        let key = request.default_key();
        request.request_key = Some(key.clone());
        let earlier = storage.outbox_by_key(&scope, &key).await?;
        if !earlier.is_empty() {
            parcels.push(Parcel {
                lines,
                request,
                earlier,
            });
            continue;
        }
        if let Err(e) = check_shippable(order, channel) {
            bad.extend(lines.iter().map(|l| (*l, e.to_string())));
            continue;
        }
        let also = planned.entry(order_id.clone()).or_default();
        // Row by row, so that each bad row is named: a row is taken if the parcel with it
        // still fits what remains.
        let plan = if items.is_empty() {
            match plan_shipment_after(order, open, also, &[]) {
                Ok(plan) => Some(plan),
                Err(e) => {
                    bad.push((first.line, e.to_string()));
                    None
                }
            }
        } else {
            let mut taken: Vec<ItemSpec> = Vec::new();
            let mut plan = None;
            let mut ok = true;
            for row in &group {
                let Some(item) = &row.item else { continue };
                taken.push(item.clone());
                match plan_shipment_after(order, open, also, &taken) {
                    Ok(p) => plan = Some(p),
                    Err(e) => {
                        taken.pop();
                        ok = false;
                        bad.push((row.line, e.to_string()));
                    }
                }
            }
            plan.filter(|_| ok)
        };
        let Some(plan) = plan else { continue };
        also.extend(plan.into_iter().flat_map(|(_, items)| items));
        parcels.push(Parcel {
            lines,
            request,
            earlier: Vec::new(),
        });
    }
    if !bad.is_empty() {
        bad.sort_by_key(|(line, _)| *line);
        return Err(BatchError::Refused(BatchRefused {
            lines: bad,
            file: None,
        }));
    }
    Ok(CheckedBatch { parcels })
}

/// What became of one parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParcelOutcome {
    /// Queued now: its outbox rows (one per shipping address).
    Shipped(Vec<OutboxRow>),
    /// Its key was in the outbox already (an earlier upload, `cenports ship`, or a request
    /// racing this one): the earlier rows; nothing was added.
    AlreadyShipped(Vec<OutboxRow>),
    /// Refused when queued although it passed the check: something changed between the check
    /// and its transaction (another request for the same order, an import). Nothing of this
    /// parcel was queued; the reason says what to do.
    Refused(String),
}

/// One parcel's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParcelResult {
    /// Its rows (line numbers).
    pub lines: Vec<usize>,
    /// The channel's order id.
    pub order: String,
    /// The tracking number.
    pub tracking: String,
    /// What became of it.
    pub outcome: ParcelOutcome,
}

/// What a batch did, parcel by parcel in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Every parcel.
    pub parcels: Vec<ParcelResult>,
}

impl BatchReport {
    fn count(&self, f: impl Fn(&ParcelOutcome) -> bool) -> usize {
        self.parcels.iter().filter(|p| f(&p.outcome)).count()
    }
    /// Parcels queued by this batch.
    pub fn shipped(&self) -> usize {
        self.count(|o| matches!(o, ParcelOutcome::Shipped(_)))
    }
    /// Parcels shipped (or queued) before.
    pub fn already_shipped(&self) -> usize {
        self.count(|o| matches!(o, ParcelOutcome::AlreadyShipped(_)))
    }
    /// Parcels refused when queued.
    pub fn refused(&self) -> usize {
        self.count(|o| matches!(o, ParcelOutcome::Refused(_)))
    }
}

/// Queues the parcels of a checked batch, one by one in file order, through
/// [`super::request_shipment`] (which checks each again in its own transaction); `each` is
/// called after every parcel (a progress bar). A parcel refused at that point (something
/// changed since the check) is reported and the others still queue: uploading the file again
/// after fixing it queues only what is missing.
pub async fn queue_batch(
    storage: &Storage,
    store: &StoreRecord,
    channel: &dyn Channel,
    batch: CheckedBatch,
    mut each: impl FnMut(&ParcelResult),
) -> Result<BatchReport, FulfilmentError> {
    let mut report = BatchReport::default();
    for parcel in batch.parcels {
        let outcome = if !parcel.earlier.is_empty() {
            ParcelOutcome::AlreadyShipped(parcel.earlier)
        } else {
            match request_shipment(storage, store, channel, &parcel.request).await {
                Ok(requested) if requested.duplicate => {
                    ParcelOutcome::AlreadyShipped(requested.rows)
                }
                Ok(requested) => ParcelOutcome::Shipped(requested.rows),
                Err(FulfilmentError::Rejected(reason)) => ParcelOutcome::Refused(reason),
                Err(FulfilmentError::Tracking(problem)) => {
                    ParcelOutcome::Refused(problem.describe("tracking", "tracking_link"))
                }
                Err(FulfilmentError::OrderNotImported { store, order }) => ParcelOutcome::Refused(
                    FulfilmentError::OrderNotImported { store, order }.to_string(),
                ),
                Err(other) => return Err(other),
            }
        };
        let result = ParcelResult {
            lines: parcel.lines,
            order: parcel.request.order_remote_id,
            tracking: parcel.request.tracking_number,
            outcome,
        };
        each(&result);
        report.parcels.push(result);
    }
    Ok(report)
}

/// [`check_batch`] then [`queue_batch`]: the whole import for surfaces with no progress to show.
pub async fn import_batch(
    storage: &Storage,
    store: &StoreRecord,
    channel: &dyn Channel,
    rows: &[BatchRow],
) -> Result<BatchReport, BatchError> {
    let checked = check_batch(storage, store, channel, rows).await?;
    Ok(queue_batch(storage, store, channel, checked, |_| {}).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_with_its_columns_in_any_order_and_extra_ones_ignored() {
        let text = "\u{feff}tracking,Order,carrier,note,sku,quantity\r\nT1,101,ups,x,MUG-1,2\r\n\r\n\"T,2\",102,Canada Post,,,\n";
        let rows = parse_batch_csv(text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            BatchRow {
                line: 2,
                order: "101".into(),
                carrier: "ups".into(),
                tracking: "T1".into(),
                sku: "MUG-1".into(),
                quantity: "2".into(),
                ..BatchRow::default()
            }
        );
        assert_eq!(rows[1].line, 4);
        assert_eq!(rows[1].tracking, "T,2");
        assert_eq!(rows[1].sku, "");
    }

    #[test]
    fn a_file_without_the_required_columns_or_with_ragged_lines_is_refused_whole() {
        let error = parse_batch_csv("order,sku\n1,A\n").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("missing: carrier, tracking; found `order,sku`"),
            "{error}"
        );
        let error =
            parse_batch_csv("order,carrier,tracking\n1,ups,T\n2,ups\n\"3,ups,T\n").unwrap_err();
        let numbers: Vec<usize> = error.lines.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, vec![3, 4]);
        assert!(error.to_string().contains("nothing was queued"), "{error}");
        assert!(parse_batch_csv("").is_err());
        assert!(parse_batch_csv("order,carrier,tracking\n\n").is_err());
    }
}
