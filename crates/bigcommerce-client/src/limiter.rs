//! The per-store request pacer (`docs/HARD-PROBLEMS.md` note 3).
//!
//! BigCommerce gives each store one quota (150 or 450 requests per 30 s window) shared by every
//! app. Every response carries `X-Rate-Limit-Requests-Left`, `-Requests-Quota`,
//! `-Time-Reset-Ms` and `-Time-Window-Ms`; the limiter keeps an estimate of what is left in
//! the current window and makes a request wait when sending it would dip into the share left
//! to other apps (`(1 - quota_share) * quota`, 20% by default) until the window resets.
//!
//! # How the estimate stays safe under concurrency
//! - Each send reserves one unit *before* it leaves (`left -= 1`), so concurrent tasks cannot
//!   all see the same "left" and overshoot together.
//! - An observation can only lower the estimate within a window:
//!   `left = min(left, observed_left - other_requests_in_flight)`. Responses arrive out of
//!   order and an older one must not give back units that were already spent.
//! - Every reset time the limiter holds is an upper bound of the real one (it is the arrival
//!   time plus the server's countdown), so after it passes the window really has reset. At that
//!   point the estimate refills to `quota - in_flight`: requests still in flight may land in
//!   the new window.
//! - Windows are numbered (epochs). A response to a request sent in an earlier epoch is stale
//!   and ignored; a response whose reset is more than half a window later than expected
//!   reveals that the server already started a new window, and its numbers are taken as-is.
//! - Before the first response nothing is known, so exactly one probe request goes alone.
//!   If responses carry no rate-limit headers at all (an unlimited plan, some proxies), there
//!   is nothing to pace on and requests flow freely.
//! - When less than half of our share is left in a window, the rest is spread evenly until the
//!   reset instead of being spent in one burst.
//!
//! A 429 blocks every task of the store until its reset (or a backoff when it has no headers).
//! All clones of a [`crate::Client`] share one limiter through an `Arc`; to share it between
//! separately built clients of the same store use [`crate::Client::with_limiter`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use reqwest::header::HeaderMap;
use tokio::sync::Notify;
use tokio::time::Instant;

/// `X-Rate-Limit-Requests-Left`: requests left in the current window.
pub const HEADER_REQUESTS_LEFT: &str = "x-rate-limit-requests-left";
/// `X-Rate-Limit-Requests-Quota`: requests allowed per window.
pub const HEADER_REQUESTS_QUOTA: &str = "x-rate-limit-requests-quota";
/// `X-Rate-Limit-Time-Reset-Ms`: milliseconds until the window resets.
pub const HEADER_TIME_RESET_MS: &str = "x-rate-limit-time-reset-ms";
/// `X-Rate-Limit-Time-Window-Ms`: the window's length in milliseconds.
pub const HEADER_TIME_WINDOW_MS: &str = "x-rate-limit-time-window-ms";

/// BigCommerce's documented window, used until a response says otherwise.
const DEFAULT_WINDOW: Duration = Duration::from_secs(30);

/// The rate-limit headers of one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimitHeaders {
    /// `X-Rate-Limit-Requests-Left`.
    pub requests_left: Option<u64>,
    /// `X-Rate-Limit-Requests-Quota`.
    pub requests_quota: Option<u64>,
    /// `X-Rate-Limit-Time-Reset-Ms`.
    pub time_reset_ms: Option<u64>,
    /// `X-Rate-Limit-Time-Window-Ms`.
    pub time_window_ms: Option<u64>,
}

impl RateLimitHeaders {
    /// Reads the headers (names are case-insensitive); unparseable values are ignored.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .and_then(|text| {
                    let text = text.trim();
                    text.parse::<u64>()
                        .ok()
                        .or_else(|| text.parse::<f64>().ok().map(|f| f.max(0.0) as u64))
                })
        };
        Self {
            requests_left: number(HEADER_REQUESTS_LEFT),
            requests_quota: number(HEADER_REQUESTS_QUOTA),
            time_reset_ms: number(HEADER_TIME_RESET_MS),
            time_window_ms: number(HEADER_TIME_WINDOW_MS),
        }
    }

    /// Whether the response said anything the pacer can use.
    pub fn is_usable(&self) -> bool {
        self.requests_left.is_some() && self.requests_quota.is_some()
    }
}

/// Counters for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LimiterStats {
    /// Requests handed to the network (every attempt, retries included).
    pub requests_sent: u64,
    /// 429 responses seen.
    pub rate_limited: u64,
    /// Requests that had to wait for the pacer before being sent.
    pub throttled: u64,
    /// The last `X-Rate-Limit-Requests-Left` seen.
    pub last_requests_left: Option<u64>,
    /// The last `X-Rate-Limit-Requests-Quota` seen.
    pub last_quota: Option<u64>,
    /// The last `X-Rate-Limit-Time-Window-Ms` seen.
    pub last_window_ms: Option<u64>,
    /// Requests currently in flight.
    pub in_flight: u64,
}

/// One store's pacer. Cheap to share behind an `Arc`.
pub struct RateLimiter {
    enabled: bool,
    quota_share: f64,
    state: Mutex<State>,
    notify: Notify,
    requests_sent: AtomicU64,
    rate_limited: AtomicU64,
    throttled: AtomicU64,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("enabled", &self.enabled)
            .field("quota_share", &self.quota_share)
            .field("stats", &self.stats())
            .finish()
    }
}

#[derive(Debug)]
struct State {
    quota: Option<u64>,
    window: Duration,
    /// Estimated requests left in the current window (may go negative transiently).
    left: i64,
    /// Upper bound of the current window's reset time.
    reset_at: Option<Instant>,
    epoch: u64,
    in_flight: u64,
    next_allowed: Option<Instant>,
    blocked_until: Option<Instant>,
    saw_headerless_response: bool,
    last: RateLimitHeaders,
}

#[derive(Debug, PartialEq, Eq)]
enum Decision {
    Go { epoch: u64 },
    WaitUntil(Instant),
    WaitForResponse,
}

impl State {
    fn new() -> Self {
        Self {
            quota: None,
            window: DEFAULT_WINDOW,
            left: 0,
            reset_at: None,
            epoch: 0,
            in_flight: 0,
            next_allowed: None,
            blocked_until: None,
            saw_headerless_response: false,
            last: RateLimitHeaders::default(),
        }
    }

    fn go(&mut self) -> Decision {
        self.in_flight += 1;
        Decision::Go { epoch: self.epoch }
    }

    fn decide(&mut self, now: Instant, enabled: bool, share: f64) -> Decision {
        if let Some(until) = self.blocked_until {
            if now < until {
                return Decision::WaitUntil(until);
            }
            self.blocked_until = None;
        }
        if !enabled {
            return self.go();
        }
        let Some(quota) = self.quota else {
            // Nothing known yet: one probe at a time, unless the API never sends headers.
            if self.in_flight == 0 || self.saw_headerless_response {
                return self.go();
            }
            return Decision::WaitForResponse;
        };
        let reset_at = match self.reset_at {
            Some(reset_at) if now < reset_at => reset_at,
            _ => {
                // The window has certainly reset; requests still in flight may count in it.
                self.epoch += 1;
                self.left = quota as i64 - self.in_flight as i64;
                self.next_allowed = None;
                let reset_at = now + self.window;
                self.reset_at = Some(reset_at);
                reset_at
            }
        };
        if let Some(next) = self.next_allowed {
            if now < next {
                return Decision::WaitUntil(next.min(reset_at));
            }
        }
        let reserve = reserve_for(quota, share);
        let usable = self.left - reserve;
        if usable <= 0 {
            return Decision::WaitUntil(reset_at);
        }
        self.left -= 1;
        let remaining = usable - 1;
        let our_share = quota as i64 - reserve;
        self.next_allowed = if remaining > 0 && remaining < our_share / 2 {
            // `remaining + 1` gaps, so the last unit is still sent before the reset.
            Some(now + (reset_at - now) / (remaining as u32 + 1))
        } else {
            None
        };
        self.go()
    }

    fn observe(&mut self, now: Instant, epoch: u64, headers: &RateLimitHeaders) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if !headers.is_usable() {
            self.saw_headerless_response = true;
            return;
        }
        self.last = *headers;
        let quota = headers.requests_quota.unwrap_or(0);
        let observed_left = headers.requests_left.unwrap_or(0) as i64;
        if let Some(window_ms) = headers.time_window_ms.filter(|ms| *ms > 0) {
            self.window = Duration::from_millis(window_ms);
        }
        let reset_ms = headers
            .time_reset_ms
            .unwrap_or(self.window.as_millis() as u64);
        let observed_reset = now + Duration::from_millis(reset_ms);
        // Requests still in flight may or may not be counted in `observed_left`; assume not.
        let candidate = observed_left - self.in_flight as i64;
        let new_window = match (self.quota, self.reset_at) {
            (Some(_), Some(reset_at)) => observed_reset > reset_at + self.window / 2,
            _ => true,
        };
        self.quota = Some(quota);
        if new_window {
            self.epoch += 1;
            self.left = candidate;
            self.reset_at = Some(observed_reset);
            self.next_allowed = None;
        } else if epoch == self.epoch {
            self.left = self.left.min(candidate);
            self.reset_at = Some(match self.reset_at {
                Some(reset_at) => reset_at.min(observed_reset),
                None => observed_reset,
            });
        }
        // Otherwise the response belongs to a window that is already over: ignore it.
    }

    fn release(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }
}

/// Units of the quota left to other apps.
fn reserve_for(quota: u64, share: f64) -> i64 {
    let share = share.clamp(0.0, 1.0);
    ((1.0 - share) * quota as f64).ceil() as i64
}

impl RateLimiter {
    /// A limiter using `quota_share` of the store's quota; `enabled = false` only counts.
    pub fn new(enabled: bool, quota_share: f64) -> Self {
        Self {
            enabled: enabled && quota_share < 1.0,
            quota_share,
            state: Mutex::new(State::new()),
            notify: Notify::new(),
            requests_sent: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
        }
    }

    /// Whether proactive pacing is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> LimiterStats {
        let state = self.state.lock();
        LimiterStats {
            requests_sent: self.requests_sent.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            last_requests_left: state.last.requests_left,
            last_quota: state.last.requests_quota,
            last_window_ms: state.last.time_window_ms,
            in_flight: state.in_flight,
        }
    }

    /// Waits until a request may be sent and reserves one unit of the quota for it.
    pub(crate) async fn acquire(self: &Arc<Self>) -> Permit {
        let mut counted_wait = false;
        loop {
            // Created before looking at the state so that a release in between is not missed.
            let notified = self.notify.notified();
            let decision = self
                .state
                .lock()
                .decide(Instant::now(), self.enabled, self.quota_share);
            let wait_until = match decision {
                Decision::Go { epoch } => {
                    self.requests_sent.fetch_add(1, Ordering::Relaxed);
                    return Permit {
                        limiter: Arc::clone(self),
                        epoch,
                        finished: false,
                    };
                }
                Decision::WaitUntil(until) => Some(until),
                Decision::WaitForResponse => None,
            };
            if !counted_wait {
                counted_wait = true;
                self.throttled.fetch_add(1, Ordering::Relaxed);
            }
            match wait_until {
                Some(until) => {
                    tracing::debug!(
                        wait_ms =
                            until.saturating_duration_since(Instant::now()).as_millis() as u64,
                        "bc.rate_limit: pacing request"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep_until(until) => {}
                        _ = notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Blocks every request of this store for `duration` (after a 429).
    pub(crate) fn block_for(&self, duration: Duration) {
        let until = Instant::now() + duration;
        let mut state = self.state.lock();
        state.blocked_until = Some(match state.blocked_until {
            Some(current) => current.max(until),
            None => until,
        });
    }

    pub(crate) fn record_rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }
}

/// A reservation for one request. Report the response's headers with [`Permit::observe`];
/// dropping it without (timeout, transport error, cancelled future) just releases it.
pub(crate) struct Permit {
    limiter: Arc<RateLimiter>,
    epoch: u64,
    finished: bool,
}

impl Permit {
    /// Feeds a response's rate-limit headers to the limiter and releases the reservation.
    pub(crate) fn observe(mut self, headers: &RateLimitHeaders) {
        self.finished = true;
        self.limiter
            .state
            .lock()
            .observe(Instant::now(), self.epoch, headers);
        self.limiter.notify.notify_waiters();
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.finished {
            self.limiter.state.lock().release();
            self.limiter.notify.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(left: u64, quota: u64, reset_ms: u64, window_ms: u64) -> RateLimitHeaders {
        RateLimitHeaders {
            requests_left: Some(left),
            requests_quota: Some(quota),
            time_reset_ms: Some(reset_ms),
            time_window_ms: Some(window_ms),
        }
    }

    fn go_epoch(decision: Decision) -> u64 {
        match decision {
            Decision::Go { epoch } => epoch,
            other => panic!("expected Go, got {other:?}"),
        }
    }

    #[test]
    fn headers_are_read_case_insensitively() {
        let mut map = HeaderMap::new();
        map.insert("X-Rate-Limit-Requests-Left", "35".parse().unwrap());
        map.insert("x-rate-limit-requests-quota", "150".parse().unwrap());
        map.insert("X-RATE-LIMIT-TIME-RESET-MS", "15000".parse().unwrap());
        map.insert("X-Rate-Limit-Time-Window-Ms", "30000".parse().unwrap());
        assert_eq!(
            RateLimitHeaders::from_headers(&map),
            headers(35, 150, 15000, 30000)
        );
    }

    #[test]
    fn only_one_probe_goes_before_the_quota_is_known() {
        let mut state = State::new();
        let now = Instant::now();
        let epoch = go_epoch(state.decide(now, true, 0.8));
        assert_eq!(state.decide(now, true, 0.8), Decision::WaitForResponse);
        state.observe(now, epoch, &headers(149, 150, 30_000, 30_000));
        go_epoch(state.decide(now, true, 0.8));
        go_epoch(state.decide(now, true, 0.8));
    }

    #[test]
    fn requests_wait_for_the_reset_when_only_the_reserve_is_left() {
        let mut state = State::new();
        let now = Instant::now();
        let epoch = go_epoch(state.decide(now, true, 0.8));
        // 31 left of 150: one more request may go (30 are reserved for other apps).
        state.observe(now, epoch, &headers(31, 150, 10_000, 30_000));
        go_epoch(state.decide(now, true, 0.8));
        assert_eq!(
            state.decide(now, true, 0.8),
            Decision::WaitUntil(now + Duration::from_millis(10_000))
        );
        // After the reset the full share is available again.
        let later = now + Duration::from_millis(10_001);
        go_epoch(state.decide(later, true, 0.8));
    }

    #[test]
    fn in_flight_requests_count_against_what_is_left() {
        let mut state = State::new();
        let now = Instant::now();
        let epoch = go_epoch(state.decide(now, true, 0.8));
        state.observe(now, epoch, &headers(40, 150, 10_000, 30_000));
        // 40 left, 30 reserved: exactly 10 may be sent (and be in flight) before the reset,
        // however they are spread.
        let reset = now + Duration::from_millis(10_000);
        let mut at = now;
        let mut sent = 0;
        loop {
            match state.decide(at, true, 0.8) {
                Decision::Go { .. } => sent += 1,
                Decision::WaitUntil(until) if until < reset => at = until,
                Decision::WaitUntil(until) => {
                    assert_eq!(until, reset);
                    break;
                }
                Decision::WaitForResponse => panic!("quota is known"),
            }
        }
        assert_eq!(sent, 10);
        assert_eq!(state.in_flight, 10);
    }

    #[test]
    fn an_older_response_cannot_raise_the_estimate() {
        let mut state = State::new();
        let now = Instant::now();
        let epoch = go_epoch(state.decide(now, true, 0.8));
        state.observe(now, epoch, &headers(100, 150, 20_000, 30_000));
        let a = go_epoch(state.decide(now, true, 0.8));
        let b = go_epoch(state.decide(now, true, 0.8));
        state.observe(now, b, &headers(60, 150, 20_000, 30_000));
        state.observe(now, a, &headers(99, 150, 20_000, 30_000));
        assert!(state.left <= 60);
    }

    #[test]
    fn a_response_from_a_new_server_window_is_trusted() {
        let mut state = State::new();
        let now = Instant::now();
        let epoch = go_epoch(state.decide(now, true, 0.8));
        state.observe(now, epoch, &headers(31, 150, 1_000, 30_000));
        let epoch = go_epoch(state.decide(now, true, 0.8));
        // The server reset early (our bound was late): it now reports a fresh window.
        let later = now + Duration::from_millis(900);
        state.observe(later, epoch, &headers(149, 150, 29_950, 30_000));
        assert_eq!(state.left, 149);
        go_epoch(state.decide(later, true, 0.8));
    }

    #[test]
    fn the_last_part_of_our_share_is_spread_until_the_reset() {
        let mut state = State::new();
        let now = Instant::now();
        let epoch = go_epoch(state.decide(now, true, 0.8));
        // 40 left, 30 reserved: 10 usable of a 120 share, so spread them.
        state.observe(now, epoch, &headers(40, 150, 10_000, 30_000));
        go_epoch(state.decide(now, true, 0.8));
        assert!(matches!(
            state.decide(now, true, 0.8),
            Decision::WaitUntil(at) if at > now && at < now + Duration::from_millis(10_000)
        ));
    }

    #[test]
    fn disabled_pacing_never_waits() {
        let mut state = State::new();
        let now = Instant::now();
        for _ in 0..500 {
            go_epoch(state.decide(now, false, 0.8));
        }
    }

    #[test]
    fn responses_without_headers_let_requests_flow() {
        let mut state = State::new();
        let now = Instant::now();
        let epoch = go_epoch(state.decide(now, true, 0.8));
        go_epoch({
            state.observe(now, epoch, &RateLimitHeaders::default());
            state.decide(now, true, 0.8)
        });
        go_epoch(state.decide(now, true, 0.8));
    }
}
