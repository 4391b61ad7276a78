//! The import (`docs/HARD-PROBLEMS.md` note 1) against a real sandbox on a loopback port, on both
//! backends.
//!
//! Each test is written once and `sync_test!` expands it into `<name>::sqlite` (a fresh
//! temporary file) and `<name>::postgres` (a fresh database on 127.0.0.1:5432, dropped at the
//! end; `CENPORTS_TEST_POSTGRES_URL` overrides the admin URL). Without PostgreSQL the PostgreSQL
//! variants fail when `CI` is set and are skipped with a notice otherwise.
//!
//! The benchmark `a_backfill_of_20000_orders_is_bounded_by_the_api` is ignored; run it with
//! `cargo test --release -p cenports --test it sync:: -- --ignored --nocapture`.

use crate::common::{self, run, Ctx, Kind};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bigcommerce_sandbox::model::InventoryTracking as SbTracking;
use bigcommerce_sandbox::store::OrderUpdate;
use bigcommerce_sandbox::{fixtures, FaultKind, FaultRule, Plan, StoreSpec};
use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};

use cenports::storage::*;
use cenports::sync::{
    sync_catalog, sync_open_orders, sync_orders, sync_store, SyncOptions, SyncReport,
};

// ------------------------------------------------------------------ backends

use crate::common::both_backends as sync_test;

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

/// (date_modified, status code) of every order the store lists (not archived, not incomplete),
/// by order id.
fn store_orders(hub: &Hub) -> BTreeMap<i64, (DateTime<Utc>, String)> {
    hub.sandbox
        .with_store(&hub.hash, |data, _| {
            data.orders
                .values()
                .filter(|o| !o.is_deleted && o.status_id != 0)
                .map(|o| (o.id as i64, (o.date_modified, o.status_id.to_string())))
                .collect()
        })
        .unwrap()
}

/// The same, from the hub (BigCommerce's ids are numbers, kept as text); panics on a duplicate
/// remote id.
async fn hub_orders(hub: &Hub) -> BTreeMap<i64, (DateTime<Utc>, String)> {
    let filter = OrderFilter {
        include_deleted: true,
        ..OrderFilter::default()
    };
    let mut all = BTreeMap::new();
    let mut after = None;
    loop {
        let page = hub
            .storage
            .list_orders(&hub.scope, &filter, 1000, after)
            .await
            .unwrap();
        for o in page.orders {
            let id: i64 = o.remote_id.parse().expect("a BigCommerce order id");
            let dup = all.insert(id, (o.date_modified, o.status_code));
            assert!(dup.is_none(), "order {} is in the hub twice", o.remote_id);
        }
        match page.next_cursor {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    all
}

/// Asserts the hub holds exactly `expected`, naming only the differences.
#[track_caller]
fn assert_same(
    held: &BTreeMap<i64, (DateTime<Utc>, String)>,
    expected: &BTreeMap<i64, (DateTime<Utc>, String)>,
    what: &str,
) {
    let missing: Vec<_> = expected
        .keys()
        .filter(|k| !held.contains_key(k))
        .take(10)
        .collect();
    let extra: Vec<_> = held
        .keys()
        .filter(|k| !expected.contains_key(k))
        .take(10)
        .collect();
    let stale: Vec<_> = expected
        .iter()
        .filter_map(|(k, v)| held.get(k).filter(|h| *h != v).map(|h| (k, h, v)))
        .take(10)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && stale.is_empty() && held.len() == expected.len(),
        "{what}: {} held, {} expected; missing {missing:?}; extra {extra:?}; stale (held, store) {stale:?}",
        held.len(),
        expected.len()
    );
}

/// Requests the store logged after `after_seq` on `GET /v2/orders` (the list, not the count).
fn order_list_requests(hub: &Hub, after_seq: u64) -> Vec<bigcommerce_sandbox::log::RequestRecord> {
    hub.sandbox
        .store(&hub.hash)
        .unwrap()
        .log
        .lock()
        .since(after_seq)
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/v2/orders"))
        .collect()
}

fn last_seq(hub: &Hub) -> u64 {
    let store = hub.sandbox.store(&hub.hash).unwrap();
    let log = store.log.lock();
    log.since(0).last().map_or(0, |r| r.seq)
}

fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Adds a product with 60 variants (stock 100,000 each) and returns their SKUs.
fn add_big_product(hub: &Hub) -> Vec<String> {
    let skus: Vec<String> = (0..60).map(|i| format!("BIG-{i:02}")).collect();
    let variants = skus
        .iter()
        .map(|s| fixtures::variant(s, s, 100_000))
        .collect();
    hub.sandbox
        .with_store(&hub.hash, |data, _| {
            data.add_product(fixtures::product(
                "Sixty-way towel",
                "BIG",
                SbTracking::Variant,
                0,
                variants,
            ))
        })
        .unwrap();
    skus
}

fn place(hub: &Hub, addresses: usize, lines: &[(&str, u32, usize)]) -> u64 {
    hub.sandbox
        .with_store(&hub.hash, |data, events| {
            data.place_order(fixtures::order(addresses, lines), events)
        })
        .unwrap()
        .expect("the sandbox accepts the order")
}

fn unthrottled(orders: usize, seed: u64) -> StoreSpec {
    StoreSpec {
        orders,
        products: 40,
        seed,
        plan: Plan::Unlimited,
        ..StoreSpec::default()
    }
}

// ------------------------------------------------------------------ (a) backfill

sync_test!(
    a_backfill_imports_exactly_the_stores_orders_with_all_their_lines,
    |ctx| {
        let hub = connect(&ctx, unthrottled(700, 11)).await;
        let skus = add_big_product(&hub);
        let lines: Vec<(&str, u32, usize)> = skus.iter().map(|s| (s.as_str(), 2, 0)).collect();
        let big = place(&hub, 1, &lines);
        let multi = place(
            &hub,
            3,
            &[
                (skus[0].as_str(), 1, 0),
                (skus[1].as_str(), 2, 1),
                (skus[2].as_str(), 3, 2),
                (skus[3].as_str(), 1, 2),
            ],
        );
        let_the_store_settle().await;

        let mut events = Vec::new();
        let report = sync_store(&hub.storage, &hub.scope, &hub.channel, &options(), |p| {
            events.push(p)
        })
        .await
        .unwrap();

        let expected = store_orders(&hub);
        let held = hub_orders(&hub).await;
        assert_same(&held, &expected, "the hub holds exactly the store's orders");
        assert_eq!(report.inserted as usize, expected.len());
        assert!(report.products >= 41, "products read: {}", report.products);
        assert!(events
            .iter()
            .any(|p| p.stream == "orders" && p.expected.is_some()));

        // Only the order over the 50-line cap needed its own /products request.
        let store = hub.sandbox.store(&hub.hash).unwrap();
        let product_calls: Vec<_> = store
            .log
            .lock()
            .since(0)
            .into_iter()
            .filter(|r| r.path.ends_with("/products") && r.path.contains("/v2/orders/"))
            .map(|r| r.path)
            .collect();
        // Once per walk that read it: the open-orders walk (it awaits fulfilment) and the backfill.
        assert!((1..=2).contains(&product_calls.len()), "{product_calls:?}");
        assert!(product_calls
            .iter()
            .all(|p| p.contains(&format!("/v2/orders/{big}/"))));

        // Field by field against the store's own data.
        for id in [big, multi, *expected.keys().next().unwrap() as u64] {
            let want = hub
                .sandbox
                .with_store(&hub.hash, |data, _| data.orders[&id].clone())
                .unwrap();
            let got = hub
                .storage
                .find_order_by_remote_id(&hub.scope, &id.to_string())
                .await
                .unwrap()
                .expect("imported");
            let s = &got.summary;
            assert_eq!(s.status_code, want.status_id.to_string());
            assert_eq!(
                Some(s.status_name.as_str()),
                bigcommerce_sandbox::model::status_name(want.status_id)
            );
            assert_eq!(
                s.fulfilment_state,
                SyncOptions::default()
                    .status_mapping(&hub.channel)
                    .state(&want.status_id.to_string())
            );
            assert_eq!(s.total, want.total_inc_tax());
            assert_eq!(s.subtotal, want.subtotal_ex_tax());
            assert_eq!(s.tax, want.total_tax());
            assert_eq!(s.currency, want.currency_code);
            assert_eq!(s.date_modified, want.date_modified);
            assert_eq!(s.date_created, want.date_created);
            assert_eq!(
                s.email.as_deref(),
                Some(want.billing_address.email.as_str()).filter(|e| !e.is_empty())
            );
            assert!(!s.is_deleted);
            let raw: serde_json::Value = serde_json::from_str(&got.raw_json).unwrap();
            assert_eq!(raw["id"], serde_json::json!(id));

            assert_eq!(got.lines.len(), want.lines.len(), "order {id}");
            for line in &want.lines {
                let l = got
                    .lines
                    .iter()
                    .find(|l| l.remote_id == line.id.to_string())
                    .expect("every line, by order_product_id");
                assert_eq!(l.sku, line.sku);
                assert_eq!(l.quantity, line.quantity as i32);
                assert_eq!(l.quantity_shipped, line.quantity_shipped as i32);
                assert_eq!(l.product_id, Some(line.product_id.to_string()));
                assert_eq!(
                    l.variant_id,
                    Some(line.variant_id)
                        .filter(|v| *v != 0)
                        .map(|v| v.to_string())
                );
                assert_eq!(l.address_remote_id, Some(line.order_address_id.to_string()));
                assert_eq!(l.price, line.price_ex_tax);
            }
            let shipping: Vec<_> = got
                .addresses
                .iter()
                .filter(|a| a.kind == AddressKind::Shipping)
                .collect();
            assert_eq!(shipping.len(), want.shipping_addresses.len(), "order {id}");
            for (a, w) in shipping.iter().zip(&want.shipping_addresses) {
                assert_eq!(a.remote_id, Some(w.id.to_string()));
                assert_eq!(a.street_1, w.address.street_1);
                assert_eq!(a.zip, w.address.zip);
                assert_eq!(a.country_iso2, w.address.country_iso2);
                assert_eq!(a.first_name, w.address.first_name);
            }
            let billing = &got.addresses[0];
            assert_eq!(billing.kind, AddressKind::Billing);
            assert_eq!(billing.remote_id, None);
            assert_eq!(billing.city, want.billing_address.city);
        }
        let big_order = hub
            .storage
            .find_order_by_remote_id(&hub.scope, &big.to_string())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            big_order.lines.len(),
            60,
            "all 60 lines, past the 50-line cap"
        );

        // The catalog: the SKU index names the variant.
        let sku = hub
            .storage
            .find_sku(&hub.scope, "BIG-07")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sku.stock_tracking, StockTracking::Variant);
        assert!(sku.variant_remote_id.is_some());
    }
);

// ------------------------------------------------------------------ (b) nothing changed

sync_test!(
    a_second_sync_with_no_change_writes_nothing_and_costs_about_one_page,
    |ctx| {
        let hub = connect(&ctx, unthrottled(600, 12)).await;
        let first = sync_store(&hub.storage, &hub.scope, &hub.channel, &options(), |_| {})
            .await
            .unwrap();
        assert!(first.inserted >= 500);
        let seq = last_seq(&hub);
        let second = sync_store(&hub.storage, &hub.scope, &hub.channel, &options(), |_| {})
            .await
            .unwrap();
        assert_eq!((second.inserted, second.updated), (0, 0), "{second:?}");
        assert_eq!(second.unchanged, second.orders_read());
        assert!(second.pages <= 1, "{second:?}");
        // The clock, one page of orders, one (empty) page of archived orders, one page of
        // products.
        assert!(second.api_requests <= 4, "{second:?}");
        let (archived, live): (Vec<_>, Vec<_>) = order_list_requests(&hub, seq)
            .into_iter()
            .partition(|r| query_param(&r.query, "is_deleted").as_deref() == Some("true"));
        assert_eq!(live.len() as u64, second.pages.max(1));
        assert_eq!(archived.len(), 1, "one empty page of archived orders");
        assert_same(
            &hub_orders(&hub).await,
            &store_orders(&hub),
            "after the sync",
        );
    }
);

// ------------------------------------------------------------------ (c) churn

sync_test!(
    orders_changed_and_created_during_a_sync_are_neither_missed_nor_duplicated,
    |ctx| {
        let hub = connect(&ctx, unthrottled(3000, 13)).await;
        let skus = add_big_product(&hub);
        // Slow every order page a little so the walk takes long enough to be changed under.
        hub.sandbox
            .store(&hub.hash)
            .unwrap()
            .faults
            .lock()
            .push(FaultRule {
                kind: FaultKind::Latency,
                latency_ms: Some(15),
                path_contains: Some("/v2/orders".into()),
                ..FaultRule::always(FaultKind::Latency)
            });
        let options = SyncOptions {
            page_size: 25,
            ..options()
        };
        let ids: Vec<u64> = store_orders(&hub).keys().map(|id| *id as u64).collect();
        let done = Arc::new(AtomicBool::new(false));
        let churn = {
            let (sandbox, hash, done, skus) = (
                hub.sandbox.clone(),
                hub.hash.clone(),
                done.clone(),
                skus.clone(),
            );
            tokio::spawn(async move {
                let mut rng = rand::rngs::StdRng::seed_from_u64(99);
                let (mut changes, mut placed) = (0u32, 0u32);
                while !done.load(Ordering::SeqCst) {
                    let id = ids[rng.gen_range(0..ids.len())];
                    let action = rng.gen_range(0..3);
                    sandbox.with_store(&hash, |data, events| match action {
                        0 => {
                            let status = [2, 3, 5, 7, 9, 10, 11][rng.gen_range(0..7)];
                            let update = OrderUpdate {
                                status_id: Some(status),
                                ..OrderUpdate::default()
                            };
                            data.update_order(id, update, events).unwrap();
                            changes += 1;
                        }
                        1 => {
                            data.touch_order(id, events).unwrap();
                            changes += 1;
                        }
                        _ => {
                            let sku = skus[rng.gen_range(0..skus.len())].as_str();
                            data.place_order(fixtures::order(1, &[(sku, 1, 0)]), events)
                                .unwrap();
                            placed += 1;
                        }
                    });
                    tokio::time::sleep(Duration::from_millis(7)).await;
                }
                (changes, placed)
            })
        };
        let first = sync_orders(&hub.storage, &hub.scope, &hub.channel, &options, |_| {})
            .await
            .unwrap();
        done.store(true, Ordering::SeqCst);
        let (changes, placed) = churn.await.unwrap();
        eprintln!(
            "churn: {changes} changes and {placed} new orders during a {}-page walk",
            first.pages
        );
        assert!(
            changes >= 50 && placed >= 20,
            "the churn overlapped the walk"
        );

        // Sync again until a run finds nothing new.
        let mut runs = 1;
        loop {
            let_the_store_settle().await;
            let again = sync_orders(&hub.storage, &hub.scope, &hub.channel, &options, |_| {})
                .await
                .unwrap();
            runs += 1;
            if again.inserted + again.updated == 0 || runs > 5 {
                break;
            }
        }
        let expected = store_orders(&hub);
        let held = hub_orders(&hub).await;
        assert_same(&held, &expected, "after the churn");
        assert!(runs <= 3, "quiescent after {runs} runs");
    }
);

// ------------------------------------------------------------------ (d) resume

sync_test!(
    an_interrupted_backfill_resumes_at_its_checkpoint_without_rereading,
    |ctx| {
        let hub = connect(&ctx, unthrottled(1000, 14)).await;
        let options = SyncOptions {
            page_size: 100,
            ..options()
        };
        let fault = FaultRule {
            path_contains: Some("/v2/orders".into()),
            ..FaultRule::always(FaultKind::Error500)
        };
        let store = hub.sandbox.store(&hub.hash).unwrap();
        let failed = sync_orders(&hub.storage, &hub.scope, &hub.channel, &options, |p| {
            if p.pages == 3 {
                store.faults.lock().push(fault.clone());
            }
        })
        .await;
        assert!(failed.is_err(), "the walk stops on persistent 500s");
        let cp = hub
            .storage
            .get_checkpoint(&hub.scope, STREAM_ORDERS)
            .await
            .unwrap()
            .expect("a checkpoint was committed with the pages");
        assert_eq!(cp.completed_at, None, "the window is not finished");
        assert_eq!(cp.window_start, None, "a backfill has no lower bound");
        let end = cp.window_end.expect("the window is frozen");
        let last: i64 = cp
            .cursor
            .expect("inside the window")
            .parse()
            .expect("the cursor is the last order id committed");
        let held = hub_orders(&hub).await;
        // Three pages at least; the next page may have been fetched while the third was saved.
        assert!(
            held.len() >= 300 && held.len() % 100 == 0,
            "whole pages committed: {}",
            held.len()
        );
        assert_eq!(*held.keys().max().unwrap(), last);

        store.faults.lock().clear();
        let seq = last_seq(&hub);
        let resumed = sync_orders(&hub.storage, &hub.scope, &hub.channel, &options, |_| {})
            .await
            .unwrap();
        assert_same(
            &hub_orders(&hub).await,
            &store_orders(&hub),
            "after the sync",
        );
        assert_eq!(
            resumed.inserted as usize,
            store_orders(&hub).len() - held.len()
        );
        // The archived pass walks the same window with its own cursor; it had not started.
        let requests: Vec<_> = order_list_requests(&hub, seq)
            .into_iter()
            .filter(|r| query_param(&r.query, "is_deleted").is_none())
            .collect();
        assert!(!requests.is_empty());
        for r in &requests {
            let min_id: i64 = query_param(&r.query, "min_id").unwrap().parse().unwrap();
            assert!(min_id > last, "re-read before the checkpoint: {}", r.query);
            let max = query_param(&r.query, "max_date_modified").unwrap();
            assert_eq!(
                DateTime::parse_from_rfc3339(&max)
                    .unwrap()
                    .with_timezone(&Utc),
                end,
                "the same frozen window"
            );
        }
        assert!(requests.len() <= 8, "{} list requests", requests.len());
        let cp = hub
            .storage
            .get_checkpoint(&hub.scope, STREAM_ORDERS)
            .await
            .unwrap()
            .unwrap();
        assert!(cp.completed_at.is_some());
    }
);

// ------------------------------------------------------------------ archived orders

sync_test!(
    an_order_archived_after_a_sync_is_marked_deleted_in_the_hub_not_lost,
    |ctx| {
        let hub = connect(&ctx, unthrottled(300, 18)).await;
        sync_store(&hub.storage, &hub.scope, &hub.channel, &options(), |_| {})
            .await
            .unwrap();
        let before = store_orders(&hub);
        assert_same(&hub_orders(&hub).await, &before, "after the first sync");
        let archived = *before.keys().nth(before.len() / 2).unwrap();
        hub.sandbox
            .with_store(&hub.hash, |data, events| {
                let update = OrderUpdate {
                    is_deleted: Some(true),
                    ..OrderUpdate::default()
                };
                data.update_order(archived as u64, update, events)
            })
            .unwrap()
            .unwrap();
        assert!(
            !store_orders(&hub).contains_key(&archived),
            "the store hides it"
        );
        let_the_store_settle().await;

        let report = sync_store(&hub.storage, &hub.scope, &hub.channel, &options(), |_| {})
            .await
            .unwrap();
        assert_eq!((report.inserted, report.updated), (0, 1), "{report:?}");

        // Kept, marked, with its new version.
        let held = hub
            .storage
            .find_order_by_remote_id(&hub.scope, &archived.to_string())
            .await
            .unwrap()
            .expect("an archived order stays in the hub");
        assert!(held.summary.is_deleted);
        let store_modified = hub
            .sandbox
            .with_store(&hub.hash, |data, _| {
                data.orders[&(archived as u64)].date_modified
            })
            .unwrap();
        assert_eq!(held.summary.date_modified, store_modified);
        let all = hub_orders(&hub).await;
        assert_eq!(all.len(), before.len(), "nothing removed, nothing added");

        // Listings leave it out unless asked (what `cenports orders` shows by default).
        let mut listed = Vec::new();
        let mut after = None;
        loop {
            let page = hub
                .storage
                .list_orders(&hub.scope, &OrderFilter::default(), 1000, after)
                .await
                .unwrap();
            listed.extend(page.orders.into_iter().map(|o| o.remote_id));
            match page.next_cursor {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        assert!(!listed.contains(&archived.to_string()));
        assert_eq!(listed.len(), before.len() - 1);

        let cp = hub
            .storage
            .get_checkpoint(&hub.scope, "orders_archived")
            .await
            .unwrap()
            .expect("the archived pass has its own cursor");
        assert!(cp.completed_at.is_some());

        // Read again in the next window's overlap, it costs no write.
        let_the_store_settle().await;
        let again = sync_store(&hub.storage, &hub.scope, &hub.channel, &options(), |_| {})
            .await
            .unwrap();
        assert_eq!((again.inserted, again.updated), (0, 0), "{again:?}");
        assert!(
            hub.storage
                .find_order_by_remote_id(&hub.scope, &archived.to_string())
                .await
                .unwrap()
                .unwrap()
                .summary
                .is_deleted
        );
    }
);

// ------------------------------------------------------------------ (e) open orders first

sync_test!(
    open_orders_arrive_first_in_a_handful_of_requests_on_a_standard_plan,
    |ctx| {
        let hub = connect(
            &ctx,
            StoreSpec {
                orders: 5000,
                products: 40,
                seed: 15,
                plan: Plan::Standard,
                ..StoreSpec::default()
            },
        )
        .await;
        let open: BTreeMap<i64, (DateTime<Utc>, String)> = store_orders(&hub)
            .into_iter()
            .filter(|(_, (_, status))| status == "11" || status == "9")
            .collect();
        assert!(!open.is_empty());
        let report = sync_open_orders(&hub.storage, &hub.scope, &hub.channel, &options(), |_| {})
            .await
            .unwrap();
        eprintln!(
            "open orders first: {} orders in {} requests, {:?}",
            report.inserted, report.api_requests, report.elapsed
        );
        assert_same(
            &hub_orders(&hub).await,
            &open,
            "every open order, and only those",
        );
        let pages_needed = open.len().div_ceil(250) as u64 + 2;
        assert!(report.api_requests <= 1 + pages_needed, "{report:?}");
        assert!(report.elapsed < Duration::from_secs(5), "{report:?}");

        // The backfill that follows does not walk the open orders again, and completes the rest.
        let rest: SyncReport =
            sync_store(&hub.storage, &hub.scope, &hub.channel, &options(), |_| {})
                .await
                .unwrap();
        assert_eq!(
            rest.inserted as usize,
            store_orders(&hub).len() - open.len()
        );
        assert_same(
            &hub_orders(&hub).await,
            &store_orders(&hub),
            "after the sync",
        );
    }
);

// ------------------------------------------------------------------ catalog

sync_test!(
    the_catalog_sync_indexes_every_sku_and_then_reads_only_changes,
    |ctx| {
        let hub = connect(&ctx, unthrottled(0, 16)).await;
        let first = sync_catalog(&hub.storage, &hub.scope, &hub.channel, &options(), |_| {})
            .await
            .unwrap();
        let (products, locations) = hub
            .sandbox
            .with_store(&hub.hash, |data, _| {
                let locations: Vec<(String, u64)> = data
                    .skus
                    .iter()
                    .map(|(sku, at)| (sku.clone(), at.product_id))
                    .collect();
                (data.products.len(), locations)
            })
            .unwrap();
        assert_eq!(first.products as usize, products);
        assert_eq!(
            hub.storage.count_products(&hub.scope).await.unwrap() as usize,
            products
        );
        for (sku, product_id) in &locations {
            let found = hub.storage.find_sku(&hub.scope, sku).await.unwrap();
            let found = found.unwrap_or_else(|| panic!("SKU {sku} is indexed"));
            assert_eq!(found.product_remote_id, product_id.to_string(), "{sku}");
        }
        let again = sync_catalog(&hub.storage, &hub.scope, &hub.channel, &options(), |_| {})
            .await
            .unwrap();
        assert_eq!(again.skus, 0, "{again:?}");
        assert!(again.api_requests <= 2, "{again:?}");
    }
);

// ------------------------------------------------------------------ benchmark

async fn benchmark(ctx: Ctx, backend: &str) {
    let hub = connect(&ctx, unthrottled(20_000, 17)).await;
    let total = store_orders(&hub).len();
    let_the_store_settle().await;
    let report = sync_orders(&hub.storage, &hub.scope, &hub.channel, &options(), |_| {})
        .await
        .unwrap();
    assert_eq!(report.inserted as usize, total);
    let secs = report.elapsed.as_secs_f64();
    eprintln!(
        "BENCH {backend}: {total} orders in {secs:.2} s = {:.0} orders/s, {} requests = {:.2} per 1,000 orders",
        total as f64 / secs,
        report.api_requests,
        report.api_requests as f64 * 1000.0 / total as f64
    );
}

mod a_backfill_of_20000_orders_is_bounded_by_the_api {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "benchmark: run with --release -- --ignored --nocapture"]
    async fn sqlite() {
        run(Kind::Sqlite, |ctx| benchmark(ctx, "sqlite")).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "benchmark: run with --release -- --ignored --nocapture"]
    async fn postgres() {
        run(Kind::Postgres, |ctx| benchmark(ctx, "postgres")).await
    }
}

// ------------------------------------------------------------------ versions within one second

/// BigCommerce's status table, as the webhook worker reads with (no overrides).
fn bigcommerce_mapping() -> cenports::channel::StatusMapping {
    cenports::channel::bigcommerce::mapping::status_mapping()
}

/// Changes an order's status in the sandbox and keeps its `date_modified` at `second` (what
/// BigCommerce, with its one-second resolution, shows for a second change within the same
/// second as the first). Returns the order's `date_modified`.
fn change_within(
    hub: &Hub,
    id: u64,
    status_id: u32,
    second: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    hub.sandbox
        .with_store(&hub.hash, |data, events| {
            data.update_order(
                id,
                OrderUpdate {
                    status_id: Some(status_id),
                    ..OrderUpdate::default()
                },
                events,
            )
            .unwrap();
            let order = data.orders.get_mut(&id).unwrap();
            if let Some(second) = second {
                order.date_modified = second;
            }
            order.date_modified
        })
        .unwrap()
}

/// The hub's copy of an order: (status code, `date_modified`, status id in its raw JSON).
async fn held(hub: &Hub, id: u64) -> (String, DateTime<Utc>, u64) {
    let order = hub
        .storage
        .find_order_by_remote_id(&hub.scope, &id.to_string())
        .await
        .unwrap()
        .expect("the order is in the hub");
    let raw: serde_json::Value = serde_json::from_str(&order.raw_json).unwrap();
    (
        order.summary.status_code,
        order.summary.date_modified,
        raw["status_id"].as_u64().unwrap(),
    )
}

sync_test!(
    a_change_in_the_same_second_as_a_webhook_read_is_picked_up_by_the_next_sync,
    |ctx| {
        let hub = connect(&ctx, unthrottled(5, 41)).await;
        sync_orders(&hub.storage, &hub.scope, &hub.channel, &options(), |_| {})
            .await
            .unwrap();
        let id = *store_orders(&hub).keys().next().unwrap() as u64;

        // The order changes and a webhook makes the hub read it at once…
        let second = change_within(&hub, id, 9, None);
        cenports::sync::targeted::import_order(
            &hub.storage,
            &hub.scope,
            &hub.channel,
            &bigcommerce_mapping(),
            &id.to_string(),
        )
        .await
        .unwrap();
        assert_eq!(held(&hub, id).await, ("9".to_owned(), second, 9));
        // …and it changes again within the same second: same date_modified, other content.
        change_within(&hub, id, 12, Some(second));

        let_the_store_settle().await;
        sync_orders(&hub.storage, &hub.scope, &hub.channel, &options(), |_| {})
            .await
            .unwrap();
        assert_eq!(
            held(&hub, id).await,
            ("12".to_owned(), second, 12),
            "the next sync brings the store's last version of that second"
        );
        assert_same(
            &hub_orders(&hub).await,
            &store_orders(&hub),
            "after the sync",
        );
        hub.sandbox.shutdown();
    }
);

sync_test!(
    of_two_racing_targeted_fetches_the_older_never_overwrites_the_newer,
    |ctx| {
        let hub = connect(&ctx, unthrottled(5, 43)).await;
        sync_orders(&hub.storage, &hub.scope, &hub.channel, &options(), |_| {})
            .await
            .unwrap();
        let id = *store_orders(&hub).keys().next().unwrap() as u64;
        let second = change_within(&hub, id, 9, None);

        // Fetch A reads the order (status 9) and its answer is held up on the way back.
        hub.sandbox
            .store(&hub.hash)
            .unwrap()
            .faults
            .lock()
            .push(FaultRule {
                count: Some(1),
                method: Some("GET".into()),
                path_contains: Some("/v2/orders".into()),
                after_effect: true,
                latency_ms: Some(1_500),
                ..FaultRule::always(FaultKind::Latency)
            });
        let slow = tokio::spawn({
            let (storage, scope, channel) = (hub.storage.clone(), hub.scope, hub.channel.clone());
            async move {
                cenports::sync::targeted::import_order(
                    &storage,
                    &scope,
                    &channel,
                    &bigcommerce_mapping(),
                    &id.to_string(),
                )
                .await
                .unwrap()
            }
        });
        // The store answers A at once; the answer then takes 1.5 s to arrive.
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The order changes within the same second and fetch B reads and saves it first.
        change_within(&hub, id, 12, Some(second));
        cenports::sync::targeted::import_order(
            &hub.storage,
            &hub.scope,
            &hub.channel,
            &bigcommerce_mapping(),
            &id.to_string(),
        )
        .await
        .unwrap();
        assert_eq!(held(&hub, id).await, ("12".to_owned(), second, 12));
        // A saves last, with the older version.
        assert!(!slow.is_finished(), "fetch A is still on its way");
        slow.await.unwrap();
        assert_eq!(
            held(&hub, id).await,
            ("12".to_owned(), second, 12),
            "the older read must not overwrite the newer one"
        );
        hub.sandbox.shutdown();
    }
);

sync_test!(
    two_writers_saving_the_same_new_orders_at_once_both_succeed_with_one_row_each,
    |ctx| {
        let hub = connect(&ctx, unthrottled(60, 47)).await;
        let mapping = bigcommerce_mapping();
        let ids: Vec<u64> = store_orders(&hub).keys().map(|id| *id as u64).collect();
        let fetch_all = |ids: Vec<u64>| {
            let (channel, mapping) = (hub.channel.clone(), mapping.clone());
            async move {
                use cenports::channel::StoreClient;
                let mut records = Vec::new();
                for id in ids {
                    let record = channel.orders().fetch(&id.to_string(), &mapping).await;
                    records.push(record.unwrap().unwrap());
                }
                records
            }
        };
        // Three rounds of twenty orders the hub has never seen: two writers (a walk's page and
        // another's, e.g. a reconciliation) save the same orders at once, the second one a
        // newer version of each.
        for batch in ids.chunks(20) {
            let older = fetch_all(batch.to_vec()).await;
            hub.sandbox
                .with_store(&hub.hash, |data, events| {
                    for id in batch {
                        data.touch_order(*id, events).unwrap();
                    }
                })
                .unwrap();
            let newer = fetch_all(batch.to_vec()).await;
            let (first, second) = tokio::join!(
                hub.storage.save_page(&hub.scope, &older, None),
                hub.storage.save_page(&hub.scope, &newer, None),
            );
            first.expect("the first writer succeeds");
            second.expect("the second writer succeeds");
            for record in &newer {
                let held = hub
                    .storage
                    .find_order_by_remote_id(&hub.scope, &record.remote_id)
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(
                    held.summary.date_modified, record.date_modified,
                    "the newer wins"
                );
                assert_eq!(held.lines.len(), record.lines.len(), "lines once");
                assert_eq!(
                    held.addresses.len(),
                    record.addresses.len(),
                    "addresses once"
                );
            }
        }
        assert_eq!(hub.storage.count_orders(&hub.scope).await.unwrap(), 60);
        assert_same(
            &hub_orders(&hub).await,
            &store_orders(&hub),
            "after the races",
        );

        // Two webhooks for one new order, fetched and saved at once: one row, lines once.
        let sku = add_big_product(&hub).remove(0);
        let id = place(&hub, 1, &[(sku.as_str(), 2, 0)]);
        let remote_id = id.to_string();
        let import = || {
            cenports::sync::targeted::import_order(
                &hub.storage,
                &hub.scope,
                &hub.channel,
                &mapping,
                &remote_id,
            )
        };
        let (a, b) = tokio::join!(import(), import());
        a.unwrap();
        b.unwrap();
        assert_eq!(hub.storage.count_orders(&hub.scope).await.unwrap(), 61);
        let order = hub
            .storage
            .find_order_by_remote_id(&hub.scope, &id.to_string())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(order.lines.len(), 1);
        hub.sandbox.shutdown();
    }
);
