//! Shipments and status changes written back through the outbox (`docs/HARD-PROBLEMS.md`
//! note 2), against a real sandbox on a loopback port, on both backends.
//!
//! Each test is written once; `fulfilment_test!` expands it into `<name>::sqlite` (a fresh
//! temporary file) and `<name>::postgres` (a fresh database on 127.0.0.1:5432, dropped at the
//! end; `CENPORTS_TEST_POSTGRES_URL` overrides the admin URL). Without PostgreSQL the PostgreSQL
//! variants fail when `CI` is set and are skipped with a notice otherwise.
//!
//! Tests drain the outbox deliberately (`worker::drain`) instead of sleeping.

use crate::common::{self, random_suffix, Ctx};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bigcommerce_sandbox::model::InventoryTracking as SbTracking;
use bigcommerce_sandbox::store::OrderUpdate;
use bigcommerce_sandbox::{fixtures, FaultKind, FaultRule, Plan, StoreSpec};
use chrono::{Duration as ChronoDuration, Utc};

use cenports::channel::bigcommerce::BigCommerce;
use cenports::channel::StoreClient;
use cenports::fulfilment::worker::{drain, DrainReport, WorkerConfig};
use cenports::fulfilment::{
    request_shipment, request_status_change, Carrier, FulfilmentError, ItemSpec, Requested,
    ShipmentRequest, StatusTarget,
};
use cenports::storage::*;
use cenports::sync::{sync_orders, SyncOptions};

// ------------------------------------------------------------------ backends

use crate::common::both_backends as fulfilment_test;

// ------------------------------------------------------------------ the hub and the store

type Hub = common::ConnectedStore;

/// A store selling MUG-1, TEE-S and CAP-1, connected to the hub as `cenports connect` would.
async fn connect(ctx: &Ctx) -> Hub {
    let sandbox = common::start_sandbox().await;
    let info = sandbox.create_store(StoreSpec {
        products: 0,
        orders: 0,
        plan: Plan::Unlimited,
        ..StoreSpec::default()
    });
    sandbox
        .with_store(&info.hash, |data, _| {
            for (name, sku) in [("Mug", "MUG-1"), ("Tee", "TEE-S"), ("Cap", "CAP-1")] {
                data.add_product(fixtures::product(name, sku, SbTracking::None, 0, vec![]));
            }
        })
        .unwrap();
    common::connect_store(&ctx.storage, sandbox, &info, |config| {
        config.timeout = Duration::from_millis(800);
    })
    .await
}

impl Hub {
    /// Places an order (lines: SKU, quantity, address index) dated an hour ago.
    fn place(&self, addresses: usize, lines: &[(&str, u32, usize)]) -> u64 {
        self.place_with_status(addresses, lines, None)
    }

    fn place_with_status(
        &self,
        addresses: usize,
        lines: &[(&str, u32, usize)],
        status_id: Option<u32>,
    ) -> u64 {
        let mut order = fixtures::order(addresses, lines);
        order.status_id = status_id;
        order.date_created = Some(Utc::now() - ChronoDuration::hours(1));
        self.sandbox
            .with_store(&self.hash, |data, events| data.place_order(order, events))
            .unwrap()
            .unwrap()
    }

    /// Imports every order into the hub.
    async fn import(&self) {
        let options = SyncOptions {
            settle: Duration::from_secs(1),
            ..SyncOptions::default()
        };
        sync_orders(&self.storage, &self.scope, &self.channel, &options, |_| {})
            .await
            .unwrap();
    }

    /// The store's channel (BigCommerce on the sandbox), whose rules a request is checked by.
    fn bigcommerce(&self) -> BigCommerce {
        BigCommerce::new(url::Url::parse(self.sandbox.base_url()).unwrap())
    }

    /// The worker's clients, given up front: this store's.
    fn clients(&self) -> HashMap<StoreId, Arc<dyn StoreClient>> {
        HashMap::from([(
            self.scope.store_id(),
            Arc::new(self.channel.clone()) as Arc<dyn StoreClient>,
        )])
    }

    /// Asks for a status change of an order.
    async fn change_status(
        &self,
        order: u64,
        to: StatusTarget,
        key: Option<String>,
    ) -> Result<Requested, FulfilmentError> {
        request_status_change(
            &self.storage,
            &self.record,
            &self.bigcommerce(),
            &order.to_string(),
            to,
            key,
        )
        .await
    }

    async fn drain(&self) -> DrainReport {
        drain(&self.storage, &self.clients(), None, &worker_config("w"))
            .await
            .unwrap()
    }

    async fn ship(
        &self,
        order: u64,
        tracking: &str,
        items: Vec<ItemSpec>,
    ) -> Result<Requested, FulfilmentError> {
        request_shipment(
            &self.storage,
            &self.record,
            &self.bigcommerce(),
            &ShipmentRequest {
                order_remote_id: order.to_string(),
                carrier: Carrier::CanadaPost,
                tracking_number: tracking.into(),
                tracking_link: None,
                shipped_at: None,
                items,
                request_key: None,
            },
        )
        .await
    }

    fn fault(&self, rule: FaultRule) {
        self.sandbox
            .store(&self.hash)
            .unwrap()
            .faults
            .lock()
            .push(rule);
    }

    /// The sandbox's shipments of an order: (id, address id, comments, items).
    fn shipments(&self, order: u64) -> Vec<SandboxShipment> {
        self.sandbox
            .with_store(&self.hash, |data, _| {
                data.orders[&order]
                    .shipments
                    .iter()
                    .map(|s| {
                        (
                            s.id,
                            s.order_address_id,
                            s.comments.clone(),
                            s.items
                                .iter()
                                .map(|i| (i.order_product_id, i.quantity))
                                .collect(),
                        )
                    })
                    .collect()
            })
            .unwrap()
    }

    fn sandbox_status(&self, order: u64) -> u32 {
        self.sandbox
            .with_store(&self.hash, |data, _| data.orders[&order].status_id)
            .unwrap()
    }

    /// POSTs to the shipments endpoint the sandbox saw.
    fn shipment_posts(&self) -> usize {
        let store = self.sandbox.store(&self.hash).unwrap();
        let log = store.log.lock();
        log.since(0)
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/shipments"))
            .count()
    }

    async fn hub_order(&self, order: u64) -> OrderRecord {
        self.storage
            .find_order_by_remote_id(&self.scope, &order.to_string())
            .await
            .unwrap()
            .unwrap()
    }
}

/// A shipment as the sandbox holds it: (id, address id, comments, (line id, quantity)).
type SandboxShipment = (u64, u64, String, Vec<(u64, u32)>);

fn worker_config(name: &str) -> WorkerConfig {
    WorkerConfig {
        owner_prefix: format!("{name}-{}", random_suffix()),
        concurrency: 2,
        lease: Duration::from_secs(10),
        retry_base: Duration::from_millis(20),
        retry_max: Duration::from_millis(200),
        quiet_period: Duration::from_millis(300),
        recheck_gap: Duration::from_millis(100),
        drain_patience: Duration::from_secs(5),
        ..WorkerConfig::default()
    }
}

fn sku(sku: &str, quantity: i32) -> ItemSpec {
    ItemSpec::Sku {
        sku: sku.into(),
        quantity,
    }
}

fn rejected(result: Result<Requested, FulfilmentError>) -> String {
    match result {
        Err(FulfilmentError::Rejected(reason)) => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

// ------------------------------------------------------------------ tests

fulfilment_test!(
    a_partial_shipment_then_the_rest_each_post_once_and_the_hub_follows_bigcommerce,
    |ctx| {
        let hub = connect(&ctx).await;
        let order = hub.place(1, &[("MUG-1", 3, 0), ("TEE-S", 1, 0)]);
        hub.import().await;

        let first = hub
            .ship(order, "CP001", vec![sku("MUG-1", 1)])
            .await
            .unwrap();
        assert_eq!(first.rows.len(), 1);
        assert!(!first.duplicate);
        let report = hub.drain().await;
        assert_eq!((report.delivered_sent, report.sends), (1, 1), "{report:?}");

        let shipments = hub.shipments(order);
        assert_eq!(shipments.len(), 1);
        assert_eq!(
            shipments[0].2,
            format!("cenports:{}", first.rows[0].id.get())
        );
        assert_eq!(
            hub.sandbox_status(order),
            3,
            "Partially Shipped at BigCommerce"
        );
        let row = hub
            .storage
            .get_outbox(&hub.scope, first.rows[0].id)
            .await
            .unwrap();
        assert_eq!(row.state, OutboxState::Delivered);
        assert_eq!(row.remote_result, Some(shipments[0].0.to_string()));
        assert_eq!(row.delivered_by, Some(DeliveredBy::Sent));
        let held = hub.hub_order(order).await;
        assert_eq!(held.summary.status_code, "3");
        assert_eq!(held.summary.status_name, "Partially Shipped");
        assert_eq!(
            held.summary.fulfilment_state,
            FulfilmentState::PartiallyShipped
        );
        let mug = held.lines.iter().find(|l| l.sku == "MUG-1").unwrap();
        assert_eq!(mug.quantity_shipped, 1);

        // No items: everything that remains (2 mugs, 1 tee).
        let rest = hub.ship(order, "CP002", vec![]).await.unwrap();
        hub.drain().await;
        let shipments = hub.shipments(order);
        assert_eq!(shipments.len(), 2);
        let mut items = shipments[1].3.clone();
        items.sort();
        assert_eq!(items.iter().map(|(_, q)| q).sum::<u32>(), 3);
        assert_eq!(
            shipments[1].2,
            format!("cenports:{}", rest.rows[0].id.get())
        );
        assert_eq!(hub.sandbox_status(order), 2, "Shipped at BigCommerce");
        let held = hub.hub_order(order).await;
        assert_eq!(
            (
                held.summary.status_code.as_str(),
                held.summary.fulfilment_state
            ),
            ("2", FulfilmentState::Shipped)
        );
        assert!(held.lines.iter().all(|l| l.quantity_shipped == l.quantity));
        // The carrier as BigCommerce spells it.
        let provider = hub
            .sandbox
            .with_store(&hub.hash, |data, _| {
                data.orders[&order].shipments[0].shipping_provider.clone()
            })
            .unwrap();
        assert_eq!(provider, "canadapost");
    }
);

fulfilment_test!(
    an_order_with_two_shipping_addresses_gets_one_shipment_per_consignment,
    |ctx| {
        let hub = connect(&ctx).await;
        let order = hub.place(2, &[("MUG-1", 1, 0), ("TEE-S", 2, 1), ("CAP-1", 1, 1)]);
        hub.import().await;
        let requested = hub.ship(order, "CP100", vec![]).await.unwrap();
        assert_eq!(requested.rows.len(), 2, "one row per shipping address");
        hub.drain().await;
        let shipments = hub.shipments(order);
        assert_eq!(shipments.len(), 2);
        let addresses: Vec<u64> = shipments.iter().map(|s| s.1).collect();
        assert_ne!(addresses[0], addresses[1]);
        for row in &requested.rows {
            let ours: Vec<_> = shipments
                .iter()
                .filter(|s| s.2 == format!("cenports:{}", row.id.get()))
                .collect();
            assert_eq!(ours.len(), 1, "row {} posted once", row.id.get());
            assert_eq!(ours[0].1.to_string(), row.part, "to its own consignment");
        }
        assert_eq!(hub.sandbox_status(order), 2);
        assert_eq!(hub.hub_order(order).await.summary.status_code, "2");
    }
);

fulfilment_test!(
    requests_bigcommerce_would_refuse_are_rejected_before_any_call,
    |ctx| {
        let hub = connect(&ctx).await;
        let order = hub.place(1, &[("MUG-1", 2, 0)]);
        let cancelled = hub.place_with_status(1, &[("TEE-S", 1, 0)], Some(5));
        hub.import().await;

        let unknown_sku = rejected(hub.ship(order, "T1", vec![sku("NOPE", 1)]).await);
        assert!(
            unknown_sku.contains("no line with SKU \"NOPE\"") && unknown_sku.contains("MUG-1"),
            "{unknown_sku}"
        );
        let unknown_line = rejected(
            hub.ship(
                order,
                "T2",
                vec![ItemSpec::Line {
                    line_remote_id: "999999".into(),
                    quantity: 1,
                }],
            )
            .await,
        );
        assert!(unknown_line.contains("no line 999999"), "{unknown_line}");
        let too_many = rejected(hub.ship(order, "T3", vec![sku("MUG-1", 3)]).await);
        assert!(
            too_many.contains("2 left to ship") && too_many.contains("3 asked"),
            "{too_many}"
        );
        let closed = rejected(hub.ship(cancelled, "T4", vec![]).await);
        assert!(
            closed.contains("Cancelled") && closed.contains("cannot be shipped"),
            "{closed}"
        );
        let missing = hub
            .ship(999_999, "T5", vec![])
            .await
            .unwrap_err()
            .to_string();
        assert!(missing.contains("cenports sync"), "{missing}");

        // What is waiting in the outbox counts as shipped.
        hub.ship(order, "T6", vec![sku("MUG-1", 2)]).await.unwrap();
        let pending = rejected(hub.ship(order, "T7", vec![sku("MUG-1", 1)]).await);
        assert!(pending.contains("2 waiting in the outbox"), "{pending}");

        assert_eq!(
            hub.storage
                .count_outbox(Some(&hub.scope))
                .await
                .unwrap()
                .open(),
            1
        );
        assert_eq!(hub.shipment_posts(), 0, "nothing reached BigCommerce");
    }
);

fulfilment_test!(
    the_same_request_twice_even_concurrently_enters_the_outbox_once,
    |ctx| {
        let hub = connect(&ctx).await;
        let order = hub.place(1, &[("MUG-1", 4, 0)]);
        hub.import().await;
        let first = hub
            .ship(order, "SAME", vec![sku("MUG-1", 1)])
            .await
            .unwrap();
        let again = hub
            .ship(order, "SAME", vec![sku("MUG-1", 1)])
            .await
            .unwrap();
        assert!(again.duplicate);
        assert_eq!(again.rows[0].id, first.rows[0].id);

        // Eight identical requests at once: one row.
        let racing = futures::future::join_all(
            (0..8).map(|_| hub.ship(order, "RACE", vec![sku("MUG-1", 1)])),
        )
        .await;
        let ids: std::collections::BTreeSet<_> = racing
            .iter()
            .map(|r| r.as_ref().unwrap().rows[0].id)
            .collect();
        assert_eq!(ids.len(), 1, "{racing:?}");
        assert_eq!(
            racing
                .iter()
                .filter(|r| !r.as_ref().unwrap().duplicate)
                .count(),
            1
        );

        // Different requests racing for the last two mugs: never more than remains.
        let contenders = futures::future::join_all((0..4).map(|i| {
            let hub = &hub;
            let tracking = format!("C{i}");
            async move { hub.ship(order, &tracking, vec![sku("MUG-1", 1)]).await }
        }))
        .await;
        assert_eq!(
            contenders.iter().filter(|r| r.is_ok()).count(),
            2,
            "{contenders:?}"
        );

        hub.drain().await;
        assert_eq!(hub.shipments(order).len(), 4);
        assert_eq!(hub.sandbox_status(order), 2);

        // Once delivered, nothing remains to ship; the same request again (a client retrying
        // after a lost answer) still gets its own rows back, not a refusal, and sends nothing.
        let after = hub
            .ship(order, "SAME", vec![sku("MUG-1", 1)])
            .await
            .unwrap();
        assert!(after.duplicate);
        assert_eq!(after.rows[0].id, first.rows[0].id);
        hub.drain().await;
        assert_eq!(hub.shipments(order).len(), 4);
        // A new parcel, though, is refused: nothing is left.
        let error = hub
            .ship(order, "NEW-PARCEL", vec![sku("MUG-1", 1)])
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("MUG-1"), "{error}");
    }
);

fulfilment_test!(
    a_shipment_is_posted_exactly_once_after_a_lost_answer,
    |ctx| {
        let hub = connect(&ctx).await;
        let orders: Vec<u64> = (0..4).map(|_| hub.place(1, &[("MUG-1", 1, 0)])).collect();
        hub.import().await;
        // Applied, answer lost: a 500, a reset, a hang past the client's timeout. Then one
        // refused before the effect (not applied).
        for (kind, after_effect) in [
            (FaultKind::Error500, true),
            (FaultKind::Reset, true),
            (FaultKind::Hang, true),
            (FaultKind::Error503, false),
        ] {
            hub.fault(FaultRule {
                count: Some(1),
                method: Some("POST".into()),
                path_contains: Some("/shipments".into()),
                after_effect,
                latency_ms: Some(2_000),
                ..FaultRule::always(kind)
            });
        }
        let mut rows = Vec::new();
        for (i, order) in orders.iter().enumerate() {
            rows.extend(
                hub.ship(*order, &format!("LOST{i}"), vec![])
                    .await
                    .unwrap()
                    .rows,
            );
        }
        let report = hub.drain().await;
        for order in &orders {
            assert_eq!(
                hub.shipments(*order).len(),
                1,
                "order {order}: exactly one shipment"
            );
        }
        assert_eq!(report.delivered(), 4, "{report:?}");
        assert_eq!(
            report.delivered_found, 3,
            "three were applied and found by their marker: {report:?}"
        );
        assert_eq!(
            report.not_applied, 1,
            "one read-back proved nothing was applied: {report:?}"
        );
        assert_eq!(
            hub.shipment_posts(),
            5,
            "four posts plus one retry of the refused one"
        );
        for row in rows {
            let row = hub.storage.get_outbox(&hub.scope, row.id).await.unwrap();
            assert_eq!(row.state, OutboxState::Delivered, "{row:?}");
        }
    }
);

fulfilment_test!(
    a_shipment_the_store_applies_after_answering_504_is_not_posted_again,
    |ctx| {
        // A gateway answers 504 at once while the store's backend applies the POST later: 200 ms
        // later (before the first read-back, after the 300 ms quiet period) and 500 ms later
        // (after the first read-back, which finds nothing, before the second, 100 ms later...
        // made 600 ms here). Without the quiet period and the second read-back, each row would
        // be read back at once, found missing, and POSTed again: two shipments each.
        let hub = connect(&ctx).await;
        let orders: Vec<u64> = (0..2).map(|_| hub.place(1, &[("MUG-1", 1, 0)])).collect();
        hub.import().await;
        for apply_after_ms in [200, 500] {
            hub.fault(FaultRule {
                count: Some(1),
                method: Some("POST".into()),
                path_contains: Some("/shipments".into()),
                apply_after_ms: Some(apply_after_ms),
                ..FaultRule::always(FaultKind::LateApply)
            });
        }
        for (i, order) in orders.iter().enumerate() {
            hub.ship(*order, &format!("LATE{i}"), vec![]).await.unwrap();
        }
        let config = WorkerConfig {
            quiet_period: Duration::from_millis(300),
            recheck_gap: Duration::from_millis(600),
            ..worker_config("late")
        };
        let report = drain(&hub.storage, &hub.clients(), None, &config)
            .await
            .unwrap();
        for order in &orders {
            assert_eq!(
                hub.shipments(*order).len(),
                1,
                "order {order}: exactly one shipment ({report:?})"
            );
        }
        assert_eq!(
            (report.delivered_found, report.sends, report.not_applied),
            (2, 2, 0),
            "both found by their marker, never sent twice: {report:?}"
        );
        assert_eq!(hub.shipment_posts(), 2);
    }
);

fulfilment_test!(
    a_sending_row_is_not_failed_when_its_read_back_is_refused,
    |ctx| {
        // The POST is refused with a 503 before anything is applied, so the row is `sending`
        // (its outcome unknown to the hub). Its order is then gone from the store: the
        // read-back answers 404, which proves nothing about the shipment. The row must stay
        // open, and be delivered once the order is back.
        let hub = connect(&ctx).await;
        let order = hub.place(1, &[("MUG-1", 2, 0)]);
        hub.import().await;
        hub.fault(FaultRule {
            count: Some(1),
            method: Some("POST".into()),
            path_contains: Some("/shipments".into()),
            ..FaultRule::always(FaultKind::Error503)
        });
        let row = hub.ship(order, "GONE", vec![]).await.unwrap().rows[0].clone();
        let config = WorkerConfig {
            drain_patience: Duration::ZERO,
            ..worker_config("gone")
        };
        let first = drain(&hub.storage, &hub.clients(), None, &config)
            .await
            .unwrap();
        assert_eq!((first.sends, first.retries), (1, 1), "{first:?}");
        let held = hub.storage.get_outbox(&hub.scope, row.id).await.unwrap();
        assert_eq!(held.state, OutboxState::Sending);

        let removed = hub
            .sandbox
            .with_store(&hub.hash, |data, _| data.orders.remove(&order))
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let refused = drain(&hub.storage, &hub.clients(), None, &config)
            .await
            .unwrap();
        assert_eq!((refused.failed, refused.sends), (0, 0), "{refused:?}");
        let held = hub.storage.get_outbox(&hub.scope, row.id).await.unwrap();
        assert_eq!(held.state, OutboxState::Sending, "{held:?}");
        let error = held.last_error.unwrap_or_default();
        assert!(
            error.contains("could not check") && error.contains("nothing is sent"),
            "{error}"
        );

        hub.sandbox
            .with_store(&hub.hash, |data, _| data.orders.insert(order, removed))
            .unwrap();
        let report = hub.drain().await;
        assert_eq!(
            (report.delivered_sent, report.not_applied, report.failed),
            (1, 1, 0),
            "{report:?}"
        );
        assert_eq!(hub.shipments(order).len(), 1);
    }
);

fulfilment_test!(a_crash_between_send_and_commit_does_not_ship_twice, |ctx| {
    let hub = connect(&ctx).await;
    let order = hub.place(1, &[("MUG-1", 2, 0)]);
    hub.import().await;
    let row = hub
        .ship(order, "CRASH", vec![sku("MUG-1", 2)])
        .await
        .unwrap()
        .rows[0]
        .clone();

    // A worker claims, records `sending`, posts... and dies before recording the answer. (The
    // lease outlasts the post and the check below on a loaded machine, and ends before the
    // drain.)
    let lease = Duration::from_secs(1);
    let claimed = hub
        .storage
        .claim_outbox(None, "doomed", lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, row.id);
    assert!(hub
        .storage
        .mark_outbox_sending(row.id, "doomed", lease, Duration::ZERO)
        .await
        .unwrap());
    let payload = match cenports::fulfilment::OutboxPayload::parse(&claimed.payload).unwrap() {
        cenports::fulfilment::OutboxPayload::Shipment(p) => p,
        other => panic!("{other:?}"),
    };
    let body = cenports::channel::bigcommerce::fulfilment::shipment_body(row.id, &payload);
    hub.client.create_shipment(order, &body).await.unwrap();

    // While the dead worker's lease runs, nobody else takes the row.
    assert!(hub
        .storage
        .claim_outbox(None, "other", lease)
        .await
        .unwrap()
        .is_none());
    // Meanwhile an import brings the order with the shipment already in it (past the
    // import's one-second settle delay, and past the lease).
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    hub.import().await;
    assert_eq!(hub.hub_order(order).await.lines[0].quantity_shipped, 2);

    let report = hub.drain().await;
    assert_eq!((report.delivered_found, report.sends), (1, 0), "{report:?}");
    assert_eq!(hub.shipments(order).len(), 1);
    assert_eq!(hub.shipment_posts(), 1);
    let row = hub.storage.get_outbox(&hub.scope, row.id).await.unwrap();
    assert_eq!(
        (row.state, row.delivered_by),
        (OutboxState::Delivered, Some(DeliveredBy::Found))
    );
    // The dead worker, back from the grave, cannot overwrite the outcome.
    assert!(!hub
        .storage
        .fail_outbox(row.id, "doomed", "late")
        .await
        .unwrap());
    let held = hub.hub_order(order).await;
    assert_eq!(held.summary.fulfilment_state, FulfilmentState::Shipped);
    assert_eq!(
        held.lines[0].quantity_shipped, 2,
        "the import and the delivery count the shipment once"
    );
});

fulfilment_test!(two_workers_draining_at_once_deliver_each_row_once, |ctx| {
    let hub = connect(&ctx).await;
    let orders: Vec<u64> = (0..30).map(|_| hub.place(1, &[("MUG-1", 2, 0)])).collect();
    hub.import().await;
    for order in &orders {
        hub.ship(*order, "A", vec![sku("MUG-1", 1)]).await.unwrap();
        hub.ship(*order, "B", vec![sku("MUG-1", 1)]).await.unwrap();
    }
    let clients = hub.clients();
    let (config_one, config_two) = (worker_config("one"), worker_config("two"));
    let (one, two) = tokio::join!(
        drain(&hub.storage, &clients, None, &config_one),
        drain(&hub.storage, &clients, None, &config_two),
    );
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_eq!(one.sends + two.sends, 60, "{one:?} {two:?}");
    assert_eq!(one.delivered() + two.delivered(), 60);
    for order in &orders {
        assert_eq!(hub.shipments(*order).len(), 2);
    }
    assert_eq!(hub.shipment_posts(), 60);
});

fulfilment_test!(
    status_changes_go_through_the_outbox_and_a_cancelled_order_no_longer_ships,
    |ctx| {
        let hub = connect(&ctx).await;
        let order = hub.place(1, &[("MUG-1", 1, 0)]);
        hub.import().await;

        // A lost answer to the PUT: the client repeats it (a PUT of a status is idempotent).
        hub.fault(FaultRule {
            count: Some(1),
            method: Some("PUT".into()),
            after_effect: true,
            ..FaultRule::always(FaultKind::Error502)
        });
        let hold = hub
            .change_status(order, StatusTarget::OnHold, None)
            .await
            .unwrap();
        hub.drain().await;
        assert_eq!(hub.sandbox_status(order), 12);
        let held = hub.hub_order(order).await;
        assert_eq!(
            (
                held.summary.status_code.as_str(),
                held.summary.fulfilment_state
            ),
            ("12", FulfilmentState::OnHold)
        );
        let row = hub
            .storage
            .get_outbox(&hub.scope, hold.rows[0].id)
            .await
            .unwrap();
        assert_eq!(row.state, OutboxState::Delivered);
        assert_eq!(
            row.part, STATUS_PART,
            "a status change's part is \"status\""
        );

        let cancel = hub
            .change_status(order, StatusTarget::Cancelled, Some("cancel-1".into()))
            .await
            .unwrap();
        // Queued, not yet delivered: a shipment is refused already.
        let refused = rejected(hub.ship(order, "LATE", vec![]).await);
        assert!(
            refused.contains("cancellation waiting in the outbox"),
            "{refused}"
        );
        let again = hub
            .change_status(order, StatusTarget::Cancelled, Some("cancel-1".into()))
            .await
            .unwrap();
        assert!(again.duplicate);
        assert_eq!(again.rows[0].id, cancel.rows[0].id);
        hub.drain().await;
        assert_eq!(hub.sandbox_status(order), 5);
        let held = hub.hub_order(order).await;
        assert_eq!(held.summary.fulfilment_state, FulfilmentState::Cancelled);
        let refused = rejected(hub.ship(order, "LATER", vec![]).await);
        assert!(refused.contains("Cancelled"), "{refused}");
        assert_eq!(hub.shipment_posts(), 0);
    }
);

fulfilment_test!(
    a_refused_shipment_fails_with_its_reason_and_ships_once_when_retried_by_hand,
    |ctx| {
        let hub = connect(&ctx).await;
        let order = hub.place(1, &[("MUG-1", 1, 0)]);
        hub.import().await;
        let row = hub.ship(order, "STALE", vec![]).await.unwrap().rows[0].clone();
        // Cancelled in BigCommerce after the hub imported it.
        hub.sandbox
            .with_store(&hub.hash, |data, events| {
                data.update_order(
                    order,
                    OrderUpdate {
                        status_id: Some(5),
                        ..OrderUpdate::default()
                    },
                    events,
                )
            })
            .unwrap()
            .unwrap();
        let report = hub.drain().await;
        assert_eq!((report.failed, report.sends), (1, 1), "{report:?}");
        let row = hub.storage.get_outbox(&hub.scope, row.id).await.unwrap();
        assert_eq!(row.state, OutboxState::Failed);
        let error = row.last_error.unwrap();
        assert!(
            error.contains("BigCommerce rejected it") && error.contains("cannot be shipped"),
            "{error}"
        );
        assert!(hub.shipments(order).is_empty());
        assert_eq!(
            hub.drain().await.sends,
            0,
            "a refusal is not retried on its own"
        );
        assert_eq!(
            hub.storage
                .count_outbox(Some(&hub.scope))
                .await
                .unwrap()
                .failed,
            1
        );

        // The merchant reopens the order in the store and retries by hand: one shipment.
        hub.sandbox
            .with_store(&hub.hash, |data, events| {
                data.update_order(
                    order,
                    OrderUpdate {
                        status_id: Some(11),
                        ..OrderUpdate::default()
                    },
                    events,
                )
            })
            .unwrap()
            .unwrap();
        let queued = match hub
            .storage
            .retry_outbox_by_hand(Some(hub.scope.store_id()), row.id)
            .await
            .unwrap()
        {
            HandRetry::Queued(row) => row,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            (queued.state, queued.attempts, queued.last_error),
            (OutboxState::Pending, 0, None),
            "a refusal proved nothing was applied: sent again at once"
        );
        let report = hub.drain().await;
        assert_eq!(
            (report.delivered_sent, report.failed, report.sends),
            (1, 0, 1),
            "{report:?}"
        );
        assert_eq!(hub.shipments(order).len(), 1);
        // A second retry of a delivered row changes nothing and sends nothing.
        let again = hub
            .storage
            .retry_outbox_by_hand(Some(hub.scope.store_id()), row.id)
            .await
            .unwrap();
        assert!(matches!(again, HandRetry::Delivered(_)), "{again:?}");
        assert_eq!(hub.drain().await.sends, 0);
        assert_eq!(hub.shipment_posts(), 2);
        // Another store's id: not found.
        let other = hub
            .storage
            .retry_outbox_by_hand(
                Some(StoreId::from_raw(hub.scope.store_id().get() + 1000)),
                row.id,
            )
            .await;
        assert!(
            matches!(other, Err(StorageError::NotFound { .. })),
            "{other:?}"
        );
    }
);

fulfilment_test!(
    a_store_unreachable_past_the_attempts_keeps_the_shipment_queued_on_the_slow_schedule,
    |ctx| {
        // Every shipment POST fails with a 503 for longer than `max_attempts` tries. The row must
        // never fail for it: it waits on the slow schedule, counted as retrying, and is
        // delivered once when the store is back.
        let hub = connect(&ctx).await;
        let order = hub.place(1, &[("MUG-1", 1, 0)]);
        hub.import().await;
        hub.fault(FaultRule {
            method: Some("POST".into()),
            path_contains: Some("/shipments".into()),
            ..FaultRule::always(FaultKind::Error503)
        });
        let row = hub.ship(order, "DOWN", vec![]).await.unwrap().rows[0].clone();
        let config = WorkerConfig {
            max_attempts: 2,
            slow_retry: Duration::from_millis(100),
            quiet_period: Duration::from_millis(40),
            recheck_gap: Duration::from_millis(20),
            idle_poll: Duration::from_millis(10),
            ..worker_config("down")
        };
        // A drain would never end (a retry is always due within its patience): run a worker
        // for a while instead.
        let clients = hub.clients();
        let report = cenports::fulfilment::worker::run(
            &hub.storage,
            &clients,
            &config,
            tokio::time::sleep(Duration::from_millis(1500)),
        )
        .await;
        assert!(report.sends > 2, "tried past max_attempts: {report:?}");
        assert_eq!(report.failed, 0, "{report:?}");
        let held = hub.storage.get_outbox(&hub.scope, row.id).await.unwrap();
        assert!(held.state.is_open(), "{held:?}");
        assert!(held.last_error.is_some(), "{held:?}");
        let counts = hub.storage.count_outbox(Some(&hub.scope)).await.unwrap();
        assert_eq!((counts.failed, counts.retrying), (0, 1), "{counts:?}");
        assert!(hub.shipments(order).is_empty());

        hub.sandbox.store(&hub.hash).unwrap().faults.lock().clear();
        let report = hub.drain().await;
        assert_eq!((report.delivered(), report.failed), (1, 0), "{report:?}");
        assert_eq!(hub.shipments(order).len(), 1);
        let counts = hub.storage.count_outbox(Some(&hub.scope)).await.unwrap();
        assert_eq!((counts.delivered, counts.retrying), (1, 0), "{counts:?}");
    }
);

fulfilment_test!(
    a_running_worker_delivers_what_is_enqueued_and_stops_on_shutdown,
    |ctx| {
        let hub = connect(&ctx).await;
        let order = hub.place(1, &[("MUG-1", 2, 0)]);
        hub.import().await;
        let clients = hub.clients();
        let config = WorkerConfig {
            idle_poll: Duration::from_millis(20),
            ..worker_config("run")
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let worker = cenports::fulfilment::worker::run(&hub.storage, &clients, &config, async {
            let _ = stopped.await;
        });
        let scenario = async {
            let row = hub
                .ship(order, "RUN1", vec![sku("MUG-1", 1)])
                .await
                .unwrap()
                .rows[0]
                .clone();
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            loop {
                let row = hub.storage.get_outbox(&hub.scope, row.id).await.unwrap();
                if row.state == OutboxState::Delivered {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "not delivered: {row:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            stop.send(()).unwrap();
        };
        let (report, ()) = tokio::join!(worker, scenario);
        assert_eq!(report.delivered_sent, 1, "{report:?}");
        assert_eq!(hub.shipments(order).len(), 1);
    }
);

fulfilment_test!(
    rows_of_one_order_are_leased_in_request_order_and_one_at_a_time,
    |ctx| {
        let hub = connect(&ctx).await;
        let order = hub.place(1, &[("MUG-1", 2, 0)]);
        let other = hub.place(1, &[("MUG-1", 1, 0)]);
        hub.import().await;
        let first = hub
            .ship(order, "F1", vec![sku("MUG-1", 1)])
            .await
            .unwrap()
            .rows[0]
            .id;
        let second = hub
            .ship(order, "F2", vec![sku("MUG-1", 1)])
            .await
            .unwrap()
            .rows[0]
            .id;
        let third = hub.ship(other, "F3", vec![]).await.unwrap().rows[0].id;
        let lease = Duration::from_secs(30);
        let a = hub
            .storage
            .claim_outbox(None, "a", lease)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(a.id, first);
        // The second row of the same order waits for the first; the other order's row does not.
        let b = hub
            .storage
            .claim_outbox(None, "b", lease)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(b.id, third);
        assert!(hub
            .storage
            .claim_outbox(None, "c", lease)
            .await
            .unwrap()
            .is_none());
        // A stranger cannot record anything on a row it does not hold.
        assert!(!hub
            .storage
            .mark_outbox_sending(first, "c", lease, Duration::ZERO)
            .await
            .unwrap());
        assert!(!hub
            .storage
            .retry_outbox(first, "c", "x", Duration::ZERO)
            .await
            .unwrap());
        // Given back for a retry, the first row is still first in line.
        assert!(hub
            .storage
            .retry_outbox(first, "a", "outage", Duration::ZERO)
            .await
            .unwrap());
        let again = hub
            .storage
            .claim_outbox(None, "c", lease)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((again.id, again.attempts), (first, 2));
        assert!(hub
            .storage
            .fail_outbox(first, "c", "given up")
            .await
            .unwrap());
        let next = hub
            .storage
            .claim_outbox(None, "c", lease)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next.id, second);
    }
);

fulfilment_test!(
    concurrent_requests_for_the_last_units_queue_at_most_what_remains_even_as_deliveries_commit,
    |ctx| {
        let hub = connect(&ctx).await;
        // Eight requests at once for the last unit: one is queued, the others told why not.
        let order = hub.place(1, &[("MUG-1", 1, 0)]);
        let orders: Vec<u64> = (0..3).map(|_| hub.place(1, &[("MUG-1", 2, 0)])).collect();
        hub.import().await;
        let racing = futures::future::join_all((0..8).map(|i| {
            let hub = &hub;
            async move {
                let tracking = format!("LAST{i}");
                hub.ship(order, &tracking, vec![sku("MUG-1", 1)]).await
            }
        }))
        .await;
        assert_eq!(racing.iter().filter(|r| r.is_ok()).count(), 1, "{racing:?}");
        for refused in racing.into_iter().filter(|r| r.is_err()) {
            let reason = rejected(refused);
            assert!(
                reason.contains("0 left to ship") || reason.contains("at the same moment"),
                "{reason}"
            );
        }

        // Orders of two mugs, one already queued: eight clients keep asking for one more mug
        // of each while the outbox delivers (each delivery moves a unit from "waiting in the
        // outbox" to "shipped"). One more mug per order at most, whatever commits when.
        for order in &orders {
            hub.ship(*order, &format!("FIRST-{order}"), vec![sku("MUG-1", 1)])
                .await
                .unwrap();
        }
        let drained = std::sync::atomic::AtomicBool::new(false);
        let deliver = async {
            let report = hub.drain().await;
            drained.store(true, std::sync::atomic::Ordering::SeqCst);
            report
        };
        let ask = futures::future::join_all((0..8).map(|client| {
            let (hub, orders, drained) = (&hub, &orders, &drained);
            async move {
                let mut accepted = Vec::new();
                for round in 0.. {
                    let last = drained.load(std::sync::atomic::Ordering::SeqCst);
                    for order in orders {
                        let tracking = format!("C{client}-{round}-{order}");
                        match hub.ship(*order, &tracking, vec![sku("MUG-1", 1)]).await {
                            Ok(_) => accepted.push(*order),
                            Err(FulfilmentError::Rejected(_)) => {}
                            Err(other) => panic!("{other}"),
                        }
                    }
                    if last {
                        break;
                    }
                }
                accepted
            }
        }));
        let (_, accepted) = tokio::join!(deliver, ask);
        let accepted: Vec<u64> = accepted.into_iter().flatten().collect();
        for order in &orders {
            let more = accepted.iter().filter(|o| *o == order).count();
            assert!(
                more <= 1,
                "order {order}: {more} more mugs queued, 1 remained"
            );
        }
        hub.drain().await;
        for order in &orders {
            let shipped: u32 = hub
                .shipments(*order)
                .iter()
                .flat_map(|s| s.3.iter().map(|(_, q)| *q))
                .sum();
            assert!(shipped <= 2, "order {order}: {shipped} mugs shipped of 2");
        }
        let counts = hub.storage.count_outbox(Some(&hub.scope)).await.unwrap();
        assert_eq!(counts.failed, 0, "BigCommerce refused nothing: {counts:?}");
    }
);

fulfilment_test!(
    after_a_delivery_the_next_sync_brings_the_order_as_bigcommerce_has_it,
    |ctx| {
        let hub = connect(&ctx).await;
        let order = hub.place(1, &[("MUG-1", 2, 0)]);
        hub.import().await;
        let raw_status = |held: &OrderRecord| {
            let raw: serde_json::Value = serde_json::from_str(&held.raw_json).unwrap();
            raw["status_id"].as_u64().unwrap()
        };
        assert_eq!(raw_status(&hub.hub_order(order).await), 11);

        hub.ship(order, "RAW-1", vec![]).await.unwrap();
        hub.drain().await;
        assert_eq!(hub.sandbox_status(order), 2);
        let held = hub.hub_order(order).await;
        assert_eq!(
            held.summary.status_code, "2",
            "the delivery updates the hub at once"
        );

        // The next sync, once the store's second is over, brings the order's JSON too.
        tokio::time::sleep(Duration::from_millis(2100)).await;
        hub.import().await;
        let held = hub.hub_order(order).await;
        assert_eq!(held.summary.status_code, "2");
        assert_eq!(
            raw_status(&held),
            2,
            "the stored JSON is the post-shipment version"
        );
        let store_modified = hub
            .sandbox
            .with_store(&hub.hash, |data, _| data.orders[&order].date_modified)
            .unwrap();
        assert_eq!(held.summary.date_modified, store_modified);
        assert!(held.lines.iter().all(|l| l.quantity_shipped == 2));
    }
);
