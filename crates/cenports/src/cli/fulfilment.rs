//! `cenports ship`, `cenports order-status` and `cenports outbox`: write shipments and status
//! changes back to the store through the durable outbox ([`cenports::fulfilment`]).
//!
//! `ship` and `order-status` check the request against the hub's copy of the order, commit it
//! to the outbox, then deliver at once (unless `--queue-only`): they print the BigCommerce
//! shipment id or new status, or the pending state when BigCommerce is not answering (the row
//! stays queued; `cenports outbox --drain` or a running worker delivers it later). A request
//! BigCommerce would refuse exits non-zero with the reason and nothing queued.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use cenports::channel::Channels;
use cenports::config::{parse_duration, Settings};
use cenports::fulfilment::batch::{
    check_batch, parse_batch_csv, queue_batch, BatchError, BatchRefused, ParcelOutcome,
};
use cenports::fulfilment::worker::{drain, DrainReport, WorkerConfig};
use cenports::fulfilment::{
    request_shipment, request_status_change, Carrier, FulfilmentError, ItemSpec, OutboxPayload,
    Requested, ShipmentRequest, StatusTarget,
};
use cenports::storage::{
    HandRetry, OutboxId, OutboxRow, OutboxState, Storage, StorageError, StoreRecord, StoreStatus,
};
use chrono::{DateTime, Utc};
use clap::Args;
use serde_json::json;

use crate::cli::stores::{open_storage, select_stores};
use crate::cli::sync::parse_date;

/// Worker options shared by the three commands.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Rows delivered in parallel.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub concurrency: usize,
    /// How long a worker holds a row (e.g. 180s, 3m). Must outlast one request to the store.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub lease: Option<Duration>,
    /// Per-request timeout towards the store's channel (e.g. 30s, 1500ms).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub request_timeout: Option<Duration>,
    /// First retry delay after a failed attempt, doubled per attempt (e.g. 1s, 200ms).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub retry_base: Option<Duration>,
    /// How long a drain waits for rows whose retry is due soon (e.g. 30s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub patience: Option<Duration>,
    /// After a request whose outcome is unknown, how long before the row is read back
    /// [default: the `outbox_quiet_period` setting, 2m].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub quiet_period: Option<Duration>,
    /// After a read-back that found nothing, how long before the second one that allows
    /// sending again [default: the `outbox_recheck_gap` setting, 1m].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub recheck_gap: Option<Duration>,
}

impl WorkerArgs {
    fn config(&self, settings: &Settings, default_patience: Duration) -> WorkerConfig {
        let mut config = WorkerConfig {
            concurrency: self.concurrency.max(1),
            drain_patience: self.patience.unwrap_or(default_patience),
            ..WorkerConfig::from_settings(settings)
        };
        if let Some(quiet) = self.quiet_period {
            config.quiet_period = quiet;
        }
        if let Some(gap) = self.recheck_gap {
            config.recheck_gap = gap;
        }
        if let Some(lease) = self.lease {
            config.lease = lease;
        }
        if let Some(base) = self.retry_base {
            config.retry_base = base;
        }
        config
    }
}

/// What the duration settings accept (`1500ms`, `90`, `30s`, `5m`, `1h`).
pub fn parse_duration_ms(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    parse_duration(text)
        .ok_or_else(|| format!("{text:?} is not a duration: give one such as 500ms, 30s, 5m or 1h"))
}

/// Options of `cenports ship`.
#[derive(Debug, Args)]
pub struct ShipArgs {
    /// The store (its key: a BigCommerce store hash, an Amazon SELLER.MARKETPLACE; see
    /// `cenports stores`).
    #[arg(long, value_name = "KEY")]
    pub store: String,
    /// The Cenports user owning the store (needed only when several users connected it).
    #[arg(long)]
    pub email: Option<String>,
    /// The channel's order id (BigCommerce: 118; Amazon: 902-3159896-1390916).
    #[arg(long, value_name = "N")]
    pub order: String,
    /// canada-post, ups, fedex, usps, dhl, purolator, or custom:NAME.
    #[arg(long)]
    pub carrier: Carrier,
    /// The carrier's tracking number (at most 50 characters).
    #[arg(long, value_name = "T")]
    pub tracking: String,
    /// A tracking link of your own (instead of the one the channel generates, where it does).
    #[arg(long, value_name = "URL")]
    pub tracking_link: Option<String>,
    /// What ships, by SKU: `--item MUG-1=2`, repeatable. With neither --item nor --line,
    /// everything that remains ships.
    #[arg(long = "item", value_name = "SKU=QTY", value_parser = parse_sku_item)]
    pub items: Vec<ItemSpec>,
    /// What ships, by the channel's order line id (BigCommerce's order_product_id, Amazon's
    /// OrderItemId): `--line 41=1`, repeatable.
    #[arg(long = "line", value_name = "LINE=QTY", value_parser = parse_line_item)]
    pub lines: Vec<ItemSpec>,
    /// When the parcel left (YYYY-MM-DD or RFC 3339; default now).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub shipped_at: Option<DateTime<Utc>>,
    /// Your idempotency key for this shipment (default: order, carrier and tracking number,
    /// so reporting the same parcel twice ships once).
    #[arg(long, value_name = "KEY")]
    pub request_id: Option<String>,
    /// Commit to the outbox only; deliver later with `cenports outbox --drain`.
    #[arg(long)]
    pub queue_only: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

fn parse_sku_item(text: &str) -> Result<ItemSpec, String> {
    let (sku, quantity) = split_item(text, "SKU")?;
    Ok(ItemSpec::Sku {
        sku: sku.to_owned(),
        quantity,
    })
}

fn parse_line_item(text: &str) -> Result<ItemSpec, String> {
    let (line, quantity) = split_item(text, "LINE")?;
    let line = line.trim();
    if line.is_empty() || line.chars().any(char::is_control) {
        return Err(format!(
            "{line:?} is not an order line id: give LINE=QTY, e.g. 41=2"
        ));
    }
    Ok(ItemSpec::Line {
        line_remote_id: line.to_owned(),
        quantity,
    })
}

fn split_item<'a>(text: &'a str, what: &str) -> Result<(&'a str, i32), String> {
    let (name, quantity) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("{text:?} is not {what}=QTY (e.g. MUG-1=2)"))?;
    let quantity: i32 = quantity
        .trim()
        .parse()
        .ok()
        .filter(|q| *q >= 1)
        .ok_or_else(|| format!("{text:?}: the quantity must be a whole number of at least 1"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("{text:?}: the {what} is missing"));
    }
    Ok((name, quantity))
}

/// Options of `cenports ship-import`.
#[derive(Debug, Args)]
pub struct ShipImportArgs {
    /// The store (its key: a BigCommerce store hash, an Amazon SELLER.MARKETPLACE; see
    /// `cenports stores`).
    #[arg(long, value_name = "KEY")]
    pub store: String,
    /// The Cenports user owning the store (needed only when several users connected it).
    #[arg(long)]
    pub email: Option<String>,
    /// The CSV: a header with `order,carrier,tracking` and optionally `sku,quantity`,
    /// `tracking_link`, `shipped_at` (rows of one order and tracking number are one parcel;
    /// without sku, everything that remains ships). `-` reads standard input.
    #[arg(value_name = "FILE.csv")]
    pub file: PathBuf,
    /// Check the file only: report what would ship, queue nothing.
    #[arg(long)]
    pub check: bool,
    /// Commit to the outbox only; deliver later with `cenports outbox --drain`.
    #[arg(long)]
    pub queue_only: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

/// Options of `cenports order-status`.
#[derive(Debug, Args)]
pub struct OrderStatusArgs {
    /// The store (its key; see `cenports stores`).
    #[arg(long, value_name = "KEY")]
    pub store: String,
    /// The Cenports user owning the store (needed only when several users connected it).
    #[arg(long)]
    pub email: Option<String>,
    /// The channel's order id (BigCommerce: 118; Amazon: 902-3159896-1390916).
    #[arg(long, value_name = "N")]
    pub order: String,
    /// cancelled, on-hold, awaiting-shipment or completed.
    #[arg(long)]
    pub to: StatusTarget,
    /// Your idempotency key (default: a new one, as the same change may be wanted again later).
    #[arg(long, value_name = "KEY")]
    pub request_id: Option<String>,
    /// Commit to the outbox only.
    #[arg(long)]
    pub queue_only: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

/// Options of `cenports outbox`.
#[derive(Debug, Args)]
pub struct OutboxArgs {
    /// Only this store (its key).
    #[arg(long, value_name = "KEY")]
    pub store: Option<String>,
    /// Only the stores of this Cenports user.
    #[arg(long)]
    pub email: Option<String>,
    /// Retry this row now (its id, as listed): a failed row goes back to the queue with its
    /// attempts reset, an open one becomes due at once. Repeatable; with --drain it is
    /// delivered in this run. A row that may have reached the store is read back first.
    #[arg(long, value_name = "ID")]
    pub retry: Vec<i64>,
    /// Deliver what is due first (and wait for retries due within --patience).
    #[arg(long)]
    pub drain: bool,
    /// Only rows still to deliver (pending, sending).
    #[arg(long)]
    pub open: bool,
    /// At most this many rows listed.
    #[arg(long, default_value_t = 200)]
    pub limit: u32,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

/// The one store a write names.
async fn one_store(storage: &Storage, email: Option<&str>, store: &str) -> Result<StoreRecord> {
    let mut stores = select_stores(storage, email, Some(store)).await?;
    if stores.len() > 1 {
        bail!(
            "store {store} is connected by {} users; say whose with --email",
            stores.len()
        );
    }
    let store = stores.remove(0);
    if store.status == StoreStatus::Disconnected {
        bail!(
            "store {} is disconnected, so nothing can be written to it; reconnect it with \
             `cenports connect` first",
            store.remote_id
        );
    }
    Ok(store)
}

/// Runs `cenports ship`.
pub async fn run_ship(args: ShipArgs, settings: &Settings) -> Result<()> {
    let storage = open_storage(settings).await?;
    let store = one_store(&storage, args.email.as_deref(), &args.store).await?;
    let mut items = args.items.clone();
    items.extend(args.lines.iter().cloned());
    let request = ShipmentRequest {
        order_remote_id: args.order,
        carrier: args.carrier.clone(),
        tracking_number: args.tracking.clone(),
        tracking_link: args.tracking_link.clone(),
        shipped_at: args.shipped_at,
        items,
        request_key: args.request_id.clone(),
    };
    let channels = settings.channels()?;
    let channel = channels.of(&store)?;
    let requested = request_shipment(&storage, &store, channel.as_ref(), &request)
        .await
        .map_err(refusal)?;
    finish(
        settings,
        &storage,
        &store,
        requested,
        args.queue_only,
        args.json,
        &args.worker,
    )
    .await
}

/// Runs `cenports ship-import`: every row checked first (a bad row refuses the file, listing
/// every bad row), then each new parcel queued (a progress bar on a terminal), then delivered
/// unless `--queue-only`; prints a summary (shipped, already shipped, refused).
pub async fn run_ship_import(args: ShipImportArgs, settings: &Settings) -> Result<()> {
    let text = if args.file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .context("reading the CSV from standard input")?;
        text
    } else {
        std::fs::read_to_string(&args.file)
            .with_context(|| format!("reading {}", args.file.display()))?
    };
    let storage = open_storage(settings).await?;
    let store = one_store(&storage, args.email.as_deref(), &args.store).await?;
    let channels = settings.channels()?;
    let channel = channels.of(&store)?;
    let refused = |refusal: BatchRefused| {
        anyhow::anyhow!(
            "refused, nothing was queued: {}",
            super::shown_lines(&refusal.to_string())
        )
    };
    let rows = parse_batch_csv(&text).map_err(refused)?;
    let checked = match check_batch(&storage, &store, channel.as_ref(), &rows).await {
        Ok(checked) => checked,
        Err(BatchError::Refused(refusal)) => return Err(refused(refusal)),
        Err(BatchError::Fulfilment(error)) => return Err(error.into()),
    };
    if args.check {
        let new = checked.new_parcels();
        let already = checked.parcels.len() - new;
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "checked": true, "rows": rows.len(), "to_ship": new, "already_shipped": already,
                }))?
            );
        } else {
            println!(
                "All {} row(s) pass: {new} parcel(s) would ship, {already} already shipped; \
                 nothing was queued (--check).",
                rows.len()
            );
        }
        return Ok(());
    }
    let bar = import_bar(checked.parcels.len() as u64);
    let report = queue_batch(&storage, &store, channel.as_ref(), checked, |_| bar.inc(1)).await;
    bar.finish_and_clear();
    let report = report.map_err(refusal)?;
    let drained = if args.queue_only || report.shipped() == 0 {
        None
    } else {
        let clients = worker_clients(settings, &args.worker)?;
        let config = args.worker.config(settings, Duration::from_secs(5));
        Some(drain(&storage, &clients, Some(store.id()), &config).await?)
    };
    let scope = store.scope();
    let mut failed = 0;
    let mut pending = 0;
    let mut parcels = Vec::with_capacity(report.parcels.len());
    for parcel in &report.parcels {
        let (outcome, rows) = match &parcel.outcome {
            ParcelOutcome::Shipped(rows) => ("shipped", rows.clone()),
            ParcelOutcome::AlreadyShipped(rows) => ("already_shipped", rows.clone()),
            ParcelOutcome::Refused(_) => ("refused", Vec::new()),
        };
        let mut now = Vec::with_capacity(rows.len());
        for row in &rows {
            let row = storage.get_outbox(&scope, row.id).await?;
            if outcome == "shipped" {
                match row.state {
                    OutboxState::Failed => failed += 1,
                    OutboxState::Pending | OutboxState::Sending => pending += 1,
                    OutboxState::Delivered => {}
                }
            }
            now.push(row);
        }
        parcels.push((parcel, outcome, now));
    }
    if args.json {
        let value = json!({
            "shipped": report.shipped(),
            "already_shipped": report.already_shipped(),
            "refused": report.refused(),
            "parcels": parcels.iter().map(|(p, outcome, rows)| json!({
                "lines": p.lines,
                "order": p.order,
                "tracking": p.tracking,
                "outcome": outcome,
                "reason": match &p.outcome { ParcelOutcome::Refused(r) => Some(r), _ => None },
                "rows": rows.iter().map(row_json).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "drain": drained.as_ref().map(report_json),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        for (parcel, outcome, rows) in &parcels {
            let lines = parcel
                .lines
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            match &parcel.outcome {
                ParcelOutcome::Refused(reason) => println!(
                    "{}",
                    super::shown(&format!(
                        "line {lines}: order {}, tracking {}: refused when queued: {reason}",
                        parcel.order, parcel.tracking
                    ))
                ),
                _ => {
                    for row in rows {
                        let label = if *outcome == "shipped" {
                            ""
                        } else {
                            "already shipped: "
                        };
                        println!("line {lines}: {label}{}", describe(row));
                    }
                }
            }
        }
        println!(
            "Shipped {}, already shipped {}, refused {} parcel(s).{}",
            report.shipped(),
            report.already_shipped(),
            report.refused(),
            if pending > 0 {
                format!(
                    " {pending} outbox row(s) still queued; `cenports outbox --drain` or a \
                     running worker delivers them."
                )
            } else {
                String::new()
            }
        );
    }
    if report.refused() > 0 {
        bail!(
            "{} parcel(s) were refused when queued (something changed since the check); fix \
             them and upload the file again: the parcels already queued are not shipped twice",
            report.refused()
        );
    }
    if failed > 0 {
        bail!("{failed} outbox row(s) failed; see `cenports outbox`");
    }
    Ok(())
}

/// A bar over the parcels queued, on stderr when it is a terminal.
fn import_bar(len: u64) -> indicatif::ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template("  queueing [{bar:32}] {human_pos}/{human_len}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar
}

/// Runs `cenports order-status`.
pub async fn run_order_status(args: OrderStatusArgs, settings: &Settings) -> Result<()> {
    let storage = open_storage(settings).await?;
    let store = one_store(&storage, args.email.as_deref(), &args.store).await?;
    let channels = settings.channels()?;
    let channel = channels.of(&store)?;
    let requested = request_status_change(
        &storage,
        &store,
        channel.as_ref(),
        &args.order,
        args.to,
        args.request_id.clone(),
    )
    .await
    .map_err(refusal)?;
    finish(
        settings,
        &storage,
        &store,
        requested,
        args.queue_only,
        args.json,
        &args.worker,
    )
    .await
}

/// The channels the outbox worker of a command delivers through, with its request timeout.
fn worker_clients(settings: &Settings, worker: &WorkerArgs) -> Result<Channels> {
    Ok(settings
        .channels()?
        .with_request_timeout(worker.request_timeout))
}

fn refusal(error: FulfilmentError) -> anyhow::Error {
    match error {
        FulfilmentError::Rejected(reason) => {
            anyhow::anyhow!("refused, nothing was queued: {reason}")
        }
        FulfilmentError::Tracking(problem) => anyhow::anyhow!(
            "refused, nothing was queued: {}",
            problem.describe("--tracking", "--tracking-link")
        ),
        other => anyhow::Error::new(other),
    }
}

/// Delivers (unless queue-only), prints the request's rows, and fails if one failed.
async fn finish(
    settings: &Settings,
    storage: &Storage,
    store: &StoreRecord,
    requested: Requested,
    queue_only: bool,
    as_json: bool,
    worker: &WorkerArgs,
) -> Result<()> {
    let scope = store.scope();
    if requested.duplicate && !as_json {
        println!(
            "Already requested (same request id {}); nothing new was queued.",
            requested.rows[0].request_key
        );
    }
    let report = if queue_only {
        None
    } else {
        let clients = worker_clients(settings, worker)?;
        let config = worker.config(settings, Duration::from_secs(5));
        Some(drain(storage, &clients, Some(store.id()), &config).await?)
    };
    let mut rows = Vec::with_capacity(requested.rows.len());
    for row in &requested.rows {
        rows.push(storage.get_outbox(&scope, row.id).await?);
    }
    if as_json {
        let value = json!({
            "duplicate": requested.duplicate,
            "rows": rows.iter().map(row_json).collect::<Vec<_>>(),
            "drain": report.as_ref().map(report_json),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        for row in &rows {
            println!("{}", describe(row));
        }
    }
    let failed: Vec<&OutboxRow> = rows
        .iter()
        .filter(|r| r.state == OutboxState::Failed)
        .collect();
    if !failed.is_empty() {
        bail!(
            "{} of {} outbox row(s) failed: {}",
            failed.len(),
            rows.len(),
            failed
                .iter()
                .map(|r| r.last_error.as_deref().unwrap_or("no reason recorded"))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    Ok(())
}

/// One line a person reads about a row.
fn describe(row: &OutboxRow) -> String {
    let what = match OutboxPayload::parse(&row.payload) {
        Ok(OutboxPayload::Shipment(p)) => format!(
            "shipment of order {} to address {} ({} via {}, {})",
            row.order_remote_id,
            p.address_remote_id,
            p.items
                .iter()
                .map(|i| format!("{}×{}", i.quantity, i.sku))
                .collect::<Vec<_>>()
                .join(", "),
            p.carrier.display_name(),
            p.tracking_number
        ),
        Ok(OutboxPayload::OrderStatus { to }) => {
            format!("order {} to {to}", row.order_remote_id)
        }
        Err(_) => format!("order {} (unreadable payload)", row.order_remote_id),
    };
    let state = match row.state {
        OutboxState::Delivered => match row.kind {
            cenports::storage::OutboxKind::Shipment => format!(
                "delivered: BigCommerce shipment {}{}",
                row.remote_result.as_deref().unwrap_or("?"),
                if row.delivered_by == Some(cenports::storage::DeliveredBy::Found) {
                    " (found on read-back)"
                } else {
                    ""
                }
            ),
            cenports::storage::OutboxKind::OrderStatus => format!(
                "delivered: the order is now {}",
                row.remote_result.as_deref().unwrap_or("?")
            ),
        },
        OutboxState::Pending | OutboxState::Sending => format!(
            "{}: queued, {} attempt(s){}; deliver with `cenports outbox --drain` or a running \
             worker",
            row.state.as_str(),
            row.attempts,
            row.last_error
                .as_deref()
                .map(|e| format!(", last error: {e}"))
                .unwrap_or_default()
        ),
        OutboxState::Failed => format!(
            "failed: {}",
            row.last_error.as_deref().unwrap_or("no reason recorded")
        ),
    };
    super::shown(&format!("Outbox row {}: {what}: {state}", row.id.get()))
}

fn row_json(row: &OutboxRow) -> serde_json::Value {
    json!({
        "id": row.id.get(),
        "store_id": row.store_id.get(),
        "request_key": row.request_key,
        "kind": row.kind.as_str(),
        "order": row.order_remote_id,
        "part": row.part,
        "state": row.state.as_str(),
        "attempts": row.attempts,
        "remote_result": row.remote_result,
        "delivered_by": row.delivered_by.map(|d| d.as_str()),
        "last_error": row.last_error,
        "payload": serde_json::from_str::<serde_json::Value>(&row.payload).ok(),
        "created_at": row.created_at,
        "delivered_at": row.delivered_at,
    })
}

fn report_json(report: &DrainReport) -> serde_json::Value {
    json!({
        "delivered_sent": report.delivered_sent,
        "delivered_found": report.delivered_found,
        "not_applied": report.not_applied,
        "retries": report.retries,
        "failed": report.failed,
        "sends": report.sends,
        "lease_lost": report.lease_lost,
    })
}

/// Runs `cenports outbox`.
pub async fn run_outbox(args: OutboxArgs, settings: &Settings) -> Result<()> {
    let storage = open_storage(settings).await?;
    let stores = select_stores(&storage, args.email.as_deref(), args.store.as_deref()).await?;
    let narrowed = args.store.is_some() || args.email.is_some();
    if narrowed && stores.is_empty() {
        bail!("no store matches; see `cenports stores`");
    }
    let mut retried = Vec::with_capacity(args.retry.len());
    for &id in &args.retry {
        retried.push((id, retry_by_hand(&storage, &stores, narrowed, id).await?));
    }
    let mut report = None;
    if args.drain {
        let clients = worker_clients(settings, &args.worker)?;
        let config = args.worker.config(settings, Duration::from_secs(30));
        let mut total = DrainReport::default();
        if narrowed {
            for store in &stores {
                add(
                    &mut total,
                    drain(&storage, &clients, Some(store.id()), &config)
                        .await
                        .context("draining the outbox")?,
                );
            }
        } else {
            total = drain(&storage, &clients, None, &config)
                .await
                .context("draining the outbox")?;
        }
        report = Some(total);
    }
    let mut rows = Vec::new();
    if narrowed {
        for store in &stores {
            rows.extend(
                storage
                    .list_outbox(Some(&store.scope()), args.open, args.limit)
                    .await?,
            );
        }
    } else {
        rows = storage.list_outbox(None, args.open, args.limit).await?;
    }
    let counts = if narrowed && stores.len() == 1 {
        storage.count_outbox(Some(&stores[0].scope())).await?
    } else if narrowed {
        let mut sum = cenports::storage::OutboxCounts::default();
        for store in &stores {
            let c = storage.count_outbox(Some(&store.scope())).await?;
            sum.pending += c.pending;
            sum.sending += c.sending;
            sum.delivered += c.delivered;
            sum.failed += c.failed;
            sum.retrying += c.retrying;
        }
        sum
    } else {
        storage.count_outbox(None).await?
    };
    if args.json {
        let value = json!({
            "counts": {
                "pending": counts.pending,
                "sending": counts.sending,
                "delivered": counts.delivered,
                "failed": counts.failed,
                "retrying": counts.retrying,
            },
            "retried": retried
                .iter()
                .map(|(id, outcome)| json!({"id": id, "outcome": outcome.as_str()}))
                .collect::<Vec<_>>(),
            "drain": report.as_ref().map(report_json),
            "rows": rows.iter().map(row_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    for (id, outcome) in &retried {
        match outcome {
            Retried::Pending | Retried::Sending => println!(
                "Row {id} is due now ({}); a worker (`cenports worker`, `serve`, or `outbox \
                 --drain`) delivers it.",
                outcome.as_str()
            ),
            Retried::InFlight => {
                println!("Row {id} is being tried by a worker right now; nothing changed.")
            }
        }
    }
    if let Some(r) = &report {
        println!(
            "Drained: {} delivered ({} sent, {} found on read-back), {} retries, {} failed, {} \
             requests sent.",
            r.delivered(),
            r.delivered_sent,
            r.delivered_found,
            r.retries,
            r.failed,
            r.sends
        );
    }
    println!(
        "Outbox: {} pending, {} sending, {} delivered, {} failed; {} waiting for a retry after a \
         failed attempt.",
        counts.pending, counts.sending, counts.delivered, counts.failed, counts.retrying
    );
    if counts.failed > 0 || counts.retrying > 0 {
        println!(
            "Retry a row now with `cenports outbox --retry ID` (add --drain to deliver it in \
             this run)."
        );
    }
    for row in &rows {
        println!("{}", describe(row));
    }
    if counts.open() > 0 && report.is_some() {
        println!(
            "Rows still open are waiting for a retry or held by another worker; run `cenports \
             outbox --drain` again later."
        );
    }
    Ok(())
}

/// What `outbox --retry ID` did to a row.
enum Retried {
    /// Due now, to be sent (it failed on a refusal).
    Pending,
    /// Due now, to be read back first.
    Sending,
    /// A worker holds it right now.
    InFlight,
}

impl Retried {
    fn as_str(&self) -> &'static str {
        match self {
            Retried::Pending => "pending",
            Retried::Sending => "sending",
            Retried::InFlight => "in_flight",
        }
    }
}

/// `outbox --retry ID`: one row due again now, among the selected stores' rows.
async fn retry_by_hand(
    storage: &Storage,
    stores: &[StoreRecord],
    narrowed: bool,
    id: i64,
) -> Result<Retried> {
    let missing = || {
        anyhow::anyhow!(
            "no outbox row {id}{}; `cenports outbox` lists the rows with their ids",
            if narrowed {
                " among the selected stores"
            } else {
                ""
            }
        )
    };
    if id <= 0 {
        return Err(missing());
    }
    let mut outcome = None;
    if narrowed {
        for store in stores {
            match storage
                .retry_outbox_by_hand(Some(store.id()), OutboxId::from_raw(id))
                .await
            {
                Ok(done) => {
                    outcome = Some(done);
                    break;
                }
                Err(StorageError::NotFound { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
    } else {
        match storage
            .retry_outbox_by_hand(None, OutboxId::from_raw(id))
            .await
        {
            Ok(done) => outcome = Some(done),
            Err(StorageError::NotFound { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    match outcome.ok_or_else(missing)? {
        HandRetry::Queued(row) if row.state == OutboxState::Sending => Ok(Retried::Sending),
        HandRetry::Queued(_) => Ok(Retried::Pending),
        HandRetry::InFlight(_) => Ok(Retried::InFlight),
        HandRetry::Delivered(_) => {
            bail!("row {id} was delivered to the store already; there is nothing to retry")
        }
    }
}

fn add(total: &mut DrainReport, r: DrainReport) {
    total.delivered_sent += r.delivered_sent;
    total.delivered_found += r.delivered_found;
    total.not_applied += r.not_applied;
    total.retries += r.retries;
    total.failed += r.failed;
    total.sends += r.sends;
    total.lease_lost += r.lease_lost;
}
