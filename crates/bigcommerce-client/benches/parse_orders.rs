//! How fast the client parses a page of 250 v2 orders with embedded line items
//! (`GET /v2/orders?include=consignments.line_items&consignment_structure=object`), next to
//! `serde_json::Value` and to the bare validation of the text (`RawValue`), the floor.
//!
//! The hub imports at ≥ 20,000 orders/s end to end, database writes included, so parsing alone
//! must reach ≥ 40,000 orders/s (a page of 250 in ≤ 6 ms). The page is fetched once from the
//! sandbox over loopback; only parsing is timed. Each figure is the median of
//! `PARSE_BENCH_RUNS` runs (default 50).
//!
//! `cargo bench -p bigcommerce-client --bench parse_orders`

use std::hint::black_box;
use std::time::{Duration, Instant};

use bigcommerce_client::models::orders::{Order, OrderProduct};
use bigcommerce_sandbox::{Plan, Sandbox, SandboxConfig, StoreSpec};
use serde_json::value::RawValue;
use serde_json::Value;

const PAGE_QUERY: &str = "limit=250&include=consignments.line_items&consignment_structure=object";
const TARGET_ORDERS_PER_SECOND: f64 = 40_000.0;

fn runs() -> usize {
    std::env::var("PARSE_BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .filter(|runs: &usize| *runs > 0)
        .unwrap_or(50)
}

/// Median wall time of `runs` calls of `parse`, after one warm-up call.
fn median(runs: usize, mut parse: impl FnMut()) -> Duration {
    parse();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            parse();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// Prints one row and returns the rate.
fn row(name: &str, items: usize, unit: &str, time: Duration) -> f64 {
    let per_second = items as f64 / time.as_secs_f64();
    println!(
        "{name:<32} {items:>5} {unit:<6} {:>8.2} ms {per_second:>10.0} {unit}/s",
        time.as_secs_f64() * 1e3
    );
    per_second
}

/// One page of orders with line items, as the sandbox serves it.
async fn fetch_page() -> Vec<u8> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox = Sandbox::start(listener, SandboxConfig::default())
        .await
        .unwrap();
    let store = sandbox.create_store(StoreSpec {
        seed: 3,
        products: 300,
        orders: 5000,
        plan: Plan::Unlimited,
        ..StoreSpec::default()
    });
    let token = store
        .account("merchant-guide")
        .unwrap()
        .access_token
        .clone();
    let url = format!(
        "{}/stores/{}/v2/orders?{PAGE_QUERY}",
        sandbox.base_url(),
        store.hash
    );
    reqwest::Client::new()
        .get(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

/// The page's embedded line items, verbatim, as one JSON array (what
/// `GET /v2/orders/{id}/products` returns, for the `OrderProduct` row).
fn line_items_json(page: &[u8]) -> (Vec<u8>, usize) {
    let orders: Vec<Value> = serde_json::from_slice(page).unwrap();
    let lines: Vec<&Value> = orders
        .iter()
        .flat_map(|order| order["consignments"]["shipping"].as_array())
        .flatten()
        .flat_map(|consignment| consignment["line_items"].as_array())
        .flatten()
        .collect();
    (serde_json::to_vec(&lines).unwrap(), lines.len())
}

#[tokio::main]
async fn main() {
    let page = fetch_page().await;
    let (lines, line_count) = line_items_json(&page);
    let orders: Vec<Order> = serde_json::from_slice(&page).unwrap();
    let order_count = orders.len();
    let embedded: usize = orders
        .iter()
        .filter_map(Order::embedded_line_items)
        .map(|lines| lines.len())
        .sum();
    assert!(line_count > 0, "the page has no embedded line items");
    assert_eq!(embedded, line_count, "every embedded line item is typed");

    let runs = runs();
    println!(
        "one page: {order_count} orders, {line_count} line items, {} bytes; median of {runs} runs",
        page.len()
    );
    println!(
        "{:<32} {:>12} {:>11} {:>17}",
        "parse into", "items", "time", "rate"
    );
    let time = median(runs, || {
        black_box(serde_json::from_slice::<Vec<Box<RawValue>>>(black_box(&page)).unwrap());
    });
    row("Vec<Box<RawValue>> (floor)", order_count, "orders", time);
    let time = median(runs, || {
        black_box(serde_json::from_slice::<Vec<Value>>(black_box(&page)).unwrap());
    });
    row("Vec<serde_json::Value>", order_count, "orders", time);
    let time = median(runs, || {
        black_box(serde_json::from_slice::<Vec<Order>>(black_box(&page)).unwrap());
    });
    let order_rate = row("Vec<Order>", order_count, "orders", time);
    let time = median(runs, || {
        black_box(serde_json::from_slice::<Vec<Value>>(black_box(&lines)).unwrap());
    });
    row("Vec<serde_json::Value> (lines)", line_count, "lines", time);
    let time = median(runs, || {
        black_box(serde_json::from_slice::<Vec<OrderProduct>>(black_box(&lines)).unwrap());
    });
    row("Vec<OrderProduct>", line_count, "lines", time);
    println!(
        "target ≥ {TARGET_ORDERS_PER_SECOND:.0} orders/s for Vec<Order>: {}",
        if order_rate >= TARGET_ORDERS_PER_SECOND {
            "met"
        } else {
            "NOT MET"
        }
    );
}
