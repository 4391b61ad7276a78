//! The hub as a fleet (`docs/ARCHITECTURE.md`, "Running as a fleet"): real `cenports worker`
//! processes on one database (PostgreSQL; SQLite where it says so), against a sandbox on a
//! loopback port. What the sandbox counted proves what the processes did:
//!
//! - two workers split the stores, walk each store once per interval (never twice), and when
//!   one is SIGKILLed the other syncs its stores within the lease period plus an interval; a
//!   SIGTERM gives the leases back at once;
//! - a webhook job queued before a SIGKILL (claimed and in flight, or waiting) runs after a
//!   restart;
//! - a store connected by two users is worked by one process on one quota: the sandbox never
//!   saw more requests in one of its windows than the share the hub takes.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bigcommerce_sandbox::{fixtures, FaultKind, FaultRule, Plan, RateLimit, Sandbox, StoreSpec};
use cenports::storage::{Accepted, JobKind, Storage, StoreRecord};
use futures::StreamExt as _;

use crate::common::{self, both_backends, Kind, TempDir};

const KEY: [u8; 32] = [9; 32];
const LEASE: &str = "3s";
const LEASE_PERIOD: Duration = Duration::from_secs(3);

fn spec(orders: usize, seed: u64, plan: Plan) -> StoreSpec {
    StoreSpec {
        orders,
        products: 5,
        seed,
        plan,
        ..StoreSpec::default()
    }
}

/// A `cenports worker` on `database_url`, paced for tests: leases of [`LEASE`].
fn worker(
    sandbox: &Sandbox,
    database_url: &str,
    dir: &TempDir,
    args: &[&str],
) -> tokio::process::Child {
    let mut command = common::cenports_command();
    command
        .arg("worker")
        .args(args)
        .env("CENPORTS_DATABASE_URL", database_url)
        .env("CENPORTS_BIGCOMMERCE_API_URL", sandbox.base_url())
        .env(
            "CENPORTS_SECRET_KEY",
            base64::engine::general_purpose::STANDARD.encode(KEY),
        )
        .env("CENPORTS_KEY_FILE", dir.0.join("unused.key"))
        .env("CENPORTS_LEASE_PERIOD", LEASE)
        .env(
            "CENPORTS_LOG",
            std::env::var("FLEET_TEST_LOG").unwrap_or("warn".into()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    tokio::process::Command::from(command)
        .kill_on_drop(true)
        .spawn()
        .expect("cenports worker starts")
}

/// SIGTERM, then the exit status (within 15 s).
async fn terminate(child: &mut tokio::process::Child) -> std::process::ExitStatus {
    let pid = child.id().expect("running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("the worker stops on SIGTERM")
        .unwrap()
}

/// The lease owner of every channel store, read from the database (`None`: free or expired).
async fn owners(storage: &Storage, stores: &[StoreRecord]) -> BTreeMap<String, Option<String>> {
    let mut owners = BTreeMap::new();
    for store in stores {
        let owner = storage
            .lease_owner(&store.channel, &store.remote_id)
            .await
            .unwrap();
        owners.insert(store.remote_id.clone(), owner);
    }
    owners
}

async fn wait_for<F, Fut>(within: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// When the sandbox saw each sync of `hash` start (each sync reads the store's clock once,
/// `GET /v2/time`), in epoch milliseconds.
fn walks(sandbox: &Sandbox, hash: &str) -> Vec<i64> {
    let store = sandbox.store(hash).unwrap();
    let log = store.log.lock();
    log.since(0)
        .iter()
        .filter(|r| r.path.ends_with("/v2/time"))
        .map(|r| r.at_ms)
        .collect()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

both_backends!(
    two_workers_split_the_stores_walk_each_once_per_interval_and_take_over_a_killed_ones,
    |ctx| {
        const STORES: usize = 16;
        let interval = Duration::from_secs(4);
        let sandbox = common::start_sandbox().await;
        let dir = TempDir::new("fleet-split");
        std::fs::create_dir_all(&dir.0).unwrap();
        let mut records = Vec::new();
        for n in 0..STORES {
            let info = sandbox.create_store(spec(10, 500 + n as u64, Plan::Unlimited));
            let token = info.account("merchant-guide").unwrap().access_token.clone();
            records.push(
                common::save_store(&ctx.storage, sandbox.base_url(), &info, &token, &KEY).await,
            );
        }
        let args = ["--interval", "4s", "--reconcile-interval", "0"];
        let mut a = worker(&sandbox, &ctx.url, &dir, &args);
        let mut b = worker(&sandbox, &ctx.url, &dir, &args);

        // The stores are split evenly between the two processes.
        let took = wait_for(Duration::from_secs(20), "an even split", || async {
            let owners = owners(&ctx.storage, &records).await;
            let mut per: BTreeMap<String, usize> = BTreeMap::new();
            for owner in owners.values() {
                match owner {
                    Some(owner) => *per.entry(owner.clone()).or_default() += 1,
                    None => return false,
                }
            }
            per.len() == 2 && per.values().all(|n| *n == STORES / 2)
        })
        .await;
        eprintln!("split evenly after {took:?}");
        // `cenports fleet` shows it to the operator.
        let output = common::cenports_command()
            .args(["fleet", "--json"])
            .env("CENPORTS_DATABASE_URL", &ctx.url)
            .env("CENPORTS_LEASE_PERIOD", LEASE)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let fleet: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(fleet["processes"].as_array().unwrap().len(), 2, "{fleet}");
        assert_eq!(fleet["stores_leased"], STORES as i64, "{fleet}");
        for process in fleet["processes"].as_array().unwrap() {
            assert_eq!(process["role"], "worker");
            assert_eq!(process["stores"], (STORES / 2) as i64, "{fleet}");
        }

        // Three intervals: every store walked about once per interval, never twice within one.
        let watched_from = now_ms();
        tokio::time::sleep(3 * interval).await;
        let watched_to = now_ms();
        let mut walks_in_window = 0;
        for record in &records {
            let times = walks(&sandbox, &record.remote_id);
            for pair in times.windows(2) {
                assert!(
                    pair[1] - pair[0] >= interval.as_millis() as i64 - 300,
                    "store {} walked twice within an interval: {times:?}",
                    record.remote_id
                );
            }
            let n = times
                .iter()
                .filter(|t| (watched_from..watched_to).contains(*t))
                .count();
            assert!(
                (2..=4).contains(&n),
                "store {}: {n} walks in 3 intervals",
                record.remote_id
            );
            walks_in_window += n;
        }
        eprintln!(
            "two workers: {walks_in_window} walks of {STORES} stores in 3 intervals (one walk \
             per store per interval: {})",
            STORES * 3
        );

        // SIGKILL one: its stores are synced again by the other within the lease period plus
        // one interval.
        let before = owners(&ctx.storage, &records).await;
        let a_pid = a.id().unwrap();
        a.kill().await.unwrap();
        let killed_at = now_ms();
        let a_id = before
            .values()
            .flatten()
            .find(|owner| owner.contains(&format!("-{a_pid}-")))
            .expect("the killed worker held stores")
            .clone();
        let orphans: Vec<&StoreRecord> = records
            .iter()
            .filter(|r| before[&r.remote_id].as_deref() == Some(a_id.as_str()))
            .collect();
        assert_eq!(orphans.len(), STORES / 2);
        let took = wait_for(
            LEASE_PERIOD + interval + Duration::from_secs(3),
            "the killed worker's stores synced by the other",
            || async {
                orphans
                    .iter()
                    .all(|r| walks(&sandbox, &r.remote_id).iter().any(|t| *t > killed_at))
            },
        )
        .await;
        eprintln!(
            "a killed worker's {} stores were synced again after {took:?}",
            orphans.len()
        );
        let after = owners(&ctx.storage, &records).await;
        assert!(
            after
                .values()
                .all(|o| o.as_deref().is_some_and(|o| o != a_id)),
            "{after:?}"
        );
        for record in &records {
            let times = walks(&sandbox, &record.remote_id);
            for pair in times.windows(2) {
                assert!(
                    pair[1] - pair[0] >= interval.as_millis() as i64 - 300,
                    "store {} walked twice within an interval around the kill: {times:?}",
                    record.remote_id
                );
            }
        }

        // SIGTERM: exit 0 and every lease given back at once.
        let status = terminate(&mut b).await;
        assert!(status.success(), "{status:?}");
        let left = owners(&ctx.storage, &records).await;
        assert!(left.values().all(Option::is_none), "{left:?}");
        assert!(ctx
            .storage
            .fleet_processes(LEASE_PERIOD)
            .await
            .unwrap()
            .is_empty());
        sandbox.shutdown();
    }
);

/// Orders in the hub for the store.
async fn holds(storage: &Storage, store: &StoreRecord, order: u64) -> bool {
    storage
        .find_order_by_remote_id(&store.scope(), &order.to_string())
        .await
        .unwrap()
        .is_some()
}

async fn jobs_claimed(url: &str) -> i64 {
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE claimed_by IS NOT NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE claimed_by IS NOT NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    }
}

both_backends!(
    a_job_queued_before_a_sigkill_runs_after_the_restart,
    |ctx| {
        let (storage, url) = (ctx.storage.clone(), ctx.url.clone());
        let sandbox = common::start_sandbox().await;
        let dir = TempDir::new("fleet-jobs");
        std::fs::create_dir_all(&dir.0).unwrap();
        let info = sandbox.create_store(spec(3, 77, Plan::Unlimited));
        let token = info.account("merchant-guide").unwrap().access_token.clone();
        let store = common::save_store(&storage, sandbox.base_url(), &info, &token, &KEY).await;
        let place = || {
            sandbox
                .with_store(&info.hash, |data, events| {
                    let sku = data.skus.keys().next().unwrap().clone();
                    data.place_order(fixtures::order(1, &[(sku.as_str(), 1, 0)]), events)
                })
                .unwrap()
                .unwrap()
        };
        let first = place();
        // The worker's fetch of the first order hangs, so the job is claimed and in flight when
        // the worker is killed.
        sandbox
            .store(&info.hash)
            .unwrap()
            .faults
            .lock()
            .push(FaultRule {
                latency_ms: Some(60_000),
                method: Some("GET".into()),
                path_contains: Some("/v2/orders".into()),
                count: Some(1),
                ..FaultRule::always(FaultKind::Latency)
            });
        let args = ["--no-poll"];
        let mut a = worker(&sandbox, &url, &dir, &args);
        wait_for(
            Duration::from_secs(15),
            "the worker holds the store",
            || async {
                storage
                    .lease_owner(&store.channel, &store.remote_id)
                    .await
                    .unwrap()
                    .is_some()
            },
        )
        .await;
        // What the receiver does with a callback: its receipt and its job, in one transaction.
        let expires = chrono::Utc::now() + chrono::Duration::hours(72);
        let queued = storage
            .accept_callback(
                store.id(),
                "msg-1",
                "store/order/created",
                expires,
                Some((JobKind::Order, &first.to_string())),
                1000,
            )
            .await
            .unwrap();
        assert_eq!(queued, Accepted::Queued);
        wait_for(Duration::from_secs(15), "the job claimed", || async {
            jobs_claimed(&url).await == 1
        })
        .await;
        a.kill().await.unwrap();
        assert!(!holds(&storage, &store, first).await);

        // A second callback while no process runs.
        let second = place();
        let queued = storage
            .accept_callback(
                store.id(),
                "msg-2",
                "store/order/created",
                expires,
                Some((JobKind::Order, &second.to_string())),
                1000,
            )
            .await
            .unwrap();
        assert_eq!(queued, Accepted::Queued);

        // After a restart both run: the in-flight one once its process's lease lapsed.
        let mut b = worker(&sandbox, &url, &dir, &args);
        let took = wait_for(
            LEASE_PERIOD + Duration::from_secs(10),
            "both orders in the hub",
            || async {
                holds(&storage, &store, first).await && holds(&storage, &store, second).await
            },
        )
        .await;
        eprintln!("the jobs ran {took:?} after the restart");
        wait_for(Duration::from_secs(5), "the queue empty", || async {
            storage.job_backlog(None).await.unwrap().is_empty() && jobs_claimed(&url).await == 0
        })
        .await;
        assert!(terminate(&mut b).await.success());
        sandbox.shutdown();
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_never_exceed_one_stores_share_of_its_quota_together() {
    common::run(Kind::Postgres, |ctx| async move {
        let sandbox = common::start_sandbox().await;
        let dir = TempDir::new("fleet-quota");
        std::fs::create_dir_all(&dir.0).unwrap();
        // A store with a small quota (20 requests per 2 s), connected by two users: both rows
        // must be imported, through its one quota.
        let info = sandbox.create_store(spec(3_000, 91, Plan::Standard));
        sandbox
            .store(&info.hash)
            .unwrap()
            .rate
            .lock()
            .set_limit(RateLimit {
                quota: Some(20),
                window_ms: 2_000,
            });
        let token = info.account("merchant-guide").unwrap().access_token.clone();
        let first = common::save_store(&ctx.storage, sandbox.base_url(), &info, &token, &KEY).await;
        let second = common::save_store_for(
            &ctx.storage,
            "buyer@example.com",
            sandbox.base_url(),
            &info,
            &token,
            &KEY,
        )
        .await;
        let expected = sandbox
            .with_store(&info.hash, |data, _| data.orders.len())
            .unwrap() as i64;
        let args = ["--interval", "1h", "--reconcile-interval", "0"];
        let mut a = worker(&sandbox, &ctx.url, &dir, &args);
        let mut b = worker(&sandbox, &ctx.url, &dir, &args);
        let took = wait_for(Duration::from_secs(120), "both users' imports", || async {
            ctx.storage.count_orders(&first.scope()).await.unwrap() == expected
                && ctx.storage.count_orders(&second.scope()).await.unwrap() == expected
        })
        .await;

        // The sandbox's own windows, replayed from its log: a window starts with the first
        // request after the previous one ended.
        let store = sandbox.store(&info.hash).unwrap();
        let log = store.log.lock().since(0);
        let mut windows: Vec<(i64, usize)> = Vec::new();
        for record in &log {
            match windows.last_mut() {
                Some((start, count)) if record.at_ms - *start < 2_000 => *count += 1,
                _ => windows.push((record.at_ms, 1)),
            }
        }
        let refused = log.iter().filter(|r| r.status == 429).count();
        let busiest = windows.iter().map(|(_, n)| *n).max().unwrap_or(0);
        eprintln!(
            "two users' imports of {expected} orders by two workers: {} requests in {took:?}, \
             {} windows, at most {busiest} requests in one (quota 20, the hub's share 16), \
             {refused} refused",
            log.len(),
            windows.len()
        );
        assert_eq!(refused, 0, "no request was refused for the quota");
        // The share is 80 % of the quota; the clock of the log and the sandbox's windows
        // differ by a request or two in flight at a window's edge.
        assert!(busiest <= 18, "at most the share per window: {windows:?}");
        assert!(terminate(&mut a).await.success());
        assert!(terminate(&mut b).await.success());
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_that_does_not_poll_leaves_the_stores_to_one_that_does() {
    common::run(Kind::Postgres, |ctx| async move {
        let sandbox = common::start_sandbox().await;
        let dir = TempDir::new("fleet-no-poll");
        std::fs::create_dir_all(&dir.0).unwrap();
        let mut records = Vec::new();
        for n in 0..4 {
            let info = sandbox.create_store(spec(2, 700 + n, Plan::Unlimited));
            let token = info.account("merchant-guide").unwrap().access_token.clone();
            records.push(
                common::save_store(&ctx.storage, sandbox.base_url(), &info, &token, &KEY).await,
            );
        }
        let held_by = |pid: u32| {
            let (storage, records) = (ctx.storage.clone(), records.clone());
            async move {
                owners(&storage, &records)
                    .await
                    .values()
                    .filter(|o| {
                        o.as_deref()
                            .is_some_and(|o| o.contains(&format!("-{pid}-")))
                    })
                    .count()
            }
        };
        // Alone, a process that does not poll works every store (webhooks, deliveries).
        let mut quiet = worker(&sandbox, &ctx.url, &dir, &["--no-poll"]);
        let quiet_pid = quiet.id().unwrap();
        wait_for(
            Duration::from_secs(10),
            "the quiet process holds every store",
            || async { held_by(quiet_pid).await == 4 },
        )
        .await;
        // A polling process takes them all: none is left where nobody polls it.
        let mut polling = worker(&sandbox, &ctx.url, &dir, &["--interval", "1h"]);
        let polling_pid = polling.id().unwrap();
        wait_for(
            Duration::from_secs(10),
            "the polling process holds every store",
            || async { held_by(polling_pid).await == 4 && held_by(quiet_pid).await == 0 },
        )
        .await;
        assert!(terminate(&mut polling).await.success());
        // Once no process polls, the quiet one takes the stores back.
        wait_for(
            Duration::from_secs(10),
            "the quiet process holds them again",
            || async { held_by(quiet_pid).await == 4 },
        )
        .await;
        assert!(terminate(&mut quiet).await.success());
        sandbox.shutdown();
    })
    .await;
}

/// Heartbeats of many stores overlap (each renews thousands of leases): two processes beating
/// at once must both succeed, never deadlock. The first `bench fleet` at 10,000 stores had one
/// of two overlapping heartbeats fail with "deadlock detected": each one's insert of the lease
/// rows waited on the rows the other had just renewed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_heartbeats_of_many_stores_at_once_both_succeed() {
    use cenports::channel::bigcommerce::CHANNEL;
    use cenports::channel::credentials::encrypt_credentials;
    use cenports::channel::Credentials;
    use cenports::storage::{NewStore, ProcessInfo, StoreProfile};
    use secrecy::SecretString;

    common::run(Kind::Postgres, |ctx| async move {
        const STORES: usize = 2_000;
        let secret_box = cenports::secrets::SecretBox::from_key_bytes(&KEY).unwrap();
        let user = ctx.storage.ensure_user("ops@example.com").await.unwrap();
        let credentials = Credentials {
            client_id: "id".into(),
            client_secret: SecretString::from("secret"),
            access_token: SecretString::from("token"),
        };
        let saves = (0..STORES).map(|n| {
            let storage = ctx.storage.clone();
            let credentials = encrypt_credentials(&secret_box, "store", &credentials);
            async move {
                storage
                    .save_store(
                        user.id,
                        &NewStore {
                            channel: CHANNEL.into(),
                            remote_id: format!("store{n:05}"),
                            api_base_url: "http://127.0.0.1:9/".into(),
                            profile: StoreProfile::default(),
                            credentials,
                        },
                    )
                    .await
                    .unwrap()
            }
        });
        futures::stream::iter(saves)
            .buffer_unordered(8)
            .collect::<Vec<_>>()
            .await;
        let process = |n: u32| ProcessInfo {
            id: format!("test-{n}"),
            role: "worker".into(),
            host: "test".into(),
            pid: i64::from(n),
            polls: true,
        };
        let (a, b) = (process(1), process(2));
        let lease = Duration::from_secs(30);
        // Both take their share first; then they beat at once, again and again.
        ctx.storage.rebalance_leases(&a, lease).await.unwrap();
        ctx.storage.rebalance_leases(&b, lease).await.unwrap();
        ctx.storage.rebalance_leases(&a, lease).await.unwrap();
        ctx.storage.rebalance_leases(&b, lease).await.unwrap();
        for round in 0..20 {
            let (ra, rb) = tokio::join!(
                ctx.storage.rebalance_leases(&a, lease),
                ctx.storage.rebalance_leases(&b, lease)
            );
            let (ra, rb) = (
                ra.unwrap_or_else(|e| {
                    panic!(
                        "round {round}, process a: {}",
                        cenports::sync::error_chain(&e)
                    )
                }),
                rb.unwrap_or_else(|e| {
                    panic!(
                        "round {round}, process b: {}",
                        cenports::sync::error_chain(&e)
                    )
                }),
            );
            assert_eq!(ra.held.len() + rb.held.len(), STORES, "round {round}");
        }
    })
    .await;
}
