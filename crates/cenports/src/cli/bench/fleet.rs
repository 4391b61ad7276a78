//! `cenports bench fleet`: many stores polled by several `cenports worker` processes on one
//! PostgreSQL database (`docs/PERFORMANCE.md`, "Fleet").
//!
//! Per run (one per value of `--workers`):
//!
//! 1. A `cenports sandbox` **child process** gets `--stores` stores through its control API
//!    (`POST /_sandbox/stores`): most with 0–5 orders, `--large` of them with
//!    `--large-orders`, all on the Unlimited plan unless `--plan` says otherwise.
//! 2. A scratch PostgreSQL database (on the server the global `--database-url` names) gets
//!    every store saved directly, credentials encrypted with a random key, as `connect` would
//!    save them; the key reaches the workers through `CENPORTS_SECRET_KEY`.
//! 3. `--workers` processes `cenports worker --interval I --reconcile-interval 0` (this very
//!    binary) start with `CENPORTS_LEASE_PERIOD` = `--lease`, polling only (no public URL, so no
//!    webhooks). The warm-up ends when every store has one successful sync.
//! 4. For `--duration` (default two intervals) the bench changes orders in random stores
//!    through the control API (`--changes` per second, during the first half of the window;
//!    a new order, or an existing one touched) and polls the hub's database every half second
//!    for each change: **lag** = change sent → the hub holds that version (the order exists,
//!    or its `date_modified` reached the change's second). It samples the PostgreSQL
//!    connections of the database (`pg_stat_activity`, the bench's own excluded) and reads
//!    CPU (utime + stime, `/proc/<pid>/stat`) of the workers, the sandbox and the database's
//!    server backends at the window's ends.
//! 5. With two workers or more (unless `--no-kill`), one worker is SIGKILLed and the bench
//!    waits until every store it held has been synced again.
//! 6. At the end each store's request log is read from the sandbox: requests per store per
//!    hour in the window, walks (each sync reads the store's clock once, `GET /v2/time`) per
//!    store per interval, stores walked twice closer than the interval, and the time from the
//!    kill to each orphaned store's next walk.
//!
//! It prints one table per run and an estimate of the ceiling. A benchmark, not a test: nothing
//! is asserted.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use bigcommerce_sandbox::{fixtures, StoreInfo};
use cenports::channel::bigcommerce::CHANNEL;
use cenports::channel::credentials::encrypt_credentials;
use cenports::channel::Credentials;
use cenports::config::Overrides;
use cenports::secrets::SecretBox;
use cenports::storage::{NewStore, Storage, StoreProfile};
use cenports_harness::{Running, SandboxChild, TempDir};
use chrono::SubsecRound as _;
use clap::Args;
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::SecretString;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use super::import::{cpu_time, peak_rss_kb};
use super::setup::{drop_postgres, scratch_postgres, start_sandbox, BENCH_EMAIL};
use crate::cli::serve::parse_positive;

/// Syncs at once per worker (the scheduler's default), for the throughput bound.
const CONCURRENCY: usize = cenports::sync::scheduler::DEFAULT_CONCURRENCY;
/// A worker's PostgreSQL pool (`Storage::open`).
const POOL_SIZE: usize = 10;
/// The sync's settle delay (`SyncOptions::settle`): a change is in the first window that
/// starts this long after it.
const SETTLE: Duration = Duration::from_secs(5);
/// The bench's own connections carry this name, so they are not counted as the hub's.
const APP_NAME: &str = "cenports-bench-fleet";
/// How often pending changes are looked for in the hub's database.
const CHECK_EVERY: Duration = Duration::from_millis(500);
/// Requests to the sandbox's control API at once.
const CONTROL_CONCURRENCY: usize = 8;
/// Machine cores, for the ceiling estimate.
const CORES: f64 = 2.0;

/// Options of `cenports bench fleet`.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// Stores in the sandbox, all connected to the hub.
    #[arg(long, default_value_t = 2000)]
    pub stores: usize,
    /// Hub processes (`cenports worker`); a list (`1,2`) makes one run each.
    #[arg(long, default_value = "2", value_delimiter = ',')]
    pub workers: Vec<usize>,
    /// Time between syncs of each store.
    #[arg(long, default_value = "5m", value_parser = parse_positive)]
    pub interval: Duration,
    /// The workers' lease period (`CENPORTS_LEASE_PERIOD`).
    #[arg(long, default_value = "30s", value_parser = parse_positive)]
    pub lease: Duration,
    /// Length of the measured window after the first sync of every store [default: two
    /// intervals].
    #[arg(long, value_parser = parse_positive)]
    pub duration: Option<Duration>,
    /// Order changes per second during the first half of the window (new orders, touched ones).
    #[arg(long, default_value_t = 2.0)]
    pub changes: f64,
    /// Stores with a large history [default: one in 400, at least one].
    #[arg(long)]
    pub large: Option<usize>,
    /// Orders of each large store.
    #[arg(long, default_value_t = 3000)]
    pub large_orders: usize,
    /// The stores' plan (API quota): standard, plus, pro or unlimited.
    #[arg(long, default_value = "unlimited")]
    pub plan: String,
    /// Latency the sandbox adds to every API request (a network's round trip; loopback has
    /// none), in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Syncs each worker runs at once (`cenports worker --sync-concurrency`).
    #[arg(long, default_value_t = cenports::sync::scheduler::DEFAULT_CONCURRENCY as u16)]
    pub sync_concurrency: u16,
    /// Do not SIGKILL a worker at the end.
    #[arg(long)]
    pub no_kill: bool,
    /// Seed of the stores (and of the changes).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// One store of the run.
struct BenchStore {
    hash: String,
    /// Its row in the hub.
    id: i64,
}

/// A change made at the sandbox, waiting to be seen in the hub.
struct Change {
    store: i64,
    order: String,
    /// A new order: seen once it exists; else seen once `date_modified` reaches `second`.
    placed: bool,
    second: chrono::DateTime<chrono::Utc>,
    sent: Instant,
}

/// CPU time of a set of processes, by pid, as first and last read.
#[derive(Default)]
struct CpuWatch {
    seen: HashMap<u32, (Duration, Duration)>,
}

impl CpuWatch {
    /// Reads every pid; a pid not seen before starts at `start` (zero for a process born in
    /// the window, its current CPU for one already there).
    fn read(&mut self, pids: &[u32], born_now: bool) {
        for pid in pids {
            if let Some(cpu) = cpu_time(&format!("/proc/{pid}/stat")) {
                let entry = self
                    .seen
                    .entry(*pid)
                    .or_insert((if born_now { Duration::ZERO } else { cpu }, cpu));
                entry.1 = cpu;
            }
        }
    }

    fn total(&self) -> Duration {
        self.seen.values().map(|(a, b)| b.saturating_sub(*a)).sum()
    }
}

/// What one run measured.
#[derive(Default)]
struct Figures {
    workers: usize,
    stores: usize,
    large: usize,
    create_s: f64,
    sandbox_rss_mb: f64,
    save_s: f64,
    warmup_s: f64,
    failed_syncs: i64,
    per_worker: Vec<i64>,
    window: Duration,
    lags: Vec<Duration>,
    unseen: usize,
    changes_failed: usize,
    walks: u64,
    requests: u64,
    twice: usize,
    /// Time between consecutive walks of a store, summed, up to the window's end.
    gap_sum_ms: i64,
    gaps: u64,
    closest_gap_ms: Option<i64>,
    hub_cpu: Duration,
    sandbox_cpu: Duration,
    pg_cpu: Duration,
    hub_rss_mb: f64,
    connections_max: i64,
    sync_ms: Vec<f64>,
    kill: Option<KillFigures>,
}

struct KillFigures {
    orphans: usize,
    /// From the kill to each orphan's next walk at the sandbox.
    resynced: Vec<Duration>,
    /// Orphans not walked again before the bench stopped waiting.
    missing: usize,
}

/// Runs `cenports bench fleet`.
pub(super) async fn run(args: FleetArgs, overrides: &Overrides) -> Result<()> {
    if args.stores == 0 || args.workers.contains(&0) || args.workers.is_empty() {
        bail!("--stores and --workers must be at least 1");
    }
    if !args.changes.is_finite() || args.changes <= 0.0 {
        bail!("--changes must be a positive rate");
    }
    for (n, &workers) in args.workers.iter().enumerate() {
        let figures = run_once(&args, workers, overrides)
            .await
            .with_context(|| format!("the run with {workers} workers"))?;
        print_table(&args, &figures);
        if n + 1 < args.workers.len() {
            println!();
        }
    }
    Ok(())
}

async fn run_once(args: &FleetArgs, workers: usize, overrides: &Overrides) -> Result<Figures> {
    let dir = TempDir::create("bench-fleet")?;
    let Some(db) = scratch_postgres(overrides).await? else {
        bail!("bench fleet needs PostgreSQL: give --database-url postgres://...");
    };
    let result = measure(args, workers, &dir.0, db.url(), db.name()).await;
    drop_postgres(db).await;
    result
}

async fn measure(
    args: &FleetArgs,
    workers: usize,
    dir: &Path,
    database_url: &str,
    database: &str,
) -> Result<Figures> {
    let mut figures = Figures {
        workers,
        stores: args.stores,
        ..Figures::default()
    };
    let interval = args.interval;
    let window = args.duration.unwrap_or(2 * interval);
    figures.window = window;
    let sandbox = start_sandbox(dir, 0, args.seed, &args.plan).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONTROL_CONCURRENCY * 2)
        .timeout(Duration::from_secs(60))
        .build()?;

    // 1. The stores, through the control API.
    let large = args
        .large
        .unwrap_or((args.stores / 400).max(1))
        .min(args.stores);
    figures.large = large;
    let started = Instant::now();
    let infos = create_stores(&http, &sandbox, args, large).await?;
    if args.latency_ms > 0 {
        add_latency(&http, &sandbox.base_url, &infos, args.latency_ms).await?;
    }
    figures.create_s = started.elapsed().as_secs_f64();
    figures.sandbox_rss_mb = rss_mb(sandbox.pid()).unwrap_or(0.0);
    println!(
        "{} stores created in the sandbox (child process {}) in {:.1} s; its RSS {:.0} MB",
        infos.len(),
        sandbox.pid(),
        figures.create_s,
        figures.sandbox_rss_mb
    );

    // 2. Saved in the hub's database, as `connect` saves them.
    let key: [u8; 32] = rand::random();
    let started = Instant::now();
    let stores = save_stores(database_url, &sandbox.base_url, &infos, &key).await?;
    figures.save_s = started.elapsed().as_secs_f64();
    println!("saved in the hub's database in {:.1} s", figures.save_s);
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(
            database_url
                .parse::<PgConnectOptions>()?
                .application_name(APP_NAME),
        )
        .await
        .context("the bench's own connection to the database")?;

    // 3. The workers.
    let mut children = Vec::with_capacity(workers);
    for _ in 0..workers {
        children.push(start_worker(
            args,
            database_url,
            &sandbox.base_url,
            &key,
            dir,
        )?);
    }
    let pids: Vec<u32> = children.iter().map(Running::pid).collect();
    println!(
        "{workers} workers started (pids {pids:?}), polling every {} s, leases of {} s",
        interval.as_secs_f64(),
        args.lease.as_secs_f64()
    );
    let started = Instant::now();
    let warmup_limit = Duration::from_secs(3600);
    loop {
        let (ok, failed): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(DISTINCT store_id) FILTER (WHERE outcome = 'ok'), \
             COUNT(*) FILTER (WHERE outcome = 'failed') FROM sync_runs",
        )
        .fetch_one(&pool)
        .await?;
        figures.failed_syncs = failed;
        if ok as usize >= stores.len() {
            break;
        }
        for child in &mut children {
            if let Some(status) = child.0.try_wait()? {
                bail!("a worker exited during the warm-up: {status}");
            }
        }
        if started.elapsed() > warmup_limit {
            bail!("the first sync of every store took over an hour ({ok} done)");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    figures.warmup_s = started.elapsed().as_secs_f64();
    println!(
        "first sync of every store done after {:.1} s ({} failed syncs)",
        figures.warmup_s, figures.failed_syncs
    );

    // The first heartbeats race (the first process to beat takes every store, then gives back
    // what is over its share): the window starts once the split is even, and at least half an
    // interval after the first syncs, so that each store's walks fall inside it, not on its
    // edges.
    let settled = Instant::now();
    let split_by = settled + 4 * args.lease;
    loop {
        figures.per_worker = per_worker(&pool, &pids).await?;
        let floor = (stores.len() / workers) as i64;
        if figures.per_worker.iter().all(|n| *n >= floor) || Instant::now() > split_by {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let split_s = settled.elapsed().as_secs_f64();
    tokio::time::sleep((settled + interval / 2).saturating_duration_since(Instant::now())).await;
    figures.per_worker = per_worker(&pool, &pids).await?;
    println!(
        "stores split {:?} after {split_s:.1} s; the measured window starts",
        figures.per_worker
    );

    // 4. The measured window.
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
    let mut pending: Vec<Change> = Vec::new();
    let mut hub_cpu = CpuWatch::default();
    let mut sandbox_cpu = CpuWatch::default();
    let mut pg_cpu = CpuWatch::default();
    hub_cpu.read(&pids, false);
    sandbox_cpu.read(&[sandbox.pid()], false);
    pg_cpu.read(&backends(&pool, database).await?.pids, false);
    let window_from_ms = now_ms();
    let window_start = Instant::now();
    let changes_until = window_start + window / 2;
    let window_end = window_start + window;
    let mut change_tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.changes));
    let mut check_tick = tokio::time::interval(CHECK_EVERY);
    let mut sample_tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_report = Instant::now();
    while Instant::now() < window_end {
        tokio::select! {
            _ = change_tick.tick(), if Instant::now() < changes_until => {
                let store = &stores[rng.gen_range(0..stores.len())];
                match change_order(&http, &sandbox.base_url, &pool, store, &mut rng).await {
                    Ok(change) => pending.push(change),
                    Err(error) => {
                        figures.changes_failed += 1;
                        tracing::warn!(error = %format!("{error:#}"), "bench: a change failed");
                    }
                }
            }
            _ = check_tick.tick() => check(&pool, &mut pending, &mut figures.lags).await?,
            _ = sample_tick.tick() => {
                let pg = backends(&pool, database).await?;
                pg_cpu.read(&pg.pids, true);
                figures.connections_max = figures.connections_max.max(pg.connections);
                if last_report.elapsed() >= Duration::from_secs(60) {
                    last_report = Instant::now();
                    println!(
                        "  {:.0} s of {:.0} s: {} changes seen, {} pending",
                        window_start.elapsed().as_secs_f64(),
                        window.as_secs_f64(),
                        figures.lags.len(),
                        pending.len()
                    );
                }
            }
        }
    }
    let window_to_ms = now_ms();
    hub_cpu.read(&pids, false);
    sandbox_cpu.read(&[sandbox.pid()], false);
    pg_cpu.read(&backends(&pool, database).await?.pids, true);
    figures.hub_cpu = hub_cpu.total();
    figures.sandbox_cpu = sandbox_cpu.total();
    figures.pg_cpu = pg_cpu.total();
    figures.hub_rss_mb = pids
        .iter()
        .filter_map(|pid| peak_rss_kb(&format!("/proc/{pid}/status")))
        .max()
        .map_or(0.0, |kb| kb as f64 / 1024.0);
    figures.sync_ms = sqlx::query_scalar(
        "SELECT (EXTRACT(EPOCH FROM finished_at - started_at) * 1000)::float8 FROM sync_runs \
         WHERE outcome = 'ok' AND started_at >= to_timestamp($1 / 1000.0) \
         AND started_at < to_timestamp($2 / 1000.0)",
    )
    .bind(window_from_ms)
    .bind(window_to_ms)
    .fetch_all(&pool)
    .await?;
    // Changes of the window's last part are still waiting: every worker stays up until they
    // are seen (or an interval and a minute have passed).
    let drain_until = Instant::now() + interval + SETTLE + Duration::from_secs(60);
    while !pending.is_empty() && Instant::now() < drain_until {
        tokio::time::sleep(CHECK_EVERY).await;
        check(&pool, &mut pending, &mut figures.lags).await?;
    }
    figures.unseen = pending.len();

    // 5. SIGKILL one worker.
    let mut killed = None;
    if workers >= 2 && !args.no_kill {
        let victim = children.remove(0);
        let pid = victim.pid();
        let orphans: Vec<String> = sqlx::query_scalar(
            "SELECT l.remote_id FROM store_leases l JOIN hub_processes p ON p.id = l.owner \
             WHERE p.pid = $1",
        )
        .bind(i64::from(pid))
        .fetch_all(&pool)
        .await?;
        let killed_at_ms = now_ms();
        drop(victim); // SIGKILL, and reaped
        println!(
            "worker {pid} SIGKILLed holding {} stores; waiting for them to be synced again",
            orphans.len()
        );
        let limit = Instant::now() + args.lease + interval + Duration::from_secs(120);
        loop {
            let left: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM store_leases WHERE remote_id = ANY($1) AND polled_at <= $2",
            )
            .bind(&orphans)
            .bind(killed_at_ms)
            .fetch_one(&pool)
            .await?;
            if left == 0 || Instant::now() > limit {
                break;
            }
            tokio::time::sleep(CHECK_EVERY).await;
        }
        // The walk itself follows the recorded start by a request or two.
        tokio::time::sleep(Duration::from_secs(2)).await;
        killed = Some((killed_at_ms, orphans));
    }
    let run_to_ms = now_ms();

    // 6. What the sandbox saw.
    let logs = walk_logs(&http, &sandbox.base_url, &stores).await?;
    let tolerance = (interval / 20).min(Duration::from_secs(1)).as_millis() as i64;
    for log in logs.values() {
        figures.requests += log
            .iter()
            .filter(|r| (window_from_ms..window_to_ms).contains(&r.at_ms))
            .count() as u64;
        let walks: Vec<i64> = log
            .iter()
            .filter(|r| r.path.ends_with("/v2/time"))
            .map(|r| r.at_ms)
            .collect();
        figures.walks += walks
            .iter()
            .filter(|t| (window_from_ms..window_to_ms).contains(*t))
            .count() as u64;
        let gaps: Vec<i64> = walks
            .windows(2)
            .filter(|pair| pair[1] <= run_to_ms)
            .map(|pair| pair[1] - pair[0])
            .collect();
        for pair in walks.windows(2) {
            if pair[1] <= window_to_ms {
                figures.gap_sum_ms += pair[1] - pair[0];
                figures.gaps += 1;
            }
        }
        if let Some(closest) = gaps.iter().min() {
            figures.closest_gap_ms =
                Some(figures.closest_gap_ms.map_or(*closest, |c| c.min(*closest)));
        }
        if gaps
            .iter()
            .any(|gap| *gap < interval.as_millis() as i64 - tolerance)
        {
            figures.twice += 1;
        }
    }
    if let Some((killed_at_ms, orphans)) = killed {
        let mut resynced = Vec::new();
        let mut missing = 0;
        for hash in &orphans {
            let next = logs.get(hash.as_str()).and_then(|log| {
                log.iter()
                    .find(|r| r.path.ends_with("/v2/time") && r.at_ms > killed_at_ms)
                    .map(|r| r.at_ms)
            });
            match next {
                Some(at) => resynced.push(Duration::from_millis((at - killed_at_ms) as u64)),
                None => missing += 1,
            }
        }
        resynced.sort();
        figures.kill = Some(KillFigures {
            orphans: orphans.len(),
            resynced,
            missing,
        });
    }

    // The rest stop gracefully (SIGTERM gives their leases back).
    for child in &mut children {
        let _ = Command::new("kill")
            .args(["-TERM", &child.pid().to_string()])
            .status();
    }
    for child in &mut children {
        let deadline = Instant::now() + Duration::from_secs(15);
        while child.0.try_wait()?.is_none() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    drop(children);
    pool.close().await;
    drop(sandbox);
    Ok(figures)
}

/// Creates the stores through the sandbox's control API: `large` of them (spread evenly) with
/// `--large-orders` orders, the others with 0–5.
async fn create_stores(
    http: &reqwest::Client,
    sandbox: &SandboxChild,
    args: &FleetArgs,
    large: usize,
) -> Result<Vec<StoreInfo>> {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let every = args.stores / large.max(1);
    let specs: Vec<serde_json::Value> = (0..args.stores)
        .map(|n| {
            let orders = if large > 0 && n % every == every / 2 && n / every < large {
                args.large_orders
            } else {
                rng.gen_range(0..=5)
            };
            serde_json::json!({
                "seed": args.seed * 1_000_000 + 1_000 + n as u64,
                "products": 3,
                "orders": orders,
                "plan": args.plan,
                "name": format!("Fleet store {n}"),
            })
        })
        .collect();
    let url = format!("{}/_sandbox/stores", sandbox.base_url);
    let created: Vec<Result<StoreInfo>> = futures::stream::iter(specs)
        .map(|spec| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let response = http.post(&url).json(&spec).send().await?;
                let status = response.status();
                if !status.is_success() {
                    bail!(
                        "POST /_sandbox/stores answered {status}: {}",
                        response.text().await?
                    );
                }
                Ok(response.json::<StoreInfo>().await?)
            }
        })
        .buffered(CONTROL_CONCURRENCY)
        .collect()
        .await;
    created.into_iter().collect()
}

/// Makes every API request of every store wait `latency_ms` (a fault rule of kind `latency`).
async fn add_latency(
    http: &reqwest::Client,
    base_url: &str,
    infos: &[StoreInfo],
    latency_ms: u64,
) -> Result<()> {
    let rule = serde_json::json!({"kind": "latency", "latency_ms": latency_ms});
    let added: Vec<Result<()>> = futures::stream::iter(infos)
        .map(|info| {
            let url = format!("{base_url}/_sandbox/stores/{}/faults", info.hash);
            let (http, rule) = (http.clone(), rule.clone());
            async move {
                http.post(&url)
                    .json(&rule)
                    .send()
                    .await?
                    .error_for_status()?;
                Ok(())
            }
        })
        .buffer_unordered(CONTROL_CONCURRENCY)
        .collect()
        .await;
    added.into_iter().collect()
}

/// Saves every store for the bench's user with its `merchant-guide` credentials, encrypted
/// with `key`, as `connect` does once its checks pass.
async fn save_stores(
    database_url: &str,
    api_url: &str,
    infos: &[StoreInfo],
    key: &[u8; 32],
) -> Result<Vec<BenchStore>> {
    let storage = Storage::open(database_url).await?;
    let secret_box = Arc::new(SecretBox::from_key_bytes(key)?);
    let user = storage.ensure_user(BENCH_EMAIL).await?;
    let api = url::Url::parse(api_url)?.to_string();
    let saved: Vec<Result<BenchStore>> = futures::stream::iter(infos)
        .map(|info| {
            let (storage, secret_box, api) = (storage.clone(), secret_box.clone(), api.clone());
            async move {
                let account = info
                    .account("merchant-guide")
                    .context("the sandbox store has no merchant-guide account")?;
                let credentials = Credentials {
                    client_id: account.client_id.clone(),
                    client_secret: SecretString::from(account.client_secret.clone()),
                    access_token: SecretString::from(account.access_token.clone()),
                };
                let record = storage
                    .save_store(
                        user.id,
                        &NewStore {
                            channel: CHANNEL.into(),
                            remote_id: info.hash.clone(),
                            api_base_url: api,
                            profile: StoreProfile::default(),
                            credentials: encrypt_credentials(&secret_box, &info.hash, &credentials),
                        },
                    )
                    .await?;
                Ok(BenchStore {
                    hash: info.hash.clone(),
                    id: record.id().get(),
                })
            }
        })
        .buffered(CONTROL_CONCURRENCY)
        .collect()
        .await;
    storage.close().await;
    saved.into_iter().collect()
}

/// Starts `cenports worker` (this binary) on the bench's database, polling only.
fn start_worker(
    args: &FleetArgs,
    database_url: &str,
    api_url: &str,
    key: &[u8; 32],
    dir: &Path,
) -> Result<Running> {
    let exe = std::env::current_exe().context("could not find the cenports executable")?;
    let child = Command::new(exe)
        .arg("worker")
        .arg("--interval")
        .arg(format!("{}ms", args.interval.as_millis()))
        .args(["--reconcile-interval", "0"])
        .arg("--sync-concurrency")
        .arg(args.sync_concurrency.to_string())
        .env("CENPORTS_DATABASE_URL", database_url)
        .env("CENPORTS_BIGCOMMERCE_API_URL", api_url)
        .env(
            "CENPORTS_SECRET_KEY",
            base64::engine::general_purpose::STANDARD.encode(key),
        )
        .env("CENPORTS_KEY_FILE", dir.join("unused.key"))
        .env(
            "CENPORTS_LEASE_PERIOD",
            format!("{}ms", args.lease.as_millis()),
        )
        .env(
            "CENPORTS_LOG",
            std::env::var("FLEET_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .env_remove("CENPORTS_PUBLIC_URL")
        .env_remove("CENPORTS_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("could not start `cenports worker`")?;
    Ok(Running(child))
}

/// Stores held by each worker, in the order of `pids`.
async fn per_worker(pool: &PgPool, pids: &[u32]) -> Result<Vec<i64>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT p.pid, COUNT(*) FROM store_leases l JOIN hub_processes p ON p.id = l.owner \
         GROUP BY p.pid",
    )
    .fetch_all(pool)
    .await?;
    let by_pid: HashMap<i64, i64> = rows.into_iter().collect();
    Ok(pids
        .iter()
        .map(|pid| by_pid.get(&i64::from(*pid)).copied().unwrap_or(0))
        .collect())
}

/// The server processes working for `database` apart from the bench's own connections: the
/// hub's connections, and autovacuum workers while they run (their CPU is the hub's too).
struct Backends {
    pids: Vec<u32>,
    /// Of which client connections (the hub's pools).
    connections: i64,
}

async fn backends(pool: &PgPool, database: &str) -> Result<Backends> {
    let rows: Vec<(i32, bool)> = sqlx::query_as(
        "SELECT pid, backend_type = 'client backend' FROM pg_stat_activity \
         WHERE datname = $1 AND application_name <> $2",
    )
    .bind(database)
    .bind(APP_NAME)
    .fetch_all(pool)
    .await?;
    Ok(Backends {
        pids: rows.iter().map(|(pid, _)| *pid as u32).collect(),
        connections: rows.iter().filter(|(_, client)| *client).count() as i64,
    })
}

/// Changes one order of `store` at the sandbox: a new order (a third of the time, or when the
/// hub holds none of the store's), else an existing one touched (`date_modified` = now).
async fn change_order(
    http: &reqwest::Client,
    base_url: &str,
    pool: &PgPool,
    store: &BenchStore,
    rng: &mut StdRng,
) -> Result<Change> {
    let existing: Option<String> = if rng.gen_bool(2.0 / 3.0) {
        sqlx::query_scalar(
            "SELECT remote_id FROM orders WHERE store_id = $1 ORDER BY random() LIMIT 1",
        )
        .bind(store.id)
        .fetch_optional(pool)
        .await?
    } else {
        None
    };
    let second = chrono::Utc::now().trunc_subsecs(0);
    let sent = Instant::now();
    let (order, placed) = match existing {
        Some(order) => {
            let url = format!(
                "{base_url}/_sandbox/stores/{}/orders/{order}/touch",
                store.hash
            );
            let response = http.post(&url).send().await?;
            if !response.status().is_success() {
                bail!("touching an order answered {}", response.status());
            }
            (order, false)
        }
        None => {
            let sku: String = sqlx::query_scalar(
                "SELECT sku FROM skus WHERE store_id = $1 \
                 ORDER BY variant_remote_id IS NULL, sku LIMIT 1",
            )
            .bind(store.id)
            .fetch_one(pool)
            .await
            .context("the store's SKUs in the hub")?;
            let url = format!("{base_url}/_sandbox/stores/{}/orders", store.hash);
            let body = fixtures::order(1, &[(sku.as_str(), 1, 0)]);
            let response = http.post(&url).json(&body).send().await?;
            if !response.status().is_success() {
                bail!(
                    "placing an order answered {}: {}",
                    response.status(),
                    response.text().await?
                );
            }
            let id: serde_json::Value = response.json().await?;
            let id = id["id"].as_u64().context("the new order's id")?;
            (id.to_string(), true)
        }
    };
    Ok(Change {
        store: store.id,
        order,
        placed,
        second,
        sent,
    })
}

/// Looks for every pending change in the hub's database at once; the ones seen leave
/// `pending` with their lag.
async fn check(pool: &PgPool, pending: &mut Vec<Change>, lags: &mut Vec<Duration>) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let stores: Vec<i64> = pending.iter().map(|c| c.store).collect();
    let orders: Vec<String> = pending.iter().map(|c| c.order.clone()).collect();
    let rows: Vec<(i64, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT o.store_id, o.remote_id, o.date_modified FROM orders o \
         JOIN UNNEST($1::bigint[], $2::text[]) AS p(store_id, remote_id) \
         ON o.store_id = p.store_id AND o.remote_id = p.remote_id",
    )
    .bind(&stores)
    .bind(&orders)
    .fetch_all(pool)
    .await?;
    let held: HashMap<(i64, &str), chrono::DateTime<chrono::Utc>> = rows
        .iter()
        .map(|(store, order, modified)| ((*store, order.as_str()), *modified))
        .collect();
    let seen_at = Instant::now();
    pending.retain(|change| {
        let seen = held
            .get(&(change.store, change.order.as_str()))
            .is_some_and(|modified| change.placed || *modified >= change.second);
        if seen {
            lags.push(seen_at - change.sent);
        }
        !seen
    });
    Ok(())
}

/// One request in a store's log, as far as the bench reads it.
#[derive(serde::Deserialize)]
struct Logged {
    at_ms: i64,
    path: String,
}

/// Every store's request log, by hash.
async fn walk_logs(
    http: &reqwest::Client,
    base_url: &str,
    stores: &[BenchStore],
) -> Result<HashMap<String, Vec<Logged>>> {
    let logs: Vec<Result<(String, Vec<Logged>)>> = futures::stream::iter(stores)
        .map(|store| {
            let url = format!("{base_url}/_sandbox/stores/{}/requests", store.hash);
            let http = http.clone();
            async move {
                let log: Vec<Logged> = http
                    .get(&url)
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                Ok((store.hash.clone(), log))
            }
        })
        .buffer_unordered(CONTROL_CONCURRENCY)
        .collect()
        .await;
    logs.into_iter().collect()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn rss_mb(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map(|kb| kb / 1024.0)
}

fn percentile<T: Copy + Ord>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[i])
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn print_table(args: &FleetArgs, f: &Figures) {
    let interval = args.interval;
    let hours = f.window.as_secs_f64() / 3600.0;
    let store_hours = f.stores as f64 * hours;
    let per_store_hour = |cpu: Duration| cpu.as_secs_f64() * 1000.0 / store_hours;
    let cores = |cpu: Duration| cpu.as_secs_f64() / f.window.as_secs_f64();
    let mut lags = f.lags.clone();
    lags.sort();
    let mut sync_ms = f.sync_ms.clone();
    sync_ms.sort_by(f64::total_cmp);
    let sync_p50 = sync_ms.get(sync_ms.len() / 2).copied();
    let sync_p99 = sync_ms
        .get(((sync_ms.len() as f64 * 0.99) as usize).min(sync_ms.len().saturating_sub(1)))
        .copied();
    let intervals = f.window.as_secs_f64() / interval.as_secs_f64();
    println!();
    println!(
        "| fleet: {} stores, {} workers, every {}, leases of {} | |",
        f.stores,
        f.workers,
        secs(interval),
        secs(args.lease)
    );
    println!("|---|---|");
    println!(
        "| stores | {} ({} with {} orders, the others 0–5), {} plan, {} ms added to each request |",
        f.stores, f.large, args.large_orders, args.plan, args.latency_ms
    );
    println!(
        "| setup | created in the sandbox in {:.1} s (its RSS then {:.0} MB), saved in {:.1} s |",
        f.create_s, f.sandbox_rss_mb, f.save_s
    );
    println!(
        "| first sync of every store | {:.1} s ({} failed syncs) |",
        f.warmup_s, f.failed_syncs
    );
    println!(
        "| stores per worker | {} |",
        f.per_worker
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(" / ")
    );
    println!(
        "| measured window | {} ({:.1} intervals) |",
        secs(f.window),
        intervals
    );
    let ms = |d: Option<Duration>| d.map_or("n/a".to_string(), secs);
    println!(
        "| sync lag p50 / p99 / max | {} / {} / {} ({} changes, {} not seen, {} failed; bound: interval + settle {} = {}, plus the walk) |",
        ms(percentile(&lags, 0.5)),
        ms(percentile(&lags, 0.99)),
        ms(lags.last().copied()),
        lags.len(),
        f.unseen,
        f.changes_failed,
        secs(SETTLE),
        secs(interval + SETTLE)
    );
    println!(
        "| walks per store per interval | {:.3} in the window (mean time between a store's walks: {:.1} s) |",
        f.walks as f64 / f.stores as f64 / intervals,
        f.gap_sum_ms as f64 / f.gaps.max(1) as f64 / 1000.0
    );
    println!(
        "| stores walked twice within an interval | {} (closest two walks of a store: {}) |",
        f.twice,
        f.closest_gap_ms
            .map_or("n/a".to_string(), |g| format!("{:.1} s", g as f64 / 1000.0))
    );
    println!(
        "| API requests per store per hour | {:.1} ({:.2} per walk) |",
        f.requests as f64 / store_hours,
        f.requests as f64 / f.walks.max(1) as f64
    );
    println!(
        "| hub CPU per store per hour | {:.1} ms ({:.2} cores for {} workers; peak RSS {:.0} MB per worker) |",
        per_store_hour(f.hub_cpu),
        cores(f.hub_cpu),
        f.workers,
        f.hub_rss_mb
    );
    println!(
        "| PostgreSQL CPU per store per hour | {:.1} ms ({:.2} cores; the hub's backends and autovacuum) |",
        per_store_hour(f.pg_cpu),
        cores(f.pg_cpu)
    );
    println!(
        "| sandbox CPU per store per hour | {:.1} ms ({:.2} cores; not the hub's) |",
        per_store_hour(f.sandbox_cpu),
        cores(f.sandbox_cpu)
    );
    println!(
        "| PostgreSQL connections (max sampled) | {} (pools: {} × {POOL_SIZE}) |",
        f.connections_max, f.workers
    );
    println!(
        "| sync duration p50 / p99 | {} / {} |",
        sync_p50.map_or("n/a".into(), |v| format!("{v:.0} ms")),
        sync_p99.map_or("n/a".into(), |v| format!("{v:.0} ms")),
    );
    if let Some(kill) = &f.kill {
        let bound = args.lease + interval;
        println!(
            "| one worker SIGKILLed | its {} stores synced again after p50 {} / max {} ({} not; bound: lease + interval = {}) |",
            kill.orphans,
            ms(percentile(&kill.resynced, 0.5)),
            ms(kill.resynced.last().copied()),
            kill.missing,
            secs(bound)
        );
    }
    // The ceiling: what the hub and its database spend per store, against two cores, and
    // what the workers' sync slots can start per interval.
    let spent = per_store_hour(f.hub_cpu) + per_store_hour(f.pg_cpu);
    let by_cpu = if spent > 0.0 {
        CORES * 3_600_000.0 / spent
    } else {
        f64::INFINITY
    };
    let by_slots = sync_p50.map_or(f64::INFINITY, |p50| {
        f.workers as f64 * CONCURRENCY as f64 * interval.as_secs_f64() * 1000.0 / p50.max(1.0)
    });
    println!();
    println!(
        "Ceiling at this interval: ≈ {:.0} stores by CPU (hub + PostgreSQL, {CORES} cores, sandbox \
         excluded), ≈ {:.0} by sync slots ({} workers × {CONCURRENCY} syncs of p50 {}); \
         connections stay at {} × {POOL_SIZE} whatever the stores.",
        by_cpu,
        by_slots,
        f.workers,
        sync_p50.map_or("n/a".into(), |v| format!("{v:.0} ms")),
        f.workers
    );
    println!(
        "Targets: p99 lag under the interval; no store walked twice within an interval; a killed \
         worker's stores synced again within lease + interval."
    );
}
