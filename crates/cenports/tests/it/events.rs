//! Events for the warehouse's system, end to end through the real binary: `cenports
//! subscriptions add` subscribes a receiver (an HTTP server in the test that verifies every
//! delivery with the `standardwebhooks` crate, as a warehouse system would), `cenports serve`
//! polls a sandbox store, and what happens at the store reaches the receiver:
//!
//! - an order cancelled at the store arrives once as `order.cancelled`, within seconds; a
//!   shipment written by `cenports ship` arrives as `shipment.delivered`, a `cenports stock
//!   push` as `stock.pushed`;
//! - while the receiver is down, an order goes on hold, back to ready and is cancelled, and the
//!   hub is killed (SIGKILL) after committing those events and before delivering them; once
//!   the receiver is back and the hub restarted, the three arrive, once each, in order.
//!
//! Both backends.

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use bigcommerce_sandbox::store::OrderUpdate;
use bigcommerce_sandbox::{Sandbox, SandboxConfig, StoreSpec};
use cenports::storage::{DeliveryState, Storage, SubscriptionId};
use serde_json::Value;

use crate::common::{self, both_backends, Running, TempDir};

const KEY: [u8; 32] = [7; 32];
const EMAIL: &str = "ops@example.com";

/// What the receiver got: each delivery's event, in arrival order.
#[derive(Clone, Default)]
struct Receiver {
    events: Arc<Mutex<Vec<Value>>>,
    /// Deliveries whose signature did not verify (must stay 0).
    forged: Arc<Mutex<u32>>,
    /// Answers 503 while false.
    up: Arc<AtomicBool>,
    secret: Arc<Mutex<Option<String>>>,
}

impl Receiver {
    /// Starts it on a free port; returns it and its URL.
    async fn start() -> (Receiver, String) {
        let receiver = Receiver::default();
        receiver.up.store(true, Ordering::SeqCst);
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn of_order(&self, number: &str) -> Vec<Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["data"]["order"]["number"] == number)
            .cloned()
            .collect()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if !r.up.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let secret = r
        .secret
        .lock()
        .unwrap()
        .clone()
        .expect("the secret is known");
    let webhook = standardwebhooks::Webhook::new(&secret).unwrap();
    if webhook.verify(&body, &headers).is_err() {
        *r.forged.lock().unwrap() += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        headers["webhook-id"].to_str().unwrap(),
        event["id"].as_str().unwrap(),
        "the webhook-id is the event's id"
    );
    r.events.lock().unwrap().push(event);
    StatusCode::NO_CONTENT
}

/// The hub's environment: the test's database, the sandbox, a fixed key.
fn env(url: &str, sandbox: &Sandbox) -> Vec<(&'static str, String)> {
    vec![
        ("CENPORTS_DATABASE_URL", url.to_owned()),
        (
            "CENPORTS_BIGCOMMERCE_API_URL",
            sandbox.base_url().to_owned(),
        ),
        (
            "CENPORTS_SECRET_KEY",
            base64::engine::general_purpose::STANDARD.encode(KEY),
        ),
        ("CENPORTS_LEASE_PERIOD", "2s".to_owned()),
        ("CENPORTS_LOG", "info".to_owned()),
    ]
}

fn command(vars: &[(&'static str, String)], args: &[&str]) -> std::process::Command {
    let mut command = common::cenports_command();
    command.args(args);
    for (name, value) in vars {
        command.env(name, value);
    }
    command
}

/// A free port: bound, read, released.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `cenports serve`, polling every second, on `port`.
fn serve(vars: &[(&'static str, String)], dir: &TempDir, port: u16) -> Running {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.0.join("serve.log"))
        .unwrap();
    let child = command(
        vars,
        &[
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--interval",
            "1s",
        ],
    )
    .stdout(Stdio::null())
    .stderr(log)
    .spawn()
    .unwrap();
    Running(child)
}

/// A sandbox store of 30 orders connected for [`EMAIL`], and a subscription of the receiver.
struct Setup {
    sandbox: Sandbox,
    hash: String,
    storage: Storage,
    vars: Vec<(&'static str, String)>,
    receiver: Receiver,
    subscription: SubscriptionId,
    dir: TempDir,
}

async fn setup(url: &str, seed: u64) -> Setup {
    let sandbox = Sandbox::start(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        SandboxConfig::default(),
    )
    .await
    .unwrap();
    let info = sandbox.create_store(StoreSpec {
        seed,
        orders: 30,
        products: 10,
        ..StoreSpec::default()
    });
    let storage = Storage::open(url).await.unwrap();
    let token = info.account("merchant-guide").unwrap().access_token.clone();
    common::save_store_for(&storage, EMAIL, sandbox.base_url(), &info, &token, &KEY).await;
    let vars = env(url, &sandbox);
    let (receiver, hook) = Receiver::start().await;
    let out = command(
        &vars,
        &[
            "subscriptions",
            "add",
            "--email",
            EMAIL,
            "--url",
            &hook,
            "--json",
        ],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{created}");
    *receiver.secret.lock().unwrap() = Some(secret);
    let dir = TempDir::create("events").unwrap();
    Setup {
        sandbox,
        hash: info.hash.clone(),
        storage,
        vars,
        receiver,
        subscription: SubscriptionId::from_raw(created["subscription"]["id"].as_i64().unwrap()),
        dir,
    }
}

impl Setup {
    /// The sandbox's orders in a status.
    fn orders_in(&self, status: u32) -> Vec<u64> {
        let mut ids = self
            .sandbox
            .with_store(&self.hash, |data, _| {
                data.orders
                    .values()
                    .filter(|o| o.status_id == status && !o.is_deleted)
                    .map(|o| o.id)
                    .collect::<Vec<_>>()
            })
            .unwrap();
        ids.sort();
        ids
    }

    fn set_status(&self, order: u64, status: u32) {
        self.sandbox
            .with_store(&self.hash, |data, events| {
                data.update_order(
                    order,
                    OrderUpdate {
                        status_id: Some(status),
                        ..OrderUpdate::default()
                    },
                    events,
                )
            })
            .unwrap()
            .unwrap();
    }

    /// Waits until the hub holds `order` in `state` (its events are then committed).
    async fn wait_for_state(&self, order: u64, state: &str, within: Duration) {
        let scope = self
            .storage
            .list_all_stores()
            .await
            .unwrap()
            .remove(0)
            .scope();
        wait_until(within, &format!("order {order} {state} in the hub"), || {
            let storage = self.storage.clone();
            async move {
                storage
                    .find_order_by_remote_id(&scope, &order.to_string())
                    .await
                    .unwrap()
                    .is_some_and(|o| o.summary.fulfilment_state.as_str() == state)
            }
        })
        .await;
    }

    async fn deliveries(&self, state: DeliveryState) -> usize {
        self.storage
            .list_deliveries(None, Some(self.subscription), Some(state), 1000, None)
            .await
            .unwrap()
            .len()
    }
}

async fn wait_until<F, Fut>(within: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

both_backends!(
    an_order_cancelled_at_the_store_reaches_the_subscriber_once_within_seconds,
    |ctx| {
        let s = setup(&ctx.url, 31).await;
        let ready = s.orders_in(11);
        assert!(ready.len() >= 2, "the store has ready orders: {ready:?}");
        let _hub = serve(&s.vars, &s.dir, free_port());

        // The first import announces every ready order, once (those awaiting fulfillment
        // are checked; orders awaiting shipment or pickup are ready too and announced as well).
        wait_until(
            Duration::from_secs(60),
            "the import's order.ready events",
            || {
                let r = s.receiver.clone();
                let ready = ready.clone();
                async move {
                    ready
                        .iter()
                        .all(|order| !r.of_order(&order.to_string()).is_empty())
                }
            },
        )
        .await;
        for order in &ready {
            let events = s.receiver.of_order(&order.to_string());
            assert_eq!(events.len(), 1, "order {order}: {events:?}");
            assert_eq!(events[0]["type"], "order.ready");
            assert!(!events[0]["data"]["order"]["lines"]
                .as_array()
                .unwrap()
                .is_empty());
        }

        let order = ready[0];
        s.set_status(order, 5);
        let cancelled_at = Instant::now();
        let took = wait_until(Duration::from_secs(20), "order.cancelled", || {
            let r = s.receiver.clone();
            async move {
                r.of_order(&order.to_string())
                    .iter()
                    .any(|e| e["type"] == "order.cancelled")
            }
        })
        .await;
        eprintln!("order.cancelled reached the subscriber {took:?} after the cancellation");
        // A few more polls: nothing more about it arrives.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let events = s.receiver.of_order(&order.to_string());
        let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["order.ready", "order.cancelled"], "{events:?}");
        let cancelled = &events[1];
        assert_eq!(cancelled["data"]["order"]["fulfilment_state"], "cancelled");
        assert_eq!(cancelled["data"]["order"]["previous_state"], "ready");
        assert!(cancelled_at.elapsed() < Duration::from_secs(20));
        assert_eq!(*s.receiver.forged.lock().unwrap(), 0);
        // Every event id arrived once.
        let mut ids: Vec<String> = s
            .receiver
            .events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        let all = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), all, "no event delivered twice");
        assert_eq!(s.deliveries(DeliveryState::Pending).await, 0);

        // A shipment written to the store: shipment.delivered, with its tracking number.
        let shipped = ready[1].to_string();
        let out = command(
            &s.vars,
            &[
                "ship",
                "--email",
                EMAIL,
                "--store",
                &s.hash,
                "--order",
                &shipped,
                "--carrier",
                "ups",
                "--tracking",
                "1Z999AA10123456784",
            ],
        )
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        wait_until(Duration::from_secs(20), "shipment.delivered", || {
            let r = s.receiver.clone();
            let shipped = shipped.clone();
            async move {
                r.of_order(&shipped)
                    .iter()
                    .any(|e| e["type"] == "shipment.delivered")
            }
        })
        .await;
        let delivered = s
            .receiver
            .of_order(&shipped)
            .into_iter()
            .find(|e| e["type"] == "shipment.delivered")
            .unwrap();
        assert_eq!(
            delivered["data"]["shipment"]["tracking_number"],
            "1Z999AA10123456784"
        );
        assert!(delivered["data"]["shipment"]["store_shipment_id"].is_string());

        // A stock push: stock.pushed, with the level sent.
        let sku = delivered["data"]["shipment"]["items"][0]["sku"]
            .as_str()
            .unwrap()
            .to_owned();
        for args in [
            vec![
                "stock", "set", "--email", EMAIL, "--store", &s.hash, &sku, "40",
            ],
            vec!["stock", "push", "--email", EMAIL, "--store", &s.hash],
        ] {
            let out = command(&s.vars, &args).output().unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        wait_until(Duration::from_secs(20), "stock.pushed", || {
            let r = s.receiver.clone();
            async move {
                r.events
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|e| e["type"] == "stock.pushed")
            }
        })
        .await;
        let pushed = s
            .receiver
            .events
            .lock()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "stock.pushed")
            .cloned()
            .unwrap();
        let skus = pushed["data"]["skus"].as_array().unwrap();
        assert!(skus.iter().any(|k| k["sku"] == sku.as_str()), "{pushed}");
        s.storage.close().await;
    }
);

both_backends!(
    a_subscriber_down_through_changes_and_a_hub_killed_before_delivering_gets_every_event_in_order,
    |ctx| {
        let s = setup(&ctx.url, 32).await;
        let ready = s.orders_in(11);
        assert!(!ready.is_empty());
        let port = free_port();
        let mut hub = serve(&s.vars, &s.dir, port);
        wait_until(Duration::from_secs(60), "the import delivered", || {
            let r = s.receiver.clone();
            let ready = ready.clone();
            async move {
                ready
                    .iter()
                    .all(|order| !r.of_order(&order.to_string()).is_empty())
            }
        })
        .await;

        // The receiver goes down; the order goes on hold, back to ready, and is cancelled,
        // each change seen by the hub (committed with its event) before the next.
        s.receiver.up.store(false, Ordering::SeqCst);
        let order = ready[0];
        for (status, state) in [(12, "on_hold"), (11, "ready"), (5, "cancelled")] {
            s.set_status(order, status);
            s.wait_for_state(order, state, Duration::from_secs(20))
                .await;
        }
        wait_until(
            Duration::from_secs(10),
            "the three deliveries pending",
            || {
                let s = &s;
                async move { s.deliveries(DeliveryState::Pending).await == 3 }
            },
        )
        .await;
        // Nothing was delivered while it was down, and it was tried.
        assert!(s.receiver.of_order(&order.to_string()).len() == 1);
        let subscription = s
            .storage
            .get_subscription(None, s.subscription)
            .await
            .unwrap();
        assert!(subscription.failures_in_a_row >= 1, "{subscription:?}");
        let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for line in [
            "cenports_event_deliveries{state=\"pending\"} 3",
            "cenports_event_subscriptions_failing 1",
        ] {
            assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
        }

        // SIGKILL: the events are committed, not delivered.
        hub.0.kill().unwrap();
        hub.0.wait().unwrap();
        s.receiver.up.store(true, Ordering::SeqCst);
        let _hub = serve(&s.vars, &s.dir, port);
        let took = wait_until(
            Duration::from_secs(40),
            "the three events after the restart",
            || {
                let r = s.receiver.clone();
                async move { r.of_order(&order.to_string()).len() >= 4 }
            },
        )
        .await;
        eprintln!("delivered {took:?} after the restart");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let events = s.receiver.of_order(&order.to_string());
        let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "order.ready",
                "order.on_hold",
                "order.ready",
                "order.cancelled"
            ],
            "every event once, in order: {events:?}"
        );
        assert_eq!(*s.receiver.forged.lock().unwrap(), 0);
        assert_eq!(s.deliveries(DeliveryState::Pending).await, 0);
        let subscription = s
            .storage
            .get_subscription(None, s.subscription)
            .await
            .unwrap();
        assert_eq!(subscription.failures_in_a_row, 0, "working again");
        s.storage.close().await;
    }
);
