//! Per-operation token buckets for one seller, shared by every client of the process.
//!
//! Amazon meters each operation on its own bucket (a rate per second and a burst) per app and
//! seller. The hub keeps a model of those buckets in the registry's [`crate::channel::Limiters`],
//! keyed by the seller id, so the scheduler's walks, the outbox worker's confirmations and a
//! stock push of one seller all draw from one budget per operation, requests in flight
//! included (`docs/HARD-PROBLEMS.md` note 3). The model starts full at the model's burst,
//! follows the rate Amazon reports in `x-amzn-RateLimit-Limit`, and is emptied by a 429 (the
//! server's bucket was emptier than ours, e.g. another app of the seller).
//!
//! Priorities: a request waiting for a bucket is in the class of its scope
//! ([`crate::channel::current_priority`]). A lower class never takes a token while a higher one
//! waits for the same bucket; an `Urgent` confirmation therefore waits behind at most the
//! request that took the last token. When nothing waits nothing changes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::channel::Priority;

/// An SP-API operation the hub calls, with its usage plan from Amazon's models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `getOrders` (Orders v0): 0.0167/s, burst 20.
    GetOrders,
    /// `getOrder` (v0 or 2026-01-01): 0.5/s, burst 30.
    GetOrder,
    /// `getOrderItems` (v0): 0.5/s, burst 30.
    GetOrderItems,
    /// `getOrderAddress` (v0): 0.5/s, burst 30.
    GetOrderAddress,
    /// `searchOrders` (2026-01-01): 0.0056/s, burst 20.
    SearchOrders,
    /// `confirmShipment` (v0): 2/s, burst 10.
    ConfirmShipment,
    /// `getListingsItem`: 5/s, burst 10.
    GetListingsItem,
    /// `patchListingsItem`: 5/s, burst 5.
    PatchListingsItem,
    /// `createRestrictedDataToken`: 1/s, burst 10.
    CreateRestrictedDataToken,
}

impl Operation {
    /// Amazon's name of the operation (logs, errors).
    pub fn name(self) -> &'static str {
        match self {
            Operation::GetOrders => "getOrders",
            Operation::GetOrder => "getOrder",
            Operation::GetOrderItems => "getOrderItems",
            Operation::GetOrderAddress => "getOrderAddress",
            Operation::SearchOrders => "searchOrders",
            Operation::ConfirmShipment => "confirmShipment",
            Operation::GetListingsItem => "getListingsItem",
            Operation::PatchListingsItem => "patchListingsItem",
            Operation::CreateRestrictedDataToken => "createRestrictedDataToken",
        }
    }

    /// `(rate per second, burst)` of the operation's default usage plan.
    pub fn plan(self) -> (f64, f64) {
        match self {
            Operation::GetOrders => (0.0167, 20.0),
            Operation::GetOrder | Operation::GetOrderItems | Operation::GetOrderAddress => {
                (0.5, 30.0)
            }
            Operation::SearchOrders => (0.0056, 20.0),
            Operation::ConfirmShipment => (2.0, 10.0),
            Operation::GetListingsItem => (5.0, 10.0),
            Operation::PatchListingsItem => (5.0, 5.0),
            Operation::CreateRestrictedDataToken => (1.0, 10.0),
        }
    }

    /// Whether sending it twice does no harm, so a 5xx or a dropped connection may be retried
    /// at once: reads, a token request, and setting an absolute quantity. `confirmShipment` is
    /// not: the outbox reads back before any retry of it.
    pub fn idempotent(self) -> bool {
        !matches!(self, Operation::ConfirmShipment)
    }
}

#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
    /// Requests waiting, by class (`Priority as usize`).
    waiting: [u32; 4],
}

impl Bucket {
    fn new(operation: Operation, now: Instant) -> Self {
        let (rate, burst) = operation.plan();
        Bucket {
            rate,
            burst,
            tokens: burst,
            at: now,
            waiting: [0; 4],
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now;
    }
}

/// The buckets of one seller, and what they did. Shared through the registry's limiters.
#[derive(Debug, Default)]
pub struct SellerLimiter {
    buckets: Mutex<HashMap<Operation, Bucket>>,
    sent: AtomicU64,
    throttled: AtomicU64,
    rate_limited: AtomicU64,
}

/// What the buckets did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimiterStats {
    /// Requests sent (each attempt).
    pub sent: u64,
    /// Requests that waited for a bucket.
    pub throttled: u64,
    /// 429 answers.
    pub rate_limited: u64,
}

/// Takes the request off the waiting count however its future ends.
struct Waiting<'a> {
    limiter: &'a SellerLimiter,
    operation: Operation,
    class: usize,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut buckets = self.limiter.lock();
        if let Some(bucket) = buckets.get_mut(&self.operation) {
            bucket.waiting[self.class] = bucket.waiting[self.class].saturating_sub(1);
        }
    }
}

/// The longest a waiting request sleeps before looking again (a 429 or a new rate may change
/// its turn).
const MAX_NAP: Duration = Duration::from_secs(2);

impl SellerLimiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Operation, Bucket>> {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a token of `operation` in the class `priority`, then takes it.
    pub async fn acquire(&self, operation: Operation, priority: Priority) {
        let class = priority as usize;
        let mut waiting: Option<Waiting<'_>> = None;
        loop {
            let nap = {
                let mut buckets = self.lock();
                let now = Instant::now();
                let bucket = buckets
                    .entry(operation)
                    .or_insert_with(|| Bucket::new(operation, now));
                bucket.refill(now);
                let higher_waits = bucket.waiting[..class].iter().any(|n| *n > 0);
                if bucket.tokens >= 1.0 && !higher_waits {
                    bucket.tokens -= 1.0;
                    self.sent.fetch_add(1, Ordering::Relaxed);
                    drop(buckets);
                    drop(waiting);
                    return;
                }
                if waiting.is_none() {
                    bucket.waiting[class] += 1;
                    self.throttled.fetch_add(1, Ordering::Relaxed);
                }
                if bucket.tokens >= 1.0 {
                    // A higher class is about to take it.
                    Duration::from_millis(5)
                } else {
                    Duration::from_secs_f64((1.0 - bucket.tokens) / bucket.rate.max(1e-6))
                }
            };
            if waiting.is_none() {
                waiting = Some(Waiting {
                    limiter: self,
                    operation,
                    class,
                });
            }
            tokio::time::sleep(nap.clamp(Duration::from_millis(1), MAX_NAP)).await;
        }
    }

    /// Follows the rate Amazon reports for the operation (`x-amzn-RateLimit-Limit`).
    pub fn set_rate(&self, operation: Operation, rate: f64) {
        if !(rate.is_finite() && rate > 0.0) {
            return;
        }
        let mut buckets = self.lock();
        let now = Instant::now();
        let bucket = buckets
            .entry(operation)
            .or_insert_with(|| Bucket::new(operation, now));
        bucket.refill(now);
        bucket.rate = rate;
    }

    /// A 429: Amazon's bucket is empty, so ours is too.
    pub fn exhausted(&self, operation: Operation) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
        let mut buckets = self.lock();
        let now = Instant::now();
        let bucket = buckets
            .entry(operation)
            .or_insert_with(|| Bucket::new(operation, now));
        bucket.refill(now);
        bucket.tokens = bucket.tokens.min(0.0);
    }

    /// What the buckets did so far.
    pub fn stats(&self) -> LimiterStats {
        LimiterStats {
            sent: self.sent.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_bucket_gives_its_burst_then_paces_at_its_rate() {
        let limiter = SellerLimiter::default();
        limiter.set_rate(Operation::PatchListingsItem, 5.0);
        let started = Instant::now();
        for _ in 0..5 {
            limiter
                .acquire(Operation::PatchListingsItem, Priority::Sync)
                .await;
        }
        assert!(started.elapsed() < Duration::from_millis(10));
        assert_eq!(limiter.stats().throttled, 0);
    }

    #[tokio::test]
    async fn an_urgent_request_goes_before_a_waiting_backfill() {
        let limiter = Arc::new(SellerLimiter::default());
        limiter.set_rate(Operation::ConfirmShipment, 20.0);
        for _ in 0..10 {
            limiter
                .acquire(Operation::ConfirmShipment, Priority::Sync)
                .await;
        }
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (i, class) in [Priority::Backfill, Priority::Backfill, Priority::Urgent]
            .into_iter()
            .enumerate()
        {
            let (limiter, order) = (limiter.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(i as u64)).await;
                limiter.acquire(Operation::ConfirmShipment, class).await;
                order.lock().unwrap().push(class);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let order = order.lock().unwrap();
        assert_eq!(order[0], Priority::Urgent, "{order:?}");
    }
}
