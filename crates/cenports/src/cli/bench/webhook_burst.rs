//! `cenports bench webhooks --burst`: a flash sale (`docs/PERFORMANCE.md`, "Webhook
//! burst").
//!
//! For each backend (SQLite always; PostgreSQL as in the latency bench):
//!
//! 1. An **in-process** sandbox store on `--plan` (Standard: 150 requests per 30 s) with
//!    `--history` orders is connected through the merchant path, its hooks registered at the
//!    hub's loopback address, and the hub served as production serves it (polling every
//!    `--poll-interval`, the default settle delay, overlap, worker and bound), until its first
//!    import has brought every order in.
//! 2. Live mode trades at `--rate` events a second (70% new orders, the rest status changes and
//!    notes) for `--duration`. Every 500 ms the bench reads the jobs waiting for the store
//!    (`Storage::job_backlog`, what `/metrics` shows).
//! 3. At the burst's end, and every second after it until one poll interval has passed, it
//!    compares every order of the store (id, `date_modified`, status) with the hub's.
//!
//! Printed per backend: callbacks received (by the receiver's outcome), targeted fetches,
//! walks, peak waiting jobs and hints, the requests the store answered (and how many were
//! `429`), the process's peak RSS during the burst (hub **and** sandbox: they share the
//! process), the sync lag at the burst's end (the age of the oldest change the hub did not
//! hold yet), and the orders missing or stale at the end, one poll interval later, and when
//! the hub first held them all.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bigcommerce_sandbox::live::{start_live, stop_live, LiveSettings};
use bigcommerce_sandbox::{Sandbox, SandboxConfig, StoreSpec};
use cenports::config::Overrides;
use cenports::server::{App, ServeOptions};
use cenports::storage::{JobKind, OrderFilter, Storage, StoreScope};
use cenports_harness::TempDir;
use chrono::{DateTime, Utc};

use super::import::{peak_rss_kb, reset_peak_rss};
use super::setup::{connect_with_hooks, drop_postgres, scratch_postgres};
use super::webhooks::WebhooksArgs;

/// An order as both sides know it: `date_modified` and status code.
type Version = (DateTime<Utc>, String);

/// One backend's figures.
struct Figures {
    backend: &'static str,
    new_orders: usize,
    receipts: BTreeMap<String, u64>,
    fetches: u64,
    walks: u64,
    peak_queued: i64,
    peak_hints: i64,
    requests: u64,
    rate_limited: u64,
    peak_rss_kb: Option<u64>,
    lag_at_end: Duration,
    missing_at_end: usize,
    missing_after_poll: usize,
    caught_up: Option<Duration>,
}

/// Runs the burst on each backend and prints the table.
pub(super) async fn run(args: WebhooksArgs, overrides: &Overrides) -> Result<()> {
    let mut rows = Vec::new();
    let dir = TempDir::create("bench-webhook-burst")?;
    let sqlite = format!("sqlite://{}", dir.0.join("hub.db").display());
    rows.push(measure("SQLite", &sqlite, &dir, &args).await?);
    if !args.sqlite_only {
        if let Some(db) = scratch_postgres(overrides).await? {
            let result = measure("PostgreSQL", db.url(), &dir, &args).await;
            drop_postgres(db).await;
            rows.push(result?);
        }
    }
    let rate = args.burst_rate();
    println!();
    println!(
        "Burst: {rate} events/s for {} s on a {}-plan store, polling every {} s",
        args.duration.as_secs(),
        args.plan.display_name(),
        args.poll_interval.as_secs()
    );
    for row in &rows {
        let receipts: Vec<String> = row
            .receipts
            .iter()
            .map(|(outcome, n)| format!("{outcome} {n}"))
            .collect();
        let callbacks: u64 = row.receipts.values().sum();
        println!("{}:", row.backend);
        println!("  new orders placed        {}", row.new_orders);
        println!(
            "  callbacks received       {callbacks} ({})",
            receipts.join(", ")
        );
        println!("  targeted fetches         {}", row.fetches);
        println!("  walks                    {}", row.walks);
        println!(
            "  peak waiting jobs        {} ({} hints)",
            row.peak_queued, row.peak_hints
        );
        println!(
            "  requests to the store    {} ({} answered 429)",
            row.requests, row.rate_limited
        );
        println!(
            "  peak RSS (hub + sandbox) {}",
            row.peak_rss_kb.map_or("n/a".to_string(), |kb| format!(
                "{:.0} MB",
                kb as f64 / 1024.0
            ))
        );
        println!(
            "  sync lag at the end      {:.1} s",
            row.lag_at_end.as_secs_f64()
        );
        println!(
            "  missing at the end       {} (one poll interval later: {})",
            row.missing_at_end, row.missing_after_poll
        );
        println!(
            "  every order held after   {}",
            row.caught_up
                .map_or("not within the poll interval".to_string(), |d| format!(
                    "{:.1} s",
                    d.as_secs_f64()
                ))
        );
    }
    Ok(())
}

/// Every order of the store (archived and incomplete ones aside, as the hub imports them).
fn store_orders(sandbox: &Sandbox, hash: &str) -> BTreeMap<String, Version> {
    sandbox
        .with_store(hash, |data, _| {
            data.orders
                .values()
                .filter(|o| !o.is_deleted && o.status_id != 0)
                .map(|o| (o.id.to_string(), (o.date_modified, o.status_id.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Every live order the hub holds.
async fn hub_orders(storage: &Storage, scope: &StoreScope) -> Result<HashMap<String, Version>> {
    let filter = OrderFilter::default();
    let mut all = HashMap::new();
    let mut after = None;
    loop {
        let page = storage.list_orders(scope, &filter, 1000, after).await?;
        for o in page.orders {
            all.insert(o.remote_id, (o.date_modified, o.status_code));
        }
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => return Ok(all),
        }
    }
}

/// The orders the hub lacks or holds in an older version, and the oldest change among them.
async fn compare(
    sandbox: &Sandbox,
    hash: &str,
    storage: &Storage,
    scope: &StoreScope,
) -> Result<(usize, Option<DateTime<Utc>>)> {
    let expected = store_orders(sandbox, hash);
    let held = hub_orders(storage, scope).await?;
    let behind: Vec<DateTime<Utc>> = expected
        .iter()
        .filter(|(id, version)| held.get(*id) != Some(version))
        .map(|(_, (modified, _))| *modified)
        .collect();
    Ok((behind.len(), behind.iter().min().copied()))
}

/// `cenports_webhook_receipts_total` by outcome, from `/metrics`.
async fn receipts(http: &reqwest::Client, base: &str) -> Result<BTreeMap<String, u64>> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let prefix = "cenports_webhook_receipts_total{outcome=\"";
    Ok(text
        .lines()
        .filter_map(|line| line.strip_prefix(prefix))
        .filter_map(|rest| {
            let (outcome, value) = rest.split_once("\"} ")?;
            Some((
                outcome.to_string(),
                value.trim().parse::<f64>().ok()? as u64,
            ))
        })
        .collect())
}

async fn measure(
    backend: &'static str,
    database_url: &str,
    dir: &TempDir,
    args: &WebhooksArgs,
) -> Result<Figures> {
    let sandbox = Sandbox::start(
        tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        SandboxConfig::default(),
    )
    .await?;
    let info = sandbox.create_store(StoreSpec {
        orders: args.history,
        products: 50,
        seed: 7,
        plan: args.plan,
        ..StoreSpec::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let (settings, storage, _, store) = connect_with_hooks(
        database_url,
        &sandbox,
        &info,
        &listener,
        &dir.0,
        Some(args.poll_interval),
    )
    .await?;
    let base = format!("http://{}", listener.local_addr()?);
    let scope = store.scope();

    // What production runs, polling at the given interval.
    let options = ServeOptions::from_settings(&settings);
    let app = App::build(&settings, options).await?;
    let mut processed = app.processed();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));

    // The first import.
    let started = Instant::now();
    loop {
        let (behind, _) = compare(&sandbox, &info.hash, &storage, &scope).await?;
        if behind == 0 {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            anyhow::bail!("{backend}: the first import did not finish within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "{backend}: first import of {} orders done in {:.1} s; burst starts",
        args.history,
        started.elapsed().as_secs_f64()
    );
    let sandbox_store = sandbox.store(&info.hash).context("the store exists")?;
    let before = sandbox_store.log.lock().counters();
    let history = store_orders(&sandbox, &info.hash).len();
    let http = reqwest::Client::new();
    let receipts_before = receipts(&http, &base).await?;

    // Fetches and walks, as the worker reports them.
    let counting = tokio::spawn(async move {
        let (mut fetches, mut walks) = (0u64, 0u64);
        loop {
            match processed.recv().await {
                Ok(done) => match done.kind {
                    JobKind::Walk => walks += 1,
                    JobKind::Order | JobKind::Product => fetches += 1,
                    JobKind::Sync => {}
                },
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => fetches += n,
                Err(_) => return (fetches, walks),
            }
        }
    });

    reset_peak_rss();
    start_live(
        sandbox.state(),
        &info.hash,
        LiveSettings {
            rate: args.burst_rate(),
            seed: Some(11),
            new_order_share: 0.7,
        },
    )
    .map_err(anyhow::Error::msg)?;
    let burst = Instant::now();
    let (mut peak_queued, mut peak_hints) = (0, 0);
    let mut next_report = Duration::from_secs(30);
    while burst.elapsed() < args.duration {
        for backlog in storage.job_backlog(None).await? {
            if backlog.store_id == store.id() {
                peak_queued = peak_queued.max(backlog.queued);
                peak_hints = peak_hints.max(backlog.hints);
            }
        }
        if burst.elapsed() >= next_report {
            next_report += Duration::from_secs(30);
            println!(
                "{backend}: {:.0} s into the burst, peak waiting jobs {peak_queued}",
                burst.elapsed().as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stop_live(sandbox.state(), &info.hash);
    let ended = Instant::now();
    let ended_at = Utc::now();
    let peak_rss_kb = peak_rss_kb("/proc/self/status");
    let (missing_at_end, oldest) = compare(&sandbox, &info.hash, &storage, &scope).await?;
    let lag_at_end = oldest.map_or(Duration::ZERO, |oldest| {
        (ended_at - oldest).to_std().unwrap_or_default()
    });
    let mut caught_up = (missing_at_end == 0).then(|| ended.elapsed());
    let mut missing_after_poll = missing_at_end;
    while ended.elapsed() < args.poll_interval {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (behind, _) = compare(&sandbox, &info.hash, &storage, &scope).await?;
        missing_after_poll = behind;
        if behind == 0 && caught_up.is_none() {
            caught_up = Some(ended.elapsed());
        }
    }
    let new_orders = store_orders(&sandbox, &info.hash).len() - history;
    let after = sandbox_store.log.lock().counters();
    let mut received = receipts(&http, &base).await?;
    for (outcome, n) in &receipts_before {
        if let Some(count) = received.get_mut(outcome) {
            *count -= n;
        }
    }
    received.retain(|_, n| *n > 0);

    let _ = stop.send(());
    server.await??;
    let (fetches, walks) = counting.await?;
    storage.close().await;
    sandbox.shutdown();
    let status = |counters: &bigcommerce_sandbox::log::Counters, code| {
        counters.by_status.get(&code).copied().unwrap_or(0)
    };
    Ok(Figures {
        backend,
        new_orders,
        receipts: received,
        fetches,
        walks,
        peak_queued,
        peak_hints,
        requests: after.total - before.total,
        rate_limited: status(&after, 429) - status(&before, 429),
        peak_rss_kb,
        lag_at_end,
        missing_at_end,
        missing_after_poll,
        caught_up,
    })
}
