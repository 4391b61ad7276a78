//! One store as the server keeps it ([`StoreHandle`]: its data, its request quota, its faults
//! and its request log), and [`StoreLookup`], the way the webhook dispatcher and live mode find
//! a store by hash without knowing the server's state. Both sit below [`crate::state`], which
//! implements the lookup and re-exports the handle, so that `state` may own the dispatcher and
//! the live runs while `webhooks` and `live` never name `state`.

use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::faults::FaultPlan;
use crate::log::RequestLog;
use crate::ratelimit::{Plan, RateWindow};
use crate::store::StoreData;

/// One store and everything the server keeps about it.
#[derive(Debug)]
pub struct StoreHandle {
    pub hash: String,
    pub plan: Plan,
    pub data: RwLock<StoreData>,
    pub rate: Mutex<RateWindow>,
    pub faults: Mutex<FaultPlan>,
    pub log: Mutex<RequestLog>,
}

/// The stores of a server, by hash. `SandboxState` implements it; the webhook dispatcher and
/// live mode hold it weakly, so a dropped server ends their tasks, and look a store up at every
/// step, so a deleted or replaced store is honoured.
pub trait StoreLookup: Send + Sync {
    /// The store with this hash.
    fn find_store(&self, hash: &str) -> Option<Arc<StoreHandle>>;
}
