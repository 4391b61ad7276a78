//! Priorities in a store's quota (`docs/HARD-PROBLEMS.md` note 3): shipments go ahead of a
//! backfill that has the store's quota to itself, against a real sandbox store on the Standard
//! plan (150 requests per 30 s) over loopback, on both backends.

use crate::common::{self, Ctx};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bigcommerce_sandbox::model::InventoryTracking as SbTracking;
use bigcommerce_sandbox::{fixtures, Plan, StoreSpec};
use chrono::{Duration as ChronoDuration, Utc};

use cenports::channel::bigcommerce::BigCommerce;
use cenports::channel::{with_priority, Priority, StoreClient};
use cenports::fulfilment::worker::{drain, WorkerConfig};
use cenports::fulfilment::{request_shipment, Carrier, ItemSpec, ShipmentRequest};
use cenports::storage::StoreId;
use cenports::sync::targeted::import_order;
use cenports::sync::{sync_store, SyncOptions};

use crate::common::both_backends as priorities_test;

/// The core's scope reaches the channel's own: the BigCommerce limiter reads its client
/// crate's scope, which `channel::with_priority` sets through the registry.
#[tokio::test]
async fn the_cores_priority_scope_reaches_the_channels_client() {
    let seen = with_priority(Priority::Urgent, async {
        let urgent = (
            cenports::channel::current_priority(),
            bigcommerce_client::current_priority(),
        );
        let inner = with_priority(Priority::Backfill, async {
            bigcommerce_client::current_priority()
        })
        .await;
        (urgent, inner)
    })
    .await;
    assert_eq!(
        seen,
        (
            (Priority::Urgent, bigcommerce_client::Priority::Urgent),
            bigcommerce_client::Priority::Backfill
        )
    );
    assert_eq!(
        bigcommerce_client::current_priority(),
        bigcommerce_client::Priority::Sync
    );
}

/// Parcels the warehouse reports at once.
const SHIPMENTS: usize = 4;

// A warehouse reports a handful of parcels while the store's first import walks 2,000 orders
// five at a time, so the walk has spent the first half of our share and is spread until the
// window resets (a request every ~0.45 s). Each shipment is three requests (the POST, then the
// order and its lines read back); spread like the walk, the fourth POST would leave after
// about nine gaps, ~4 s. As urgent requests they go at once: every POST reaches the store
// within 2 s of the shipments being queued, while the backfill keeps running.
priorities_test!(
    shipments_queued_during_a_backfill_reach_the_store_within_two_seconds,
    |ctx| {
        shipments_during_a_backfill(&ctx).await;
    }
);

async fn shipments_during_a_backfill(ctx: &Ctx) {
    let sandbox = common::start_sandbox().await;
    let info = sandbox.create_store(StoreSpec {
        products: 20,
        orders: 2_000,
        plan: Plan::Standard,
        ..StoreSpec::default()
    });
    sandbox
        .with_store(&info.hash, |data, _| {
            data.add_product(fixtures::product(
                "Mug",
                "MUG-1",
                SbTracking::None,
                0,
                vec![],
            ));
        })
        .unwrap();
    let hub = common::connect_store(&ctx.storage, sandbox, &info, |_| {}).await;
    let channel = BigCommerce::new(url::Url::parse(hub.sandbox.base_url()).unwrap());
    let client: Arc<dyn StoreClient> = Arc::new(hub.channel.clone());
    let mapping = SyncOptions::default().status_mapping(client.as_ref());

    // The orders to ship, in the hub before the backfill starts (as a webhook would bring them).
    let mut to_ship = Vec::new();
    for _ in 0..SHIPMENTS {
        let mut order = fixtures::order(1, &[("MUG-1", 1, 0)]);
        order.date_created = Some(Utc::now() - ChronoDuration::hours(1));
        let id = hub
            .sandbox
            .with_store(&hub.hash, |data, events| data.place_order(order, events))
            .unwrap()
            .unwrap();
        import_order(
            &hub.storage,
            &hub.scope,
            client.as_ref(),
            &mapping,
            &id.to_string(),
        )
        .await
        .unwrap();
        to_ship.push(id);
    }

    // The first import, five orders a page, in the background.
    let throttled_before = hub.client.stats().throttled;
    let backfill = tokio::spawn({
        let (storage, scope, client) = (hub.storage.clone(), hub.scope, hub.channel.clone());
        async move {
            let options = SyncOptions {
                page_size: 5,
                settle: Duration::from_secs(1),
                ..SyncOptions::default()
            };
            sync_store(&storage, &scope, &client, &options, |_| {}).await
        }
    });
    // Until the walk is quota-bound: the limiter has started making it wait.
    let started = Instant::now();
    while hub.client.stats().throttled == throttled_before {
        assert!(
            !backfill.is_finished(),
            "the backfill ended before it was quota-bound"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the backfill is not quota-bound after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent_before = hub.client.stats().requests_sent;

    // The warehouse reports its parcels; the outbox worker delivers them.
    let queued_ms = Utc::now().timestamp_millis();
    for (n, order) in to_ship.iter().enumerate() {
        request_shipment(
            &hub.storage,
            &hub.record,
            &channel,
            &ShipmentRequest {
                order_remote_id: order.to_string(),
                carrier: Carrier::CanadaPost,
                tracking_number: format!("7023210{n:08}"),
                tracking_link: None,
                shipped_at: None,
                items: vec![ItemSpec::Sku {
                    sku: "MUG-1".into(),
                    quantity: 1,
                }],
                request_key: None,
            },
        )
        .await
        .unwrap();
    }
    let clients: HashMap<StoreId, Arc<dyn StoreClient>> =
        HashMap::from([(hub.scope.store_id(), client.clone())]);
    let config = WorkerConfig {
        owner_prefix: format!("prio-{}", common::random_suffix()),
        concurrency: 2,
        lease: Duration::from_secs(20),
        drain_patience: Duration::from_secs(1),
        ..WorkerConfig::default()
    };
    let report = drain(&hub.storage, &clients, None, &config).await.unwrap();
    assert_eq!(report.delivered(), SHIPMENTS as u64, "{report:?}");

    // Still walking, and still paced: the shipments went ahead of it, not after it.
    assert!(
        !backfill.is_finished(),
        "the backfill ended during the test: it was not quota-bound"
    );
    let backfill_requests = hub.client.stats().requests_sent - sent_before - 3 * SHIPMENTS as u64;
    backfill.abort();

    let store = hub.sandbox.store(&hub.hash).unwrap();
    let posts: Vec<i64> = store
        .log
        .lock()
        .since(0)
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/shipments"))
        .map(|r| r.at_ms - queued_ms)
        .collect();
    assert_eq!(posts.len(), SHIPMENTS, "one POST per shipment");
    let slowest = posts.iter().copied().max().unwrap();
    assert!(
        slowest <= 2_000,
        "a shipment reached the store {slowest} ms after it was queued (all: {posts:?} ms; the \
         backfill sent {backfill_requests} requests meanwhile)"
    );
}
