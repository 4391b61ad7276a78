//! Webhook delivery (stub: being written).

use std::sync::{Arc, Weak};

use tokio::sync::watch;

use crate::store::Event;
use crate::{SandboxConfig, SandboxState, StoreHandle};

/// Delivers webhook callbacks.
#[derive(Debug)]
pub struct Dispatcher {}

impl Dispatcher {
    pub fn new(_config: &SandboxConfig) -> Dispatcher {
        Dispatcher {}
    }

    /// Starts the delivery task.
    pub fn start(&self, _state: Weak<SandboxState>, _shutdown: watch::Receiver<bool>) {}

    /// Queues the callbacks that `events` fire for the store's active hooks.
    pub fn publish(&self, _store: &Arc<StoreHandle>, _events: Vec<Event>) {}
}

/// Control routes for deliveries (`/_sandbox/stores/{store_hash}/webhook_deliveries`).
pub fn control_routes() -> axum::Router<crate::api::AppState> {
    axum::Router::new()
}
