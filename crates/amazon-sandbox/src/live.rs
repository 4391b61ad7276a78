//! Live mode: the seller account keeps trading while a test, a benchmark or a demo watches.
//! One tokio task performs `rate` events per second: new orders (Pending, payment not yet
//! authorised), payment authorisations (Pending → Unshipped), Amazon shipping its own orders,
//! buyers cancelling before payment and buyers asking the seller to cancel. Every change goes
//! through [`crate::account`]'s rules and is notified on the queue, exactly as changes made
//! over the control API are. Merchant-fulfilled orders are left for the hub to ship.
//!
//! Control: `PUT /_sandbox/live` with `{"rate": 2.0, "seed": 7}` starts (or restarts) it,
//! `DELETE` stops it, `GET` reports `{running, rate, seed, events_so_far}`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::task::AbortHandle;

use crate::account::{NewOrder, RuleError};
use crate::model::{FulfillmentChannel, OrderStatus};
use crate::state::SandboxState;

/// The fastest live mode runs.
pub const MAX_RATE: f64 = 1_000.0;

/// How live mode runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveSettings {
    /// Events per second.
    pub rate: f64,
    /// Seed of the event sequence (default 1).
    #[serde(default)]
    pub seed: Option<u64>,
}

/// What `GET /_sandbox/live` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveStatus {
    pub running: bool,
    pub rate: Option<f64>,
    pub seed: Option<u64>,
    pub events_so_far: u64,
}

#[derive(Debug)]
struct LiveRun {
    settings: LiveSettings,
    events: Arc<AtomicU64>,
    task: AbortHandle,
}

/// The live run of a sandbox, if any.
#[derive(Debug, Default)]
pub struct LiveControl {
    run: Mutex<Option<LiveRun>>,
}

impl LiveControl {
    pub fn status(&self) -> LiveStatus {
        match &*self.run.lock() {
            Some(run) => LiveStatus {
                running: !run.task.is_finished(),
                rate: Some(run.settings.rate),
                seed: run.settings.seed,
                events_so_far: run.events.load(Ordering::Relaxed),
            },
            None => LiveStatus {
                running: false,
                rate: None,
                seed: None,
                events_so_far: 0,
            },
        }
    }

    pub fn stop(&self) {
        if let Some(run) = self.run.lock().as_ref() {
            run.task.abort();
        }
    }
}

/// Starts (or restarts) live mode.
pub fn start_live(state: &Arc<SandboxState>, settings: LiveSettings) -> Result<(), String> {
    if !(settings.rate.is_finite() && settings.rate > 0.0 && settings.rate <= MAX_RATE) {
        return Err(format!(
            "'rate' must be a number of events per second above 0 and at most {MAX_RATE}."
        ));
    }
    state.live.stop();
    let events = Arc::new(AtomicU64::new(0));
    let weak = Arc::downgrade(state);
    let task = tokio::spawn(run(
        weak,
        settings.rate,
        settings.seed.unwrap_or(1),
        events.clone(),
    ))
    .abort_handle();
    *state.live.run.lock() = Some(LiveRun {
        settings,
        events,
        task,
    });
    Ok(())
}

async fn run(state: Weak<SandboxState>, rate: f64, seed: u64, events: Arc<AtomicU64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let period = Duration::from_secs_f64(1.0 / rate);
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let Some(state) = state.upgrade() else { return };
        if step(&state, &mut rng).is_ok() {
            events.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One event, chosen at random among those the account allows.
fn step(state: &SandboxState, rng: &mut ChaCha8Rng) -> Result<(), RuleError> {
    let recent: Vec<(String, OrderStatus, FulfillmentChannel, bool)> = {
        let account = state.account.read();
        let orders = account.orders();
        orders[orders.len().saturating_sub(200)..]
            .iter()
            .map(|o| {
                (
                    o.amazon_order_id.clone(),
                    o.status,
                    o.fulfillment_channel,
                    o.buyer_cancel_reason.is_some(),
                )
            })
            .collect()
    };
    let pending: Vec<&String> = recent
        .iter()
        .filter(|o| o.1 == OrderStatus::Pending)
        .map(|o| &o.0)
        .collect();
    let afn_unshipped: Vec<&String> = recent
        .iter()
        .filter(|o| o.1 == OrderStatus::Unshipped && o.2 == FulfillmentChannel::Afn)
        .map(|o| &o.0)
        .collect();
    let askable: Vec<&String> = recent
        .iter()
        .filter(|o| o.1 == OrderStatus::Unshipped && o.2 == FulfillmentChannel::Mfn && !o.3)
        .map(|o| &o.0)
        .collect();
    let roll = rng.gen_range(0..100);
    if roll < 45 || (pending.is_empty() && afn_unshipped.is_empty()) {
        let channel = if rng.gen_bool(0.17) {
            FulfillmentChannel::Afn
        } else {
            FulfillmentChannel::Mfn
        };
        return state
            .change(|account, now| {
                account.place_order(
                    NewOrder {
                        fulfillment_channel: Some(channel),
                        ..NewOrder::default()
                    },
                    now,
                )
            })
            .map(|_| ());
    }
    if roll < 85 && !pending.is_empty() {
        let id = pending[rng.gen_range(0..pending.len())].clone();
        if roll < 80 {
            return state.change(|a, now| a.advance_order(&id, now)).map(|_| ());
        }
        return state.change(|a, now| a.cancel_order(&id, now)).map(|_| ());
    }
    if roll < 95 && !afn_unshipped.is_empty() {
        let id = afn_unshipped[rng.gen_range(0..afn_unshipped.len())].clone();
        return state.change(|a, now| a.advance_order(&id, now)).map(|_| ());
    }
    if let Some(id) = askable.first() {
        let id = (*id).clone();
        return state
            .change(|a, now| a.request_cancellation(&id, "Ordered by mistake.", now))
            .map(|_| ());
    }
    Err(RuleError::Invalid("nothing to do".into()))
}
