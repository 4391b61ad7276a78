//! Stock: on hand, reserved and available per SKU, and a bulk set of on hand (all or nothing,
//! like `cenports stock import`), through [`crate::service::stock`]. Pushing to the store stays
//! with `cenports stock push` and the scheduler (`docs/STOCK.md`).

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiJson, ApiPath};
use crate::edge::auth::Principal;
use crate::edge::error::{ApiError, ErrorBody};
use crate::service::stock::{self as service, OnHand};
use crate::service::AppState;

/// One SKU's stock.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StockItem)]
pub struct StockItemView {
    /// The SKU.
    pub sku: String,
    /// The merchant's on hand, as last set through any of their stores (shared by all of
    /// them).
    pub on_hand: i64,
    /// Units on the imported orders of all the merchant's stores not yet shipped (not cancelled
    /// or refunded).
    pub reserved: i64,
    /// What the store may sell: on hand − reserved − the safety buffer, at least 0.
    pub available: i64,
    /// The level the store last reported (catalog import or read-back), if seen.
    pub store_level: Option<i64>,
    /// Where the store keeps its level: `untracked`, `product` (shared by the product's SKUs),
    /// `variant` (its own) or `derived` (computed by the store from others); absent if not in
    /// the catalog.
    pub tracking: Option<String>,
    /// The last push that concerned it.
    pub last_push: Option<LastPushView>,
    /// When the merchant's on hand last changed.
    pub updated_at: DateTime<Utc>,
}

/// The outcome of a push for one SKU.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LastPush)]
pub struct LastPushView {
    /// `ok`, `mismatch`, `unverified`, `rejected`, `failed`, `untracked`, …
    pub status: String,
    /// The level sent, if one was.
    pub level: Option<i64>,
    /// Why.
    pub message: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A store's stock.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockList {
    /// Units held back from every tracked SKU.
    pub safety_buffer: i64,
    /// By SKU.
    pub items: Vec<StockItemView>,
}

/// Every SKU the hub holds stock for in the store.
#[utoipa::path(
    get,
    path = "/api/v1/stores/{store_id}/stock",
    tag = "stock",
    params(("store_id" = i64, Path, description = "Our id of the store")),
    responses(
        (status = 200, description = "The stock", body = StockList),
        (status = 400, description = "The id is not an integer", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such store among the caller's (`store_not_found`)", body = ErrorBody),
    )
)]
pub async fn list_stock(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(store_id): ApiPath<i64>,
) -> Result<Json<StockList>, ApiError> {
    let stock = service::list_stock(&state, principal.access(), store_id).await?;
    let items = stock
        .items
        .into_iter()
        .map(|service::StockItem { row, available }| StockItemView {
            available,
            store_level: row.catalog.as_ref().and_then(|c| c.reported_level),
            tracking: row
                .catalog
                .as_ref()
                .map(|c| c.stock_tracking.as_str().to_owned()),
            last_push: row.last_push.map(|p| LastPushView {
                status: p.status,
                level: p.level,
                message: p.message,
                at: p.at,
            }),
            sku: row.sku,
            on_hand: row.on_hand,
            reserved: row.reserved,
            updated_at: row.updated_at,
        })
        .collect();
    Ok(Json(StockList {
        safety_buffer: stock.safety_buffer,
        items,
    }))
}

/// The merchant's on hand for many SKUs, absolute (shared by all the merchant's stores).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStock {
    /// 1 to 10,000 SKUs, each at most once.
    #[schema(min_items = 1, max_items = 10000)]
    pub items: Vec<SetStockItem>,
}

/// On hand of one SKU.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStockItem {
    /// The SKU (as in the store's catalog): 1 to 255 characters, not only spaces, no control
    /// characters.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub sku: String,
    /// On hand, 0 to 2,147,483,647.
    #[schema(minimum = 0, maximum = 2147483647)]
    #[serde(deserialize_with = "super::integral")]
    pub on_hand: i64,
}

/// What a bulk set did.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockSet {
    /// Items received.
    pub received: usize,
    /// SKUs whose on hand changed (equal values are not rewritten).
    pub changed: u64,
}

/// Sets the merchant's on hand for many SKUs in one transaction, whichever of their stores
/// is named: every store of the merchant is pushed that figure minus what the open orders of
/// all of them reserve. Every item is checked first, and one bad item rejects the whole request
/// (the message lists each bad item by index).
#[utoipa::path(
    put,
    path = "/api/v1/stores/{store_id}/stock",
    tag = "stock",
    params(("store_id" = i64, Path, description = "Our id of the store")),
    request_body = SetStock,
    responses(
        (status = 200, description = "Set", body = StockSet),
        (status = 400, description = "The body does not parse (`invalid_json`)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Session cookie without X-CSRF-Token (`csrf_failed`)", body = ErrorBody),
        (status = 404, description = "No such store among the caller's (`store_not_found`)", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "An item is not valid; nothing was set (`validation_failed`)", body = ErrorBody),
    )
)]
pub async fn set_stock(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(store_id): ApiPath<i64>,
    ApiJson(body): ApiJson<SetStock>,
) -> Result<Json<StockSet>, ApiError> {
    let items: Vec<OnHand> = body
        .items
        .into_iter()
        .map(|item| OnHand {
            sku: item.sku,
            on_hand: item.on_hand,
        })
        .collect();
    let set = service::set_stock(&state, principal.access(), store_id, &items).await?;
    Ok(Json(StockSet {
        received: set.received,
        changed: set.changed,
    }))
}
