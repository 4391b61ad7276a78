//! Control routes of live mode: `PUT /_sandbox/stores/{store_hash}/live` with
//! `{"rate": 5.0, "seed": 7, "new_order_share": 0.7}` starts (or restarts) it, `DELETE` stops
//! it, `GET` reports `{running, rate, seed, new_order_share, events_so_far}`. The runs
//! themselves are [`crate::live`]'s.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};

use super::no_store;
use crate::api::{errors, json, AppState};
use crate::live::{live_status, start_live, stop_live, LiveSettings};

/// Control routes for live mode (`/_sandbox/stores/{store_hash}/live`).
pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/stores/{store_hash}/live",
        get(get_live).put(put_live).delete(delete_live),
    )
}

async fn get_live(State(state): State<AppState>, Path(hash): Path<String>) -> Response {
    if state.store(&hash).is_none() {
        return no_store();
    }
    json(StatusCode::OK, &live_status(&state, &hash))
}

async fn put_live(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Json(settings): Json<LiveSettings>,
) -> Response {
    if state.store(&hash).is_none() {
        return no_store();
    }
    match start_live(&state, &hash, settings) {
        Ok(()) => json(StatusCode::OK, &live_status(&state, &hash)),
        Err(message) => errors::v3_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &message,
            Default::default(),
        ),
    }
}

async fn delete_live(State(state): State<AppState>, Path(hash): Path<String>) -> Response {
    if state.store(&hash).is_none() {
        return no_store();
    }
    stop_live(&state, &hash);
    json(StatusCode::OK, &live_status(&state, &hash))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::live::LiveStatus;
    use crate::{Sandbox, SandboxConfig, StoreSpec};

    #[tokio::test]
    async fn live_mode_is_controlled_over_http() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sandbox = Sandbox::start(listener, SandboxConfig::default())
            .await
            .unwrap();
        let store = sandbox.create_store(StoreSpec {
            orders: 20,
            ..StoreSpec::default()
        });
        let url = format!("{}/_sandbox/stores/{}/live", sandbox.base_url(), store.hash);
        let client = reqwest::Client::new();

        let bad = client
            .put(&url)
            .json(&serde_json::json!({"rate": -1.0}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 422);

        let started: LiveStatus = client
            .put(&url)
            .json(&serde_json::json!({"rate": 200.0, "seed": 3}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(started.running);
        assert_eq!(started.seed, Some(3));

        // Wait (bounded) for the task to have done some work.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let status: LiveStatus = client.get(&url).send().await.unwrap().json().await.unwrap();
            if status.events_so_far >= 20 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "live mode made no progress"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        let stopped: LiveStatus = client
            .delete(&url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(!stopped.running);
        let orders = sandbox.store(&store.hash).unwrap().data.read().orders.len();
        assert!(orders > 20, "live mode placed orders: {orders}");

        let missing = client
            .get(format!("{}/_sandbox/stores/nope/live", sandbox.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
        sandbox.shutdown();
    }
}
