//! Black-box tests of `cenports ship`, `order-status` and `outbox`: the real binary, configured
//! by `CENPORTS_*` variables only, against a sandbox store on a loopback port and a fresh
//! database (SQLite; PostgreSQL on 127.0.0.1:5432 for the `::postgres` variants, required when
//! `CI` is set, skipped with a notice otherwise).
//!
//! `soak_under_faults_and_kills` is the soak of the exactly-once promise: a few hundred
//! shipments delivered by two `cenports outbox --drain` processes on one database while the
//! sandbox injects lost answers, 5xx, resets, hangs and late application on POST, and the
//! processes are SIGKILLed at random moments; the sandbox must hold exactly one shipment per
//! shipping address of every order. It prints its figures (`--nocapture` to see them);
//! `CENPORTS_SOAK_ORDERS=3000` makes a long run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, soak, TempDir};
use bigcommerce_sandbox::credentials::credentials_txt;
use bigcommerce_sandbox::model::InventoryTracking as SbTracking;
use bigcommerce_sandbox::{
    fixtures, FaultKind, FaultRule, Plan, Sandbox, SandboxConfig, StoreInfo, StoreSpec,
};
use cenports::channel::bigcommerce::BigCommerce;
use cenports::fulfilment::{request_shipment, Carrier, ItemSpec, ShipmentRequest};
use cenports::storage::{OutboxState, Storage};
use chrono::{Duration as ChronoDuration, Utc};
use rand::Rng;
use serde_json::Value;
use tokio::net::TcpListener;

const EMAIL: &str = "ops@warehouse.example";

struct Hub {
    sandbox: Sandbox,
    store: StoreInfo,
    dir: TempDir,
    database_url: String,
    printed: std::sync::Mutex<Vec<u8>>,
}

impl Hub {
    async fn start(name: &str, database_url: Option<String>) -> Hub {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sandbox = Sandbox::start(listener, SandboxConfig::default())
            .await
            .unwrap();
        let store = sandbox.create_store(StoreSpec {
            products: 0,
            orders: 0,
            plan: Plan::Unlimited,
            name: Some("Harbour Supplies".into()),
            ..StoreSpec::default()
        });
        sandbox
            .with_store(&store.hash, |data, _| {
                for (name, sku) in [("Mug", "MUG-1"), ("Tee", "TEE-S")] {
                    data.add_product(fixtures::product(name, sku, SbTracking::None, 0, vec![]));
                }
            })
            .unwrap();
        let dir = TempDir::new(name);
        std::fs::create_dir_all(&dir.0).unwrap();
        let database_url =
            database_url.unwrap_or_else(|| format!("sqlite://{}", dir.0.join("hub.db").display()));
        Hub {
            sandbox,
            store,
            dir,
            database_url,
            printed: Default::default(),
        }
    }

    /// Places an order dated an hour ago (so a sync's settle delay does not hide it).
    fn place(&self, addresses: usize, lines: &[(&str, u32, usize)]) -> u64 {
        let mut order = fixtures::order(addresses, lines);
        order.date_created = Some(Utc::now() - ChronoDuration::hours(1));
        self.sandbox
            .with_store(&self.store.hash, |data, events| {
                data.place_order(order, events)
            })
            .unwrap()
            .unwrap()
    }

    /// BigCommerce on the sandbox: the channel whose rules a request is checked by.
    fn channel(&self) -> BigCommerce {
        BigCommerce::new(url::Url::parse(self.sandbox.base_url()).unwrap())
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = common::cenports_command();
        command
            .args(args)
            .env("CENPORTS_DATABASE_URL", &self.database_url)
            .env("CENPORTS_BIGCOMMERCE_API_URL", self.sandbox.base_url())
            .env("CENPORTS_KEY_FILE", self.dir.0.join("hub.key"))
            // Unknown outcomes are read back after 300 ms here, not the production 2 minutes.
            .env("CENPORTS_OUTBOX_QUIET_PERIOD", "300ms")
            .env("CENPORTS_OUTBOX_RECHECK_GAP", "100ms")
            .env("CENPORTS_LOG", "debug");
        command
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut command = tokio::process::Command::from(self.command(args));
        let output = tokio::time::timeout(Duration::from_secs(180), command.output())
            .await
            .expect("cenports finishes within 3 minutes")
            .expect("cenports runs");
        let mut printed = self.printed.lock().unwrap();
        printed.extend_from_slice(&output.stdout);
        printed.extend_from_slice(&output.stderr);
        output
    }

    async fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        assert!(
            output.status.success(),
            "cenports {args:?} failed:\n{}",
            text(&output)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Connects the store with its merchant-guide credentials and imports it.
    async fn connect_and_sync(&self) {
        let account = self.store.account("merchant-guide").unwrap();
        let path: PathBuf = self.dir.0.join("merchant-guide.txt");
        std::fs::write(
            &path,
            credentials_txt(account, &self.sandbox.api_path(&self.store.hash)),
        )
        .unwrap();
        self.ok(&[
            "connect",
            "--email",
            EMAIL,
            "--credentials-file",
            path.to_str().unwrap(),
        ])
        .await;
        self.ok(&["sync", "--store", &self.store.hash]).await;
    }

    fn fault(&self, rule: FaultRule) {
        self.sandbox
            .store(&self.store.hash)
            .unwrap()
            .faults
            .lock()
            .push(rule);
    }

    /// Every shipment in the sandbox: (order, shipment id, comments).
    fn shipments(&self) -> Vec<(u64, u64, String)> {
        self.sandbox
            .with_store(&self.store.hash, |data, _| {
                data.orders
                    .values()
                    .flat_map(|o| o.shipments.iter().map(|s| (o.id, s.id, s.comments.clone())))
                    .collect()
            })
            .unwrap()
    }

    /// POSTs to the shipments endpoint the sandbox saw (answered or not).
    fn shipment_posts(&self) -> usize {
        let store = self.sandbox.store(&self.store.hash).unwrap();
        let log = store.log.lock();
        log.since(0)
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/shipments"))
            .count()
    }

    /// Asserts no secret of the store's accounts was ever printed or logged.
    fn assert_no_secret_leaked(&self) {
        let printed = self.printed.lock().unwrap();
        for account in &self.store.accounts {
            for secret in [&account.access_token, &account.client_secret] {
                assert!(
                    !printed
                        .windows(secret.len())
                        .any(|w| w == secret.as_bytes()),
                    "a secret of {} was printed",
                    account.profile
                );
            }
        }
    }
}

fn text(output: &Output) -> String {
    format!(
        "status: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A fresh database: `None` for SQLite (the hub's default file), or a PostgreSQL URL with its
/// admin pool and name for dropping, or `Err(())` to skip.
async fn database(postgres: bool) -> Result<Option<(String, sqlx::PgPool, String)>, ()> {
    if !postgres {
        return Ok(None);
    }
    let admin_url = std::env::var("CENPORTS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = match sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&admin_url)
        .await
    {
        Ok(pool) => pool,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("PostgreSQL is required in CI but could not be reached: {e}")
        }
        Err(e) => {
            eprintln!("NOTICE: skipping a PostgreSQL CLI test, PostgreSQL is unreachable: {e}");
            return Err(());
        }
    };
    let suffix: String = {
        let mut rng = rand::thread_rng();
        (0..12)
            .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
            .collect()
    };
    let name = format!("cenports_test_ship_{suffix}");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create the test database");
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);
    Ok(Some((url.to_string(), admin, name)))
}

/// Runs `test` with a hub on SQLite or on a fresh PostgreSQL database, dropped afterwards.
async fn with_hub<F, Fut>(name: &str, postgres: bool, test: F)
where
    F: FnOnce(Hub) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Ok(db) = database(postgres).await else {
        return;
    };
    let hub = Hub::start(name, db.as_ref().map(|(url, _, _)| url.clone())).await;
    let result = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(test(hub))).await;
    if let Some((_, admin, name)) = db {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&admin)
            .await
            .expect("drop the test database");
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

// ------------------------------------------------------------------ what a merchant sees

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ship_prints_the_bigcommerce_shipment_and_refusals_exit_non_zero_with_the_reason() {
    with_hub("cli-ship", false, |hub| async move {
        let order = hub.place(1, &[("MUG-1", 3, 0), ("TEE-S", 1, 0)]);
        hub.connect_and_sync().await;
        let hash = hub.store.hash.clone();
        let order_arg = order.to_string();
        let ship = |tracking: &'static str, extra: &'static [&'static str]| {
            let mut args = vec![
                "ship",
                "--store",
                &hash,
                "--order",
                &order_arg,
                "--carrier",
                "canada-post",
                "--tracking",
                tracking,
            ];
            args.extend_from_slice(extra);
            args.into_iter().map(String::from).collect::<Vec<_>>()
        };
        let args = ship("CP1001", &["--item", "MUG-1=1"]);
        let stdout = hub
            .ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .await;
        let shipments = hub.shipments();
        assert_eq!(shipments.len(), 1);
        assert!(
            stdout.contains(&format!(
                "delivered: BigCommerce shipment {}",
                shipments[0].1
            )),
            "{stdout}"
        );

        // The same parcel reported again: nothing new.
        let stdout = hub
            .ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .await;
        assert!(stdout.contains("Already requested"), "{stdout}");
        assert_eq!(hub.shipments().len(), 1);

        // Refusals: non-zero, the reason, nothing queued.
        for (extra, expected) in [
            (&["--item", "MUG-1=5"][..], "2 left to ship"),
            (&["--item", "NOPE=1"][..], "no line with SKU \"NOPE\""),
        ] {
            let args = ship("CP1002", extra);
            let output = hub
                .run(&args.iter().map(String::as_str).collect::<Vec<_>>())
                .await;
            assert!(!output.status.success(), "{}", text(&output));
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains("refused, nothing was queued") && stderr.contains(expected),
                "{}",
                text(&output)
            );
        }
        // The tracking number and link: the core's one rule, the CLI's own flags named.
        for (tracking, extra, expected) in [
            ("CP\u{1}1003", &[][..], "--tracking has control characters"),
            ("CP\n1003", &[][..], "--tracking has control characters"),
            (" ", &[][..], "--tracking is required"),
            (
                "CP1003",
                &["--tracking-link", "javascript:alert(1)"][..],
                "--tracking-link must be an absolute http:// or https:// URL",
            ),
        ] {
            let args = ship(tracking, extra);
            let output = hub
                .run(&args.iter().map(String::as_str).collect::<Vec<_>>())
                .await;
            assert!(!output.status.success(), "{}", text(&output));
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains("refused, nothing was queued") && stderr.contains(expected),
                "{}",
                text(&output)
            );
        }
        assert_eq!(hub.shipments().len(), 1);
        let output = hub
            .run(&[
                "ship",
                "--store",
                &hash,
                "--order",
                &order_arg,
                "--carrier",
                "canda-post",
                "--tracking",
                "X",
            ])
            .await;
        assert!(!output.status.success());
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("custom:<name>"),
            "{}",
            text(&output)
        );

        // BigCommerce down: the request stays queued and ship says so (exit 0: it is durable).
        hub.fault(FaultRule {
            method: Some("POST".into()),
            ..FaultRule::always(FaultKind::Error503)
        });
        let stdout = hub
            .ok(&[
                "ship",
                "--store",
                &hash,
                "--order",
                &order_arg,
                "--carrier",
                "custom:Speedy Couriers",
                "--tracking",
                "SP1",
                "--item",
                "TEE-S=1",
                "--patience",
                "0s",
            ])
            .await;
        assert!(
            stdout.contains("sending: queued") && stdout.contains("outbox --drain"),
            "{stdout}"
        );
        hub.sandbox.store(&hash).unwrap().faults.lock().clear();
        let json: Value = serde_json::from_str(
            &hub.ok(&["outbox", "--drain", "--json", "--retry-base", "50ms"])
                .await,
        )
        .unwrap();
        assert_eq!(json["counts"]["delivered"], 2, "{json}");
        assert_eq!(
            json["counts"]["pending"].as_i64().unwrap()
                + json["counts"]["sending"].as_i64().unwrap(),
            0
        );
        let shipments = hub.shipments();
        assert_eq!(
            shipments.len(),
            2,
            "the 503s were not applied; one shipment each"
        );
        let method = hub
            .sandbox
            .with_store(&hash, |data, _| {
                data.orders[&order].shipments[1].shipping_method.clone()
            })
            .unwrap();
        assert_eq!(method, "Speedy Couriers");

        // Status change, then the hub's orders show it.
        let stdout = hub
            .ok(&[
                "order-status",
                "--store",
                &hash,
                "--order",
                &order_arg,
                "--to",
                "on-hold",
            ])
            .await;
        assert!(
            stdout.contains("the order is now Manual Verification Required"),
            "{stdout}"
        );
        let orders: Vec<Value> =
            serde_json::from_str(&hub.ok(&["orders", "--email", EMAIL, "--json"]).await).unwrap();
        assert_eq!(orders[0]["status_code"], "12", "{orders:?}");
        hub.assert_no_secret_leaked();
    })
    .await;
}

/// `cenports outbox --retry ID`: a failed row back in the queue and, with `--drain`, delivered
/// once; unknown or delivered rows are refused with what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_retry_queues_a_failed_row_again_and_drain_delivers_it_once() {
    with_hub("cli-retry", false, |hub| async move {
        let order = hub.place(1, &[("MUG-1", 1, 0)]);
        hub.connect_and_sync().await;
        let storage = Storage::open(&hub.database_url).await.unwrap();
        let store = storage.list_all_stores().await.unwrap().remove(0);
        let request = ShipmentRequest {
            order_remote_id: order.to_string(),
            carrier: Carrier::Ups,
            tracking_number: "1ZAGAIN".into(),
            tracking_link: None,
            shipped_at: None,
            items: vec![],
            request_key: None,
        };
        let row = request_shipment(&storage, &store, &hub.channel(), &request)
            .await
            .unwrap()
            .rows[0]
            .id;
        // Refused once (as the worker records a refusal).
        storage
            .claim_outbox(None, "refused", Duration::from_secs(10))
            .await
            .unwrap()
            .unwrap();
        assert!(storage
            .fail_outbox(row, "refused", "BigCommerce rejected it: on hold")
            .await
            .unwrap());
        let listing = hub.ok(&["outbox"]).await;
        assert!(
            listing.contains("1 failed") && listing.contains("cenports outbox --retry ID"),
            "{listing}"
        );

        let id = row.get().to_string();
        let out = hub
            .ok(&["outbox", "--retry", &id, "--drain", "--json"])
            .await;
        let report: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(report["drain"]["delivered_sent"], 1, "{report}");
        assert_eq!(report["counts"]["failed"], 0, "{report}");
        assert_eq!(hub.shipments().len(), 1);

        let delivered = hub.run(&["outbox", "--retry", &id]).await;
        assert!(!delivered.status.success());
        assert!(
            text(&delivered).contains("was delivered to the store already"),
            "{}",
            text(&delivered)
        );
        let missing = hub.run(&["outbox", "--retry", "987654"]).await;
        assert!(!missing.status.success());
        assert!(
            text(&missing).contains("no outbox row 987654"),
            "{}",
            text(&missing)
        );
        assert_eq!(hub.shipments().len(), 1, "nothing sent twice");
        storage.close().await;
        hub.assert_no_secret_leaked();
    })
    .await;
}

// ------------------------------------------------------------------ the soak

/// Orders in the soak (every third ships to two addresses, every third in two parcels to one
/// address, so about 1.67 shipments each);
/// `CENPORTS_SOAK_ORDERS` sets a longer run, e.g. 3000.
fn soak_orders() -> usize {
    std::env::var("CENPORTS_SOAK_ORDERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}

/// The soak of the exactly-once promise: a few hundred shipments queued, then delivered by two `cenports outbox
/// --drain` processes on one database while the sandbox loses answers to applied POSTs, answers
/// 5xx, resets, hangs and applies POSTs late after a 504, and one of the processes is SIGKILLed
/// at random moments (and restarted). After the faults stop and the outbox drains: every order
/// has exactly one shipment per shipping address (two for the orders sent in two parcels), every
/// line is shipped in full, no row failed. The two-parcel orders are the ones a second POST of a
/// late-applied parcel would visibly duplicate: the store takes it, since units remain.
async fn soak_under_faults_and_kills(postgres: bool) {
    let order_count = soak_orders();
    let name = if postgres { "soak-pg" } else { "soak-sqlite" };
    with_hub(name, postgres, |hub| async move {
        // Two mugs and a tee; every third order sends the tee to a second address, every third
        // goes in two parcels: one mug, then the rest. (order, addresses, shipments expected)
        let orders: Vec<(u64, usize, usize)> = (0..order_count)
            .map(|i| match i % 3 {
                0 => (hub.place(2, &[("MUG-1", 2, 0), ("TEE-S", 1, 1)]), 2, 2),
                1 => (hub.place(1, &[("MUG-1", 2, 0), ("TEE-S", 1, 0)]), 1, 2),
                _ => (hub.place(1, &[("MUG-1", 2, 0), ("TEE-S", 1, 0)]), 1, 1),
            })
            .collect();
        let expected_rows: usize = orders.iter().map(|(_, _, shipments)| shipments).sum();
        hub.connect_and_sync().await;

        // Each order shipped in full: one request (one outbox row per shipping address), or a
        // parcel of one mug and then one of the rest.
        let storage = Storage::open(&hub.database_url).await.unwrap();
        let store = storage.list_all_stores().await.unwrap().remove(0);
        let channel = hub.channel();
        for (order, addresses, shipments) in &orders {
            let one_mug = vec![ItemSpec::Sku {
                sku: "MUG-1".into(),
                quantity: 1,
            }];
            let parcels = if shipments > addresses {
                vec![one_mug, vec![]]
            } else {
                vec![vec![]]
            };
            for (n, items) in parcels.into_iter().enumerate() {
                let request = ShipmentRequest {
                    order_remote_id: order.to_string(),
                    carrier: Carrier::Ups,
                    tracking_number: format!("1Z{order}P{n}"),
                    tracking_link: None,
                    shipped_at: None,
                    items,
                    request_key: None,
                };
                request_shipment(&storage, &store, &channel, &request)
                    .await
                    .unwrap();
            }
        }
        let rows = storage.list_outbox(None, false, 100_000).await.unwrap();
        assert_eq!(rows.len(), expected_rows);

        // Faults on the shipment POST: answers lost after the effect, refusals and hangs
        // before it, late application after a 504; and a slow read of the order between a
        // successful POST and its commit, so kills land in that window.
        let post = |kind, probability, after_effect| FaultRule {
            probability,
            method: Some("POST".into()),
            path_contains: Some("/shipments".into()),
            after_effect,
            latency_ms: Some(1_500),
            ..FaultRule::always(kind)
        };
        let faults = [
            post(FaultKind::Error500, 0.04, true),
            post(FaultKind::Error502, 0.03, true),
            post(FaultKind::Reset, 0.04, true),
            post(FaultKind::Hang, 0.03, true),
            post(FaultKind::Error503, 0.03, false),
            post(FaultKind::Reset, 0.03, false),
            post(FaultKind::Hang, 0.02, false),
            FaultRule {
                latency_ms: Some(0),
                apply_after_ms: Some(800),
                ..post(FaultKind::LateApply, 0.08, false)
            },
            FaultRule {
                probability: 0.5,
                method: Some("GET".into()),
                latency_ms: Some(80),
                ..FaultRule::always(FaultKind::Latency)
            },
        ];
        for rule in faults {
            hub.fault(rule);
        }

        // Two drainers, one killed now and then, until every row is delivered. A row caught
        // between its send and its commit has a shipment carrying its marker. Without the
        // quiet period and the recheck gap, the read-backs would come before the late
        // applications and POST again.
        let soak::Kills {
            kills,
            caught_between_send_and_commit: crash_window_hits,
            elapsed,
        } = soak::drain_with_kills(
            &storage,
            expected_rows,
            order_count as u64,
            || {
                let child = hub
                    .command(&soak::DRAIN_ARGS)
                    .env("CENPORTS_LOG", "warn")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                soak::Drainer::new(child)
            },
            || {
                hub.sandbox
                    .store(&hub.store.hash)
                    .unwrap()
                    .faults
                    .lock()
                    .clear()
            },
            || {
                hub.shipments()
                    .into_iter()
                    .filter_map(|s| s.2.strip_prefix("cenports:")?.parse().ok())
                    .collect()
            },
        )
        .await;

        // No row failed, none left.
        let counts = storage.count_outbox(None).await.unwrap();
        assert_eq!(
            (counts.delivered, counts.open(), counts.failed),
            (expected_rows as i64, 0, 0),
            "{counts:?}"
        );
        // Every order: one shipment per shipping address, each line shipped in full.
        let sandbox_orders = hub
            .sandbox
            .with_store(&hub.store.hash, |data, _| {
                orders
                    .iter()
                    .map(|(id, _, _)| data.orders[id].clone())
                    .collect::<Vec<_>>()
            })
            .unwrap();
        for ((id, addresses, shipments), order) in orders.iter().zip(&sandbox_orders) {
            let shipped_to: BTreeSet<u64> =
                order.shipments.iter().map(|s| s.order_address_id).collect();
            assert_eq!(
                (order.shipments.len(), shipped_to.len()),
                (*shipments, *addresses),
                "order {id}: one shipment per shipping address and parcel"
            );
            for line in &order.lines {
                let shipped: u32 = order
                    .shipments
                    .iter()
                    .flat_map(|s| &s.items)
                    .filter(|i| i.order_product_id == line.id)
                    .map(|i| i.quantity)
                    .sum();
                assert_eq!(
                    shipped, line.quantity,
                    "order {id}: line {} in full",
                    line.id
                );
            }
            assert_eq!(order.status_id, 2, "order {id} is Shipped");
        }
        // One shipment per outbox row, found by its marker, and nothing else.
        let shipments = hub.shipments();
        let mut by_marker: BTreeMap<String, usize> = BTreeMap::new();
        for (_, _, comments) in &shipments {
            *by_marker.entry(comments.clone()).or_default() += 1;
        }
        let rows = storage.list_outbox(None, false, 100_000).await.unwrap();
        for row in &rows {
            assert_eq!(
                by_marker.get(&format!("cenports:{}", row.id.get())),
                Some(&1),
                "row {} has exactly one shipment",
                row.id.get()
            );
        }
        assert_eq!(shipments.len(), rows.len());
        // And the hub says what the store says.
        for (id, _, _) in &orders {
            let held = storage
                .find_order_by_remote_id(&store.scope(), &id.to_string())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(held.summary.status_code, "2", "order {id}");
            for line in &held.lines {
                assert_eq!(line.quantity_shipped, line.quantity, "order {id}");
            }
        }

        let sandbox_store = hub.sandbox.store(&hub.store.hash).unwrap();
        let log = sandbox_store.log.lock().since(0);
        let posts: Vec<_> = log
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/shipments"))
            .collect();
        let mut post_faults: BTreeMap<String, usize> = BTreeMap::new();
        for fault in posts.iter().filter_map(|r| r.fault.clone()) {
            *post_faults.entry(fault).or_default() += 1;
        }
        let found = rows
            .iter()
            .filter(|r| r.delivered_by == Some(cenports::storage::DeliveredBy::Found))
            .count();
        let attempts: i64 = rows.iter().map(|r| i64::from(r.attempts)).sum();
        println!(
            "soak ({}): {} orders, {} shipments in {:.1} s; {} POSTs; faults on POST {:?}; {} \
             rows found on read-back; {} claims beyond the first; {} kills, {} rows sent but not \
             recorded when killed; duplicates: 0",
            if postgres { "PostgreSQL" } else { "SQLite" },
            orders.len(),
            rows.len(),
            elapsed.as_secs_f64(),
            posts.len(),
            post_faults,
            found,
            attempts - rows.len() as i64,
            kills,
            crash_window_hits,
        );
        assert!(
            post_faults.contains_key("LateApply"),
            "late applications must have been injected: {post_faults:?}"
        );
        assert!(
            found > 0,
            "answers lost after the effect must have been found on read-back"
        );
        assert!(
            crash_window_hits > 0,
            "a kill must have landed between send and commit ({kills} kills)"
        );
        storage.close().await;
        hub.assert_no_secret_leaked();
    })
    .await;
}

mod soak_two_processes_faults_and_kills_never_ship_twice {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::soak_under_faults_and_kills(false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::soak_under_faults_and_kills(true).await;
    }
}

// ------------------------------------------------------------------ `cenports worker`

/// Sends SIGTERM to `child` and returns its exit status (within 30 s).
async fn terminate(child: &mut tokio::process::Child) -> std::process::ExitStatus {
    let pid = child.id().expect("the worker is running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the worker stops within 30 s of SIGTERM")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_delivers_a_queued_shipment_and_stops_on_sigterm_with_exit_0() {
    with_hub("cli-worker", false, |hub| async move {
        let order = hub.place(1, &[("MUG-1", 2, 0)]);
        hub.connect_and_sync().await;
        let stdout = hub
            .ok(&[
                "ship",
                "--store",
                &hub.store.hash,
                "--order",
                &order.to_string(),
                "--carrier",
                "ups",
                "--tracking",
                "1ZWORKER1",
                "--queue-only",
            ])
            .await;
        assert!(stdout.contains("queued"), "{stdout}");
        assert!(hub.shipments().is_empty(), "--queue-only sent nothing");

        let mut worker = tokio::process::Command::from(hub.command(&["worker"]))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while hub.shipments().is_empty() {
            assert!(
                Instant::now() < deadline,
                "the worker did not deliver the shipment in 60 s"
            );
            assert!(worker.try_wait().unwrap().is_none(), "the worker ended");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let shipments = hub.shipments();
        assert_eq!(shipments.len(), 1);
        assert_eq!(shipments[0].0, order);

        let status = terminate(&mut worker).await;
        assert!(status.success(), "{status:?}");
        let mut out = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut worker.stdout.take().unwrap(), &mut out)
            .await
            .unwrap();
        assert!(out.contains("no HTTP listener"), "{out}");
        assert!(out.contains("Polling: on"), "{out}");

        // The hub recorded the delivery: nothing left to send, and the same parcel is not
        // sent again.
        let json: Value = serde_json::from_str(&hub.ok(&["outbox", "--json"]).await).unwrap();
        assert_eq!(json["counts"]["delivered"], 1, "{json}");
        assert_eq!(json["counts"]["pending"], 0, "{json}");
        assert_eq!(hub.shipments().len(), 1);
    })
    .await;
}

/// Two `cenports worker` processes on one database share a queue of shipments; the outbox's
/// leases let each row be sent by one of them only.
async fn two_workers_send_each_shipment_once(postgres: bool) {
    const ORDERS: usize = 30;
    let name = if postgres {
        "cli-workers-pg"
    } else {
        "cli-workers"
    };
    with_hub(name, postgres, |hub| async move {
        let orders: Vec<u64> = (0..ORDERS)
            .map(|_| hub.place(1, &[("MUG-1", 1, 0)]))
            .collect();
        hub.connect_and_sync().await;
        let storage = Storage::open(&hub.database_url).await.unwrap();
        let store = storage.list_all_stores().await.unwrap().remove(0);
        let channel = hub.channel();
        for order in &orders {
            let request = ShipmentRequest {
                order_remote_id: order.to_string(),
                carrier: Carrier::Ups,
                tracking_number: format!("1Z{order}"),
                tracking_link: None,
                shipped_at: None,
                items: vec![],
                request_key: None,
            };
            request_shipment(&storage, &store, &channel, &request)
                .await
                .unwrap();
        }
        // Slow POSTs, so both workers are busy at the same time.
        hub.fault(FaultRule {
            method: Some("POST".into()),
            path_contains: Some("/shipments".into()),
            latency_ms: Some(100),
            ..FaultRule::always(FaultKind::Latency)
        });

        let spawn = || {
            tokio::process::Command::from(hub.command(&["worker", "--no-poll"]))
                .env("CENPORTS_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap()
        };
        let mut workers = [spawn(), spawn()];
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let counts = storage.count_outbox(None).await.unwrap();
            if counts.delivered == ORDERS as i64 {
                break;
            }
            assert!(Instant::now() < deadline, "stuck at {counts:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for worker in &mut workers {
            let status = terminate(worker).await;
            assert!(status.success(), "{status:?}");
        }

        let shipments = hub.shipments();
        assert_eq!(shipments.len(), ORDERS, "one shipment per order");
        let shipped: BTreeSet<u64> = shipments.iter().map(|s| s.0).collect();
        assert_eq!(shipped, orders.iter().copied().collect());
        let posts = hub
            .sandbox
            .store(&hub.store.hash)
            .unwrap()
            .log
            .lock()
            .since(0)
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/shipments"))
            .count();
        assert_eq!(posts, ORDERS, "one POST per shipment across both workers");
    })
    .await;
}

mod two_workers_on_one_database_send_each_shipment_once {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::two_workers_send_each_shipment_once(false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::two_workers_send_each_shipment_once(true).await;
    }
}

// ------------------------------------------------------------------ clock skew between hosts

/// The `faketime` program (Debian's package `faketime`), or `None` with a notice; under CI its
/// absence fails the test.
fn faketime() -> Option<&'static str> {
    let found = std::process::Command::new("faketime")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "faketime is missing: apt-get install faketime (.ci/run does)"
        );
        eprintln!("NOTICE: skipping the clock-skew test, faketime is not installed");
        return None;
    }
    Some("faketime")
}

/// Two hosts on one PostgreSQL database, the second with its clock an hour ahead: while the
/// first worker's POST is in flight, the second must not take the row (its lease is measured on
/// the database's clock, not on either host's), so the shipment is POSTed once. SQLite is one
/// machine and one clock, so this is a PostgreSQL test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_clock_runs_an_hour_ahead_does_not_take_a_row_in_flight() {
    let Some(faketime) = faketime() else {
        return;
    };
    with_hub("cli-skew", true, |hub| async move {
        let order = hub.place(1, &[("MUG-1", 1, 0)]);
        hub.connect_and_sync().await;
        let storage = Storage::open(&hub.database_url).await.unwrap();
        let store = storage.list_all_stores().await.unwrap().remove(0);
        let request = ShipmentRequest {
            order_remote_id: order.to_string(),
            carrier: Carrier::Ups,
            tracking_number: "1ZSKEW".into(),
            tracking_link: None,
            shipped_at: None,
            items: vec![],
            request_key: None,
        };
        request_shipment(&storage, &store, &hub.channel(), &request)
            .await
            .unwrap();
        // The store takes 4 s to answer the POST (and then applies it).
        hub.fault(FaultRule {
            count: Some(1),
            method: Some("POST".into()),
            path_contains: Some("/shipments".into()),
            latency_ms: Some(4_000),
            ..FaultRule::always(FaultKind::Latency)
        });
        let drain = [
            "outbox",
            "--drain",
            "--json",
            "--lease",
            "10s",
            "--request-timeout",
            "8s",
            "--patience",
            "0s",
        ];
        let first = tokio::process::Command::from(hub.command(&drain))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // Once the first worker's POST is in flight, a worker on a host an hour ahead.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let rows = storage.list_outbox(None, true, 10).await.unwrap();
            if rows.iter().any(|r| r.state == OutboxState::Sending) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the first worker never sent: {rows:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // (`sending` is committed just before the POST leaves.)
        tokio::time::sleep(Duration::from_millis(300)).await;
        let plain = hub.command(&drain);
        let mut skewed = std::process::Command::new(faketime);
        skewed
            .args(["-f", "+1h"])
            .arg(plain.get_program())
            .args(plain.get_args())
            .envs(plain.get_envs().filter_map(|(k, v)| Some((k, v?))))
            // Only the wall clock is an hour ahead; timers and timeouts run as usual.
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .stdin(Stdio::null());
        let second = tokio::time::timeout(
            Duration::from_secs(60),
            tokio::process::Command::from(skewed).output(),
        )
        .await
        .expect("the skewed worker finishes")
        .unwrap();
        let first = first.wait_with_output().await.unwrap();
        assert!(first.status.success(), "{first:?}");
        assert!(second.status.success(), "{second:?}");
        let report = |output: &Output| -> Value {
            serde_json::from_slice::<Value>(&output.stdout).unwrap()["drain"].clone()
        };
        let (first, second) = (report(&first), report(&second));
        assert_eq!(
            first["lease_lost"], 0,
            "the row was taken from under the first worker: {first} {second}"
        );
        assert_eq!(second["sends"], 0, "the skewed worker sent: {second}");
        assert_eq!(first["delivered_sent"], 1, "{first}");
        assert_eq!(hub.shipment_posts(), 1, "one POST in all");
        assert_eq!(hub.shipments().len(), 1, "one shipment in the store");
        storage.close().await;
    })
    .await;
}

// ------------------------------------------------------------------ `cenports ship-import`

/// A bulk import: a file with bad rows is refused whole, each bad row named by its line and
/// nothing queued; a good file ships every parcel once (rows of one order and tracking number
/// are one parcel; no SKU ships what remains, to every address); the same file again ships
/// nothing.
async fn ship_import_is_all_or_nothing_and_ships_each_parcel_once(postgres: bool) {
    let name = if postgres {
        "ship-import-pg"
    } else {
        "ship-import"
    };
    with_hub(name, postgres, |hub| async move {
        let one = hub.place(1, &[("MUG-1", 3, 0), ("TEE-S", 1, 0)]);
        let two = hub.place(2, &[("MUG-1", 1, 0), ("TEE-S", 2, 1)]);
        let three = hub.place(1, &[("TEE-S", 2, 0)]);
        hub.connect_and_sync().await;
        let hash = hub.store.hash.clone();
        let bad = hub.dir.0.join("bad.csv");
        std::fs::write(
            &bad,
            format!(
                "order,carrier,tracking,sku,quantity\n\
                 {one},canada-post,CP1,MUG-1,2\n\
                 {one},canada-post,CP1,NOPE,1\n\
                 999999,ups,Z1,,\n\
                 {two},pigeon,P1,,\n\
                 {three},ups,Z3,TEE-S,5\n\
                 {three},ups,,TEE-S,1\n"
            ),
        )
        .unwrap();
        let output = hub
            .run(&["ship-import", "--store", &hash, bad.to_str().unwrap()])
            .await;
        assert!(!output.status.success(), "{}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        for expected in [
            "refused, nothing was queued",
            "5 bad row(s)",
            "line 3: order",
            "no line with SKU \"NOPE\"",
            "line 4: order 999999 is not in the hub",
            "line 5: unknown carrier \"pigeon\"",
            "line 6: SKU TEE-S on order",
            "line 7: tracking is required",
        ] {
            assert!(stderr.contains(expected), "{expected}: {}", text(&output));
        }
        assert!(!stderr.contains("line 2:"), "line 2 is good: {stderr}");
        let storage = Storage::open(&hub.database_url).await.unwrap();
        assert!(
            storage
                .list_outbox(None, false, 100)
                .await
                .unwrap()
                .is_empty(),
            "nothing queued"
        );
        assert_eq!(hub.shipment_posts(), 0);

        let good = hub.dir.0.join("good.csv");
        std::fs::write(
            &good,
            format!(
                "order,carrier,tracking,sku,quantity,shipped_at\n\
                 {one},canada-post,CP1,MUG-1,2,2026-12-01\n\
                 {one},Canada Post,CP1,TEE-S,1,\n\
                 {one},canada-post,CP2,MUG-1,1,\n\
                 {two},ups,Z2,,,\n\
                 {three},ups,Z3,TEE-S,1,\n\
                 {three},ups,Z4,,,\n"
            ),
        )
        .unwrap();
        let args = ["ship-import", "--store", &hash, good.to_str().unwrap()];
        let stdout = hub.ok(&args).await;
        assert!(
            stdout.contains("Shipped 5, already shipped 0, refused 0 parcel(s)."),
            "{stdout}"
        );
        let shipments = hub.shipments();
        // CP1, CP2, Z2 to each of two addresses, Z3, Z4.
        assert_eq!(shipments.len(), 6, "{shipments:?}");
        let per_order = |order: u64| shipments.iter().filter(|s| s.0 == order).count();
        assert_eq!(
            (per_order(one), per_order(two), per_order(three)),
            (2, 2, 2)
        );
        let posts = hub.shipment_posts();

        // The same file again: nothing new anywhere.
        let stdout = hub.ok(&args).await;
        assert!(
            stdout.contains("Shipped 0, already shipped 5, refused 0 parcel(s)."),
            "{stdout}"
        );
        assert_eq!(hub.shipments().len(), 6);
        assert_eq!(hub.shipment_posts(), posts, "no POST for a re-upload");
        let rows = storage.list_outbox(None, false, 100).await.unwrap();
        assert_eq!(rows.len(), 6, "one outbox row per address and parcel");
        assert!(rows.iter().all(|r| r.state == OutboxState::Delivered));
        storage.close().await;
        hub.assert_no_secret_leaked();
    })
    .await;
}

mod ship_import_refuses_a_bad_file_whole_and_ships_a_good_one_once {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::ship_import_is_all_or_nothing_and_ships_each_parcel_once(false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::ship_import_is_all_or_nothing_and_ships_each_parcel_once(true).await;
    }
}

// ------------------------------------------------------------------ `cenports orders export`

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_export_writes_one_row_per_line_and_pick_list_sums_what_remains() {
    with_hub("orders-export", false, |hub| async move {
        let one = hub.place(1, &[("MUG-1", 3, 0), ("TEE-S", 1, 0)]);
        let two = hub.place(2, &[("MUG-1", 1, 0), ("TEE-S", 2, 1)]);
        hub.connect_and_sync().await;
        let hash = hub.store.hash.clone();
        // One mug of the first order ships: 2 remain.
        hub.ok(&[
            "ship",
            "--store",
            &hash,
            "--order",
            &one.to_string(),
            "--carrier",
            "ups",
            "--tracking",
            "1Z1",
            "--item",
            "MUG-1=1",
        ])
        .await;
        hub.ok(&["sync", "--store", &hash]).await;
        let csv = hub.ok(&["orders", "export", "--store", &hash]).await;
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].starts_with("order,date,status,customer,"), "{csv}");
        assert_eq!(lines.len(), 5, "a header and four order lines: {csv}");
        let mug_of_one = lines
            .iter()
            .find(|l| l.starts_with(&format!("{one},")) && l.contains(",MUG-1,"))
            .unwrap();
        assert!(mug_of_one.ends_with(",3,2"), "{mug_of_one}");
        let json = hub
            .ok(&["orders", "export", "--store", &hash, "--format", "json"])
            .await;
        assert_eq!(json.lines().count(), 4, "{json}");
        let row: Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
        assert_eq!(row["order"], one.to_string());

        let pick = hub.ok(&["orders", "pick-list", "--store", &hash]).await;
        assert_eq!(
            pick, "sku,name,quantity,orders,bin\nMUG-1,Mug,3,2,\nTEE-S,Tee,3,2,\n",
            "2 + 1 mugs and 1 + 2 tees remain, on two orders each"
        );
        let _ = two;
        // The list itself still works.
        let listed = hub.ok(&["orders", "--email", EMAIL, "--json"]).await;
        assert!(listed.contains(&one.to_string()), "{listed}");
    })
    .await;
}
