//! `cenports bench stock`: requests used to push N changed SKUs, against the floor.
//!
//! An in-process sandbox store (generated catalog, unlimited plan, loopback HTTP) is connected
//! to a fresh hub database — SQLite always, PostgreSQL too when `--database-url` names a server
//! or `postgres://postgres@127.0.0.1:5432` answers — and its catalog imported. On hand is then
//! set for every SKU the store tracks (and the untracked ones, which are skipped) to a value
//! that differs from the store's level, and the stock is pushed twice:
//!
//! 1. everything changed: write requests against the floor ⌈variant SKUs/50⌉ +
//!    ⌈product-tracked/10⌉, and the read-back requests, counted apart;
//! 2. nothing changed: 0 requests of either kind.
//!
//! Every figure is checked against the sandbox's own request log (PUT and GET on
//! `/v3/catalog/...`), so the table cannot report fewer requests than were sent. The store's
//! levels after the first push are compared with what the hub wanted; a difference fails the
//! benchmark.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bigcommerce_sandbox::model::InventoryTracking as SbTracking;
use bigcommerce_sandbox::{Plan, Sandbox, SandboxConfig, StoreSpec};
use cenports::channel::bigcommerce::CHANNEL;
use cenports::channel::credentials::encrypt_credentials;
use cenports::channel::{Channels, Credentials};
use cenports::config::Overrides;
use cenports::secrets::SecretBox;
use cenports::stock::{push_stock, PushReport, SkuStatus};
use cenports::storage::{NewStore, Storage, StoreProfile};
use cenports::sync::{sync_catalog, SyncOptions};
use cenports_harness::TempDir;
use clap::Args;
use secrecy::SecretString;
use url::Url;

use super::setup::{drop_postgres, scratch_postgres, BENCH_EMAIL};

/// Options of `cenports bench stock`.
#[derive(Debug, Args)]
pub struct StockBenchArgs {
    /// Products in the generated store (about half tracked per variant with several variants
    /// each, a third per product, the rest untracked).
    #[arg(long, default_value_t = 1_000)]
    pub products: usize,
    /// Seed of the generated store.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Skip PostgreSQL even if a server answers.
    #[arg(long)]
    pub sqlite_only: bool,
}

/// One table row.
struct Row {
    backend: &'static str,
    run: &'static str,
    report: PushReport,
    log_writes: usize,
    log_reads: usize,
    elapsed: Duration,
}

/// Runs `cenports bench stock`.
pub(super) async fn run(args: StockBenchArgs, overrides: &Overrides) -> Result<()> {
    let dir = TempDir::create("bench-stock")?;
    let mut rows = Vec::new();
    let sqlite = format!("sqlite://{}", dir.0.join("cenports.db").display());
    rows.extend(backend("SQLite", &sqlite, &args).await?);
    drop(dir);
    if !args.sqlite_only {
        if let Some(db) = scratch_postgres(overrides).await? {
            let result = backend("PostgreSQL", db.url(), &args).await;
            drop_postgres(db).await;
            rows.extend(result?);
        }
    }
    print_table(&rows);
    Ok(())
}

async fn backend(name: &'static str, url: &str, args: &StockBenchArgs) -> Result<Vec<Row>> {
    let storage = Storage::open(url).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sandbox = Sandbox::start(listener, SandboxConfig::default()).await?;
    let result = measure(name, &storage, &sandbox, args).await;
    sandbox.shutdown();
    storage.close().await;
    result
}

async fn measure(
    name: &'static str,
    storage: &Storage,
    sandbox: &Sandbox,
    args: &StockBenchArgs,
) -> Result<Vec<Row>> {
    let info = sandbox.create_store(StoreSpec {
        seed: args.seed,
        products: args.products,
        orders: 0,
        plan: Plan::Unlimited,
        ..StoreSpec::default()
    });
    let account = info
        .account("merchant-guide")
        .context("the sandbox store has a merchant-guide account")?;
    let api = Url::parse(sandbox.base_url())?;
    let credentials = Credentials {
        client_id: account.client_id.clone(),
        client_secret: SecretString::from(account.client_secret.clone()),
        access_token: SecretString::from(account.access_token.clone()),
    };
    let secret_box = std::sync::Arc::new(SecretBox::from_key_bytes(&rand_key())?);
    let user = storage.ensure_user(BENCH_EMAIL).await?;
    let record = storage
        .save_store(
            user.id,
            &NewStore {
                channel: CHANNEL.into(),
                remote_id: info.hash.clone(),
                api_base_url: api.to_string(),
                profile: StoreProfile::default(),
                credentials: encrypt_credentials(&secret_box, &info.hash, &credentials),
            },
        )
        .await?;
    let scope = record.scope();
    let channels = Channels::standard(secret_box, &[(CHANNEL, api)].into());
    let client = channels.open(storage, &record).await?;
    let options = SyncOptions {
        settle: Duration::from_secs(1),
        ..SyncOptions::default()
    };
    sync_catalog(storage, &scope, client.as_ref(), &options, |_| {}).await?;

    // On hand for every SKU a push can write, and the untracked ones: the store's level + 3
    // (orders: none, buffer: 0), so each differs from what the store reported.
    let wanted: Vec<(String, i64)> = sandbox
        .with_store(&info.hash, |data, _| {
            let mut wanted = Vec::new();
            for product in data.products.values() {
                for variant in &product.variants {
                    let level = match product.inventory_tracking {
                        SbTracking::Variant => variant.inventory_level,
                        _ => product.inventory_level,
                    };
                    wanted.push((variant.sku.clone(), level + 3));
                }
            }
            wanted
        })
        .context("the sandbox store exists")?;
    storage.set_stock(&scope, &wanted).await?;

    let store = sandbox
        .store(&info.hash)
        .context("the sandbox store exists")?;
    let mut rows = Vec::new();
    for run in ["all changed", "nothing changed"] {
        store.log.lock().clear();
        let started = Instant::now();
        let report = push_stock(storage, &scope, client.as_ref()).await?;
        let elapsed = started.elapsed();
        let (log_writes, log_reads) = {
            let log = store.log.lock();
            let catalog: Vec<_> = log
                .since(0)
                .into_iter()
                .filter(|r| r.path.contains("/v3/catalog/"))
                .collect();
            (
                catalog.iter().filter(|r| r.method == "PUT").count(),
                catalog.iter().filter(|r| r.method == "GET").count(),
            )
        };
        if let Some(error) = &report.aborted {
            bail!("{name}: the push stopped: {error}");
        }
        let bad = report.count(SkuStatus::Mismatch)
            + report.count(SkuStatus::Rejected)
            + report.count(SkuStatus::Failed);
        if bad > 0 {
            bail!("{name}: {bad} SKUs were not pushed as planned: {report:#?}");
        }
        rows.push(Row {
            backend: name,
            run,
            report,
            log_writes,
            log_reads,
            elapsed,
        });
    }
    // The store now shows what the hub wanted, for every tracked SKU.
    let wanted: std::collections::HashMap<&str, i64> =
        wanted.iter().map(|(s, l)| (s.as_str(), *l)).collect();
    let wrong = sandbox
        .with_store(&info.hash, |data, _| {
            let mut wrong = 0;
            for product in data.products.values() {
                for variant in &product.variants {
                    let level = match product.inventory_tracking {
                        SbTracking::None => continue,
                        SbTracking::Variant => variant.inventory_level,
                        SbTracking::Product => product.inventory_level,
                    };
                    if wanted.get(variant.sku.as_str()) != Some(&level) {
                        wrong += 1;
                    }
                }
            }
            wrong
        })
        .unwrap_or(usize::MAX);
    if wrong > 0 {
        bail!("{name}: {wrong} SKUs do not show the pushed level in the store");
    }
    Ok(rows)
}

fn rand_key() -> [u8; 32] {
    let mut key = [7u8; 32];
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
        .to_le_bytes();
    key[..16].copy_from_slice(&nanos);
    key
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<10}  {:<15}  {:>7}  {:>7}  {:>9}  {:>6}  {:>5}  {:>9}  {:>8}",
        "backend", "run", "variant", "product", "untracked", "writes", "floor", "read-back", "time"
    );
    for row in rows {
        let r = &row.report;
        println!(
            "{:<10}  {:<15}  {:>7}  {:>7}  {:>9}  {:>6}  {:>5}  {:>9}  {:>6.0}ms",
            row.backend,
            row.run,
            r.variant_changed,
            r.product_changed,
            r.untracked,
            r.write_requests,
            r.floor,
            r.read_requests,
            row.elapsed.as_secs_f64() * 1000.0
        );
        if row.log_writes as u64 != r.write_requests || row.log_reads as u64 != r.read_requests {
            println!(
                "  ! the sandbox logged {} writes and {} reads",
                row.log_writes, row.log_reads
            );
        }
    }
    println!();
    println!(
        "variant / product: SKUs changed by tracking mode (written); untracked: SKUs with stock \
         the store does not track (skipped, never written)."
    );
    println!(
        "writes: PUT requests; floor: ceil(variant/50) + ceil(product/10); read-back: GET \
         id:in requests (250 ids each). Checked against the sandbox's request log."
    );
}
