//! Faults on demand: server errors, 429 bursts, latency, hangs, connection resets and truncated
//! bodies, each with a probability, an optional count, and a filter on method and path. A fault
//! can strike before the request is handled (nothing changed) or after (the change is made and
//! the answer is lost), which is what makes a POST's outcome unknown to the client. A
//! `late_apply` fault does both at once, the way a gateway in front of a busy backend does: the
//! client gets `504 Gateway Timeout`, and the change is made some time later anyway.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// `500 Internal Server Error`.
    Error500,
    /// `502 Bad Gateway`.
    Error502,
    /// `503 Service Unavailable`.
    Error503,
    /// `429` with the `X-Rate-Limit-*` headers (quota spent).
    TooManyRequests,
    /// `429` without the headers (platform under load).
    TooManyRequestsNoHeaders,
    /// Adds `latency_ms` before answering normally.
    Latency,
    /// Waits `latency_ms` (default 60 s) before answering: past any sane client timeout.
    Hang,
    /// Drops the connection without an answer.
    Reset,
    /// Sends the status and headers, then part of the body, then drops the connection.
    Truncate,
    /// Answers `504 Gateway Timeout` after `latency_ms` (default 0) and makes the change
    /// `apply_after_ms` (default 2,000) after that answer, whatever happens to the connection:
    /// a gateway that gave up while the backend kept working. Always strikes before the
    /// request is handled (`after_effect` is ignored).
    LateApply,
}

/// One fault rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultRule {
    pub kind: FaultKind,
    /// Chance in [0, 1] that a matching request is hit (default 1).
    #[serde(default = "one")]
    pub probability: f64,
    /// How many requests to hit before the rule retires itself (default: no end).
    #[serde(default)]
    pub count: Option<u32>,
    /// Only requests with this method (`GET`, `POST`, ...).
    #[serde(default)]
    pub method: Option<String>,
    /// Only requests whose path contains this text (e.g. `/shipments`).
    #[serde(default)]
    pub path_contains: Option<String>,
    /// Strike after the request was handled: the change is made, the answer lost.
    #[serde(default)]
    pub after_effect: bool,
    /// For `latency`, `hang` and `late_apply`.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// For `late_apply`: how long after the 504 the change is made (default 2,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_after_ms: Option<u64>,
}

fn one() -> f64 {
    1.0
}

impl FaultRule {
    /// A rule that always strikes, with no filter.
    pub fn always(kind: FaultKind) -> FaultRule {
        FaultRule {
            kind,
            probability: 1.0,
            count: None,
            method: None,
            path_contains: None,
            after_effect: false,
            latency_ms: None,
            apply_after_ms: None,
        }
    }

    /// How long after its 504 a `late_apply` request is applied.
    pub fn apply_after(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.apply_after_ms.unwrap_or(2_000))
    }

    fn matches(&self, method: &str, path: &str, after: bool) -> bool {
        let stage = if self.kind == FaultKind::LateApply {
            !after
        } else {
            self.after_effect == after
        };
        stage
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path.contains(p))
            && self.count != Some(0)
    }
}

/// The faults in force for one store, with a seeded generator so runs repeat.
#[derive(Debug)]
pub struct FaultPlan {
    rules: Vec<FaultRule>,
    rng: ChaCha8Rng,
    /// How many faults struck so far.
    pub struck: u64,
}

impl FaultPlan {
    pub fn new(seed: u64) -> FaultPlan {
        FaultPlan {
            rules: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            struck: 0,
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    /// Replaces the rules.
    pub fn set(&mut self, rules: Vec<FaultRule>) {
        self.rules = rules;
    }

    /// Adds a rule.
    pub fn push(&mut self, rule: FaultRule) {
        self.rules.push(rule);
    }

    /// Removes every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Picks the fault, if any, for a request at this stage (before or after handling).
    pub fn pick(&mut self, method: &str, path: &str, after: bool) -> Option<FaultRule> {
        if self.rules.is_empty() {
            return None;
        }
        for rule in self.rules.iter_mut() {
            if !rule.matches(method, path, after) {
                continue;
            }
            if rule.probability < 1.0 && self.rng.gen::<f64>() >= rule.probability {
                continue;
            }
            if let Some(count) = rule.count.as_mut() {
                *count -= 1;
            }
            self.struck += 1;
            return Some(rule.clone());
        }
        self.rules.retain(|r| r.count != Some(0));
        None
    }
}
