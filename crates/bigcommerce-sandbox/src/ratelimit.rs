//! The store's API quota: one fixed window per store, shared by every API account of the store,
//! as BigCommerce documents it ("All apps accessing the store share the store's quota").

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A store plan's request quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    /// Standard: 150 requests per 30 s.
    Standard,
    /// Plus: 150 requests per 30 s.
    Plus,
    /// Pro: 450 requests per 30 s.
    Pro,
    /// Enterprise with an unlimited rate plan: no quota.
    Unlimited,
}

impl Plan {
    /// The documented quota per 30-second window, `None` for unlimited.
    pub fn quota(self) -> Option<u32> {
        match self {
            Plan::Standard | Plan::Plus => Some(150),
            Plan::Pro => Some(450),
            Plan::Unlimited => None,
        }
    }

    /// The plan's name as `GET /v2/store` reports it.
    pub fn display_name(self) -> &'static str {
        match self {
            Plan::Standard => "Standard",
            Plan::Plus => "Plus",
            Plan::Pro => "Pro",
            Plan::Unlimited => "Enterprise",
        }
    }

    /// Parses `standard`, `plus`, `pro`, `unlimited` (or `enterprise`).
    pub fn parse(s: &str) -> Option<Plan> {
        match s.to_ascii_lowercase().as_str() {
            "standard" => Some(Plan::Standard),
            "plus" => Some(Plan::Plus),
            "pro" => Some(Plan::Pro),
            "unlimited" | "enterprise" => Some(Plan::Unlimited),
            _ => None,
        }
    }
}

/// The quota in force: `quota` requests per `window_ms` (None = unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub quota: Option<u32>,
    pub window_ms: u64,
}

impl RateLimit {
    /// The plan's documented limit (30-second windows).
    pub fn for_plan(plan: Plan) -> RateLimit {
        RateLimit {
            quota: plan.quota(),
            window_ms: 30_000,
        }
    }
}

/// What the four `X-Rate-Limit-*` headers say after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStatus {
    pub window_ms: u64,
    pub reset_ms: u64,
    pub quota: u64,
    pub left: u64,
    /// Whether the request was refused (429).
    pub limited: bool,
}

/// The quota reported for an unlimited store, which still gets the headers.
pub const UNLIMITED_QUOTA: u64 = 10_000_000;

/// A fixed window that starts with the first request after the previous one ended.
#[derive(Debug)]
pub struct RateWindow {
    limit: RateLimit,
    /// When the current window began: at the first request after the previous one ended.
    started: Option<Instant>,
    used: u64,
}

impl RateWindow {
    pub fn new(limit: RateLimit) -> RateWindow {
        RateWindow {
            limit,
            started: None,
            used: 0,
        }
    }

    /// The limit in force.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Changes the limit and starts a fresh window.
    pub fn set_limit(&mut self, limit: RateLimit) {
        *self = RateWindow::new(limit);
    }

    /// Counts one request at `now`, or refuses it when the window's quota is spent.
    pub fn take(&mut self, now: Instant) -> RateStatus {
        let window = Duration::from_millis(self.limit.window_ms.max(1));
        let started = match self.started {
            Some(started) if now.saturating_duration_since(started) < window => started,
            _ => {
                self.started = Some(now);
                self.used = 0;
                now
            }
        };
        let reset_ms = (started + window)
            .saturating_duration_since(now)
            .as_millis() as u64;
        let quota = self.limit.quota.map(u64::from).unwrap_or(UNLIMITED_QUOTA);
        let limited = self.limit.quota.is_some() && self.used >= quota;
        if !limited {
            self.used += 1;
        }
        RateStatus {
            window_ms: self.limit.window_ms,
            reset_ms,
            quota,
            left: quota.saturating_sub(self.used),
            limited,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_is_spent_then_refreshed_after_the_window() {
        let mut window = RateWindow::new(RateLimit {
            quota: Some(2),
            window_ms: 1000,
        });
        let t0 = Instant::now();
        assert_eq!(window.take(t0).left, 1);
        assert_eq!(window.take(t0).left, 0);
        let refused = window.take(t0 + Duration::from_millis(400));
        assert!(refused.limited);
        assert_eq!(refused.reset_ms, 600);
        let fresh = window.take(t0 + Duration::from_millis(1000));
        assert!(!fresh.limited);
        assert_eq!(fresh.left, 1);
    }
}
