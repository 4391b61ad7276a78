//! Live mode: a store that keeps trading while a test, a benchmark or a demo watches.
//!
//! Per store, one tokio task performs `rate` events per second: it places new orders (drawn by
//! the same code as the generated history, [`generate::random_new_order`], trimmed to the
//! stock on hand) and moves existing orders along as a store's staff and payment providers do
//! (a bank deposit arrives, a held order is verified or declined, an order is cancelled or gets
//! a staff note). Every change goes through [`StoreData`]'s rules and its webhooks are published
//! after the store's lock is released, exactly as for changes made over HTTP.
//!
//! The sequence of events is deterministic in the seed (given the same store and no other
//! writer); their timing is not. The task catches up in batches when it falls behind, so high
//! rates do not need one timer per event.
//!
//! Control: `PUT /_sandbox/stores/{store_hash}/live` with `{"rate": 5.0, "seed": 7,
//! "new_order_share": 0.7}` starts (or restarts) it, `DELETE` stops it, `GET` reports
//! `{running, rate, seed, new_order_share, events_so_far}`; those routes are served by
//! [`crate::api::control`], which calls this module. In-process: [`start_live`], [`stop_live`],
//! [`live_status`], given the server's state (`Sandbox::state()`).
//!
//! This module knows the server only through [`LiveHost`] (its stores, its [`LiveControl`] and
//! where to publish webhooks), which `SandboxState` implements: the state owns the live runs,
//! and live mode never names the state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::task::AbortHandle;

use crate::generate;
use crate::handle::{StoreHandle, StoreLookup};
use crate::model::status;
use crate::store::{Event, OrderUpdate, StoreData};

/// The fastest live mode runs: beyond this the store's lock, not the clock, sets the pace.
pub const MAX_RATE: f64 = 10_000.0;

/// Most events one wake-up performs under the store's lock; a task further behind drops the
/// backlog instead of holding the lock for long.
const MAX_BATCH: u64 = 1_000;

/// How many of the newest orders live mode considers when it moves orders along.
const RECENT_ORDERS: usize = 500;

const STAFF_NOTES: &[&str] = &[
    "Customer called: please gift-wrap.",
    "Address confirmed by phone.",
    "VIP customer - include a thank-you card.",
    "Customer asked to combine with their next order if possible.",
];

fn default_new_order_share() -> f64 {
    0.7
}

/// How a store's live mode runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveSettings {
    /// Events per second (new orders and status changes together).
    pub rate: f64,
    /// Seed of the event sequence; a random one (reported by the status) when absent.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Share of events that place a new order (0..=1); the rest change existing orders.
    #[serde(default = "default_new_order_share")]
    pub new_order_share: f64,
}

impl LiveSettings {
    /// `rate` events per second, 70% of them new orders, with a random seed.
    pub fn new(rate: f64) -> LiveSettings {
        LiveSettings {
            rate,
            seed: None,
            new_order_share: default_new_order_share(),
        }
    }

    fn validate(&self) -> Result<(), String> {
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= MAX_RATE) {
            return Err(format!(
                "The field 'rate' must be a number of events per second above 0 and at most {MAX_RATE}."
            ));
        }
        if !(0.0..=1.0).contains(&self.new_order_share) {
            return Err("The field 'new_order_share' must be between 0 and 1.".to_string());
        }
        Ok(())
    }
}

/// What `GET /_sandbox/stores/{store_hash}/live` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveStatus {
    pub running: bool,
    /// Settings of the current (or last) run; `None` if live mode never ran.
    pub rate: Option<f64>,
    pub seed: Option<u64>,
    pub new_order_share: Option<f64>,
    /// Events performed by the current (or last) run.
    pub events_so_far: u64,
}

/// One store's run: its settings (seed resolved), its counter and its task.
#[derive(Debug)]
struct LiveRun {
    rate: f64,
    seed: u64,
    new_order_share: f64,
    events: Arc<AtomicU64>,
    task: AbortHandle,
    stopped: bool,
}

impl LiveRun {
    fn status(&self) -> LiveStatus {
        LiveStatus {
            running: !self.stopped && !self.task.is_finished(),
            rate: Some(self.rate),
            seed: Some(self.seed),
            new_order_share: Some(self.new_order_share),
            events_so_far: self.events.load(Ordering::Relaxed),
        }
    }
}

/// The live-mode runs of a sandbox's stores, by store hash.
#[derive(Debug, Default)]
pub struct LiveControl {
    runs: Mutex<HashMap<String, LiveRun>>,
}

impl LiveControl {
    /// Stops every store's live mode (the sandbox is shutting down).
    pub fn stop_all(&self) {
        for run in self.runs.lock().values_mut() {
            run.task.abort();
            run.stopped = true;
        }
    }
}

/// What live mode needs from the server it runs in: its stores, the runs it keeps, and the
/// webhook dispatcher that delivers what live changes fire. `SandboxState` implements it.
pub trait LiveHost: StoreLookup + 'static {
    /// The live-mode runs of the server's stores.
    fn live(&self) -> &LiveControl;
    /// Queues the webhooks that `events` fire; called after the store's lock is released.
    fn publish(&self, store: &Arc<StoreHandle>, events: Vec<Event>);
}

/// Starts live mode on a store, replacing a run already going. Must be called within a tokio
/// runtime.
pub fn start_live<H: LiveHost>(
    state: &Arc<H>,
    hash: &str,
    settings: LiveSettings,
) -> Result<(), String> {
    settings.validate()?;
    if state.find_store(hash).is_none() {
        return Err(format!("No sandbox store has the hash '{hash}'."));
    }
    let seed = settings.seed.unwrap_or_else(rand::random);
    let events = Arc::new(AtomicU64::new(0));
    let task = tokio::spawn(run(
        Arc::downgrade(state),
        hash.to_string(),
        settings.clone(),
        seed,
        events.clone(),
    ))
    .abort_handle();
    let run = LiveRun {
        rate: settings.rate,
        seed,
        new_order_share: settings.new_order_share,
        events,
        task,
        stopped: false,
    };
    if let Some(previous) = state.live().runs.lock().insert(hash.to_string(), run) {
        previous.task.abort();
    }
    tracing::info!(
        store.hash = hash,
        rate = settings.rate,
        seed,
        "live mode started"
    );
    Ok(())
}

/// Stops live mode on a store; `false` if it was not running.
pub fn stop_live<H: LiveHost>(state: &Arc<H>, hash: &str) -> bool {
    let mut runs = state.live().runs.lock();
    let Some(run) = runs.get_mut(hash) else {
        return false;
    };
    let was_running = run.status().running;
    run.task.abort();
    run.stopped = true;
    if was_running {
        tracing::info!(
            store.hash = hash,
            events = run.status().events_so_far,
            "live mode stopped"
        );
    }
    was_running
}

/// Whether live mode runs on a store, and how far it got.
pub fn live_status<H: LiveHost>(state: &Arc<H>, hash: &str) -> LiveStatus {
    state
        .live()
        .runs
        .lock()
        .get(hash)
        .map(LiveRun::status)
        .unwrap_or(LiveStatus {
            running: false,
            rate: None,
            seed: None,
            new_order_share: None,
            events_so_far: 0,
        })
}

/// The task of one run. It holds the sandbox weakly, so a dropped sandbox ends it, and looks the
/// store up at every wake-up, so a deleted store ends it too.
async fn run<H: LiveHost>(
    state: Weak<H>,
    hash: String,
    settings: LiveSettings,
    seed: u64,
    counter: Arc<AtomicU64>,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let started = tokio::time::Instant::now();
    let mut done: u64 = 0;
    loop {
        let next = started + Duration::from_secs_f64((done + 1) as f64 / settings.rate);
        tokio::time::sleep_until(next).await;
        let Some(state) = state.upgrade() else {
            return;
        };
        let Some(store) = state.find_store(&hash) else {
            tracing::info!(store.hash = %hash, "live mode ended: the store is gone");
            return;
        };
        let due = (started.elapsed().as_secs_f64() * settings.rate) as u64;
        let batch = due.saturating_sub(done).clamp(1, MAX_BATCH);
        let mut events = Vec::new();
        {
            let mut data = store.data.write();
            for _ in 0..batch {
                live_event(&mut rng, &mut data, settings.new_order_share, &mut events);
            }
        }
        // A task that fell more than a batch behind (a long pause, a huge rate) skips the
        // backlog rather than holding the store's lock to catch up.
        done = (done + batch).max(due);
        counter.fetch_add(batch, Ordering::Relaxed);
        state.publish(&store, events);
    }
}

/// What one live event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveAction {
    /// A new order was placed.
    Placed { order_id: u64 },
    /// An order's status changed.
    StatusChanged { order_id: u64, from: u32, to: u32 },
    /// Staff added a note to an order (`store/order/updated` without a status change).
    Noted { order_id: u64 },
    /// Nothing could be done (empty or sold-out catalog and no open orders).
    Idle,
}

/// Performs one live event on a store: with probability `new_order_share` a new order,
/// otherwise a change to one of the newest open orders (or a new order when none is open).
pub fn live_event(
    rng: &mut impl Rng,
    data: &mut StoreData,
    new_order_share: f64,
    events: &mut Vec<Event>,
) -> LiveAction {
    if rng.gen_bool(new_order_share.clamp(0.0, 1.0)) {
        return place_order(rng, data, events);
    }
    match change_order(rng, data, events) {
        LiveAction::Idle => place_order(rng, data, events),
        action => action,
    }
}

/// A shopper checks out what is in stock (a shopper who finds only sold-out items looks again,
/// a few times).
fn place_order(rng: &mut impl Rng, data: &mut StoreData, events: &mut Vec<Event>) -> LiveAction {
    let mut order = generate::random_new_order(rng, data);
    generate::fit_to_stock(data, &mut order);
    for _ in 0..4 {
        if !order.lines.is_empty() {
            break;
        }
        order = generate::random_new_order(rng, data);
        generate::fit_to_stock(data, &mut order);
    }
    if order.lines.is_empty() {
        return LiveAction::Idle;
    }
    let (status_id, payment_status) = match rng.gen_range(0..100) {
        0..=84 => (status::AWAITING_FULFILLMENT, "captured"),
        85..=94 => (status::AWAITING_PAYMENT, "pending"),
        95..=97 => (status::MANUAL_VERIFICATION, "authorized"),
        _ => (status::PENDING, ""),
    };
    if status_id == status::AWAITING_PAYMENT {
        order.payment_method = Some("Bank Deposit".to_string());
    }
    order.status_id = Some(status_id);
    let Ok(order_id) = data.place_order(order, events) else {
        return LiveAction::Idle;
    };
    if let Some(order) = data.orders.get_mut(&order_id) {
        order.payment_status = payment_status.to_string();
    }
    LiveAction::Placed { order_id }
}

/// Moves one of the newest open orders along: mostly orders waiting for payment or
/// verification; sometimes an order awaiting fulfillment is cancelled or gets a staff note.
/// Orders awaiting fulfillment are otherwise left to the integration under test to ship.
fn change_order(rng: &mut impl Rng, data: &mut StoreData, events: &mut Vec<Event>) -> LiveAction {
    let mut waiting = Vec::new();
    let mut open = Vec::new();
    for order in data.orders.values().rev().take(RECENT_ORDERS) {
        if order.is_deleted {
            continue;
        }
        match order.status_id {
            status::PENDING | status::AWAITING_PAYMENT | status::MANUAL_VERIFICATION => {
                waiting.push((order.id, order.status_id))
            }
            status::AWAITING_FULFILLMENT | status::AWAITING_SHIPMENT => {
                open.push((order.id, order.status_id))
            }
            _ => {}
        }
    }
    let use_waiting = !waiting.is_empty() && (open.is_empty() || rng.gen_bool(0.8));
    let (order_id, from, to) = if use_waiting {
        let (order_id, from) = waiting[rng.gen_range(0..waiting.len())];
        let to = match from {
            status::PENDING if rng.gen_bool(0.8) => status::AWAITING_PAYMENT,
            status::PENDING => status::CANCELLED,
            status::AWAITING_PAYMENT if rng.gen_bool(0.85) => status::AWAITING_FULFILLMENT,
            status::AWAITING_PAYMENT => status::CANCELLED,
            _ if rng.gen_bool(0.85) => status::AWAITING_FULFILLMENT,
            _ => status::DECLINED,
        };
        (order_id, from, to)
    } else if !open.is_empty() {
        let (order_id, from) = open[rng.gen_range(0..open.len())];
        if rng.gen_bool(0.5) {
            let note = STAFF_NOTES[rng.gen_range(0..STAFF_NOTES.len())];
            let update = OrderUpdate {
                staff_notes: Some(note.to_string()),
                ..OrderUpdate::default()
            };
            return match data.update_order(order_id, update, events) {
                Ok(()) => LiveAction::Noted { order_id },
                Err(_) => LiveAction::Idle,
            };
        }
        (order_id, from, status::CANCELLED)
    } else {
        return LiveAction::Idle;
    };
    let update = OrderUpdate {
        status_id: Some(to),
        ..OrderUpdate::default()
    };
    if data.update_order(order_id, update, events).is_err() {
        return LiveAction::Idle;
    }
    if let Some(order) = data.orders.get_mut(&order_id) {
        order.payment_status = match to {
            status::AWAITING_FULFILLMENT => "captured",
            status::AWAITING_PAYMENT => "pending",
            status::DECLINED => "declined",
            _ => "void",
        }
        .to_string();
    }
    LiveAction::StatusChanged { order_id, from, to }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_data(orders: usize) -> StoreData {
        let hash = crate::credentials::store_hash(1);
        let profile: crate::model::StoreProfile = serde_json::from_value(serde_json::json!({
            "id": hash, "name": "Live", "domain": "live.example",
            "admin_email": "", "order_email": "", "phone": "", "address": "",
            "country": "Canada", "country_code": "CA", "timezone_name": "America/Toronto",
            "timezone_raw_offset": -18000, "currency": "CAD", "currency_symbol": "$",
            "weight_units": "kg", "dimension_units": "Centimeters", "plan_name": "Standard",
            "plan_level": "Standard"
        }))
        .unwrap();
        let mut data = StoreData::new(&hash, profile, Vec::new());
        generate::populate(&mut data, 11, 80, orders);
        data
    }

    /// An order as live events left it: id, status, (SKU, quantity) of each line.
    type OrderSummary = (u64, u32, Vec<(String, u32)>);

    /// What live events did, without the wall-clock dates.
    fn summary(data: &StoreData) -> Vec<OrderSummary> {
        data.orders
            .values()
            .map(|o| {
                let lines = o
                    .lines
                    .iter()
                    .map(|l| (l.sku.clone(), l.quantity))
                    .collect();
                (o.id, o.status_id, lines)
            })
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_events() {
        let mut runs = Vec::new();
        for _ in 0..2 {
            let mut data = store_data(50);
            let mut rng = ChaCha8Rng::seed_from_u64(5);
            let mut events = Vec::new();
            let actions: Vec<LiveAction> = (0..300)
                .map(|_| live_event(&mut rng, &mut data, 0.7, &mut events))
                .collect();
            runs.push((actions, summary(&data)));
        }
        assert_eq!(runs[0], runs[1]);
    }

    #[test]
    fn live_events_place_orders_and_move_open_ones_along() {
        let mut data = store_data(100);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut events = Vec::new();
        let actions: Vec<LiveAction> = (0..1_000)
            .map(|_| live_event(&mut rng, &mut data, 0.7, &mut events))
            .collect();
        let placed = actions
            .iter()
            .filter(|a| matches!(a, LiveAction::Placed { .. }))
            .count();
        let changed = actions
            .iter()
            .filter(|a| matches!(a, LiveAction::StatusChanged { .. }))
            .count();
        let idle = actions.iter().filter(|a| **a == LiveAction::Idle).count();
        assert!(
            (600..=800).contains(&placed),
            "placed {placed}, idle {idle}"
        );
        assert!(changed >= 100, "status changes {changed}");
        assert!(idle < 20, "idle {idle}");
        assert!(actions.iter().any(|a| matches!(
            a,
            LiveAction::StatusChanged {
                from: status::AWAITING_PAYMENT,
                to: status::AWAITING_FULFILLMENT,
                ..
            }
        )));
        assert!(events.iter().any(|e| e.scope == "store/order/created"));
        assert!(events
            .iter()
            .any(|e| e.scope == "store/order/statusUpdated"));
        for product in data.products.values() {
            assert!(product.inventory_level >= 0);
            assert!(product.variants.iter().all(|v| v.inventory_level >= 0));
        }
    }
}
