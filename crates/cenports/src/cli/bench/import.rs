//! `cenports bench import` and `cenports bench first-order`: the import benchmarks of
//! `docs/PERFORMANCE.md` ("Hub: backfill").
//!
//! It starts a BigCommerce sandbox as a **separate child process** (`cenports sandbox --port 0
//! --plan unlimited ...`), so that the peak memory measured is the hub's alone and the sandbox's
//! CPU is not counted as ours beyond sharing the machine. Then, for each backend — SQLite always
//! (a fresh file in a temporary directory), PostgreSQL when `--database-url` names a server or
//! when `postgres://postgres@127.0.0.1:5432` answers (a fresh database is created and dropped) —
//! it connects the store through the merchant path (`cenports connect --credentials-file`: the
//! check of every scope, the store saved with its secrets encrypted) and runs the first sync a
//! merchant gets (open orders first, then every order, then the catalog). It prints one table
//! row per backend: orders stored, wall time, orders per second, API requests (and per 1,000
//! orders), and the hub process's peak resident memory (`VmHWM`, reset between backends).
//!
//! `first-order` starts the same child on a rate-limited plan (Standard by default) and times,
//! on SQLite, how long after `connect` starts the first ready-to-ship order is committed.
//!
//! They are benchmarks, not tests: nothing is asserted beyond the orders all arriving.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cenports::config::Overrides;
use cenports::storage::FulfilmentState;
use cenports::sync::{sync_store, SyncOptions};
use cenports_harness::{SandboxChild, TempDir};
use clap::Args;

use super::setup::{connect_store, drop_postgres, scratch_postgres, start_sandbox};

/// The targets of the issue, printed under the table.
const TARGET_REQUESTS_PER_1000: f64 = 4.1;
const TARGET_PEAK_RSS_MB: f64 = 150.0;
const TARGET_SQLITE_ORDERS_PER_S: f64 = 20_000.0;

/// Options of `cenports bench first-order`.
#[derive(Debug, Args)]
pub struct FirstOrderArgs {
    /// Historical orders in the sandbox store.
    #[arg(long, default_value_t = 100_000)]
    pub orders: usize,
    /// Seed of the sandbox store.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The store's plan (its API quota): standard, plus, pro or unlimited.
    #[arg(long, default_value = "standard")]
    pub plan: String,
}

/// Options of `cenports bench import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Historical orders in the sandbox store.
    #[arg(long, default_value_t = 100_000)]
    pub orders: usize,
    /// Seed of the sandbox store.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Skip PostgreSQL even if a server answers.
    #[arg(long, conflicts_with = "postgres_only")]
    pub sqlite_only: bool,
    /// Skip SQLite: PostgreSQL only.
    #[arg(long)]
    pub postgres_only: bool,
    /// The channel: bigcommerce, or amazon (the Amazon emulator in process, the hub's walk and
    /// a naive getOrders + getOrderItems client, their time computed at Amazon's usage plans:
    /// `cli/bench/amazon.rs`; SQLite only).
    #[arg(long, default_value = "bigcommerce", value_parser = ["bigcommerce", "amazon"])]
    pub channel: String,
    /// --channel amazon: the emulator's rates are Amazon's times this (bursts unchanged), so
    /// the run takes minutes, not hours.
    #[arg(long, default_value_t = 200.0)]
    pub rate_scale: f64,
}

/// One row of the table.
struct Row {
    backend: &'static str,
    orders: i64,
    elapsed: Duration,
    requests: u64,
    order_pages: u64,
    peak_rss_kb: Option<u64>,
    /// CPU time (user + system) of the hub process during the sync.
    hub_cpu: Duration,
    /// CPU time of the sandbox child process during the sync.
    sandbox_cpu: Option<Duration>,
}

/// Runs `cenports bench import`.
pub(super) async fn run_import(args: ImportArgs, overrides: &Overrides) -> Result<()> {
    if args.channel == cenports::channel::amazon::CHANNEL {
        return super::amazon::run(&args).await;
    }
    let dir = TempDir::create("bench")?;
    let started = Instant::now();
    let sandbox = start_sandbox(&dir.0, args.orders, args.seed, "unlimited").await?;
    println!(
        "Sandbox: child process {} at {} with {} orders (unlimited plan), ready in {:.1} s",
        sandbox.pid(),
        sandbox.base_url,
        args.orders,
        started.elapsed().as_secs_f64()
    );
    let result = run_backends(&args, overrides, &dir.0, &sandbox).await;
    let sandbox_rss = peak_rss_kb(&format!("/proc/{}/status", sandbox.pid()));
    // Stopped before the table is printed (killed and waited for).
    drop(sandbox);
    let rows = result?;
    print_table(&rows);
    if let Some(kb) = sandbox_rss {
        println!(
            "(the sandbox child process peaked at {:.0} MB, not counted above)",
            kb as f64 / 1024.0
        );
    }
    Ok(())
}

async fn run_backends(
    args: &ImportArgs,
    overrides: &Overrides,
    dir: &Path,
    sandbox: &SandboxChild,
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    if !args.postgres_only {
        let sqlite = dir.join("cenports.db").display().to_string();
        rows.push(run_backend("SQLite", &sqlite, dir, sandbox).await?);
    }
    if args.sqlite_only {
        return Ok(rows);
    }
    if let Some(db) = scratch_postgres(overrides).await? {
        let row = run_backend("PostgreSQL", db.url(), dir, sandbox).await;
        drop_postgres(db).await;
        rows.push(row?);
    }
    Ok(rows)
}

/// Connects the sandbox store into a fresh database through the merchant path and runs the
/// first sync, measuring it.
async fn run_backend(
    backend: &'static str,
    database_url: &str,
    dir: &Path,
    sandbox: &SandboxChild,
) -> Result<Row> {
    let (storage, scope, client) = connect_store(backend, database_url, dir, sandbox).await?;

    reset_peak_rss();
    let hub_cpu_before = cpu_time("/proc/self/stat");
    let sandbox_stat = format!("/proc/{}/stat", sandbox.pid());
    let sandbox_cpu_before = cpu_time(&sandbox_stat);
    let mut order_pages = 0u64;
    let report = sync_store(
        &storage,
        &scope,
        client.as_ref(),
        &SyncOptions::default(),
        |p| {
            if p.stream != cenports::storage::STREAM_CATALOG {
                order_pages += 1;
            }
        },
    )
    .await
    .with_context(|| format!("the sync into {backend} failed"))?;
    let peak_rss_kb = peak_rss_kb("/proc/self/status");
    let hub_cpu = cpu_time("/proc/self/stat")
        .zip(hub_cpu_before)
        .map_or(Duration::ZERO, |(after, before)| {
            after.saturating_sub(before)
        });
    let sandbox_cpu = cpu_time(&sandbox_stat)
        .zip(sandbox_cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    let orders = storage.count_orders(&scope).await?;
    storage.close().await;
    Ok(Row {
        backend,
        orders,
        elapsed: report.elapsed,
        requests: report.api_requests,
        order_pages,
        peak_rss_kb,
        hub_cpu,
        sandbox_cpu,
    })
}

/// `cenports bench first-order`: connect a store with a long history on a rate-limited plan and
/// time how long until the first ready-to-ship order is committed in the hub.
pub(super) async fn run_first_order(args: FirstOrderArgs) -> Result<()> {
    let dir = TempDir::create("bench")?;
    let sandbox = start_sandbox(&dir.0, args.orders, args.seed, &args.plan).await?;
    println!(
        "Sandbox: child process {} at {} with {} orders ({} plan)",
        sandbox.pid(),
        sandbox.base_url,
        args.orders,
        args.plan
    );
    let result = time_first_order(&dir.0, &sandbox).await;
    drop(sandbox);
    let timing = result?;
    println!();
    println!("{:<44} {:>9}", "step (SQLite)", "time");
    println!(
        "{:<44} {:>8.2}s",
        "connect: credentials checked, store saved",
        timing.connected.as_secs_f64()
    );
    println!(
        "{:<44} {:>8.2}s",
        "first ready-to-ship order committed",
        timing.first_ready.as_secs_f64()
    );
    println!(
        "{:<44} {:>9}",
        "ready orders in the hub at that moment", timing.ready_orders
    );
    println!(
        "{:<44} {:>9}",
        "API requests of the sync until then", timing.requests
    );
    println!();
    println!(
        "Times are from the start of `connect`. Target: <= 5 s for 100,000 orders on Standard."
    );
    Ok(())
}

struct FirstOrderTiming {
    connected: Duration,
    first_ready: Duration,
    ready_orders: i64,
    requests: u64,
}

async fn time_first_order(dir: &Path, sandbox: &SandboxChild) -> Result<FirstOrderTiming> {
    let sqlite = dir.join("cenports.db").display().to_string();
    let started = Instant::now();
    let (storage, scope, client) = connect_store("SQLite", &sqlite, dir, sandbox).await?;
    let connected = started.elapsed();
    let mut first_ready = None;
    let committed = tokio::sync::Notify::new();
    let options = SyncOptions::default();
    let sync = sync_store(&storage, &scope, client.as_ref(), &options, |p| {
        if p.stream.starts_with(cenports::storage::STREAM_OPEN_ORDERS) && p.read > 0 {
            first_ready.get_or_insert_with(|| started.elapsed());
            committed.notify_one();
        }
    });
    tokio::select! {
        result = sync => {
            result.context("the sync failed")?;
        }
        () = committed.notified() => {}
    }
    let first_ready = first_ready.context("the store has no open orders")?;
    let ready_orders = storage
        .count_orders_by_fulfilment_state(&scope)
        .await?
        .into_iter()
        .filter(|(state, _)| *state == FulfilmentState::Ready)
        .map(|(_, count)| count)
        .sum();
    let requests = client.requests_sent();
    storage.close().await;
    Ok(FirstOrderTiming {
        connected,
        first_ready,
        ready_orders,
        requests,
    })
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<11} {:>8} {:>9} {:>9} {:>9} {:>9} {:>10} {:>15} {:>15}",
        "backend",
        "orders",
        "elapsed",
        "orders/s",
        "requests",
        "per 1000",
        "peak RSS",
        "hub CPU/1000",
        "sandbox CPU/1000"
    );
    for row in rows {
        let secs = row.elapsed.as_secs_f64().max(1e-6);
        let per_1000 = |cpu: Duration| {
            format!(
                "{:.0} ms",
                cpu.as_secs_f64() * 1e6 / row.orders.max(1) as f64
            )
        };
        println!(
            "{:<11} {:>8} {:>8.2}s {:>9.0} {:>9} {:>9.2} {:>10} {:>15} {:>15}",
            row.backend,
            row.orders,
            secs,
            row.orders as f64 / secs,
            row.requests,
            row.requests as f64 * 1000.0 / row.orders.max(1) as f64,
            row.peak_rss_kb.map_or_else(
                || "n/a".to_string(),
                |kb| format!("{:.0} MB", kb as f64 / 1024.0)
            ),
            per_1000(row.hub_cpu),
            row.sandbox_cpu.map_or_else(|| "n/a".to_string(), per_1000),
        );
    }
    println!();
    println!(
        "Targets: <= {TARGET_REQUESTS_PER_1000} requests per 1,000 orders, <= {TARGET_PEAK_RSS_MB:.0} MB \
         peak RSS at 100,000 orders, >= {TARGET_SQLITE_ORDERS_PER_S:.0} orders/s on SQLite."
    );
    println!(
        "Requests include the whole first sync: connect checks excluded; /v2/time, the count, \
         open orders first ({} order pages in all), every order, the catalog.",
        rows.first().map_or(0, |r| r.order_pages)
    );
}

/// CPU time (user + system, all threads) of a process so far, from its `/proc/.../stat`.
/// CPU time is what the 2-core machine's neighbours disturb least: it is the figure to compare
/// when the wall-clock rate moves with the machine's load.
pub(super) fn cpu_time(stat: &str) -> Option<Duration> {
    let text = std::fs::read_to_string(stat).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 1000 / CLOCK_TICKS_PER_SECOND))
}

/// `_SC_CLK_TCK`, 100 on every Linux configuration in use.
const CLOCK_TICKS_PER_SECOND: u64 = 100;

/// `VmHWM` (peak resident set) of a process, in kB, from its `/proc/.../status`.
pub(super) fn peak_rss_kb(status: &str) -> Option<u64> {
    let text = std::fs::read_to_string(status).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resets this process's `VmHWM` to its current RSS (Linux: `5` into `clear_refs`), so that
/// each backend's peak is its own. Elsewhere the peak is the process's so far.
pub(super) fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
