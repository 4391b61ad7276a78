//! The client's acceptance checks: the real [`Client`] against a real sandbox on a loopback
//! port. Each test states what a user of the client would notice (orders listed once, a
//! shipment created once, no 429 when paced, errors that say what to do and hide the token)
//! and checks it against what the sandbox recorded, not against the client's own account.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::{Duration, Instant};

use crate::sandbox_support::*;
use bigcommerce_client::{
    Client, ClientConfig, CreateHook, CreateShipment, Error, NewShipmentItem, OrderQuery,
    OrderSort, ProductQuery, ProductUpdate, UpdateHook, UpdateShipment, VariantQuery,
    VariantUpdate, MAX_PRODUCT_BATCH, MAX_VARIANT_BATCH,
};
use bigcommerce_sandbox::model::InventoryTracking as SandboxTracking;
use bigcommerce_sandbox::{FaultKind, Sandbox, StoreInfo};
use chrono::SubsecRound;
use futures::{StreamExt, TryStreamExt};
use secrecy::SecretString;
use url::Url;

const AWAITING_FULFILLMENT: u64 = 11;
const AWAITING_SHIPMENT: u64 = 9;
const SHIPPED: u64 = 2;
const PARTIALLY_SHIPPED: u64 = 3;

/// Ids of the orders a plain `GET /v2/orders` lists (not archived, not incomplete), read from
/// the sandbox's own data.
fn listed_order_ids(sandbox: &Sandbox, hash: &str) -> BTreeSet<u64> {
    sandbox
        .with_store(hash, |data, _| {
            data.orders
                .values()
                .filter(|o| !o.is_deleted && o.status_id != 0)
                .map(|o| o.id)
                .collect()
        })
        .unwrap()
}

/// Makes exactly `wanted` orders listable: archives the newest extra ones, or places more.
fn make_listed_orders_exactly(sandbox: &Sandbox, hash: &str, wanted: usize) {
    let listed = listed_order_ids(sandbox, hash);
    if listed.len() > wanted {
        let extra: Vec<u64> = listed
            .iter()
            .rev()
            .take(listed.len() - wanted)
            .copied()
            .collect();
        sandbox.with_store(hash, |data, _| {
            for id in extra {
                data.orders.get_mut(&id).unwrap().is_deleted = true;
            }
        });
    } else if listed.len() < wanted {
        sandbox.with_store(hash, |data, _| {
            data.add_product(product(
                "Top-up Pad",
                "PAD-TOPUP",
                SandboxTracking::None,
                0,
                vec![],
            ));
        });
        for _ in listed.len()..wanted {
            place(sandbox, hash, 1, &[("PAD-TOPUP", 1, 0)]);
        }
    }
    assert_eq!(listed_order_ids(sandbox, hash).len(), wanted);
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> u64) -> Vec<u64> {
    items.iter().map(id).collect()
}

// ---------------------------------------------------------------------------------------------
// Every endpoint the client covers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_store_profile_and_clock_come_back_from_the_sandbox() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 101);
    let client = client(&sandbox, &store, MERCHANT);

    let info = client.get_store().await.unwrap();
    assert_eq!(info.name.as_deref(), Some(store.name.as_str()));
    assert_eq!(info.id.as_deref(), Some(store.hash.as_str()));
    assert_eq!(info.currency.as_deref(), Some("CAD"));
    assert_eq!(info.plan_name.as_deref(), Some("Enterprise"));
    let timezone = info.timezone.expect("the store reports its timezone");
    assert_eq!(timezone.name.as_deref(), Some("America/Toronto"));

    let their_clock = client.get_time().await.unwrap();
    let skew = (chrono::Utc::now() - their_clock).num_seconds().abs();
    assert!(skew <= 2, "the store clock is {skew} s away from ours");
}

#[tokio::test]
async fn generated_orders_are_listed_counted_and_read_one_by_one() {
    let sandbox = sandbox().await;
    let store = generated_store(&sandbox, 102, 40, 300);
    let client = client(&sandbox, &store, MERCHANT);
    let listed = listed_order_ids(&sandbox, &store.hash);
    assert!(
        listed.len() >= 250,
        "the generator made {} listable orders of 300",
        listed.len()
    );

    let page = client
        .list_orders(&OrderQuery {
            limit: Some(50),
            page: Some(2),
            sort: Some(OrderSort::IdAsc),
            ..OrderQuery::default()
        })
        .await
        .unwrap();
    let expected: Vec<u64> = listed.iter().skip(50).take(50).copied().collect();
    assert_eq!(ids(&page, |o| o.id), expected);

    let count = client.count_orders(&OrderQuery::default()).await.unwrap();
    assert_eq!(count.count, listed.len() as u64);
    let per_status: u64 = count
        .statuses
        .iter()
        .filter(|s| s.id != 0)
        .map(|s| s.count.unwrap_or(0))
        .sum();
    assert_eq!(per_status, count.count);

    // Filtering by status gives the same orders through the list and the count.
    let busiest = count
        .statuses
        .iter()
        .max_by_key(|s| s.count.unwrap_or(0))
        .unwrap();
    let query = OrderQuery {
        status_id: Some(busiest.id),
        ..OrderQuery::default()
    };
    let of_status: Vec<_> = client.order_pages(&query).try_concat().await.unwrap();
    assert_eq!(of_status.len() as u64, busiest.count.unwrap());
    assert!(of_status.iter().all(|o| o.status_id == Some(busiest.id)));
    assert_eq!(
        client.count_orders(&query).await.unwrap().count,
        busiest.count.unwrap()
    );

    let one = &page[7];
    let read = client.get_order(one.id).await.unwrap();
    assert_eq!(read.id, one.id);
    assert_eq!(read.total_inc_tax, one.total_inc_tax);
    assert_eq!(read.date_created, one.date_created);
    assert!(read.total_inc_tax.unwrap() > rust_decimal::Decimal::ZERO);

    let missing = client.get_order(9_999_999).await.unwrap_err();
    assert!(matches!(missing, Error::NotFound { .. }), "{missing:?}");
}

#[tokio::test]
async fn a_generated_history_comes_back_with_every_line_and_few_extra_requests() {
    let sandbox = sandbox().await;
    // 600 orders: the history's 500th order is always over the 50-line cap.
    let store = generated_store(&sandbox, 114, 40, 600);
    let client = client(&sandbox, &store, MERCHANT);
    // From the sandbox's data: each order's line count, and which orders have a consignment
    // (one per shipping address) of more than 50 lines.
    let (line_counts, capped) = sandbox
        .with_store(&store.hash, |data, _| {
            let mut counts = BTreeMap::new();
            let mut capped = BTreeSet::new();
            for order in data.orders.values() {
                counts.insert(order.id, order.lines.len());
                let mut per_address: BTreeMap<u64, usize> = BTreeMap::new();
                for line in &order.lines {
                    *per_address.entry(line.order_address_id).or_default() += 1;
                }
                if per_address.values().any(|n| *n > 50) {
                    capped.insert(order.id);
                }
            }
            (counts, capped)
        })
        .unwrap();
    assert!(
        !capped.is_empty(),
        "the generator makes some orders of 51+ lines"
    );
    clear_log(&sandbox, &store.hash);

    let orders: Vec<_> = client
        .order_pages_with_lines(&OrderQuery::default())
        .try_concat()
        .await
        .unwrap();
    let got: BTreeMap<u64, usize> = orders.iter().map(|o| (o.order.id, o.lines.len())).collect();
    assert_eq!(got, line_counts);
    let fetched: BTreeSet<u64> = orders
        .iter()
        .filter(|o| o.lines_fetched_separately)
        .map(|o| o.order.id)
        .collect();
    assert_eq!(fetched, capped);
    // Three pages of orders (250 + 250 + 100) and one /products call per capped order.
    assert_eq!(
        counters(&sandbox, &store.hash).total,
        3 + capped.len() as u64
    );
}

#[tokio::test]
async fn a_status_change_and_an_archive_are_what_the_next_read_sees() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 103);
    let client = client(&sandbox, &store, MERCHANT);
    let first = place(&sandbox, &store.hash, 1, &[("MUG-1", 2, 0)]);
    let second = place(&sandbox, &store.hash, 1, &[("GIFT-1", 1, 0)]);

    let updated = client
        .update_order_status(first, AWAITING_SHIPMENT)
        .await
        .unwrap();
    assert_eq!(updated.status_id, Some(AWAITING_SHIPMENT));
    assert_eq!(updated.status.as_deref(), Some("Awaiting Shipment"));
    let read = client.get_order(first).await.unwrap();
    assert_eq!(read.status_id, Some(AWAITING_SHIPMENT));
    let in_sandbox = sandbox
        .with_store(&store.hash, |data, _| data.orders[&first].status_id)
        .unwrap();
    assert_eq!(in_sandbox, AWAITING_SHIPMENT as u32);

    let archived = client.archive_order(second).await.unwrap();
    assert_eq!(archived.is_deleted, Some(true));
    let remaining = client.list_orders(&OrderQuery::default()).await.unwrap();
    assert_eq!(ids(&remaining, |o| o.id), vec![first]);
    assert_eq!(
        client
            .count_orders(&OrderQuery::default())
            .await
            .unwrap()
            .count,
        1
    );
}

#[tokio::test]
async fn lines_addresses_consignments_and_statuses_describe_the_same_order() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 104);
    let client = client(&sandbox, &store, MERCHANT);
    let order_id = place(
        &sandbox,
        &store.hash,
        2,
        &[("MUG-1", 2, 0), ("SOCK-1-L", 3, 1), ("GIFT-1", 1, 0)],
    );

    let lines = client.list_order_products(order_id).await.unwrap();
    let by_sku: BTreeMap<&str, u64> = lines
        .iter()
        .map(|l| (l.sku.as_deref().unwrap(), l.quantity))
        .collect();
    assert_eq!(
        by_sku,
        BTreeMap::from([("GIFT-1", 1), ("MUG-1", 2), ("SOCK-1-L", 3)])
    );
    assert!(lines.iter().all(|l| l.order_id == Some(order_id)));

    let addresses = client
        .list_order_shipping_addresses(order_id)
        .await
        .unwrap();
    assert_eq!(addresses.len(), 2);
    let names: Vec<_> = addresses
        .iter()
        .map(|a| a.address.first_name.clone().unwrap())
        .collect();
    assert_eq!(names, vec!["Marie", "Luc"]);
    let socks = lines.iter().find(|l| l.sku.as_deref() == Some("SOCK-1-L"));
    assert_eq!(socks.unwrap().order_address_id, Some(addresses[1].id));

    let consignments = client.get_order_consignments(order_id).await.unwrap();
    assert_eq!(consignments.shipping.len(), 2);
    let lines_per_consignment: Vec<usize> = consignments
        .shipping
        .iter()
        .map(|c| c.line_items.len())
        .collect();
    assert_eq!(lines_per_consignment, vec![2, 1]);
    assert!(!consignments.has_warning());

    let statuses = client.list_order_statuses().await.unwrap();
    let names: BTreeMap<u64, &str> = statuses
        .iter()
        .map(|s| (s.id, s.name.as_deref().unwrap()))
        .collect();
    assert_eq!(names.len(), 15);
    assert_eq!(names[&AWAITING_FULFILLMENT], "Awaiting Fulfillment");
    assert_eq!(names[&PARTIALLY_SHIPPED], "Partially Shipped");
    assert_eq!(names[&SHIPPED], "Shipped");
}

#[tokio::test]
async fn shipping_an_order_in_two_parts_makes_it_partially_shipped_then_shipped() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 105);
    let client = client(&sandbox, &store, MERCHANT);
    let order_id = place(
        &sandbox,
        &store.hash,
        1,
        &[("MUG-1", 2, 0), ("SOCK-1-M", 1, 0)],
    );
    let lines = client.list_order_products(order_id).await.unwrap();
    let mug = lines
        .iter()
        .find(|l| l.sku.as_deref() == Some("MUG-1"))
        .unwrap();
    let sock = lines
        .iter()
        .find(|l| l.sku.as_deref() == Some("SOCK-1-M"))
        .unwrap();
    let address_id = mug.order_address_id.unwrap();
    assert_eq!(client.count_shipments(order_id).await.unwrap(), 0);
    assert!(client.list_shipments(order_id).await.unwrap().is_empty());

    let first = client
        .create_shipment(
            order_id,
            &CreateShipment {
                order_address_id: address_id,
                tracking_number: Some("1Z999AA10123456784".into()),
                shipping_provider: Some("ups".into()),
                comments: Some("cenports:first".into()),
                items: vec![NewShipmentItem {
                    order_product_id: mug.id,
                    quantity: 1,
                }],
                ..CreateShipment::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(first.order_id, Some(order_id));
    assert_eq!(first.items.len(), 1);
    assert_eq!(first.items[0].quantity, 1);
    let order = client.get_order(order_id).await.unwrap();
    assert_eq!(order.status_id, Some(PARTIALLY_SHIPPED));
    assert_eq!(order.status.as_deref(), Some("Partially Shipped"));
    assert_eq!(order.items_shipped, Some(1));
    let shipped: BTreeMap<u64, u64> = client
        .list_order_products(order_id)
        .await
        .unwrap()
        .iter()
        .map(|l| (l.id, l.quantity_shipped))
        .collect();
    assert_eq!(shipped, BTreeMap::from([(mug.id, 1), (sock.id, 0)]));

    let updated = client
        .update_shipment(
            order_id,
            first.id,
            &UpdateShipment {
                tracking_number: Some("1Z999AA10123456785".into()),
                ..UpdateShipment::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        updated.tracking_number.as_deref(),
        Some("1Z999AA10123456785")
    );
    let read = client.get_shipment(order_id, first.id).await.unwrap();
    assert_eq!(read.tracking_number.as_deref(), Some("1Z999AA10123456785"));
    assert_eq!(read.comments.as_deref(), Some("cenports:first"));

    let second = client
        .create_shipment(
            order_id,
            &CreateShipment {
                order_address_id: address_id,
                tracking_number: Some("1Z999AA10123456786".into()),
                items: vec![
                    NewShipmentItem {
                        order_product_id: mug.id,
                        quantity: 1,
                    },
                    NewShipmentItem {
                        order_product_id: sock.id,
                        quantity: 1,
                    },
                ],
                ..CreateShipment::default()
            },
        )
        .await
        .unwrap();
    let order = client.get_order(order_id).await.unwrap();
    assert_eq!(order.status_id, Some(SHIPPED));
    assert_eq!(order.items_shipped, Some(3));
    assert!(order.date_shipped.is_some());
    let lines = client.list_order_products(order_id).await.unwrap();
    assert!(lines.iter().all(|l| l.quantity_shipped == l.quantity));
    assert_eq!(client.count_shipments(order_id).await.unwrap(), 2);
    let listed = client.list_shipments(order_id).await.unwrap();
    assert_eq!(ids(&listed, |s| s.id), vec![first.id, second.id]);

    // Shipping more than is left is refused with BigCommerce's reason, and nothing changes.
    let refused = client
        .create_shipment(
            order_id,
            &CreateShipment {
                order_address_id: address_id,
                items: vec![NewShipmentItem {
                    order_product_id: mug.id,
                    quantity: 1,
                }],
                ..CreateShipment::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::Validation { status: 400, .. }),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("remaining to ship"),
        "{refused}"
    );

    client.delete_shipment(order_id, first.id).await.unwrap();
    assert_eq!(client.count_shipments(order_id).await.unwrap(), 1);
    let lines = client.list_order_products(order_id).await.unwrap();
    let mug_line = lines.iter().find(|l| l.id == mug.id).unwrap();
    assert_eq!(mug_line.quantity_shipped, 1);
    let gone = client.get_shipment(order_id, first.id).await.unwrap_err();
    assert!(matches!(gone, Error::NotFound { .. }), "{gone:?}");
}

#[tokio::test]
async fn catalog_products_are_listed_with_variants_and_filtered_by_id_sku_and_date() {
    let sandbox = sandbox().await;
    let store = generated_store(&sandbox, 106, 60, 0);
    let client = client(&sandbox, &store, MERCHANT);
    let (catalog, variant_count) = sandbox
        .with_store(&store.hash, |data, _| {
            let catalog: BTreeMap<u64, (String, usize)> = data
                .products
                .values()
                .map(|p| (p.id, (p.sku.clone(), p.variants.len())))
                .collect();
            let variants: usize = data.products.values().map(|p| p.variants.len()).sum();
            (catalog, variants)
        })
        .unwrap();
    assert_eq!(catalog.len(), 60);

    let all: Vec<_> = client
        .product_pages(&ProductQuery {
            include_variants: true,
            ..ProductQuery::default()
        })
        .try_concat()
        .await
        .unwrap();
    let got: BTreeMap<u64, (String, usize)> = all
        .iter()
        .map(|p| (p.id, (p.sku.clone().unwrap_or_default(), p.variants.len())))
        .collect();
    assert_eq!(got, catalog);
    assert_eq!(
        all.iter().map(|p| p.variants.len()).sum::<usize>(),
        variant_count
    );

    let wanted: Vec<u64> = catalog.keys().copied().step_by(7).take(4).collect();
    let by_id: Vec<_> = client
        .product_pages(&ProductQuery {
            ids: wanted.clone(),
            ..ProductQuery::default()
        })
        .try_concat()
        .await
        .unwrap();
    assert_eq!(ids(&by_id, |p| p.id), wanted);
    assert!(by_id.iter().all(|p| p.variants.is_empty()));

    let (id, (sku, _)) = catalog.iter().nth(5).unwrap();
    let by_sku: Vec<_> = client
        .product_pages(&ProductQuery {
            sku: Some(sku.clone()),
            ..ProductQuery::default()
        })
        .try_concat()
        .await
        .unwrap();
    assert_eq!(ids(&by_sku, |p| p.id), vec![*id]);

    // Touch two products; a date_modified:min from just before finds them and no others.
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    let touched: Vec<u64> = catalog.keys().copied().skip(10).take(2).collect();
    let updates: Vec<ProductUpdate> = touched
        .iter()
        .map(|id| ProductUpdate {
            id: *id,
            inventory_warning_level: Some(3),
            ..ProductUpdate::default()
        })
        .collect();
    client.update_products(&updates).await.unwrap();
    let expected: Vec<u64> = sandbox
        .with_store(&store.hash, |data, _| {
            data.products
                .values()
                .filter(|p| p.date_modified >= since.trunc_subsecs(0))
                .map(|p| p.id)
                .collect()
        })
        .unwrap();
    let recent: Vec<_> = client
        .product_pages(&ProductQuery {
            date_modified_min: Some(since),
            ..ProductQuery::default()
        })
        .try_concat()
        .await
        .unwrap();
    let recent_ids = ids(&recent, |p| p.id);
    assert_eq!(recent_ids, expected);
    assert!(touched.iter().all(|id| recent_ids.contains(id)));
    assert!(recent_ids.len() < catalog.len(), "{recent_ids:?}");
}

#[tokio::test]
async fn a_product_and_its_variants_read_the_same_through_every_endpoint() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 107);
    let client = client(&sandbox, &store, MERCHANT);
    let socks_id = sandbox
        .with_store(&store.hash, |data, _| data.skus["SOCK-1-M"].product_id)
        .unwrap();

    let socks = client.get_product(socks_id, true).await.unwrap();
    assert_eq!(socks.sku.as_deref(), Some("SOCK-1"));
    let skus: Vec<_> = socks
        .variants
        .iter()
        .map(|v| v.sku.clone().unwrap())
        .collect();
    assert_eq!(skus, vec!["SOCK-1-M", "SOCK-1-L"]);
    assert_eq!(socks.inventory_level, Some(600));
    assert_eq!(
        socks.variants[1].option_values[0].label.as_deref(),
        Some("L")
    );
    let without = client.get_product(socks_id, false).await.unwrap();
    assert!(without.variants.is_empty());

    let of_product: Vec<_> = client
        .product_variant_pages(socks_id)
        .try_concat()
        .await
        .unwrap();
    assert_eq!(of_product, socks.variants);

    let everywhere: Vec<_> = client
        .variant_pages(&VariantQuery::default())
        .try_concat()
        .await
        .unwrap();
    assert_eq!(everywhere.len(), 4, "mug, gift card and two socks");
    let by_sku: Vec<_> = client
        .variant_pages(&VariantQuery {
            sku: Some("SOCK-1-L".into()),
            ..VariantQuery::default()
        })
        .try_concat()
        .await
        .unwrap();
    assert_eq!(by_sku, vec![socks.variants[1].clone()]);
    let by_product: Vec<_> = client
        .variant_pages(&VariantQuery {
            product_ids: vec![socks_id],
            ..VariantQuery::default()
        })
        .try_concat()
        .await
        .unwrap();
    assert_eq!(by_product, socks.variants);
}

#[tokio::test]
async fn batch_updates_set_the_stock_that_is_read_back() {
    let sandbox = sandbox().await;
    let store = generated_store(&sandbox, 108, 80, 0);
    let client = client(&sandbox, &store, MERCHANT);
    let (per_product, per_variant) = sandbox
        .with_store(&store.hash, |data, _| {
            let products: Vec<u64> = data
                .products
                .values()
                .filter(|p| p.inventory_tracking == SandboxTracking::Product)
                .map(|p| p.id)
                .take(MAX_PRODUCT_BATCH)
                .collect();
            let variants: Vec<u64> = data
                .products
                .values()
                .filter(|p| p.inventory_tracking == SandboxTracking::Variant)
                .flat_map(|p| p.variants.iter().map(|v| v.id))
                .take(MAX_VARIANT_BATCH)
                .collect();
            (products, variants)
        })
        .unwrap();
    assert_eq!(per_product.len(), MAX_PRODUCT_BATCH);
    assert_eq!(per_variant.len(), MAX_VARIANT_BATCH);

    let product_updates: Vec<ProductUpdate> = per_product
        .iter()
        .enumerate()
        .map(|(i, id)| ProductUpdate {
            id: *id,
            inventory_level: Some(100 + i as i64),
            ..ProductUpdate::default()
        })
        .collect();
    let outcome = client.update_products(&product_updates).await.unwrap();
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    assert_eq!(ids(&outcome.updated, |p| p.id), per_product);
    let read: BTreeMap<u64, Option<i64>> = client
        .product_pages(&ProductQuery {
            ids: per_product.clone(),
            ..ProductQuery::default()
        })
        .try_concat()
        .await
        .unwrap()
        .iter()
        .map(|p| (p.id, p.inventory_level))
        .collect();
    let wanted: BTreeMap<u64, Option<i64>> = product_updates
        .iter()
        .map(|u| (u.id, u.inventory_level))
        .collect();
    assert_eq!(read, wanted);

    let variant_updates: Vec<VariantUpdate> = per_variant
        .iter()
        .enumerate()
        .map(|(i, id)| VariantUpdate {
            id: *id,
            inventory_level: Some(i as i64 * 2),
            ..VariantUpdate::default()
        })
        .collect();
    let outcome = client.update_variants(&variant_updates).await.unwrap();
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    assert_eq!(outcome.updated.len(), MAX_VARIANT_BATCH);
    let read: BTreeMap<u64, Option<i64>> = client
        .variant_pages(&VariantQuery {
            ids: per_variant.clone(),
            ..VariantQuery::default()
        })
        .try_concat()
        .await
        .unwrap()
        .iter()
        .map(|v| (v.id, v.inventory_level))
        .collect();
    let wanted: BTreeMap<u64, Option<i64>> = variant_updates
        .iter()
        .map(|u| (u.id, u.inventory_level))
        .collect();
    assert_eq!(read, wanted);

    // Batches over BigCommerce's limits are refused before anything is sent.
    clear_log(&sandbox, &store.hash);
    let too_many_products: Vec<ProductUpdate> = (0..=MAX_PRODUCT_BATCH as u64)
        .map(|id| ProductUpdate {
            id,
            ..ProductUpdate::default()
        })
        .collect();
    let refused = client
        .update_products(&too_many_products)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::InvalidRequest { .. }),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("chunks of 10"), "{refused}");
    let too_many_variants: Vec<VariantUpdate> = (0..=MAX_VARIANT_BATCH as u64)
        .map(|id| VariantUpdate {
            id,
            ..VariantUpdate::default()
        })
        .collect();
    let refused = client
        .update_variants(&too_many_variants)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("chunks of 50"), "{refused}");
    assert_eq!(counters(&sandbox, &store.hash).total, 0);
}

#[tokio::test]
async fn webhooks_are_created_listed_read_updated_and_deleted() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 109);
    let client = client(&sandbox, &store, MERCHANT);
    assert!(client.list_hooks().await.unwrap().is_empty());

    let created = client
        .create_hook(&CreateHook {
            scope: "store/order/created".into(),
            destination: "https://hub.example.com/webhooks/bigcommerce".into(),
            is_active: Some(true),
            headers: Some(BTreeMap::from([(
                "X-Cenports-Key".to_string(),
                "s3cr3t-header".to_string(),
            )])),
        })
        .await
        .unwrap();
    assert_eq!(created.scope.as_deref(), Some("store/order/created"));
    assert_eq!(created.is_active, Some(true));
    assert_eq!(created.store_hash.as_deref(), Some(store.hash.as_str()));
    assert_eq!(
        created.client_id.as_deref(),
        Some(store.account(MERCHANT).unwrap().client_id.as_str())
    );
    assert!(!format!("{created:?}").contains("s3cr3t-header"));

    assert_eq!(client.list_hooks().await.unwrap(), vec![created.clone()]);
    assert_eq!(client.get_hook(created.id).await.unwrap(), created);
    // Hooks belong to the API account that made them.
    let other = crate::sandbox_support::client(&sandbox, &store, "missing-information");
    assert!(other.list_hooks().await.unwrap().is_empty());

    let updated = client
        .update_hook(
            created.id,
            &UpdateHook {
                is_active: Some(false),
                destination: Some("https://hub.example.com/webhooks/v2".into()),
                ..UpdateHook::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.is_active, Some(false));
    let read = client.get_hook(created.id).await.unwrap();
    assert_eq!(
        read.destination.as_deref(),
        Some("https://hub.example.com/webhooks/v2")
    );
    assert_eq!(read.is_active, Some(false));

    client.delete_hook(created.id).await.unwrap();
    assert!(client.list_hooks().await.unwrap().is_empty());
    let gone = client.get_hook(created.id).await.unwrap_err();
    assert!(matches!(gone, Error::NotFound { .. }), "{gone:?}");
}

// ---------------------------------------------------------------------------------------------
// Scopes and credentials
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_read_only_token_is_told_which_scope_each_write_needs() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 110);
    let read_only = client(&sandbox, &store, "read-only");
    let secret = token(&store, "read-only");
    let order_id = place(&sandbox, &store.hash, 1, &[("MUG-1", 1, 0)]);
    // Reading is what read-only is for.
    assert_eq!(read_only.get_order(order_id).await.unwrap().id, order_id);

    let denied = read_only
        .update_order_status(order_id, AWAITING_SHIPMENT)
        .await
        .unwrap_err();
    match &denied {
        Error::MissingScope { scope, .. } => {
            assert_eq!(scope, "Orders: Modify (store_v2_orders)")
        }
        other => panic!("expected MissingScope, got {other:?}"),
    }
    let message = denied.to_string();
    assert!(
        message.contains("Orders: Modify (store_v2_orders)"),
        "{message}"
    );
    assert!(message.contains("edit the API account"), "{message}");
    assert!(!message.contains(&secret) && !format!("{denied:?}").contains(&secret));
    let status = sandbox
        .with_store(&store.hash, |data, _| data.orders[&order_id].status_id)
        .unwrap();
    assert_eq!(status, AWAITING_FULFILLMENT as u32, "nothing changed");

    let variant_id = sandbox
        .with_store(&store.hash, |data, _| data.skus["SOCK-1-M"].variant_id)
        .unwrap();
    let denied = read_only
        .update_variants(&[VariantUpdate {
            id: variant_id,
            inventory_level: Some(1),
            ..VariantUpdate::default()
        }])
        .await
        .unwrap_err();
    match &denied {
        Error::MissingScope { scope, .. } => {
            assert_eq!(scope, "Products: Modify (store_v2_products)")
        }
        other => panic!("expected MissingScope, got {other:?}"),
    }
    assert!(!denied.to_string().contains(&secret));

    // A 403 is final: each denied write reached the sandbox once.
    let forbidden: Vec<_> = requests(&sandbox, &store.hash)
        .into_iter()
        .filter(|r| r.status == 403)
        .map(|r| r.endpoint)
        .collect();
    assert_eq!(
        forbidden,
        vec!["PUT /v2/orders/{order_id}", "PUT /v3/catalog/variants"]
    );
}

#[tokio::test]
async fn an_account_without_information_scope_cannot_read_the_store_profile() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 111);
    let client = client(&sandbox, &store, "missing-information");
    let denied = client.get_store().await.unwrap_err();
    match &denied {
        Error::MissingScope {
            scope, endpoint, ..
        } => {
            assert!(scope.contains("Information & Settings"), "{scope}");
            assert_eq!(endpoint, "/v2/store");
        }
        other => panic!("expected MissingScope, got {other:?}"),
    }
    let message = denied.to_string();
    assert!(message.contains("Information & Settings"), "{message}");
    assert!(message.contains("reconnect"), "{message}");
    assert!(!message.contains(&token(&store, "missing-information")));
    // The same account may still work with orders.
    assert_eq!(
        client
            .count_orders(&OrderQuery::default())
            .await
            .unwrap()
            .count,
        0
    );
}

#[tokio::test]
async fn an_unknown_token_is_rejected_with_advice_and_never_echoed() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 112);
    let bad_token = "not-a-token-of-this-store-0123456789";
    let mut config = ClientConfig::new(
        store.hash.clone(),
        SecretString::from(bad_token),
        "some-client-id",
    );
    config.api_base_url = Url::parse(sandbox.base_url()).unwrap();
    let client = Client::new(config).unwrap();

    let rejected = client
        .list_orders(&OrderQuery::default())
        .await
        .unwrap_err();
    assert!(
        matches!(rejected, Error::Unauthorized { .. }),
        "{rejected:?}"
    );
    let message = rejected.to_string();
    assert!(message.contains("check the Access Token"), "{message}");
    assert!(!message.contains(bad_token));
    assert!(!format!("{rejected:?}").contains(bad_token));
    assert!(!rejected.is_transient());
    // A 401 is not retried.
    assert_eq!(count_status(&sandbox, &store.hash, 401), 1);
}

// ---------------------------------------------------------------------------------------------
// Paging
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn five_hundred_orders_in_pages_of_250_end_on_the_204_with_exactly_500_orders() {
    let sandbox = sandbox().await;
    let store = generated_store(&sandbox, 113, 40, 500);
    make_listed_orders_exactly(&sandbox, &store.hash, 500);
    let expected = listed_order_ids(&sandbox, &store.hash);
    let client = client(&sandbox, &store, MERCHANT);
    clear_log(&sandbox, &store.hash);

    let query = OrderQuery {
        limit: Some(250),
        sort: Some(OrderSort::IdAsc),
        ..OrderQuery::default()
    };
    let pages: Vec<_> = client.order_pages(&query).try_collect().await.unwrap();
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![250, 250]
    );
    let got: Vec<u64> = pages.iter().flatten().map(|o| o.id).collect();
    assert_eq!(got.len(), 500);
    assert_eq!(got.iter().copied().collect::<BTreeSet<_>>(), expected);

    let statuses: Vec<u16> = requests(&sandbox, &store.hash)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses,
        vec![200, 200, 204],
        "the third page is the empty 204"
    );

    // The keyset walk ends the same way.
    let by_id: Vec<_> = client.order_pages_by_id(&query).try_concat().await.unwrap();
    assert_eq!(by_id.len(), 500);
}

#[tokio::test]
async fn walking_by_id_yields_every_order_once_even_when_orders_change_midway() {
    let sandbox = sandbox().await;
    let store = generated_store(&sandbox, 114, 40, 300);
    let client = client(&sandbox, &store, MERCHANT);
    let query = OrderQuery {
        limit: Some(100),
        ..OrderQuery::default()
    };

    // Archiving orders of a page already read shifts every later page by that many orders.
    async fn walk(
        sandbox: &Sandbox,
        store: &StoreInfo,
        pages: impl futures::Stream<Item = bigcommerce_client::Result<Vec<bigcommerce_client::Order>>>,
    ) -> (BTreeSet<u64>, Vec<u64>) {
        futures::pin_mut!(pages);
        let before = listed_order_ids(sandbox, &store.hash);
        let mut seen = Vec::new();
        let mut first_page = true;
        while let Some(page) = pages.next().await {
            let page = page.unwrap();
            if first_page {
                let archive: Vec<u64> = page.iter().take(10).map(|o| o.id).collect();
                sandbox.with_store(&store.hash, |data, _| {
                    for id in archive {
                        data.orders.get_mut(&id).unwrap().is_deleted = true;
                    }
                });
                first_page = false;
            }
            seen.extend(page.iter().map(|o| o.id));
        }
        (before, seen)
    }

    let (before, seen) = walk(&sandbox, &store, client.order_pages_by_id(&query)).await;
    assert!(before.len() > 200, "{} listable orders", before.len());
    let unique: HashSet<u64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no order twice");
    assert_eq!(
        unique.into_iter().collect::<BTreeSet<_>>(),
        before,
        "none skipped"
    );

    // The same change under page numbers skips orders: this is what the keyset walk avoids.
    let store = generated_store(&sandbox, 115, 40, 300);
    let client = crate::sandbox_support::client(&sandbox, &store, MERCHANT);
    let by_page = OrderQuery {
        sort: Some(OrderSort::IdAsc),
        ..query
    };
    let (before, seen) = walk(&sandbox, &store, client.order_pages(&by_page)).await;
    assert_eq!(
        before.len() - seen.len(),
        10,
        "page numbers skipped 10 orders"
    );
}

#[tokio::test]
async fn product_pages_follow_meta_pagination_and_yield_every_product_once() {
    let sandbox = sandbox().await;
    let store = generated_store(&sandbox, 116, 120, 0);
    let client = client(&sandbox, &store, MERCHANT);
    let catalog: BTreeSet<u64> = sandbox
        .with_store(&store.hash, |data, _| {
            data.products.keys().copied().collect()
        })
        .unwrap();
    clear_log(&sandbox, &store.hash);

    let pages: Vec<_> = client
        .product_pages(&ProductQuery {
            limit: Some(50),
            ..ProductQuery::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![50, 50, 20]
    );
    let got: Vec<u64> = pages.iter().flatten().map(|p| p.id).collect();
    assert_eq!(got.len(), 120);
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), catalog);
    // The last page is known from meta.pagination: no request for a fourth page.
    assert_eq!(counters(&sandbox, &store.hash).total, 3);

    // An exact multiple of the page size also stops on meta.pagination.
    clear_log(&sandbox, &store.hash);
    let variants: Vec<_> = client
        .variant_pages(&VariantQuery {
            product_ids: catalog.iter().copied().take(1).collect(),
            limit: Some(1),
            ..VariantQuery::default()
        })
        .try_concat()
        .await
        .unwrap();
    let expected = sandbox
        .with_store(&store.hash, |data, _| {
            data.products.values().next().unwrap().variants.len()
        })
        .unwrap();
    assert_eq!(variants.len(), expected);
    assert_eq!(counters(&sandbox, &store.hash).total, expected as u64);
}

// ---------------------------------------------------------------------------------------------
// The 50-line cap
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_order_of_sixty_lines_is_completed_from_its_products_and_only_that_one() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 117);
    let client = client(&sandbox, &store, MERCHANT);
    let small_before = place(
        &sandbox,
        &store.hash,
        1,
        &[("MUG-1", 1, 0), ("SOCK-1-L", 2, 0)],
    );
    let sixty: Vec<(&str, u32, usize)> = (0..60)
        .map(|i| (["MUG-1", "SOCK-1-M", "GIFT-1"][i % 3], 1, 0))
        .collect();
    let big = place(&sandbox, &store.hash, 1, &sixty);
    let split = place(
        &sandbox,
        &store.hash,
        2,
        &[("MUG-1", 1, 0), ("SOCK-1-L", 1, 1)],
    );
    clear_log(&sandbox, &store.hash);

    let orders: Vec<_> = client
        .order_pages_with_lines(&OrderQuery::default())
        .try_concat()
        .await
        .unwrap();
    assert_eq!(ids(&orders, |o| o.order.id), vec![small_before, big, split]);
    let by_id: BTreeMap<u64, _> = orders.iter().map(|o| (o.order.id, o)).collect();
    let big_order = by_id[&big];
    assert_eq!(big_order.lines.len(), 60);
    assert!(big_order.lines_fetched_separately);
    assert!(big_order.order.line_items_truncated());
    let line_ids: BTreeSet<u64> = big_order.lines.iter().map(|l| l.id).collect();
    assert_eq!(line_ids.len(), 60, "every line once");
    assert_eq!(by_id[&small_before].lines.len(), 2);
    assert!(!by_id[&small_before].lines_fetched_separately);
    assert_eq!(by_id[&split].lines.len(), 2);
    assert!(!by_id[&split].lines_fetched_separately);

    // The sandbox saw the /products fallback for the big order only, read through the
    // control API as an operator would.
    let url = format!(
        "{}/_sandbox/stores/{}/requests",
        sandbox.base_url(),
        store.hash
    );
    let log: Vec<serde_json::Value> = reqwest::get(url).await.unwrap().json().await.unwrap();
    let fallbacks: Vec<&str> = log
        .iter()
        .filter(|r| r["endpoint"] == "GET /v2/orders/{order_id}/products")
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        fallbacks,
        vec![format!("/stores/{}/v2/orders/{big}/products", store.hash)]
    );
    assert_eq!(
        log.len(),
        2,
        "one page of orders, one fallback, no more: {log:#?}"
    );

    // One order read alone is completed the same way.
    let single = client.get_order_with_lines(big).await.unwrap();
    assert_eq!(single.lines, big_order.lines);
    assert!(single.lines_fetched_separately);
}

// ---------------------------------------------------------------------------------------------
// Rate limiting
// ---------------------------------------------------------------------------------------------

/// How many logged requests fell in each of the sandbox's fixed windows of `window_ms` (a
/// window starts with the first request after the previous one ended). The log's clock has
/// millisecond resolution, so a request within 3 ms of a boundary is not counted in either
/// window rather than risk counting it in the wrong one.
fn requests_per_window(sandbox: &Sandbox, hash: &str, window_ms: i64) -> Vec<usize> {
    const SLACK_MS: i64 = 3;
    let mut arrivals: Vec<i64> = requests(sandbox, hash).iter().map(|r| r.at_ms).collect();
    arrivals.sort_unstable();
    let mut windows: Vec<(i64, usize)> = Vec::new();
    for at in arrivals {
        match windows.last_mut() {
            Some((start, count)) if at - *start < window_ms => {
                if at - *start < window_ms - SLACK_MS {
                    *count += 1;
                }
            }
            Some((start, _)) if at - *start < window_ms + SLACK_MS => windows.push((at, 0)),
            _ => windows.push((at, 1)),
        }
    }
    windows.into_iter().map(|(_, count)| count).collect()
}

/// 60 GETs from three concurrent tasks sharing one client (and so one limiter).
async fn sixty_gets(client: &Client, order_id: u64) -> Duration {
    let started = Instant::now();
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                for _ in 0..20 {
                    client.get_order(order_id).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_needing_three_times_the_quota_meets_no_429_when_paced() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 118);
    let order_id = place(&sandbox, &store.hash, 1, &[("MUG-1", 1, 0)]);
    set_rate_limit(&sandbox, &store.hash, Some(20), 1000);
    let client = client(&sandbox, &store, MERCHANT);
    assert!(client.config().pacing_enabled());

    let elapsed = sixty_gets(&client, order_id).await;
    let counters = counters(&sandbox, &store.hash);
    eprintln!(
        "paced: 60 GETs at 20/s took {elapsed:?}; sandbox saw {counters:?}; client {:?}",
        client.stats()
    );
    assert_eq!(counters.total, 60, "no retries were needed");
    assert_eq!(count_status(&sandbox, &store.hash, 429), 0);
    assert_eq!(client.stats().rate_limited, 0);
    assert!(client.stats().throttled > 0);
    // The sandbox's windows start with the first request after the previous one ended; in
    // each, the client kept 20% of the quota for other apps.
    let per_window = requests_per_window(&sandbox, &store.hash, 1000);
    eprintln!("paced: requests per window {per_window:?}");
    assert!(per_window.iter().all(|n| *n <= 16), "{per_window:?}");
    // 60 requests at 16 (80% of 20) per window need four windows: at least three resets.
    assert!(
        elapsed >= Duration::from_millis(2000),
        "finished in {elapsed:?}: it cannot have waited for the windows"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pacing_the_same_run_meets_429s_and_still_completes() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 119);
    let order_id = place(&sandbox, &store.hash, 1, &[("MUG-1", 1, 0)]);
    set_rate_limit(&sandbox, &store.hash, Some(20), 1000);
    let mut config = config(&sandbox, &store, MERCHANT);
    config.quota_share = 1.0;
    config.pacing = false;
    let client = Client::new(config).unwrap();

    let elapsed = sixty_gets(&client, order_id).await;
    let limited = count_status(&sandbox, &store.hash, 429);
    eprintln!(
        "unpaced: 60 GETs at 20/s took {elapsed:?}; sandbox saw {:?}; client {:?}",
        counters(&sandbox, &store.hash),
        client.stats()
    );
    assert!(limited > 0, "an unpaced run of 3x the quota meets 429s");
    assert_eq!(count_status(&sandbox, &store.hash, 200), 60);
    assert_eq!(client.stats().rate_limited, limited);
    assert!(elapsed >= Duration::from_millis(2000), "{elapsed:?}");
}

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

/// A store with one order, and a client whose retries are fast.
async fn store_with_an_order(seed: u64) -> (Sandbox, StoreInfo, u64) {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, seed);
    let order_id = place(
        &sandbox,
        &store.hash,
        1,
        &[("MUG-1", 2, 0), ("SOCK-1-M", 1, 0)],
    );
    (sandbox, store, order_id)
}

/// Outcomes (status, fault) the sandbox logged for requests to `path_contains`.
fn outcomes(sandbox: &Sandbox, hash: &str, path_contains: &str) -> Vec<(u16, Option<String>)> {
    requests(sandbox, hash)
        .into_iter()
        .filter(|r| r.path.contains(path_contains))
        .map(|r| (r.status, r.fault))
        .collect()
}

#[tokio::test]
async fn server_errors_on_a_get_are_retried_until_it_succeeds() {
    let (sandbox, store, order_id) = store_with_an_order(120).await;
    let client = client(&sandbox, &store, MERCHANT);
    for (kind, status) in [
        (FaultKind::Error500, 500),
        (FaultKind::Error502, 502),
        (FaultKind::Error503, 503),
    ] {
        clear_log(&sandbox, &store.hash);
        add_fault(&sandbox, &store.hash, fault(kind, "GET", "/v2/orders/", 2));
        let order = client.get_order(order_id).await.unwrap();
        assert_eq!(order.id, order_id);
        let statuses: Vec<u16> = outcomes(&sandbox, &store.hash, "/v2/orders/")
            .iter()
            .map(|(s, _)| *s)
            .collect();
        assert_eq!(statuses, vec![status, status, 200], "{kind:?}");
    }
}

#[tokio::test]
async fn a_429_burst_with_headers_is_waited_out_and_the_get_succeeds() {
    let (sandbox, store, order_id) = store_with_an_order(121).await;
    // A short window, so the reset the 429 announces is short.
    set_rate_limit(&sandbox, &store.hash, None, 300);
    let client = client(&sandbox, &store, MERCHANT);
    add_fault(
        &sandbox,
        &store.hash,
        fault(FaultKind::TooManyRequests, "GET", "/v2/orders/", 2),
    );
    let order = client.get_order(order_id).await.unwrap();
    assert_eq!(order.id, order_id);
    let statuses: Vec<u16> = outcomes(&sandbox, &store.hash, "/v2/orders/")
        .iter()
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(statuses, vec![429, 429, 200]);
    assert_eq!(client.stats().rate_limited, 2);
}

#[tokio::test]
async fn a_429_burst_without_headers_is_backed_off_and_the_get_succeeds() {
    let (sandbox, store, order_id) = store_with_an_order(122).await;
    let mut config = config(&sandbox, &store, MERCHANT);
    config.retry_base_delay = Duration::from_millis(100);
    let client = Client::new(config).unwrap();
    add_fault(
        &sandbox,
        &store.hash,
        fault(FaultKind::TooManyRequestsNoHeaders, "GET", "/v2/orders/", 2),
    );
    let started = Instant::now();
    client.get_order(order_id).await.unwrap();
    let elapsed = started.elapsed();
    let statuses: Vec<u16> = outcomes(&sandbox, &store.hash, "/v2/orders/")
        .iter()
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(statuses, vec![429, 429, 200]);
    // Backoffs of at least 50 ms then 100 ms (half of 100 ms and 200 ms, plus jitter).
    assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
}

#[tokio::test]
async fn latency_below_the_timeout_only_slows_a_request_down() {
    let (sandbox, store, order_id) = store_with_an_order(123).await;
    let client = client(&sandbox, &store, MERCHANT);
    add_fault(
        &sandbox,
        &store.hash,
        bigcommerce_sandbox::FaultRule {
            latency_ms: Some(250),
            ..fault(FaultKind::Latency, "GET", "/v2/orders/", 1)
        },
    );
    let started = Instant::now();
    client.get_order(order_id).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(
        outcomes(&sandbox, &store.hash, "/v2/orders/"),
        vec![(200, Some("Latency".to_string()))]
    );
}

#[tokio::test]
async fn a_get_that_hangs_past_the_timeout_is_retried_and_succeeds() {
    let (sandbox, store, order_id) = store_with_an_order(124).await;
    let mut config = config(&sandbox, &store, MERCHANT);
    config.timeout = Duration::from_millis(300);
    let client = Client::new(config).unwrap();
    add_fault(
        &sandbox,
        &store.hash,
        bigcommerce_sandbox::FaultRule {
            latency_ms: Some(5000),
            ..fault(FaultKind::Hang, "GET", "/v2/orders/", 1)
        },
    );
    let started = Instant::now();
    let order = client.get_order(order_id).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(order.id, order_id);
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(faults_struck(&sandbox, &store.hash), 1);
    assert_eq!(client.stats().requests_sent, 2);
}

#[tokio::test]
async fn a_reset_connection_and_a_truncated_body_on_gets_are_retried() {
    let (sandbox, store, order_id) = store_with_an_order(125).await;
    let client = client(&sandbox, &store, MERCHANT);

    add_fault(
        &sandbox,
        &store.hash,
        fault(FaultKind::Reset, "GET", "/v2/orders/", 1),
    );
    assert_eq!(client.get_order(order_id).await.unwrap().id, order_id);

    // The real answer, cut off halfway.
    add_fault(
        &sandbox,
        &store.hash,
        bigcommerce_sandbox::FaultRule {
            after_effect: true,
            ..fault(FaultKind::Truncate, "GET", "/products", 1)
        },
    );
    let lines = client.list_order_products(order_id).await.unwrap();
    assert_eq!(lines.len(), 2);

    assert_eq!(faults_struck(&sandbox, &store.hash), 2);
    let faults: Vec<Option<String>> = requests(&sandbox, &store.hash)
        .into_iter()
        .map(|r| r.fault)
        .collect();
    assert_eq!(
        faults,
        vec![
            Some("Reset".to_string()),
            None,
            Some("Truncate after effect".to_string()),
            None
        ]
    );
}

fn ship_everything(lines: &[bigcommerce_client::OrderProduct], marker: &str) -> CreateShipment {
    CreateShipment {
        order_address_id: lines[0].order_address_id.unwrap(),
        tracking_number: Some("1Z999AA10123456784".into()),
        comments: Some(marker.to_string()),
        items: lines
            .iter()
            .map(|l| NewShipmentItem {
                order_product_id: l.id,
                quantity: l.quantity,
            })
            .collect(),
        ..CreateShipment::default()
    }
}

#[tokio::test]
async fn a_shipment_post_whose_answer_is_lost_is_outcome_unknown_and_created_once() {
    let sandbox = sandbox().await;
    let store = small_store(&sandbox, 126);
    let mut config = config(&sandbox, &store, MERCHANT);
    config.timeout = Duration::from_millis(300);
    let client = Client::new(config).unwrap();
    let secret = token(&store, MERCHANT);

    for kind in [FaultKind::Error502, FaultKind::Reset, FaultKind::Hang] {
        let order_id = place(&sandbox, &store.hash, 1, &[("MUG-1", 1, 0)]);
        let lines = client.list_order_products(order_id).await.unwrap();
        add_fault(
            &sandbox,
            &store.hash,
            bigcommerce_sandbox::FaultRule {
                after_effect: true,
                latency_ms: Some(1500),
                ..fault(kind, "POST", "/shipments", 1)
            },
        );
        let marker = format!("cenports:{kind:?}");
        let sent_before = client.stats().requests_sent;
        let error = client
            .create_shipment(order_id, &ship_everything(&lines, &marker))
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::OutcomeUnknown { .. }),
            "{kind:?}: {error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("read the resource back"), "{message}");
        assert!(!message.contains(&secret));

        // BigCommerce made the shipment, once; reading back finds it by its marker.
        let made = sandbox
            .with_store(&store.hash, |data, _| {
                data.orders[&order_id].shipments.len()
            })
            .unwrap();
        assert_eq!(made, 1, "{kind:?}: the shipment was created exactly once");
        assert_eq!(
            client.stats().requests_sent - sent_before,
            1,
            "{kind:?}: not retried"
        );
        let shipments_path = format!("/v2/orders/{order_id}/shipments");
        let posts = logged_eventually(&sandbox, &store.hash, 1, |r| {
            r.method == "POST" && r.path.ends_with(&shipments_path)
        })
        .await;
        assert_eq!(posts, 1, "{kind:?}: the sandbox saw one POST");
        let found = client.list_shipments(order_id).await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].comments.as_deref(), Some(marker.as_str()));
        assert_eq!(
            client.get_order(order_id).await.unwrap().status_id,
            Some(SHIPPED)
        );
    }
}

#[tokio::test]
async fn a_503_before_the_shipment_post_is_handled_is_outcome_unknown_and_creates_nothing() {
    // A 503 may come from a proxy in front of BigCommerce or from BigCommerce after it acted;
    // the client cannot tell them apart, so a failed POST is always "read back first".
    let (sandbox, store, order_id) = store_with_an_order(127).await;
    let client = client(&sandbox, &store, MERCHANT);
    let lines = client.list_order_products(order_id).await.unwrap();
    add_fault(
        &sandbox,
        &store.hash,
        fault(FaultKind::Error503, "POST", "/shipments", 1),
    );
    let shipment = ship_everything(&lines, "cenports:503");
    let error = client
        .create_shipment(order_id, &shipment)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::OutcomeUnknown { .. }), "{error:?}");
    assert!(error.to_string().contains("503"), "{error}");
    assert!(client.list_shipments(order_id).await.unwrap().is_empty());
    assert_eq!(
        outcomes(&sandbox, &store.hash, "/shipments"),
        vec![
            (503, Some("Error503".to_string())),
            (204, None) // the read-back
        ]
    );

    // Having read back and found nothing, sending again is safe and creates it once.
    let created = client.create_shipment(order_id, &shipment).await.unwrap();
    assert_eq!(
        ids(&client.list_shipments(order_id).await.unwrap(), |s| s.id),
        vec![created.id]
    );
}

#[tokio::test]
async fn a_429_on_a_shipment_post_is_retried_because_nothing_was_applied() {
    let (sandbox, store, order_id) = store_with_an_order(129).await;
    set_rate_limit(&sandbox, &store.hash, None, 200);
    let client = client(&sandbox, &store, MERCHANT);
    let lines = client.list_order_products(order_id).await.unwrap();
    add_fault(
        &sandbox,
        &store.hash,
        fault(FaultKind::TooManyRequests, "POST", "/shipments", 1),
    );
    let created = client
        .create_shipment(order_id, &ship_everything(&lines, "cenports:429"))
        .await
        .unwrap();
    assert_eq!(
        ids(&client.list_shipments(order_id).await.unwrap(), |s| s.id),
        vec![created.id]
    );
    let posts: Vec<u16> = requests(&sandbox, &store.hash)
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.status)
        .collect();
    assert_eq!(posts, vec![429, 201]);
}

#[tokio::test]
async fn a_put_or_delete_whose_answer_is_lost_is_retried_and_applied_once() {
    let (sandbox, store, order_id) = store_with_an_order(130).await;
    let client = client(&sandbox, &store, MERCHANT);
    let lines = client.list_order_products(order_id).await.unwrap();
    let shipment = client
        .create_shipment(order_id, &ship_everything(&lines, "cenports:put"))
        .await
        .unwrap();

    // The status is set, the answer lost: sending the same absolute value again is harmless.
    add_fault(
        &sandbox,
        &store.hash,
        bigcommerce_sandbox::FaultRule {
            after_effect: true,
            ..fault(FaultKind::Error502, "PUT", "/v2/orders/", 1)
        },
    );
    let order = client
        .update_order_status(order_id, AWAITING_SHIPMENT)
        .await
        .unwrap();
    assert_eq!(order.status_id, Some(AWAITING_SHIPMENT));

    // The shipment is deleted, the answer lost: the retry's 404 means it is gone, as asked.
    add_fault(
        &sandbox,
        &store.hash,
        bigcommerce_sandbox::FaultRule {
            after_effect: true,
            ..fault(FaultKind::Reset, "DELETE", "/shipments/", 1)
        },
    );
    client.delete_shipment(order_id, shipment.id).await.unwrap();
    assert!(client.list_shipments(order_id).await.unwrap().is_empty());

    let writes: Vec<(String, u16)> = requests(&sandbox, &store.hash)
        .into_iter()
        .filter(|r| r.method == "PUT" || r.method == "DELETE")
        .map(|r| (r.method, r.status))
        .collect();
    assert_eq!(
        writes,
        vec![
            ("PUT".to_string(), 502),
            ("PUT".to_string(), 200),
            ("DELETE".to_string(), 200),
            ("DELETE".to_string(), 404),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn debug_output_and_errors_never_show_the_token_or_the_client_secret() {
    let (sandbox, store, order_id) = store_with_an_order(128).await;
    let account = store.account("read-only").unwrap().clone();
    let mut config = config(&sandbox, &store, "read-only");
    config.timeout = Duration::from_millis(200);
    config.max_retries = 1;
    let client = Client::new(config.clone()).unwrap();
    let secrets = [
        account.access_token.as_str(),
        account.client_secret.as_str(),
    ];

    let debug_of_config = [format!("{config:?}"), format!("{client:?}")];
    let mut errors = vec![
        client.update_order_status(order_id, 9).await.unwrap_err(),
        client.get_order(9_999_999).await.unwrap_err(),
    ];
    add_fault(
        &sandbox,
        &store.hash,
        bigcommerce_sandbox::FaultRule {
            latency_ms: Some(2000),
            ..fault(FaultKind::Hang, "GET", "/v2/orders/", 2)
        },
    );
    errors.push(client.get_order(order_id).await.unwrap_err());
    add_fault(
        &sandbox,
        &store.hash,
        fault(FaultKind::Reset, "GET", "/v2/orders/", 2),
    );
    errors.push(client.get_order(order_id).await.unwrap_err());

    // A client of the merchant account for the POST failures.
    let merchant = crate::sandbox_support::client(&sandbox, &store, MERCHANT);
    let lines = merchant.list_order_products(order_id).await.unwrap();
    add_fault(
        &sandbox,
        &store.hash,
        bigcommerce_sandbox::FaultRule {
            after_effect: true,
            ..fault(FaultKind::Reset, "POST", "/shipments", 1)
        },
    );
    errors.push(
        merchant
            .create_shipment(order_id, &ship_everything(&lines, "m"))
            .await
            .unwrap_err(),
    );
    let merchant_secrets = [
        token(&store, MERCHANT),
        store.account(MERCHANT).unwrap().client_secret.clone(),
    ];

    assert!(
        matches!(
            errors.as_slice(),
            [
                Error::MissingScope { .. },
                Error::NotFound { .. },
                Error::Timeout { .. },
                Error::Transport { .. } | Error::Decode { .. },
                Error::OutcomeUnknown { .. },
            ]
        ),
        "{errors:#?}"
    );
    let mut printed = Vec::new();
    for error in &errors {
        printed.push(error.to_string());
        printed.push(format!("{error:?}"));
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            printed.push(format!("{cause} {cause:?}"));
            source = cause.source();
        }
    }
    // Errors name the endpoint, never the host (nor, therefore, anything from the URL).
    let host = sandbox.addr().to_string();
    assert!(
        printed.iter().all(|text| !text.contains(&host)),
        "{printed:#?}"
    );
    printed.extend(debug_of_config.iter().cloned());
    for text in &printed {
        for secret in secrets
            .iter()
            .copied()
            .chain(merchant_secrets.iter().map(String::as_str))
        {
            assert!(!text.contains(secret), "a secret leaked into: {text}");
        }
    }
    assert!(
        debug_of_config[0].contains("access_token: \"***\""),
        "{}",
        debug_of_config[0]
    );
    assert!(
        debug_of_config[0].contains("client_secret: Some(\"***\")"),
        "{}",
        debug_of_config[0]
    );
}
