//! `cenports orders`: a user's imported orders, as a table or JSON.
//!
//! Orders are read from the hub's database (never from BigCommerce), for one user's stores
//! (`--email`, required: a user sees only their own stores), optionally one store. Filters:
//! the store's channel's status by name or code (`--status "Awaiting Fulfillment"`,
//! `--status 11` at BigCommerce; `channel::resolve_status`), our
//! fulfilment state (`--state ready`), modification date (`--since`), and creation date
//! (`--created-from` inclusive, `--created-to` exclusive).

use anyhow::{anyhow, bail, Result};
use cenports::channel;
use cenports::config::Settings;
use cenports::storage::{FulfilmentState, OrderFilter, OrderSummary, StoreRecord};
use chrono::{DateTime, Utc};
use clap::Args;
use serde_json::json;

use crate::cli::stores::{open_storage, select_stores, truncate};
use crate::cli::sync::parse_date;

/// Options of `cenports orders` (the list), or one of its subcommands (`export`, `pick-list`).
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct OrdersArgs {
    /// A warehouse document instead of the list.
    #[command(subcommand)]
    pub command: Option<OrdersCommand>,
    /// The Cenports user whose orders to list.
    #[arg(long, required = true)]
    pub email: Option<String>,
    /// Only this store (its hash; see `cenports stores`).
    #[arg(long, value_name = "HASH")]
    pub store: Option<String>,
    /// Only this status of the store's channel, by name ("Awaiting Fulfillment") or code (11).
    #[arg(long, value_name = "NAME_OR_CODE", conflicts_with = "state")]
    pub status: Option<String>,
    /// Only this fulfilment state: ready, on_hold, cancelled, shipped, partially_shipped,
    /// refunded or other.
    #[arg(long, value_parser = parse_state)]
    pub state: Option<FulfilmentState>,
    /// Only orders modified since this date (YYYY-MM-DD, UTC, or RFC 3339).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub since: Option<DateTime<Utc>>,
    /// Only orders created on or after this date (YYYY-MM-DD, UTC, or RFC 3339; inclusive).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub created_from: Option<DateTime<Utc>>,
    /// Only orders created before this date (YYYY-MM-DD, UTC, or RFC 3339; exclusive:
    /// `--created-from 2026-01-01 --created-to 2026-02-01` is January).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub created_to: Option<DateTime<Utc>>,
    /// At most this many orders per store.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn normalized(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A fulfilment state (`on_hold`, `on-hold` and `On Hold` are the same).
pub fn parse_state(text: &str) -> Result<FulfilmentState, String> {
    let wanted = normalized(text);
    FulfilmentState::ALL
        .into_iter()
        .find(|state| normalized(state.as_str()) == wanted)
        .ok_or_else(|| {
            let names: Vec<&str> = FulfilmentState::ALL.iter().map(|s| s.as_str()).collect();
            format!(
                "{text:?} is not a fulfilment state: use one of {}",
                names.join(", ")
            )
        })
}

/// Runs `cenports orders`.
pub async fn run(args: OrdersArgs, settings: &Settings) -> Result<()> {
    match args.command {
        Some(OrdersCommand::Export(export)) => return run_export(export, settings).await,
        Some(OrdersCommand::PickList(pick)) => return run_pick_list(pick, settings).await,
        None => {}
    }
    if args.limit == 0 {
        bail!("--limit must be at least 1");
    }
    let storage = open_storage(settings).await?;
    let stores = select_stores(&storage, args.email.as_deref(), args.store.as_deref()).await?;
    // A status is the store's channel's own: resolved per store, refused before anything is
    // listed if one of the stores' channels has no such status.
    let channels = channel::builtin(&settings.channel_api_urls);
    let mut status_codes = Vec::with_capacity(stores.len());
    for store in &stores {
        let code = match &args.status {
            None => None,
            Some(text) => {
                let channel = channel::channel_of(&channels, store)?;
                Some(channel::resolve_status(channel.as_ref(), text).map_err(|e| anyhow!(e))?)
            }
        };
        status_codes.push(code);
    }
    let filter = OrderFilter {
        status_code: None,
        fulfilment_state: args.state,
        since: args.since,
        created_from: args.created_from,
        created_to: args.created_to,
        include_deleted: false,
        newest_first: false,
    };
    let mut rows: Vec<(&StoreRecord, OrderSummary, i64)> = Vec::new();
    for (store, status_code) in stores.iter().zip(status_codes) {
        let scope = store.scope();
        let filter = OrderFilter {
            status_code,
            ..filter.clone()
        };
        let (mut after, mut left) = (None, args.limit);
        while left > 0 {
            let page = storage
                .list_orders(&scope, &filter, left.min(1000), after)
                .await?;
            for order in page.orders {
                // Items are the quantities of the order's lines.
                let full = storage.get_order(&scope, order.id).await?;
                let items = full.lines.iter().map(|l| i64::from(l.quantity)).sum();
                rows.push((store, order, items));
                left -= 1;
            }
            match page.next_cursor {
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
    }
    if args.json {
        let value: Vec<_> = rows
            .iter()
            .map(|(store, order, items)| {
                json!({
                    "store_hash": store.remote_id,
                    "order_id": order.remote_id,
                    "id": order.id.get(),
                    "date_created": order.date_created.to_rfc3339(),
                    "date_modified": order.date_modified.to_rfc3339(),
                    "status_code": order.status_code,
                    "status": order.status_name,
                    "fulfilment_state": order.fulfilment_state.as_str(),
                    "customer_email": order.email,
                    "items": items,
                    "total": order.total.to_string(),
                    "currency": order.currency,
                    "payment_status": order.payment_status,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("No orders match.");
        return Ok(());
    }
    let several = stores.len() > 1;
    if several {
        print!("{:<12}  ", "store");
    }
    println!(
        "{:>8}  {:<16}  {:<22}  {:<17}  {:<28}  {:>5}  {:>12}",
        "order #", "date (UTC)", "status", "state", "customer", "items", "total"
    );
    for (store, order, items) in &rows {
        if several {
            print!("{:<12}  ", truncate(&store.remote_id, 12));
        }
        println!(
            "{:>8}  {:<16}  {:<22}  {:<17}  {:<28}  {:>5}  {:>12}",
            super::shown(&order.remote_id),
            order.date_created.format("%Y-%m-%d %H:%M"),
            truncate(&order.status_name, 22),
            order.fulfilment_state.as_str(),
            truncate(order.email.as_deref().unwrap_or(""), 28),
            items,
            format!(
                "{} {}",
                order.total.round_dp(2),
                super::shown(&order.currency)
            ),
        );
    }
    Ok(())
}

/// `cenports orders export` and `cenports orders pick-list`.
#[derive(Debug, clap::Subcommand)]
pub enum OrdersCommand {
    /// One row per order line (order number, date, status, customer, ship-to address, SKU,
    /// name, quantity, quantity remaining) as CSV or JSON lines, streamed page by page.
    Export(ExportArgs),
    /// The SKUs of the selected orders summed (what remains to ship), with a blank bin column.
    PickList(ExportArgs),
}

/// Options of `cenports orders export` and `pick-list`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The store (its hash; see `cenports stores`).
    #[arg(long, value_name = "HASH")]
    pub store: String,
    /// The Cenports user owning the store (needed only when several users connected it).
    #[arg(long)]
    pub email: Option<String>,
    /// Only orders in this fulfilment state (ready, on_hold, partially_shipped, shipped,
    /// cancelled, refunded, other); `ready` for what is to pick.
    #[arg(long, value_parser = parse_state)]
    pub state: Option<FulfilmentState>,
    /// csv, or json (one JSON object per line).
    #[arg(long, default_value = "csv", value_parser = ["csv", "json"])]
    pub format: String,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

async fn export_store(
    args: &ExportArgs,
    settings: &Settings,
) -> Result<(cenports::storage::Storage, StoreRecord)> {
    let storage = open_storage(settings).await?;
    let mut stores = select_stores(&storage, args.email.as_deref(), Some(&args.store)).await?;
    if stores.len() > 1 {
        bail!(
            "store {} is connected by {} users; say whose with --email",
            args.store,
            stores.len()
        );
    }
    Ok((storage, stores.remove(0)))
}

fn export_output(args: &ExportArgs) -> Result<Box<dyn std::io::Write>> {
    Ok(match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}

/// Runs `cenports orders export`: page by page ([`cenports::export::ExportPages`]), each page
/// written before the next is read, so memory stays bounded for any number of orders.
async fn run_export(args: ExportArgs, settings: &Settings) -> Result<()> {
    use cenports::export::{csv_header, ExportPages, Selection};
    let (storage, store) = export_store(&args, settings).await?;
    let selection = Selection { state: args.state };
    let mut pages = ExportPages::new(storage.clone(), store.scope(), &selection);
    let mut out = export_output(&args)?;
    let csv = args.format == "csv";
    if csv {
        out.write_all(csv_header().as_bytes())?;
    }
    let mut rows = 0u64;
    while let Some(page) = pages.next_page().await? {
        for row in &page {
            let line = if csv { row.csv_line() } else { row.json_line() };
            out.write_all(line.as_bytes())?;
        }
        rows += page.len() as u64;
    }
    out.flush()?;
    if args.output.is_some() {
        eprintln!("Exported {rows} order line(s).");
    }
    Ok(())
}

/// Runs `cenports orders pick-list`.
async fn run_pick_list(args: ExportArgs, settings: &Settings) -> Result<()> {
    use cenports::export::{pick_list, pick_list_csv, Selection};
    let (storage, store) = export_store(&args, settings).await?;
    let items = pick_list(&storage, &store.scope(), &Selection { state: args.state }).await?;
    let mut out = export_output(&args)?;
    if args.format == "csv" {
        out.write_all(pick_list_csv(&items).as_bytes())?;
    } else {
        for item in &items {
            out.write_all(format!("{}\n", serde_json::to_string(item)?).as_bytes())?;
        }
    }
    out.flush()?;
    Ok(())
}
