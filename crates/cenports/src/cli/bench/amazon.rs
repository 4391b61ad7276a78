//! `cenports bench import --channel amazon`: the first import of an Amazon seller's
//! merchant-fulfilled orders, and what it costs under Amazon's usage plans
//! (`docs/PERFORMANCE.md`, "Amazon: import under the usage plans").
//!
//! Amazon meters each operation on a token bucket (rate and burst per operation,
//! `docs/AMAZON.md`): importing 10,000 orders takes hours at Amazon's own rates. The bench does
//! not wait that long. It starts the Amazon emulator in process with `--orders` generated orders
//! and its rates multiplied by `--rate-scale` (bursts unchanged), and for each walk:
//!
//! - **hub**: the seller connected through the merchant path (`amazon-merchant.json` to the
//!   channel's check, saved encrypted into a fresh SQLite database) and the hub's first sync
//!   (`searchOrders` with `includedData`, open orders first, then the catalog);
//! - **naive**: a client written here with reqwest, the baseline: `getOrders` pages of 100, then
//!   `getOrderItems` for each order, one request at a time, waiting out a 429 at the rate
//!   Amazon reports.
//!
//! It reads the requests each walk sent from the emulator's request log and computes the time
//! the same requests, in the same order, take under Amazon's default usage plans: a client
//! sending one request at a time, each when its operation's bucket (full at the start) holds a
//! token, network time ignored. That figure is **computed from the measured requests and the
//! published rates, not waited for**; the wall time printed beside it is the run's at the
//! scaled rates. Every walk must bring each merchant-fulfilled order once (the bench fails
//! otherwise).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use amazon_sandbox::log::RequestRecord;
use amazon_sandbox::{AmazonSandbox, AmazonSandboxConfig, FulfillmentChannel, Operation};
use anyhow::{bail, ensure, Context, Result};
use cenports::channel::credentials::save_verified;
use cenports::config::Settings;
use cenports::storage::Storage;
use cenports::sync::{sync_store, SyncOptions};
use cenports_harness::TempDir;
use url::Url;

use super::import::{peak_rss_kb, reset_peak_rss, ImportArgs};
use super::setup::BENCH_EMAIL;
use crate::cli::connect;

/// One walk's row of the table.
struct Walk {
    name: &'static str,
    /// Requests by operation (429s included), from the emulator's log.
    by_operation: BTreeMap<String, u64>,
    rate_limited: u64,
    orders: usize,
    modeled: Duration,
    wall: Duration,
    peak_rss_kb: Option<u64>,
}

/// Runs `cenports bench import --channel amazon`.
pub(super) async fn run(args: &ImportArgs) -> Result<()> {
    let scale = args.rate_scale;
    ensure!(scale > 0.0, "--rate-scale must be above 0");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("could not listen on a loopback port for the Amazon emulator")?;
    let started = Instant::now();
    let sandbox = AmazonSandbox::start(
        listener,
        AmazonSandboxConfig {
            seed: args.seed,
            orders: args.orders,
            rate_scale: scale,
            // Every request of both walks stays in the log, to be replayed.
            request_log_capacity: args.orders * 3 + 10_000,
            ..AmazonSandboxConfig::default()
        },
    )
    .await
    .context("could not start the Amazon emulator")?;
    // Amazon's search ends two minutes before the request: past that horizon every generated
    // order is searchable, so each walk can be checked against the whole account.
    sandbox.advance_clock(chrono::Duration::seconds(150));
    let expected: BTreeSet<String> = sandbox
        .state()
        .account
        .read()
        .orders()
        .iter()
        .filter(|o| o.fulfillment_channel == FulfillmentChannel::Mfn)
        .map(|o| o.amazon_order_id.clone())
        .collect();
    println!(
        "Amazon emulator at {} in this process: {} orders, {} merchant-fulfilled, built in {:.1} s; \
         usage plans x{scale} (bursts as Amazon's)",
        sandbox.endpoint(),
        args.orders,
        expected.len(),
        started.elapsed().as_secs_f64()
    );
    let result = walks(&sandbox, scale, &expected).await;
    sandbox.shutdown();
    let walks = result?;
    print_table(&walks, expected.len(), scale);
    Ok(())
}

async fn walks(
    sandbox: &AmazonSandbox,
    scale: f64,
    expected: &BTreeSet<String>,
) -> Result<Vec<Walk>> {
    let hub = hub_walk(sandbox, scale, expected)
        .await
        .context("the hub's walk")?;
    let naive = naive_walk(sandbox, scale, expected)
        .await
        .context("the naive walk")?;
    Ok(vec![hub, naive])
}

/// The last sequence number of the emulator's log.
fn last_seq(sandbox: &AmazonSandbox) -> u64 {
    sandbox
        .state()
        .log
        .lock()
        .since(0)
        .last()
        .map_or(0, |r| r.seq)
}

/// The hub: connect through the merchant path, then its first sync.
async fn hub_walk(
    sandbox: &AmazonSandbox,
    scale: f64,
    expected: &BTreeSet<String>,
) -> Result<Walk> {
    let dir = TempDir::create("bench-amazon")?;
    let database_url = dir.0.join("cenports.db").display().to_string();
    let mut settings = Settings::local(
        &database_url,
        dir.0.join(cenports::secrets::DEFAULT_KEY_FILE),
    );
    let url = Url::parse(sandbox.endpoint()).context("the emulator's address")?;
    settings
        .channel_api_urls
        .insert(cenports::channel::amazon::CHANNEL, url.clone());
    settings
        .channel_api_urls
        .insert(cenports::channel::amazon::AUTH_URL_NAME, url);
    let storage = Storage::open(&settings.database_url)
        .await
        .context("could not open the bench's SQLite database")?;
    let file = sandbox
        .write_credentials(&dir.0)
        .context("could not write amazon-merchant.json")?;
    let channels = settings.channels()?;
    let channel = channels
        .get(cenports::channel::amazon::CHANNEL)
        .context("the hub has no Amazon channel")?
        .clone();
    let verified =
        connect::check_credentials_file(channel.as_ref(), BENCH_EMAIL, &file, &mut std::io::sink())
            .await?;
    let record = save_verified(&storage, channels.secret_box(), &verified).await?;
    let scope = record.scope();
    let client = channels.open(&storage, &record).await?;

    // Full buckets for the walk: the connect probes' tokens are given back.
    sandbox.set_rate_scale(scale);
    let from = last_seq(sandbox);
    reset_peak_rss();
    let started = Instant::now();
    sync_store(
        &storage,
        &scope,
        client.as_ref(),
        &SyncOptions::default(),
        |_| {},
    )
    .await
    .context("the hub's first sync failed")?;
    let wall = started.elapsed();
    let peak_rss_kb = peak_rss_kb("/proc/self/status");
    let records = sandbox.state().log.lock().since(from);

    let orders = storage.count_orders(&scope).await?;
    let mut missing = Vec::new();
    for id in expected {
        if storage.find_order_by_remote_id(&scope, id).await?.is_none() {
            missing.push(id.clone());
        }
    }
    storage.close().await;
    ensure!(
        missing.is_empty(),
        "the hub lacks {} merchant-fulfilled order(s), e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    // Upserts by (store, order id) make a duplicate row impossible; an extra one would be an
    // order that is not merchant-fulfilled.
    ensure!(
        orders as usize == expected.len(),
        "the hub holds {orders} orders, the emulator {} merchant-fulfilled ones",
        expected.len()
    );
    Ok(walk(
        "hub: searchOrders + includedData",
        &records,
        orders as usize,
        wall,
        peak_rss_kb,
    ))
}

/// The baseline: `getOrders`, then `getOrderItems` per order, one request at a time.
async fn naive_walk(
    sandbox: &AmazonSandbox,
    scale: f64,
    expected: &BTreeSet<String>,
) -> Result<Walk> {
    let credentials = sandbox.credentials();
    let http = reqwest::Client::new();
    sandbox.set_rate_scale(scale);
    let from = last_seq(sandbox);
    let started = Instant::now();
    let token: serde_json::Value = http
        .post(&credentials.auth_endpoint)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", credentials.refresh_token.as_str()),
            ("client_id", credentials.client_id.as_str()),
            ("client_secret", credentials.client_secret.as_str()),
        ])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = token["access_token"]
        .as_str()
        .context("Login with Amazon answered no access token")?
        .to_owned();
    let base = credentials.endpoint.trim_end_matches('/');
    let get = |path: String, query: Vec<(&'static str, String)>| {
        let request = http
            .get(format!("{base}{path}"))
            .header("x-amz-access-token", &token)
            .query(&query);
        send_paced(request)
    };

    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut duplicates = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut query = vec![("MarketplaceIds", credentials.marketplace_id.clone())];
        match &next {
            Some(token) => query.push(("NextToken", token.clone())),
            None => {
                query.push(("LastUpdatedAfter", "2015-01-01T00:00:00Z".to_owned()));
                query.push(("FulfillmentChannels", "MFN".to_owned()));
            }
        }
        let page = get("/orders/v0/orders".to_owned(), query).await?;
        let orders = page["payload"]["Orders"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for order in &orders {
            let id = order["AmazonOrderId"]
                .as_str()
                .context("an order without AmazonOrderId")?
                .to_owned();
            let mut items_next: Option<String> = None;
            loop {
                let query = items_next
                    .iter()
                    .map(|t| ("NextToken", t.clone()))
                    .collect();
                let items = get(format!("/orders/v0/orders/{id}/orderItems"), query).await?;
                items_next = items["payload"]["NextToken"].as_str().map(str::to_owned);
                if items_next.is_none() {
                    break;
                }
            }
            if !seen.insert(id.clone()) {
                duplicates.push(id);
            }
        }
        next = page["payload"]["NextToken"].as_str().map(str::to_owned);
        if next.is_none() {
            break;
        }
    }
    let wall = started.elapsed();
    let records = sandbox.state().log.lock().since(from);
    ensure!(
        duplicates.is_empty(),
        "the naive walk listed {} order(s) twice, e.g. {:?}",
        duplicates.len(),
        &duplicates[..duplicates.len().min(5)]
    );
    let missing: Vec<&String> = expected.difference(&seen).collect();
    ensure!(
        missing.is_empty(),
        "the naive walk lacks {} merchant-fulfilled order(s), e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    ensure!(
        seen.len() == expected.len(),
        "the naive walk listed {} orders, the emulator has {} merchant-fulfilled ones",
        seen.len(),
        expected.len()
    );
    Ok(walk(
        "naive: getOrders + getOrderItems",
        &records,
        seen.len(),
        wall,
        None,
    ))
}

/// Sends a GET; on a 429 waits one token's time at the rate Amazon reports
/// (`x-amzn-RateLimit-Limit`) and sends it again.
async fn send_paced(request: reqwest::RequestBuilder) -> Result<serde_json::Value> {
    loop {
        let answer = request
            .try_clone()
            .context("a GET can be cloned")?
            .send()
            .await?;
        if answer.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let rate: f64 = answer
                .headers()
                .get("x-amzn-RateLimit-Limit")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .filter(|r: &f64| *r > 0.0)
                .unwrap_or(1.0);
            tokio::time::sleep(Duration::from_secs_f64(1.0 / rate)).await;
            continue;
        }
        if !answer.status().is_success() {
            let status = answer.status();
            let body = answer.text().await.unwrap_or_default();
            bail!("the emulator answered {status}: {body}");
        }
        return Ok(answer.json().await?);
    }
}

fn walk(
    name: &'static str,
    records: &[RequestRecord],
    orders: usize,
    wall: Duration,
    peak_rss_kb: Option<u64>,
) -> Walk {
    let mut by_operation = BTreeMap::new();
    for record in records {
        let operation = record
            .operation
            .clone()
            .unwrap_or_else(|| "Login with Amazon".to_owned());
        *by_operation.entry(operation).or_default() += 1;
    }
    Walk {
        name,
        by_operation,
        rate_limited: records.iter().filter(|r| r.status == 429).count() as u64,
        orders,
        modeled: modeled_time(records),
        wall,
        peak_rss_kb,
    }
}

/// The time `records` take under Amazon's default usage plans: sent one at a time in the order
/// they were sent, each when its operation's bucket (full at the start, refilled at the plan's
/// rate up to its burst) holds a token; network and server time are not counted. A 429 took
/// no token at Amazon and is left out (its resend is in the log); Login with Amazon is not
/// metered.
fn modeled_time(records: &[RequestRecord]) -> Duration {
    let plans: BTreeMap<&str, (f64, f64)> = Operation::ALL
        .iter()
        .map(|op| {
            let (rate, burst) = op.usage_plan();
            (op.name(), (rate, f64::from(burst)))
        })
        .collect();
    // Per operation: (tokens, at the time).
    let mut buckets: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    let mut now = 0.0f64;
    for record in records.iter().filter(|r| r.status != 429) {
        let Some(operation) = record.operation.as_deref() else {
            continue;
        };
        let Some(&(rate, burst)) = plans.get(operation) else {
            continue;
        };
        let (tokens, at) = buckets.entry(operation).or_insert((burst, 0.0));
        let mut available = (*tokens + (now - *at) * rate).min(burst);
        if available < 1.0 {
            now += (1.0 - available) / rate;
            available = 1.0;
        }
        *tokens = available - 1.0;
        *at = now;
    }
    Duration::from_secs_f64(now)
}

fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs >= 3600 {
        format!("{} h {:02} min", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{} min {:02} s", secs / 60, secs % 60)
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

fn print_table(walks: &[Walk], expected: usize, scale: f64) {
    println!();
    println!(
        "| walk | requests (by operation) | orders imported | modeled time at Amazon's default \
         rates | measured wall time at x{scale} | hub peak RSS |"
    );
    println!("|---|---|---|---|---|---|");
    for walk in walks {
        let total: u64 = walk.by_operation.values().sum();
        let ops: Vec<String> = walk
            .by_operation
            .iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect();
        println!(
            "| {} | {total}: {}{} | {} of {expected} | {} | {:.1} s | {} |",
            walk.name,
            ops.join(", "),
            if walk.rate_limited > 0 {
                format!(" ({} answered 429, resent)", walk.rate_limited)
            } else {
                String::new()
            },
            walk.orders,
            human(walk.modeled),
            walk.wall.as_secs_f64(),
            walk.peak_rss_kb.map_or_else(
                || "n/a (not the hub)".to_owned(),
                |kb| format!("{:.0} MB", kb as f64 / 1024.0)
            ),
        );
    }
    println!();
    println!(
        "The modeled time is computed from the requests counted at the emulator and Amazon's \
         published rates and bursts (one request at a time, buckets full at the start, network \
         time not counted); it was not waited for. The wall time is this run's, at rates x{scale}."
    );
    println!(
        "Every merchant-fulfilled order arrived once in each walk ({expected}). The hub's peak \
         RSS is this process's (the emulator runs in it, its account built before the peak is \
         reset)."
    );
}
