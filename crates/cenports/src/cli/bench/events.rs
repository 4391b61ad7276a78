//! `cenports bench events`: what events for the warehouse's systems cost an import, how fast
//! the dispatcher delivers them, and how it rides out an outage (`docs/PERFORMANCE.md`,
//! "Events"; `docs/EVENTS.md`).
//!
//! For each backend (SQLite always; PostgreSQL when `--database-url` names a server or
//! `postgres://postgres@127.0.0.1:5432` answers), each part in a fresh database:
//!
//! 1. **Cost on the import.** `--orders` orders (20,000) are saved with [`Storage::save_page`]
//!    in pages of 250, with a checkpoint, as an import saves them, three times, each into a
//!    fresh database: all shipped (no event: the baseline), all ready with no subscription
//!    (one `order.ready` event each), all ready with two subscriptions of the store's owner
//!    (one event and two pending deliveries each). The orders are built before the clocks
//!    start (8 pages at a time); the wall time and this process's CPU (utime + stime,
//!    `/proc/self/stat`) cover the saves only, and on PostgreSQL the CPU of the database's
//!    server processes serving this database (`pg_stat_activity`, `/proc/PID/stat`) too.
//! 2. **Delivery.** A receiver inside the bench (axum on 127.0.0.1:0) verifies every delivery
//!    with the `standardwebhooks` crate and the subscription's secret (as
//!    [`events::subscribe`] gave it) and records the event id, the order and the arrival time.
//!    [`dispatcher::run`] runs with its defaults (16 in flight, a look every 250 ms when idle):
//!    - *backlog*: the two-subscription import's deliveries, plus three later versions (on
//!      hold, ready, cancelled) of every 20th order, all pending when the dispatcher starts;
//!    - *live*: the dispatcher runs on an empty queue while pages of 20 new ready orders are
//!      saved at `--live-rate` orders/s, every 5th order following with an on-hold, a ready
//!      and a cancelled version in the next three pages;
//!    - *slow receiver* (only with `--receiver-latency MS`): a backlog of `--burst-orders`
//!      answered after MS each, to show the 16 in flight;
//!    - *outage*: the receiver answers 503 for `--down` seconds while `--outage-orders` orders
//!      (with follow-ups as in *live*) are saved, then recovers.
//!
//!    Latency is arrival − the event's `created_at` (taken in the saving transaction, before
//!    its commit). Every scenario checks that every event of the database reached each
//!    subscription exactly once, that the events of one order reached it in order, that no
//!    signature failed, that no more than 16 requests were in flight, and that the database
//!    holds no pending or failed delivery afterwards. The outage also checks the documented
//!    back-off: attempts during the outage bounded by one round (16 in flight at most) per
//!    pause of 1 s, 2 s, 4 s, …, and the catch-up within the pause in effect at recovery plus
//!    the time to drain the queue at the backlog's rate.
//!
//! Every figure is measured; a violated check fails the bench (non-zero exit) after the
//! tables are printed.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use cenports::config::Overrides;
use cenports::events::dispatcher::{self, DispatchReport, DispatcherConfig};
use cenports::events::{self, Destinations};
use cenports::secrets::SecretBox;
use cenports::storage::{
    backoff, AddressKind, Checkpoint, EventCursor, FulfilmentState, NewOrderAddress, NewOrderLine,
    NewOrderRecord, NewStore, Storage, StoreCredentials, StoreProfile, StoreScope, UserId,
    STREAM_ORDERS,
};
use cenports_harness::{ScratchPostgres, TempDir};
use chrono::{DateTime, TimeZone, Utc};
use clap::Args;
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use super::import::{cpu_time, peak_rss_kb, reset_peak_rss};
use super::setup::{drop_postgres, scratch_postgres, BENCH_EMAIL};

/// Why a backend's later scenarios did not run: an earlier one left deliveries pending.
const SKIPPED: &str = "the scenarios after one that did not deliver everything were skipped";
/// Orders per page, as an import saves them.
const PAGE: usize = 250;
/// Pages built before each timed stretch of saves.
const PAGES_PER_BATCH: usize = 8;
/// Subscriptions of the store's owner in the import with subscriptions and in every delivery
/// scenario.
const SUBSCRIPTIONS: usize = 2;
/// Deliveries in flight at once: the dispatcher's default, which the receiver checks.
const IN_FLIGHT: u64 = 16;
/// How often a scenario waiting for its deliveries prints how far it got.
const PROGRESS_EVERY: Duration = Duration::from_secs(30);
/// Orders per page in the live and outage feeds.
const LIVE_PAGE: usize = 20;

/// Options of `cenports bench events`.
#[derive(Debug, Args)]
pub struct EventsBenchArgs {
    /// Orders saved by each import (in pages of 250).
    #[arg(long, default_value_t = 20_000)]
    pub orders: usize,
    /// New orders in the live scenario.
    #[arg(long, default_value_t = 2_000)]
    pub live_orders: usize,
    /// New orders per second in the live scenario (pages of 20).
    #[arg(long, default_value_t = 100.0)]
    pub live_rate: f64,
    /// The receiver sleeps this many milliseconds before each answer, in an extra scenario
    /// (a backlog of --burst-orders): shows the 16 deliveries in flight.
    #[arg(long, value_name = "MS")]
    pub receiver_latency: Option<u64>,
    /// Orders of the slow-receiver scenario's backlog.
    #[arg(long, default_value_t = 2_000)]
    pub burst_orders: usize,
    /// Seconds the receiver answers 503 in the outage scenario.
    #[arg(long, default_value_t = 10)]
    pub down: u64,
    /// New orders saved during the outage (spread over it, pages of 20).
    #[arg(long, default_value_t = 2_000)]
    pub outage_orders: usize,
    /// How long a scenario may wait for its last delivery before it fails.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = crate::cli::serve::parse_positive)]
    pub timeout: Duration,
    /// Skip PostgreSQL even if a server answers.
    #[arg(long)]
    pub sqlite_only: bool,
}

/// Runs `cenports bench events`.
pub(super) async fn run(args: EventsBenchArgs, overrides: &Overrides) -> Result<()> {
    ensure!(
        args.orders >= 20 && args.live_orders > 0 && args.outage_orders > 0,
        "--orders (at least 20), --live-orders and --outage-orders must be positive"
    );
    ensure!(
        args.live_rate.is_finite() && args.live_rate > 0.0,
        "--live-rate must be positive"
    );
    ensure!(args.down > 0, "--down must be positive");
    let dir = TempDir::create("bench-events")?;
    let receiver = Receiver::start().await?;
    let mut imports = Vec::new();
    let mut deliveries = Vec::new();
    let mut failures = Vec::new();

    let mut backends: Vec<&'static str> = vec!["SQLite"];
    if !args.sqlite_only {
        backends.push("PostgreSQL");
    }
    for backend in backends {
        let result = run_backend(
            backend,
            &dir,
            overrides,
            &args,
            &receiver,
            &mut imports,
            &mut deliveries,
            &mut failures,
        )
        .await;
        match result {
            Ok(true) => {}
            Ok(false) => break, // no PostgreSQL here (said so)
            Err(error) => failures.push(format!("{backend}: {error:#}")),
        }
    }

    print_tables(&args, &imports, &deliveries);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at the end (/proc/loadavg): {}", load.trim());
    if !failures.is_empty() {
        println!();
        println!("FAILED checks:");
        for failure in &failures {
            println!("- {failure}");
        }
        bail!("{} check(s) of the events bench failed", failures.len());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Databases.

/// A fresh database of one backend, with the bench's user and store.
struct Db {
    storage: Storage,
    scratch: Option<ScratchPostgres>,
    /// On PostgreSQL: a connection of the bench's own, to read the server processes' CPU.
    monitor: Option<sqlx::PgPool>,
    user: UserId,
    scope: StoreScope,
    /// Where the feed was read to (the events already checked).
    cursor: Option<EventCursor>,
}

impl Db {
    /// A fresh database (`None`: PostgreSQL is not available, and it was said).
    async fn create(
        backend: &str,
        dir: &Path,
        name: &str,
        overrides: &Overrides,
    ) -> Result<Option<Db>> {
        let (url, scratch) = if backend == "SQLite" {
            let path = dir.join(format!("{name}.db"));
            (format!("sqlite://{}", path.display()), None)
        } else {
            let Some(db) = scratch_postgres(overrides).await? else {
                return Ok(None);
            };
            (db.url().to_owned(), Some(db))
        };
        let storage = Storage::open(&url)
            .await
            .with_context(|| format!("could not open the {backend} database"))?;
        let monitor = match &scratch {
            Some(_) => Some(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&url)
                    .await
                    .context("the monitoring connection to PostgreSQL")?,
            ),
            None => None,
        };
        let user = storage.create_user(BENCH_EMAIL).await?;
        let store = storage.save_store(user.id, &new_store()).await?;
        Ok(Some(Db {
            storage,
            scratch,
            monitor,
            user: user.id,
            scope: store.scope(),
            cursor: None,
        }))
    }

    async fn close(self) {
        if let Some(monitor) = self.monitor {
            monitor.close().await;
        }
        self.storage.close().await;
        if let Some(db) = self.scratch {
            drop_postgres(db).await;
        }
    }

    /// CPU so far of the PostgreSQL server processes serving this database (not the bench's
    /// monitoring connection), by pid. Empty on SQLite (it runs inside this process).
    async fn server_cpu(&self) -> Result<HashMap<i32, Duration>> {
        let Some(monitor) = &self.monitor else {
            return Ok(HashMap::new());
        };
        let pids: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid()",
        )
        .fetch_all(monitor)
        .await?;
        Ok(pids
            .into_iter()
            .filter_map(|pid| Some((pid, cpu_time(&format!("/proc/{pid}/stat"))?)))
            .collect())
    }

    /// The events recorded since the last call, with their time and order number.
    async fn new_events(&mut self) -> Result<Vec<EventSeen>> {
        let mut seen = Vec::new();
        loop {
            let page = self.storage.events_after(None, self.cursor, 1000).await?;
            let Some(last) = page.last() else {
                return Ok(seen);
            };
            self.cursor = Some(last.cursor);
            for event in page {
                let number = event.data["order"]["number"]
                    .as_str()
                    .context("an order event names its order's number")?
                    .to_owned();
                seen.push(EventSeen {
                    id: event.id,
                    created_at: event.created_at,
                    number,
                });
            }
        }
    }
}

/// One event as the database lists it.
struct EventSeen {
    id: i64,
    created_at: DateTime<Utc>,
    number: String,
}

fn new_store() -> NewStore {
    let sealed = || cenports::storage::EncryptedSecret {
        ciphertext: vec![0; 32],
        nonce: vec![0; 12],
    };
    NewStore {
        channel: cenports::channel::bigcommerce::CHANNEL.into(),
        remote_id: "benchevents".into(),
        api_base_url: "https://api.bigcommerce.com".into(),
        profile: StoreProfile {
            name: "Events bench".into(),
            domain: "events-bench.example.com".into(),
            currency: "USD".into(),
            timezone: "America/Chicago".into(),
            weight_units: "LB".into(),
            dimension_units: "Inches".into(),
            plan: "Standard".into(),
        },
        credentials: StoreCredentials {
            client_id: "bench-client".into(),
            client_secret: sealed(),
            access_token: sealed(),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Orders.

/// The status a version of an order is in, by our state (BigCommerce's ids and names).
fn status(state: FulfilmentState) -> (&'static str, &'static str) {
    match state {
        FulfilmentState::Ready => ("11", "Awaiting Fulfillment"),
        FulfilmentState::OnHold => ("12", "Manual Verification Required"),
        FulfilmentState::Cancelled => ("5", "Cancelled"),
        _ => ("10", "Completed"),
    }
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).expect("a decimal literal")
}

/// Version `version` of order `number` in `state`: three lines, a billing and a shipping
/// address, and the channel's JSON of about 2 kB, as `tests/it/storage_contract.rs` shapes
/// them. Each version is a minute newer than the one before.
fn order(number: u64, state: FulfilmentState, version: i64) -> NewOrderRecord {
    let remote_id = number.to_string();
    let created = Utc
        .timestamp_opt(1_760_000_000 + number as i64 * 7, 0)
        .single()
        .expect("a valid time");
    let modified = created + chrono::Duration::minutes(version);
    let (status_code, status_name) = status(state);
    let address = |kind: AddressKind, remote_id: Option<String>| NewOrderAddress {
        kind,
        remote_id,
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        company: String::new(),
        street_1: format!("{} Analytical Way", number % 900 + 1),
        street_2: String::new(),
        city: "Austin".into(),
        state: "Texas".into(),
        zip: "78701".into(),
        country_iso2: "US".into(),
        email: format!("shopper{number}@example.com"),
        phone: "555-0100".into(),
        shipping_method: (kind == AddressKind::Shipping).then(|| "Free Shipping".into()),
    };
    let lines: Vec<NewOrderLine> = (0..3)
        .map(|i| NewOrderLine {
            remote_id: format!("{remote_id}{i:02}"),
            product_id: Some((77 + i).to_string()),
            variant_id: Some((700 + i).to_string()),
            sku: format!("SKU-{}", (number + i) % 500),
            name: format!("Widget {i}"),
            quantity: 1 + i as i32,
            quantity_shipped: 0,
            price: dec("10.0000"),
            address_remote_id: Some(format!("{remote_id}0")),
        })
        .collect();
    let email = format!("shopper{number}@example.com");
    let link = |what: &str| {
        json!({
            "url": format!("https://api.bigcommerce.com/stores/benchevents/v2/orders/{number}/{what}"),
            "resource": format!("/orders/{number}/{what}"),
        })
    };
    let mut raw = json!({
        "id": number, "customer_id": 42, "status_id": status_code.parse::<u32>().unwrap_or(0),
        "status": status_name, "date_created": created.to_rfc2822(),
        "date_modified": modified.to_rfc2822(), "subtotal_ex_tax": "30.0000",
        "subtotal_inc_tax": "32.4750", "subtotal_tax": "2.4750", "base_shipping_cost": "0.0000",
        "shipping_cost_ex_tax": "0.0000", "shipping_cost_inc_tax": "0.0000",
    });
    let more = [
        json!({
            "total_ex_tax": "30.0000", "total_inc_tax": "32.4750", "total_tax": "2.4750",
            "items_total": 6, "items_shipped": 0, "payment_method": "Credit Card",
            "payment_provider_id": format!("ch_{number:016}"), "payment_status": "captured",
            "refunded_amount": "0.0000", "store_credit_amount": "0.0000",
        }),
        json!({
            "gift_certificate_amount": "0.0000", "currency_code": "USD",
            "currency_exchange_rate": "1.0000000000", "default_currency_code": "USD",
            "ip_address": "203.0.113.7", "geoip_country": "United States",
            "geoip_country_iso2": "US", "staff_notes": "", "customer_message": "",
            "discount_amount": "0.0000", "coupon_discount": "0.0000",
        }),
        json!({
            "shipping_address_count": 1, "is_deleted": false, "order_source": "www",
            "channel_id": 1, "external_source": null, "products": link("products"),
            "shipping_addresses": link("shipping_addresses"), "coupons": link("coupons"),
        }),
        json!({
            "billing_address": {
                "first_name": "Ada", "last_name": "Lovelace", "company": "",
                "street_1": "1 Analytical Way", "street_2": "", "city": "Austin",
                "state": "Texas", "zip": "78701", "country": "United States",
                "country_iso2": "US", "phone": "555-0100", "email": email,
                "form_fields": [],
            }
        }),
    ];
    if let Value::Object(map) = &mut raw {
        for part in more {
            if let Value::Object(part) = part {
                map.extend(part);
            }
        }
    }
    NewOrderRecord {
        remote_id: remote_id.clone(),
        status_code: status_code.into(),
        status_name: status_name.into(),
        fulfilment_state: state,
        customer_id: Some("42".into()),
        email: Some(format!("shopper{number}@example.com")),
        currency: "USD".into(),
        subtotal: dec("30.0000"),
        total: dec("32.4750"),
        tax: dec("2.4750"),
        payment_method: Some("Credit Card".into()),
        payment_status: Some("captured".into()),
        date_created: created,
        date_modified: modified,
        is_deleted: false,
        raw_json: raw.to_string(),
        lines,
        addresses: vec![
            address(AddressKind::Billing, None),
            address(AddressKind::Shipping, Some(format!("{remote_id}0"))),
        ],
    }
}

/// Saves one page as an import does (with its checkpoint) and checks every order was written.
async fn save(db: &Db, page: &[NewOrderRecord]) -> Result<()> {
    let checkpoint = Checkpoint {
        stream: STREAM_ORDERS.into(),
        window_start: None,
        window_end: Some(Utc::now()),
        cursor: page.last().map(|o| o.remote_id.clone()),
        completed_at: None,
    };
    let outcome = db
        .storage
        .save_page(&db.scope, page, Some(&checkpoint))
        .await?;
    ensure!(
        (outcome.inserted + outcome.updated) as usize == page.len(),
        "a page of {} orders wrote {} of them ({outcome:?})",
        page.len(),
        outcome.inserted + outcome.updated
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Part 1: the cost on the import.

/// One import's figures.
struct ImportRow {
    backend: &'static str,
    variant: &'static str,
    orders: usize,
    wall: Duration,
    cpu: Option<Duration>,
    server_cpu: Option<Duration>,
    events: usize,
    deliveries: i64,
    peak_rss_kb: Option<u64>,
}

/// Saves `count` new orders numbered from `first`, in `state`, timed.
async fn timed_import(
    db: &Db,
    backend: &'static str,
    variant: &'static str,
    first: u64,
    count: usize,
    state: FulfilmentState,
) -> Result<ImportRow> {
    reset_peak_rss();
    let mut wall = Duration::ZERO;
    let mut cpu = Some(Duration::ZERO);
    let mut server_cpu = db.monitor.as_ref().map(|_| Duration::ZERO);
    let numbers: Vec<u64> = (first..first + count as u64).collect();
    for batch in numbers.chunks(PAGE * PAGES_PER_BATCH) {
        let pages: Vec<Vec<NewOrderRecord>> = batch
            .chunks(PAGE)
            .map(|page| page.iter().map(|n| order(*n, state, 0)).collect())
            .collect();
        let server_before = db.server_cpu().await?;
        let cpu_before = cpu_time("/proc/self/stat");
        let started = Instant::now();
        for page in &pages {
            save(db, page).await?;
        }
        wall += started.elapsed();
        let cpu_after = cpu_time("/proc/self/stat");
        cpu = match (cpu, cpu_before, cpu_after) {
            (Some(sum), Some(before), Some(after)) => Some(sum + after.saturating_sub(before)),
            _ => None,
        };
        if let Some(sum) = server_cpu.as_mut() {
            let after = db.server_cpu().await?;
            for (pid, spent) in after {
                *sum += spent.saturating_sub(server_before.get(&pid).copied().unwrap_or_default());
            }
        }
    }
    let peak_rss_kb = peak_rss_kb("/proc/self/status");
    let counts = db.storage.delivery_counts().await?;
    Ok(ImportRow {
        backend,
        variant,
        orders: count,
        wall,
        cpu,
        server_cpu,
        events: 0, // counted by the caller, which reads the feed
        deliveries: counts.pending + counts.delivered + counts.failed,
        peak_rss_kb,
    })
}

// ---------------------------------------------------------------------------------------------
// The receiver.

/// One delivery the receiver took.
#[derive(Debug, Clone)]
struct Arrival {
    subscription: usize,
    event_id: i64,
    number: String,
    at: DateTime<Utc>,
}

#[derive(Default)]
struct ReceiverState {
    /// The signing secrets of the subscriptions, by the index in their URL (`/hook/{n}`).
    webhooks: Mutex<HashMap<usize, Arc<standardwebhooks::Webhook>>>,
    arrivals: Mutex<Vec<Arrival>>,
    /// Deliveries taken so far (arrivals' length, without the lock).
    taken: AtomicU64,
    /// Answers 503 while false.
    up: AtomicBool,
    /// Requests answered 503.
    refused: AtomicU64,
    /// Requests whose signature or body did not verify (must stay 0).
    forged: AtomicU64,
    /// Milliseconds to sleep before answering.
    latency_ms: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

#[derive(Clone)]
struct Receiver {
    state: Arc<ReceiverState>,
    base: String,
}

impl Receiver {
    async fn start() -> Result<Receiver> {
        let state = Arc::new(ReceiverState::default());
        state.up.store(true, Ordering::SeqCst);
        let app = axum::Router::new()
            .route("/hook/{subscription}", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Receiver { state, base })
    }

    /// Forgets what came before a scenario.
    fn reset(&self) {
        let s = &self.state;
        s.arrivals.lock().expect("not poisoned").clear();
        for counter in [&s.taken, &s.refused, &s.forged, &s.max_in_flight] {
            counter.store(0, Ordering::SeqCst);
        }
    }
}

/// Decrements the in-flight count however the handler returns.
struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn receive(
    State(s): State<Arc<ReceiverState>>,
    UrlPath(subscription): UrlPath<usize>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let now_in_flight = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = InFlight(&s.in_flight);
    s.max_in_flight.fetch_max(now_in_flight, Ordering::SeqCst);
    let latency = s.latency_ms.load(Ordering::SeqCst);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if !s.up.load(Ordering::SeqCst) {
        s.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let webhook = s
        .webhooks
        .lock()
        .expect("not poisoned")
        .get(&subscription)
        .cloned();
    let verified = webhook.is_some_and(|w| w.verify(&body, &headers).is_ok());
    let event: Option<Value> = serde_json::from_slice(&body).ok();
    let parsed = event.as_ref().and_then(|event| {
        let id = event["id"].as_str()?;
        (headers.get("webhook-id")?.to_str().ok()? == id).then_some(())?;
        Some((
            id.strip_prefix("evt_")?.parse::<i64>().ok()?,
            event["data"]["order"]["number"].as_str()?.to_owned(),
        ))
    });
    let (true, Some((event_id, number))) = (verified, parsed) else {
        s.forged.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    };
    s.arrivals.lock().expect("not poisoned").push(Arrival {
        subscription,
        event_id,
        number,
        at: Utc::now(),
    });
    s.taken.fetch_add(1, Ordering::SeqCst);
    StatusCode::NO_CONTENT
}

// ---------------------------------------------------------------------------------------------
// Part 2 and 3: delivery.

/// One delivery scenario's figures.
struct DeliveryRow {
    backend: &'static str,
    scenario: String,
    events: usize,
    deliveries: usize,
    /// Deliveries per second, from the dispatcher's start to the last arrival.
    rate: f64,
    /// Deliveries per second over the first and the last quarter of the arrivals.
    quarters: (f64, f64),
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    duplicates: usize,
    out_of_order: usize,
    missing: usize,
    max_in_flight: u64,
    /// The outage: requests during it, and from recovery to the last delivery.
    outage: Option<(u64, Option<Duration>)>,
    peak_rss_kb: Option<u64>,
}

/// A running dispatcher with its stop switch.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<DispatchReport>,
    started: Instant,
    started_at: DateTime<Utc>,
}

fn start_dispatcher(db: &Db, secret_box: &Arc<SecretBox>) -> Running {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = DispatcherConfig::new("bench-events", Destinations::default());
    let task = tokio::spawn(dispatcher::run(
        db.storage.clone(),
        secret_box.clone(),
        config,
        async {
            let _ = stopped.await;
        },
    ));
    Running {
        stop,
        task,
        started: Instant::now(),
        started_at: Utc::now(),
    }
}

/// Saves `count` new ready orders numbered from `first` at `rate` orders a second, in pages of
/// 20; every 5th order follows in the next three pages as on hold, ready again and cancelled
/// (four events, each about a page's interval after the one before). Returns the orders
/// written (versions).
async fn feed(db: &Db, first: u64, count: usize, rate: f64) -> Result<usize> {
    let pages = count.div_ceil(LIVE_PAGE);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(LIVE_PAGE as f64 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let page_numbers = |k: usize| -> Vec<u64> {
        let start = k * LIVE_PAGE;
        let end = ((k + 1) * LIVE_PAGE).min(count);
        (start..end).map(|i| first + i as u64).collect()
    };
    let mut written = 0;
    for k in 0..pages + 3 {
        ticker.tick().await;
        let mut page = Vec::new();
        if k < pages {
            page.extend(
                page_numbers(k)
                    .into_iter()
                    .map(|n| order(n, FulfilmentState::Ready, 0)),
            );
        }
        for (step, state) in [
            (1, FulfilmentState::OnHold),
            (2, FulfilmentState::Ready),
            (3, FulfilmentState::Cancelled),
        ] {
            if k >= step && k - step < pages {
                page.extend(
                    page_numbers(k - step)
                        .into_iter()
                        .filter(|n| (n - first).is_multiple_of(5))
                        .map(|n| order(n, state, step as i64)),
                );
            }
        }
        save(db, &page).await?;
        written += page.len();
    }
    Ok(written)
}

/// What one scenario needs besides the database.
struct Scenario<'a> {
    name: String,
    receiver: &'a Receiver,
    timeout: Duration,
    /// Deliveries recorded in the database before it (all delivered).
    delivered_before: i64,
}

/// Waits until every delivery of `events` reached the receiver (or the deadline passed, or a
/// forged delivery came), then until the database holds none pending; stops the dispatcher.
/// Returns its report and when the last arrival came.
async fn drain(
    db: &Db,
    scenario: &Scenario<'_>,
    running: Running,
    expected: usize,
    deadline: Instant,
) -> Result<(DispatchReport, bool)> {
    let state = &scenario.receiver.state;
    let mut complete = false;
    let mut progress = (Instant::now(), 0u64);
    while Instant::now() < deadline {
        if progress.0.elapsed() >= PROGRESS_EVERY {
            let taken = state.taken.load(Ordering::SeqCst);
            println!(
                "  {}: {taken} of {expected} delivered, {:.0}/s over the last {} s",
                scenario.name,
                (taken - progress.1) as f64 / progress.0.elapsed().as_secs_f64(),
                PROGRESS_EVERY.as_secs()
            );
            progress = (Instant::now(), taken);
        }
        if state.forged.load(Ordering::SeqCst) > 0 {
            break;
        }
        if state.taken.load(Ordering::SeqCst) as usize >= expected {
            // The receiver has them; wait for the dispatcher to record the last answers.
            let settle = Instant::now() + Duration::from_secs(30);
            while Instant::now() < settle {
                let counts = db.storage.delivery_counts().await?;
                if counts.pending == 0 {
                    complete = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = running.stop.send(());
    let report = running.task.await.context("the dispatcher's task")?;
    Ok((report, complete))
}

/// Drains the deliveries of `events` (each to every subscription) with `running` until
/// `deadline`, then analyses them ([`analyse`], from the dispatcher's start): the scenario's row,
/// and whether every delivery arrived.
#[allow(clippy::too_many_arguments)]
async fn drain_and_analyse(
    db: &Db,
    backend: &'static str,
    scenario: &Scenario<'_>,
    events: &[EventSeen],
    running: Running,
    deadline: Instant,
    outage: Option<(u64, Option<DateTime<Utc>>)>,
    failures: &mut Vec<String>,
) -> Result<(DeliveryRow, bool)> {
    let from = running.started_at;
    let expected = events.len() * SUBSCRIPTIONS;
    let (report, complete) = drain(db, scenario, running, expected, deadline).await?;
    let row = analyse(
        db, backend, scenario, events, from, report, complete, outage, failures,
    )
    .await?;
    Ok((row, complete))
}

/// Checks and measures what the receiver got for `events` (the scenario's new events).
#[allow(clippy::too_many_arguments)]
async fn analyse(
    db: &Db,
    backend: &'static str,
    scenario: &Scenario<'_>,
    events: &[EventSeen],
    from: DateTime<Utc>,
    report: DispatchReport,
    complete: bool,
    outage: Option<(u64, Option<DateTime<Utc>>)>,
    failures: &mut Vec<String>,
) -> Result<DeliveryRow> {
    let state = &scenario.receiver.state;
    let arrivals = state.arrivals.lock().expect("not poisoned").clone();
    let name = &scenario.name;
    let mut fail = |what: String| failures.push(format!("{backend}, {name}: {what}"));

    let by_id: HashMap<i64, &EventSeen> = events.iter().map(|e| (e.id, e)).collect();
    let mut count: HashMap<(usize, i64), usize> = HashMap::new();
    let mut last_of_order: HashMap<(usize, &str), i64> = HashMap::new();
    let (mut duplicates, mut out_of_order, mut strangers) = (0, 0, 0);
    let mut latencies: Vec<f64> = Vec::new();
    let mut first_arrivals: Vec<DateTime<Utc>> = Vec::new();
    for a in &arrivals {
        let Some(event) = by_id.get(&a.event_id) else {
            strangers += 1;
            continue;
        };
        if a.number != event.number {
            fail(format!(
                "event {} arrived naming order {} instead of {}",
                a.event_id, a.number, event.number
            ));
        }
        let n = count.entry((a.subscription, a.event_id)).or_default();
        *n += 1;
        if *n > 1 {
            duplicates += 1;
            continue;
        }
        if let Some(previous) = last_of_order.insert((a.subscription, &event.number), a.event_id) {
            if previous > a.event_id {
                out_of_order += 1;
            }
        }
        latencies.push(
            (a.at - event.created_at)
                .num_microseconds()
                .unwrap_or(i64::MAX) as f64
                / 1000.0,
        );
        first_arrivals.push(a.at);
    }
    let expected = events.len() * SUBSCRIPTIONS;
    let missing = expected - count.len().min(expected);
    let forged = state.forged.load(Ordering::SeqCst);
    let max_in_flight = state.max_in_flight.load(Ordering::SeqCst);
    if !complete {
        fail(format!(
            "not every delivery was recorded delivered within the deadline ({} of {expected} \
             arrived)",
            count.len()
        ));
    }
    for (what, n) in [
        ("events missing at a subscription", missing),
        ("duplicate deliveries", duplicates),
        ("events of one order out of order", out_of_order),
        ("deliveries of events not made by this scenario", strangers),
        ("deliveries whose signature did not verify", forged as usize),
    ] {
        if n > 0 {
            fail(format!("{n} {what}"));
        }
    }
    if max_in_flight > IN_FLIGHT {
        fail(format!(
            "{max_in_flight} requests in flight at once, more than {IN_FLIGHT}"
        ));
    }
    let counts = db.storage.delivery_counts().await?;
    if counts.pending != 0 || counts.failed != 0 {
        fail(format!(
            "the database still holds {} pending and {} failed deliveries",
            counts.pending, counts.failed
        ));
    }
    if counts.delivered != scenario.delivered_before + expected as i64 {
        fail(format!(
            "the database counts {} delivered, not {} + {expected}",
            counts.delivered, scenario.delivered_before
        ));
    }
    let refused = state.refused.load(Ordering::SeqCst);
    if report.failed_attempts != refused {
        fail(format!(
            "the dispatcher counted {} failed attempts, the receiver refused {refused}",
            report.failed_attempts
        ));
    }
    if report.delivered as usize != expected - missing + duplicates {
        fail(format!(
            "the dispatcher delivered {}, the receiver took {}",
            report.delivered,
            expected - missing + duplicates
        ));
    }

    latencies.sort_by(f64::total_cmp);
    first_arrivals.sort();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i]
    };
    let seconds =
        |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).num_microseconds().unwrap_or(0) as f64 / 1e6;
    let (rate, quarters) = match (first_arrivals.first(), first_arrivals.last()) {
        (Some(_), Some(last)) => {
            let n = first_arrivals.len();
            let q = n / 4;
            let rate = n as f64 / seconds(from, *last).max(1e-6);
            let quarters = if q > 0 {
                (
                    q as f64 / seconds(from, first_arrivals[q - 1]).max(1e-6),
                    q as f64 / seconds(first_arrivals[n - q - 1], *last).max(1e-6),
                )
            } else {
                (f64::NAN, f64::NAN)
            };
            (rate, quarters)
        }
        _ => (0.0, (f64::NAN, f64::NAN)),
    };
    let outage = outage.map(|(attempts, up_at)| {
        let recovery = match (up_at, first_arrivals.last()) {
            (Some(up), Some(last)) if complete => (*last - up).to_std().ok(),
            _ => None,
        };
        (attempts, recovery)
    });
    Ok(DeliveryRow {
        backend,
        scenario: scenario.name.clone(),
        events: events.len(),
        deliveries: expected,
        rate,
        quarters,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: latencies.last().copied().unwrap_or(f64::NAN),
        duplicates,
        out_of_order,
        missing,
        max_in_flight,
        outage,
        peak_rss_kb: peak_rss_kb("/proc/self/status"),
    })
}

// ---------------------------------------------------------------------------------------------
// One backend.

#[allow(clippy::too_many_arguments)]
async fn run_backend(
    backend: &'static str,
    dir: &TempDir,
    overrides: &Overrides,
    args: &EventsBenchArgs,
    receiver: &Receiver,
    imports: &mut Vec<ImportRow>,
    deliveries: &mut Vec<DeliveryRow>,
    failures: &mut Vec<String>,
) -> Result<bool> {
    let tag = backend.to_lowercase();
    let key: [u8; 32] = rand::random();
    let secret_box = Arc::new(SecretBox::from_key_bytes(&key)?);

    // Part 1: three imports, each into a fresh database.
    println!("{backend}: import without events (all shipped)…");
    let Some(mut db) = Db::create(backend, &dir.0, &format!("{tag}-baseline"), overrides).await?
    else {
        return Ok(false);
    };
    let mut row = timed_import(
        &db,
        backend,
        "shipped: no event",
        1,
        args.orders,
        FulfilmentState::Shipped,
    )
    .await?;
    row.events = db.new_events().await?.len();
    ensure!(
        row.events == 0 && row.deliveries == 0,
        "{backend}: shipped orders made {} events and {} deliveries",
        row.events,
        row.deliveries
    );
    imports.push(row);
    db.close().await;

    println!("{backend}: import of ready orders, no subscription…");
    let mut db = Db::create(backend, &dir.0, &format!("{tag}-ready"), overrides)
        .await?
        .context("PostgreSQL went away")?;
    let mut row = timed_import(
        &db,
        backend,
        "ready, no subscription",
        1,
        args.orders,
        FulfilmentState::Ready,
    )
    .await?;
    row.events = db.new_events().await?.len();
    ensure!(
        row.events == args.orders && row.deliveries == 0,
        "{backend}: {} ready orders made {} events and {} deliveries, not {} and 0",
        args.orders,
        row.events,
        row.deliveries,
        args.orders
    );
    imports.push(row);
    db.close().await;

    println!("{backend}: import of ready orders, {SUBSCRIPTIONS} subscriptions…");
    let mut db = Db::create(backend, &dir.0, &format!("{tag}-subscribed"), overrides)
        .await?
        .context("PostgreSQL went away")?;
    let mut webhooks = HashMap::new();
    for n in 0..SUBSCRIPTIONS {
        let url = format!("{}/hook/{n}", receiver.base);
        let (_, secret) = events::subscribe(
            &db.storage,
            &secret_box,
            Destinations::default(),
            db.user,
            None,
            &url,
            Vec::new(),
        )
        .await?;
        webhooks.insert(
            n,
            Arc::new(standardwebhooks::Webhook::new(secret.expose_secret())?),
        );
    }
    *receiver.state.webhooks.lock().expect("not poisoned") = webhooks;
    let mut row = timed_import(
        &db,
        backend,
        "ready, 2 subscriptions",
        1,
        args.orders,
        FulfilmentState::Ready,
    )
    .await?;
    // The backlog scenario checks these events' deliveries.
    let imported = db.new_events().await?;
    row.events = imported.len();
    ensure!(
        row.events == args.orders && row.deliveries as usize == args.orders * SUBSCRIPTIONS,
        "{backend}: {} ready orders with {SUBSCRIPTIONS} subscriptions made {} events and {} \
         deliveries",
        args.orders,
        row.events,
        row.deliveries
    );
    imports.push(row);

    let result = deliver(
        backend,
        &mut db,
        imported,
        args,
        receiver,
        &secret_box,
        deliveries,
        failures,
    )
    .await;
    db.close().await;
    result.map(|()| true)
}

/// Part 2 and 3 on the database of the import with subscriptions.
#[allow(clippy::too_many_arguments)]
async fn deliver(
    backend: &'static str,
    db: &mut Db,
    imported: Vec<EventSeen>,
    args: &EventsBenchArgs,
    receiver: &Receiver,
    secret_box: &Arc<SecretBox>,
    rows: &mut Vec<DeliveryRow>,
    failures: &mut Vec<String>,
) -> Result<()> {
    let mut next_number = args.orders as u64 + 1;
    let mut delivered_before = 0i64;

    // The backlog: the import's deliveries and three later versions of every 20th order.
    let followed: Vec<u64> = (1..=args.orders as u64).step_by(20).collect();
    for (version, state) in [
        (1, FulfilmentState::OnHold),
        (2, FulfilmentState::Ready),
        (3, FulfilmentState::Cancelled),
    ] {
        for page in followed.chunks(PAGE) {
            let page: Vec<NewOrderRecord> =
                page.iter().map(|n| order(*n, state, version)).collect();
            save(db, &page).await?;
        }
    }
    let mut events = imported;
    events.extend(db.new_events().await?);
    ensure!(
        events.len() == args.orders + 3 * followed.len(),
        "{backend}: the backlog holds {} events, not {}",
        events.len(),
        args.orders + 3 * followed.len()
    );
    println!(
        "{backend}: backlog of {} deliveries…",
        events.len() * SUBSCRIPTIONS
    );
    let scenario = Scenario {
        name: "backlog".into(),
        receiver,
        timeout: args.timeout,
        delivered_before,
    };
    receiver.reset();
    reset_peak_rss();
    let running = start_dispatcher(db, secret_box);
    let deadline = running.started + args.timeout;
    let (row, complete) = drain_and_analyse(
        db, backend, &scenario, &events, running, deadline, None, failures,
    )
    .await?;
    let backlog_rate = row.rate;
    delivered_before += row.deliveries as i64;
    rows.push(row);
    ensure!(complete, "{SKIPPED}");

    // Live: the dispatcher waits on an empty queue while orders come in.
    println!(
        "{backend}: live, {} new orders at {} orders/s…",
        args.live_orders, args.live_rate
    );
    let scenario = Scenario {
        name: format!("live, {} orders/s", args.live_rate),
        delivered_before,
        ..scenario
    };
    receiver.reset();
    reset_peak_rss();
    let running = start_dispatcher(db, secret_box);
    feed(db, next_number, args.live_orders, args.live_rate).await?;
    next_number += args.live_orders as u64;
    let events = db.new_events().await?;
    let deadline = Instant::now() + scenario.timeout;
    let (row, complete) = drain_and_analyse(
        db, backend, &scenario, &events, running, deadline, None, failures,
    )
    .await?;
    delivered_before += row.deliveries as i64;
    rows.push(row);
    ensure!(complete, "{SKIPPED}");

    // A slow receiver: the 16 in flight.
    if let Some(latency) = args.receiver_latency {
        println!(
            "{backend}: backlog of {} orders, the receiver answering after {latency} ms…",
            args.burst_orders
        );
        let numbers: Vec<u64> = (next_number..next_number + args.burst_orders as u64).collect();
        next_number += args.burst_orders as u64;
        for page in numbers.chunks(PAGE) {
            let page: Vec<NewOrderRecord> = page
                .iter()
                .map(|n| order(*n, FulfilmentState::Ready, 0))
                .collect();
            save(db, &page).await?;
        }
        let events = db.new_events().await?;
        let scenario = Scenario {
            name: format!("receiver +{latency} ms"),
            delivered_before,
            ..scenario
        };
        receiver.reset();
        receiver.state.latency_ms.store(latency, Ordering::SeqCst);
        reset_peak_rss();
        let running = start_dispatcher(db, secret_box);
        let deadline = running.started + scenario.timeout;
        let (row, complete) = drain_and_analyse(
            db, backend, &scenario, &events, running, deadline, None, failures,
        )
        .await?;
        receiver.state.latency_ms.store(0, Ordering::SeqCst);
        delivered_before += row.deliveries as i64;
        rows.push(row);
        ensure!(complete, "{SKIPPED}");
    }

    // The outage.
    println!(
        "{backend}: outage of {} s while {} orders come in…",
        args.down, args.outage_orders
    );
    let scenario = Scenario {
        name: format!("outage {} s", args.down),
        delivered_before,
        ..scenario
    };
    receiver.reset();
    reset_peak_rss();
    receiver.state.up.store(false, Ordering::SeqCst);
    let down_for = Duration::from_secs(args.down);
    let running = start_dispatcher(db, secret_box);
    let rate = args.outage_orders as f64 / (down_for.as_secs_f64() * 0.8);
    feed(db, next_number, args.outage_orders, rate).await?;
    tokio::time::sleep_until((running.started + down_for).into()).await;
    let attempts = receiver.state.refused.load(Ordering::SeqCst);
    receiver.state.up.store(true, Ordering::SeqCst);
    let up_at = Utc::now();
    let up = Instant::now();
    let events = db.new_events().await?;
    if running.started.elapsed() > down_for + Duration::from_secs(1) {
        failures.push(format!(
            "{backend}, outage: the feed took {:.1} s, longer than the outage",
            running.started.elapsed().as_secs_f64()
        ));
    }
    // What the documented back-off allows: one round (at most 16 in flight) per pause of 1 s,
    // 2 s, 4 s, … while down, for each subscription (each pauses on its own failures, and a
    // dispatcher fills its free slots with the first that is due again); after it, the pause in
    // effect plus the queue drained at the backlog's rate.
    let (mut rounds, mut elapsed) = (1i32, Duration::ZERO);
    while elapsed + backoff(rounds) < down_for {
        elapsed += backoff(rounds);
        rounds += 1;
    }
    let attempts_allowed = SUBSCRIPTIONS as u64 * rounds as u64 * IN_FLIGHT;
    let catch_up_allowed = backoff(rounds)
        + Duration::from_secs_f64(
            events.len() as f64 * SUBSCRIPTIONS as f64 / backlog_rate.max(1.0),
        )
        + Duration::from_secs(5);
    // The subscriptions as the receiver recovers, and a deadline that waits for the pauses in
    // effect to end and the queue to drain (up to --timeout), so that the catch-up is measured
    // even when it is longer than the documented bound.
    let now = Utc::now();
    let subscriptions = db.storage.list_subscriptions(Some(db.user)).await?;
    let paused_for = subscriptions
        .iter()
        .filter_map(|s| (s.paused_until? - now).to_std().ok())
        .max()
        .unwrap_or_default();
    let at_recovery: Vec<String> = subscriptions
        .iter()
        .map(|s| {
            format!(
                "subscription {}: {} failures in a row, paused for {:.1} s more",
                s.id,
                s.failures_in_a_row,
                s.paused_until
                    .map_or(0.0, |t| (t - now).num_milliseconds() as f64 / 1000.0)
            )
        })
        .collect();
    let wait = (catch_up_allowed * 4)
        .max(paused_for + catch_up_allowed + Duration::from_secs(30))
        .max(Duration::from_secs(120));
    let deadline = up
        + if wait <= scenario.timeout {
            wait
        } else {
            Duration::from_secs(60)
        };
    let (mut row, _complete) = drain_and_analyse(
        db,
        backend,
        &scenario,
        &events,
        running,
        deadline,
        Some((attempts, Some(up_at))),
        failures,
    )
    .await?;
    // The catch-up rate is not the outage's: the rate column is left to the other rows.
    row.rate = f64::NAN;
    row.quarters = (f64::NAN, f64::NAN);
    if attempts > attempts_allowed {
        failures.push(format!(
            "{backend}, outage: {attempts} attempts while the receiver was down {} s; the \
             back-off (1 s, 2 s, 4 s, … per subscription) allows {rounds} rounds of at most \
             {IN_FLIGHT} for each of {SUBSCRIPTIONS} subscriptions: {attempts_allowed}",
            args.down
        ));
    }
    match row.outage.and_then(|(_, recovery)| recovery) {
        Some(recovery) if recovery <= catch_up_allowed => {}
        recovery => {
            failures.push(format!(
                "{backend}, outage: the last delivery came {} after recovery; the pause in \
                 effect ({} s) and the queue at the backlog's rate allow {:.1} s (at recovery: {})",
                recovery.map_or_else(
                    || format!(
                        "not within {:.0} s",
                        deadline.duration_since(up).as_secs_f64()
                    ),
                    |r| format!("{:.1} s", r.as_secs_f64())
                ),
                backoff(rounds).as_secs(),
                catch_up_allowed.as_secs_f64(),
                at_recovery.join("; ")
            ));
        }
    }
    rows.push(row);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The tables.

fn print_tables(args: &EventsBenchArgs, imports: &[ImportRow], deliveries: &[DeliveryRow]) {
    let per_1000 = |d: Option<Duration>, orders: usize| {
        d.map_or_else(
            || "n/a".to_string(),
            |d| {
                format!(
                    "{:.0}",
                    d.as_secs_f64() * 1000.0 * 1000.0 / orders.max(1) as f64
                )
            },
        )
    };
    let mb = |kb: Option<u64>| {
        kb.map_or_else(|| "n/a".into(), |kb| format!("{:.0}", kb as f64 / 1024.0))
    };
    println!();
    println!(
        "Cost on the import: {} orders in pages of {PAGE} (Storage::save_page with a checkpoint)",
        args.orders
    );
    println!(
        "{:<11} {:<24} {:>9} {:>14} {:>14} {:>8} {:>11} {:>9}",
        "backend",
        "import",
        "orders/s",
        "hub CPU ms/1k",
        "db CPU ms/1k",
        "events",
        "deliveries",
        "RSS MB"
    );
    for r in imports {
        println!(
            "{:<11} {:<24} {:>9.0} {:>14} {:>14} {:>8} {:>11} {:>9}",
            r.backend,
            r.variant,
            r.orders as f64 / r.wall.as_secs_f64().max(1e-9),
            per_1000(r.cpu, r.orders),
            per_1000(r.server_cpu, r.orders),
            r.events,
            r.deliveries,
            mb(r.peak_rss_kb),
        );
    }
    println!();
    println!(
        "Delivery ({SUBSCRIPTIONS} subscriptions, dispatcher defaults: {IN_FLIGHT} in flight, \
         a look every 250 ms when idle)"
    );
    println!(
        "{:<11} {:<22} {:>7} {:>10} {:>8} {:>15} {:>8} {:>8} {:>8} {:>5} {:>5} {:>5} {:>6} {:>9} {:>9} {:>7}",
        "backend", "scenario", "events", "deliveries", "per s", "1st/last qtr/s", "p50 ms", "p99 ms", "max ms",
        "dup", "order", "miss", "flight", "attempts", "catch-up", "RSS MB"
    );
    let num = |x: f64| {
        if x.is_finite() {
            format!("{x:.0}")
        } else {
            "-".into()
        }
    };
    for r in deliveries {
        let (attempts, recovery) = match r.outage {
            Some((a, rec)) => (
                a.to_string(),
                rec.map_or_else(|| "none".into(), |d| format!("{:.1} s", d.as_secs_f64())),
            ),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:<11} {:<22} {:>7} {:>10} {:>8} {:>15} {:>8} {:>8} {:>8} {:>5} {:>5} {:>5} {:>6} {:>9} {:>9} {:>7}",
            r.backend,
            r.scenario,
            r.events,
            r.deliveries,
            num(r.rate),
            format!("{}/{}", num(r.quarters.0), num(r.quarters.1)),
            num(r.p50_ms),
            num(r.p99_ms),
            num(r.max_ms),
            r.duplicates,
            r.out_of_order,
            r.missing,
            r.max_in_flight,
            attempts,
            recovery,
            mb(r.peak_rss_kb),
        );
    }
    println!(
        "(latency: arrival at the receiver - the event's created_at; per s: deliveries from the \
         dispatcher's start to the last arrival; dup, order, miss: duplicate, out-of-order and \
         missing deliveries; flight: most requests in flight at once; attempts: requests \
         while the receiver was down; catch-up: recovery -> last delivery)"
    );
}
