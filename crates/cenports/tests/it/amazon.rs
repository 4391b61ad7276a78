//! The Amazon channel against the Amazon sandbox over loopback, through the core's own paths:
//! connect (each role named when missing, a foreign host refused), the import of every
//! merchant-fulfilled order with its lines and address (changes during the walk included), the
//! churn (hundreds of orders placed and changed while a sync walks, then exactly the seller's
//! merchant-fulfilled orders in the hub), a buyer's cancellation on the next sync, a shipment
//! confirmed once through the outbox although its answer was lost, and a stock push. The
//! write-back soak is `amazon_soak.rs`. Usage plans are scaled up (`set_rate_scale`) so the
//! tests do not wait minutes for Amazon's buckets; the hub follows the rate the sandbox reports.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use amazon_sandbox::{
    AmazonSandbox, AmazonSandboxConfig, FaultKind, FaultRule, FulfillmentChannel, NewOrder,
    NewOrderItem, OrderStatus,
};
use secrecy::SecretString;
use url::Url;

use cenports::channel::amazon::Amazon;
use cenports::channel::credentials::save_verified;
use cenports::channel::{Channel, Channels, ConnectSubmission, StoreClient};
use cenports::fulfilment::worker::{drain, WorkerConfig};
use cenports::fulfilment::{request_shipment, Carrier, ShipmentRequest};
use cenports::secrets::SecretBox;
use cenports::stock::push_stock;
use cenports::storage::STREAM_ORDERS;
use cenports::storage::{AddressKind, FulfilmentState, OutboxState, Storage, StoreRecord};
use cenports::sync::{sync_orders, sync_store, SyncOptions};

use crate::common::both_backends;

/// Rates 200 times Amazon's: `searchOrders` once every 0.9 s after its burst.
const RATE_SCALE: f64 = 200.0;

async fn start(orders: usize) -> AmazonSandbox {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox = AmazonSandbox::start(
        listener,
        AmazonSandboxConfig {
            orders,
            rate_scale: RATE_SCALE,
            ..AmazonSandboxConfig::default()
        },
    )
    .await
    .unwrap();
    sandbox.set_rate_scale(RATE_SCALE);
    sandbox
}

fn channel(sandbox: &AmazonSandbox) -> Amazon {
    let url = Url::parse(sandbox.endpoint()).unwrap();
    Amazon::new(url.clone(), url)
}

fn file_text(sandbox: &AmazonSandbox) -> String {
    serde_json::to_string(&sandbox.credentials()).unwrap()
}

fn submission_of_file(text: String) -> ConnectSubmission {
    ConnectSubmission {
        email: "seller@cenports.example".into(),
        fields: BTreeMap::new(),
        file: Some(SecretString::from(text)),
    }
}

fn submission_of_profile(sandbox: &AmazonSandbox, profile: &str) -> ConnectSubmission {
    let app = sandbox.app(profile).unwrap();
    let fields = [
        ("seller_id", sandbox.seller_id()),
        ("marketplace_id", sandbox.marketplace_id().to_owned()),
        ("client_id", app.client_id.clone()),
        ("client_secret", app.client_secret.clone()),
        ("refresh_token", app.refresh_token.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), SecretString::from(v)))
    .collect();
    ConnectSubmission {
        email: "seller@cenports.example".into(),
        fields,
        file: None,
    }
}

/// A seller connected as `cenports connect --channel amazon` saves it, and its client from a
/// registry.
struct Connected {
    sandbox: AmazonSandbox,
    channels: Channels,
    record: StoreRecord,
    client: Arc<dyn StoreClient>,
}

async fn connect(storage: &Storage, orders: usize) -> Connected {
    let sandbox = start(orders).await;
    let amazon = Arc::new(channel(&sandbox));
    let verified = amazon
        .check(submission_of_file(file_text(&sandbox)))
        .await
        .expect("the full profile connects");
    let secret_box = Arc::new(SecretBox::from_key_bytes(&[9; 32]).unwrap());
    let record = save_verified(storage, &secret_box, &verified)
        .await
        .unwrap();
    let channels = Channels::new(secret_box, vec![amazon as Arc<dyn Channel>]);
    let client = channels.client(storage, &record).await.unwrap();
    Connected {
        sandbox,
        channels,
        record,
        client,
    }
}

fn options() -> SyncOptions {
    SyncOptions {
        settle: Duration::from_secs(1),
        ..SyncOptions::default()
    }
}

/// Past Amazon's two-minute horizon: what was placed or changed is now searchable.
fn after_the_horizon(sandbox: &AmazonSandbox) {
    sandbox.advance_clock(chrono::Duration::seconds(150));
}

fn merchant_orders(sandbox: &AmazonSandbox) -> Vec<amazon_sandbox::Order> {
    sandbox
        .state()
        .account
        .read()
        .orders()
        .iter()
        .filter(|o| o.fulfillment_channel == FulfillmentChannel::Mfn)
        .cloned()
        .collect()
}

/// A merchant-fulfilled order of two units of a stocked listing, placed in `status`.
pub(crate) fn place(sandbox: &AmazonSandbox, status: OrderStatus) -> amazon_sandbox::Order {
    let sku = sandbox
        .listings()
        .into_iter()
        .find(|l| l.quantity >= 5)
        .expect("a stocked listing")
        .sku;
    sandbox
        .place_order(NewOrder {
            fulfillment_channel: Some(FulfillmentChannel::Mfn),
            items: vec![NewOrderItem { sku, quantity: 2 }],
            status: Some(status),
            purchase_date: None,
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_succeeds_with_the_full_profile_and_names_the_missing_role_of_each_other() {
    let sandbox = start(0).await;
    let amazon = channel(&sandbox);
    let verified = amazon
        .check(submission_of_profile(&sandbox, "full"))
        .await
        .unwrap();
    assert_eq!(verified.channel, "amazon");
    assert_eq!(
        verified.store_key,
        format!("{}.{}", sandbox.seller_id(), sandbox.marketplace_id())
    );
    assert!(verified.permissions.iter().all(|p| p.granted));
    assert!(!format!("{verified:?}").contains(&sandbox.app("full").unwrap().refresh_token));
    for (profile, role, code) in [
        ("missing-orders", "Inventory and Order Tracking", "orders"),
        ("missing-listings", "Product Listing", "listings"),
        (
            "missing-restricted-data",
            "Direct-to-Consumer Shipping (restricted)",
            "restricted data",
        ),
    ] {
        let refused = amazon
            .check(submission_of_profile(&sandbox, profile))
            .await
            .unwrap_err();
        assert!(
            refused.message.starts_with(&format!(
                "the app authorisation lacks the {role} role ({code}); add the {role} role"
            )),
            "{profile}: {}",
            refused.message
        );
        let missing: Vec<&str> = refused
            .permissions
            .iter()
            .filter(|p| !p.granted)
            .map(|p| p.code.as_str())
            .collect();
        assert_eq!(missing, vec![code], "{profile}");
    }
    let mut wrong = submission_of_profile(&sandbox, "full");
    wrong.fields.insert(
        "refresh_token".into(),
        SecretString::from("Atzr|not-a-token".to_owned()),
    );
    let refused = amazon.check(wrong).await.unwrap_err();
    assert!(
        refused.message.contains("refused the refresh token"),
        "{}",
        refused.message
    );
    assert!(!refused.message.contains("Atzr|not-a-token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credentials_file_pointing_at_another_host_is_refused_before_any_request() {
    let sandbox = start(0).await;
    let amazon = channel(&sandbox);
    let mut file: serde_json::Value = serde_json::from_str(&file_text(&sandbox)).unwrap();
    file["endpoint"] = "http://169.254.169.254".into();
    let before = sandbox.state().log.lock().counters().total;
    let refused = amazon
        .check(submission_of_file(file.to_string()))
        .await
        .unwrap_err();
    assert!(
        refused.message.contains("points at 169.254.169.254")
            && refused.message.contains("CENPORTS_AMAZON_API_URL"),
        "{}",
        refused.message
    );
    let mut file: serde_json::Value = serde_json::from_str(&file_text(&sandbox)).unwrap();
    file["auth_endpoint"] = "https://evil.example/auth/o2/token".into();
    let refused = amazon
        .check(submission_of_file(file.to_string()))
        .await
        .unwrap_err();
    assert!(
        refused.message.contains("CENPORTS_AMAZON_AUTH_URL"),
        "{}",
        refused.message
    );
    assert_eq!(
        sandbox.state().log.lock().counters().total,
        before,
        "nothing was sent"
    );
}

both_backends!(
    importing_150_orders_brings_every_merchant_order_once_with_lines_and_address,
    |ctx| {
        let seller = connect(&ctx.storage, 150).await;
        let sandbox = &seller.sandbox;
        after_the_horizon(sandbox);
        let scope = seller.record.scope();
        let expected = merchant_orders(sandbox);
        // An order changes during the walk: the buyer's payment clears on a pending order once
        // the first page is committed.
        let pending = expected
            .iter()
            .find(|o| o.status == OrderStatus::Pending)
            .map(|o| o.amazon_order_id.clone());
        let mut changed = false;
        let small_pages = SyncOptions {
            page_size: 25,
            ..options()
        };
        let first = sync_store(
            &ctx.storage,
            &scope,
            seller.client.as_ref(),
            &small_pages,
            |_| {
                if let (false, Some(id)) = (changed, &pending) {
                    sandbox.advance_order(id).unwrap();
                    changed = true;
                }
            },
        )
        .await
        .unwrap();
        eprintln!(
            "amazon import of {} merchant orders: {} requests in {:?}",
            expected.len(),
            first.api_requests,
            first.elapsed
        );
        after_the_horizon(sandbox);
        let second = sync_store(
            &ctx.storage,
            &scope,
            seller.client.as_ref(),
            &small_pages,
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(second.inserted, 0, "nothing new: {second:?}");

        assert_eq!(
            ctx.storage.count_orders(&scope).await.unwrap(),
            expected.len() as i64,
            "every merchant-fulfilled order, once, and no Amazon-fulfilled one"
        );
        for order in merchant_orders(sandbox) {
            let held = ctx
                .storage
                .find_order_by_remote_id(&scope, &order.amazon_order_id)
                .await
                .unwrap()
                .expect("imported");
            assert_eq!(held.summary.status_code, order.status.as_str());
            assert_eq!(held.lines.len(), order.items.len());
            for (line, item) in held.lines.iter().zip(&order.items) {
                assert_eq!(line.remote_id, item.order_item_id);
                assert_eq!(line.sku, item.seller_sku);
                assert_eq!(line.quantity as u32, item.quantity_ordered);
            }
            let shipping: Vec<_> = held
                .addresses
                .iter()
                .filter(|a| a.kind == AddressKind::Shipping)
                .collect();
            if order.status == OrderStatus::Pending {
                assert!(shipping.is_empty(), "a pending order has no address yet");
                assert_eq!(held.summary.fulfilment_state, FulfilmentState::OnHold);
            } else {
                assert_eq!(shipping.len(), 1, "{}", order.amazon_order_id);
                assert_eq!(shipping[0].street_1, order.address.address_line1);
                assert_eq!(shipping[0].zip, order.address.postal_code);
            }
        }
        if let Some(id) = &pending {
            let held = ctx
                .storage
                .find_order_by_remote_id(&scope, id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(held.summary.status_code, "Unshipped", "changed mid-walk");
            assert_eq!(held.summary.fulfilment_state, FulfilmentState::Ready);
        }
    }
);

/// What the churn did to the seller's account, counted by when.
#[derive(Debug, Default)]
struct Churn {
    /// Changes of any kind (new orders included).
    total: u32,
    /// Changes made after the walk's first page was committed and before the sync returned.
    during_walk: u32,
    /// Of those, changes to orders that were already in the walk's window (placed before the
    /// sync began).
    in_walked_window: u32,
    /// Merchant-fulfilled orders placed during the walk.
    placed_during_walk: u32,
}

/// One change a seller's buyers or Amazon make, at random: a new order (merchant- or
/// Amazon-fulfilled), a payment authorised, a cancellation, a buyer asking to cancel, Amazon
/// shipping one of its own orders. Returns the order changed, or `None` when no order fits.
fn churn_once(sandbox: &AmazonSandbox, rng: &mut rand::rngs::StdRng, sku: &str) -> Option<String> {
    use rand::Rng;
    let pick = |wanted: &dyn Fn(&amazon_sandbox::Order) -> bool, rng: &mut rand::rngs::StdRng| {
        let account = sandbox.state().account.read();
        let fits: Vec<String> = account
            .orders()
            .iter()
            .filter(|o| wanted(o))
            .map(|o| o.amazon_order_id.clone())
            .collect();
        (!fits.is_empty()).then(|| fits[rng.gen_range(0..fits.len())].clone())
    };
    let mfn = |o: &amazon_sandbox::Order| o.fulfillment_channel == FulfillmentChannel::Mfn;
    let new_order = |channel, status| {
        sandbox
            .place_order(NewOrder {
                fulfillment_channel: Some(channel),
                items: vec![NewOrderItem {
                    sku: sku.to_owned(),
                    quantity: 1,
                }],
                status: Some(status),
                purchase_date: None,
            })
            .ok()
            .map(|o| o.amazon_order_id)
    };
    match rng.gen_range(0..6) {
        0 => new_order(FulfillmentChannel::Mfn, OrderStatus::Pending),
        1 => new_order(FulfillmentChannel::Afn, OrderStatus::Unshipped),
        2 => {
            let id = pick(&|o| mfn(o) && o.status == OrderStatus::Pending, rng)?;
            sandbox.advance_order(&id).ok().map(|o| o.amazon_order_id)
        }
        3 => {
            let id = pick(
                &|o| mfn(o) && matches!(o.status, OrderStatus::Pending | OrderStatus::Unshipped),
                rng,
            )?;
            sandbox.cancel_order(&id).ok().map(|o| o.amazon_order_id)
        }
        4 => {
            let id = pick(
                &|o| {
                    mfn(o) && o.status == OrderStatus::Unshipped && o.buyer_cancel_reason.is_none()
                },
                rng,
            )?;
            sandbox
                .request_cancellation(&id, "Order placed by mistake")
                .ok()
                .map(|o| o.amazon_order_id)
        }
        _ => {
            let id = pick(&|o| !mfn(o) && o.status == OrderStatus::Unshipped, rng)?;
            sandbox.advance_order(&id).ok().map(|o| o.amazon_order_id)
        }
    }
}

both_backends!(
    orders_changed_and_placed_during_a_walk_are_neither_missed_nor_duplicated,
    |ctx| {
        use rand::SeedableRng;
        use std::sync::atomic::{AtomicBool, Ordering};

        let seller = connect(&ctx.storage, 300).await;
        let sandbox = seller.sandbox.clone();
        let scope = seller.record.scope();
        sandbox.set_rate_scale(1000.0);
        let sku = sandbox.listings()[0].sku.clone();
        let listings = sandbox.listings();
        {
            let now = sandbox.state().clock.now();
            let mut account = sandbox.state().account.write();
            for listing in listings {
                account.set_quantity(&listing.sku, 100_000, now).unwrap();
            }
        }
        // Open orders for the churn to change (the generated history is mostly shipped).
        for (channel, status, count) in [
            (FulfillmentChannel::Mfn, OrderStatus::Pending, 40),
            (FulfillmentChannel::Mfn, OrderStatus::Unshipped, 30),
            (FulfillmentChannel::Afn, OrderStatus::Unshipped, 20),
        ] {
            for _ in 0..count {
                sandbox
                    .place_order(NewOrder {
                        fulfillment_channel: Some(channel),
                        items: vec![NewOrderItem {
                            sku: sku.clone(),
                            quantity: 1,
                        }],
                        status: Some(status),
                        purchase_date: None,
                    })
                    .unwrap();
            }
        }
        after_the_horizon(&sandbox);
        let before: std::collections::BTreeSet<String> = sandbox
            .state()
            .account
            .read()
            .orders()
            .iter()
            .map(|o| o.amazon_order_id.clone())
            .collect();
        // Every search page takes 150 ms, so the walk (pages of 20) lasts seconds and the churn
        // lands between its pages, inside the window being walked.
        sandbox.add_fault(FaultRule {
            method: Some("GET".into()),
            path_contains: Some("/orders/2026-01-01/orders".into()),
            latency_ms: Some(150),
            ..FaultRule::always(FaultKind::Latency)
        });
        let walking = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let churn = {
            let (sandbox, walking, done, before) = (
                sandbox.clone(),
                walking.clone(),
                done.clone(),
                before.clone(),
            );
            tokio::spawn(async move {
                let mut rng = rand::rngs::StdRng::seed_from_u64(17);
                let mut churn = Churn::default();
                while !done.load(Ordering::SeqCst) {
                    if let Some(id) = churn_once(&sandbox, &mut rng, &sku) {
                        churn.total += 1;
                        if walking.load(Ordering::SeqCst) {
                            churn.during_walk += 1;
                            if before.contains(&id) {
                                churn.in_walked_window += 1;
                            } else if sandbox
                                .order(&id)
                                .is_some_and(|o| o.fulfillment_channel == FulfillmentChannel::Mfn)
                            {
                                churn.placed_during_walk += 1;
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                churn
            })
        };
        let pages = SyncOptions {
            page_size: 20,
            ..options()
        };
        let first = sync_store(&ctx.storage, &scope, seller.client.as_ref(), &pages, |_| {
            walking.store(true, Ordering::SeqCst)
        })
        .await
        .unwrap();
        done.store(true, Ordering::SeqCst);
        let churn = churn.await.unwrap();
        eprintln!(
            "amazon churn: {churn:?} over a {}-page first sync of {:?}",
            first.pages, first.elapsed
        );
        assert!(
            churn.in_walked_window >= 20 && churn.placed_during_walk >= 5,
            "the churn must land inside the walk: {churn:?}"
        );
        sandbox.clear_faults();

        // Past the horizon and sync again until a run finds nothing new.
        let mut runs = 1;
        loop {
            after_the_horizon(&sandbox);
            let again = sync_store(&ctx.storage, &scope, seller.client.as_ref(), &pages, |_| {})
                .await
                .unwrap();
            runs += 1;
            if again.inserted + again.updated == 0 || runs > 5 {
                break;
            }
        }
        assert!(runs <= 3, "quiescent after {runs} runs");

        let expected = merchant_orders(&sandbox);
        assert_eq!(
            ctx.storage.count_orders(&scope).await.unwrap(),
            expected.len() as i64,
            "every merchant-fulfilled order, once"
        );
        for order in &expected {
            let id = &order.amazon_order_id;
            let held = ctx
                .storage
                .find_order_by_remote_id(&scope, id)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{id} was not imported"));
            assert_eq!(held.summary.status_code, order.status.as_str(), "{id}");
            let lines: Vec<(&str, &str, u32)> = held
                .lines
                .iter()
                .map(|l| (l.remote_id.as_str(), l.sku.as_str(), l.quantity as u32))
                .collect();
            let items: Vec<(&str, &str, u32)> = order
                .items
                .iter()
                .map(|i| {
                    (
                        i.order_item_id.as_str(),
                        i.seller_sku.as_str(),
                        i.quantity_ordered,
                    )
                })
                .collect();
            assert_eq!(lines, items, "{id}");
            let shipping: Vec<_> = held
                .addresses
                .iter()
                .filter(|a| a.kind == AddressKind::Shipping)
                .collect();
            if order.status == OrderStatus::Pending {
                assert!(
                    shipping.is_empty(),
                    "{id}: a pending order has no address yet"
                );
            } else {
                assert_eq!(shipping.len(), 1, "{id}");
                assert_eq!(
                    (shipping[0].street_1.as_str(), shipping[0].zip.as_str()),
                    (
                        order.address.address_line1.as_str(),
                        order.address.postal_code.as_str()
                    ),
                    "{id}"
                );
            }
        }
        let amazon_fulfilled: Vec<String> = sandbox
            .state()
            .account
            .read()
            .orders()
            .iter()
            .filter(|o| o.fulfillment_channel == FulfillmentChannel::Afn)
            .map(|o| o.amazon_order_id.clone())
            .collect();
        for id in &amazon_fulfilled {
            assert!(
                ctx.storage
                    .find_order_by_remote_id(&scope, id)
                    .await
                    .unwrap()
                    .is_none(),
                "{id} is fulfilled by Amazon: not imported"
            );
        }
    }
);

both_backends!(
    an_interrupted_import_resumes_at_amazons_next_token_without_reading_again,
    |ctx| {
        let seller = connect(&ctx.storage, 1_000).await;
        let sandbox = &seller.sandbox;
        let scope = seller.record.scope();
        let options = SyncOptions {
            page_size: 100,
            ..options()
        };
        let total = merchant_orders(sandbox).len();
        after_the_horizon(sandbox);
        // After the third committed page every search fails (the client's retries included),
        // so the walk stops with its checkpoint.
        let failed = sync_orders(
            &ctx.storage,
            &scope,
            seller.client.as_ref(),
            &options,
            |p| {
                if p.pages == 3 {
                    sandbox.add_fault(FaultRule {
                        path_contains: Some("/orders/2026-01-01/orders".into()),
                        ..FaultRule::always(FaultKind::Error500)
                    });
                }
            },
        )
        .await;
        assert!(failed.is_err(), "the walk stops on persistent 500s");
        let checkpoint = ctx
            .storage
            .get_checkpoint(&scope, STREAM_ORDERS)
            .await
            .unwrap()
            .expect("a checkpoint was committed with the pages");
        assert_eq!(checkpoint.completed_at, None, "the window is not finished");
        let token = checkpoint
            .cursor
            .expect("Amazon's nextToken, kept with the pages");
        let held = ctx.storage.count_orders(&scope).await.unwrap() as usize;
        assert!(
            held >= 300 && held < total,
            "whole pages committed, not all: {held} of {total}"
        );

        sandbox.clear_faults();
        let seq = sandbox.state().log.lock().counters().total;
        let resumed = sync_orders(
            &ctx.storage,
            &scope,
            seller.client.as_ref(),
            &options,
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(resumed.inserted as usize, total - held, "{resumed:?}");
        assert_eq!(
            ctx.storage.count_orders(&scope).await.unwrap() as usize,
            total
        );
        // The walk went on from the token it had committed: its first search is that page,
        // and it read no page twice.
        let searches: Vec<_> = sandbox
            .state()
            .log
            .lock()
            .since(seq)
            .into_iter()
            .filter(|r| r.operation.as_deref() == Some("searchOrders") && r.status == 200)
            .collect();
        let first = url::form_urlencoded::parse(searches[0].query.as_bytes())
            .find(|(name, _)| name == "paginationToken")
            .map(|(_, value)| value.into_owned());
        assert_eq!(first.as_deref(), Some(token.as_str()), "{:?}", searches[0]);
        assert_eq!(
            searches.len(),
            (total - held).div_ceil(100),
            "one search per remaining page"
        );
        let checkpoint = ctx
            .storage
            .get_checkpoint(&scope, STREAM_ORDERS)
            .await
            .unwrap()
            .unwrap();
        assert!(checkpoint.completed_at.is_some());
    }
);

both_backends!(
    an_order_cancelled_by_the_buyer_reaches_the_hub_as_cancelled_on_the_next_sync,
    |ctx| {
        let seller = connect(&ctx.storage, 0).await;
        let sandbox = &seller.sandbox;
        let scope = seller.record.scope();
        let order = place(sandbox, OrderStatus::Unshipped);
        after_the_horizon(sandbox);
        sync_store(
            &ctx.storage,
            &scope,
            seller.client.as_ref(),
            &options(),
            |_| {},
        )
        .await
        .unwrap();
        let held = ctx
            .storage
            .find_order_by_remote_id(&scope, &order.amazon_order_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(held.summary.fulfilment_state, FulfilmentState::Ready);

        sandbox.cancel_order(&order.amazon_order_id).unwrap();
        // Two hours on: the cached access and restricted data tokens have expired at Amazon;
        // the client renews each once on Amazon's "expired" and the sync goes through.
        sandbox.advance_clock(chrono::Duration::hours(2));
        let next = sync_store(
            &ctx.storage,
            &scope,
            seller.client.as_ref(),
            &options(),
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(next.updated, 1, "{next:?}");
        let held = ctx
            .storage
            .find_order_by_remote_id(&scope, &order.amazon_order_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(held.summary.status_code, "Canceled");
        assert_eq!(held.summary.fulfilment_state, FulfilmentState::Cancelled);
    }
);

both_backends!(
    a_shipment_is_confirmed_once_although_its_answer_was_lost,
    |ctx| {
        let seller = connect(&ctx.storage, 0).await;
        let sandbox = &seller.sandbox;
        let scope = seller.record.scope();
        let order = place(sandbox, OrderStatus::Unshipped);
        after_the_horizon(sandbox);
        sync_store(
            &ctx.storage,
            &scope,
            seller.client.as_ref(),
            &options(),
            |_| {},
        )
        .await
        .unwrap();
        let amazon = seller.channels.get("amazon").unwrap().clone();
        let request = ShipmentRequest {
            order_remote_id: order.amazon_order_id.clone(),
            carrier: Carrier::CanadaPost,
            tracking_number: "7023918270".into(),
            tracking_link: None,
            shipped_at: None,
            items: Vec::new(),
            request_key: None,
        };
        let requested = request_shipment(&ctx.storage, &seller.record, amazon.as_ref(), &request)
            .await
            .unwrap();
        assert_eq!(requested.rows.len(), 1);
        // Amazon confirms the package, then the answer is lost.
        sandbox.add_fault(FaultRule {
            kind: FaultKind::Error500,
            probability: 1.0,
            count: Some(1),
            method: None,
            path_contains: Some("/shipmentConfirmation".into()),
            after_effect: true,
            latency_ms: None,
        });
        let config = WorkerConfig {
            retry_base: Duration::from_millis(10),
            retry_max: Duration::from_millis(50),
            quiet_period: Duration::from_millis(100),
            recheck_gap: Duration::from_millis(50),
            drain_patience: Duration::from_secs(10),
            ..WorkerConfig::default()
        };
        let report = drain(
            &ctx.storage,
            &seller.channels,
            Some(seller.record.id()),
            &config,
        )
        .await
        .unwrap();
        assert_eq!((report.sends, report.delivered_found), (1, 1), "{report:?}");
        let packages: Vec<_> = sandbox
            .packages()
            .into_iter()
            .filter(|(id, _)| *id == order.amazon_order_id)
            .collect();
        assert_eq!(packages.len(), 1, "one package, not two");
        assert_eq!(
            packages[0].1.package_reference_id,
            requested.rows[0].id.get().to_string()
        );
        assert_eq!(packages[0].1.tracking_number, "7023918270");
        let row = ctx
            .storage
            .get_outbox(&scope, requested.rows[0].id)
            .await
            .unwrap();
        assert_eq!(row.state, OutboxState::Delivered);
        let held = ctx
            .storage
            .find_order_by_remote_id(&scope, &order.amazon_order_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(held.summary.fulfilment_state, FulfilmentState::Shipped);

        // Sent again anyway (a retry racing the read-back): Amazon's refusal of the repeated
        // package reference is read as delivered, and nothing ships twice.
        let again = seller
            .client
            .fulfilment()
            .create_shipment(
                &order.amazon_order_id,
                requested.rows[0].id,
                &serde_json::from_str(&row.payload).unwrap(),
            )
            .await;
        assert!(again.is_ok(), "{again:?}");
        assert_eq!(
            sandbox
                .order(&order.amazon_order_id)
                .unwrap()
                .packages
                .len(),
            1
        );

        // Another row for the order, now shipped in full (say, in Seller Central after the
        // hub's last sync): Amazon refuses it, and the refusal stands. It is not taken for
        // this row's package, which Amazon does not have.
        let other_row = cenports::storage::OutboxId::from_raw(requested.rows[0].id.get() + 1000);
        let refused = seller
            .client
            .fulfilment()
            .create_shipment(
                &order.amazon_order_id,
                other_row,
                &serde_json::from_str(&row.payload).unwrap(),
            )
            .await
            .expect_err("a package Amazon refused is not delivered");
        assert_eq!(
            refused.kind(),
            cenports::channel::ErrorKind::Rejected,
            "{refused}"
        );
        assert!(refused.to_string().contains("is Shipped"), "{refused}");

        // A status change Amazon cannot make is refused in its words.
        let refused = seller
            .client
            .fulfilment()
            .set_status(
                &order.amazon_order_id,
                cenports::channel::StatusTarget::Cancelled,
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(refused.contains("Seller Central"), "{refused}");
    }
);

both_backends!(a_stock_push_sets_the_listing_quantity, |ctx| {
    let seller = connect(&ctx.storage, 0).await;
    let sandbox = &seller.sandbox;
    let scope = seller.record.scope();
    let order = place(sandbox, OrderStatus::Unshipped);
    let sku = order.items[0].seller_sku.clone();
    after_the_horizon(sandbox);
    let synced = sync_store(
        &ctx.storage,
        &scope,
        seller.client.as_ref(),
        &options(),
        |_| {},
    )
    .await
    .unwrap();
    assert!(
        synced.skus >= 1,
        "the ordered SKU's listing is in the catalog: {synced:?}"
    );
    ctx.storage
        .set_stock(&scope, &[(sku.clone(), 40)])
        .await
        .unwrap();
    let pushed = push_stock(&ctx.storage, &scope, seller.client.as_ref())
        .await
        .unwrap();
    let outcome = pushed
        .outcomes
        .iter()
        .find(|o| o.sku == sku)
        .unwrap_or_else(|| panic!("{pushed:?}"));
    assert_eq!(outcome.status.as_str(), "ok", "{pushed:?}");
    assert_eq!(outcome.level, 38, "40 on hand, 2 on the open order");
    assert_eq!(sandbox.listing(&sku).unwrap().quantity, 38);
    let again = push_stock(&ctx.storage, &scope, seller.client.as_ref())
        .await
        .unwrap();
    assert_eq!(again.write_requests, 0, "nothing changed: {again:?}");
});

/// The figures of `docs/AMAZON.md`: the cost of importing the sandbox's merchant-fulfilled
/// orders by each walk at Amazon's own usage plans (rate scale 1), through the channel's client
/// and its token buckets. Minutes long, so run by hand:
/// `cargo test -p cenports --test it amazon::measure -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes long at Amazon's real rates; run by hand for docs/AMAZON.md"]
async fn measure_the_two_walks_at_amazons_rates() {
    use cenports::channel::amazon::{Auth, Operation, SellerLimiter, SpApi};
    use cenports::channel::Credentials;
    let orders: usize = std::env::var("AMAZON_MEASURE_ORDERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(150);
    let sandbox = start(orders).await;
    sandbox.set_rate_scale(1.0);
    after_the_horizon(&sandbox);
    let amazon = channel(&sandbox);
    let app = sandbox.app("full").unwrap();
    let credentials = Credentials {
        client_id: app.client_id.clone(),
        client_secret: SecretString::from(app.client_secret.clone()),
        access_token: SecretString::from(app.refresh_token.clone()),
    };
    let config = amazon.client_config(&sandbox.seller_id(), sandbox.marketplace_id(), &credentials);
    let marketplace = sandbox.marketplace_id().to_owned();
    let since = "2015-01-01T00:00:00Z".to_owned();

    // getOrders (v0) pages of 100, then getOrderItems for each merchant-fulfilled order.
    let api = SpApi::new(config.clone(), Arc::new(SellerLimiter::default())).unwrap();
    api.login().await.unwrap();
    let started = std::time::Instant::now();
    let (mut requests, mut found, mut token) = (0u64, 0usize, None::<String>);
    loop {
        let mut query = vec![("MarketplaceIds", marketplace.clone())];
        match &token {
            Some(next) => query.push(("NextToken", next.clone())),
            None => {
                query.push(("LastUpdatedAfter", since.clone()));
                query.push(("FulfillmentChannels", "MFN".into()));
            }
        }
        let page = api
            .call(
                Operation::GetOrders,
                reqwest::Method::GET,
                "/orders/v0/orders",
                &query,
                None,
                Auth::Access,
            )
            .await
            .unwrap();
        requests += 1;
        let listed = page.body["payload"]["Orders"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for order in &listed {
            let id = order["AmazonOrderId"].as_str().unwrap();
            let path = format!("/orders/v0/orders/{id}/orderItems");
            api.call(
                Operation::GetOrderItems,
                reqwest::Method::GET,
                &path,
                &[],
                None,
                Auth::Access,
            )
            .await
            .unwrap();
            requests += 1;
            found += 1;
        }
        token = page.body["payload"]["NextToken"]
            .as_str()
            .map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let v0 = started.elapsed();
    eprintln!(
        "getOrders + getOrderItems: {found} orders, {requests} requests, {:.1} s",
        v0.as_secs_f64()
    );

    // searchOrders (2026-01-01) pages of 100 with items and recipients included.
    let api = SpApi::new(config, Arc::new(SellerLimiter::default())).unwrap();
    api.login().await.unwrap();
    let started = std::time::Instant::now();
    let (mut requests, mut found, mut token) = (0u64, 0usize, None::<String>);
    loop {
        let mut query = vec![
            ("marketplaceIds", marketplace.clone()),
            (
                "includedData",
                "BUYER,RECIPIENT,FULFILLMENT,PROCEEDS".to_owned(),
            ),
        ];
        match &token {
            Some(next) => query.push(("paginationToken", next.clone())),
            None => {
                query.push(("lastUpdatedAfter", since.clone()));
                query.push(("fulfilledBy", "MERCHANT".into()));
            }
        }
        let page = api
            .call(
                Operation::SearchOrders,
                reqwest::Method::GET,
                "/orders/2026-01-01/orders",
                &query,
                None,
                Auth::Restricted,
            )
            .await
            .unwrap();
        requests += 1;
        found += page.body["orders"].as_array().map_or(0, Vec::len);
        token = page.body["pagination"]["nextToken"]
            .as_str()
            .map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    eprintln!(
        "searchOrders with includedData: {found} orders, {requests} requests (+1 restricted data token), {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

both_backends!(
    a_merchant_selling_one_sku_on_bigcommerce_and_amazon_is_told_on_both_what_orders_on_both_leave,
    |ctx| {
        use bigcommerce_sandbox::model::InventoryTracking;
        use bigcommerce_sandbox::{fixtures, StoreSpec};
        use cenports::sync::{sync_catalog, sync_orders};

        // The seller's Amazon account, and their BigCommerce store selling the same SKU.
        let seller = connect(&ctx.storage, 0).await;
        let amazon = &seller.sandbox;
        let amazon_scope = seller.record.scope();
        let sku = amazon
            .listings()
            .into_iter()
            .find(|l| l.quantity >= 5)
            .expect("a stocked listing")
            .sku;
        let sandbox = crate::common::start_sandbox().await;
        let info = sandbox.create_store(StoreSpec {
            products: 0,
            orders: 0,
            ..StoreSpec::default()
        });
        let bc = crate::common::connect_store_for(
            &ctx.storage,
            "seller@cenports.example",
            sandbox,
            &info,
            |_| {},
        )
        .await;
        assert_eq!(bc.scope.user_id(), amazon_scope.user_id(), "one merchant");
        bc.sandbox
            .with_store(&bc.hash, |data, _| {
                data.add_product(fixtures::product(
                    "Mug",
                    &sku,
                    InventoryTracking::Product,
                    20,
                    vec![],
                ));
            })
            .unwrap();
        sync_catalog(&ctx.storage, &bc.scope, &bc.channel, &options(), |_| {})
            .await
            .unwrap();

        // The warehouse counts 40, once, through the BigCommerce store.
        ctx.storage
            .set_stock(&bc.scope, &[(sku.clone(), 40)])
            .await
            .unwrap();

        // 3 bought on BigCommerce, 2 on Amazon; both imported.
        bc.sandbox
            .with_store(&bc.hash, |data, events| {
                data.place_order(fixtures::order(1, &[(sku.as_str(), 3, 0)]), events)
            })
            .unwrap()
            .unwrap();
        amazon
            .place_order(NewOrder {
                fulfillment_channel: Some(FulfillmentChannel::Mfn),
                items: vec![NewOrderItem {
                    sku: sku.clone(),
                    quantity: 2,
                }],
                status: Some(OrderStatus::Unshipped),
                purchase_date: None,
            })
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2100)).await;
        sync_orders(&ctx.storage, &bc.scope, &bc.channel, &options(), |_| {})
            .await
            .unwrap();
        after_the_horizon(amazon);
        sync_store(
            &ctx.storage,
            &amazon_scope,
            seller.client.as_ref(),
            &options(),
            |_| {},
        )
        .await
        .unwrap();

        // Each channel is told 40 − 3 − 2, read back from each.
        let pushed = push_stock(&ctx.storage, &bc.scope, &bc.channel)
            .await
            .unwrap();
        let outcome = pushed.outcomes.iter().find(|o| o.sku == sku).unwrap();
        assert_eq!(
            (outcome.status.as_str(), outcome.level),
            ("ok", 35),
            "{pushed:?}"
        );
        let level = bc
            .sandbox
            .with_store(&bc.hash, |data, _| {
                data.products
                    .values()
                    .find(|p| p.variants.iter().any(|v| v.sku == sku))
                    .map(|p| p.inventory_level)
            })
            .unwrap();
        assert_eq!(level, Some(35), "the BigCommerce product's level");
        let pushed = push_stock(&ctx.storage, &amazon_scope, seller.client.as_ref())
            .await
            .unwrap();
        let outcome = pushed.outcomes.iter().find(|o| o.sku == sku).unwrap();
        assert_eq!(
            (outcome.status.as_str(), outcome.level),
            ("ok", 35),
            "{pushed:?}"
        );
        assert_eq!(
            amazon.listing(&sku).unwrap().quantity,
            35,
            "the Amazon listing"
        );
    }
);
