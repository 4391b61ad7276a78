//! What the benches share of the product: the hub's settings for a bench, which PostgreSQL to
//! run on, the `cenports sandbox` child started from this very binary, and a store connected
//! through the merchant path.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use cenports::channel::bigcommerce::CHANNEL;
use cenports::channel::StoreClient;
use cenports::config::{Overrides, Settings};
use cenports::storage::{Storage, StoreScope};
use cenports_harness::{SandboxChild, ScratchPostgres, DEFAULT_ADMIN_URL};
use url::Url;

use crate::cli::connect;

/// The Cenports user the benchmark store is connected for.
pub(super) const BENCH_EMAIL: &str = "bench@cenports.example";

/// How long the sandbox child may print nothing: building a store of 100,000 orders takes
/// seconds in a release build and much longer in a debug one.
const SANDBOX_SILENCE: Duration = Duration::from_secs(30 * 60);

/// The hub's settings for a bench: the database at `database_url`, the BigCommerce channel at
/// the sandbox's `api_url`, the key in `dir`, everything else at its default.
pub(super) fn settings(database_url: &str, api_url: Url, dir: &Path) -> Settings {
    let mut settings = Settings::local(database_url, dir.join(cenports::secrets::DEFAULT_KEY_FILE));
    settings.channel_api_urls.insert(CHANNEL, api_url);
    settings
}

/// A fresh database for the PostgreSQL run of a bench, on the server the global
/// `--database-url` names (a `postgres://` URL), else on [`DEFAULT_ADMIN_URL`]. `None`, after
/// saying so, when that default server cannot give one (there is no PostgreSQL here); a server
/// named on the command line that cannot is an error.
pub(super) async fn scratch_postgres(overrides: &Overrides) -> Result<Option<ScratchPostgres>> {
    let given = overrides
        .database_url
        .as_deref()
        .filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"));
    match ScratchPostgres::create(given.unwrap_or(DEFAULT_ADMIN_URL), "bench").await {
        Ok(db) => Ok(Some(db)),
        Err(error) if given.is_none() => {
            println!("PostgreSQL skipped: {:#}", anyhow::Error::from(error));
            Ok(None)
        }
        Err(error) => Err(error.into()),
    }
}

/// Drops a bench's PostgreSQL database; a failure is worth a warning, not the bench's figures.
pub(super) async fn drop_postgres(db: ScratchPostgres) {
    if let Err(error) = db.drop_database().await {
        tracing::warn!(error = %anyhow::Error::from(error), "the bench's database was left behind");
    }
}

/// Starts this binary as `cenports sandbox --port 0 --plan PLAN --orders N --seed S`, its
/// credentials written to `dir/credentials`, and waits until its store is built.
pub(super) async fn start_sandbox(
    dir: &Path,
    orders: usize,
    seed: u64,
    plan: &str,
) -> Result<SandboxChild> {
    let exe = std::env::current_exe().context("could not find the cenports executable")?;
    let args = [
        "--port".to_string(),
        "0".to_string(),
        "--plan".to_string(),
        plan.to_string(),
        "--orders".to_string(),
        orders.to_string(),
        "--seed".to_string(),
        seed.to_string(),
    ];
    let credentials: PathBuf = dir.join("credentials");
    // Reading the banner blocks (on a thread's channel) for as long as the store takes to build.
    tokio::task::spawn_blocking(move || {
        SandboxChild::start(&exe, args, &credentials, SANDBOX_SILENCE)
    })
    .await
    .context("the task starting the sandbox")?
    .context("could not start `cenports sandbox` as a child process")
}

/// Connects the sandbox store into the database at `database_url` through the merchant path
/// (`connect --credentials-file`: every scope checked, secrets encrypted) and builds its client.
pub(super) async fn connect_store(
    backend: &str,
    database_url: &str,
    dir: &Path,
    sandbox: &SandboxChild,
) -> Result<(Storage, StoreScope, Arc<dyn StoreClient>)> {
    let api_url = Url::parse(&sandbox.base_url).context("the sandbox's base URL")?;
    let settings = settings(database_url, api_url, dir);
    let storage = Storage::open(&settings.database_url)
        .await
        .with_context(|| format!("could not open the {backend} database"))?;
    let input = connect::input_from_credentials_file(
        BENCH_EMAIL,
        &sandbox.credentials_file("merchant-guide"),
    )?;
    let channels = settings.channels()?;
    let store =
        connect::check_and_save(&settings, &channels, &storage, input, &mut std::io::sink())
            .await?;
    let scope = store.scope();
    let client = channels.open(&storage, &store).await?;

    Ok((storage, scope, client))
}

/// A hub whose webhooks reach it: settings with a fresh key and `public_url` on `listener`'s
/// address (`sync_interval` when given), the sandbox store connected through the merchant path
/// (`check_and_save`) and its hooks registered. What the webhook benches share.
pub(super) async fn connect_with_hooks(
    database_url: &str,
    sandbox: &bigcommerce_sandbox::Sandbox,
    info: &bigcommerce_sandbox::StoreInfo,
    listener: &tokio::net::TcpListener,
    dir: &Path,
    sync_interval: Option<Duration>,
) -> Result<(
    Settings,
    Storage,
    cenports::channel::Channels,
    cenports::storage::StoreRecord,
)> {
    use base64::Engine as _;
    use secrecy::SecretString;

    let account = info
        .account("merchant-guide")
        .context("the sandbox has a merchant-guide account")?
        .clone();
    let key: [u8; 32] = rand::random();
    let base = settings(database_url, Url::parse(sandbox.base_url())?, dir);
    let settings = Settings {
        secret_key: Some(SecretString::from(
            base64::engine::general_purpose::STANDARD.encode(key),
        )),
        public_url: Some(Url::parse(&format!("http://{}", listener.local_addr()?))?),
        listen: listener.local_addr()?,
        sync_interval: sync_interval.unwrap_or(base.sync_interval),
        ..base
    };
    let storage = Storage::open(database_url).await?;
    let input = cenports::channel::bigcommerce::connect::ConnectInput {
        email: BENCH_EMAIL.into(),
        store_url: info.hash.clone(),
        client_id: account.client_id.clone(),
        client_secret: SecretString::from(account.client_secret.clone()),
        access_token: SecretString::from(account.access_token.clone()),
    };
    let channels = settings.channels()?;
    let store =
        connect::check_and_save(&settings, &channels, &storage, input, &mut std::io::sink())
            .await?;
    let client = channels.open(&storage, &store).await?;
    let public_url = settings.public_url.clone().expect("set above");
    cenports::webhooks::registration::register_hooks(
        &storage,
        channels.secret_box(),
        &store,
        client.as_ref(),
        &public_url,
    )
    .await?;
    Ok((settings, storage, channels, store))
}

/// [`connect_store`], then its first sync as `cenports sync` runs it (recorded in the sync
/// history, the planner's statistics refreshed after the backfill), checked to hold all
/// `expected` orders: the benches that need a filled hub start here. Returns the sync's
/// duration with the store.
pub(super) async fn connect_and_import(
    backend: &str,
    database_url: &str,
    dir: &Path,
    sandbox: &SandboxChild,
    expected: usize,
) -> Result<(Storage, StoreScope, Duration)> {
    use cenports::storage::SyncTrigger;
    use cenports::sync::{sync_store_recorded, SyncOptions};

    let (storage, scope, client) = connect_store(backend, database_url, dir, sandbox).await?;
    let started = std::time::Instant::now();
    sync_store_recorded(
        &storage,
        &scope,
        client.as_ref(),
        &SyncOptions::default(),
        SyncTrigger::Cli,
        |_| {},
    )
    .await
    .with_context(|| format!("the sync into {backend} failed"))?;
    let orders = storage.count_orders(&scope).await?;
    anyhow::ensure!(
        orders as usize == expected,
        "{backend} holds {orders} orders after the sync, not {expected}"
    );
    Ok((storage, scope, started.elapsed()))
}
