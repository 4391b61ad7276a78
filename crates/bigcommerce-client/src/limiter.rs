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
//!
//! # Priorities
//! Each request has a [`Priority`] (its task's [`crate::with_priority`] scope, see
//! [`crate::priority`]). When the quota is plentiful nobody waits and the classes change
//! nothing. When requests wait:
//! - A request never takes a unit while a request of a higher class is waiting: it waits until
//!   that one has gone (or given up), then decides again. So at a window's reset, or when the
//!   next spread slot comes, the highest class waiting goes first; within a class, whoever
//!   the runtime wakes first.
//! - [`Priority::Urgent`] is not spread: while units of our share are left it goes at once,
//!   whatever the spacing says (the spacing stays as it was for the others, which absorb the
//!   unit it took). Since the spread ends its last unit one gap before the reset, an urgent
//!   request that finds our share spent waits about one spread gap: it waits behind at most
//!   the one request that took the last unit. It still respects the share left to other apps,
//!   the single probe and a 429's block.
//!
//! A waiting request must keep being polled: one that stops being polled without being
//! dropped holds back the lower classes until it is polled again or dropped.
//! All clones of a [`crate::Client`] share one limiter through an `Arc`; to share it between
//! separately built clients of the same store use [`crate::Client::with_limiter`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use reqwest::header::HeaderMap;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::priority::{current_priority, Priority};

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
    /// Requests waiting for the pacer, by class ([`Priority::rank`]).
    waiting: [u32; Priority::ALL.len()],
}

#[derive(Debug, PartialEq, Eq)]
enum Decision {
    Go {
        epoch: u64,
    },
    WaitUntil(Instant),
    WaitForResponse,
    /// A request of a higher class is waiting: it goes first.
    WaitForHigher,
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
            waiting: [0; Priority::ALL.len()],
        }
    }

    /// Whether a request of a higher class than `priority` is waiting.
    fn outranked(&self, priority: Priority) -> bool {
        self.waiting[..priority.rank()].iter().any(|n| *n > 0)
    }

    fn go(&mut self) -> Decision {
        self.in_flight += 1;
        Decision::Go { epoch: self.epoch }
    }

    fn decide(&mut self, now: Instant, priority: Priority, enabled: bool, share: f64) -> Decision {
        if let Some(until) = self.blocked_until {
            if now < until {
                return Decision::WaitUntil(until);
            }
            self.blocked_until = None;
        }
        if self.outranked(priority) {
            return Decision::WaitForHigher;
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
        // Urgent requests are not spread: they take a unit inside a gap and leave the gap as
        // it was for the others.
        let in_gap = self.next_allowed.filter(|next| now < *next);
        if let Some(next) = in_gap {
            if priority != Priority::Urgent {
                return Decision::WaitUntil(next.min(reset_at));
            }
        }
        let reserve = reserve_for(quota, share);
        let usable = self.left - reserve;
        if usable <= 0 {
            return Decision::WaitUntil(reset_at);
        }
        self.left -= 1;
        if in_gap.is_none() {
            let remaining = usable - 1;
            let our_share = quota as i64 - reserve;
            self.next_allowed = if remaining > 0 && remaining < our_share / 2 {
                // `remaining + 1` gaps, so the last unit is still sent before the reset.
                Some(now + (reset_at - now) / (remaining as u32 + 1))
            } else {
                None
            };
        }
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

    /// Waits until a request may be sent and reserves one unit of the quota for it, in the
    /// class of the current [`crate::with_priority`] scope.
    pub(crate) async fn acquire(self: &Arc<Self>) -> Permit {
        self.acquire_as(current_priority()).await
    }

    /// [`RateLimiter::acquire`] in the class `priority`.
    pub(crate) async fn acquire_as(self: &Arc<Self>, priority: Priority) -> Permit {
        let mut counted_wait = false;
        // Counted in `State::waiting` from its first wait until it goes or is dropped.
        let mut queued = Queued {
            limiter: self,
            priority,
            counted: false,
        };
        loop {
            // Created before looking at the state so that a release in between is not missed.
            let notified = self.notify.notified();
            let decision = {
                let mut state = self.state.lock();
                let decision =
                    state.decide(Instant::now(), priority, self.enabled, self.quota_share);
                let waits = !matches!(decision, Decision::Go { .. });
                if waits != queued.counted {
                    let count = &mut state.waiting[priority.rank()];
                    *count = if waits {
                        *count + 1
                    } else {
                        count.saturating_sub(1)
                    };
                    queued.counted = waits;
                    if !waits {
                        // Lower classes held back for this request may go now.
                        self.notify.notify_waiters();
                    }
                }
                decision
            };
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
                Decision::WaitForResponse | Decision::WaitForHigher => None,
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
                        bc.priority = priority.as_str(),
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

/// A request waiting for the pacer, counted in its class until it goes; dropped while
/// waiting (a timeout, a cancelled future), it stops holding back the lower classes.
struct Queued<'a> {
    limiter: &'a RateLimiter,
    priority: Priority,
    counted: bool,
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if self.counted {
            let mut state = self.limiter.state.lock();
            let count = &mut state.waiting[self.priority.rank()];
            *count = count.saturating_sub(1);
            drop(state);
            self.limiter.notify.notify_waiters();
        }
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
        let epoch = go_epoch(state.decide(now, Priority::Sync, true, 0.8));
        assert_eq!(
            state.decide(now, Priority::Sync, true, 0.8),
            Decision::WaitForResponse
        );
        state.observe(now, epoch, &headers(149, 150, 30_000, 30_000));
        go_epoch(state.decide(now, Priority::Sync, true, 0.8));
        go_epoch(state.decide(now, Priority::Sync, true, 0.8));
    }

    #[test]
    fn requests_wait_for_the_reset_when_only_the_reserve_is_left() {
        let mut state = State::new();
        let now = Instant::now();
        let epoch = go_epoch(state.decide(now, Priority::Sync, true, 0.8));
        // 31 left of 150: one more request may go (30 are reserved for other apps).
        state.observe(now, epoch, &headers(31, 150, 10_000, 30_000));
        go_epoch(state.decide(now, Priority::Sync, true, 0.8));
        assert_eq!(
            state.decide(now, Priority::Sync, true, 0.8),
            Decision::WaitUntil(now + Duration::from_millis(10_000))
        );
        // After the reset the full share is available again.
        let later = now + Duration::from_millis(10_001);
        go_epoch(state.decide(later, Priority::Sync, true, 0.8));
    }

    #[test]
    fn in_flight_requests_count_against_what_is_left() {
        let mut state = State::new();
        let now = Instant::now();
        let epoch = go_epoch(state.decide(now, Priority::Sync, true, 0.8));
        state.observe(now, epoch, &headers(40, 150, 10_000, 30_000));
        // 40 left, 30 reserved: exactly 10 may be sent (and be in flight) before the reset,
        // however they are spread.
        let reset = now + Duration::from_millis(10_000);
        let mut at = now;
        let mut sent = 0;
        loop {
            match state.decide(at, Priority::Sync, true, 0.8) {
                Decision::Go { .. } => sent += 1,
                Decision::WaitUntil(until) if until < reset => at = until,
                Decision::WaitUntil(until) => {
                    assert_eq!(until, reset);
                    break;
                }
                Decision::WaitForResponse | Decision::WaitForHigher => panic!("quota is known"),
            }
        }
        assert_eq!(sent, 10);
        assert_eq!(state.in_flight, 10);
    }

    #[test]
    fn an_older_response_cannot_raise_the_estimate() {
        let mut state = State::new();
        let now = Instant::now();
        let epoch = go_epoch(state.decide(now, Priority::Sync, true, 0.8));
        state.observe(now, epoch, &headers(100, 150, 20_000, 30_000));
        let a = go_epoch(state.decide(now, Priority::Sync, true, 0.8));
        let b = go_epoch(state.decide(now, Priority::Sync, true, 0.8));
        state.observe(now, b, &headers(60, 150, 20_000, 30_000));
        state.observe(now, a, &headers(99, 150, 20_000, 30_000));
        assert!(state.left <= 60);
    }

    #[test]
    fn a_response_from_a_new_server_window_is_trusted() {
        let mut state = State::new();
        let now = Instant::now();
        let epoch = go_epoch(state.decide(now, Priority::Sync, true, 0.8));
        state.observe(now, epoch, &headers(31, 150, 1_000, 30_000));
        let epoch = go_epoch(state.decide(now, Priority::Sync, true, 0.8));
        // The server reset early (our bound was late): it now reports a fresh window.
        let later = now + Duration::from_millis(900);
        state.observe(later, epoch, &headers(149, 150, 29_950, 30_000));
        assert_eq!(state.left, 149);
        go_epoch(state.decide(later, Priority::Sync, true, 0.8));
    }

    #[test]
    fn the_last_part_of_our_share_is_spread_until_the_reset() {
        let mut state = State::new();
        let now = Instant::now();
        let epoch = go_epoch(state.decide(now, Priority::Sync, true, 0.8));
        // 40 left, 30 reserved: 10 usable of a 120 share, so spread them.
        state.observe(now, epoch, &headers(40, 150, 10_000, 30_000));
        go_epoch(state.decide(now, Priority::Sync, true, 0.8));
        assert!(matches!(
            state.decide(now, Priority::Sync, true, 0.8),
            Decision::WaitUntil(at) if at > now && at < now + Duration::from_millis(10_000)
        ));
    }

    #[test]
    fn disabled_pacing_never_waits() {
        let mut state = State::new();
        let now = Instant::now();
        for _ in 0..500 {
            go_epoch(state.decide(now, Priority::Sync, false, 0.8));
        }
    }

    #[test]
    fn a_lower_class_never_takes_a_unit_while_a_higher_class_waits() {
        let mut state = State::new();
        let now = Instant::now();
        let epoch = go_epoch(state.decide(now, Priority::Sync, true, 0.8));
        state.observe(now, epoch, &headers(149, 150, 30_000, 30_000));
        state.waiting[Priority::Hint.rank()] = 1;
        for lower in [Priority::Sync, Priority::Backfill] {
            assert_eq!(state.decide(now, lower, true, 0.8), Decision::WaitForHigher);
        }
        go_epoch(state.decide(now, Priority::Hint, true, 0.8));
        go_epoch(state.decide(now, Priority::Urgent, true, 0.8));
        state.waiting[Priority::Hint.rank()] = 0;
        go_epoch(state.decide(now, Priority::Backfill, true, 0.8));
    }

    #[test]
    fn urgent_requests_are_not_spread_and_leave_the_gap_to_the_others() {
        let mut state = State::new();
        let now = Instant::now();
        let epoch = go_epoch(state.decide(now, Priority::Backfill, true, 0.8));
        // 40 left, 30 reserved: 10 usable of a 120 share, so they are spread.
        state.observe(now, epoch, &headers(40, 150, 10_000, 30_000));
        go_epoch(state.decide(now, Priority::Backfill, true, 0.8));
        let Decision::WaitUntil(slot) = state.decide(now, Priority::Backfill, true, 0.8) else {
            panic!("a backfill is spread");
        };
        assert!(slot > now);
        go_epoch(state.decide(now, Priority::Urgent, true, 0.8));
        go_epoch(state.decide(now, Priority::Urgent, true, 0.8));
        assert_eq!(
            state.decide(now, Priority::Backfill, true, 0.8),
            Decision::WaitUntil(slot),
            "the backfill's next slot did not move"
        );
        assert_eq!(
            state.decide(now, Priority::Hint, true, 0.8),
            Decision::WaitUntil(slot),
            "only urgent requests skip the spread"
        );
    }

    #[test]
    fn urgent_requests_still_leave_the_other_apps_their_share() {
        let mut state = State::new();
        let now = Instant::now();
        let epoch = go_epoch(state.decide(now, Priority::Urgent, true, 0.8));
        state.observe(now, epoch, &headers(30, 150, 5_000, 30_000));
        assert_eq!(
            state.decide(now, Priority::Urgent, true, 0.8),
            Decision::WaitUntil(now + Duration::from_millis(5_000))
        );
    }

    /// A backfill that always wants the next unit, over a whole Standard window, and an urgent
    /// request arriving at every 100 ms of it: the urgent request never waits for more than
    /// one backfill request (the one that took the last unit before the reset), and never
    /// longer than the spread's gap.
    #[test]
    fn an_urgent_request_waits_behind_a_backfill_for_at_most_one_request() {
        let start = Instant::now();
        let window = Duration::from_secs(30);
        for arrival_ms in (0..30_000u64).step_by(100) {
            let arrival = start + Duration::from_millis(arrival_ms);
            let mut state = State::new();
            let epoch = go_epoch(state.decide(start, Priority::Backfill, true, 0.8));
            state.observe(start, epoch, &headers(149, 150, 30_000, 30_000));
            // The backfill takes every unit it may until the urgent request arrives.
            let mut at = start;
            let mut last_gap = Duration::ZERO;
            let mut last_sent = start;
            while at < arrival {
                match state.decide(at, Priority::Backfill, true, 0.8) {
                    Decision::Go { .. } => {
                        state.release();
                        last_gap = at - last_sent;
                        last_sent = at;
                    }
                    Decision::WaitUntil(until) => at = until.min(arrival),
                    other => panic!("unexpected {other:?}"),
                }
            }
            // The urgent request arrives; from now on the backfill waits behind it.
            state.waiting[Priority::Backfill.rank()] = 1;
            let went = match state.decide(arrival, Priority::Urgent, true, 0.8) {
                Decision::Go { .. } => arrival,
                Decision::WaitUntil(until) => {
                    state.waiting[Priority::Urgent.rank()] = 1;
                    assert_eq!(
                        state.decide(arrival, Priority::Backfill, true, 0.8),
                        Decision::WaitForHigher
                    );
                    state.waiting[Priority::Urgent.rank()] = 0;
                    go_epoch(state.decide(until, Priority::Urgent, true, 0.8));
                    until
                }
                other => panic!("unexpected {other:?}"),
            };
            let waited = went - arrival;
            assert!(
                waited <= last_gap.max(Duration::from_millis(1)) && waited < window / 20,
                "arriving at {arrival_ms} ms the urgent request waited {waited:?} \
                 (the backfill's last gap was {last_gap:?})"
            );
        }
    }

    fn spent_limiter(left: u64, reset_ms: u64) -> Arc<RateLimiter> {
        let limiter = Arc::new(RateLimiter::new(true, 0.8));
        let mut state = limiter.state.lock();
        let now = Instant::now();
        let epoch = go_epoch(state.decide(now, Priority::Sync, true, 0.8));
        state.observe(now, epoch, &headers(left, 150, reset_ms, 30_000));
        drop(state);
        limiter
    }

    #[tokio::test]
    async fn at_the_reset_the_waiting_classes_go_highest_first() {
        // Only the other apps' share is left until the reset, 300 ms away.
        let limiter = spent_limiter(30, 300);
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // Queued lowest first, so that arrival order cannot explain the result.
        for priority in [
            Priority::Backfill,
            Priority::Backfill,
            Priority::Sync,
            Priority::Hint,
            Priority::Urgent,
        ] {
            let (limiter, order) = (Arc::clone(&limiter), Arc::clone(&order));
            tasks.push(tokio::spawn(crate::with_priority(priority, async move {
                let permit = limiter.acquire().await;
                order.lock().push(priority);
                permit
            })));
            tokio::task::yield_now().await;
        }
        for task in tasks {
            drop(task.await.unwrap());
        }
        assert_eq!(
            *order.lock(),
            [
                Priority::Urgent,
                Priority::Hint,
                Priority::Sync,
                Priority::Backfill,
                Priority::Backfill
            ]
        );
    }

    #[tokio::test]
    async fn a_higher_class_request_given_up_stops_holding_back_the_others() {
        // The probe is in flight: every other request waits for its answer.
        let limiter = Arc::new(RateLimiter::new(true, 0.8));
        let probe = limiter.acquire_as(Priority::Sync).await;
        let urgent = tokio::spawn({
            let limiter = Arc::clone(&limiter);
            async move { limiter.acquire_as(Priority::Urgent).await }
        });
        tokio::task::yield_now().await;
        let backfill = tokio::spawn({
            let limiter = Arc::clone(&limiter);
            async move { limiter.acquire_as(Priority::Backfill).await }
        });
        tokio::task::yield_now().await;
        urgent.abort();
        assert!(urgent.await.is_err_and(|error| error.is_cancelled()));
        probe.observe(&headers(149, 150, 30_000, 30_000));
        let permit = tokio::time::timeout(Duration::from_secs(5), backfill)
            .await
            .expect("the backfill is not held back by a request that gave up")
            .unwrap();
        drop(permit);
        assert_eq!(limiter.state.lock().waiting, [0; 4]);
    }

    #[tokio::test]
    async fn with_plenty_of_quota_the_classes_change_nothing() {
        let limiter = spent_limiter(149, 30_000);
        for round in 0..20 {
            let priority = Priority::ALL[round % Priority::ALL.len()];
            let permit = crate::with_priority(priority, limiter.acquire()).await;
            permit.observe(&headers(148 - round as u64, 150, 29_000, 30_000));
        }
        let stats = limiter.stats();
        assert_eq!((stats.requests_sent, stats.throttled), (20, 0));
    }

    #[test]
    fn responses_without_headers_let_requests_flow() {
        let mut state = State::new();
        let now = Instant::now();
        let epoch = go_epoch(state.decide(now, Priority::Sync, true, 0.8));
        go_epoch({
            state.observe(now, epoch, &RateLimitHeaders::default());
            state.decide(now, Priority::Sync, true, 0.8)
        });
        go_epoch(state.decide(now, Priority::Sync, true, 0.8));
    }
}
