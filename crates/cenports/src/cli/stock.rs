//! `cenports stock`: on hand per SKU, what the store may sell, and the push of what changed.
//!
//! ```text
//! cenports stock --store HASH [--json]          on hand, reserved, available, store level, last push
//! cenports stock set --store HASH SKU QTY       on hand, absolute
//! cenports stock import --store HASH FILE.csv   `sku,on_hand`, all or nothing
//! cenports stock buffer --store HASH N          units held back from every SKU
//! cenports stock push [--store HASH] [--json]   write what changed, read it back
//! ```
//!
//! `--email` narrows the stores to one user's, as in `cenports orders`; without it the store
//! hash is looked up among every connected store (operators). The formula and the push are
//! in [`cenports::stock`]; docs/STOCK.md explains them.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use cenports::config::Settings;
use cenports::stock::csv::{parse_on_hand, parse_stock_csv};
use cenports::stock::{available, check_sku, push_stock, PushReport, SkuStatus, MAX_SKU};
use cenports::storage::{Storage, StoreRecord, StoreStatus};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::cli::stores::{open_storage, select_stores, truncate};

/// Options of `cenports stock`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct StockArgs {
    #[command(subcommand)]
    pub action: Option<StockAction>,
    /// Show this store's stock (its hash; see `cenports stores`).
    #[arg(long, value_name = "HASH")]
    pub store: Option<String>,
    /// Only among this Cenports user's stores.
    #[arg(long)]
    pub email: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// What to do with stock.
#[derive(Debug, Subcommand)]
pub enum StockAction {
    /// Set on hand of one SKU (absolute, not an adjustment): the merchant's figure, shared by
    /// all the stores of the user who owns the store named.
    Set(SetArgs),
    /// Set on hand from a CSV file `sku,on_hand` (with that header), for all the merchant's
    /// stores; a bad line rejects the whole file, with every bad line listed by number.
    Import(ImportArgs),
    /// Set the store's safety buffer: units held back from every SKU's available quantity.
    Buffer(BufferArgs),
    /// Push available quantities that differ from what the store last reported, then read
    /// them back.
    Push(PushArgs),
}

/// The store a command acts on.
#[derive(Debug, Args)]
pub struct StoreArg {
    /// The store (its hash; see `cenports stores`).
    #[arg(long, value_name = "HASH")]
    pub store: String,
    /// Only among this Cenports user's stores.
    #[arg(long)]
    pub email: Option<String>,
}

/// Options of `cenports stock set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    #[command(flatten)]
    pub target: StoreArg,
    /// The SKU, as in the store's catalog.
    pub sku: String,
    /// Units on hand (0 to 2147483647).
    #[arg(value_parser = parse_on_hand, allow_negative_numbers = true)]
    pub qty: i64,
}

/// Options of `cenports stock import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub target: StoreArg,
    /// The CSV file: header `sku,on_hand`, then one line per SKU.
    pub file: PathBuf,
}

/// Options of `cenports stock buffer`.
#[derive(Debug, Args)]
pub struct BufferArgs {
    #[command(flatten)]
    pub target: StoreArg,
    /// Units held back from every SKU (0 to turn it off).
    #[arg(value_parser = parse_on_hand, allow_negative_numbers = true)]
    pub units: i64,
}

/// Options of `cenports stock push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Only this store (default: every connected store, or the user's with --email).
    #[arg(long, value_name = "HASH")]
    pub store: Option<String>,
    /// Only this Cenports user's stores.
    #[arg(long)]
    pub email: Option<String>,
    /// Print JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// Runs `cenports stock ...`.
pub async fn run(args: StockArgs, settings: &Settings) -> Result<()> {
    let storage = open_storage(settings).await?;
    match args.action {
        None => {
            let Some(store) = args.store else {
                bail!(
                    "name the store whose stock to show with --store HASH (see `cenports \
                     stores`), or use a subcommand: set, import, buffer, push"
                );
            };
            show(
                &storage,
                &one_store(&storage, args.email.as_deref(), &store).await?,
                args.json,
            )
            .await
        }
        Some(StockAction::Set(set)) => {
            let store = one_store(&storage, set.target.email.as_deref(), &set.target.store).await?;
            let sku = check_sku(&set.sku).map_err(|problem| {
                anyhow::anyhow!(
                    "the SKU {problem}; give the SKU as in the store's catalog (at most \
                     {MAX_SKU} characters, no control characters)"
                )
            })?;
            storage
                .set_stock(&store.scope(), &[(sku.to_owned(), set.qty)])
                .await?;
            println!(
                "Store {}: {sku} on hand set to {} for all the merchant's stores. Run \
                 `cenports stock push --store {}` to update the store.",
                store.remote_id, set.qty, store.remote_id
            );
            Ok(())
        }
        Some(StockAction::Import(import)) => {
            let store = one_store(
                &storage,
                import.target.email.as_deref(),
                &import.target.store,
            )
            .await?;
            let text = std::fs::read_to_string(&import.file).with_context(|| {
                format!(
                    "could not read {}; check the path and that it is a UTF-8 text file",
                    import.file.display()
                )
            })?;
            let rows = parse_stock_csv(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", import.file.display()))?;
            let changed = storage.set_stock(&store.scope(), &rows).await?;
            println!(
                "Store {}: {} SKUs imported from {} ({changed} new or changed). Run `cenports \
                 stock push --store {}` to update the store.",
                store.remote_id,
                rows.len(),
                import.file.display(),
                store.remote_id
            );
            Ok(())
        }
        Some(StockAction::Buffer(buffer)) => {
            let store = one_store(
                &storage,
                buffer.target.email.as_deref(),
                &buffer.target.store,
            )
            .await?;
            storage
                .set_stock_buffer(&store.scope(), buffer.units)
                .await?;
            println!(
                "Store {}: safety buffer set to {} unit(s) per SKU.",
                store.remote_id, buffer.units
            );
            Ok(())
        }
        Some(StockAction::Push(push)) => run_push(settings, &storage, push).await,
    }
}

/// The one store a hash names (among a user's stores with `email`).
async fn one_store(storage: &Storage, email: Option<&str>, store: &str) -> Result<StoreRecord> {
    let mut found = select_stores(storage, email, Some(store)).await?;
    if found.len() > 1 {
        bail!(
            "store {store} is connected by {} users; add --email to say whose",
            found.len()
        );
    }
    Ok(found.remove(0))
}

async fn show(storage: &Storage, store: &StoreRecord, json: bool) -> Result<()> {
    let scope = store.scope();
    let rows = storage.stock_rows(&scope).await?;
    let buffer = storage.stock_buffer(&scope).await?;
    if json {
        let value: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "sku": r.sku,
                    "on_hand": r.on_hand,
                    "reserved": r.reserved,
                    "safety_buffer": buffer,
                    "available": available(r.on_hand, r.reserved, buffer),
                    "tracking": r.catalog.as_ref().map(|c| c.stock_tracking.as_str()),
                    "product_id": r.catalog.as_ref().map(|c| c.product_remote_id.as_str()),
                    "variant_id": r.catalog.as_ref().and_then(|c| c.variant_remote_id.as_deref()),
                    "store_level": r.catalog.as_ref().and_then(|c| c.reported_level),
                    "last_push": r.last_push.as_ref().map(|p| json!({
                        "status": p.status,
                        "level": p.level,
                        "message": p.message,
                        "at": p.at.to_rfc3339(),
                    })),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!(
            "Store {}: no stock yet. Set some with `cenports stock set` or `cenports stock \
             import`.",
            store.remote_id
        );
        return Ok(());
    }
    println!(
        "Store {} ({}): {} SKUs, safety buffer {buffer}",
        super::shown(&store.remote_id),
        super::shown(&store.profile.name),
        rows.len()
    );
    println!(
        "{:<24}  {:>8}  {:>8}  {:>9}  {:>11}  {:<14}  last push",
        "SKU", "on hand", "reserved", "available", "store level", "tracking"
    );
    for r in &rows {
        let store_level = r
            .catalog
            .as_ref()
            .and_then(|c| c.reported_level)
            .map_or_else(|| "-".to_string(), |l| l.to_string());
        let tracking = r
            .catalog
            .as_ref()
            .map_or("not in catalog", |c| c.stock_tracking.as_str());
        let last = r.last_push.as_ref().map_or_else(String::new, |p| {
            format!("{} {}", p.status, p.at.format("%Y-%m-%d %H:%M"))
        });
        println!(
            "{:<24}  {:>8}  {:>8}  {:>9}  {:>11}  {:<14}  {last}",
            truncate(&r.sku, 24),
            r.on_hand,
            r.reserved,
            available(r.on_hand, r.reserved, buffer),
            store_level,
            tracking,
        );
    }
    Ok(())
}

async fn run_push(settings: &Settings, storage: &Storage, args: PushArgs) -> Result<()> {
    let stores = select_stores(storage, args.email.as_deref(), args.store.as_deref()).await?;
    let explicit = args.store.is_some();
    let channels = settings.channels()?;
    let mut reports = Vec::new();
    let mut failed = 0;
    for store in &stores {
        if store.status == StoreStatus::Disconnected {
            if explicit {
                bail!(
                    "store {} is disconnected: its credentials were forgotten; reconnect it with \
                     `cenports connect` before pushing stock",
                    store.remote_id
                );
            }
            continue;
        }
        // One store that cannot be reached (key lost, credentials unreadable) does not keep the
        // others from being pushed.
        let client = match channels.open(storage, store).await {
            Ok(client) => client,
            Err(error) if !explicit => {
                println!(
                    "Store {}: not pushed: {}",
                    super::shown(&store.remote_id),
                    super::shown(&format!("{error:#}"))
                );
                failed += 1;
                continue;
            }
            Err(error) => return Err(error),
        };
        let report = push_stock(storage, &store.scope(), client.as_ref()).await?;
        if report.aborted.is_some() {
            failed += 1;
        }
        if !args.json {
            print_push(store, &report);
        }
        reports.push((store, report));
    }
    if args.json {
        let value: Vec<_> = reports
            .iter()
            .map(|(store, r)| push_json(store, r))
            .collect();
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else if reports.is_empty() {
        println!("No connected store. Connect one with `cenports connect`.");
    }
    if failed > 0 {
        bail!(
            "the stock push stopped early for {failed} store(s); see the errors above and push \
             again"
        );
    }
    Ok(())
}

fn push_json(store: &StoreRecord, r: &PushReport) -> serde_json::Value {
    json!({
        "store_hash": store.remote_id,
        "skus": r.skus,
        "changed": {
            "variant_tracked": r.variant_changed,
            "product_tracked": r.product_changed,
        },
        "untracked": r.untracked,
        "unchanged": r.unchanged,
        "write_requests": r.write_requests,
        "floor": r.floor,
        "read_requests": r.read_requests,
        "aborted": r.aborted,
        "outcomes": r.outcomes.iter().map(|o| json!({
            "sku": o.sku,
            "status": o.detail,
            "level": o.level,
            "store_level": o.reported,
            "message": o.message,
        })).collect::<Vec<_>>(),
    })
}

fn print_push(store: &StoreRecord, r: &PushReport) {
    println!(
        "Store {} ({}): {} SKUs with stock",
        super::shown(&store.remote_id),
        super::shown(&store.profile.name),
        r.skus
    );
    println!(
        "  changed: {} variant-tracked, {} product-tracked; {} unchanged; {} untracked (skipped)",
        r.variant_changed, r.product_changed, r.unchanged, r.untracked
    );
    println!(
        "  requests: {} write (floor {}), {} read-back",
        r.write_requests, r.floor, r.read_requests
    );
    println!(
        "  ok {}, mismatch {}, rejected {}, failed {}, unverified {}, skipped {}",
        r.count(SkuStatus::Ok),
        r.count(SkuStatus::Mismatch),
        r.count(SkuStatus::Rejected),
        r.count(SkuStatus::Failed),
        r.count(SkuStatus::Unverified),
        r.count(SkuStatus::Skipped)
    );
    for o in r.outcomes.iter().filter(|o| o.status != SkuStatus::Ok) {
        println!(
            "  {:<24}  {:<20}  {:>6}  {}",
            truncate(&o.sku, 24),
            o.detail,
            o.level,
            o.message.as_deref().unwrap_or("")
        );
    }
    if let Some(error) = &r.aborted {
        println!("  stopped: {error}");
    }
}
