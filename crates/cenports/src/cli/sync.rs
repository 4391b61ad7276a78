//! `cenports sync`: import stores now, with a progress bar for backfills.
//!
//! Each selected store (the user's with `--email`, one with `--store`, else every connected
//! store) goes through [`cenports::sync::sync_store`]: open orders first on a new store, then
//! every order changed since the last committed cursor (or since `--since`), then the catalog.
//! The bar is drawn on stderr and only on a terminal, so piped output stays clean. The report
//! says what was written and what it cost in API requests.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use bigcommerce_client::{Client, LimiterStats};
use cenports::config::Settings;
use cenports::credentials::{client_config, decrypt_credentials, CredentialsError};
use cenports::storage::{Storage, StoreRecord, StoreStatus};
use cenports::sync::{sync_store, SyncOptions, SyncProgress, SyncReport};
use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::stores::{open_storage, select_stores};

/// Options of `cenports sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only the stores of this Cenports user (default: every connected store).
    #[arg(long)]
    pub email: Option<String>,
    /// Only this store (its hash; see `cenports stores`).
    #[arg(long, value_name = "HASH")]
    pub store: Option<String>,
    /// Backfill orders modified since this date (YYYY-MM-DD, UTC, or RFC 3339) when the store
    /// has no earlier cursor.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub since: Option<DateTime<Utc>>,
}

/// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 instant.
pub fn parse_date(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!("{text:?} is not a date: use YYYY-MM-DD (UTC) or 2026-01-31T12:00:00Z")
        })
}

/// What one store's sync did, with the client's counters.
pub struct StoreSync {
    /// The report of [`sync_store`].
    pub report: SyncReport,
    /// The client's counters at the end (429s, pacing, quota left).
    pub stats: LimiterStats,
}

/// Runs `cenports sync`.
pub async fn run(args: SyncArgs, settings: &Settings) -> Result<()> {
    let storage = open_storage(settings).await?;
    let stores = select_stores(&storage, args.email.as_deref(), args.store.as_deref()).await?;
    let explicit = args.store.is_some();
    let (mut synced, mut failed) = (0, 0);
    for store in stores {
        if store.status == StoreStatus::Disconnected && !explicit {
            println!("Store {}: disconnected, skipped.", store.remote_id);
            continue;
        }
        println!("Store {} ({}):", store.remote_id, store.profile.name);
        match sync_one(settings, &storage, &store, args.since).await {
            Ok(done) => {
                print_report(&done.report);
                synced += 1;
            }
            Err(error) => {
                println!("  failed: {error:#}");
                failed += 1;
            }
        }
    }
    match (synced, failed) {
        (0, 0) => println!("No connected store to sync. Connect one with `cenports connect`."),
        (_, 0) => {}
        (_, failed) => bail!("{failed} store(s) could not be synced; see above"),
    }
    Ok(())
}

/// Syncs one stored store with its decrypted credentials, showing a progress bar on a terminal.
pub async fn sync_one(
    settings: &Settings,
    storage: &Storage,
    store: &StoreRecord,
    since: Option<DateTime<Utc>>,
) -> Result<StoreSync> {
    let scope = store.scope();
    let sealed = storage
        .get_store_credentials(&scope)
        .await?
        .ok_or_else(|| CredentialsError::Disconnected {
            store_hash: store.remote_id.clone(),
        })?;
    let secret_box = settings.secret_box()?;
    let credentials = decrypt_credentials(&secret_box, &store.remote_id, &sealed).context(
        "the key (secret_key or key_file setting) is not the one the store was saved with; \
         restore that key, or reconnect the store with `cenports connect`",
    )?;
    let config = client_config(&settings.connect_settings(), store, &credentials)?;
    let client = Client::new(config).context("could not build the BigCommerce client")?;
    let options = SyncOptions {
        since,
        ..SyncOptions::default()
    };
    let bar = progress_bar();
    let report = sync_store(storage, &scope, &client, &options, |p| show(&bar, &p)).await;
    bar.finish_and_clear();
    Ok(StoreSync {
        report: report?,
        stats: client.stats(),
    })
}

/// A bar on stderr when it is a terminal, hidden otherwise.
fn progress_bar() -> ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("  {msg:<16} [{bar:32}] {human_pos}/{human_len} ({eta} left)")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn show(bar: &ProgressBar, progress: &SyncProgress) {
    if bar.message() != progress.stream {
        bar.set_message(progress.stream.clone());
        bar.reset();
    }
    bar.set_length(
        progress
            .expected
            .unwrap_or(progress.read)
            .max(progress.read),
    );
    bar.set_position(progress.read);
}

/// Prints what a sync did and what it cost.
pub fn print_report(report: &SyncReport) {
    let orders = report.orders_read();
    let secs = report.elapsed.as_secs_f64().max(1e-6);
    println!(
        "  orders: {orders} read ({} new, {} updated, {} unchanged) in {} pages",
        report.inserted, report.updated, report.unchanged, report.pages
    );
    println!(
        "  catalog: {} products read, {} SKUs new or changed",
        report.products, report.skus
    );
    println!(
        "  {} API requests ({:.2} per 1,000 orders), {:.0} orders/s, {:.2} s",
        report.api_requests,
        report.api_requests as f64 * 1000.0 / orders.max(1) as f64,
        orders as f64 / secs,
        report.elapsed.as_secs_f64()
    );
}
