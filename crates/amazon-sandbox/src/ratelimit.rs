//! Per-operation token buckets, as the Selling Partner API's usage plans work: each operation
//! has a rate (tokens added per second) and a burst (the bucket's size), per app and seller;
//! a request takes one token or is refused with 429 `QuotaExceeded`. The defaults are those of
//! Amazon's published models; [`RateLimiter::new`] takes a scale so tests and benchmarks need
//! not wait minutes for a `getOrders` token (scale 60 turns 0.0167/s into one a second).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::auth::Role;

/// An operation of the emulated APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Operation {
    GetOrders,
    GetOrder,
    GetOrderBuyerInfo,
    GetOrderAddress,
    GetOrderItems,
    ConfirmShipment,
    SearchOrders,
    GetOrder2026,
    CreateRestrictedDataToken,
    GetListingsItem,
    PatchListingsItem,
}

impl Operation {
    pub const ALL: [Operation; 11] = [
        Operation::GetOrders,
        Operation::GetOrder,
        Operation::GetOrderBuyerInfo,
        Operation::GetOrderAddress,
        Operation::GetOrderItems,
        Operation::ConfirmShipment,
        Operation::SearchOrders,
        Operation::GetOrder2026,
        Operation::CreateRestrictedDataToken,
        Operation::GetListingsItem,
        Operation::PatchListingsItem,
    ];

    /// The operation id in Amazon's models (`getOrders`); the 2026 `getOrder` is
    /// `getOrder (2026-01-01)` to keep the two apart.
    pub fn name(self) -> &'static str {
        match self {
            Operation::GetOrders => "getOrders",
            Operation::GetOrder => "getOrder",
            Operation::GetOrderBuyerInfo => "getOrderBuyerInfo",
            Operation::GetOrderAddress => "getOrderAddress",
            Operation::GetOrderItems => "getOrderItems",
            Operation::ConfirmShipment => "confirmShipment",
            Operation::SearchOrders => "searchOrders",
            Operation::GetOrder2026 => "getOrder (2026-01-01)",
            Operation::CreateRestrictedDataToken => "createRestrictedDataToken",
            Operation::GetListingsItem => "getListingsItem",
            Operation::PatchListingsItem => "patchListingsItem",
        }
    }

    /// The default usage plan: (requests per second, burst).
    pub fn usage_plan(self) -> (f64, u32) {
        match self {
            Operation::GetOrders => (0.0167, 20),
            Operation::GetOrder
            | Operation::GetOrderBuyerInfo
            | Operation::GetOrderAddress
            | Operation::GetOrderItems
            | Operation::GetOrder2026 => (0.5, 30),
            Operation::ConfirmShipment => (2.0, 10),
            Operation::SearchOrders => (0.0056, 20),
            Operation::CreateRestrictedDataToken => (1.0, 10),
            Operation::GetListingsItem => (5.0, 10),
            Operation::PatchListingsItem => (5.0, 5),
        }
    }

    /// The role an app needs for the operation.
    pub fn role(self) -> Role {
        match self {
            Operation::CreateRestrictedDataToken => Role::RestrictedData,
            Operation::GetListingsItem | Operation::PatchListingsItem => Role::Listings,
            _ => Role::Orders,
        }
    }

    /// Operations that only a restricted data token opens: they return nothing but personal
    /// data, so an LWA access token is refused rather than answered empty.
    pub fn restricted_only(self) -> bool {
        matches!(
            self,
            Operation::GetOrderAddress | Operation::GetOrderBuyerInfo
        )
    }

    /// The operation served at a route template (`/orders/v0/orders/{orderId}`) and method.
    pub fn of_route(method: &str, route: &str) -> Option<Operation> {
        Some(match (method, route) {
            ("GET", "/orders/v0/orders") => Operation::GetOrders,
            ("GET", "/orders/v0/orders/{orderId}") => Operation::GetOrder,
            ("GET", "/orders/v0/orders/{orderId}/buyerInfo") => Operation::GetOrderBuyerInfo,
            ("GET", "/orders/v0/orders/{orderId}/address") => Operation::GetOrderAddress,
            ("GET", "/orders/v0/orders/{orderId}/orderItems") => Operation::GetOrderItems,
            ("POST", "/orders/v0/orders/{orderId}/shipmentConfirmation") => {
                Operation::ConfirmShipment
            }
            ("GET", "/orders/2026-01-01/orders") => Operation::SearchOrders,
            ("GET", "/orders/2026-01-01/orders/{orderId}") => Operation::GetOrder2026,
            ("POST", "/tokens/2021-03-01/restrictedDataToken") => {
                Operation::CreateRestrictedDataToken
            }
            ("GET", "/listings/2021-08-01/items/{sellerId}/{sku}") => Operation::GetListingsItem,
            ("PATCH", "/listings/2021-08-01/items/{sellerId}/{sku}") => {
                Operation::PatchListingsItem
            }
            _ => return None,
        })
    }
}

/// One bucket: `tokens` at `at`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: DateTime<Utc>,
}

/// What the limiter decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateDecision {
    /// The rate in force (requests per second), for `x-amzn-RateLimit-Limit`.
    pub rate: f64,
    pub allowed: bool,
}

/// Token buckets per app and operation.
#[derive(Debug)]
pub struct RateLimiter {
    scale: f64,
    buckets: HashMap<(String, Operation), Bucket>,
}

impl RateLimiter {
    /// Amazon's usage plans with every rate multiplied by `scale` (bursts unchanged); a scale of
    /// 0 or less turns limiting off.
    pub fn new(scale: f64) -> RateLimiter {
        RateLimiter {
            scale,
            buckets: HashMap::new(),
        }
    }

    /// The rate of an operation as served.
    pub fn rate(&self, operation: Operation) -> f64 {
        operation.usage_plan().0 * self.scale.max(0.0)
    }

    /// Changes the scale; buckets start full again.
    pub fn set_scale(&mut self, scale: f64) {
        self.scale = scale;
        self.buckets.clear();
    }

    /// Takes a token of `operation` for `app` at `now`, or refuses.
    pub fn take(&mut self, app: &str, operation: Operation, now: DateTime<Utc>) -> RateDecision {
        let rate = self.rate(operation);
        if self.scale <= 0.0 {
            return RateDecision {
                rate,
                allowed: true,
            };
        }
        let burst = f64::from(operation.usage_plan().1);
        let bucket = self
            .buckets
            .entry((app.to_string(), operation))
            .or_insert(Bucket {
                tokens: burst,
                at: now,
            });
        // To the microsecond: whole milliseconds, with `at` moved to `now` on every take, lost
        // up to a millisecond per request, which at a scaled rate of 500/s halved the refill
        // and made a client that paced itself right see 429s.
        let elapsed = (now - bucket.at)
            .num_microseconds()
            .unwrap_or(i64::MAX)
            .max(0) as f64
            / 1_000_000.0;
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.at = now;
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        }
        RateDecision { rate, allowed }
    }
}

/// The header value for a rate: Amazon's models write rates like `0.0167` and `2`.
pub fn header_value(rate: f64) -> String {
    let text = format!("{rate:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() {
        "0".to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_bursts_then_refills_at_its_rate() {
        let mut limiter = RateLimiter::new(1.0);
        let t0 = Utc::now();
        for _ in 0..10 {
            assert!(limiter.take("a", Operation::ConfirmShipment, t0).allowed);
        }
        assert!(!limiter.take("a", Operation::ConfirmShipment, t0).allowed);
        // Another app has its own bucket.
        assert!(limiter.take("b", Operation::ConfirmShipment, t0).allowed);
        let later = t0 + chrono::Duration::milliseconds(500);
        assert!(limiter.take("a", Operation::ConfirmShipment, later).allowed);
        assert!(!limiter.take("a", Operation::ConfirmShipment, later).allowed);
    }

    #[test]
    fn requests_spaced_at_the_rate_are_all_allowed_however_fine_the_spacing() {
        // getListingsItem at 100 times Amazon's rate: 500/s, a token every 2 ms. Requests
        // arriving 1.9 ms and 2.2 ms apart in turn (2.05 ms on average, within the rate) must
        // never be refused. They were, when the time between takes was cut to whole
        // milliseconds (1 ms and 2 ms: three quarters of the rate).
        let mut limiter = RateLimiter::new(100.0);
        let mut at = Utc::now();
        let mut refused = 0;
        for i in 0..2_000 {
            if !limiter.take("a", Operation::GetListingsItem, at).allowed {
                refused += 1;
            }
            at += chrono::Duration::microseconds(if i % 2 == 0 { 1_900 } else { 2_200 });
        }
        assert_eq!(refused, 0);
    }

    #[test]
    fn header_values_read_like_the_models() {
        assert_eq!(header_value(0.0167), "0.0167");
        assert_eq!(header_value(2.0), "2");
        assert_eq!(header_value(0.5), "0.5");
    }

    #[test]
    fn every_route_maps_to_its_operation() {
        for op in Operation::ALL {
            assert!(op.usage_plan().0 > 0.0, "{}", op.name());
        }
        assert_eq!(
            Operation::of_route("POST", "/orders/v0/orders/{orderId}/shipmentConfirmation"),
            Some(Operation::ConfirmShipment)
        );
        assert_eq!(Operation::of_route("DELETE", "/orders/v0/orders"), None);
    }
}
