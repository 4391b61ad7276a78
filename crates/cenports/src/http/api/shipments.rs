//! Shipments: create one for an order (through the outbox, with the caller's idempotency key),
//! list a store's, read one ([`crate::service::shipments`]).
//!
//! **Idempotency.** `POST …/shipments` requires an `Idempotency-Key` header (1 to 200 printable
//! ASCII characters). It becomes the outbox row's request key (`api:<key>`, so it can never meet
//! a key the CLI made), unique per store in the database: the same key again returns the rows
//! of the first request (`200`, `duplicate: true`) and adds nothing, even when both requests
//! race; the same key with a different order, carrier or tracking number is `409
//! idempotency_key_reused`. The shipment is committed first and delivered to the channel by
//! the outbox worker of `cenports serve` (`docs/FULFILMENT.md`); `state` says where it is.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiJson, ApiPath, ApiQuery};
use crate::edge::auth::Principal;
use crate::edge::error::{ApiError, ErrorBody};
use crate::service::shipments::{self as service, ItemInput, NewShipment, Shipment};
use crate::service::AppState;

/// The header carrying the caller's idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A shipment: one parcel to one shipping address of an order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Shipment)]
pub struct ShipmentView {
    /// Our id of the shipment (the outbox row).
    pub id: i64,
    /// Our id of the order.
    pub order_id: i64,
    /// The channel's order number (its order id, as text).
    pub order_number: String,
    /// The idempotency key of the request that made it (`api:` + the Idempotency-Key header
    /// for API requests).
    pub request_key: String,
    /// `pending` (queued), `sending` (may have reached the channel; read back before any
    /// retry), `delivered`, or `failed` (`last_error` says why).
    pub state: String,
    /// The carrier (`canada-post`, `ups`, …, `custom:NAME`).
    pub carrier: Option<String>,
    /// The tracking number.
    pub tracking_number: Option<String>,
    /// The merchant's own tracking link.
    pub tracking_link: Option<String>,
    /// When the parcel left.
    pub shipped_at: Option<DateTime<Utc>>,
    /// The shipping address (consignment) it goes to.
    pub shipping_address_id: Option<String>,
    /// What ships.
    pub items: Vec<ShipmentItemView>,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// The last failure.
    pub last_error: Option<String>,
    /// The channel's shipment id, once delivered.
    pub channel_shipment_id: Option<String>,
    /// When the next attempt is due, while the shipment is `pending` or `sending` (a row whose
    /// attempts ran out is retried every `outbox_slow_retry`; `POST …/retry` makes it due now).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Requested at.
    pub created_at: DateTime<Utc>,
    /// Delivered at.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One line of a shipment.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ShipmentItem)]
pub struct ShipmentItemView {
    /// The channel's line id.
    pub line_id: String,
    /// The line's SKU.
    pub sku: String,
    /// Quantity.
    pub quantity: i32,
}

impl From<&Shipment> for ShipmentView {
    fn from(shipment: &Shipment) -> Self {
        let (row, payload) = (&shipment.row, &shipment.payload);
        ShipmentView {
            id: row.id.get(),
            order_id: row.order_id.get(),
            order_number: row.order_remote_id.clone(),
            request_key: row.request_key.clone(),
            state: row.state.as_str().to_owned(),
            carrier: payload.as_ref().map(|p| p.carrier.slug()),
            tracking_number: payload.as_ref().map(|p| p.tracking_number.clone()),
            tracking_link: payload.as_ref().and_then(|p| p.tracking_link.clone()),
            shipped_at: payload.as_ref().map(|p| p.shipped_at),
            shipping_address_id: payload.as_ref().map(|p| p.address_remote_id.clone()),
            items: payload
                .as_ref()
                .map(|p| {
                    p.items
                        .iter()
                        .map(|i| ShipmentItemView {
                            line_id: i.line_remote_id.clone(),
                            sku: i.sku.clone(),
                            quantity: i.quantity,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            attempts: row.attempts,
            last_error: row.last_error.clone(),
            channel_shipment_id: shipment.channel_shipment_id().map(str::to_owned),
            next_attempt_at: row.state.is_open().then_some(row.next_attempt_at),
            created_at: row.created_at,
            delivered_at: row.delivered_at,
        }
    }
}

/// A shipment to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateShipment {
    /// `canada-post`, `ups`, `fedex`, `usps`, `dhl`, `purolator`, or `custom:NAME` (NAME: 1 to
    /// 100 characters, not only spaces, no control characters).
    #[schema(
        example = "canada-post",
        max_length = 107,
        pattern = r"^(canada-post|ups|fedex|usps|dhl|purolator|custom:[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*)$"
    )]
    pub carrier: String,
    /// The carrier's tracking number: 1 to 50 characters, not only spaces, no control
    /// characters.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub tracking_number: String,
    /// A tracking link of the merchant's own (for custom carriers): an absolute `http://` or
    /// `https://` URL with a host, at most 2,000 characters, no spaces or control characters.
    #[schema(
        max_length = 2000,
        pattern = r"^[hH][tT][tT][pP][sS]?://[^\s\u0000-\u001F\u007F-\u009F]+$"
    )]
    pub tracking_link: Option<String>,
    /// When the parcel left (default: now).
    pub shipped_at: Option<DateTime<Utc>>,
    /// What ships; absent or empty: everything that remains to ship.
    #[serde(default)]
    pub items: Vec<ShipmentItemInput>,
}

/// A quantity of a SKU (spread over the order's lines with that SKU) or of one line: give
/// exactly one of `sku` and `line_id`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipmentItemInput {
    /// A SKU on the order.
    pub sku: Option<String>,
    /// A line id of the order (`line_id` in the order).
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]+$"
    )]
    pub line_id: Option<String>,
    /// Quantity, at least 1.
    #[schema(minimum = 1, maximum = 2147483647)]
    #[serde(deserialize_with = "super::integral")]
    pub quantity: i32,
}

/// What a create did.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedShipments {
    /// True when the key had been used for this request already: nothing was added.
    pub duplicate: bool,
    /// One shipment per shipping address the items go to.
    pub shipments: Vec<ShipmentView>,
}

/// Records a shipment of an order, to be written to its channel exactly once.
#[utoipa::path(
    post,
    path = "/api/v1/stores/{store_id}/orders/{order_id}/shipments",
    tag = "shipments",
    params(
        ("store_id" = i64, Path, description = "Our id of the store"),
        ("order_id" = i64, Path, description = "Our id of the order"),
        ("Idempotency-Key" = String, Header, description = "Your key for this request: the same key again returns the first request's shipments and creates nothing", min_length = 1, max_length = 200, pattern = "^[!-~]{1,200}$"),
    ),
    request_body = CreateShipment,
    responses(
        (status = 201, description = "Queued for delivery", body = CreatedShipments),
        (status = 200, description = "The key was used already: the shipments of that request", body = CreatedShipments),
        (status = 400, description = "No or a bad Idempotency-Key, or a body that does not parse", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Session cookie without X-CSRF-Token (`csrf_failed`)", body = ErrorBody),
        (status = 404, description = "No such store (`store_not_found`) or order in it (`order_not_found`)", body = ErrorBody),
        (status = 409, description = "The key was used for a different request (`idempotency_key_reused`)", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "A value is not valid (`validation_failed`) or the order cannot ship this (`shipment_rejected`)", body = ErrorBody),
    )
)]
pub async fn create_shipment(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((store_id, order_id)): ApiPath<(i64, i64)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateShipment>,
) -> Result<(StatusCode, Json<CreatedShipments>), ApiError> {
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .map(|value| value.to_str().unwrap_or_default());
    let shipment = NewShipment {
        carrier: body.carrier,
        tracking_number: body.tracking_number,
        tracking_link: body.tracking_link,
        shipped_at: body.shipped_at,
        items: body
            .items
            .into_iter()
            .map(|item| ItemInput {
                sku: item.sku,
                line_id: item.line_id,
                quantity: item.quantity,
            })
            .collect(),
    };
    let requested = service::request_shipment(
        &state,
        principal.access(),
        store_id,
        order_id,
        key,
        shipment,
    )
    .await?;
    let status = if requested.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(CreatedShipments {
            duplicate: requested.duplicate,
            shipments: requested.shipments.iter().map(ShipmentView::from).collect(),
        }),
    ))
}

/// Paging of the shipment list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShipmentsQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
}

/// A page of shipments.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShipmentList {
    /// By ascending id.
    pub shipments: Vec<ShipmentView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The store's shipments (API and CLI), oldest first, paginated by cursor.
#[utoipa::path(
    get,
    path = "/api/v1/stores/{store_id}/shipments",
    tag = "shipments",
    params(("store_id" = i64, Path, description = "Our id of the store"), ShipmentsQuery),
    responses(
        (status = 200, description = "A page of shipments", body = ShipmentList),
        (status = 400, description = "The limit or the cursor is not valid (`invalid_query`)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such store among the caller's (`store_not_found`)", body = ErrorBody),
    )
)]
pub async fn list_shipments(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(store_id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<ShipmentsQuery>,
) -> Result<Json<ShipmentList>, ApiError> {
    let page = service::list_shipments(
        &state,
        principal.access(),
        store_id,
        query.limit,
        query.cursor.as_deref(),
    )
    .await?;
    Ok(Json(ShipmentList {
        shipments: page.shipments.iter().map(ShipmentView::from).collect(),
        next_cursor: page.next_cursor.map(|id| id.get().to_string()),
    }))
}

/// One shipment.
#[utoipa::path(
    get,
    path = "/api/v1/stores/{store_id}/shipments/{shipment_id}",
    tag = "shipments",
    params(
        ("store_id" = i64, Path, description = "Our id of the store"),
        ("shipment_id" = i64, Path, description = "Our id of the shipment"),
    ),
    responses(
        (status = 200, description = "The shipment", body = ShipmentView),
        (status = 400, description = "An id is not an integer", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such store (`store_not_found`) or shipment in it (`shipment_not_found`)", body = ErrorBody),
    )
)]
pub async fn get_shipment(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((store_id, shipment_id)): ApiPath<(i64, i64)>,
) -> Result<Json<ShipmentView>, ApiError> {
    let shipment = service::get_shipment(&state, principal.access(), store_id, shipment_id).await?;
    Ok(Json(ShipmentView::from(&shipment)))
}

/// Retry a shipment now: a `failed` shipment goes back to the queue with its attempts reset (one
/// refused by the channel is refused again unless the cause was fixed in the store); a `pending`
/// or `sending` one waiting for its next attempt becomes due at once. A shipment that may have
/// reached the channel is read back before it is sent again, so a retry never ships twice.
#[utoipa::path(
    post,
    path = "/api/v1/stores/{store_id}/shipments/{shipment_id}/retry",
    tag = "shipments",
    params(
        ("store_id" = i64, Path, description = "Our id of the store"),
        ("shipment_id" = i64, Path, description = "Our id of the shipment"),
    ),
    responses(
        (status = 200, description = "Queued: the shipment as it is now (`state`, `next_attempt_at`)", body = ShipmentView),
        (status = 400, description = "An id is not an integer", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Session cookie without X-CSRF-Token (`csrf_failed`)", body = ErrorBody),
        (status = 404, description = "No such store (`store_not_found`) or shipment in it (`shipment_not_found`)", body = ErrorBody),
        (status = 409, description = "The shipment was delivered already (`shipment_delivered`)", body = ErrorBody),
    )
)]
pub async fn retry_shipment(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((store_id, shipment_id)): ApiPath<(i64, i64)>,
) -> Result<Json<ShipmentView>, ApiError> {
    let shipment =
        service::retry_shipment(&state, principal.access(), store_id, shipment_id).await?;
    Ok(Json(ShipmentView::from(&shipment)))
}

/// One row of a batch of shipments (JSON): the columns of the CSV.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRowInput {
    /// The channel's order number.
    #[schema(example = "101")]
    pub order: String,
    /// `canada-post`, `ups`, `fedex`, `usps`, `dhl`, `purolator`, or `custom:NAME` (spelling
    /// is forgiving, as in a spreadsheet: `Canada Post`).
    #[schema(example = "canada-post")]
    pub carrier: String,
    /// The tracking number. Rows of one order with one tracking number are one parcel.
    #[schema(example = "CP123456789CA")]
    pub tracking: String,
    /// A SKU of the order; leave it out (on every row of the parcel) to ship everything that
    /// remains.
    pub sku: Option<String>,
    /// How many of `sku` (with `sku` only).
    #[serde(default, deserialize_with = "super::integral_opt")]
    #[schema(minimum = 1, maximum = 2147483647)]
    pub quantity: Option<i32>,
    /// A tracking link of the merchant's own.
    pub tracking_link: Option<String>,
    /// When the parcel left (`YYYY-MM-DD` or RFC 3339; default now).
    pub shipped_at: Option<String>,
}

/// A batch of shipments as JSON.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchInputBody {
    /// The rows, numbered from 1 in a refusal.
    pub rows: Vec<BatchRowInput>,
}

/// What became of one parcel of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchParcelView {
    /// The rows it was made of (CSV line numbers, 1 being the header; JSON rows from 1).
    pub lines: Vec<usize>,
    /// The channel's order number.
    pub order_number: String,
    /// The tracking number.
    pub tracking_number: String,
    /// `shipped` (queued now), `already_shipped` (queued or delivered before: nothing added),
    /// or `refused` (something changed since the check; `reason` says what).
    pub outcome: String,
    /// Why it was refused.
    pub reason: Option<String>,
    /// Its shipments (one per shipping address), as they are now.
    pub shipments: Vec<ShipmentView>,
}

/// What a batch did.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    /// Parcels queued now.
    pub shipped: usize,
    /// Parcels queued or delivered before (the same batch sent again): nothing added.
    pub already_shipped: usize,
    /// Parcels refused when queued (they passed the check, then something changed).
    pub refused: usize,
    /// Every parcel, in the order of its first row.
    pub parcels: Vec<BatchParcelView>,
}

/// A bad row of a refused batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BadRowView {
    /// The CSV line number (1 is the header) or the JSON row from 1.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// A refused batch: the error, and every bad row.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchRefusal {
    /// `batch_refused`, and the whole refusal for people.
    pub error: crate::edge::error::ErrorDetail,
    /// Every bad row (empty when the problem is the file itself, e.g. a missing column).
    pub rows: Vec<BadRowView>,
}

/// Record many shipments at once: a CSV (`text/csv`: a header with `order,carrier,tracking`
/// and optionally `sku,quantity,tracking_link,shipped_at`) or JSON rows with the same fields.
/// Rows of one order with one tracking number are one parcel; without `sku`, everything that
/// remains ships. Every row is checked first (the checks of a single shipment); a batch with a
/// bad row is refused whole (`422 batch_refused`, every bad row listed) and nothing is queued.
/// Each parcel's idempotency key is its order, carrier and tracking number, so sending the same
/// batch again ships nothing twice (`already_shipped`); no `Idempotency-Key` header is needed.
#[utoipa::path(
    post,
    path = "/api/v1/stores/{store_id}/shipments/batch",
    tag = "shipments",
    params(("store_id" = i64, Path, description = "Our id of the store")),
    request_body(content(
        (BatchInputBody = "application/json"),
        (String = "text/csv", example = "order,carrier,tracking,sku,quantity\n101,canada-post,CP1,MUG-1,2\n"),
    )),
    responses(
        (status = 200, description = "Every row passed: what became of each parcel", body = BatchResult),
        (status = 400, description = "The JSON does not parse or misses a field (`invalid_json`)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Session cookie without X-CSRF-Token (`csrf_failed`)", body = ErrorBody),
        (status = 404, description = "No such store among the caller's (`store_not_found`)", body = ErrorBody),
        (status = 413, description = "The body is larger than 2 MB", body = ErrorBody),
        (status = 415, description = "The body is neither `text/csv` nor `application/json`", body = ErrorBody),
        (status = 422, description = "Bad rows (`batch_refused`): every one listed; nothing was queued", body = BatchRefusal),
    )
)]
pub async fn import_shipments(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(store_id): ApiPath<i64>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<axum::response::Response, ApiError> {
    use crate::edge::error::ErrorCode;
    use crate::fulfilment::batch::{BatchRefused, BatchRow};
    use crate::service::shipments::BatchInput;
    use axum::response::IntoResponse;

    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let input = match media {
        "text/csv" => match String::from_utf8(body.to_vec()) {
            Ok(text) => BatchInput::Csv(text),
            Err(_) => {
                return Ok(refusal(BatchRefused {
                    lines: Vec::new(),
                    file: Some("the CSV is not UTF-8 text; save it as UTF-8".into()),
                }))
            }
        },
        "application/json" => {
            let parsed: BatchInputBody = serde_json::from_slice(&body).map_err(|e| {
                ApiError::new(
                    ErrorCode::InvalidJson,
                    format!("the body is not the JSON this operation takes: {e}"),
                )
            })?;
            BatchInput::Rows(
                parsed
                    .rows
                    .into_iter()
                    .enumerate()
                    .map(|(i, r)| BatchRow {
                        line: i + 1,
                        order: r.order,
                        carrier: r.carrier,
                        tracking: r.tracking,
                        sku: r.sku.unwrap_or_default(),
                        quantity: r.quantity.map(|q| q.to_string()).unwrap_or_default(),
                        tracking_link: r.tracking_link.unwrap_or_default(),
                        shipped_at: r.shipped_at.unwrap_or_default(),
                    })
                    .collect(),
            )
        }
        _ => {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the batch as text/csv or application/json",
            ))
        }
    };
    let report = match service::import_shipments(&state, principal.access(), store_id, input).await
    {
        Ok(report) => report,
        Err(crate::service::ServiceError::BatchRefused(refused)) => return Ok(refusal(refused)),
        Err(other) => return Err(other.into()),
    };
    let mut parcels = Vec::with_capacity(report.parcels.len());
    for parcel in &report.parcels {
        use crate::fulfilment::batch::ParcelOutcome;
        let (outcome, reason, rows) = match &parcel.outcome {
            ParcelOutcome::Shipped(rows) => ("shipped", None, rows.as_slice()),
            ParcelOutcome::AlreadyShipped(rows) => ("already_shipped", None, rows.as_slice()),
            ParcelOutcome::Refused(reason) => ("refused", Some(reason.clone()), &[][..]),
        };
        parcels.push(BatchParcelView {
            lines: parcel.lines.clone(),
            order_number: parcel.order.clone(),
            tracking_number: parcel.tracking.clone(),
            outcome: outcome.to_owned(),
            reason,
            shipments: rows
                .iter()
                .map(|row| ShipmentView::from(&Shipment::from_row(row.clone())))
                .collect(),
        });
    }
    Ok(Json(BatchResult {
        shipped: report.shipped(),
        already_shipped: report.already_shipped(),
        refused: report.refused(),
        parcels,
    })
    .into_response())
}

/// The 422 of a refused batch.
fn refusal(refused: crate::fulfilment::batch::BatchRefused) -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = BatchRefusal {
        error: crate::edge::error::ErrorDetail {
            code: crate::edge::error::ErrorCode::BatchRefused,
            message: refused.to_string(),
        },
        rows: refused
            .lines
            .iter()
            .map(|(line, reason)| BadRowView {
                line: *line,
                reason: reason.clone(),
            })
            .collect(),
    };
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}
