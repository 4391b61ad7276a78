//! `cenports demo`: the main job on the embedded default, end to end in one process.
//!
//! It starts an in-process BigCommerce sandbox store (a few thousand orders on a Standard-plan
//! quota), and drives the typed client through what an integration does first: read the store
//! profile, count orders by status, import every order with all its lines (falling back to
//! `/orders/{id}/products` only for orders over BigCommerce's 50-line cap), read the catalog
//! with its SKUs, and show the API calls and quota it used. It ends by showing the message a
//! merchant gets when a token lacks a scope.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Instant;

use anyhow::{Context, Result};
use bigcommerce_client::{Client, ClientConfig, InventoryTracking, OrderQuery, ProductQuery};
use bigcommerce_sandbox::{Plan, Sandbox, SandboxConfig, StoreInfo, StoreSpec};
use clap::Args;
use futures::TryStreamExt;
use secrecy::SecretString;
use tokio::net::TcpListener;

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
}

/// A client for one of the store's API accounts, pointed at the sandbox.
fn client_for(sandbox: &Sandbox, store: &StoreInfo, profile: &str) -> Result<Client> {
    let account = store
        .account(profile)
        .with_context(|| format!("the sandbox store has no `{profile}` account"))?;
    let mut config = ClientConfig::new(
        store.hash.clone(),
        SecretString::from(account.access_token.clone()),
        account.client_id.clone(),
    );
    config.api_base_url = url::Url::parse(sandbox.base_url()).context("sandbox base URL")?;
    Ok(Client::new(config)?)
}

/// Runs the demo.
pub async fn run(args: DemoArgs) -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("could not listen on a loopback port for the demo sandbox")?;
    let sandbox = Sandbox::start(listener, SandboxConfig::default())
        .await
        .context("could not start the demo sandbox")?;
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

    let client = client_for(&sandbox, &store, "merchant-guide")?;
    let profile = client
        .get_store()
        .await
        .context("reading the store profile")?;
    println!();
    println!("Store profile (GET /v2/store)");
    for (label, value) in [
        ("name", profile.name.clone()),
        ("domain", profile.domain.clone()),
        ("currency", profile.currency.clone()),
        ("weight units", profile.weight_units.clone()),
        ("plan", profile.plan_name.clone()),
    ] {
        println!("  {label:<14} {}", value.unwrap_or_default());
    }

    let counts = client
        .count_orders(&OrderQuery::default())
        .await
        .context("counting orders")?;
    println!();
    println!(
        "Orders by status (GET /v2/orders/count): {} in all",
        counts.count
    );
    for status in counts.statuses.iter().filter(|s| s.count.unwrap_or(0) > 0) {
        println!(
            "  {:<30} {:>7}",
            status.name.clone().unwrap_or_default(),
            status.count.unwrap_or(0)
        );
    }

    println!();
    println!("Importing every order with its lines (keyset by id, 250 per page)...");
    // A running count on a terminal only: piped output stays clean.
    let progress = std::io::stderr().is_terminal();
    let started = Instant::now();
    let before = client.stats().requests_sent;
    let (mut orders, mut lines, mut fallbacks, mut multi_address) = (0u64, 0u64, 0u64, 0u64);
    let pages = client.order_pages_with_lines(&OrderQuery::default());
    futures::pin_mut!(pages);
    while let Some(page) = pages.try_next().await.context("importing orders")? {
        for order in page {
            orders += 1;
            lines += order.lines.len() as u64;
            fallbacks += u64::from(order.lines_fetched_separately);
            let addresses: std::collections::BTreeSet<_> =
                order.lines.iter().map(|l| l.order_address_id).collect();
            multi_address += u64::from(addresses.len() > 1);
        }
        if progress {
            eprint!("\r  {orders} orders imported");
        }
    }
    if progress {
        eprint!("\r");
    }
    let import_requests = client.stats().requests_sent - before;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "  {orders} orders, {lines} lines, {multi_address} shipping to several addresses, {fallbacks} over the 50-line cap"
    );
    println!(
        "  {import_requests} API requests ({:.2} per 1,000 orders), {:.0} orders/s",
        import_requests as f64 * 1000.0 / orders.max(1) as f64,
        orders as f64 / secs
    );

    println!();
    println!("Reading the catalog with variants (GET /v3/catalog/products?include=variants)...");
    let mut by_tracking: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
    let products = client.product_pages(&ProductQuery {
        include_variants: true,
        ..ProductQuery::default()
    });
    futures::pin_mut!(products);
    while let Some(page) = products.try_next().await.context("reading the catalog")? {
        for product in page {
            let mode = match product.inventory_tracking {
                Some(InventoryTracking::Variant) => "variant",
                Some(InventoryTracking::Product) => "product",
                Some(InventoryTracking::Untracked) => "none",
                _ => "unknown",
            };
            let entry = by_tracking.entry(mode).or_default();
            entry.0 += 1;
            entry.1 += product.variants.len().max(1) as u64;
        }
    }
    println!(
        "  {:<22} {:>9} {:>9}",
        "inventory tracking", "products", "SKUs"
    );
    for (mode, (products, skus)) in &by_tracking {
        println!("  {mode:<22} {products:>9} {skus:>9}");
    }

    let stats = client.stats();
    println!();
    println!(
        "API use: {} requests in all, {} throttled by the pacer, {} answered 429; quota left now {} of {}",
        stats.requests_sent,
        stats.throttled,
        stats.rate_limited,
        stats.last_requests_left.unwrap_or(0),
        stats.last_quota.unwrap_or(0),
    );

    println!();
    println!(
        "What a merchant sees when the token lacks a scope (read-only account, status change):"
    );
    let read_only = client_for(&sandbox, &store, "read-only")?;
    let first = client
        .list_orders(&OrderQuery {
            limit: Some(1),
            ..OrderQuery::default()
        })
        .await
        .context("reading one order")?;
    if let Some(order) = first.first() {
        match read_only.update_order_status(order.id, 9).await {
            Err(error) => println!("  {error}"),
            Ok(_) => println!("  (unexpected: the read-only token could change the order)"),
        }
    }
    sandbox.shutdown();
    Ok(())
}
