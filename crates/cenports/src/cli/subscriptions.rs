//! `cenports subscriptions add|list|remove|deliveries|resend`: a merchant's subscriptions to
//! events for their warehouse's system (`docs/EVENTS.md`).
//!
//! `add` checks the URL as the API does (https, or http on this machine; no private or
//! link-local address unless `events_allow_private_networks`) and prints the signing secret
//! once, on stdout, so a script can capture it; the hub keeps it only sealed. The deliveries
//! themselves are made by `cenports serve` and `cenports worker`.

use anyhow::{bail, Context, Result};
use cenports::config::Settings;
use cenports::events::{subscribe, Destinations, SubscribeError};
use cenports::storage::{
    event_public_id, DeliveryId, DeliveryRecord, DeliveryState, EventType, Storage, StorageError,
    Subscription, SubscriptionId, User, UserId,
};
use clap::{Args, Subcommand};
use secrecy::ExposeSecret;
use serde_json::json;

use super::stores::{open_storage, select_stores};

/// Options of `cenports subscriptions`.
#[derive(Debug, Args)]
pub struct SubscriptionsArgs {
    #[command(subcommand)]
    pub command: SubscriptionsCommand,
}

/// The `subscriptions` subcommands.
#[derive(Debug, Subcommand)]
pub enum SubscriptionsCommand {
    /// Subscribe a URL of the warehouse's system to events; prints the signing secret, once.
    Add(AddArgs),
    /// List subscriptions with their delivery figures.
    List(ListArgs),
    /// Remove a subscription (its pending deliveries are not sent).
    Remove(RemoveArgs),
    /// A subscription's deliveries, newest first.
    Deliveries(DeliveriesArgs),
    /// Send a delivery again now, with the same event id (after fixing the endpoint).
    Resend(ResendArgs),
}

/// Options of `cenports subscriptions add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The merchant (whose stores' events are sent).
    #[arg(long)]
    pub email: String,
    /// The endpoint: https://…, or http://127.0.0.1:PORT/… for a system on this machine.
    #[arg(long)]
    pub url: String,
    /// An event type to send (repeat for several; none: all): order.ready, order.updated,
    /// order.on_hold, order.cancelled, shipment.delivered, shipment.failed, stock.pushed.
    #[arg(long = "event", value_name = "TYPE")]
    pub events: Vec<String>,
    /// Only this store's events (store hash or id; default: every store of the merchant).
    #[arg(long)]
    pub store: Option<String>,
    /// Print JSON (with the secret) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Options of `cenports subscriptions list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this merchant's (default: everyone's).
    #[arg(long)]
    pub email: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Options of `cenports subscriptions remove`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The merchant.
    #[arg(long)]
    pub email: String,
    /// The subscription (`sub_12` or `12`).
    pub id: String,
}

/// Options of `cenports subscriptions deliveries`.
#[derive(Debug, Args)]
pub struct DeliveriesArgs {
    /// The merchant.
    #[arg(long)]
    pub email: String,
    /// The subscription (`sub_12` or `12`).
    pub id: String,
    /// Only deliveries in this state: pending, delivered or failed.
    #[arg(long)]
    pub state: Option<String>,
    /// How many (newest first).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Options of `cenports subscriptions resend`.
#[derive(Debug, Args)]
pub struct ResendArgs {
    /// The merchant.
    #[arg(long)]
    pub email: String,
    /// The delivery (`dlv_7` or `7`).
    pub id: String,
}

/// Runs a `subscriptions` subcommand.
pub async fn run(args: SubscriptionsArgs, settings: &Settings) -> Result<()> {
    let storage = open_storage(settings).await?;
    let result = match args.command {
        SubscriptionsCommand::Add(args) => add(&storage, settings, args).await,
        SubscriptionsCommand::List(args) => list(&storage, args).await,
        SubscriptionsCommand::Remove(args) => remove(&storage, args).await,
        SubscriptionsCommand::Deliveries(args) => deliveries(&storage, args).await,
        SubscriptionsCommand::Resend(args) => resend(&storage, args).await,
    };
    storage.close().await;
    result
}

async fn user(storage: &Storage, email: &str) -> Result<User> {
    storage.find_user_by_email(email).await?.with_context(|| {
        format!(
            "no user {}; connect a store for them with `cenports connect --email {}` or create \
             the account with `cenports user add --email {} --role merchant`",
            email.trim(),
            email.trim(),
            email.trim()
        )
    })
}

/// `sub_12`, `dlv_12` or `12`.
fn parse_id(text: &str, prefix: &str, what: &str) -> Result<i64> {
    let digits = text.trim().trim_start_matches(prefix);
    match digits.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => bail!("{text:?} is not a {what} id; give it as {prefix}12 or 12 (see `cenports subscriptions list`)"),
    }
}

fn not_found(error: StorageError, what: &str, email: &str) -> anyhow::Error {
    match error {
        StorageError::NotFound { id, .. } => anyhow::anyhow!(
            "no {what} {id} among {email}'s; list them with `cenports subscriptions list --email {email}`"
        ),
        other => other.into(),
    }
}

async fn add(storage: &Storage, settings: &Settings, args: AddArgs) -> Result<()> {
    let user = user(storage, &args.email).await?;
    let types = args
        .events
        .iter()
        .map(|t| t.parse::<EventType>())
        .collect::<Result<Vec<_>, _>>()?;
    let store = match &args.store {
        Some(store) => Some(
            select_stores(storage, Some(&args.email), Some(store))
                .await?
                .remove(0)
                .id(),
        ),
        None => None,
    };
    let existing = storage.list_subscriptions(Some(user.id)).await?;
    let max = cenports::service::events::MAX_SUBSCRIPTIONS;
    if existing.len() >= max {
        bail!(
            "{} has {max} subscriptions, the most one account may have; remove one with \
             `cenports subscriptions remove`",
            args.email
        );
    }
    let secret_box = settings.secret_box()?;
    let destinations = Destinations {
        allow_private: settings.events_allow_private_networks,
    };
    let (subscription, secret) = subscribe(
        storage,
        &secret_box,
        destinations,
        user.id,
        store,
        &args.url,
        types,
    )
    .await
    .map_err(|e| match e {
        SubscribeError::Destination(message) => anyhow::anyhow!("the URL is refused: {message}"),
        other => other.into(),
    })?;
    if args.json {
        println!(
            "{}",
            json!({
                "subscription": view(&subscription),
                "secret": secret.expose_secret(),
            })
        );
    } else {
        eprintln!(
            "Subscribed {} to {} for {}. The signing secret below is shown once: give it to \
             the warehouse system now (it verifies each delivery's webhook-signature with it).",
            subscription.id,
            types_text(&subscription),
            subscription.url
        );
        println!("{}", secret.expose_secret());
    }
    Ok(())
}

fn types_text(s: &Subscription) -> String {
    if s.event_types.is_empty() {
        "all events".to_owned()
    } else {
        s.event_types
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn view(s: &Subscription) -> serde_json::Value {
    json!({
        "id": s.id.get(),
        "user_id": s.user_id.get(),
        "url": s.url,
        "events": s.event_types.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "store_id": s.store_id.map(|id| id.get()),
        "created_at": s.created_at,
        "failures_in_a_row": s.failures_in_a_row,
        "failing_since": s.failing_since,
        "paused_until": s.paused_until,
        "pending": s.pending,
        "delivered": s.delivered,
        "failed": s.failed,
    })
}

async fn list(storage: &Storage, args: ListArgs) -> Result<()> {
    let owner: Option<UserId> = match &args.email {
        Some(email) => Some(user(storage, email).await?.id),
        None => None,
    };
    let subscriptions = storage.list_subscriptions(owner).await?;
    if args.json {
        let all: Vec<_> = subscriptions.iter().map(view).collect();
        println!("{}", serde_json::Value::Array(all));
        return Ok(());
    }
    if subscriptions.is_empty() {
        eprintln!(
            "No subscriptions. Add one with `cenports subscriptions add --email E --url URL`."
        );
        return Ok(());
    }
    println!(
        "{:<8} {:<8} {:<44} {:<28} {:>8} {:>10} {:>7}  state",
        "id", "user", "url", "events", "pending", "delivered", "failed"
    );
    for s in &subscriptions {
        let state = match (s.failing_since, s.paused_until) {
            (None, _) => "ok".to_owned(),
            (Some(since), until) => format!(
                "failing since {} ({} in a row{})",
                since.format("%Y-%m-%d %H:%M:%S"),
                s.failures_in_a_row,
                until
                    .map(|u| format!(", next try {}", u.format("%H:%M:%S")))
                    .unwrap_or_default()
            ),
        };
        println!(
            "{:<8} {:<8} {:<44} {:<28} {:>8} {:>10} {:>7}  {state}",
            s.id.to_string(),
            s.user_id.get(),
            super::stores::truncate(&s.url, 44),
            super::stores::truncate(&types_text(s), 28),
            s.pending,
            s.delivered,
            s.failed,
        );
    }
    Ok(())
}

async fn remove(storage: &Storage, args: RemoveArgs) -> Result<()> {
    let user = user(storage, &args.email).await?;
    let id = SubscriptionId::from_raw(parse_id(&args.id, "sub_", "subscription")?);
    storage
        .remove_subscription(Some(user.id), id)
        .await
        .map_err(|e| not_found(e, "subscription", &args.email))?;
    eprintln!("Removed {id}: nothing more is sent to it.");
    Ok(())
}

fn delivery_view(d: &DeliveryRecord) -> serde_json::Value {
    json!({
        "id": d.id.get(),
        "subscription_id": d.subscription_id.get(),
        "state": d.state.as_str(),
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at,
        "last_status": d.last_status,
        "last_error": d.last_error,
        "delivered_at": d.delivered_at,
        "event": d.event.envelope(),
    })
}

async fn deliveries(storage: &Storage, args: DeliveriesArgs) -> Result<()> {
    let user = user(storage, &args.email).await?;
    let id = SubscriptionId::from_raw(parse_id(&args.id, "sub_", "subscription")?);
    storage
        .get_subscription(Some(user.id), id)
        .await
        .map_err(|e| not_found(e, "subscription", &args.email))?;
    let state = args
        .state
        .as_deref()
        .map(str::parse::<DeliveryState>)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let rows = storage
        .list_deliveries(Some(user.id), Some(id), state, args.limit, None)
        .await?;
    if args.json {
        let all: Vec<_> = rows.iter().map(delivery_view).collect();
        println!("{}", serde_json::Value::Array(all));
        return Ok(());
    }
    println!(
        "{:<10} {:<12} {:<19} {:<10} {:>8} {:>6}  last error",
        "id", "event", "type", "state", "attempts", "status"
    );
    for d in &rows {
        println!(
            "{:<10} {:<12} {:<19} {:<10} {:>8} {:>6}  {}",
            d.id.to_string(),
            event_public_id(d.event.id),
            d.event.event_type.as_str(),
            d.state.as_str(),
            d.attempts,
            d.last_status.map(|s| s.to_string()).unwrap_or_default(),
            d.last_error.as_deref().unwrap_or("")
        );
    }
    Ok(())
}

async fn resend(storage: &Storage, args: ResendArgs) -> Result<()> {
    let user = user(storage, &args.email).await?;
    let id = DeliveryId::from_raw(parse_id(&args.id, "dlv_", "delivery")?);
    let delivery = storage
        .resend_delivery(Some(user.id), id)
        .await
        .map_err(|e| not_found(e, "delivery", &args.email))?;
    eprintln!(
        "Queued {} ({} {}) again: a running `cenports serve` or `cenports worker` sends it \
         within a second.",
        delivery.id,
        event_public_id(delivery.event.id),
        delivery.event.event_type
    );
    Ok(())
}
