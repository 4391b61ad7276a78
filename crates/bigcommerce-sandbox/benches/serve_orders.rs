//! How fast the sandbox serves `GET /v2/orders` pages of 250 orders with their line items
//! (`include=consignments.line_items&consignment_structure=object`) over real loopback HTTP.
//! The sandbox must never be the bottleneck of the hub's benchmarks: target ≥ 50,000 orders/s.
//!
//! `cargo bench -p bigcommerce-sandbox --bench serve_orders` (set `SANDBOX_BENCH_ORDERS` to
//! change the store size, default 20,000; `SANDBOX_BENCH_CONNECTIONS` for concurrency, default 4).

use std::time::Instant;

use bigcommerce_sandbox::{Plan, Sandbox, SandboxConfig, StoreSpec};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let orders = env_usize("SANDBOX_BENCH_ORDERS", 20_000);
    let connections = env_usize("SANDBOX_BENCH_CONNECTIONS", 4);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox = Sandbox::start(listener, SandboxConfig::default())
        .await
        .unwrap();
    let built = Instant::now();
    let store = sandbox.create_store(StoreSpec {
        seed: 42,
        products: 500,
        orders,
        plan: Plan::Unlimited,
        ..StoreSpec::default()
    });
    let build_secs = built.elapsed().as_secs_f64();
    let token = store
        .account("merchant-guide")
        .unwrap()
        .access_token
        .clone();
    let base = format!("{}/stores/{}/v2/orders", sandbox.base_url(), store.hash);
    let pages = orders.div_ceil(250);
    let http = reqwest::Client::new();

    println!(
        "sandbox serve benchmark: {orders} orders, {pages} pages of 250, {connections} connections"
    );
    println!("store generated in {build_secs:.2} s");
    println!(
        "{:<28} {:>10} {:>12} {:>12} {:>10}",
        "query", "pages", "orders/s", "MB/s", "ms/page"
    );
    for (name, extra) in [
        (
            "sort=id, with line items",
            "&include=consignments.line_items&consignment_structure=object",
        ),
        (
            "keyset min_id, with lines",
            "&include=consignments.line_items&consignment_structure=object&min_id=",
        ),
        ("sort=id, plain", ""),
    ] {
        let keyset = extra.ends_with("min_id=");
        let started = Instant::now();
        let mut tasks = Vec::new();
        for worker in 0..connections {
            let http = http.clone();
            let token = token.clone();
            let base = base.clone();
            let extra = extra.to_string();
            tasks.push(tokio::spawn(async move {
                let (mut orders_seen, mut bytes) = (0usize, 0usize);
                let mut page = 1 + worker;
                while page <= pages {
                    let url = if keyset {
                        // Keyset paging: each worker starts at the first id of its page.
                        format!(
                            "{base}?limit=250&sort=id:asc{extra}{}",
                            100 + (page - 1) * 250
                        )
                    } else {
                        format!("{base}?limit=250&sort=id:asc&page={page}{extra}")
                    };
                    let response = http
                        .get(url)
                        .header("X-Auth-Token", &token)
                        .send()
                        .await
                        .unwrap();
                    assert!(response.status().is_success());
                    let body = response.bytes().await.unwrap();
                    bytes += body.len();
                    // Counting orders without parsing keeps the client's cost out of the figure:
                    // only an order object has `customer_id` (lines and consignments do not).
                    orders_seen += count(&body, b",\"customer_id\":");
                    page += connections;
                }
                (orders_seen, bytes)
            }));
        }
        let (mut seen, mut bytes) = (0, 0);
        for task in tasks {
            let (s, b) = task.await.unwrap();
            seen += s;
            bytes += b;
        }
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(seen, orders, "every order served exactly once");
        println!(
            "{:<28} {:>10} {:>12.0} {:>12.1} {:>10.2}",
            name,
            pages,
            seen as f64 / secs,
            bytes as f64 / secs / 1e6,
            secs * 1000.0 / pages as f64
        );
    }
    sandbox.shutdown();
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    let haystack = std::str::from_utf8(haystack).expect("JSON is UTF-8");
    let needle = std::str::from_utf8(needle).expect("UTF-8 needle");
    haystack.matches(needle).count()
}
