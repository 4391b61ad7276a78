//! Killing `cenports sync` mid-backfill (SIGKILL, a real child process) and running it again:
//! no order is lost or duplicated, and the second run resumes after the committed checkpoint
//! instead of starting over (`docs/HARD-PROBLEMS.md` note 1).
//!
//! Everything is a real process: `cenports sandbox` (5,000 orders, each order page slowed to
//! 150 ms through the control API so the backfill takes seconds), `cenports connect
//! --credentials-file`, and `cenports sync` on a SQLite file, which the test reads beside it.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, field, spawn_sandbox, Running, TempDir};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use cenports::storage::{OrderFilter, Storage, StoreScope, STREAM_ORDERS};

const ORDERS: usize = 5000;

/// `cenports sandbox` on port 0: (process, base URL, store hash).
fn start_sandbox(dir: &TempDir) -> (Running, String, String) {
    let orders = ORDERS.to_string();
    let args = [
        "--port",
        "0",
        "--products",
        "20",
        "--seed",
        "41",
        "--orders",
        &orders,
        "--plan",
        "unlimited",
    ];
    let sandbox = spawn_sandbox(&args, &dir.0, Duration::from_secs(120));
    (sandbox.process, sandbox.base_url, sandbox.hash)
}

/// `cenports ARGS` configured by environment only.
fn cenports(dir: &TempDir, base: &str, database_url: &str, args: &[&str]) -> Command {
    let mut command = common::cenports_command();
    command
        .args(args)
        .env("CENPORTS_DATABASE_URL", database_url)
        .env("CENPORTS_BIGCOMMERCE_API_URL", base)
        .env("CENPORTS_KEY_FILE", dir.0.join("hub.key"))
        .env("CENPORTS_LOG", "warn");
    command
}

fn run_ok(mut command: Command) -> String {
    let output = command.output().expect("cenports runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}

/// Every order the sandbox lists (not archived): id → date_modified, through its v2 API.
async fn sandbox_orders(api: &str, token: &str) -> BTreeMap<i64, DateTime<Utc>> {
    let http = reqwest::Client::new();
    let mut all = BTreeMap::new();
    let mut min_id = 1;
    loop {
        let url = format!("{api}v2/orders?sort=id:asc&limit=250&min_id={min_id}");
        let page: Vec<Value> = http
            .get(&url)
            .header("X-Auth-Token", token)
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or_default();
        for order in &page {
            let id = order["id"].as_i64().unwrap();
            let modified = DateTime::parse_from_rfc2822(order["date_modified"].as_str().unwrap())
                .unwrap()
                .with_timezone(&Utc);
            all.insert(id, modified);
            min_id = id + 1;
        }
        if page.len() < 250 {
            return all;
        }
    }
}

async fn hub_orders(storage: &Storage, scope: &StoreScope) -> BTreeMap<i64, DateTime<Utc>> {
    let filter = OrderFilter {
        include_deleted: true,
        ..OrderFilter::default()
    };
    let (mut all, mut after) = (BTreeMap::new(), None);
    loop {
        let page = storage
            .list_orders(scope, &filter, 1000, after)
            .await
            .unwrap();
        for o in page.orders {
            let id: i64 = o.remote_id.parse().expect("a BigCommerce order id");
            let dup = all.insert(id, o.date_modified);
            assert!(dup.is_none(), "order {} is in the hub twice", o.remote_id);
        }
        match page.next_cursor {
            Some(c) => after = Some(c),
            None => return all,
        }
    }
}

fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_mid_backfill_resumes_at_its_checkpoint_with_no_loss_or_duplicate() {
    let dir = TempDir::new("kill-resume");
    std::fs::create_dir_all(&dir.0).unwrap();
    let (_sandbox, base, hash) = start_sandbox(&dir);
    let credentials = dir.0.join("merchant-guide.txt");
    let txt = std::fs::read_to_string(&credentials).unwrap();
    let (api, token) = (
        field(&txt, "API PATH").trim_end_matches("v3/").to_owned(),
        field(&txt, "ACCESS TOKEN").to_owned(),
    );
    let database_url = format!("sqlite://{}", dir.0.join("hub.db").display());
    run_ok({
        let mut c = cenports(&dir, &base, &database_url, &["connect"]);
        c.args(["--email", "ops@example.com", "--credentials-file"])
            .arg(&credentials);
        c
    });

    // Slow every order request so the backfill takes seconds.
    let control = format!("{base}/_sandbox/stores/{hash}");
    let http = reqwest::Client::new();
    let added = http
        .post(format!("{control}/faults"))
        .json(&json!({"kind": "latency", "latency_ms": 150, "path_contains": "/v2/orders"}))
        .send()
        .await
        .unwrap();
    assert!(added.status().is_success(), "{:?}", added.text().await);

    let storage = Storage::open(&database_url).await.unwrap();
    let stores = storage.list_all_stores().await.unwrap();
    let scope = stores[0].scope();

    // Start the backfill, and kill it once the `orders` walk has committed several pages.
    let mut child = cenports(&dir, &base, &database_url, &["sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let cp = storage.get_checkpoint(&scope, STREAM_ORDERS).await.unwrap();
        // A few pages in: well inside the walk, far from its end.
        if cp.is_some_and(|cp| {
            cp.cursor
                .as_deref()
                .map(|cursor| cursor.parse::<i64>().expect("the cursor is an order id"))
                .is_some_and(|id| id > (ORDERS / 4) as i64)
                && cp.completed_at.is_none()
        }) {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sync ended before it could be killed: make the walk slower"
        );
        assert!(started.elapsed() < Duration::from_secs(120), "no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();

    let cp = storage
        .get_checkpoint(&scope, STREAM_ORDERS)
        .await
        .unwrap()
        .expect("a checkpoint");
    assert_eq!(cp.completed_at, None, "killed inside the window");
    assert_eq!(cp.window_start, None, "a backfill");
    let window_end = cp.window_end.expect("a frozen window");
    let last: i64 = cp
        .cursor
        .expect("pages committed")
        .parse()
        .expect("the cursor is the last order id committed");
    let held = storage.count_orders(&scope).await.unwrap() as usize;
    eprintln!("killed after {held} orders; checkpoint at id {last}");
    assert!(held > 0 && held < ORDERS, "{held} orders when killed");

    // Run again, to completion; only requests from now on count.
    let log: Vec<Value> = http
        .get(format!("{control}/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let seq = log.last().map_or(0, |r| r["seq"].as_u64().unwrap());
    run_ok(cenports(&dir, &base, &database_url, &["sync"]));

    let after: Vec<Value> = http
        .get(format!("{control}/requests?after={seq}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lists: Vec<&Value> = after
        .iter()
        .filter(|r| r["method"] == "GET" && r["path"].as_str().unwrap().ends_with("/v2/orders"))
        // The archived pass walks the same window with its own cursor, from its start.
        .filter(|r| query_param(r["query"].as_str().unwrap(), "is_deleted").is_none())
        .collect();
    assert!(!lists.is_empty());
    for r in &lists {
        let query = r["query"].as_str().unwrap();
        let min_id: i64 = query_param(query, "min_id")
            .unwrap_or_else(|| panic!("resumed without a min_id: {query}"))
            .parse()
            .unwrap();
        assert!(
            min_id > last,
            "re-read before the checkpoint {last}: {query}"
        );
        let max = query_param(query, "max_date_modified").unwrap();
        assert_eq!(
            DateTime::parse_from_rfc3339(&max)
                .unwrap()
                .with_timezone(&Utc),
            window_end,
            "the same frozen window"
        );
    }

    // The hub holds the store's orders, each once, at the store's version.
    http.delete(format!("{control}/faults"))
        .send()
        .await
        .unwrap();
    let expected = sandbox_orders(&api, &token).await;
    let held = hub_orders(&storage, &scope).await;
    let (rows, distinct): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT remote_id) FROM orders WHERE store_id = ?")
            .bind(scope.store_id().get())
            .fetch_one(&sqlx::SqlitePool::connect(&database_url).await.unwrap())
            .await
            .unwrap();
    assert_eq!(rows, distinct, "no order twice");
    assert_eq!(rows as usize, expected.len(), "no order lost");
    let differing: Vec<_> = expected
        .iter()
        .filter(|(id, modified)| held.get(id) != Some(modified))
        .take(10)
        .collect();
    assert!(differing.is_empty(), "missing or stale: {differing:?}");
    let cp = storage
        .get_checkpoint(&scope, STREAM_ORDERS)
        .await
        .unwrap()
        .unwrap();
    assert!(cp.completed_at.is_some(), "the window completed");
    storage.close().await;
}
