//! The sandbox's clock: wall-clock time plus an offset that tests move forward
//! (`POST /_sandbox/clock/advance`, [`crate::AmazonSandbox::advance_clock`]) instead of sleeping.
//! Token expiry, the two-minute rule of `getOrders`, token buckets and the queue's visibility
//! timeouts all read this clock, so advancing it ages everything consistently.
//!
//! Times are whole seconds: Amazon renders `2017-01-20T19:49:35Z`, and a stored time finer than
//! what a client can send back would make inclusive bounds (`LastUpdatedAfter` = a
//! `LastUpdateDate` read earlier) miss the order they were copied from.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, SubsecRound, Utc};

/// Wall-clock time shifted by an offset that only grows.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// Now, to the millisecond (token buckets, visibility timeouts).
    pub fn now_precise(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Now, to the second (every time an order or a token records).
    pub fn now(&self) -> DateTime<Utc> {
        self.now_precise().trunc_subsecs(0)
    }

    /// Moves the clock forward (a negative duration is ignored: time does not go back).
    pub fn advance(&self, by: chrono::Duration) {
        let ms = by.num_milliseconds().max(0);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// Amazon's rendering of a time: ISO 8601 in UTC to the second, `2017-01-20T19:49:35Z`.
pub fn iso(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses the ISO 8601 forms clients send: with an offset or `Z` (fractions allowed), without a
/// zone (read as UTC), or a bare date (its midnight UTC).
pub fn parse_iso(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some(naive.and_utc());
        }
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|naive| naive.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_forms_parse_to_the_same_instant() {
        let z = parse_iso("2024-05-01T10:00:00Z").unwrap();
        assert_eq!(parse_iso("2024-05-01T10:00:00.000Z"), Some(z));
        assert_eq!(parse_iso("2024-05-01T06:00:00-04:00"), Some(z));
        assert_eq!(parse_iso("2024-05-01T10:00:00"), Some(z));
        assert_eq!(iso(z), "2024-05-01T10:00:00Z");
        assert!(parse_iso("yesterday").is_none());
        assert_eq!(
            iso(parse_iso("2024-05-01").unwrap()),
            "2024-05-01T00:00:00Z"
        );
    }

    #[test]
    fn the_clock_only_moves_forward() {
        let clock = Clock::default();
        let before = clock.now();
        clock.advance(chrono::Duration::minutes(5));
        clock.advance(chrono::Duration::minutes(-60));
        assert!(clock.now() >= before + chrono::Duration::minutes(5));
    }
}
