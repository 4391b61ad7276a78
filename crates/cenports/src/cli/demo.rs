//! `cenports demo`: the main job on the embedded default, end to end in one process, through
//! the same code path a merchant's store takes.
//!
//! It starts an in-process BigCommerce sandbox store (a few thousand orders on a
//! Standard-plan quota) and writes its API account's credentials `.txt` — the file the
//! merchant guide has the merchant download — to a temporary directory. Then it does what
//! `cenports connect --credentials-file` and `cenports sync` do: parse the file, check every
//! required scope on the spot, save the store (secrets encrypted) into an embedded SQLite
//! database (in the temporary directory, or `--database-url`), and import open orders first,
//! then every order, then the catalog, with the progress bar on a terminal. It ends with what
//! the hub now holds — read back from the hub's database — what it cost in API calls, and the
//! message a merchant gets when connecting an API account that lacks scopes. Before that message
//! it writes back: one shipment through the outbox and a stock push (`write_back`). Then, unless
//! `--no-serve`, it creates an operator account and a sign-in for the demo merchant (random
//! passwords printed once) and serves the hub ([`cenports::server::App`]) on `--listen` until
//! Ctrl-C or SIGTERM.
//!
//! Beside the BigCommerce store it starts an in-process Amazon emulator (`amazon-sandbox`: a
//! seller account with `--amazon-orders` orders, its usage plans scaled up by
//! [`AMAZON_RATE_SCALE`] so the demo does not wait minutes for Amazon's buckets) and connects it
//! for the same merchant as `cenports connect --channel amazon --credentials-file` does: its
//! `amazon-merchant.json` goes to the channel's own check (`Channel::check`, every role probed),
//! the store is saved, then imported like any store. The summary and the served dashboard show
//! both stores.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use amazon_sandbox::{AmazonSandbox, AmazonSandboxConfig, FulfillmentChannel};
use anyhow::{Context, Result};
use bigcommerce_sandbox::credentials::credentials_txt;
use bigcommerce_sandbox::{Plan, Sandbox, SandboxConfig, StoreInfo, StoreSpec};
use cenports::accounts::{self, tokens, AccountError, Role};
use cenports::channel::bigcommerce::CHANNEL;
use cenports::channel::credentials::save_verified;
use cenports::channel::Channels;
use cenports::config::{Overrides, Settings};
use cenports::fulfilment::worker::{drain, WorkerConfig};
use cenports::fulfilment::{request_shipment, Carrier, ShipmentRequest};
use cenports::server::{App, ServeOptions};
use cenports::stock::{push_stock, SkuStatus};
use cenports::storage::{FulfilmentState, OrderFilter, Storage, StorageError, StoreRecord};
use cenports::sync::SyncReport;
use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use url::Url;

use crate::cli::{connect, sync};

/// The Cenports user the demo stores are connected for.
const DEMO_EMAIL: &str = "demo@cenports.example";

/// How much faster than Amazon's usage plans the demo's Amazon emulator refills its buckets
/// (bursts unchanged): at Amazon's own rates reading the listings of the SKUs ordered alone
/// would take seconds per ten SKUs, and a served hub's polling would wait minutes per search.
pub const AMAZON_RATE_SCALE: f64 = 100.0;

/// Options of `cenports demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Historical orders in the demo store.
    #[arg(long, default_value_t = 3000)]
    pub orders: usize,
    /// Catalog products in the demo store.
    #[arg(long, default_value_t = 300)]
    pub products: usize,
    /// Seed of the demo store.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// The store's plan, which sets its API quota: standard, plus, pro or unlimited.
    #[arg(long, default_value = "standard", value_parser = crate::cli::sandbox::parse_plan)]
    pub plan: Plan,
    /// Where the hub listens afterwards (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = cenports::config::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Stop after the walk-through instead of serving the hub (API, sign-in, workers) until
    /// Ctrl-C.
    #[arg(long)]
    pub no_serve: bool,
    /// Historical orders of the demo's Amazon seller account (merchant- and Amazon-fulfilled).
    #[arg(long, default_value_t = 300)]
    pub amazon_orders: usize,
}

/// A temporary directory removed when the demo ends, however it ends.
struct DemoDir(PathBuf);

impl DemoDir {
    fn create() -> Result<DemoDir> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path =
            std::env::temp_dir().join(format!("cenports-demo-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("could not create the demo directory {}", path.display()))?;
        Ok(DemoDir(path))
    }
}

impl Drop for DemoDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes one API account's credentials `.txt`, readable by its owner only, as a merchant's
/// download would be.
fn write_credentials(
    dir: &Path,
    sandbox: &Sandbox,
    store: &StoreInfo,
    profile: &str,
) -> Result<PathBuf> {
    let account = store
        .account(profile)
        .with_context(|| format!("the sandbox store has no `{profile}` account"))?;
    let path = dir.join(format!("{profile}.txt"));
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .with_context(|| format!("could not write {}", path.display()))?;
    file.write_all(credentials_txt(account, &sandbox.api_path(&store.hash)).as_bytes())
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(path)
}

/// The hub's settings for the demo: its own database and key file in the demo directory (or
/// the configuration, with `--database-url`), and the sandboxes as the API hosts (the Amazon
/// emulator serves SP-API and Login with Amazon on one address).
fn demo_settings(
    dir: &Path,
    sandbox: &Sandbox,
    amazon: &AmazonSandbox,
    overrides: &Overrides,
) -> Result<Settings> {
    let mut settings = if overrides.database_url.is_some() {
        Settings::load(overrides)?
    } else {
        Settings::local(
            dir.join("cenports.db").display().to_string(),
            dir.join(cenports::secrets::DEFAULT_KEY_FILE),
        )
    };
    settings.channel_api_urls.insert(
        CHANNEL,
        Url::parse(sandbox.base_url()).context("the sandbox's base URL")?,
    );
    let amazon_url = Url::parse(amazon.endpoint()).context("the Amazon emulator's address")?;
    settings
        .channel_api_urls
        .insert(cenports::channel::amazon::CHANNEL, amazon_url.clone());
    settings.channel_api_urls.insert(
        cenports::channel::amazon::QUEUE_URL_NAME,
        Url::parse(&amazon.queue_url()).context("the Amazon emulator's queue")?,
    );
    settings
        .channel_api_urls
        .insert(cenports::channel::amazon::AUTH_URL_NAME, amazon_url);
    Ok(settings)
}

/// Runs the demo.
pub async fn run(args: DemoArgs, overrides: &Overrides) -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("could not listen on a loopback port for the demo sandbox")?;
    let sandbox = Sandbox::start(listener, SandboxConfig::default())
        .await
        .context("could not start the demo sandbox")?;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("could not listen on a loopback port for the demo's Amazon emulator")?;
    let amazon = AmazonSandbox::start(
        listener,
        AmazonSandboxConfig {
            seed: args.seed,
            orders: args.amazon_orders,
            rate_scale: AMAZON_RATE_SCALE,
            ..AmazonSandboxConfig::default()
        },
    )
    .await
    .context("could not start the demo's Amazon emulator")?;
    let result = demo(&args, overrides, &sandbox, &amazon).await;
    amazon.shutdown();
    sandbox.shutdown();
    result
}

async fn demo(
    args: &DemoArgs,
    overrides: &Overrides,
    sandbox: &Sandbox,
    amazon: &AmazonSandbox,
) -> Result<()> {
    let spec = StoreSpec {
        seed: args.seed,
        products: args.products,
        orders: args.orders,
        plan: args.plan,
        name: Some("Maple & Pine Outfitters".to_string()),
        ..StoreSpec::default()
    };
    let built = Instant::now();
    let sandbox_for_build = sandbox.clone();
    let store = tokio::task::spawn_blocking(move || sandbox_for_build.create_store(spec))
        .await
        .context("building the demo store")?;
    println!("Cenports demo");
    println!("=============");
    println!(
        "Sandbox store {} at {} ({} orders, {} products, built in {:.2} s; {:?} plan: {} requests per {} s)",
        store.hash,
        sandbox.base_url(),
        args.orders,
        args.products,
        built.elapsed().as_secs_f64(),
        args.plan,
        store
            .rate_limit
            .quota
            .map_or_else(|| "unlimited".to_string(), |q| q.to_string()),
        store.rate_limit.window_ms / 1000,
    );

    let dir = DemoDir::create()?;
    let settings = demo_settings(&dir.0, sandbox, amazon, overrides)?;
    let guide = write_credentials(&dir.0, sandbox, &store, "merchant-guide")?;
    let storage = Storage::open(&settings.database_url)
        .await
        .context("could not open the demo's database")?;

    println!();
    println!(
        "Connecting it as a merchant would (cenports connect --email {DEMO_EMAIL} \
         --credentials-file {}):",
        guide.display()
    );
    let input = connect::input_from_credentials_file(DEMO_EMAIL, &guide)?;
    // One registry for the whole walk-through: the key is read (or the key file made) once,
    // before any request.
    let channels = settings.channels()?;
    let saved = connect::check_and_save(
        &settings,
        &channels,
        &storage,
        input,
        &mut std::io::stdout(),
    )
    .await?;
    let scope = saved.scope();

    let profile = storage.get_store(&scope).await?.profile;
    println!();
    println!(
        "Store profile (saved in the hub's {} database)",
        storage.backend_name()
    );
    for (label, value) in [
        ("name", &profile.name),
        ("domain", &profile.domain),
        ("currency", &profile.currency),
        ("timezone", &profile.timezone),
        ("weight units", &profile.weight_units),
        ("plan", &profile.plan),
    ] {
        println!("  {label:<14} {value}");
    }

    println!();
    println!(
        "Importing (cenports sync): open orders first, then every order with its lines (250 per \
         request), then the catalog with its SKUs..."
    );
    let fallbacks_before = line_fallbacks(sandbox, &store.hash);
    let first = sync::sync_one(&channels, &storage, &saved, None).await?;
    print_sync("sync", &first.report);
    let orders = storage.count_orders(&scope).await?;
    let fallbacks = line_fallbacks(sandbox, &store.hash) - fallbacks_before;
    let requests = first.report.api_requests;
    let elapsed = first.report.elapsed;
    println!(
        "  {orders} orders, {fallbacks} over the 50-line cap (its lines read from \
         /orders/{{id}}/products); {} products, {} SKUs indexed",
        first.report.products, first.report.skus
    );
    println!(
        "  {requests} API requests ({:.2} per 1,000 orders), {:.0} orders/s",
        requests as f64 * 1000.0 / orders.max(1) as f64,
        orders as f64 / elapsed.as_secs_f64().max(1e-6)
    );

    let by_status = storage.count_orders_by_status(&scope).await?;
    let total: i64 = by_status.iter().map(|s| s.count).sum();
    println!();
    println!("Orders by status (in the hub's database): {total} in all");
    for status in &by_status {
        println!("  {:<30} {:>7}", status.status_name, status.count);
    }
    println!();
    println!("Orders by fulfilment state (what a warehouse sees)");
    for (state, count) in storage.count_orders_by_fulfilment_state(&scope).await? {
        println!("  {:<30} {:>7}", state.as_str(), count);
    }

    println!();
    println!("Catalog SKUs in the hub, by inventory tracking");
    print_skus_by_tracking(sandbox, &store.hash, &storage, &scope).await?;

    let stats = &first.stats;
    println!();
    println!(
        "API use of the import: {} requests, {} throttled by the pacer, {} answered 429; quota left now {} of {}",
        stats.requests_sent,
        stats.throttled,
        stats.rate_limited,
        stats.requests_left.unwrap_or(0),
        stats.quota.unwrap_or(0),
    );

    write_back(&channels, &storage, &saved, sandbox, &store.hash).await?;

    println!();
    println!("What a merchant sees when the API account lacks scopes (its read-only account):");
    let read_only = write_credentials(&dir.0, sandbox, &store, "read-only")?;
    let input = connect::input_from_credentials_file(DEMO_EMAIL, &read_only)?;
    let stores_before = storage.list_all_stores().await?.len();
    match connect::check_and_save(
        &settings,
        &channels,
        &storage,
        input,
        &mut std::io::stdout(),
    )
    .await
    {
        Err(error) => println!("  {error}"),
        Ok(_) => println!("  (unexpected: the read-only account was accepted)"),
    }
    let stores_after = storage.list_all_stores().await?.len();
    println!(
        "  Nothing was saved: the hub holds {stores_after} store{} as before.",
        if stores_after == 1 { "" } else { "s" }
    );
    debug_assert_eq!(stores_before, stores_after);

    let seller = connect_amazon(&channels, &storage, amazon, &dir.0).await?;
    print_stores(
        &storage,
        &[
            (&saved, first.report.api_requests),
            (&seller.record, seller.requests),
        ],
    )
    .await?;
    if args.no_serve {
        storage.close().await;
        return Ok(());
    }
    let logins = demo_logins(&storage).await;
    storage.close().await;
    serve(&settings, args.listen, logins?).await
}

/// The demo's Amazon store, connected and imported.
struct AmazonSeller {
    record: StoreRecord,
    /// Requests of its first import.
    requests: u64,
}

/// Connects the Amazon emulator's seller for the demo merchant through the merchant's path
/// (`amazon-merchant.json` to the channel's check, then saved encrypted) and imports it.
async fn connect_amazon(
    channels: &Channels,
    storage: &Storage,
    amazon: &AmazonSandbox,
    dir: &Path,
) -> Result<AmazonSeller> {
    let file = amazon
        .write_credentials(dir)
        .context("could not write the Amazon emulator's credentials file")?;
    let (generated, merchant_fulfilled) = {
        let account = amazon.state().account.read();
        let orders = account.orders();
        let mfn = orders
            .iter()
            .filter(|o| o.fulfillment_channel == FulfillmentChannel::Mfn)
            .count();
        (orders.len(), mfn)
    };
    println!();
    println!(
        "Amazon: an in-process emulator of Amazon's Selling Partner API at {} (seller {}, \
         marketplace {}; {generated} orders over the last 30 days, {merchant_fulfilled} of them \
         merchant-fulfilled). Its usage plans run {AMAZON_RATE_SCALE:.0} times faster than \
         Amazon's so that the demo stays quick (bursts as Amazon's).",
        amazon.endpoint(),
        amazon.seller_id(),
        amazon.marketplace_id(),
    );
    // Amazon's search ends two minutes before the request: past that horizon every generated
    // order is searchable, so the import can be checked against the account.
    amazon.advance_clock(chrono::Duration::seconds(150));
    println!(
        "Connecting it for the same merchant (cenports connect --channel amazon --email \
         {DEMO_EMAIL} --credentials-file {}):",
        file.display()
    );
    let channel = channels
        .get(cenports::channel::amazon::CHANNEL)
        .context("the hub has no Amazon channel")?
        .clone();
    let verified = connect::check_credentials_file(
        channel.as_ref(),
        DEMO_EMAIL,
        &file,
        &mut std::io::stdout(),
    )
    .await?;
    let record = save_verified(storage, channels.secret_box(), &verified)
        .await
        .context("the Amazon check passed but the store could not be saved")?;
    println!(
        "Connected Amazon store {} \"{}\" (id {}) for {DEMO_EMAIL}; its credentials are stored \
         encrypted.",
        record.remote_id,
        record.profile.name,
        record.id().get()
    );

    println!();
    println!(
        "Importing it (cenports sync --store {}): searchOrders with items, recipient and totals \
         included, 100 merchant-fulfilled orders a page, open orders first; then the listings of \
         the SKUs ordered...",
        record.remote_id
    );
    let before = amazon.state().log.lock().counters();
    let synced = sync::sync_one(channels, storage, &record, None).await?;
    let after = amazon.state().log.lock().counters();
    print_sync("sync", &synced.report);
    let scope = record.scope();
    let orders = storage.count_orders(&scope).await?;
    println!(
        "  {orders} orders in the hub of the {merchant_fulfilled} merchant-fulfilled ones \
         (Amazon ships the Amazon-fulfilled ones itself: not imported)"
    );
    let by_operation: Vec<String> = after
        .by_operation
        .iter()
        .filter_map(|(operation, count)| {
            let sent = count - before.by_operation.get(operation).copied().unwrap_or(0);
            let name = if operation == "unknown" {
                "Login with Amazon"
            } else {
                operation.as_str()
            };
            (sent > 0).then(|| format!("{name} {sent}"))
        })
        .collect();
    println!(
        "  requests at the emulator: {} ({}); {} answered 429",
        after.total - before.total,
        by_operation.join(", "),
        after.by_status.get(&429).copied().unwrap_or(0)
            - before.by_status.get(&429).copied().unwrap_or(0)
    );
    println!("  by fulfilment state:");
    for (state, count) in storage.count_orders_by_fulfilment_state(&scope).await? {
        println!("    {:<28} {:>7}", state.as_str(), count);
    }
    Ok(AmazonSeller {
        record,
        requests: synced.report.api_requests,
    })
}

/// The summary of both stores: orders read back from the hub's database, requests of each
/// first import.
async fn print_stores(storage: &Storage, imported: &[(&StoreRecord, u64)]) -> Result<()> {
    println!();
    println!("The merchant's stores in the hub ({DEMO_EMAIL}; orders counted in its database)");
    println!(
        "  {:<12} {:<30} {:<28} {:>7} {:>9}",
        "channel", "store", "name", "orders", "requests"
    );
    for (store, requests) in imported {
        let orders = storage.count_orders(&store.scope()).await?;
        println!(
            "  {:<12} {:<30} {:<28} {:>7} {:>9}",
            store.channel, store.remote_id, store.profile.name, orders, requests
        );
    }
    Ok(())
}

/// The operator account of the demo's hub.
const DEMO_OPERATOR_EMAIL: &str = "operator@cenports.example";

/// Who can sign in to the demo's hub: (email, role, password). The passwords are random and
/// shown once; only their hashes are stored.
///
/// A demo run again on the same database (`--database-url`) finds both accounts there: it
/// keeps them (their role, API keys and stores) and gives each a fresh random password, which
/// signs out the sessions of the last run. Reusing them rather than refusing is what a second
/// run of a demo should do; the old passwords were only ever shown by a demo.
async fn demo_logins(storage: &Storage) -> Result<Vec<(&'static str, Role, SecretString)>> {
    let mut logins = Vec::new();
    // The merchant is the user `connect` made for the store (no password yet): this completes it.
    for (email, role) in [
        (DEMO_OPERATOR_EMAIL, Role::Operator),
        (DEMO_EMAIL, Role::Merchant),
    ] {
        let password = SecretString::from(tokens::random_token());
        let account = match accounts::create_account(storage, email, role, password.clone()).await {
            Ok((account, _)) => account,
            Err(AccountError::Storage(StorageError::EmailTaken { .. })) => {
                accounts::replace_password(storage, email, password.clone())
                    .await
                    .with_context(|| {
                        format!("could not set a new password on the demo account {email}")
                    })?
            }
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("could not create the demo account {email}"))
            }
        };
        logins.push((email, account.role, password));
    }
    Ok(logins)
}

/// Serves the demo's hub (`cenports serve` with polling, the sandbox store connected) on
/// `listen` until Ctrl-C or SIGTERM, after printing its URL and the logins.
async fn serve(
    settings: &Settings,
    listen: SocketAddr,
    logins: Vec<(&'static str, Role, SecretString)>,
) -> Result<()> {
    let mut settings = settings.clone();
    settings.listen = listen;
    let app = App::build(&settings, ServeOptions::from_settings(&settings)).await?;
    let listener = TcpListener::bind(listen).await.with_context(|| {
        format!("could not listen on {listen}: is another process using it? Change it with --listen (port 0: any free port), or run with --no-serve")
    })?;
    let local = listener.local_addr()?;
    println!();
    println!("The hub is serving both demo stores at http://{local} (Ctrl-C to stop):");
    println!("  sign in:  http://{local}/login");
    println!("  API docs: http://{local}/api/v1/docs");
    println!("  health:   http://{local}/healthz");
    println!("Logins (the passwords are shown only now):");
    for (email, role, password) in &logins {
        let role = match role {
            Role::Operator => "operator, every store",
            Role::Merchant => "merchant, both demo stores",
        };
        println!(
            "  login: {email} password: {} ({role})",
            password.expose_secret()
        );
    }
    use std::io::Write as _;
    std::io::stdout().flush()?;
    app.serve(listener, async {
        if let Err(error) = sync::shutdown_signal().await {
            tracing::error!(error = %format!("{error:#}"), "demo: no signal handler; stopping");
        }
    })
    .await
}

/// The write halves of the merchant's scopes: one shipment through the outbox (and the same
/// parcel reported again), then stock for the shipped order's SKUs pushed twice.
async fn write_back(
    channels: &Channels,
    storage: &Storage,
    store: &StoreRecord,
    sandbox: &Sandbox,
    hash: &str,
) -> Result<()> {
    let scope = store.scope();
    let ready = OrderFilter {
        fulfilment_state: Some(FulfilmentState::Ready),
        ..OrderFilter::default()
    };
    let Some(order) = storage
        .list_orders(&scope, &ready, 1, None)
        .await?
        .orders
        .into_iter()
        .next()
    else {
        println!();
        println!("(No ready-to-ship order in this store: nothing to ship.)");
        return Ok(());
    };
    println!();
    println!(
        "Writing back (cenports ship --store {hash} --order {} --carrier canada-post --tracking \
         7023210039414604): everything that remains, through the durable outbox",
        order.remote_id
    );
    let request = ShipmentRequest {
        order_remote_id: order.remote_id.clone(),
        carrier: Carrier::CanadaPost,
        tracking_number: "7023210039414604".into(),
        tracking_link: None,
        shipped_at: None,
        items: Vec::new(),
        request_key: None,
    };
    let channel = channels.of(store)?.clone();
    let config = WorkerConfig::default();
    let requested = request_shipment(storage, store, channel.as_ref(), &request).await?;
    let delivered = drain(storage, channels, Some(store.id()), &config).await?;
    let again = request_shipment(storage, store, channel.as_ref(), &request).await?;
    let resent = drain(storage, channels, Some(store.id()), &config).await?;
    let order_id: u64 = order.remote_id.parse().unwrap_or_default();
    let in_store = sandbox
        .with_store(hash, |data, _| {
            data.orders
                .get(&order_id)
                .map(|o| (o.shipments.len(), o.status_id))
        })
        .flatten()
        .unwrap_or((0, 0));
    let now = storage
        .find_order_by_remote_id(&scope, &order.remote_id)
        .await?
        .context("the shipped order is in the hub")?;
    println!(
        "  {} outbox row(s), {} POST(s) sent; the same parcel reported again: {} ({} POSTs)",
        requested.rows.len(),
        delivered.sends,
        if again.duplicate {
            "already requested, nothing queued"
        } else {
            "queued again (unexpected)"
        },
        resent.sends
    );
    println!(
        "  BigCommerce now holds {} shipment(s) for order {}, status id {}; the hub shows it \
         {:?} ({})",
        in_store.0,
        order.remote_id,
        in_store.1,
        now.summary.status_name,
        now.summary.fulfilment_state.as_str()
    );

    let levels: Vec<(String, i64)> = now
        .lines
        .iter()
        .map(|line| (line.sku.clone(), 100))
        .collect::<BTreeMap<_, _>>()
        .into_iter()
        .collect();
    println!();
    println!(
        "Stock (cenports stock set ... then stock push): on hand 100 for the shipped order's {} \
         SKU(s)",
        levels.len()
    );
    storage.set_stock(&scope, &levels).await?;
    let client = channels.client(storage, store).await?;
    let first = push_stock(storage, &scope, client.as_ref()).await?;
    let second = push_stock(storage, &scope, client.as_ref()).await?;
    println!(
        "  first push: {} write request(s) (floor {}), {} read-back; untracked or unknown SKUs \
         skipped: {}",
        first.write_requests,
        first.floor,
        first.read_requests,
        first.count(SkuStatus::Skipped)
    );
    println!(
        "  second push, nothing changed: {} write request(s), {} read-back",
        second.write_requests, second.read_requests
    );
    Ok(())
}

/// One line per sync: what it read and cost.
fn print_sync(label: &str, report: &SyncReport) {
    println!(
        "  {label}: {} orders read ({} new, {} updated, {} unchanged), {} API requests, {:.2} s",
        report.orders_read(),
        report.inserted,
        report.updated,
        report.unchanged,
        report.api_requests,
        report.elapsed.as_secs_f64()
    );
}

/// Requests the sandbox served for `/orders/{id}/products` (the 50-line-cap fallback).
fn line_fallbacks(sandbox: &Sandbox, hash: &str) -> u64 {
    let Some(store) = sandbox.store(hash) else {
        return 0;
    };
    let counters = store.log.lock().counters();
    counters
        .by_endpoint
        .iter()
        .filter(|(endpoint, _)| endpoint.contains("/orders/") && endpoint.ends_with("/products"))
        .map(|(_, count)| *count)
        .sum()
}

/// Looks every SKU of the sandbox's catalog up in the hub's SKU index and counts products and
/// SKUs by the tracking mode the hub recorded.
async fn print_skus_by_tracking(
    sandbox: &Sandbox,
    hash: &str,
    storage: &Storage,
    scope: &cenports::storage::StoreScope,
) -> Result<()> {
    let skus: BTreeSet<String> = match sandbox.store(hash) {
        Some(store) => {
            let data = store.data.read();
            data.products
                .values()
                .flat_map(|p| {
                    std::iter::once(p.sku.clone()).chain(p.variants.iter().map(|v| v.sku.clone()))
                })
                .filter(|sku| !sku.is_empty())
                .collect()
        }
        None => BTreeSet::new(),
    };
    let mut by_tracking: BTreeMap<&'static str, (BTreeSet<String>, u64)> = BTreeMap::new();
    let mut missing = 0u64;
    for sku in &skus {
        match storage.find_sku(scope, sku).await? {
            Some(record) => {
                let entry = by_tracking
                    .entry(record.stock_tracking.as_str())
                    .or_default();
                entry.0.insert(record.product_remote_id);
                entry.1 += 1;
            }
            None => missing += 1,
        }
    }
    println!("  {:<22} {:>9} {:>9}", "stock tracking", "products", "SKUs");
    for (mode, (products, skus)) in &by_tracking {
        println!("  {mode:<22} {:>9} {skus:>9}", products.len());
    }
    if missing > 0 {
        println!("  ({missing} of the store's SKUs are not in the index: product-level SKUs of products tracked by variant)");
    }
    Ok(())
}
