//! The stores list with health at a glance, one store's page (profile, sync, errors, retry,
//! reconnect, disconnect) and its stock.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use super::{ago, layout, path_id, when, PageError, WebUser};
use crate::service::shipments as shipments_service;
use crate::service::stock::{self as stock_service, StockItem};
use crate::service::stores::{self as stores_service, scope_for, StoreProblems};
use crate::service::sync::{self as sync_service, Triggered};
use crate::service::AppState;
use crate::storage::{StoreRecord, StoreStatus, STREAM_ORDERS};
use crate::webhooks::registration::remove_hooks;

/// A store whose orders are older than this is shown as lagging (the scheduler polls every
/// few minutes and webhooks arrive within seconds, so an hour means something is stuck).
const LAG_WARNING_SECS: i64 = 3600;

/// What the stores list shows of one store.
struct Health {
    store: StoreRecord,
    last_sync: Option<DateTime<Utc>>,
    lag_secs: Option<i64>,
    open_errors: usize,
    /// The open errors themselves (the store page lists them).
    errors: StoreProblems,
    webhooks: String,
    quota_left: Option<u64>,
    orders: i64,
    problems: Vec<&'static str>,
}

async fn health(state: &AppState, user: &WebUser, store: StoreRecord) -> Result<Health, PageError> {
    let scope = store.scope();
    let id = store.id();
    let checkpoint = state
        .storage()
        .get_checkpoint(&scope, STREAM_ORDERS)
        .await?;
    let completed = checkpoint.as_ref().and_then(|c| c.completed_at);
    // The newest sync that ended well, from the history every process writes.
    let recorded_ok = state
        .storage()
        .list_sync_runs(&scope, 20)
        .await?
        .into_iter()
        .find(|run| run.outcome == "ok")
        .and_then(|run| run.finished_at);
    let last_sync = completed.max(recorded_ok);
    // The hub holds every order changed before the end of the last completed window (or the
    // start of the window in progress): the lag is how far that is behind now.
    let synced_until = checkpoint.as_ref().and_then(|c| {
        if c.completed_at.is_some() {
            c.window_end
        } else {
            c.window_start
        }
    });
    let now = state.clock().now();
    let lag_secs = synced_until.map(|until| (now - until).num_seconds().max(0));
    let errors = stores_service::store_problems(state, user.access(), id.get()).await?;
    let open_errors = errors.outbox.len() + errors.stock.len() + usize::from(errors.sync.is_some());
    let endpoint = state.storage().get_webhook_endpoint(&scope).await?;
    // A channel that calls nobody back (Amazon) has no webhooks to miss: its notifications
    // come from a queue, when one is configured.
    let channel = state.channels().of(&store).ok();
    let calls_back = channel.is_none_or(|c| c.calls_back());
    let webhooks = match (&endpoint, &state.settings().public_url) {
        _ if !calls_back => match channel.and_then(|c| c.queue()) {
            Some(_) => "none; notifications from the queue".to_owned(),
            None => "none; polling (no notification queue set)".to_owned(),
        },
        (Some(_), _) => "registered".to_owned(),
        (None, Some(_)) => "not registered".to_owned(),
        (None, None) => "off (polling)".to_owned(),
    };
    let orders = state.storage().count_orders(&scope).await?;
    let mut problems = Vec::new();
    if store.status != StoreStatus::Connected {
        problems.push("disconnected");
    }
    if last_sync.is_none() {
        problems.push("never synced");
    }
    if lag_secs.is_some_and(|lag| lag > LAG_WARNING_SECS) {
        problems.push("lagging");
    }
    if open_errors > 0 {
        problems.push("errors");
    }
    if calls_back && endpoint.is_none() && state.settings().public_url.is_some() {
        problems.push("no webhooks");
    }
    Ok(Health {
        // Any client of this process on the store's shared limiter, else the last sync's.
        quota_left: state
            .channels()
            .requests_left(id)
            .await
            .or_else(|| state.metrics().quota_left(id)),
        store,
        last_sync,
        lag_secs,
        open_errors,
        errors,
        webhooks,
        orders,
        problems,
    })
}

/// `GET /stores`: one row per store, the unhealthy first.
pub async fn list_stores(
    State(state): State<AppState>,
    user: WebUser,
) -> Result<Response, PageError> {
    let stores = stores_service::list_stores(&state, user.access()).await?;
    let mut rows = Vec::with_capacity(stores.len());
    for store in stores {
        rows.push(health(&state, &user, store).await?);
    }
    rows.sort_by_key(|h| (h.problems.is_empty(), h.store.id().get()));
    let body = html! {
        @if rows.is_empty() {
            p { "No store is connected yet. " a href="/connect" { "Connect a store" } "." }
        } @else {
            div.table-wrap id="stores" data-live="10" {
                table {
                    caption.muted { "Stores needing attention come first." }
                    thead { tr {
                        th scope="col" { "Store" }
                        th scope="col" { "Health" }
                        th scope="col" { "Last successful sync" }
                        th scope="col" { "Lag" }
                        th scope="col" { "Open errors" }
                        th scope="col" { "Webhooks" }
                        th scope="col" { "Quota left" }
                        th scope="col" { "Orders" }
                    } }
                    tbody {
                        @for h in &rows {
                            tr {
                                td {
                                    a href=(format!("/stores/{}", h.store.id().get())) {
                                        (display_name(&h.store))
                                    }
                                    br;
                                    span.muted { (h.store.remote_id) }
                                }
                                td {
                                    @if h.problems.is_empty() {
                                        span.good { "healthy" }
                                    } @else {
                                        span.bad { (h.problems.join(", ")) }
                                    }
                                }
                                td { (when(h.last_sync)) }
                                td { (h.lag_secs.map_or_else(|| "—".to_owned(), ago)) }
                                td {
                                    @if h.open_errors > 0 {
                                        a.bad href=(format!("/stores/{}#errors", h.store.id().get())) { (h.open_errors) }
                                    } @else { "0" }
                                }
                                td { (h.webhooks) }
                                td {
                                    (h.quota_left.map_or_else(|| "not seen yet".to_owned(), |n| format!("{n} requests")))
                                    @if !h.store.profile.plan.is_empty() {
                                        br; span.muted { (h.store.profile.plan) }
                                    }
                                }
                                td { a href=(format!("/stores/{}/orders", h.store.id().get())) { (h.orders) } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout("Stores", Some(&user), body).into_response())
}

pub(super) fn display_name(store: &StoreRecord) -> String {
    if store.profile.name.trim().is_empty() {
        format!("Store {}", store.remote_id)
    } else {
        store.profile.name.clone()
    }
}

fn started_by_label(started_by: &str) -> &'static str {
    match started_by {
        "scheduled" => "scheduler",
        "api" => "API or dashboard",
        "cli" => "cenports sync",
        _ => "other",
    }
}

/// Store tabs.
pub(super) fn store_nav(store_id: i64) -> Markup {
    html! {
        nav aria-label="Store" {
            p {
                a href=(format!("/stores/{store_id}")) { "Overview" } " · "
                a href=(format!("/stores/{store_id}/orders")) { "Orders" } " · "
                a href=(format!("/stores/{store_id}/stock")) { "Stock" }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct StoreNotice {
    #[serde(default)]
    notice: Option<String>,
}

/// `GET /stores/{id}`: profile, sync history, errors with a retry, reconnect, disconnect.
pub async fn show_store(
    State(state): State<AppState>,
    user: WebUser,
    Path(store_id): Path<String>,
    Query(notice): Query<StoreNotice>,
) -> Result<Response, PageError> {
    let id = path_id(&store_id)?;
    let scope = scope_for(&state, user.access(), id).await?;
    let store = state.storage().get_store(&scope).await?;
    let sync = sync_service::sync_status(&state, user.access(), id).await?;
    let h = health(&state, &user, store.clone()).await?;
    let errors = &h.errors;
    let notice = match notice.notice.as_deref() {
        Some("sync_started") => Some("A sync has started; reload this page to see its outcome."),
        Some("sync_running") => Some("A sync of this store is already running."),
        Some("sync_queued") => Some(
            "A sync is queued for the hub process that works this store; reload this page in \
             a moment to see its outcome in the history.",
        ),
        Some("retry_queued") => Some(
            "Queued again: the outbox worker tries it within seconds. Anything that may have \
             reached the store is read back first, so it is never written twice.",
        ),
        Some("connected") => Some(
            "Connected: every required scope passed. The first import has started: open orders \
             first, then the rest and the catalog.",
        ),
        _ => None,
    };
    let connected = store.status == StoreStatus::Connected;
    // The store's jobs and the process that holds its lease (`docs/OPERATIONS.md`).
    let backlog = state
        .storage()
        .job_backlog(None)
        .await?
        .into_iter()
        .find(|b| b.store_id == store.id());
    let worked_by = state
        .storage()
        .lease_owner(&store.channel, &store.remote_id)
        .await?;
    let body = html! {
        (store_nav(id))
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        h2 { "Profile" }
        dl.profile id="profile" data-live="5" {
            dt { "Store hash" } dd { (store.remote_id) }
            dt { "Status" } dd {
                @if connected { span.good { "connected" } } @else { span.bad { "disconnected" } }
            }
            dt { "Domain" } dd { (store.profile.domain) }
            dt { "Plan" } dd { (store.profile.plan) }
            dt { "Currency" } dd { (store.profile.currency) }
            dt { "Time zone" } dd { (store.profile.timezone) }
            dt { "Connected" } dd { (when(store.connected_at)) }
            dt { "Orders held" } dd { (h.orders) }
            dt { "Webhooks" } dd { (h.webhooks) }
            dt { "Quota left" } dd { (h.quota_left.map_or_else(|| "not seen yet".to_owned(), |n| format!("{n} requests"))) }
            dt { "Work queue" } dd {
                @match &backlog {
                    Some(b) => { (b.queued) " waiting, the oldest for " (ago(b.oldest_age_ms / 1000))
                        @if b.walk_queued { " (a walk replaces the webhook backlog)" } },
                    None => "empty",
                }
            }
            dt { "Worked by" } dd {
                (worked_by.as_deref().unwrap_or("no hub process yet (none running, or its lease is moving)"))
            }
        }
        h2 { "Sync" }
        div id="sync" data-live="5" {
        p {
            "Last successful sync: " (when(h.last_sync))
            @if let Some(lag) = h.lag_secs { " · lag " (ago(lag)) }
            @if sync.running { " · " span.warn { "a sync is running" } }
        }
        div.table-wrap { table {
            caption.muted { "Sync history: the newest syncs of this store, whoever started them." }
            thead { tr {
                th scope="col" { "Started" } th scope="col" { "By" } th scope="col" { "Outcome" }
                th scope="col" { "Orders new / updated / read" } th scope="col" { "Products" }
                th scope="col" { "Requests" } th scope="col" { "Took" }
            } }
            tbody {
                @for run in &sync.history {
                    tr {
                        td { (when(Some(run.started_at))) }
                        td { (started_by_label(run.trigger.as_str())) }
                        td {
                            @match (run.outcome.as_str(), run.finished_at) {
                                ("ok", _) => span.good { "ok" },
                                ("failed", _) => {
                                    span.bad { "failed" }
                                    @if let Some(error) = &run.error { br; span.muted { (error) } }
                                },
                                (_, None) if sync.running => span.warn { "running" },
                                _ => span.muted { "no end recorded (its process stopped)" },
                            }
                        }
                        td { (run.counts.orders_inserted) " / " (run.counts.orders_updated) " / " (run.counts.orders_read) }
                        td { (run.counts.products) }
                        td { (run.counts.api_requests) }
                        td { (run.finished_at.map_or_else(|| "—".to_owned(), |end| ago((end - run.started_at).num_seconds()))) }
                    }
                }
                @if sync.history.is_empty() { tr { td colspan="7" { "No sync yet." } } }
            }
        } }
        div.table-wrap { table {
            caption.muted { "Checkpoints: how far each stream has come." }
            thead { tr {
                th scope="col" { "Stream" } th scope="col" { "Window start" }
                th scope="col" { "Window end" } th scope="col" { "Resumes after" }
                th scope="col" { "Completed" }
            } }
            tbody {
                @for s in &sync.streams {
                    tr {
                        td { (s.stream) } td { (when(s.window_start)) } td { (when(s.window_end)) }
                        td { (s.cursor.as_deref().unwrap_or("—")) }
                        td { (when(s.completed_at)) }
                    }
                }
                @if sync.streams.is_empty() { tr { td colspan="5" { "Not synced yet." } } }
            }
        } }
        }
        @if connected {
            form.inline method="post" action=(format!("/stores/{id}/sync")) {
                (user.csrf_input())
                button type="submit" { "Sync now" }
            }
        }
        h2 id="errors" { "Errors" }
        @if errors.outbox.is_empty() && errors.stock.is_empty() && errors.sync.is_none() {
            p.good { "No open errors." }
        } @else {
            div.table-wrap { table {
                thead { tr {
                    th scope="col" { "What" } th scope="col" { "State" }
                    th scope="col" { "Cause" } th scope="col" { "When" }
                    th scope="col" { "Action" }
                } }
                tbody {
                    @if let Some(sync_error) = &errors.sync {
                        tr { td { "Sync" } td.bad { "failed" } td { (sync_error.error) } td { (when(Some(sync_error.at))) } td {} }
                    }
                    @for o in &errors.outbox {
                        tr {
                            td {
                                (o.kind.as_str().replace('_', " ")) " of order "
                                a href=(format!("/stores/{id}/orders/{}", o.order_id.get())) { "#" (o.order_remote_id) }
                            }
                            td.bad { (o.state.as_str()) " after " (o.attempts) " attempts" }
                            td { (o.last_error.as_deref().unwrap_or("—")) }
                            td { (when(Some(o.updated_at))) }
                            td {
                                @if connected {
                                    form.inline method="post" action=(format!("/stores/{id}/outbox/{}/retry", o.id.get())) {
                                        (user.csrf_input())
                                        button type="submit" { "Retry now" }
                                    }
                                }
                            }
                        }
                    }
                    @for s in &errors.stock {
                        tr {
                            td { "Stock push of " (s.sku) }
                            td.bad { (s.status) }
                            td { (s.message.as_deref().unwrap_or("—")) }
                            td { (when(Some(s.at))) }
                            td {}
                        }
                    }
                }
            } }
            @if connected {
                form.inline method="post" action=(format!("/stores/{id}/sync")) {
                    (user.csrf_input())
                    button type="submit" { "Retry (sync now)" }
                }
                p.hint { "Retry (sync now) starts a sync of the store, as the API's sync trigger does. Writes that failed or wait for their next attempt are retried by the outbox worker on its schedule; \"Retry now\" queues one at once (one the store refused is refused again unless its cause was fixed in the store)." }
            }
        }
        h2 { "Connection" }
        p {
            a href=(format!("/connect?store={id}")) { "Reconnect with new credentials" }
        }
        @if connected {
            form method="post" action=(format!("/stores/{id}/disconnect")) {
                (user.csrf_input())
                p.hint { "Disconnecting removes the hub's webhooks and forgets the access token and client secret; orders and catalog stay." }
                button.danger type="submit" { "Disconnect this store" }
            }
        }
    };
    Ok(layout(&display_name(&store), Some(&user), body).into_response())
}

/// A form with nothing but its CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: Option<String>,
}

/// `POST /stores/{id}/sync`: starts a sync as `POST /api/v1/stores/{id}/sync` does.
pub async fn trigger_sync(
    State(state): State<AppState>,
    user: WebUser,
    Path(store_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    user.check_csrf(form.csrf_token.as_deref())?;
    let id = path_id(&store_id)?;
    let notice = match sync_service::trigger_sync(&state, user.access(), id).await? {
        Triggered::Started => "sync_started",
        Triggered::AlreadyRunning => "sync_running",
        Triggered::Queued => "sync_queued",
    };
    Ok(Redirect::to(&format!("/stores/{id}?notice={notice}")).into_response())
}

/// `POST /stores/{id}/outbox/{row_id}/retry`: an outbox row (shipment or status change) due
/// again at once, as `POST /api/v1/stores/{id}/shipments/{id}/retry` does.
pub async fn retry_outbox_row(
    State(state): State<AppState>,
    user: WebUser,
    Path((store_id, row_id)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    user.check_csrf(form.csrf_token.as_deref())?;
    let id = path_id(&store_id)?;
    let row = path_id(&row_id)?;
    shipments_service::retry_outbox_row(&state, user.access(), id, row).await?;
    Ok(Redirect::to(&format!("/stores/{id}?notice=retry_queued#errors")).into_response())
}

/// `POST /stores/{id}/disconnect`: as `cenports disconnect`: the hub's webhooks are removed
/// first (they need the credentials), then the credentials are forgotten; data stays.
pub async fn disconnect_store(
    State(state): State<AppState>,
    user: WebUser,
    Path(store_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    user.check_csrf(form.csrf_token.as_deref())?;
    let id = path_id(&store_id)?;
    let scope = scope_for(&state, user.access(), id).await?;
    let store = state.storage().get_store(&scope).await?;
    let registered = state
        .storage()
        .get_webhook_endpoint(&scope)
        .await?
        .is_some();
    if registered && store.status == StoreStatus::Connected {
        let removed = async {
            let client = state.channels().open(state.storage(), &store).await?;
            Ok::<_, anyhow::Error>(remove_hooks(state.storage(), &store, client.as_ref()).await?)
        }
        .await;
        if let Err(error) = removed {
            // As the CLI: the endpoint is forgotten so callbacks are refused and the channel
            // deactivates the hooks.
            tracing::warn!(store.id = id, error = %format!("{error:#}"), "webhooks could not be removed on disconnect");
            state.storage().delete_webhook_endpoint(&scope).await?;
        }
    }
    state.storage().disconnect_store(&scope).await?;
    Ok(Redirect::to(&format!("/stores/{id}")).into_response())
}

/// `GET /stores/{id}/stock`: SKU, on hand, available, the store's last report, last push,
/// mismatches.
pub async fn show_stock(
    State(state): State<AppState>,
    user: WebUser,
    Path(store_id): Path<String>,
) -> Result<Response, PageError> {
    let id = path_id(&store_id)?;
    let scope = scope_for(&state, user.access(), id).await?;
    let store = state.storage().get_store(&scope).await?;
    let stock = stock_service::list_stock(&state, user.access(), id).await?;
    let body = html! {
        (store_nav(id))
        p.muted { "On hand is the merchant's, shared by all their stores; reserved counts the open orders of all of them. Safety buffer of this store: " (stock.safety_buffer) " units held back from every tracked SKU." }
        @if stock.items.is_empty() {
            p { "No stock levels yet: set them with the API (PUT /api/v1/stores/" (id) "/stock) or `cenports stock set`." }
        } @else {
            div.table-wrap { table {
                thead { tr {
                    th scope="col" { "SKU" } th scope="col" { "On hand" }
                    th scope="col" { "Reserved" } th scope="col" { "Available" }
                    th scope="col" { "Store last reported" } th scope="col" { "Last push" }
                    th scope="col" { "Mismatch" }
                } }
                tbody {
                    @for StockItem { row: item, available } in &stock.items {
                        @let tracking = item.catalog.as_ref().map(|c| c.stock_tracking.as_str());
                        @let store_level = item.catalog.as_ref().and_then(|c| c.reported_level);
                        @let tracked = tracking.is_some_and(|t| t != "none");
                        @let mismatch = tracked && store_level.is_some_and(|level| level != *available);
                        @let push_bad = item.last_push.as_ref().is_some_and(|p| !matches!(p.status.as_str(), "ok" | "untracked"));
                        tr {
                            td { (item.sku) }
                            td { (item.on_hand) }
                            td { (item.reserved) }
                            td { (available) }
                            td {
                                (store_level.map_or_else(|| "—".to_owned(), |n| n.to_string()))
                                @if !tracked { br; span.muted { "not tracked by the store" } }
                            }
                            td {
                                @if let Some(push) = &item.last_push {
                                    span class=(if push_bad { "bad" } else { "good" }) { (push.status) }
                                    @if let Some(level) = push.level { " (" (level) ")" }
                                    " " span.muted { (when(Some(push.at))) }
                                    @if let Some(message) = &push.message { br; span.muted { (message) } }
                                } @else { "never" }
                            }
                            td {
                                @if mismatch || push_bad { span.bad { "yes" } } @else { "no" }
                            }
                        }
                    }
                }
            } }
        }
    };
    Ok(layout(
        &format!("Stock · {}", display_name(&store)),
        Some(&user),
        body,
    )
    .into_response())
}
