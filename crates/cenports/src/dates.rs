//! Dates as people and scripts write them in filters: a day (`2026-01-31`, midnight UTC at its
//! start) or an RFC 3339 instant (`2026-01-31T12:00:00Z`, `2026-01-31T08:00:00-04:00`). The
//! HTTP API, the dashboard and the CLI read them with [`parse_day_or_instant`], so a filter
//! means the same everywhere.

use chrono::{DateTime, NaiveDate, Utc};

/// `YYYY-MM-DD` (midnight UTC at the start of that day) or an RFC 3339 instant; `None` when
/// the text is neither. Surrounding spaces are ignored.
pub fn parse_day_or_instant(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return day.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_its_first_instant_in_utc_and_an_instant_keeps_its_offset() {
        let day = parse_day_or_instant("2026-01-31").unwrap();
        assert_eq!(day.to_rfc3339(), "2026-01-31T00:00:00+00:00");
        let instant = parse_day_or_instant(" 2026-01-31T08:00:00-04:00 ").unwrap();
        assert_eq!(instant.to_rfc3339(), "2026-01-31T12:00:00+00:00");
        for bad in [
            "",
            "2026-02-30",
            "31/01/2026",
            "2026-01-31T25:00:00Z",
            "yesterday",
        ] {
            assert_eq!(parse_day_or_instant(bad), None, "{bad}");
        }
    }
}
