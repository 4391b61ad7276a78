//! `cenports bench import`: the import benchmark of `docs/PERFORMANCE.md` ("Hub: backfill").
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
//! It is a benchmark, not a test: nothing is asserted beyond the orders all arriving.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use cenports::channel::bigcommerce::CHANNEL;
use cenports::channel::StoreClient;
use cenports::config::{Overrides, Settings, DEFAULT_LOG, DEFAULT_SYNC_INTERVAL};
use cenports::storage::{FulfilmentState, Storage, StoreScope};
use cenports::sync::{sync_store, SyncOptions};
use clap::{Args, Subcommand};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use url::Url;

use crate::cli::connect;

/// The PostgreSQL server tried when no `--database-url` is given.
pub(crate) const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The Cenports user the benchmark store is connected for.
pub(crate) const BENCH_EMAIL: &str = "bench@cenports.example";

/// The targets of the issue, printed under the table.
const TARGET_REQUESTS_PER_1000: f64 = 4.1;
const TARGET_PEAK_RSS_MB: f64 = 150.0;
const TARGET_SQLITE_ORDERS_PER_S: f64 = 20_000.0;

/// Options of `cenports bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchCommand,
}

/// What to measure.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Backfill a sandbox store (a child process, unthrottled) into SQLite and PostgreSQL and
    /// print throughput, API requests and peak memory. The global --database-url names the
    /// PostgreSQL server to use (a fresh database is created on it and dropped).
    Import(ImportArgs),
    /// Time from connect to the first ready-to-ship order visible in the hub, on a store with a
    /// large history and a rate-limited plan (Standard by default): the open-orders-first
    /// promise. Runs on SQLite and stops the sync once the first open order is committed.
    FirstOrder(FirstOrderArgs),
    /// Push stock for every SKU of a generated sandbox store, then again with nothing
    /// changed, and print the requests used against the floor (cli/bench_stock.rs).
    Stock(crate::cli::bench_stock::StockBenchArgs),
    /// Webhook-to-visible latency (p50/p99/max) of live-mode orders with polling off, and the
    /// receiver's requests/s, on SQLite and PostgreSQL (`cli/bench_webhooks.rs`).
    Webhooks(crate::cli::bench_webhooks::WebhooksArgs),
    /// Latency (p50/p99) of `GET /api/v1/stores/{id}/orders` over real HTTP with 100,000
    /// orders in the hub: first and deep cursor pages, a filter, a search
    /// (`cli/bench_api.rs`), on SQLite and PostgreSQL.
    Api(crate::cli::bench_api::ApiBenchArgs),
}

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
    #[arg(long)]
    pub sqlite_only: bool,
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

/// Runs `cenports bench ...`.
pub async fn run(args: BenchArgs, overrides: &Overrides) -> Result<()> {
    match args.what {
        BenchCommand::Import(args) => import(args, overrides).await,
        BenchCommand::FirstOrder(args) => first_order(args).await,
        BenchCommand::Stock(args) => crate::cli::bench_stock::run(args, overrides).await,
        BenchCommand::Webhooks(args) => crate::cli::bench_webhooks::run(args, overrides).await,
        BenchCommand::Api(args) => crate::cli::bench_api::run(args, overrides).await,
    }
}

async fn import(args: ImportArgs, overrides: &Overrides) -> Result<()> {
    let dir = BenchDir::create()?;
    let started = Instant::now();
    let mut sandbox = SandboxChild::start(&dir.0, args.orders, args.seed, "unlimited").await?;
    println!(
        "Sandbox: child process {} at {} with {} orders (unlimited plan), ready in {:.1} s",
        sandbox.pid.unwrap_or(0),
        sandbox.base_url,
        args.orders,
        started.elapsed().as_secs_f64()
    );
    let result = run_backends(&args, overrides, &dir.0, &sandbox).await;
    let sandbox_rss = sandbox
        .pid
        .and_then(|pid| peak_rss_kb(&format!("/proc/{pid}/status")));
    sandbox.stop().await;
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
    let sqlite = dir.join("cenports.db").display().to_string();
    rows.push(run_backend("SQLite", &sqlite, dir, sandbox).await?);
    if args.sqlite_only {
        return Ok(rows);
    }
    let given = overrides
        .database_url
        .as_deref()
        .filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"));
    let server = given.unwrap_or(DEFAULT_POSTGRES_URL);
    match FreshPostgres::create(server).await {
        Ok(pg) => {
            let row = run_backend("PostgreSQL", &pg.url, dir, sandbox).await;
            pg.drop_database().await;
            rows.push(row?);
        }
        Err(error) if given.is_none() => {
            println!("PostgreSQL skipped: {DEFAULT_POSTGRES_URL} did not answer ({error:#})");
        }
        Err(error) => return Err(error),
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
    let sandbox_stat = sandbox.pid.map(|pid| format!("/proc/{pid}/stat"));
    let sandbox_cpu_before = sandbox_stat.as_deref().and_then(cpu_time);
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
    let sandbox_cpu = sandbox_stat
        .as_deref()
        .and_then(cpu_time)
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

/// Connects the sandbox store into the database at `database_url` through the merchant path
/// (`connect --credentials-file`: every scope checked, secrets encrypted) and builds its client.
pub(crate) async fn connect_store(
    backend: &str,
    database_url: &str,
    dir: &Path,
    sandbox: &SandboxChild,
) -> Result<(Storage, StoreScope, std::sync::Arc<dyn StoreClient>)> {
    let settings = Settings {
        database_url: database_url.to_string(),
        channel_api_urls: [(
            CHANNEL,
            Url::parse(&sandbox.base_url).context("the sandbox's base URL")?,
        )]
        .into(),
        secret_key: None,
        key_file: dir.join(cenports::secrets::DEFAULT_KEY_FILE),
        sync_interval: DEFAULT_SYNC_INTERVAL,
        log: DEFAULT_LOG.to_string(),
        public_url: None,
        listen: cenports::config::DEFAULT_LISTEN
            .parse()
            .expect("a valid default"),
    };
    let storage = Storage::open(&settings.database_url)
        .await
        .with_context(|| format!("could not open the {backend} database"))?;
    let input = connect::input_from_credentials_file(BENCH_EMAIL, &sandbox.credentials)?;
    let store = connect::check_and_save(&settings, &storage, input, &mut std::io::sink()).await?;
    let scope = store.scope();
    let client = settings.channels()?.open(&storage, &store).await?;

    Ok((storage, scope, client))
}

/// `cenports bench first-order`: connect a store with a long history on a rate-limited plan and
/// time how long until the first ready-to-ship order is committed in the hub.
async fn first_order(args: FirstOrderArgs) -> Result<()> {
    let dir = BenchDir::create()?;
    let mut sandbox = SandboxChild::start(&dir.0, args.orders, args.seed, &args.plan).await?;
    println!(
        "Sandbox: child process {} at {} with {} orders ({} plan)",
        sandbox.pid.unwrap_or(0),
        sandbox.base_url,
        args.orders,
        args.plan
    );
    let result = time_first_order(&dir.0, &sandbox).await;
    sandbox.stop().await;
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
fn cpu_time(stat: &str) -> Option<Duration> {
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
fn peak_rss_kb(status: &str) -> Option<u64> {
    let text = std::fs::read_to_string(status).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resets this process's `VmHWM` to its current RSS (Linux: `5` into `clear_refs`), so that
/// each backend's peak is its own. Elsewhere the peak is the process's so far.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A temporary directory removed when the benchmark ends.
pub(crate) struct BenchDir(pub(crate) PathBuf);

impl BenchDir {
    pub(crate) fn create() -> Result<BenchDir> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path =
            std::env::temp_dir().join(format!("cenports-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("could not create {}", path.display()))?;
        Ok(BenchDir(path))
    }
}

impl Drop for BenchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The sandbox running as `cenports sandbox` in a child process.
pub(crate) struct SandboxChild {
    child: Child,
    pub(crate) pid: Option<u32>,
    pub(crate) base_url: String,
    /// The merchant-guide profile's credentials `.txt`.
    credentials: PathBuf,
}

impl SandboxChild {
    /// Starts the child and waits until it has written its credentials (the store is built).
    pub(crate) async fn start(
        dir: &Path,
        orders: usize,
        seed: u64,
        plan: &str,
    ) -> Result<SandboxChild> {
        let exe = std::env::current_exe().context("could not find the cenports executable")?;
        let credentials_dir = dir.join("credentials");
        let mut child = Command::new(exe)
            .args(["sandbox", "--port", "0", "--plan", plan])
            .arg("--orders")
            .arg(orders.to_string())
            .arg("--seed")
            .arg(seed.to_string())
            .arg("--credentials-dir")
            .arg(&credentials_dir)
            .env("CENPORTS_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("could not start `cenports sandbox` as a child process")?;
        let pid = child.id();
        let stdout = child.stdout.take().context("the sandbox's stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut base_url = None;
        while let Some(line) = lines.next_line().await? {
            if let Some(url) = line.strip_prefix("Sandbox listening on ") {
                base_url = Some(url.trim().to_string());
            }
            if line.starts_with("Credentials written to") {
                break;
            }
        }
        let Some(base_url) = base_url else {
            bail!("the sandbox child process exited before it was ready");
        };
        // Keep draining its stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(SandboxChild {
            child,
            pid,
            base_url,
            credentials: credentials_dir.join("merchant-guide.txt"),
        })
    }

    pub(crate) async fn stop(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// A database created for the benchmark on a PostgreSQL server, dropped at the end.
pub(crate) struct FreshPostgres {
    admin: PgConnectOptions,
    name: String,
    pub(crate) url: String,
}

impl FreshPostgres {
    pub(crate) async fn create(server: &str) -> Result<FreshPostgres> {
        let admin = PgConnectOptions::from_str(server).with_context(|| {
            format!(
                "{} is not a PostgreSQL URL",
                cenports::config::redacted_url(server)
            )
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(admin.clone())
            .await
            .context("could not connect")?;
        let name = format!("cenports_bench_{}", std::process::id());
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&pool)
            .await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .with_context(|| format!("could not create the database {name}"))?;
        pool.close().await;
        let mut url = Url::parse(server).context("the PostgreSQL URL")?;
        url.set_path(&name);
        Ok(FreshPostgres {
            admin,
            name,
            url: url.to_string(),
        })
    }

    pub(crate) async fn drop_database(self) {
        let Ok(pool) = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(self.admin)
            .await
        else {
            return;
        };
        let _ = sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&pool)
        .await;
        pool.close().await;
    }
}
