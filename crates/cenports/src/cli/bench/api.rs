//! `cenports bench api`: latency of the order list of the HTTP API (`docs/PERFORMANCE.md`,
//! "HTTP API: order list").
//!
//! It fills the hub the way `bench import` does — a `cenports sandbox` child process with
//! `--orders` orders (100,000 by default), connected through the merchant path and synced — then
//! serves the hub in this process ([`cenports::server::App`], polling off, on a loopback port)
//! and times `GET /api/v1/stores/{id}/orders` over real HTTP with an API key, one request at a
//! time on one keep-alive connection, so each figure is the latency of one request (routing,
//! authentication, the query, JSON) rather than a throughput under contention:
//!
//! - the first page (50 orders);
//! - deep pages: cursors taken from the last tenth of the store, found by walking every page of
//!   200 first (the walk is timed too);
//! - the same two with a filter (`fulfilment_state=shipped`, a large state);
//! - the first page of a creation range: the store's last week, and a range spanning the
//!   whole store;
//! - a search by one customer's email, which has no index and reads every order of the store.
//!
//! Each case prints p50, p99 and the number of requests. SQLite always; PostgreSQL when it
//! answers (or the global `--database-url` names a server), in a fresh database dropped at the
//! end. It is a benchmark, not a test: besides the checks that every answer is `200` with the
//! expected number of orders, nothing is asserted.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use cenports::accounts;
use cenports::config::{Overrides, Settings};
use cenports::server::{App, ServeOptions};
use cenports_harness::{SandboxChild, TempDir};
use clap::Args;
use secrecy::ExposeSecret;
use serde_json::Value;
use tokio::net::TcpListener;
use url::Url;

use super::setup::{
    connect_and_import, drop_postgres, scratch_postgres, settings, start_sandbox, BENCH_EMAIL,
};

/// Options of `cenports bench api`.
#[derive(Debug, Args)]
pub struct ApiBenchArgs {
    /// Orders in the sandbox store (all imported into the hub).
    #[arg(long, default_value_t = 100_000)]
    pub orders: usize,
    /// Timed requests per case.
    #[arg(long, default_value_t = 300)]
    pub requests: usize,
    /// Seed of the sandbox store.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Skip PostgreSQL even if a server answers.
    #[arg(long)]
    pub sqlite_only: bool,
}

/// Orders per page of the timed requests (the API's default page is 50).
const PAGE: usize = 50;
/// Orders per page of the walk that collects deep cursors (the API's maximum).
const WALK_PAGE: usize = 200;

/// One timed case.
struct Case {
    name: String,
    samples: Vec<Duration>,
}

impl Case {
    fn percentile(&self, p: usize) -> Duration {
        let mut sorted = self.samples.clone();
        sorted.sort();
        sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
    }
}

/// Runs `cenports bench api`.
pub(super) async fn run(args: ApiBenchArgs, overrides: &Overrides) -> Result<()> {
    ensure!(args.requests > 0, "--requests must be at least 1");
    let dir = TempDir::create("bench")?;
    let started = Instant::now();
    let sandbox = start_sandbox(&dir.0, args.orders, args.seed, "unlimited").await?;
    println!(
        "Sandbox: child process at {} with {} orders (unlimited plan), ready in {:.1} s",
        sandbox.base_url,
        args.orders,
        started.elapsed().as_secs_f64()
    );
    let result = run_backends(&args, overrides, &dir.0, &sandbox).await;
    drop(sandbox);
    result
}

async fn run_backends(
    args: &ApiBenchArgs,
    overrides: &Overrides,
    dir: &Path,
    sandbox: &SandboxChild,
) -> Result<()> {
    let sqlite = dir.join("cenports.db").display().to_string();
    run_backend("SQLite", &sqlite, args, dir, sandbox).await?;
    if args.sqlite_only {
        return Ok(());
    }
    let Some(db) = scratch_postgres(overrides).await? else {
        return Ok(());
    };
    let result = run_backend("PostgreSQL", db.url(), args, dir, sandbox).await;
    drop_postgres(db).await;
    result
}

async fn run_backend(
    backend: &'static str,
    database_url: &str,
    args: &ApiBenchArgs,
    dir: &Path,
    sandbox: &SandboxChild,
) -> Result<()> {
    let (storage, scope, import_took) =
        connect_and_import(backend, database_url, dir, sandbox, args.orders).await?;
    let account = storage
        .find_account_by_email(BENCH_EMAIL)
        .await?
        .context("connect made no user")?;
    let (key, _) = accounts::create_api_key(&storage, account.user.id, "bench").await?;
    let store_id = scope.store_id().get();
    let import_s = import_took.as_secs_f64();
    storage.close().await;

    // The hub as `serve --no-poll` runs it, in this process.
    let settings = Settings {
        listen: "127.0.0.1:0".parse().expect("an address"),
        ..settings(database_url, Url::parse(&sandbox.base_url)?, dir)
    };
    let mut options = ServeOptions::from_settings(&settings);
    options.poll = false;
    let app = App::build(&settings, options).await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!(
        "http://{}/api/v1/stores/{store_id}/orders",
        listener.local_addr()?
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()?;
    let auth = format!("Bearer {}", key.expose_secret());
    let get = |query: String| {
        let (http, auth, url) = (http.clone(), auth.clone(), format!("{base}?{query}"));
        async move {
            let started = Instant::now();
            let response = http
                .get(&url)
                .header(reqwest::header::AUTHORIZATION, auth)
                .send()
                .await
                .with_context(|| format!("GET {url}"))?;
            let status = response.status();
            let body: Value = response
                .json()
                .await
                .with_context(|| format!("GET {url}"))?;
            let elapsed = started.elapsed();
            if !status.is_success() {
                bail!("GET {url} answered {status}: {body}");
            }
            Ok::<_, anyhow::Error>((elapsed, body))
        }
    };

    // Walk everything (and the filtered list) once, keeping every order id as a cursor.
    let walk = |filter: &'static str| {
        let get = &get;
        async move {
            let started = Instant::now();
            let (mut ids, mut cursor, mut pages) = (Vec::new(), None::<String>, 0usize);
            loop {
                let mut query = format!("limit={WALK_PAGE}{filter}");
                if let Some(cursor) = &cursor {
                    query.push_str(&format!("&cursor={cursor}"));
                }
                let (_, body) = get(query).await?;
                pages += 1;
                for order in body["orders"].as_array().context("no orders array")? {
                    ids.push(order["id"].as_i64().context("an order without id")?);
                }
                match body["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_string()),
                    None => break,
                }
            }
            Ok::<_, anyhow::Error>((ids, pages, started.elapsed()))
        }
    };
    let (all, pages, walked) = walk("").await?;
    ensure!(
        all.len() == args.orders,
        "the walk saw {} orders",
        all.len()
    );
    const FILTER: &str = "&fulfilment_state=shipped";
    let (filtered, _, _) = walk(FILTER).await?;
    ensure!(
        filtered.len() > 10 * PAGE,
        "only {} shipped orders: too few for deep pages",
        filtered.len()
    );
    // One customer's email, from the middle of the store.
    let (_, middle) = get(format!("limit=1&cursor={}", all[all.len() / 2])).await?;
    let email = middle["orders"][0]["customer_email"]
        .as_str()
        .context("an order without an email")?
        .to_string();

    let deep = |ids: &[i64], i: usize| {
        let tail = &ids[ids.len() * 9 / 10..ids.len() - PAGE];
        tail[(i * 7919) % tail.len()]
    };
    let mut cases = Vec::new();
    let time = |name: String, queries: Vec<String>| {
        let get = &get;
        async move {
            let mut samples = Vec::with_capacity(queries.len());
            for query in queries {
                let (elapsed, body) = get(query).await?;
                ensure!(
                    !body["orders"].as_array().is_some_and(Vec::is_empty),
                    "an empty page"
                );
                samples.push(elapsed);
            }
            Ok::<_, anyhow::Error>(Case { name, samples })
        }
    };
    let n = args.requests;
    cases.push(
        time(
            format!("first page, limit {PAGE}"),
            vec![format!("limit={PAGE}"); n],
        )
        .await?,
    );
    cases.push(
        time(
            format!("deep pages (cursor in the last 10%), limit {PAGE}"),
            (0..n)
                .map(|i| format!("limit={PAGE}&cursor={}", deep(&all, i)))
                .collect(),
        )
        .await?,
    );
    cases.push(
        time(
            format!("fulfilment_state=shipped, first page, limit {PAGE}"),
            vec![format!("limit={PAGE}{FILTER}"); n],
        )
        .await?,
    );
    cases.push(
        time(
            format!("fulfilment_state=shipped, deep pages, limit {PAGE}"),
            (0..n)
                .map(|i| format!("limit={PAGE}{FILTER}&cursor={}", deep(&filtered, i)))
                .collect(),
        )
        .await?,
    );
    // Newest first (the dashboard's order): the first page, deep pages, and a filtered first page.
    let (newest_ids, _, _) = walk("&sort=newest").await?;
    ensure!(
        newest_ids.len() == args.orders,
        "the newest-first walk saw {} orders",
        newest_ids.len()
    );
    cases.push(
        time(
            format!("sort=newest, first page, limit {PAGE}"),
            vec![format!("limit={PAGE}&sort=newest"); n],
        )
        .await?,
    );
    cases.push(
        time(
            format!("sort=newest, deep pages (cursor in the last 10%), limit {PAGE}"),
            (0..n)
                .map(|i| format!("limit={PAGE}&sort=newest&cursor={}", deep(&newest_ids, i)))
                .collect(),
        )
        .await?,
    );
    cases.push(
        time(
            format!("sort=newest, fulfilment_state=shipped, first page, limit {PAGE}"),
            vec![format!("limit={PAGE}&sort=newest{FILTER}"); n],
        )
        .await?,
    );
    // Creation ranges: the store's last week (narrow, the common case) and the whole store
    // (the widest; on SQLite the costliest, docs/PERFORMANCE.md).
    let created_at = |body: &Value| -> Result<chrono::DateTime<chrono::Utc>> {
        let text = body["orders"][0]["created_at"]
            .as_str()
            .context("an order without created_at")?;
        Ok(chrono::DateTime::parse_from_rfc3339(text)?.with_timezone(&chrono::Utc))
    };
    let (_, first) = get("limit=1".to_string()).await?;
    let (_, last) = get(format!("limit=1&cursor={}", all[all.len() - 2])).await?;
    let (oldest, newest) = (created_at(&first)?, created_at(&last)?);
    let rfc3339 =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let last_week = format!(
        "&created_from={}&created_to={}",
        rfc3339(newest - chrono::Duration::days(7)),
        rfc3339(newest + chrono::Duration::seconds(1))
    );
    let whole_store = format!(
        "&created_from={}&created_to={}",
        rfc3339(oldest.min(newest) - chrono::Duration::days(365)),
        rfc3339(newest + chrono::Duration::seconds(1))
    );
    cases.push(
        time(
            format!("created in the last week of the store, first page, limit {PAGE}"),
            vec![format!("limit={PAGE}{last_week}"); n],
        )
        .await?,
    );
    cases.push(
        time(
            format!("created range spanning the whole store, first page, limit {PAGE}"),
            vec![format!("limit={PAGE}{whole_store}"); n],
        )
        .await?,
    );
    let search = url::form_urlencoded::byte_serialize(email.as_bytes()).collect::<String>();
    cases.push(
        time(
            "search one customer's email (no index: reads every order)".to_string(),
            vec![format!("limit={PAGE}&search={search}"); n.min(50)],
        )
        .await?,
    );

    let _ = stop.send(());
    server.await.context("the server task")??;

    println!();
    println!(
        "{backend}: {} orders imported in {import_s:.1} s; {} shipped; walk of every page of {WALK_PAGE}: {pages} requests in {:.2} s ({:.1} ms per page)",
        args.orders,
        filtered.len(),
        walked.as_secs_f64(),
        walked.as_secs_f64() * 1000.0 / pages as f64,
    );
    println!("| GET /api/v1/stores/{{id}}/orders | requests | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|");
    for case in &cases {
        println!(
            "| {} | {} | {:.2} | {:.2} |",
            case.name,
            case.samples.len(),
            case.percentile(50).as_secs_f64() * 1000.0,
            case.percentile(99).as_secs_f64() * 1000.0,
        );
    }
    Ok(())
}
