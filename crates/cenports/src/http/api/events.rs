//! Events for the warehouses' systems ([`crate::service::events`], `docs/EVENTS.md`):
//! subscriptions (the secret is in the create answer only), their deliveries with a resend,
//! and the feed for systems that pull, `GET /api/v1/events?after=CURSOR`.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiJson, ApiPath, ApiQuery};
use crate::edge::auth::Principal;
use crate::edge::error::{ApiError, ErrorBody, ErrorCode};
use crate::service::events::{self as service, SubscriptionRequest};
use crate::service::AppState;
use crate::storage::{event_public_id, DeliveryRecord, DeliveryState, EventType, Subscription};

/// An event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum EventTypeName {
    /// An order can be picked (it reached the ready state).
    #[serde(rename = "order.ready")]
    OrderReady,
    /// What a ready, held or partly shipped order ships changed (lines, shipping address).
    #[serde(rename = "order.updated")]
    OrderUpdated,
    /// A ready or partly shipped order went on hold: stop picking it.
    #[serde(rename = "order.on_hold")]
    OrderOnHold,
    /// An order the warehouse knew was cancelled or refunded: do not ship it.
    #[serde(rename = "order.cancelled")]
    OrderCancelled,
    /// A shipment was written to the store.
    #[serde(rename = "shipment.delivered")]
    ShipmentDelivered,
    /// A shipment could not be written to the store and was given up.
    #[serde(rename = "shipment.failed")]
    ShipmentFailed,
    /// Available quantities were pushed to the store.
    #[serde(rename = "stock.pushed")]
    StockPushed,
}

impl From<EventType> for EventTypeName {
    fn from(t: EventType) -> Self {
        match t {
            EventType::OrderReady => Self::OrderReady,
            EventType::OrderUpdated => Self::OrderUpdated,
            EventType::OrderOnHold => Self::OrderOnHold,
            EventType::OrderCancelled => Self::OrderCancelled,
            EventType::ShipmentDelivered => Self::ShipmentDelivered,
            EventType::ShipmentFailed => Self::ShipmentFailed,
            EventType::StockPushed => Self::StockPushed,
        }
    }
}

impl From<EventTypeName> for EventType {
    fn from(t: EventTypeName) -> Self {
        EventType::ALL
            .into_iter()
            .find(|e| EventTypeName::from(*e) == t)
            .expect("every name is a type")
    }
}

/// A subscription: where the hub sends which events.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Subscription)]
pub struct SubscriptionView {
    /// Our id.
    pub id: i64,
    /// The endpoint.
    pub url: String,
    /// The event types sent; empty: all.
    pub events: Vec<EventTypeName>,
    /// Only this store's events (our id); `null`: every store of the owner.
    pub store_id: Option<i64>,
    /// The owner (our user id).
    pub user_id: i64,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Failed attempts since the last success (0: working).
    pub failures_in_a_row: i32,
    /// When the current run of failures began.
    pub failing_since: Option<DateTime<Utc>>,
    /// No attempt before this, after a failure (doubling from 1 s up to an hour).
    pub paused_until: Option<DateTime<Utc>>,
    /// Deliveries waiting or retrying.
    pub pending: i64,
    /// Deliveries the endpoint took.
    pub delivered: i64,
    /// Deliveries given up after a day of failures (resend them).
    pub failed: i64,
}

impl From<&Subscription> for SubscriptionView {
    fn from(s: &Subscription) -> Self {
        SubscriptionView {
            id: s.id.get(),
            url: s.url.clone(),
            events: s.event_types.iter().map(|t| (*t).into()).collect(),
            store_id: s.store_id.map(|id| id.get()),
            user_id: s.user_id.get(),
            created_at: s.created_at,
            failures_in_a_row: s.failures_in_a_row,
            failing_since: s.failing_since,
            paused_until: s.paused_until,
            pending: s.pending,
            delivered: s.delivered,
            failed: s.failed,
        }
    }
}

/// The caller's subscriptions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    /// Oldest first.
    pub subscriptions: Vec<SubscriptionView>,
}

/// A subscription to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    /// The endpoint: `https://`, or `http://` on localhost / 127.0.0.1 only; it must not be,
    /// or resolve to, a private or link-local address unless the operator allows it.
    #[schema(example = "https://wms.example.com/cenports-events", max_length = 2000)]
    pub url: String,
    /// The event types to send; absent or empty: all.
    #[serde(default)]
    pub events: Vec<EventTypeName>,
    /// Only this store's events (our id of one of the caller's stores).
    #[schema(minimum = 1)]
    #[serde(default, deserialize_with = "super::integral_opt")]
    pub store_id: Option<i64>,
}

/// A new subscription and its signing secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedSubscription {
    /// The subscription.
    pub subscription: SubscriptionView,
    /// The Standard Webhooks signing secret (`whsec_…`): shown in this answer only. Verify
    /// each delivery's `webhook-signature` with it.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// The caller's subscriptions (an operator: everyone's).
#[utoipa::path(
    get,
    path = "/api/v1/subscriptions",
    tag = "events",
    responses(
        (status = 200, description = "The subscriptions", body = SubscriptionList),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    )
)]
pub async fn list_subscriptions(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<SubscriptionList>, ApiError> {
    let subscriptions = service::list_subscriptions(&state, principal.access()).await?;
    Ok(Json(SubscriptionList {
        subscriptions: subscriptions.iter().map(SubscriptionView::from).collect(),
    }))
}

/// Subscribes an endpoint to events of the caller's stores. The answer holds the signing
/// secret, once; it is not kept in clear and cannot be read again.
#[utoipa::path(
    post,
    path = "/api/v1/subscriptions",
    tag = "events",
    request_body = CreateSubscription,
    responses(
        (status = 201, description = "Subscribed; the secret is in this answer only", body = CreatedSubscription),
        (status = 400, description = "The body does not parse (`invalid_json`)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Session cookie without X-CSRF-Token (`csrf_failed`)", body = ErrorBody),
        (status = 404, description = "`store_id` is not one of the caller's stores (`store_not_found`)", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The URL is refused (not https, private address, cannot be resolved) or the caller has 20 subscriptions (`validation_failed`)", body = ErrorBody),
    )
)]
pub async fn create_subscription(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateSubscription>,
) -> Result<Response, ApiError> {
    let request = SubscriptionRequest {
        url: body.url,
        events: body
            .events
            .into_iter()
            .map(|t| EventType::from(t).as_str().to_owned())
            .collect(),
        store_id: body.store_id,
    };
    let (subscription, secret) = service::subscribe(
        &state,
        principal.access(),
        principal.account.user.id,
        &request,
    )
    .await?;
    let mut response = (
        StatusCode::CREATED,
        Json(CreatedSubscription {
            subscription: SubscriptionView::from(&subscription),
            secret: secret.expose_secret().to_owned(),
        }),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// One subscription of the caller's.
#[utoipa::path(
    get,
    path = "/api/v1/subscriptions/{subscription_id}",
    tag = "events",
    params(("subscription_id" = i64, Path, description = "Our id of the subscription")),
    responses(
        (status = 200, description = "The subscription", body = SubscriptionView),
        (status = 400, description = "The id is not an integer", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such subscription among the caller's (`subscription_not_found`)", body = ErrorBody),
    )
)]
pub async fn get_subscription(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<SubscriptionView>, ApiError> {
    let subscription = service::get_subscription(&state, principal.access(), id).await?;
    Ok(Json(SubscriptionView::from(&subscription)))
}

/// Removes a subscription with its deliveries (pending ones are not sent).
#[utoipa::path(
    delete,
    path = "/api/v1/subscriptions/{subscription_id}",
    tag = "events",
    params(("subscription_id" = i64, Path, description = "Our id of the subscription")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "The id is not an integer", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Session cookie without X-CSRF-Token (`csrf_failed`)", body = ErrorBody),
        (status = 404, description = "No such subscription among the caller's (`subscription_not_found`)", body = ErrorBody),
    )
)]
pub async fn remove_subscription(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    service::remove_subscription(&state, principal.access(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A delivery's state.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStateName {
    /// Waiting, being sent, or retrying.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Given up after a day of failures.
    Failed,
}

impl From<DeliveryStateName> for DeliveryState {
    fn from(s: DeliveryStateName) -> Self {
        match s {
            DeliveryStateName::Pending => Self::Pending,
            DeliveryStateName::Delivered => Self::Delivered,
            DeliveryStateName::Failed => Self::Failed,
        }
    }
}

impl From<DeliveryState> for DeliveryStateName {
    fn from(s: DeliveryState) -> Self {
        match s {
            DeliveryState::Pending => Self::Pending,
            DeliveryState::Delivered => Self::Delivered,
            DeliveryState::Failed => Self::Failed,
        }
    }
}

/// One event sent to one subscription.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Delivery)]
pub struct DeliveryView {
    /// Our id (the `{delivery_id}` of the resend).
    pub id: i64,
    /// The subscription.
    pub subscription_id: i64,
    /// Where it is.
    pub state: DeliveryStateName,
    /// Attempts made.
    pub attempts: i32,
    /// The next attempt, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The endpoint's last HTTP status, if it answered.
    pub last_status: Option<i32>,
    /// The last failure.
    pub last_error: Option<String>,
    /// When the endpoint took it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// The event, as the endpoint receives it.
    pub event: EventView,
}

impl From<&DeliveryRecord> for DeliveryView {
    fn from(d: &DeliveryRecord) -> Self {
        DeliveryView {
            id: d.id.get(),
            subscription_id: d.subscription_id.get(),
            state: d.state.into(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error.clone(),
            delivered_at: d.delivered_at,
            event: EventView::from(&d.event),
        }
    }
}

/// An event: the body a subscriber receives, and an item of the feed.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Event)]
pub struct EventView {
    /// The event id (`evt_…`), also the `webhook-id` header: the same on every attempt.
    #[schema(example = "evt_42")]
    pub id: String,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: EventTypeName,
    /// When it happened (recorded by the hub), RFC 3339 in UTC with milliseconds.
    #[schema(value_type = String, format = DateTime, example = "2026-12-06T20:15:03.412Z")]
    pub timestamp: String,
    /// Our id of the store.
    pub store_id: i64,
    /// What happened: `order` (with `ship_to` and `lines`) for order events, `order` and
    /// `shipment` for shipment events, `skus` for stock.pushed (docs/EVENTS.md).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<&crate::storage::EventRecord> for EventView {
    fn from(e: &crate::storage::EventRecord) -> Self {
        EventView {
            id: event_public_id(e.id),
            event_type: e.event_type.into(),
            timestamp: e
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            store_id: e.store_id.get(),
            data: e.data.clone(),
        }
    }
}

/// Filters and paging of a subscription's deliveries.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Only deliveries in this state.
    pub state: Option<DeliveryStateName>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_before` of the previous page (deliveries are newest first).
    #[param(minimum = 1)]
    pub before: Option<i64>,
}

/// A page of deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    /// Newest first.
    pub deliveries: Vec<DeliveryView>,
    /// Pass as `before` for the next (older) page; `null` on the last page.
    pub next_before: Option<i64>,
}

fn page_size(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(50),
        Some(n @ 1..=200) => Ok(n),
        Some(n) => Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("limit is {n}; give 1 to 200"),
        )),
    }
}

/// A subscription's deliveries, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/subscriptions/{subscription_id}/deliveries",
    tag = "events",
    params(("subscription_id" = i64, Path, description = "Our id of the subscription"), DeliveriesQuery),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryList),
        (status = 400, description = "The id, state, limit or cursor is not valid", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such subscription among the caller's (`subscription_not_found`)", body = ErrorBody),
    )
)]
pub async fn list_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> Result<Json<DeliveryList>, ApiError> {
    let limit = page_size(query.limit)?;
    let deliveries = service::list_deliveries(
        &state,
        principal.access(),
        Some(id),
        query.state.map(Into::into),
        limit,
        query.before,
    )
    .await?;
    let next_before = (deliveries.len() == limit as usize)
        .then(|| deliveries.last().map(|d| d.id.get()))
        .flatten();
    Ok(Json(DeliveryList {
        deliveries: deliveries.iter().map(DeliveryView::from).collect(),
        next_before,
    }))
}

/// Sends a delivery again at once, with the same event id (a failed one after the endpoint was
/// fixed, or a delivered one the receiver lost). Lifts its subscription's pause.
#[utoipa::path(
    post,
    path = "/api/v1/deliveries/{delivery_id}/resend",
    tag = "events",
    params(("delivery_id" = i64, Path, description = "Our id of the delivery")),
    responses(
        (status = 200, description = "Queued again", body = DeliveryView),
        (status = 400, description = "The id is not an integer", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Session cookie without X-CSRF-Token (`csrf_failed`)", body = ErrorBody),
        (status = 404, description = "No such delivery among the caller's subscriptions (`delivery_not_found`)", body = ErrorBody),
    )
)]
pub async fn resend_delivery(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<DeliveryView>, ApiError> {
    let delivery = service::resend(&state, principal.access(), id).await?;
    Ok(Json(DeliveryView::from(&delivery)))
}

/// Where to read the feed from.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// `next_cursor` of the previous answer; absent: from the oldest event kept (30 days).
    #[param(pattern = "^[0-9]{1,18}$")]
    pub after: Option<String>,
    /// Events per answer, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// A page of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventFeed {
    /// In the order they happened.
    pub events: Vec<EventView>,
    /// Pass as `after` next time (the same cursor when nothing new came); `null` only when
    /// there has never been an event.
    pub next_cursor: Option<String>,
}

/// The events of the caller's stores after a cursor, for systems that pull instead of
/// subscribing. A cursor never skips an event, even one whose transaction committed late.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    params(FeedQuery),
    responses(
        (status = 200, description = "Events after the cursor", body = EventFeed),
        (status = 400, description = "The cursor or limit is not valid (`invalid_query`)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    )
)]
pub async fn event_feed(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<FeedQuery>,
) -> Result<Json<EventFeed>, ApiError> {
    let limit = match query.limit {
        None => 100,
        Some(n @ 1..=1000) => n,
        Some(n) => {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                format!("limit is {n}; give 1 to 1000"),
            ))
        }
    };
    let (events, next) =
        service::feed(&state, principal.access(), query.after.as_deref(), limit).await?;
    Ok(Json(EventFeed {
        events: events.iter().map(EventView::from).collect(),
        next_cursor: next.map(|c| c.to_string()),
    }))
}
