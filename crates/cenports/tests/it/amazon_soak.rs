//! The soak of Amazon's write-back, as `cli_fulfilment`'s soak is BigCommerce's: a few hundred
//! packages queued through `request_shipment`, then confirmed by two real `cenports outbox
//! --drain` processes on one database while the Amazon sandbox (in this process, as the
//! BigCommerce soak's sandbox is) answers `confirmShipment` with 500, 503, dropped connections
//! and hangs, before the effect and after it (the package confirmed, the answer lost), and one of
//! the processes is SIGKILLed at random moments and started again. After the faults stop and the
//! outbox drains, Amazon must hold exactly one package per outbox row, its reference the row's
//! id, and every item shipped exactly as ordered (`docs/AMAZON.md`, "Fulfilment out").
//!
//! It prints its figures (`--nocapture`); `CENPORTS_SOAK_ORDERS=1500` makes a long run.

use std::collections::BTreeMap;
use std::process::Stdio;

use amazon_sandbox::{
    AmazonSandbox, AmazonSandboxConfig, FaultKind, FaultRule, FulfillmentChannel, NewOrder,
    NewOrderItem, OrderStatus,
};
use url::Url;

use cenports::channel::amazon::Amazon;
use cenports::channel::ShipmentPayload;
use cenports::fulfilment::{request_shipment, Carrier, ItemSpec, ShipmentRequest};
use cenports::storage::DeliveredBy;

use crate::common::soak::{self, Drainer, Kills};
use crate::common::{self, both_backends, TempDir};

/// Orders in the soak (every third in two packages, so about 1.33 packages each);
/// `CENPORTS_SOAK_ORDERS` sets a longer run, as for BigCommerce's soak.
fn soak_orders() -> usize {
    std::env::var("CENPORTS_SOAK_ORDERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}

/// Rates a thousand times Amazon's: `confirmShipment` at 2,000/s, `getOrder` at 500/s. The
/// soak is about faults and kills, not pacing.
const RATE_SCALE: f64 = 1000.0;

/// A `confirmShipment` fault: 500, 503, a dropped connection or a 1.5 s hang (the workers give
/// up after 600 ms), before the effect or after it.
fn confirm_fault(kind: FaultKind, probability: f64, after_effect: bool) -> FaultRule {
    FaultRule {
        probability,
        method: Some("POST".into()),
        path_contains: Some("/shipmentConfirmation".into()),
        after_effect,
        latency_ms: Some(1_500),
        ..FaultRule::always(kind)
    }
}

both_backends!(
    soak_two_processes_faults_and_kills_confirm_each_package_once,
    |ctx| {
        let order_count = soak_orders();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sandbox = AmazonSandbox::start(
            listener,
            AmazonSandboxConfig {
                rate_scale: RATE_SCALE,
                ..AmazonSandboxConfig::default()
            },
        )
        .await
        .unwrap();
        sandbox.set_rate_scale(RATE_SCALE);

        // Merchant-fulfilled orders awaiting shipment, of three SKUs: two of the first, one of
        // each other.
        let skus: Vec<String> = sandbox
            .listings()
            .into_iter()
            .take(3)
            .map(|l| l.sku)
            .collect();
        {
            let now = sandbox.state().clock.now();
            let mut account = sandbox.state().account.write();
            for sku in &skus {
                account.set_quantity(sku, 1_000_000, now).unwrap();
            }
        }
        let orders: Vec<String> = (0..order_count)
            .map(|_| {
                sandbox
                    .place_order(NewOrder {
                        fulfillment_channel: Some(FulfillmentChannel::Mfn),
                        items: vec![
                            NewOrderItem {
                                sku: skus[0].clone(),
                                quantity: 2,
                            },
                            NewOrderItem {
                                sku: skus[1].clone(),
                                quantity: 1,
                            },
                            NewOrderItem {
                                sku: skus[2].clone(),
                                quantity: 1,
                            },
                        ],
                        status: Some(OrderStatus::Unshipped),
                        purchase_date: None,
                    })
                    .unwrap()
                    .amazon_order_id
            })
            .collect();
        // Past Amazon's two-minute horizon, so the orders are searchable.
        sandbox.advance_clock(chrono::Duration::seconds(150));

        // The seller connected and imported by the binary, as an operator would.
        let dir = TempDir::create("amazon-soak").unwrap();
        let credentials = sandbox.write_credentials(&dir.0).unwrap();
        let command = |args: &[&str]| {
            let mut command = common::cenports_command();
            command
                .args(args)
                .env("CENPORTS_DATABASE_URL", &ctx.url)
                .env("CENPORTS_AMAZON_API_URL", sandbox.endpoint())
                .env("CENPORTS_AMAZON_AUTH_URL", sandbox.endpoint())
                .env("CENPORTS_KEY_FILE", dir.0.join("hub.key"))
                .env("CENPORTS_LOG", "warn");
            command
        };
        for args in [
            vec![
                "connect",
                "--channel",
                "amazon",
                "--email",
                "ops@warehouse.example",
                "--credentials-file",
                credentials.to_str().unwrap(),
            ],
            vec!["sync"],
        ] {
            let output = tokio::process::Command::from(command(&args))
                .output()
                .await
                .unwrap();
            assert!(
                output.status.success(),
                "cenports {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let store = ctx.storage.list_all_stores().await.unwrap().remove(0);
        assert_eq!(
            ctx.storage.count_orders(&store.scope()).await.unwrap(),
            order_count as i64
        );

        // Each order shipped in full: one package, or every third one package of one unit of
        // the first SKU and then one of the rest.
        let endpoint = Url::parse(sandbox.endpoint()).unwrap();
        let amazon = Amazon::new(endpoint.clone(), endpoint);
        for (i, order) in orders.iter().enumerate() {
            let parcels = if i % 3 == 0 {
                let one = ItemSpec::Sku {
                    sku: skus[0].clone(),
                    quantity: 1,
                };
                vec![vec![one], vec![]]
            } else {
                vec![vec![]]
            };
            for (n, items) in parcels.into_iter().enumerate() {
                let request = ShipmentRequest {
                    order_remote_id: order.clone(),
                    carrier: Carrier::CanadaPost,
                    tracking_number: format!("70{i:06}{n}"),
                    tracking_link: None,
                    shipped_at: None,
                    items,
                    request_key: None,
                };
                request_shipment(&ctx.storage, &store, &amazon, &request)
                    .await
                    .unwrap();
            }
        }
        let rows = ctx.storage.list_outbox(None, false, 100_000).await.unwrap();
        let expected_rows = order_count + order_count.div_ceil(3);
        assert_eq!(rows.len(), expected_rows);

        // Faults on confirmShipment: answers lost after the package was confirmed (500, 503,
        // a dropped connection, a hang past the workers' timeout), the same before it (nothing
        // confirmed), and a 503 whose package Amazon confirms 800 ms later (before the
        // drainers' 1.2 s quiet period ends); and a slow read of the order between a
        // confirmation and its commit, so that kills land in that window.
        let faults = [
            confirm_fault(FaultKind::Error500, 0.04, true),
            confirm_fault(FaultKind::Error503, 0.03, true),
            confirm_fault(FaultKind::Reset, 0.04, true),
            confirm_fault(FaultKind::Hang, 0.03, true),
            confirm_fault(FaultKind::Error500, 0.03, false),
            confirm_fault(FaultKind::Error503, 0.03, false),
            confirm_fault(FaultKind::Reset, 0.03, false),
            confirm_fault(FaultKind::Hang, 0.02, false),
            FaultRule {
                latency_ms: Some(800),
                ..confirm_fault(FaultKind::LateApply, 0.08, false)
            },
            FaultRule {
                probability: 0.5,
                method: Some("GET".into()),
                path_contains: Some("/orders/2026-01-01/orders/".into()),
                latency_ms: Some(80),
                ..FaultRule::always(FaultKind::Latency)
            },
        ];
        for rule in faults {
            sandbox.add_fault(rule);
        }

        // Two drainers, one killed now and then, until every row is delivered. A row caught
        // between its confirmation and its commit has a package of its reference at Amazon.
        let Kills {
            kills,
            caught_between_send_and_commit: crash_window_hits,
            elapsed,
        } = soak::drain_with_kills(
            &ctx.storage,
            expected_rows,
            order_count as u64,
            || {
                let child = command(&soak::DRAIN_ARGS)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                Drainer::new(child)
            },
            || sandbox.clear_faults(),
            || {
                sandbox
                    .packages()
                    .into_iter()
                    .filter_map(|(_, p)| p.package_reference_id.parse().ok())
                    .collect()
            },
        )
        .await;

        // No row failed, none left open.
        let counts = ctx.storage.count_outbox(None).await.unwrap();
        assert_eq!(
            (counts.delivered, counts.open(), counts.failed),
            (expected_rows as i64, 0, 0),
            "{counts:?}"
        );
        // One package per row, its reference the row's id, with the row's items, and no other.
        let rows = ctx.storage.list_outbox(None, false, 100_000).await.unwrap();
        let packages = sandbox.packages();
        let mut by_reference: BTreeMap<(String, String), Vec<_>> = BTreeMap::new();
        for (order, package) in &packages {
            by_reference
                .entry((order.clone(), package.package_reference_id.clone()))
                .or_default()
                .push(package);
        }
        for row in &rows {
            let key = (row.order_remote_id.clone(), row.id.get().to_string());
            let found = by_reference.get(&key).map(Vec::as_slice).unwrap_or(&[]);
            assert_eq!(
                found.len(),
                1,
                "row {} has exactly one package",
                row.id.get()
            );
            let asked: ShipmentPayload = serde_json::from_str(&row.payload).unwrap();
            let asked: BTreeMap<String, u32> = asked
                .items
                .iter()
                .map(|i| (i.line_remote_id.clone(), i.quantity as u32))
                .collect();
            let sent: BTreeMap<String, u32> = found[0]
                .items
                .iter()
                .map(|i| (i.order_item_id.clone(), i.quantity))
                .collect();
            assert_eq!(
                sent,
                asked,
                "row {}: the package holds its items",
                row.id.get()
            );
        }
        assert_eq!(packages.len(), rows.len(), "no package beyond the rows'");
        // Every item shipped exactly as ordered, in Amazon and in the hub.
        for id in &orders {
            let order = sandbox.order(id).unwrap();
            assert_eq!(order.status, OrderStatus::Shipped, "order {id}");
            for item in &order.items {
                let packed: u32 = order
                    .packages
                    .iter()
                    .flat_map(|p| &p.items)
                    .filter(|i| i.order_item_id == item.order_item_id)
                    .map(|i| i.quantity)
                    .sum();
                assert_eq!(
                    (item.quantity_shipped, packed),
                    (item.quantity_ordered, item.quantity_ordered),
                    "order {id}, item {}",
                    item.order_item_id
                );
            }
            let held = ctx
                .storage
                .find_order_by_remote_id(&store.scope(), id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(held.summary.status_code, "Shipped", "order {id}");
            for line in &held.lines {
                assert_eq!(line.quantity_shipped, line.quantity, "order {id}");
            }
        }

        // The figures, and proof that the faults and kills the soak is about happened.
        let log = sandbox.state().log.lock().since(0);
        let confirms: Vec<_> = log
            .iter()
            .filter(|r| r.operation.as_deref() == Some("confirmShipment"))
            .collect();
        let mut confirm_faults: BTreeMap<String, usize> = BTreeMap::new();
        for fault in confirms.iter().filter_map(|r| r.fault.clone()) {
            *confirm_faults.entry(fault).or_default() += 1;
        }
        let after_effect: usize = confirm_faults
            .iter()
            .filter(|(fault, _)| fault.ends_with("after effect"))
            .map(|(_, n)| n)
            .sum();
        let found = rows
            .iter()
            .filter(|r| r.delivered_by == Some(DeliveredBy::Found))
            .count();
        let attempts: i64 = rows.iter().map(|r| i64::from(r.attempts)).sum();
        println!(
            "amazon soak ({}): {} orders, {} packages in {:.1} s; {} confirmShipment calls; \
             faults on confirmShipment {:?}; {} rows found on read-back; {} claims beyond the \
             first; {} kills, {} rows confirmed but not recorded when killed; duplicates: 0",
            if ctx.url.starts_with("postgres") {
                "PostgreSQL"
            } else {
                "SQLite"
            },
            orders.len(),
            rows.len(),
            elapsed.as_secs_f64(),
            confirms.len(),
            confirm_faults,
            found,
            attempts - rows.len() as i64,
            kills,
            crash_window_hits,
        );
        assert!(
            after_effect > 0,
            "answers lost after the effect must have been injected: {confirm_faults:?}"
        );
        assert!(
            confirm_faults.contains_key("LateApply"),
            "late confirmations must have been injected: {confirm_faults:?}"
        );
        assert!(
            found > 0,
            "packages confirmed with their answer lost must have been found on read-back"
        );
        assert!(
            crash_window_hits > 0,
            "a kill must have landed between a confirmation and its commit ({kills} kills)"
        );
        sandbox.shutdown();
    }
);
