//! Stock (issue 4, docs/STOCK.md) end to end: the hub's storage on SQLite and PostgreSQL, the
//! real BigCommerce client, and a sandbox store on a loopback port. What the store holds and the
//! requests it received (its request log) are asserted, not only what the hub says.
//!
//! Each test is written once and `stock_test!` expands it into `<name>::sqlite` and
//! `<name>::postgres` (a fresh database on 127.0.0.1:5432, dropped at the end; without
//! PostgreSQL the PostgreSQL variants fail when `CI` is set and are skipped with a notice
//! otherwise).

use crate::common::{self, Ctx};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bigcommerce_sandbox::model::InventoryTracking as SbTracking;
use bigcommerce_sandbox::{fixtures, FaultKind, FaultRule, StoreSpec};

use cenports::channel::bigcommerce::{BigCommerce, BigCommerceStore};
use cenports::channel::{
    CatalogIn, ChannelError, FulfilmentOut, HooksOut, OrdersIn, Pacing, StockOut, StoreClient,
};
use cenports::fulfilment::worker::{drain, WorkerConfig};
use cenports::fulfilment::{request_shipment, Carrier, ItemSpec, ShipmentRequest};
use cenports::stock::{push_stock, PushReport, SkuStatus, Write, WriteKind, WriteOutcome};
use cenports::storage::*;
use cenports::sync::{sync_catalog, sync_orders, SyncOptions};

// ------------------------------------------------------------------ backends

use crate::common::both_backends as stock_test;

// ------------------------------------------------------------------ the hub and the store

type Hub = common::ConnectedStore;

/// A store generated from `spec` (its history ends a minute before now: no wait for the settle
/// delay), connected as `cenports connect` saves it.
async fn connect(ctx: &Ctx, spec: StoreSpec) -> Hub {
    let sandbox = common::start_sandbox().await;
    let info = sandbox.create_store(spec);
    common::connect_store(&ctx.storage, sandbox, &info, |_| {}).await
}

/// Options for tests: the shortest settle delay, so orders placed a second ago are in.
fn options() -> SyncOptions {
    SyncOptions {
        settle: Duration::from_secs(1),
        ..SyncOptions::default()
    }
}

/// Waits until the store's clock is past the settle delay of what was just changed.
async fn let_the_store_settle() {
    tokio::time::sleep(Duration::from_millis(2100)).await;
}

// ------------------------------------------------------------------ the store's catalog

/// A store with a known catalog: a T-shirt tracked per variant (TEE-S, TEE-M, TEE-L at 5), a
/// mug and a pen tracked per product (20 and 3), a gift card not tracked (CARD).
async fn catalog_store(ctx: &Ctx) -> Hub {
    catalog_store_seeded(ctx, StoreSpec::default().seed).await
}

/// [`catalog_store`] with another seed: another store (its own hash) of the same merchant.
async fn catalog_store_seeded(ctx: &Ctx, seed: u64) -> Hub {
    let hub = connect(
        ctx,
        StoreSpec {
            seed,
            products: 0,
            orders: 0,
            ..StoreSpec::default()
        },
    )
    .await;
    hub.sandbox
        .with_store(&hub.hash, |data, _| {
            data.add_product(fixtures::product(
                "T-shirt",
                "TEE",
                SbTracking::Variant,
                0,
                vec![
                    fixtures::variant("TEE-S", "S", 5),
                    fixtures::variant("TEE-M", "M", 5),
                    fixtures::variant("TEE-L", "L", 5),
                ],
            ));
            data.add_product(fixtures::product(
                "Mug",
                "MUG",
                SbTracking::Product,
                20,
                vec![],
            ));
            data.add_product(fixtures::product(
                "Pen",
                "PEN",
                SbTracking::Product,
                3,
                vec![],
            ));
            data.add_product(fixtures::product(
                "Gift card",
                "CARD",
                SbTracking::None,
                0,
                vec![],
            ));
        })
        .unwrap();
    sync_catalog(&hub.storage, &hub.scope, &hub.channel, &options(), |_| {})
        .await
        .expect("catalog import");
    hub
}

/// The level the store shows for each SKU, by its tracking mode.
fn store_levels(hub: &Hub) -> HashMap<String, i64> {
    hub.sandbox
        .with_store(&hub.hash, |data, _| {
            let mut levels = HashMap::new();
            for product in data.products.values() {
                for variant in &product.variants {
                    let level = match product.inventory_tracking {
                        SbTracking::Variant => variant.inventory_level,
                        _ => product.inventory_level,
                    };
                    levels.insert(variant.sku.clone(), level);
                }
            }
            levels
        })
        .unwrap()
}

/// `(method, path, query)` of the store's requests since the log was last cleared.
fn catalog_requests(hub: &Hub) -> Vec<(String, String, String)> {
    let store = hub.sandbox.store(&hub.hash).unwrap();
    let log = store.log.lock();
    log.since(0)
        .into_iter()
        .filter(|r| r.path.contains("/v3/catalog"))
        .map(|r| (r.method, r.path, r.query))
        .collect()
}

fn clear_log(hub: &Hub) {
    hub.sandbox.store(&hub.hash).unwrap().log.lock().clear();
}

fn stock(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
    pairs.iter().map(|(s, l)| (s.to_string(), *l)).collect()
}

async fn rows_by_sku(hub: &Hub) -> HashMap<String, StockRow> {
    hub.storage
        .stock_rows(&hub.scope)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.sku.clone(), r))
        .collect()
}

fn outcome<'a>(report: &'a PushReport, sku: &str) -> &'a cenports::stock::SkuOutcome {
    report
        .outcomes
        .iter()
        .find(|o| o.sku == sku)
        .unwrap_or_else(|| panic!("no outcome for {sku}: {:#?}", report.outcomes))
}

async fn push(hub: &Hub) -> PushReport {
    push_stock(&hub.storage, &hub.scope, &hub.channel)
        .await
        .expect("push")
}

/// A shopper buys `quantity` mugs in the store; the hub imports the order. Returns its id.
async fn buy_mugs(hub: &Hub, quantity: u32) -> u64 {
    let order = hub
        .sandbox
        .with_store(&hub.hash, |data, events| {
            data.place_order(fixtures::order(1, &[("MUG", quantity, 0)]), events)
        })
        .unwrap()
        .unwrap();
    let_the_store_settle().await;
    sync_orders(&hub.storage, &hub.scope, &hub.channel, &options(), |_| {})
        .await
        .unwrap();
    order
}

/// The warehouse reports a parcel of the order's mugs (`cenports ship`): queued in the outbox,
/// not sent yet. `shipped_at` is when the parcel left (now when `None`).
async fn report_parcel(
    hub: &Hub,
    order: u64,
    quantity: i32,
    tracking: &str,
    shipped_at: Option<chrono::DateTime<chrono::Utc>>,
) {
    request_shipment(
        &hub.storage,
        &hub.record,
        &BigCommerce::new(url::Url::parse(hub.sandbox.base_url()).unwrap()),
        &ShipmentRequest {
            order_remote_id: order.to_string(),
            carrier: Carrier::CanadaPost,
            tracking_number: tracking.into(),
            tracking_link: None,
            shipped_at,
            items: vec![ItemSpec::Sku {
                sku: "MUG".into(),
                quantity,
            }],
            request_key: None,
        },
    )
    .await
    .expect("the shipment is queued");
}

/// The outbox worker delivers what is queued to the store.
async fn deliver_shipments(hub: &Hub) {
    let clients: HashMap<StoreId, Arc<dyn StoreClient>> = HashMap::from([(
        hub.scope.store_id(),
        Arc::new(hub.channel.clone()) as Arc<dyn StoreClient>,
    )]);
    let config = WorkerConfig {
        owner_prefix: format!("stock-{}", common::random_suffix()),
        ..WorkerConfig::default()
    };
    let report = drain(&hub.storage, &clients, None, &config).await.unwrap();
    assert_eq!(report.delivered(), 1, "{report:?}");
}

fn mug(rows: &HashMap<String, StockRow>) -> (i64, i64) {
    (rows["MUG"].on_hand, rows["MUG"].reserved)
}

// ------------------------------------------------------------------ tests

stock_test!(
    two_stores_of_one_merchant_share_on_hand_and_each_is_told_what_orders_on_both_leave,
    |ctx| {
        // One merchant, two stores selling the same mug; the warehouse counts 40 once, through
        // the first store.
        let first = catalog_store(&ctx).await;
        let second = catalog_store_seeded(&ctx, 2).await;
        assert_ne!(first.scope.store_id(), second.scope.store_id());
        assert_eq!(
            first.scope.user_id(),
            second.scope.user_id(),
            "one merchant"
        );
        first
            .storage
            .set_stock(&first.scope, &stock(&[("MUG", 40)]))
            .await
            .unwrap();
        assert_eq!(
            mug(&rows_by_sku(&second).await),
            (40, 0),
            "the merchant's figure"
        );

        // A shopper buys 3 in the first store, another 2 in the second; both are imported.
        buy_mugs(&first, 3).await;
        buy_mugs(&second, 2).await;
        for hub in [&first, &second] {
            assert_eq!(
                mug(&rows_by_sku(hub).await),
                (40, 5),
                "reserved on both stores"
            );
        }

        // Each store is told what is left to sell: 40 − 3 − 2.
        for hub in [&first, &second] {
            let report = push(hub).await;
            assert_eq!(outcome(&report, "MUG").level, 35, "{report:?}");
            assert_eq!(store_levels(hub)["MUG"], 35);
        }

        // Each store's buffer is its own: the second holds 1 back, the first still shows 35.
        first
            .storage
            .set_stock_buffer(&second.scope, 1)
            .await
            .unwrap();
        push(&first).await;
        push(&second).await;
        assert_eq!(store_levels(&first)["MUG"], 35);
        assert_eq!(store_levels(&second)["MUG"], 34);
    }
);

stock_test!(
    a_shipped_order_leaves_on_hand_so_the_store_shows_what_remains_and_a_later_count_is_not_lowered_again,
    |ctx| {
        let hub = catalog_store(&ctx).await;
        // The warehouse counts 40 mugs; the store shows them.
        hub.storage
            .set_stock(&hub.scope, &stock(&[("MUG", 40)]))
            .await
            .unwrap();
        push(&hub).await;
        assert_eq!(store_levels(&hub)["MUG"], 40);
        // A shopper buys one: it is held back from what the store may sell.
        let order = buy_mugs(&hub, 1).await;
        push(&hub).await;
        assert_eq!(store_levels(&hub)["MUG"], 39);

        // The warehouse ships it and the shipment is delivered to the store: the mug left the
        // building, so it is no longer reserved and no longer on hand.
        report_parcel(&hub, order, 1, "CP100", None).await;
        deliver_shipments(&hub).await;
        push(&hub).await;
        assert_eq!(
            store_levels(&hub)["MUG"],
            39,
            "the store must not offer the mug that shipped"
        );
        assert_eq!(mug(&rows_by_sku(&hub).await), (39, 0), "on hand, reserved");

        // The warehouse counts after the shipment: 39 on the shelf. Nothing is subtracted from
        // a count for a parcel that left before it.
        hub.storage
            .set_stock(&hub.scope, &stock(&[("MUG", 39)]))
            .await
            .unwrap();
        push(&hub).await;
        assert_eq!(store_levels(&hub)["MUG"], 39);
        assert_eq!(mug(&rows_by_sku(&hub).await), (39, 0), "on hand, reserved");
    }
);

stock_test!(
    a_count_taken_after_a_parcel_left_is_not_lowered_again_when_its_shipment_is_delivered_later,
    |ctx| {
        let hub = catalog_store(&ctx).await;
        hub.storage
            .set_stock(&hub.scope, &stock(&[("MUG", 40)]))
            .await
            .unwrap();
        let first = buy_mugs(&hub, 1).await;
        // The parcel leaves and is reported, but the store is not written yet (an outage, the
        // quota): the warehouse counts meanwhile, without that mug.
        report_parcel(&hub, first, 1, "CP200", None).await;
        hub.storage
            .set_stock(&hub.scope, &stock(&[("MUG", 39)]))
            .await
            .unwrap();
        // Until the delivery the mug is still reserved as well: too low for a while, never too
        // high.
        push(&hub).await;
        assert_eq!(store_levels(&hub)["MUG"], 38);
        deliver_shipments(&hub).await;
        push(&hub).await;
        assert_eq!(store_levels(&hub)["MUG"], 39);
        assert_eq!(mug(&rows_by_sku(&hub).await), (39, 0), "on hand, reserved");

        // A parcel the warehouse reports late, dated before the count it already took out of
        // it: not subtracted either.
        let second = buy_mugs(&hub, 2).await;
        let left = chrono::Utc::now();
        tokio::time::sleep(Duration::from_millis(20)).await;
        hub.storage
            .set_stock(&hub.scope, &stock(&[("MUG", 37)]))
            .await
            .unwrap();
        report_parcel(&hub, second, 2, "CP201", Some(left)).await;
        deliver_shipments(&hub).await;
        push(&hub).await;
        assert_eq!(store_levels(&hub)["MUG"], 37);
        assert_eq!(mug(&rows_by_sku(&hub).await), (37, 0), "on hand, reserved");
    }
);

stock_test!(
    the_catalog_import_records_the_level_the_store_reports_for_each_sku,
    |ctx| {
        let hub = catalog_store(&ctx).await;
        hub.storage
            .set_stock(
                &hub.scope,
                &stock(&[("TEE", 1), ("TEE-S", 1), ("MUG", 1), ("CARD", 1)]),
            )
            .await
            .unwrap();
        let rows = rows_by_sku(&hub).await;
        let reported = |sku: &str| rows[sku].catalog.as_ref().unwrap().reported_level;
        assert_eq!(reported("TEE-S"), Some(5));
        // The product-level SKU of a variant-tracked product: the sum BigCommerce reports.
        assert_eq!(reported("TEE"), Some(15));
        assert_eq!(reported("MUG"), Some(20));
        assert_eq!(reported("CARD"), Some(0));
        let tracking = |sku: &str| rows[sku].catalog.as_ref().unwrap().stock_tracking;
        assert_eq!(tracking("MUG"), StockTracking::Product);
        assert_eq!(tracking("TEE-S"), StockTracking::Variant);
        // BigCommerce derives it from the variants: the hub never writes it.
        assert_eq!(tracking("TEE"), StockTracking::Derived);
        assert_eq!(tracking("CARD"), StockTracking::Untracked);
    }
);

stock_test!(
    only_changed_skus_are_pushed_in_full_batches_read_back_and_a_second_push_sends_nothing,
    |ctx| {
        let hub = catalog_store(&ctx).await;
        hub.storage
            .set_stock(
                &hub.scope,
                &stock(&[
                    ("TEE-S", 5), // what the store shows: unchanged
                    ("TEE-M", 9),
                    ("TEE-L", 0),
                    ("MUG", 12),
                    ("PEN", 3),   // unchanged
                    ("CARD", 7),  // untracked
                    ("GHOST", 4), // not in the store's catalog
                ]),
            )
            .await
            .unwrap();
        // An order for 2 TEE-M and 1 MUG, imported: available = on hand − 2 and − 1.
        hub.sandbox
            .with_store(&hub.hash, |data, events| {
                data.place_order(
                    fixtures::order(1, &[("TEE-M", 2, 0), ("MUG", 1, 0)]),
                    events,
                )
            })
            .unwrap()
            .unwrap();
        let_the_store_settle().await;
        sync_orders(&hub.storage, &hub.scope, &hub.channel, &options(), |_| {})
            .await
            .unwrap();
        clear_log(&hub);

        let report = push(&hub).await;
        assert_eq!(report.skus, 7);
        assert_eq!((report.variant_changed, report.product_changed), (2, 1));
        assert_eq!((report.unchanged, report.untracked), (2, 1));
        assert_eq!(report.floor, 2);
        assert_eq!(report.write_requests, 2, "{report:#?}");
        assert_eq!(report.read_requests, 2, "one id:in read per kind");
        assert_eq!(report.aborted, None);
        for sku in ["TEE-M", "TEE-L", "MUG"] {
            assert_eq!(outcome(&report, sku).status, SkuStatus::Ok, "{sku}");
        }
        assert_eq!(outcome(&report, "CARD").detail, "untracked");
        assert_eq!(outcome(&report, "GHOST").detail, "not_in_catalog");
        assert!(outcome(&report, "GHOST")
            .message
            .as_deref()
            .unwrap()
            .contains("cenports sync"));

        let levels = store_levels(&hub);
        assert_eq!(levels["TEE-M"], 7);
        assert_eq!(levels["TEE-L"], 0);
        assert_eq!(levels["MUG"], 11);
        assert_eq!(levels["TEE-S"], 5);
        assert_eq!(levels["PEN"], 3);
        assert_eq!(levels["CARD"], 0, "an untracked product is never written");

        let requests = catalog_requests(&hub);
        let count = |method: &str, path: &str| {
            requests
                .iter()
                .filter(|(m, p, _)| m == method && p.ends_with(path))
                .count()
        };
        assert_eq!(count("PUT", "/v3/catalog/variants"), 1, "{requests:?}");
        assert_eq!(count("PUT", "/v3/catalog/products"), 1, "{requests:?}");
        assert_eq!(count("GET", "/v3/catalog/variants"), 1, "{requests:?}");
        assert_eq!(count("GET", "/v3/catalog/products"), 1, "{requests:?}");
        assert_eq!(requests.len(), 4);
        assert!(requests
            .iter()
            .filter(|(m, _, _)| m == "GET")
            .all(|(_, _, q)| q.contains("id%3Ain=") || q.contains("id:in=")));

        // The read-back is now what the store last reported: nothing differs, nothing is sent.
        let rows = rows_by_sku(&hub).await;
        assert_eq!(
            rows["TEE-M"].catalog.as_ref().unwrap().reported_level,
            Some(7)
        );
        assert_eq!(rows["TEE-M"].last_push.as_ref().unwrap().status, "ok");
        assert_eq!(rows["TEE-M"].last_push.as_ref().unwrap().level, Some(7));
        clear_log(&hub);
        let again = push(&hub).await;
        assert_eq!((again.write_requests, again.read_requests), (0, 0));
        assert_eq!(again.floor, 0);
        assert_eq!(again.unchanged, 5);
        assert!(catalog_requests(&hub).is_empty());
    }
);

stock_test!(
    reserved_is_what_remains_unshipped_on_orders_that_are_not_cancelled_refunded_or_shipped,
    |ctx| {
        let hub = catalog_store(&ctx).await;
        let order = |remote_id: i64, state: FulfilmentState, lines: &[(&str, i32, i32)]| {
            let at = chrono::Utc::now();
            NewOrderRecord {
                remote_id: remote_id.to_string(),
                status_code: "11".into(),
                status_name: "Awaiting Fulfillment".into(),
                fulfilment_state: state,
                customer_id: None,
                email: None,
                currency: "USD".into(),
                subtotal: Default::default(),
                total: Default::default(),
                tax: Default::default(),
                payment_method: None,
                payment_status: None,
                date_created: at,
                date_modified: at,
                is_deleted: false,
                raw_json: "{}".into(),
                lines: lines
                    .iter()
                    .enumerate()
                    .map(|(i, (sku, quantity, shipped))| NewOrderLine {
                        remote_id: (remote_id * 10 + i as i64).to_string(),
                        product_id: None,
                        variant_id: None,
                        sku: sku.to_string(),
                        name: sku.to_string(),
                        quantity: *quantity,
                        quantity_shipped: *shipped,
                        price: Default::default(),
                        address_remote_id: None,
                    })
                    .collect(),
                addresses: Vec::new(),
            }
        };
        let mut archived = order(7, FulfilmentState::Ready, &[("MUG", 100, 0)]);
        archived.is_deleted = true;
        hub.storage
            .upsert_orders(
                &hub.scope,
                &[
                    order(1, FulfilmentState::Ready, &[("MUG", 2, 0), ("PEN", 1, 0)]),
                    order(2, FulfilmentState::OnHold, &[("MUG", 3, 0)]),
                    order(
                        3,
                        FulfilmentState::PartiallyShipped,
                        &[("MUG", 5, 4), ("PEN", 2, 2)],
                    ),
                    order(4, FulfilmentState::Cancelled, &[("MUG", 50, 0)]),
                    order(5, FulfilmentState::Refunded, &[("MUG", 50, 0)]),
                    order(6, FulfilmentState::Shipped, &[("MUG", 50, 0)]),
                    archived,
                    order(8, FulfilmentState::Other, &[("PEN", 1, 0), ("MUG", 1, 0)]),
                ],
            )
            .await
            .unwrap();
        hub.storage
            .set_stock(&hub.scope, &stock(&[("MUG", 10), ("PEN", 1), ("TEE-S", 4)]))
            .await
            .unwrap();
        let rows = rows_by_sku(&hub).await;
        // MUG: 2 (ready) + 3 (on hold) + 1 (5 − 4 shipped) + 1 (other) = 7.
        assert_eq!(rows["MUG"].reserved, 7);
        // PEN: 1 + 0 (2 − 2) + 1 = 2, more than on hand: available is 0, not negative.
        assert_eq!(rows["PEN"].reserved, 2);
        assert_eq!(rows["TEE-S"].reserved, 0);
        assert_eq!(cenports::stock::available(10, 7, 0), 3);

        // The buffer is held back from every SKU.
        hub.storage.set_stock_buffer(&hub.scope, 1).await.unwrap();
        let report = push(&hub).await;
        assert_eq!(outcome(&report, "MUG").level, 2);
        assert_eq!(outcome(&report, "PEN").level, 0);
        assert_eq!(outcome(&report, "TEE-S").level, 3);
        let levels = store_levels(&hub);
        assert_eq!((levels["MUG"], levels["PEN"], levels["TEE-S"]), (2, 0, 3));
    }
);

stock_test!(
    an_item_the_store_rejects_is_reported_on_its_sku_and_the_rest_of_its_batch_is_written,
    |ctx| {
        let hub = catalog_store(&ctx).await;
        // After the catalog import, the merchant deletes the L variant and the pen.
        hub.sandbox
            .with_store(&hub.hash, |data, _| {
                for product in data.products.values_mut() {
                    product.variants.retain(|v| v.sku != "TEE-L");
                }
                data.products.retain(|_, p| p.sku != "PEN");
            })
            .unwrap();
        hub.storage
            .set_stock(
                &hub.scope,
                &stock(&[
                    ("TEE-S", 1),
                    ("TEE-M", 2),
                    ("TEE-L", 3),
                    ("MUG", 4),
                    ("PEN", 6),
                ]),
            )
            .await
            .unwrap();
        clear_log(&hub);
        let report = push(&hub).await;
        assert_eq!(report.aborted, None);
        for sku in ["TEE-S", "TEE-M", "MUG"] {
            assert_eq!(outcome(&report, sku).status, SkuStatus::Ok, "{sku}");
        }
        for (sku, what) in [("TEE-L", "Variant"), ("PEN", "Product")] {
            let o = outcome(&report, sku);
            assert_eq!(o.status, SkuStatus::Rejected, "{sku}");
            let message = o.message.as_deref().unwrap();
            assert!(message.contains(&format!("{what} ")), "{message}");
            assert!(message.contains("does not exist"), "{message}");
        }
        // One rejected batch and its resend per kind.
        assert_eq!(report.write_requests, 4);
        assert_eq!(report.floor, 2);
        let levels = store_levels(&hub);
        assert_eq!((levels["TEE-S"], levels["TEE-M"], levels["MUG"]), (1, 2, 4));
        let puts: Vec<_> = catalog_requests(&hub)
            .into_iter()
            .filter(|(m, _, _)| m == "PUT")
            .collect();
        assert_eq!(puts.len(), 4);
        let rows = rows_by_sku(&hub).await;
        assert_eq!(rows["TEE-L"].last_push.as_ref().unwrap().status, "rejected");
        assert_eq!(rows["TEE-L"].last_push.as_ref().unwrap().level, None);
        assert_eq!(rows["MUG"].last_push.as_ref().unwrap().status, "ok");
    }
);

/// The BigCommerce store, with an order placed in the store just before each stock read-back:
/// the race of docs/STOCK.md, at the exact moment it can happen.
struct OrderBeforeReadBack<'a> {
    inner: BigCommerceStore,
    hub: &'a Hub,
    sku: &'static str,
}

impl StoreClient for OrderBeforeReadBack<'_> {
    fn channel(&self) -> &'static str {
        self.inner.channel()
    }
    fn store_key(&self) -> &str {
        self.inner.store_key()
    }
    fn pacing(&self) -> Pacing {
        self.inner.pacing()
    }
    fn orders(&self) -> &dyn OrdersIn {
        self.inner.orders()
    }
    fn catalog(&self) -> &dyn CatalogIn {
        self.inner.catalog()
    }
    fn fulfilment(&self) -> &dyn FulfilmentOut {
        self.inner.fulfilment()
    }
    fn stock(&self) -> &dyn StockOut {
        self
    }
    fn hooks(&self) -> Option<&dyn HooksOut> {
        self.inner.hooks()
    }
}

#[async_trait]
impl StockOut for OrderBeforeReadBack<'_> {
    fn batch_limit(&self, kind: WriteKind) -> usize {
        self.inner.batch_limit(kind)
    }
    fn read_limit(&self) -> usize {
        self.inner.read_limit()
    }
    async fn write(&self, kind: WriteKind, items: &[Write]) -> Result<WriteOutcome, ChannelError> {
        self.inner.write(kind, items).await
    }
    async fn read(
        &self,
        kind: WriteKind,
        ids: &[String],
    ) -> Result<HashMap<String, i64>, ChannelError> {
        let sku = self.sku;
        self.hub
            .sandbox
            .with_store(&self.hub.hash, |data, events| {
                data.place_order(fixtures::order(1, &[(sku, 1, 0)]), events)
            })
            .unwrap()
            .unwrap();
        self.inner.read(kind, ids).await
    }
}

stock_test!(
    an_order_placed_between_the_write_and_the_read_back_is_recorded_and_closes_after_its_import,
    |ctx| {
        let hub = catalog_store(&ctx).await;
        hub.storage
            .set_stock(&hub.scope, &stock(&[("TEE-M", 8)]))
            .await
            .unwrap();
        let channel = OrderBeforeReadBack {
            inner: hub.channel.clone(),
            hub: &hub,
            sku: "TEE-M",
        };
        let report = push_stock(&hub.storage, &hub.scope, &channel)
            .await
            .unwrap();
        let o = outcome(&report, "TEE-M");
        assert_eq!(o.status, SkuStatus::Mismatch);
        assert_eq!((o.level, o.reported), (8, Some(7)));
        assert!(o
            .message
            .as_deref()
            .unwrap()
            .contains("the store now shows 7"));
        let rows = rows_by_sku(&hub).await;
        assert_eq!(rows["TEE-M"].last_push.as_ref().unwrap().status, "mismatch");
        assert_eq!(
            rows["TEE-M"].catalog.as_ref().unwrap().reported_level,
            Some(7)
        );

        // Once the order is imported, available is 8 − 1 = 7, what the store shows: nothing to
        // send, and the store is right.
        let_the_store_settle().await;
        sync_orders(&hub.storage, &hub.scope, &hub.channel, &options(), |_| {})
            .await
            .unwrap();
        let again = push(&hub).await;
        assert_eq!(again.write_requests, 0);
        assert_eq!(again.unchanged, 1);
        assert_eq!(store_levels(&hub)["TEE-M"], 7);
    }
);

stock_test!(
    an_outage_stops_the_push_reports_every_unsent_sku_and_the_next_push_sends_them,
    |ctx| {
        let hub = catalog_store(&ctx).await;
        hub.storage
            .set_stock(&hub.scope, &stock(&[("TEE-S", 1), ("MUG", 2)]))
            .await
            .unwrap();
        let store = hub.sandbox.store(&hub.hash).unwrap();
        store.faults.lock().push(FaultRule {
            method: Some("PUT".into()),
            path_contains: Some("/v3/catalog/variants".into()),
            ..FaultRule::always(FaultKind::Error500)
        });
        let report = push(&hub).await;
        let error = report.aborted.clone().expect("the push stopped");
        assert!(error.contains("500"), "{error}");
        assert_eq!(outcome(&report, "TEE-S").status, SkuStatus::Failed);
        // Products come after variants: not sent once the push stopped.
        assert_eq!(outcome(&report, "MUG").status, SkuStatus::Failed);
        assert_eq!(store_levels(&hub)["MUG"], 20);
        assert_eq!(
            rows_by_sku(&hub).await["TEE-S"]
                .last_push
                .as_ref()
                .unwrap()
                .status,
            "failed"
        );

        store.faults.lock().clear();
        let report = push(&hub).await;
        assert_eq!(report.aborted, None);
        assert_eq!(report.write_requests, 2);
        let levels = store_levels(&hub);
        assert_eq!((levels["TEE-S"], levels["MUG"]), (1, 2));
    }
);

stock_test!(
    setting_stock_is_absolute_idempotent_and_scoped_to_its_merchant,
    |ctx| {
        let a = catalog_store(&ctx).await;
        // Another merchant's store (on hand is the merchant's, shared by their own stores).
        let sandbox = common::start_sandbox().await;
        let info = sandbox.create_store(StoreSpec {
            seed: 2,
            products: 0,
            orders: 0,
            ..StoreSpec::default()
        });
        let b =
            common::connect_store_for(&ctx.storage, "other@example.com", sandbox, &info, |_| {})
                .await;
        assert_ne!(a.scope.user_id(), b.scope.user_id());
        let first = stock(&[("MUG", 4), ("TEE-S", 2), ("MUG", 5)]);
        assert_eq!(a.storage.set_stock(&a.scope, &first).await.unwrap(), 2);
        // The same values again write nothing; one change writes one row.
        assert_eq!(a.storage.set_stock(&a.scope, &first).await.unwrap(), 0);
        assert_eq!(
            a.storage
                .set_stock(&a.scope, &stock(&[("MUG", 5), ("TEE-S", 0)]))
                .await
                .unwrap(),
            1
        );
        let rows = rows_by_sku(&a).await;
        assert_eq!((rows["MUG"].on_hand, rows["TEE-S"].on_hand), (5, 0));

        // Store B, another merchant's, sees none of A's stock, buffer or catalog.
        assert!(b.storage.stock_rows(&b.scope).await.unwrap().is_empty());
        a.storage.set_stock_buffer(&a.scope, 2).await.unwrap();
        assert_eq!(b.storage.stock_buffer(&b.scope).await.unwrap(), 0);
        b.storage
            .set_stock(&b.scope, &stock(&[("MUG", 1)]))
            .await
            .unwrap();
        let b_rows = b.storage.stock_rows(&b.scope).await.unwrap();
        assert_eq!(b_rows.len(), 1);
        assert_eq!(
            b_rows[0].catalog, None,
            "A's catalog entry for MUG is not B's"
        );
        assert_eq!(rows_by_sku(&a).await["MUG"].on_hand, 5);
    }
);
