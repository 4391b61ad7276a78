//! Live mode (stub: being written).

/// Controls live mode of the stores.
#[derive(Debug, Default)]
pub struct LiveControl {}

/// Control routes for live mode (`/_sandbox/stores/{store_hash}/live`).
pub fn control_routes() -> axum::Router<crate::api::AppState> {
    axum::Router::new()
}
