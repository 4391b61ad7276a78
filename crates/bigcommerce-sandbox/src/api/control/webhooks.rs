//! Control routes of webhook delivery: the delivery log, duplicate and lost callbacks on
//! purpose. The delivery itself is [`crate::webhooks`]'s.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::{no_store, AfterQuery};
use crate::api::{errors, json, AppState};
use crate::webhooks::{DuplicateSettings, LossSettings};

/// Control routes for deliveries: `GET /_sandbox/stores/{store_hash}/webhook_deliveries`
/// (`?after=seq`), `POST /_sandbox/stores/{store_hash}/webhook_duplicates`
/// (`{"probability": 0.5, "new_id": false}`) and `POST /_sandbox/stores/{store_hash}/webhook_loss`
/// (`{"probability": 1.0}`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/stores/{store_hash}/webhook_deliveries",
            get(list_deliveries),
        )
        .route(
            "/stores/{store_hash}/webhook_duplicates",
            post(set_duplicates),
        )
        .route("/stores/{store_hash}/webhook_loss", post(set_loss))
}

async fn set_loss(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Json(settings): Json<LossSettings>,
) -> Response {
    if state.store(&hash).is_none() {
        return no_store();
    }
    if !(0.0..=1.0).contains(&settings.probability) {
        return errors::v3_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "probability must be between 0 and 1.",
            Default::default(),
        );
    }
    state.webhooks.set_loss(&hash, settings.probability);
    json(StatusCode::OK, &settings)
}

async fn list_deliveries(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Query(query): Query<AfterQuery>,
) -> Response {
    if state.store(&hash).is_none() {
        return no_store();
    }
    json(
        StatusCode::OK,
        &state.webhooks.deliveries(&hash, query.after),
    )
}

async fn set_duplicates(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Json(settings): Json<DuplicateSettings>,
) -> Response {
    if state.store(&hash).is_none() {
        return no_store();
    }
    if !(0.0..=1.0).contains(&settings.probability) {
        return errors::v3_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "probability must be between 0 and 1.",
            Default::default(),
        );
    }
    state.webhooks.set_duplicates(&hash, settings);
    json(StatusCode::OK, &settings)
}
