//! An Amazon seller through the real binary. `cenports connect --channel amazon` and
//! `cenports sync` import a seller; Amazon's `ORDER_CHANGE` notifications then reach the hub
//! through the queue: a
//! `cenports worker --no-poll` (no polling at all, so only the queue can tell it anything)
//! reads the Amazon sandbox's queue stand-in (`CENPORTS_AMAZON_QUEUE_URL`):
//!
//! - a buyer's cancellation of a ready order reaches the hub within seconds, with its
//!   `order.cancelled` event for the warehouse; polling would have waited for Amazon's
//!   two-minute horizon;
//! - an order placed and then paid for arrives on hold, then ready with its address;
//! - every notification is delivered twice (SQS's occasional duplicates, made constant), yet
//!   each is recorded once and every message is deleted;
//! - `cenports order-status` is refused before anything is queued, saying where to make the
//!   change, since Amazon has no API for it; `cenports ship` confirms the shipment once.
//!
//! Both backends.

use std::time::{Duration, Instant};

use amazon_sandbox::{AmazonSandbox, AmazonSandboxConfig, OrderStatus};
use base64::Engine;
use cenports::storage::{FulfilmentState, Storage, StoreRecord};
use serde_json::Value;

use crate::common::{self, both_backends, Running, TempDir};

const EMAIL: &str = "seller@example.com";

/// The hub's environment: the test's database, the emulator as SP-API, Login with Amazon and
/// the notification queue, a fixed key.
fn env(url: &str, sandbox: &AmazonSandbox) -> Vec<(&'static str, String)> {
    vec![
        ("CENPORTS_DATABASE_URL", url.to_owned()),
        ("CENPORTS_AMAZON_API_URL", sandbox.endpoint().to_owned()),
        ("CENPORTS_AMAZON_AUTH_URL", sandbox.endpoint().to_owned()),
        ("CENPORTS_AMAZON_QUEUE_URL", sandbox.queue_url()),
        (
            "CENPORTS_SECRET_KEY",
            base64::engine::general_purpose::STANDARD.encode([5u8; 32]),
        ),
        ("CENPORTS_LEASE_PERIOD", "2s".to_owned()),
        ("CENPORTS_LOG", "info".to_owned()),
    ]
}

fn run(vars: &[(&'static str, String)], args: &[&str]) -> String {
    let mut command = common::cenports_command();
    command.args(args);
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = command.output().expect("cenports runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "cenports {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn place(sandbox: &AmazonSandbox, status: OrderStatus) -> String {
    crate::amazon::place(sandbox, status).amazon_order_id
}

/// The order's state in the hub, once `done` says it is what the test waits for; the time it
/// took. Fails after 20 s.
async fn wait_for(
    storage: &Storage,
    store: &StoreRecord,
    order: &str,
    done: impl Fn(FulfilmentState) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let held = storage
            .find_order_by_remote_id(&store.scope(), order)
            .await
            .unwrap();
        if let Some(held) = held {
            if done(held.summary.fulfilment_state) {
                return started.elapsed();
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "order {order} did not reach the hub through the queue"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn queue_stats(sandbox: &AmazonSandbox) -> Value {
    reqwest::get(sandbox.queue_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

both_backends!(
    order_changes_reach_the_hub_through_the_notification_queue_within_seconds_and_status_changes_are_refused_up_front,
    |ctx| {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sandbox = AmazonSandbox::start(
            listener,
            AmazonSandboxConfig {
                orders: 20,
                rate_scale: 50.0,
                ..AmazonSandboxConfig::default()
            },
        )
        .await
        .unwrap();
        let dir = TempDir::create("amazon-queue").unwrap();
        let file = sandbox.write_credentials(&dir.0).unwrap();
        let vars = env(&ctx.url, &sandbox);

        // Connect and import as a merchant would; what the import covers needs no
        // notification, so the queue starts empty.
        let ready = place(&sandbox, OrderStatus::Unshipped);
        sandbox.advance_clock(chrono::Duration::seconds(150));
        run(
            &vars,
            &[
                "connect",
                "--channel",
                "amazon",
                "--email",
                EMAIL,
                "--credentials-file",
                &file.display().to_string(),
            ],
        );
        run(&vars, &["sync"]);
        let store = ctx.storage.list_all_stores().await.unwrap().remove(0);
        wait_for(&ctx.storage, &store, &ready, |s| s == FulfilmentState::Ready).await;
        reqwest::Client::new()
            .delete(sandbox.queue_url())
            .send()
            .await
            .unwrap();
        let sent_before = queue_stats(&sandbox).await["sent"].as_u64().unwrap();
        // SQS delivers a notification twice now and then; here, always.
        reqwest::Client::new()
            .put(format!("{}/duplicates", sandbox.queue_url()))
            .json(&serde_json::json!({"share": 1.0}))
            .send()
            .await
            .unwrap();

        let after_import = sandbox.state().log.lock().counters().total;
        let log = std::fs::File::create(dir.0.join("worker.log")).unwrap();
        let mut worker = common::cenports_command();
        worker
            .args(["worker", "--no-poll"])
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (name, value) in &vars {
            worker.env(name, value);
        }
        let _worker = Running(worker.spawn().unwrap());

        // A buyer cancels the ready order: no sync runs, and the emulator's clock stands
        // still, so only the notification can bring it.
        sandbox.cancel_order(&ready).unwrap();
        let cancelled = wait_for(&ctx.storage, &store, &ready, |s| {
            s == FulfilmentState::Cancelled
        })
        .await;

        // An order placed (Pending: no address yet), then paid for.
        let placed = place(&sandbox, OrderStatus::Pending);
        let on_hold = wait_for(&ctx.storage, &store, &placed, |s| s == FulfilmentState::OnHold)
            .await;
        sandbox.advance_order(&placed).unwrap();
        let paid = wait_for(&ctx.storage, &store, &placed, |s| s == FulfilmentState::Ready).await;
        let held = ctx
            .storage
            .find_order_by_remote_id(&store.scope(), &placed)
            .await
            .unwrap()
            .unwrap();
        assert!(
            !held.addresses.is_empty(),
            "a paid order comes with its address"
        );
        println!(
            "amazon queue: cancellation in the hub after {:.2} s; a new order after {:.2} s, \
             ready after payment {:.2} s",
            cancelled.as_secs_f64(),
            on_hold.as_secs_f64(),
            paid.as_secs_f64()
        );

        // The warehouse hears of the cancellation once.
        let events = ctx
            .storage
            .events_after(Some(store.user_id()), None, 1000)
            .await
            .unwrap();
        let cancellations = events
            .iter()
            .filter(|e| {
                e.event_type.as_str() == "order.cancelled"
                    && e.data["order"]["number"] == ready.as_str()
            })
            .count();
        assert_eq!(cancellations, 1, "{events:?}");

        // Every message, duplicates included, was deleted, and each notification was acted on
        // once: one getOrder per change, not one per delivery.
        let started = Instant::now();
        loop {
            let stats = queue_stats(&sandbox).await;
            if stats["visible"] == 0 && stats["in_flight"] == 0 {
                let sent = stats["sent"].as_u64().unwrap() - sent_before;
                assert_eq!(sent, 6, "three changes, each sent twice: {stats}");
                assert_eq!(stats["deleted"], 6, "{stats}");
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "{stats}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let fetches = sandbox
            .state()
            .log
            .lock()
            .since(after_import)
            .into_iter()
            .filter(|r| r.method == "GET" && r.path.starts_with("/orders/2026-01-01/orders/"))
            .count();
        assert_eq!(fetches, 3, "one fetch per notification, duplicates ignored");

        // Amazon takes no status change through its API: refused before the outbox.
        let mut command = common::cenports_command();
        command.args([
            "order-status",
            "--store",
            &store.remote_id,
            "--order",
            &placed,
            "--to",
            "cancelled",
        ]);
        for (name, value) in &vars {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(stderr.contains("Seller Central"), "{stderr}");
        let outbox = run(&vars, &["outbox", "--json"]);
        let outbox: Value = serde_json::from_str(&outbox).unwrap();
        assert_eq!(outbox["rows"].as_array().map(Vec::len), Some(0), "{outbox}");

        // `cenports ship` confirms the paid order's shipment with Amazon, once.
        run(
            &vars,
            &[
                "ship",
                "--store",
                &store.remote_id,
                "--order",
                &placed,
                "--carrier",
                "ups",
                "--tracking",
                "1Z999AA10123456784",
            ],
        );
        let packages: Vec<_> = sandbox
            .packages()
            .into_iter()
            .filter(|(order, _)| *order == placed)
            .collect();
        assert_eq!(packages.len(), 1, "{packages:?}");
        assert_eq!(packages[0].1.tracking_number, "1Z999AA10123456784");
        assert_eq!(sandbox.order(&placed).unwrap().status, OrderStatus::Shipped);
    }
);
