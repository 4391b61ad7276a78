//! Faults on demand, in the BigCommerce sandbox's manner: server errors, throttling, latency,
//! hangs and dropped connections, each with a probability, an optional count and a filter on method
//! and path. A fault strikes *before* the request is handled (nothing changed) or *after* (the
//! change is made and the answer lost: `after_effect`), which is what leaves a client unsure
//! whether its `confirmShipment` went through.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// `500` with `InternalFailure`.
    Error500,
    /// `503` with `ServiceUnavailable`.
    Error503,
    /// `429` with `QuotaExceeded`, whatever the bucket says.
    QuotaExceeded,
    /// Adds `latency_ms` (default 100) before answering normally.
    Latency,
    /// Drops the connection without an answer.
    Reset,
    /// Holds the request `latency_ms` (default 60 s: past any sane client timeout), then drops
    /// the connection. Before the effect nothing is done; after it the change is made and its
    /// answer never comes: the client's timeout is all it learns.
    Hang,
    /// Answers `503` at once, then makes the change `latency_ms` later (default 800 ms), as a
    /// request that timed out inside Amazon and still went through: a client that sends it
    /// again before then makes the change twice. Before the effect only (after it, a `503`).
    LateApply,
}

/// One fault rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultRule {
    pub kind: FaultKind,
    /// Chance in [0, 1] that a matching request is hit (default 1).
    #[serde(default = "one")]
    pub probability: f64,
    /// How many requests to hit before the rule retires (default: no end).
    #[serde(default)]
    pub count: Option<u32>,
    /// Only requests with this method.
    #[serde(default)]
    pub method: Option<String>,
    /// Only requests whose path contains this text (e.g. `/shipmentConfirmation`).
    #[serde(default)]
    pub path_contains: Option<String>,
    /// Strike after the request was handled: the change is made, the answer lost.
    #[serde(default)]
    pub after_effect: bool,
    /// For `latency`, `hang` and `late_apply`.
    #[serde(default)]
    pub latency_ms: Option<u64>,
}

fn one() -> f64 {
    1.0
}

impl FaultRule {
    /// A rule that always strikes before the request, with no filter.
    pub fn always(kind: FaultKind) -> FaultRule {
        FaultRule {
            kind,
            probability: 1.0,
            count: None,
            method: None,
            path_contains: None,
            after_effect: false,
            latency_ms: None,
        }
    }

    fn matches(&self, method: &str, path: &str, after: bool) -> bool {
        self.after_effect == after
            && self.count != Some(0)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path.contains(p))
    }
}

/// The faults in force, with a seeded generator so runs repeat.
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
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xfa17),
            struck: 0,
        }
    }

    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    pub fn push(&mut self, rule: FaultRule) {
        self.rules.push(rule);
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// The fault, if any, for a request at this stage (before or after handling).
    pub fn pick(&mut self, method: &str, path: &str, after: bool) -> Option<FaultRule> {
        let mut hit = None;
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
            hit = Some(rule.clone());
            break;
        }
        self.rules.retain(|r| r.count != Some(0));
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counted_rule_retires_and_stages_are_kept_apart() {
        let mut plan = FaultPlan::new(1);
        plan.push(FaultRule {
            count: Some(1),
            method: Some("POST".into()),
            after_effect: true,
            ..FaultRule::always(FaultKind::Error500)
        });
        assert!(plan.pick("POST", "/x", false).is_none());
        assert!(plan.pick("GET", "/x", true).is_none());
        assert!(plan.pick("POST", "/x", true).is_some());
        assert!(plan.pick("POST", "/x", true).is_none());
        assert!(plan.rules().is_empty());
    }
}
