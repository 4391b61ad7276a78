//! The scheduler (`cenports sync --watch`, later `serve`) in-process against a sandbox on a
//! loopback port and a fresh SQLite file: several stores sync on a short interval, a new order
//! reaches the hub within two intervals, a store with a revoked token fails on every tick
//! without stopping the others, a disconnected store is no longer called, and a store whose
//! sync outlasts the interval is skipped rather than synced twice at once.

use std::time::{Duration, Instant};

use crate::common::{self, TempDir};
use base64::Engine as _;
use bigcommerce_sandbox::{
    fixtures, FaultKind, FaultRule, Plan, Sandbox, SandboxConfig, StoreInfo, StoreSpec,
};
use secrecy::SecretString;
use url::Url;

use cenports::channel::bigcommerce::CHANNEL;
use cenports::config::Settings;
use cenports::storage::*;
use cenports::sync::scheduler::{run_scheduler_with, SchedulerConfig, SyncsInProgress};
use cenports::sync::SyncOptions;

const KEY: [u8; 32] = [7; 32];
const INTERVAL: Duration = Duration::from_secs(2);

fn spec(orders: usize, seed: u64) -> StoreSpec {
    StoreSpec {
        orders,
        products: 10,
        seed,
        plan: Plan::Unlimited,
        ..StoreSpec::default()
    }
}

/// Saves `store` for ops@example.com the way `connect` does, with `token` (the real one, or
/// a revoked one).
async fn save(storage: &Storage, sandbox: &Sandbox, store: &StoreInfo, token: &str) -> StoreScope {
    common::save_store(storage, sandbox.base_url(), store, token, &KEY)
        .await
        .scope()
}

/// The scheduler as `sync --watch` runs it, every [`INTERVAL`], at most `concurrency` syncs at
/// once, marking the stores it syncs in `in_progress`, until the sender is used or dropped.
fn start_scheduler(
    database_url: &str,
    sandbox: &Sandbox,
    dir: &TempDir,
    storage: &Storage,
    concurrency: usize,
    in_progress: SyncsInProgress,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<cenports::sync::scheduler::SchedulerSummary>>,
) {
    let settings = Settings {
        database_url: database_url.to_owned(),
        channel_api_urls: [(CHANNEL, Url::parse(sandbox.base_url()).unwrap())].into(),
        secret_key: Some(SecretString::from(
            base64::engine::general_purpose::STANDARD.encode(KEY),
        )),
        key_file: dir.0.join("unused.key"),
        sync_interval: INTERVAL,
        outbox: Default::default(),
        lease_period: cenports::fleet::DEFAULT_LEASE_PERIOD,
        log: "info".into(),
        public_url: None,
        listen: cenports::config::DEFAULT_LISTEN
            .parse()
            .expect("a valid default"),
        events_allow_private_networks: false,
    };
    let config = SchedulerConfig {
        interval: INTERVAL,
        concurrency,
        options: SyncOptions {
            settle: Duration::from_secs(1),
            ..SyncOptions::default()
        },
        reconcile_interval: None,
        in_progress,
        metrics: Default::default(),
        fleet: None,
        lease_period: cenports::fleet::DEFAULT_LEASE_PERIOD,
    };
    // The process's registry, as `sync --watch` makes it: one client and limiter per store.
    let channels = settings.channels().expect("the key is configured");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let storage = storage.clone();
    let scheduler = tokio::spawn(async move {
        run_scheduler_with(&storage, &channels, config, async {
            let _ = stopped.await;
        })
        .await
    });
    (stop, scheduler)
}

fn live_orders(sandbox: &Sandbox, hash: &str) -> i64 {
    sandbox
        .with_store(hash, |data, _| {
            data.orders
                .values()
                .filter(|o| !o.is_deleted && o.status_id != 0)
                .count() as i64
        })
        .unwrap()
}

fn last_seq(sandbox: &Sandbox, hash: &str) -> u64 {
    let store = sandbox.store(hash).unwrap();
    let log = store.log.lock();
    log.since(0).last().map_or(0, |r| r.seq)
}

/// Polls `check` every 100 ms until it holds or `within` has passed; returns the time taken.
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

/// Stops the scheduler between two ticks, when none of `stores` is syncing: shutdown aborts a
/// sync in flight, whose run would stay `running` in the history, uncounted in the summary.
/// It waits for a tick's syncs to start and then end, so the next tick is most of an interval
/// away (a slow, loaded machine can stretch a sync to a whole interval).
async fn stop_between_ticks(
    in_progress: &SyncsInProgress,
    stores: &[StoreId],
    stop: tokio::sync::oneshot::Sender<()>,
) {
    let busy = || stores.iter().any(|store| in_progress.contains(*store));
    let started = Instant::now();
    while !busy() {
        assert!(
            started.elapsed() < 15 * INTERVAL,
            "no scheduled sync starts"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    while busy() {
        assert!(started.elapsed() < 30 * INTERVAL, "the syncs never end");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.send(()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_sync_on_the_interval_and_a_revoked_store_does_not_stop_the_others() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox = Sandbox::start(listener, SandboxConfig::default())
        .await
        .unwrap();
    let (a, b, revoked) = (
        sandbox.create_store(spec(400, 31)),
        sandbox.create_store(spec(250, 32)),
        sandbox.create_store(spec(50, 33)),
    );
    let dir = TempDir::new("scheduler");
    std::fs::create_dir_all(&dir.0).unwrap();
    let database_url = format!("sqlite://{}", dir.0.join("hub.db").display());
    let storage = Storage::open(&database_url).await.unwrap();
    let token = |s: &StoreInfo| s.account("merchant-guide").unwrap().access_token.clone();
    let scope_a = save(&storage, &sandbox, &a, &token(&a)).await;
    let scope_b = save(&storage, &sandbox, &b, &token(&b)).await;
    let scope_revoked = save(&storage, &sandbox, &revoked, "revoked-token-0000").await;

    // Store A's first sync outlasts an interval: the next tick must skip it, not start a
    // second sync of the same store.
    sandbox
        .store(&a.hash)
        .unwrap()
        .faults
        .lock()
        .push(FaultRule {
            kind: FaultKind::Latency,
            latency_ms: Some(2500),
            path_contains: Some("/v2/time".into()),
            count: Some(1),
            ..FaultRule::always(FaultKind::Latency)
        });

    let in_progress = SyncsInProgress::default();
    let (stop, scheduler) = start_scheduler(
        &database_url,
        &sandbox,
        &dir,
        &storage,
        8,
        in_progress.clone(),
    );

    // Both good stores are imported in full.
    for (scope, hash) in [(&scope_a, &a.hash), (&scope_b, &b.hash)] {
        let expected = live_orders(&sandbox, hash);
        wait_for(Duration::from_secs(60), "the first import", || async {
            storage.count_orders(scope).await.unwrap() == expected
        })
        .await;
    }

    // A new order reaches the hub within two intervals (plus the settle delay and the
    // store's one-second clock).
    let placed = sandbox
        .with_store(&a.hash, |data, events| {
            let sku = data.skus.keys().next().unwrap().clone();
            data.place_order(fixtures::order(1, &[(sku.as_str(), 1, 0)]), events)
        })
        .unwrap()
        .unwrap();
    let took = wait_for(
        2 * INTERVAL + Duration::from_secs(2),
        "the new order in the hub",
        || async {
            storage
                .find_order_by_remote_id(&scope_a, &placed.to_string())
                .await
                .unwrap()
                .is_some()
        },
    )
    .await;
    eprintln!("a new order reached the hub after {took:?}");

    // A disconnected store is not called any more (once its sync in flight has ended).
    storage.disconnect_store(&scope_b).await.unwrap();
    tokio::time::sleep(INTERVAL).await;
    let seq = last_seq(&sandbox, &b.hash);
    tokio::time::sleep(2 * INTERVAL).await;
    assert_eq!(
        last_seq(&sandbox, &b.hash),
        seq,
        "a disconnected store is left alone"
    );

    let stores = [&scope_a, &scope_b, &scope_revoked].map(|scope| scope.store_id());
    stop_between_ticks(&in_progress, &stores, stop).await;
    let summary = tokio::time::timeout(Duration::from_secs(10), scheduler)
        .await
        .expect("the scheduler stops on shutdown")
        .unwrap()
        .unwrap();
    eprintln!("{summary:#?}");
    let runs = |hash: &str| summary.stores.get(hash).cloned().unwrap_or_default();
    assert!(runs(&a.hash).succeeded >= 2, "{summary:#?}");
    assert_eq!(runs(&a.hash).failed, 0, "{summary:#?}");
    assert!(
        runs(&a.hash).skipped_busy >= 1,
        "a slow sync is not doubled: {summary:#?}"
    );
    assert!(runs(&b.hash).succeeded >= 1, "{summary:#?}");
    let bad = runs(&revoked.hash);
    assert_eq!(bad.succeeded, 0, "{summary:#?}");
    assert!(bad.failed >= 3, "tried again on every tick: {summary:#?}");
    assert!(bad.last_error.is_some());
    assert_eq!(storage.count_orders(&scope_revoked).await.unwrap(), 0);
    assert_eq!(
        storage.count_orders(&scope_a).await.unwrap(),
        live_orders(&sandbox, &a.hash)
    );

    // The sync history holds every run: the revoked store's failures with their cause (the
    // store's errors show the newest), store A's runs whose new orders add up to what it holds.
    let history = storage.list_sync_runs(&scope_revoked, 200).await.unwrap();
    assert_eq!(history.len() as u64, bad.failed, "{history:#?}");
    for run in &history {
        assert_eq!(run.trigger, SyncTrigger::Scheduled);
        assert_eq!(run.outcome, "failed", "{run:?}");
        assert!(run.finished_at.is_some());
    }
    let cause = history[0].error.as_deref().unwrap_or_default();
    assert!(cause.contains("401"), "the cause is kept: {cause}");
    let history_a = storage.list_sync_runs(&scope_a, 200).await.unwrap();
    assert_eq!(
        history_a.len() as u64,
        runs(&a.hash).succeeded,
        "{history_a:#?}"
    );
    assert!(history_a.iter().all(|r| r.outcome == "ok"));
    assert_eq!(
        history_a
            .iter()
            .map(|r| r.counts.orders_inserted)
            .sum::<u64>() as i64,
        storage.count_orders(&scope_a).await.unwrap(),
        "each order was new in exactly one recorded run"
    );
    storage.close().await;
}

/// Stock set in the hub reaches the store with the next scheduled sync (no `stock push`), and a
/// later sync with nothing changed writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_set_in_the_hub_reaches_the_store_with_the_next_scheduled_sync() {
    use bigcommerce_sandbox::model::InventoryTracking as SbTracking;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox = Sandbox::start(listener, SandboxConfig::default())
        .await
        .unwrap();
    let store = sandbox.create_store(spec(80, 52));
    let dir = TempDir::new("scheduler-stock");
    std::fs::create_dir_all(&dir.0).unwrap();
    let database_url = format!("sqlite://{}", dir.0.join("hub.db").display());
    let storage = Storage::open(&database_url).await.unwrap();
    let token = store
        .account("merchant-guide")
        .unwrap()
        .access_token
        .clone();
    let scope = save(&storage, &sandbox, &store, &token).await;

    // A variant-tracked SKU and what the store shows for it now.
    let level_of = |sku: String| {
        sandbox
            .with_store(&store.hash, move |data, _| {
                data.products
                    .values()
                    .filter(|p| p.inventory_tracking == SbTracking::Variant)
                    .flat_map(|p| p.variants.iter())
                    .find(|v| v.sku == sku)
                    .map(|v| v.inventory_level)
            })
            .unwrap()
    };
    let sku = sandbox
        .with_store(&store.hash, |data, _| {
            data.products
                .values()
                .find(|p| p.inventory_tracking == SbTracking::Variant)
                .map(|p| p.variants[0].sku.clone())
        })
        .unwrap()
        .expect("the store has a variant-tracked product");
    let before = level_of(sku.clone()).unwrap();
    storage
        .set_stock(&scope, &[(sku.clone(), before + 500)])
        .await
        .unwrap();

    let (stop, scheduler) = start_scheduler(
        &database_url,
        &sandbox,
        &dir,
        &storage,
        1,
        SyncsInProgress::default(),
    );

    // The store ends up showing on hand minus what the imported open orders reserve.
    wait_for(Duration::from_secs(30), "the pushed level", || async {
        let row = storage
            .stock_rows(&scope)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.sku == sku)
            .unwrap();
        row.catalog.is_some() && level_of(sku.clone()) == Some(before + 500 - row.reserved)
    })
    .await;

    // The next runs have nothing to change: no catalog write reaches the store.
    let seq = last_seq(&sandbox, &store.hash);
    tokio::time::sleep(2 * INTERVAL + Duration::from_millis(500)).await;
    let writes = {
        let handle = sandbox.store(&store.hash).unwrap();
        let log = handle.log.lock();
        log.since(seq)
            .iter()
            .filter(|r| r.method == "PUT" && r.path.contains("/v3/catalog/"))
            .count()
    };
    assert_eq!(writes, 0, "nothing changed, nothing written");

    stop.send(()).unwrap();
    let summary = tokio::time::timeout(Duration::from_secs(10), scheduler)
        .await
        .expect("the scheduler stops on shutdown")
        .unwrap()
        .unwrap();
    assert!(summary.stores[&store.hash].succeeded >= 2, "{summary:#?}");
    assert_eq!(summary.stores[&store.hash].failed, 0, "{summary:#?}");
    storage.close().await;
}
