//! The request log and per-endpoint counters each store keeps, for tests and benchmarks
//! ("how many requests did that import take?").

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

/// One API request as the sandbox saw it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub method: String,
    pub path: String,
    pub query: String,
    /// The route template, e.g. `GET /v2/orders/{order_id}`.
    pub endpoint: String,
    pub status: u16,
    /// Profile of the API account, when the token was known.
    pub profile: Option<String>,
    /// The fault that struck, if any.
    pub fault: Option<String>,
    pub duration_us: u64,
}

/// A bounded log plus counters that never drop.
#[derive(Debug)]
pub struct RequestLog {
    capacity: usize,
    next_seq: u64,
    records: VecDeque<RequestRecord>,
    /// Requests by endpoint template.
    pub by_endpoint: BTreeMap<String, u64>,
    /// Requests by status code.
    pub by_status: BTreeMap<u16, u64>,
}

/// Counters as the control API reports them.
#[derive(Debug, Clone, Serialize)]
pub struct Counters {
    pub total: u64,
    pub by_endpoint: BTreeMap<String, u64>,
    pub by_status: BTreeMap<u16, u64>,
}

impl RequestLog {
    pub fn new(capacity: usize) -> RequestLog {
        RequestLog {
            capacity,
            next_seq: 1,
            records: VecDeque::new(),
            by_endpoint: BTreeMap::new(),
            by_status: BTreeMap::new(),
        }
    }

    /// Appends a record (its `seq` is assigned here).
    pub fn push(&mut self, mut record: RequestRecord) {
        record.seq = self.next_seq;
        self.next_seq += 1;
        *self.by_endpoint.entry(record.endpoint.clone()).or_default() += 1;
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

    /// The counters.
    pub fn counters(&self) -> Counters {
        Counters {
            total: self.by_status.values().sum(),
            by_endpoint: self.by_endpoint.clone(),
            by_status: self.by_status.clone(),
        }
    }

    /// Forgets records and counters.
    pub fn clear(&mut self) {
        self.records.clear();
        self.by_endpoint.clear();
        self.by_status.clear();
    }
}
