//! `cenports sync`: import stores now, with a progress bar for backfills.
//!
//! Each selected store (the user's with `--email`, one with `--store`, else every connected
//! store) goes through [`cenports::sync::sync_store`]: open orders first on a new store, then
//! every order changed since the last committed cursor (or since `--since`), then the catalog.
//! The bar is drawn on stderr and only on a terminal, so piped output stays clean. The report
//! says what was written and what it cost in API requests.
//!
//! With `--watch` it becomes the scheduler ([`cenports::sync::scheduler`]): every connected
//! store syncs every `--interval` (default the `sync_interval` setting) until Ctrl-C or
//! SIGTERM, one sync per store at a time, several stores at once; a failing store is logged
//! and tried again at the next interval.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use cenports::channel::{Channels, Pacing};
use cenports::config::{parse_duration, Settings};
use cenports::storage::SyncTrigger;
use cenports::storage::{Storage, StoreRecord, StoreStatus};
use cenports::sync::scheduler::{run_scheduler_with, SchedulerConfig};
use cenports::sync::{sync_store_recorded, SyncOptions, SyncProgress, SyncReport};
use chrono::{DateTime, Utc};
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
    /// Keep running: sync every connected store every `--interval` until Ctrl-C or SIGTERM.
    #[arg(long, conflicts_with_all = ["email", "store", "since"])]
    pub watch: bool,
    /// Time between syncs with `--watch` (300, 90s, 5m, 1h; at least 10 s). Default: the
    /// `sync_interval` setting (5m).
    #[arg(long, value_name = "DURATION", requires = "watch", value_parser = parse_interval)]
    pub interval: Option<Duration>,
}

/// A `--interval`: a duration of at least 10 seconds, as the `sync_interval` setting.
fn parse_interval(text: &str) -> Result<Duration, String> {
    match parse_duration(text) {
        Some(d) if d >= Duration::from_secs(10) => Ok(d),
        Some(_) => Err("is too short for BigCommerce's quota: give at least 10s".into()),
        None => Err(format!(
            "{text:?} is not a duration: give one such as 300, 90s, 5m or 1h"
        )),
    }
}

/// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 instant.
pub fn parse_date(text: &str) -> Result<DateTime<Utc>, String> {
    cenports::dates::parse_day_or_instant(text).ok_or_else(|| {
        format!(
            "{:?} is not a date: use YYYY-MM-DD (UTC) or 2026-01-31T12:00:00Z",
            text.trim()
        )
    })
}

/// What one store's sync did, with the client's counters.
pub struct StoreSync {
    /// The report of [`sync_store`].
    pub report: SyncReport,
    /// The client's counters at the end (429s, pacing, quota left).
    pub stats: Pacing,
}

/// Runs `cenports sync`.
pub async fn run(args: SyncArgs, settings: &Settings) -> Result<()> {
    let storage = open_storage(settings).await?;
    let channels = settings.channels()?;
    if args.watch {
        return watch(settings, &storage, &channels, args.interval).await;
    }
    let stores = select_stores(&storage, args.email.as_deref(), args.store.as_deref()).await?;
    let explicit = args.store.is_some();
    let (mut synced, mut failed) = (0, 0);
    for store in stores {
        if store.status == StoreStatus::Disconnected && !explicit {
            println!("Store {}: disconnected, skipped.", store.remote_id);
            continue;
        }
        println!(
            "Store {} ({}):",
            super::shown(&store.remote_id),
            super::shown(&store.profile.name)
        );
        match sync_one(&channels, &storage, &store, args.since).await {
            Ok(done) => {
                print_report(&done.report);
                synced += 1;
            }
            Err(error) => {
                println!("  failed: {}", super::shown(&format!("{error:#}")));
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

/// `cenports sync --watch`: the scheduler until a shutdown signal.
async fn watch(
    settings: &Settings,
    storage: &Storage,
    channels: &Channels,
    interval: Option<Duration>,
) -> Result<()> {
    let mut config = SchedulerConfig::from_settings(settings);
    if let Some(interval) = interval {
        config.interval = interval;
    }
    println!(
        "Syncing every connected store every {} s; Ctrl-C to stop.",
        config.interval.as_secs()
    );
    let (signal_tx, signal_rx) = tokio::sync::oneshot::channel();
    let shutdown = async move {
        let _ = signal_rx.await;
    };
    let signals = tokio::spawn(async move {
        let signal = shutdown_signal().await;
        let _ = signal_tx.send(());
        signal
    });
    let summary = run_scheduler_with(storage, channels, config, shutdown).await;
    signals.abort();
    let summary = summary?;
    for (hash, runs) in &summary.stores {
        println!(
            "Store {hash}: {} syncs, {} failed, {} orders written{}",
            runs.succeeded + runs.failed,
            runs.failed,
            runs.orders_written,
            runs.last_error
                .as_deref()
                .map(|e| format!("; last error: {}", super::shown(e)))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// Waits for Ctrl-C or (on Unix) SIGTERM.
pub(crate) async fn shutdown_signal() -> Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate =
            signal(SignalKind::terminate()).context("could not listen for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("could not listen for Ctrl-C")?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("could not listen for Ctrl-C")?;
    tracing::info!("sync --watch: shutting down");
    Ok(())
}

/// Syncs one stored store with a client of its own (the command is the process's only user of
/// the store), showing a progress bar on a terminal.
pub async fn sync_one(
    channels: &Channels,
    storage: &Storage,
    store: &StoreRecord,
    since: Option<DateTime<Utc>>,
) -> Result<StoreSync> {
    let scope = store.scope();
    let client = channels.open(storage, store).await?;
    let options = SyncOptions {
        since,
        ..SyncOptions::default()
    };
    let bar = progress_bar();
    let report = sync_store_recorded(
        storage,
        &scope,
        client.as_ref(),
        &options,
        SyncTrigger::Cli,
        |p| show(&bar, &p),
    )
    .await;
    bar.finish_and_clear();
    Ok(StoreSync {
        report: report?,
        stats: client.pacing(),
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
