//! The request log the sandbox keeps of SP-API calls, for tests and benchmarks ("how many
//! `getOrders` did that import take?", "was `confirmShipment` called twice?").

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

/// One SP-API request as the sandbox saw it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub seq: u64,
    /// Milliseconds since the Unix epoch (sandbox clock).
    pub at_ms: i64,
    pub method: String,
    pub path: String,
    pub query: String,
    /// The operation (`getOrders`), when the path is one.
    pub operation: Option<String>,
    pub status: u16,
    /// The profile of the token's app, when the token was valid.
    pub profile: Option<String>,
    /// The fault that struck, if any.
    pub fault: Option<String>,
}

/// A bounded log plus counters that never drop.
#[derive(Debug)]
pub struct RequestLog {
    capacity: usize,
    next_seq: u64,
    records: VecDeque<RequestRecord>,
    by_operation: BTreeMap<String, u64>,
    by_status: BTreeMap<u16, u64>,
}

/// Counters as the control API reports them.
#[derive(Debug, Clone, Serialize)]
pub struct Counters {
    pub total: u64,
    pub by_operation: BTreeMap<String, u64>,
    pub by_status: BTreeMap<u16, u64>,
}

impl RequestLog {
    pub fn new(capacity: usize) -> RequestLog {
        RequestLog {
            capacity: capacity.max(1),
            next_seq: 1,
            records: VecDeque::new(),
            by_operation: BTreeMap::new(),
            by_status: BTreeMap::new(),
        }
    }

    /// Appends a record (its `seq` is assigned here).
    pub fn push(&mut self, mut record: RequestRecord) {
        record.seq = self.next_seq;
        self.next_seq += 1;
        let operation = record.operation.clone().unwrap_or_else(|| "unknown".into());
        *self.by_operation.entry(operation).or_default() += 1;
        *self.by_status.entry(record.status).or_default() += 1;
        if self.records.len() == self.capacity {
            self.records.pop_front();
        }
        self.records.push_back(record);
    }

    /// Records with `seq > after`.
    pub fn since(&self, after: u64) -> Vec<RequestRecord> {
        self.records
            .iter()
            .filter(|r| r.seq > after)
            .cloned()
            .collect()
    }

    pub fn counters(&self) -> Counters {
        Counters {
            total: self.by_status.values().sum(),
            by_operation: self.by_operation.clone(),
            by_status: self.by_status.clone(),
        }
    }

    pub fn clear(&mut self) {
        self.records.clear();
        self.by_operation.clear();
        self.by_status.clear();
    }
}
