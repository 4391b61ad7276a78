//! `cenports bench webhooks`: webhook-to-visible latency and the receiver's throughput
//! (`docs/PERFORMANCE.md`, "Hub: webhooks").
//!
//! For each backend (SQLite always; PostgreSQL when `--database-url` names a server or
//! `postgres://postgres@127.0.0.1:5432` answers, in a fresh database dropped afterwards):
//!
//! 1. An **in-process** sandbox store (unlimited plan) is connected through the merchant path
//!    (`connect`'s checks, secrets encrypted), its hooks registered at the hub's loopback
//!    address, and the hub served ([`cenports::server::App`]) **with polling off**.
//! 2. Live mode places `--orders` new orders at `--rate` per second. A watcher reads the
//!    sandbox's order table every millisecond and notes when each new order id appears (the
//!    order's own `date_created` has one-second resolution, too coarse for this); the hub's
//!    worker reports when each order's save committed. Latency = commit − appearance, so it
//!    covers the sandbox's dispatch, the callback, verification, de-duplication, the queue,
//!    the targeted fetch and the commit. The watcher adds at most about a millisecond.
//! 3. The receiver's throughput: `--callbacks` signed callbacks with distinct `webhook-id`s,
//!    16 at a time, each answered `200` after its checks, dedup insert and enqueue.
//!
//! The sandbox runs in the same process and shares the two cores, as in the tests.
//!
//! `--burst` measures something else: a flash sale on a rate-limited store, with
//! polling on ([`super::webhook_burst`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bigcommerce_sandbox::live::{start_live, stop_live, LiveSettings};
use bigcommerce_sandbox::{Plan, Sandbox, SandboxConfig, StoreSpec};
use cenports::channel::Hint;
use cenports::config::Overrides;
use cenports::server::{App, ServeOptions};
use cenports::webhooks::worker::JobOutcome;
use cenports::webhooks::{receiver_path, HEADER_HOOK_KEY, PURPOSE_HEADER_SECRET};
use cenports_harness::TempDir;
use clap::Args;
use futures::StreamExt;
use secrecy::ExposeSecret;

use crate::cli::serve::parse_positive;

use super::setup::{connect_with_hooks, drop_postgres, scratch_postgres};

/// Options of `cenports bench webhooks`.
#[derive(Debug, Args)]
pub struct WebhooksArgs {
    /// New orders to time.
    #[arg(long, default_value_t = 200)]
    pub orders: u64,
    /// Events per second of live mode [default: 20 new orders; with --burst, 30 events].
    #[arg(long)]
    pub rate: Option<f64>,
    /// Signed callbacks sent to measure the receiver's requests/s.
    #[arg(long, default_value_t = 2000)]
    pub callbacks: u64,
    /// Skip PostgreSQL even if a server answers.
    #[arg(long)]
    pub sqlite_only: bool,
    /// Reproduce a flash sale instead: a store on --plan trading at --rate events a
    /// second (70% new orders) for --duration while the hub serves with webhooks and polls
    /// every --poll-interval; prints callbacks, fetches, walks, the queue's peak, peak RSS,
    /// the sync lag and the orders missing at the end and one poll interval later.
    #[arg(long)]
    pub burst: bool,
    /// With --burst: how long live mode trades.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_positive)]
    pub duration: Duration,
    /// With --burst: the hub's polling interval.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = parse_positive)]
    pub poll_interval: Duration,
    /// With --burst: the store's plan (standard, plus, pro, unlimited).
    #[arg(long, default_value = "standard", value_parser = crate::cli::sandbox::parse_plan)]
    pub plan: Plan,
    /// With --burst: the orders the store holds before the burst.
    #[arg(long, default_value_t = 2000)]
    pub history: usize,
}

impl WebhooksArgs {
    /// Live mode's rate with --burst: the 30 events a second unless given.
    pub(super) fn burst_rate(&self) -> f64 {
        self.rate.unwrap_or(30.0)
    }
}

/// One backend's figures.
struct Figures {
    backend: &'static str,
    latencies: Vec<Duration>,
    receiver_rps: f64,
    refused: u64,
}

/// Runs `cenports bench webhooks`.
pub(super) async fn run(args: WebhooksArgs, overrides: &Overrides) -> Result<()> {
    let rate = args.rate.unwrap_or(20.0);
    if args.orders == 0 || !rate.is_finite() || rate <= 0.0 {
        bail!("--orders and --rate must be positive");
    }
    if args.burst {
        return super::webhook_burst::run(args, overrides).await;
    }
    let mut rows = Vec::new();
    let dir = TempDir::create("bench-webhooks")?;
    let sqlite = format!("sqlite://{}", dir.0.join("hub.db").display());
    rows.push(measure("SQLite", &sqlite, &dir, &args).await?);
    if !args.sqlite_only {
        if let Some(db) = scratch_postgres(overrides).await? {
            let result = measure("PostgreSQL", db.url(), &dir, &args).await;
            drop_postgres(db).await;
            rows.push(result?);
        }
    }
    println!();
    println!(
        "{:<11} {:>7} {:>9} {:>9} {:>9} {:>14}",
        "backend", "orders", "p50 ms", "p99 ms", "max ms", "receiver req/s"
    );
    for row in &rows {
        let mut sorted = row.latencies.clone();
        sorted.sort();
        let pct = |p: f64| {
            let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
            sorted[i].as_secs_f64() * 1000.0
        };
        println!(
            "{:<11} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>14.0}{}",
            row.backend,
            sorted.len(),
            pct(0.50),
            pct(0.99),
            sorted.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
            row.receiver_rps,
            if row.refused > 0 {
                format!(" ({} refused)", row.refused)
            } else {
                String::new()
            }
        );
    }
    println!(
        "(latency: order appears in the sandbox -> its save committed in the hub, by webhook, \
         polling off; {rate} orders/s)"
    );
    Ok(())
}

/// The highest order id of a sandbox store (its newest order).
fn max_order_id(sandbox: &Sandbox, hash: &str) -> u64 {
    sandbox
        .store(hash)
        .and_then(|store| store.data.read().orders.keys().next_back().copied())
        .unwrap_or(0)
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
        orders: 100,
        products: 50,
        seed: 7,
        plan: Plan::Unlimited,
        ..StoreSpec::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let (settings, storage, channels, store) =
        connect_with_hooks(database_url, &sandbox, &info, &listener, &dir.0, None).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let account = info
        .account("merchant-guide")
        .context("the sandbox has a merchant-guide account")?
        .clone();
    let endpoint = storage
        .get_webhook_endpoint(&store.scope())
        .await?
        .context("registering saved the store's webhook endpoint")?;
    let header_secret = channels
        .open_secret(&store, &endpoint.header_secret, PURPOSE_HEADER_SECRET)
        .context("the header secret opens with the hub's key")?;

    let options = ServeOptions {
        poll: false,
        ..ServeOptions::from_settings(&settings)
    };
    let app = App::build(&settings, options).await?;
    let mut processed = app.processed();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));

    // The watcher: when each new order id first appears in the sandbox.
    let first_new = max_order_id(&sandbox, &info.hash) + 1;
    let seen: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (sandbox, seen, watching) = (sandbox.clone(), seen.clone(), watching.clone());
        let hash = info.hash.clone();
        tokio::spawn(async move {
            let mut known = first_new - 1;
            while watching.load(Ordering::Relaxed) {
                let now = max_order_id(&sandbox, &hash);
                if now > known {
                    let at = Instant::now();
                    let mut map = seen.lock().expect("not poisoned");
                    for id in known + 1..=now {
                        map.insert(id, at);
                    }
                    known = now;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };

    start_live(
        sandbox.state(),
        &info.hash,
        LiveSettings {
            rate: args.rate.unwrap_or(20.0),
            seed: Some(11),
            new_order_share: 1.0,
        },
    )
    .map_err(anyhow::Error::msg)?;
    let deadline = Instant::now()
        + Duration::from_secs_f64(args.orders as f64 / args.rate.unwrap_or(20.0) * 2.0 + 30.0);
    let mut committed: HashMap<u64, Instant> = HashMap::new();
    while (committed.len() as u64) < args.orders {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, processed.recv()).await {
            Ok(Ok(done)) => {
                if let (Some(Hint::Order(id)), JobOutcome::Saved) = (&done.target, done.outcome) {
                    let id: u64 = id.parse().unwrap_or_default();
                    if id >= first_new {
                        committed.entry(id).or_insert(done.finished_at);
                    }
                }
            }
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(n))) => {
                bail!("the benchmark fell {n} job reports behind")
            }
            Ok(Err(_)) | Err(_) => break,
        }
    }
    stop_live(sandbox.state(), &info.hash);
    watching.store(false, Ordering::Relaxed);
    let _ = watcher.await;
    let seen = seen.lock().expect("not poisoned").clone();
    let latencies: Vec<Duration> = committed
        .iter()
        .filter_map(|(id, at)| Some(at.saturating_duration_since(*seen.get(id)?)))
        .collect();
    if (latencies.len() as u64) < args.orders {
        println!(
            "{backend}: only {} of {} orders were committed by webhook in time",
            latencies.len(),
            args.orders
        );
    }

    // The receiver's throughput.
    let http = reqwest::Client::new();
    let url = format!("{base}{}", receiver_path(&store));
    let order_ids: Vec<u64> = committed.keys().copied().take(20).collect();
    let started = Instant::now();
    let refused = futures::stream::iter(0..args.callbacks)
        .map(|n| {
            let message_id = format!("bench_{n}");
            let body = serde_json::to_vec(&serde_json::json!({
                "scope": "store/order/updated",
                "data": {"type": "order", "id": order_ids[n as usize % order_ids.len().max(1)]}
            }))
            .expect("JSON");
            let timestamp = chrono::Utc::now().timestamp();
            let signature = bigcommerce_sandbox::webhooks::sign(
                account.client_secret.as_bytes(),
                &message_id,
                timestamp,
                &body,
            );
            let request = http
                .post(&url)
                .header("content-type", "application/json")
                .header(HEADER_HOOK_KEY, header_secret.expose_secret())
                .header("webhook-id", message_id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(body);
            async move {
                match request.send().await {
                    Ok(response) if response.status().is_success() => 0u64,
                    _ => 1,
                }
            }
        })
        .buffer_unordered(16)
        .fold(0u64, |sum, refused| async move { sum + refused })
        .await;
    let receiver_rps = args.callbacks as f64 / started.elapsed().as_secs_f64();

    let _ = stop.send(());
    server.await??;
    storage.close().await;
    sandbox.shutdown();
    Ok(Figures {
        backend,
        latencies,
        receiver_rps,
        refused,
    })
}
