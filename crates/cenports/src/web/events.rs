//! Events for the warehouses' systems: the signed-in person's subscriptions (an operator's:
//! everyone's), adding one (its signing secret shown once), removing one, and one
//! subscription's deliveries with a resend. Every read and write goes through
//! [`crate::service::events`], as the API's do: another tenant's subscription or delivery is
//! the same 404 page as one that does not exist.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::stores::display_name;
use super::{capitalise, layout, path_id, when, PageError, WebUser, CSRF_FIELD};
use crate::service::events::{self as events_service, SubscriptionRequest};
use crate::service::stores as stores_service;
use crate::service::{AppState, ServiceError};
use crate::storage::{
    event_public_id, DeliveryRecord, DeliveryState, EventType, StoreRecord, Subscription,
};

/// Deliveries per page of a subscription's page.
const PAGE: usize = 50;
/// The longest URL the form takes (characters).
const MAX_URL_CHARS: usize = 2_048;
/// Where the Standard Webhooks libraries (to verify signatures) are listed.
const STANDARD_WEBHOOKS: &str = "https://www.standardwebhooks.com/";

/// When an event of this type is sent, in one line.
fn describe(event_type: EventType) -> &'static str {
    match event_type {
        EventType::OrderReady => {
            "An order can be picked: it is new and ready, paid, or released from hold."
        }
        EventType::OrderUpdated => {
            "What a ready, held or partly shipped order ships changed: its lines or a shipping \
             address."
        }
        EventType::OrderOnHold => {
            "A ready or partly shipped order was put on hold: stop picking it."
        }
        EventType::OrderCancelled => {
            "An order the warehouse was told of was cancelled or refunded before it shipped: do \
             not ship it."
        }
        EventType::ShipmentDelivered => {
            "A shipment was written to the store (carrier, tracking number, lines)."
        }
        EventType::ShipmentFailed => {
            "A shipment could not be written to the store and was given up."
        }
        EventType::StockPushed => "Available quantities were pushed to the store.",
    }
}

/// A subscription's event types as a page shows them.
fn types_label(subscription: &Subscription) -> String {
    if subscription.event_types.is_empty() {
        "all".to_owned()
    } else {
        subscription
            .event_types
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The stores the caller reaches, by id (to name a subscription's store).
async fn store_names(state: &AppState, user: &WebUser) -> Result<Vec<StoreRecord>, PageError> {
    Ok(stores_service::list_stores(state, user.access()).await?)
}

fn store_label(stores: &[StoreRecord], subscription: &Subscription) -> Markup {
    match subscription.store_id {
        None => html! { "all" },
        Some(id) => match stores.iter().find(|s| s.id() == id) {
            Some(store) => {
                html! { a href=(format!("/stores/{}", id.get())) { (display_name(store)) } }
            }
            None => html! { "store " (id.get()) },
        },
    }
}

fn failures(n: i32) -> String {
    if n == 1 {
        "1 failure in a row".to_owned()
    } else {
        format!("{n} failures in a row")
    }
}

/// Whether the subscription's endpoint takes what is sent: OK, or failing since when (with the
/// failures in a row), and paused until when.
fn health(subscription: &Subscription, now: DateTime<Utc>) -> Markup {
    let paused = subscription.paused_until.filter(|until| *until > now);
    html! {
        @if subscription.failures_in_a_row == 0 && subscription.failing_since.is_none() {
            span.good { "OK" }
        } @else {
            span.bad { "failing since " (when(subscription.failing_since)) }
            " (" (failures(subscription.failures_in_a_row)) ")"
        }
        @if let Some(until) = paused {
            br;
            span.warn { "paused until " (when(Some(until))) }
        }
    }
}

// ------------------------------------------------------------------ the list and the form

/// What the "add a subscription" form holds, to show it again after a refusal.
#[derive(Debug, Default)]
struct Draft {
    url: String,
    events: Vec<String>,
    store_id: Option<i64>,
}

#[derive(Deserialize)]
pub struct EventsNotice {
    #[serde(default)]
    notice: Option<String>,
}

/// `GET /events`: the subscriptions (an operator's view: everyone's, with the owner) and the
/// form to add one.
pub async fn show_events(
    State(state): State<AppState>,
    user: WebUser,
    Query(query): Query<EventsNotice>,
) -> Result<Response, PageError> {
    let notice = match query.notice.as_deref() {
        Some("removed") => Some(
            "The subscription was removed with its deliveries; nothing more is sent to its URL.",
        ),
        _ => None,
    };
    events_page(
        &state,
        &user,
        notice,
        None,
        &Draft::default(),
        StatusCode::OK,
    )
    .await
}

async fn events_page(
    state: &AppState,
    user: &WebUser,
    notice: Option<&str>,
    error: Option<&str>,
    draft: &Draft,
    status: StatusCode,
) -> Result<Response, PageError> {
    let subscriptions = events_service::list_subscriptions(state, user.access()).await?;
    let stores = store_names(state, user).await?;
    let now = state.clock().now();
    let operator = user.is_operator();
    let body = html! {
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        p {
            "A warehouse's system is told at once when an order becomes ready, changes, goes on \
             hold or is cancelled, when a shipment reaches the store or fails, and when stock is \
             pushed: the hub sends each event as a signed POST to the URLs below, retrying for \
             a day while an endpoint does not answer 2xx."
        }
        h2 { "Subscriptions" }
        @if subscriptions.is_empty() {
            p { "No subscription yet: add one below." }
        } @else {
            div.table-wrap { table {
                thead { tr {
                    @if operator { th scope="col" { "Owner" } }
                    th scope="col" { "URL" }
                    th scope="col" { "Events" }
                    th scope="col" { "Store" }
                    th scope="col" { "State" }
                    th scope="col" { "Pending / delivered / failed" }
                    th scope="col" { "Action" }
                } }
                tbody {
                    @for s in &subscriptions {
                        @let page = format!("/events/subscriptions/{}", s.id.get());
                        tr {
                            @if operator { td { "user " (s.user_id.get()) } }
                            td {
                                a href=(page) { (s.url) }
                                br;
                                span.muted { (s.id) " · added " (when(Some(s.created_at))) }
                            }
                            td { (types_label(s)) }
                            td { (store_label(&stores, s)) }
                            td { (health(s, now)) }
                            td {
                                a href=(page) {
                                    (s.pending) " / " (s.delivered) " / "
                                    @if s.failed > 0 { span.bad { (s.failed) } } @else { "0" }
                                }
                            }
                            td { (remove_form(user, s)) }
                        }
                    }
                }
            } }
        }
        h2 id="add" { "Add a subscription" }
        (subscription_form(user, &stores, error, draft))
    };
    let mut response = layout("Events", Some(user), body).into_response();
    *response.status_mut() = status;
    Ok(response)
}

/// "Remove", opened first: nothing goes before the second button.
fn remove_form(user: &WebUser, subscription: &Subscription) -> Markup {
    html! {
        details.confirm {
            summary { "Remove" }
            form method="post" action=(format!("/events/subscriptions/{}/remove", subscription.id.get())) {
                (user.csrf_input())
                p.hint {
                    "Stop sending events to " (subscription.url) "? Its deliveries are deleted, \
                     waiting ones included; this cannot be undone."
                }
                button.danger type="submit" { "Remove this subscription" }
            }
        }
    }
}

fn subscription_form(
    user: &WebUser,
    stores: &[StoreRecord],
    error: Option<&str>,
    draft: &Draft,
) -> Markup {
    // Events of a store go to its owner's subscriptions: an operator limits one of theirs to a
    // store they own.
    let own: Vec<&StoreRecord> = stores
        .iter()
        .filter(|s| s.user_id() == user.user_id())
        .collect();
    html! {
        @if let Some(error) = error { p.error role="alert" id="subscription-error" { (error) } }
        form.card method="post" action="/events/subscriptions" {
            (user.csrf_input())
            label for="url" { "URL of the warehouse system's endpoint" }
            input id="url" name="url" type="url" required value=(draft.url)
                placeholder="https://wms.example.com/cenports/events"
                autocomplete="off" aria-describedby="url-hint";
            span.hint id="url-hint" {
                "https://, or http:// on this machine (localhost, 127.0.0.1). Addresses in \
                 private networks are refused unless the operator allows them."
            }
            fieldset.choices {
                legend { "Events (none checked: all, including types added later)" }
                @for t in EventType::ALL {
                    @let id = format!("event-{}", t.as_str().replace('.', "-"));
                    div {
                        input id=(id) type="checkbox" name="events" value=(t.as_str())
                            checked[draft.events.iter().any(|e| e == t.as_str())];
                        label for=(id) {
                            code { (t.as_str()) } " "
                            span.hint { (describe(t)) }
                        }
                    }
                }
            }
            label for="store_id" { "Store" }
            select id="store_id" name="store_id" {
                option value="" selected[draft.store_id.is_none()] { "All your stores" }
                @for store in &own {
                    @let id = store.id().get();
                    option value=(id) selected[draft.store_id == Some(id)] {
                        (display_name(store)) " (" (store.remote_id) ")"
                    }
                }
            }
            span.hint {
                "The signing secret is shown once, on the next page: have the warehouse \
                 system's settings open."
            }
            button type="submit" { "Add subscription" }
        }
    }
}

// ------------------------------------------------------------------ create, remove

/// `POST /events/subscriptions`: records a subscription of the signed-in person's and shows
/// its signing secret once; a refused URL or event type (or one subscription too many) shows
/// the form again with the reason and what was typed; a store not the person's is the 404
/// page.
pub async fn create_subscription(
    State(state): State<AppState>,
    user: WebUser,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    // Nothing else is looked at before the token matches.
    let csrf = fields
        .iter()
        .find(|(name, _)| name == CSRF_FIELD)
        .map(|(_, value)| value.as_str());
    user.check_csrf(csrf)?;
    let mut draft = Draft::default();
    for (name, value) in fields {
        match name.as_str() {
            "url" => draft.url = value.trim().to_owned(),
            "events" if !value.trim().is_empty() => draft.events.push(value),
            "store_id" if !value.trim().is_empty() => {
                draft.store_id = Some(value.trim().parse::<i64>().map_err(|_| {
                    PageError::new(
                        StatusCode::BAD_REQUEST,
                        "The store could not be read. Reload the events page and pick it again.",
                    )
                })?);
            }
            _ => {}
        }
    }
    let refused = |message: String| Some(refusal(&message));
    let error = if draft.url.is_empty() {
        refused("give the URL of the warehouse system's endpoint".to_owned())
    } else if draft.url.chars().count() > MAX_URL_CHARS {
        refused(format!(
            "the URL is {} characters long; at most {MAX_URL_CHARS} are taken",
            draft.url.chars().count()
        ))
    } else {
        None
    };
    if let Some(error) = error {
        return events_page(
            &state,
            &user,
            None,
            Some(&error),
            &draft,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let request = SubscriptionRequest {
        url: draft.url.clone(),
        events: draft.events.clone(),
        store_id: draft.store_id,
    };
    match events_service::subscribe(&state, user.access(), user.user_id(), &request).await {
        Ok((subscription, secret)) => {
            let stores = store_names(&state, &user).await?;
            Ok(secret_page(&user, &stores, &subscription, &secret))
        }
        Err(ServiceError::Invalid(message)) => {
            events_page(
                &state,
                &user,
                None,
                Some(&refusal(&message)),
                &draft,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

/// The service's refusal as the form shows it: its field prefix (`url: `, `events: `) made a
/// sentence.
fn refusal(message: &str) -> String {
    let sentence = if let Some(rest) = message.strip_prefix("url: ") {
        format!("The URL was refused: {rest}")
    } else if let Some(rest) = message.strip_prefix("events: ") {
        capitalise(rest)
    } else {
        capitalise(message)
    };
    if sentence.ends_with('.') {
        sentence
    } else {
        format!("{sentence}.")
    }
}

/// The page after a subscription was made: its signing secret, once, and how to check a
/// signature. Never stored by a browser or proxy.
fn secret_page(
    user: &WebUser,
    stores: &[StoreRecord],
    subscription: &Subscription,
    secret: &SecretString,
) -> Response {
    let page = format!("/events/subscriptions/{}", subscription.id.get());
    let body = html! {
        p.notice role="status" {
            "Events are now sent to " (subscription.url) "."
        }
        dl.profile {
            dt { "Subscription" } dd { (subscription.id) }
            dt { "URL" } dd { (subscription.url) }
            dt { "Events" } dd { (types_label(subscription)) }
            dt { "Store" } dd { (store_label(stores, subscription)) }
        }
        h2 { "Signing secret" }
        p.error role="alert" {
            "Copy this secret into the warehouse system now: it is not shown again. Cenports \
             keeps it only encrypted; if it is lost, remove this subscription and add a new one."
        }
        p { code.secret id="signing-secret" { (secret.expose_secret()) } }
        h2 { "Checking that an event came from Cenports" }
        p {
            "Each event is a POST with a JSON body, signed with the Standard Webhooks scheme. \
             It carries three headers:"
        }
        ul {
            li {
                code { "webhook-id" } ": the event's id (" code { "evt_…" } "), the same on \
                 every attempt: drop an event whose id you already have."
            }
            li {
                code { "webhook-timestamp" } ": when it was sent, in seconds since 1970 (UTC); \
                 refuse one more than a few minutes away from your clock."
            }
            li {
                code { "webhook-signature" } ": " code { "v1," } " and the base64 HMAC-SHA256 \
                 of " code { "{webhook-id}.{webhook-timestamp}.{body}" } ", keyed with the \
                 base64-decoded part of the secret after " code { "whsec_" } "."
            }
        }
        p {
            "The Standard Webhooks libraries (for most languages) check all three in one call, \
             with this secret as it is: "
            a href=(STANDARD_WEBHOOKS) { "standardwebhooks.com" } "."
        }
        p {
            a href=(page) { "See this subscription's deliveries" } " · "
            a href="/events" { "Back to events" }
        }
    };
    let mut response = layout("Subscription added", Some(user), body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A form with nothing but its CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: Option<String>,
}

/// `POST /events/subscriptions/{id}/remove`.
pub async fn remove_subscription(
    State(state): State<AppState>,
    user: WebUser,
    Path(subscription_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    user.check_csrf(form.csrf_token.as_deref())?;
    let id = path_id(&subscription_id)?;
    events_service::remove_subscription(&state, user.access(), id).await?;
    Ok(Redirect::to("/events?notice=removed").into_response())
}

// ------------------------------------------------------------------ deliveries

/// The filters of a subscription's page.
#[derive(Debug, Default, Deserialize)]
pub struct DeliveryFilter {
    /// `pending`, `failed`, `delivered`; empty for all.
    #[serde(default)]
    state: String,
    /// Our id of a delivery: only older ones (the "Older" link).
    #[serde(default)]
    before: String,
    #[serde(default)]
    notice: Option<String>,
}

/// The state filter of a query or form: empty is all, else one of the states.
fn parse_state(text: &str) -> Result<Option<DeliveryState>, PageError> {
    let text = text.trim();
    if text.is_empty() || text == "all" {
        return Ok(None);
    }
    text.parse::<DeliveryState>()
        .map(Some)
        .map_err(|message| PageError::new(StatusCode::BAD_REQUEST, capitalise(&message)))
}

fn subscription_path(id: i64, state: Option<DeliveryState>, before: Option<i64>) -> String {
    let mut pairs = url::form_urlencoded::Serializer::new(String::new());
    if let Some(state) = state {
        pairs.append_pair("state", state.as_str());
    }
    if let Some(before) = before {
        pairs.append_pair("before", &before.to_string());
    }
    let query = pairs.finish();
    if query.is_empty() {
        format!("/events/subscriptions/{id}")
    } else {
        format!("/events/subscriptions/{id}?{query}")
    }
}

/// The order an event is about, if any: its number, and the link to its page when the event
/// names our id of it.
fn order_cell(delivery: &DeliveryRecord) -> Markup {
    let order = &delivery.event.data["order"];
    let number = match &order["number"] {
        serde_json::Value::String(n) => Some(n.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let Some(number) = number else {
        return html! { "—" };
    };
    match order["id"].as_i64() {
        Some(id) => html! {
            a href=(format!("/stores/{}/orders/{id}", delivery.event.store_id.get())) { "#" (number) }
        },
        None => html! { "#" (number) },
    }
}

fn state_cell(delivery: &DeliveryRecord) -> Markup {
    match delivery.state {
        DeliveryState::Pending => html! {
            span.warn { "pending" } br;
            span.muted { "next attempt " (when(delivery.next_attempt_at)) }
        },
        DeliveryState::Delivered => html! {
            span.good { "delivered" } br;
            span.muted { (when(delivery.delivered_at)) }
        },
        DeliveryState::Failed => html! {
            span.bad { "failed" } br;
            span.muted { "given up after a day of failures" }
        },
    }
}

/// `GET /events/subscriptions/{id}`: the subscription and its deliveries, newest first, 50 a
/// page, filtered by state.
pub async fn show_subscription(
    State(state): State<AppState>,
    user: WebUser,
    Path(subscription_id): Path<String>,
    Query(filter): Query<DeliveryFilter>,
) -> Result<Response, PageError> {
    let id = path_id(&subscription_id)?;
    let subscription = events_service::get_subscription(&state, user.access(), id).await?;
    let delivery_state = parse_state(&filter.state)?;
    let before = match filter.before.trim() {
        "" => None,
        text => Some(path_id(text).map_err(|_| {
            PageError::new(
                StatusCode::BAD_REQUEST,
                "The \"before\" delivery id is not a number. Open the subscription from the \
                 events page.",
            )
        })?),
    };
    let mut deliveries = events_service::list_deliveries(
        &state,
        user.access(),
        Some(id),
        delivery_state,
        PAGE as u32 + 1,
        before,
    )
    .await?;
    let older = (deliveries.len() > PAGE).then(|| {
        deliveries.truncate(PAGE);
        deliveries.last().map(|d| d.id.get())
    });
    let older = older.flatten();
    let stores = store_names(&state, &user).await?;
    let now = state.clock().now();
    let notice = match filter.notice.as_deref() {
        Some("resent") => Some(
            "Queued again with its attempts reset: it is sent within seconds, with the same \
             event id (the receiver can drop a copy it already has).",
        ),
        _ => None,
    };
    let filters = [
        (None, "All"),
        (Some(DeliveryState::Pending), "Pending"),
        (Some(DeliveryState::Failed), "Failed"),
        (Some(DeliveryState::Delivered), "Delivered"),
    ];
    let body = html! {
        p { a href="/events" { "← All subscriptions" } }
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        dl.profile id="subscription" data-live="5" {
            @if user.is_operator() { dt { "Owner" } dd { "user " (subscription.user_id.get()) } }
            dt { "URL" } dd { (subscription.url) }
            dt { "Events" } dd { (types_label(&subscription)) }
            dt { "Store" } dd { (store_label(&stores, &subscription)) }
            dt { "Added" } dd { (when(Some(subscription.created_at))) }
            dt { "State" } dd { (health(&subscription, now)) }
            dt { "Deliveries" } dd {
                (subscription.pending) " pending, " (subscription.delivered) " delivered, "
                (subscription.failed) " failed"
            }
        }
        h2 id="deliveries" { "Deliveries" }
        nav aria-label="Delivery state" {
            p {
                "Show: "
                @for (i, (value, label)) in filters.iter().enumerate() {
                    @if i > 0 { " · " }
                    @if *value == delivery_state {
                        strong aria-current="page" { (label) }
                    } @else {
                        a href=(subscription_path(id, *value, None)) { (label) }
                    }
                }
            }
        }
        @if deliveries.is_empty() {
            p {
                @if before.is_some() { "No older deliveries." }
                @else if delivery_state.is_some() { "No delivery in this state." }
                @else { "No event has been sent to this subscription yet." }
            }
        } @else {
            div.table-wrap { table {
                caption.muted { "Newest first." }
                thead { tr {
                    th scope="col" { "Delivery" } th scope="col" { "Event" }
                    th scope="col" { "Type" } th scope="col" { "Order" }
                    th scope="col" { "Attempts" } th scope="col" { "Last HTTP status" }
                    th scope="col" { "Last error" } th scope="col" { "State" }
                    th scope="col" { "Action" }
                } }
                tbody {
                    @for d in &deliveries {
                        tr {
                            td { (d.id) }
                            td {
                                (event_public_id(d.event.id)) br;
                                span.muted { (when(Some(d.event.created_at))) }
                            }
                            td { (d.event.event_type.as_str()) }
                            td { (order_cell(d)) }
                            td { (d.attempts) }
                            td {
                                @match d.last_status {
                                    Some(status) if (200..300).contains(&status) => span.good { (status) },
                                    Some(status) => span.bad { (status) },
                                    None => "—",
                                }
                            }
                            td { (d.last_error.as_deref().unwrap_or("—")) }
                            td { (state_cell(d)) }
                            td {
                                form.inline method="post" action=(format!("/events/deliveries/{}/resend", d.id.get())) {
                                    (user.csrf_input())
                                    @if let Some(state) = delivery_state {
                                        input type="hidden" name="state" value=(state.as_str());
                                    }
                                    button type="submit" {
                                        @if d.state == DeliveryState::Delivered { "Send again" } @else { "Resend" }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
            @if let Some(older) = older {
                p { a href=(subscription_path(id, delivery_state, Some(older))) { "Older deliveries →" } }
            }
            p.hint {
                "Resend queues a delivery again at once with its attempts reset, and lifts the \
                 subscription's pause; Send again sends a delivered event once more (same event \
                 id)."
            }
        }
    };
    Ok(layout(
        &format!("Subscription {}", subscription.id),
        Some(&user),
        body,
    )
    .into_response())
}

/// The resend form: its token, and the filter to go back to.
#[derive(Deserialize)]
pub struct ResendForm {
    #[serde(default)]
    csrf_token: Option<String>,
    #[serde(default)]
    state: String,
}

/// `POST /events/deliveries/{id}/resend`: queues the delivery again at once (as the API's
/// resend), back to its subscription's page.
pub async fn resend_delivery(
    State(state): State<AppState>,
    user: WebUser,
    Path(delivery_id): Path<String>,
    Form(form): Form<ResendForm>,
) -> Result<Response, PageError> {
    user.check_csrf(form.csrf_token.as_deref())?;
    let id = path_id(&delivery_id)?;
    let back_to = parse_state(&form.state).unwrap_or(None);
    let delivery = events_service::resend(&state, user.access(), id).await?;
    let mut path = subscription_path(delivery.subscription_id.get(), back_to, None);
    path.push_str(if path.contains('?') { "&" } else { "?" });
    path.push_str("notice=resent#deliveries");
    Ok(Redirect::to(&path).into_response())
}
