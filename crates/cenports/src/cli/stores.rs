//! `cenports stores`: the connected stores, as a table or JSON.
//!
//! With `--email` only that user's stores are listed (a user never sees another's); without
//! it, every store of every user, for the operator of the hub. Also home of the store lookups
//! the other subcommands share ([`open_storage`], [`select_stores`]).

use anyhow::{bail, Context, Result};
use cenports::config::{redacted_url, Settings};
use cenports::storage::{Storage, StoreRecord, StoreStatus, STREAM_ORDERS};
use clap::Args;
use serde_json::json;

/// Options of `cenports stores`.
#[derive(Debug, Args)]
pub struct StoresArgs {
    /// Only the stores of this Cenports user (default: every store, for operators).
    #[arg(long)]
    pub email: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Opens the configured database (running its migrations).
pub async fn open_storage(settings: &Settings) -> Result<Storage> {
    Storage::open(&settings.database_url)
        .await
        .with_context(|| {
            format!(
                "could not open the database {}; check the database_url setting \
             (CENPORTS_DATABASE_URL or --database-url)",
                redacted_url(&settings.database_url)
            )
        })
}

/// The stores a command acts on: the user's (with `email`) or everyone's, narrowed to the one
/// whose hash is `store` when given. An unknown user has no stores; an unknown hash is an
/// error naming what exists.
pub async fn select_stores(
    storage: &Storage,
    email: Option<&str>,
    store: Option<&str>,
) -> Result<Vec<StoreRecord>> {
    let stores = match email {
        Some(email) => match storage.find_user_by_email(email).await? {
            Some(user) => storage.list_stores(user.id).await?,
            None => Vec::new(),
        },
        None => storage.list_all_stores().await?,
    };
    let Some(wanted) = store else {
        return Ok(stores);
    };
    // Store keys are matched without regard to case: a BigCommerce hash is lower case, an
    // Amazon seller and marketplace upper case, and people type either.
    let wanted = wanted.trim();
    let matching: Vec<StoreRecord> = stores
        .iter()
        .filter(|s| {
            s.remote_id.eq_ignore_ascii_case(wanted)
                || s.id().to_string() == wanted
                || s.id().get().to_string() == wanted
        })
        .cloned()
        .collect();
    if matching.is_empty() {
        let known: Vec<&str> = stores.iter().map(|s| s.remote_id.as_str()).collect();
        let whose = email.map_or_else(String::new, |e| format!(" of {e}"));
        if known.is_empty() {
            bail!(
                "no store {wanted}{whose}: no store is connected; connect one with `cenports \
                 connect`"
            );
        }
        bail!(
            "no store {wanted}{whose}: the connected stores are {}; see `cenports stores`",
            known.join(", ")
        );
    }
    Ok(matching)
}

/// Runs `cenports stores`.
pub async fn run(args: StoresArgs, settings: &Settings) -> Result<()> {
    let storage = open_storage(settings).await?;
    let stores = select_stores(&storage, args.email.as_deref(), None).await?;
    let mut rows = Vec::with_capacity(stores.len());
    for store in &stores {
        let scope = store.scope();
        let orders = storage.count_orders(&scope).await?;
        let last_sync = storage
            .get_checkpoint(&scope, STREAM_ORDERS)
            .await?
            .and_then(|cp| cp.completed_at);
        rows.push((store, orders, last_sync));
    }
    if args.json {
        let value: Vec<_> = rows
            .iter()
            .map(|(store, orders, last_sync)| {
                json!({
                    "id": store.id().get(),
                    "user_id": store.user_id().get(),
                    "channel": store.channel,
                    "store_hash": store.remote_id,
                    "name": store.profile.name,
                    "domain": store.profile.domain,
                    "currency": store.profile.currency,
                    "status": store.status.as_str(),
                    "orders": orders,
                    "connected_at": store.connected_at.map(|t| t.to_rfc3339()),
                    "last_sync": last_sync.map(|t| t.to_rfc3339()),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    if rows.is_empty() {
        match &args.email {
            Some(email) => println!(
                "No stores for {email}. Connect one with `cenports connect --email {email} \
                 --credentials-file FILE`."
            ),
            None => println!("No stores. Connect one with `cenports connect`."),
        }
        return Ok(());
    }
    println!(
        "{:>4}  {:<12}  {:<28}  {:<12}  {:>8}  last sync (UTC)",
        "id", "hash", "name", "status", "orders"
    );
    for (store, orders, last_sync) in rows {
        let status = match store.status {
            StoreStatus::Connected => "connected",
            StoreStatus::Disconnected => "disconnected",
        };
        println!(
            "{:>4}  {:<12}  {:<28}  {:<12}  {:>8}  {}",
            store.id().get(),
            truncate(&store.remote_id, 12),
            truncate(&store.profile.name, 28),
            status,
            orders,
            last_sync.map_or_else(
                || "never".to_string(),
                |t| t.format("%Y-%m-%d %H:%M:%S").to_string()
            ),
        );
    }
    Ok(())
}

/// `text` cut to `width` characters with an ellipsis.
pub fn truncate(text: &str, width: usize) -> String {
    let text = super::shown(text);
    if text.chars().count() <= width {
        text
    } else {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}
