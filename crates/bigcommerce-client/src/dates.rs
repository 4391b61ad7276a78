//! Date parsing for both API generations.
//!
//! v2 sends RFC 2822 (`Tue, 05 Mar 2019 21:50:23 +0000`) and an empty string for "never" (an
//! unshipped order's `date_shipped`); v3 sends ISO 8601 (`2018-08-15T14:48:31+00:00`); webhooks
//! send UNIX seconds. Every parser here accepts all of those shapes, because BigCommerce is not
//! consistent across endpoints and a sync must not stop over a date format.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::Deserializer;

use crate::lenient::{self, Lenient};

/// Parses a date string in RFC 2822, RFC 3339 / ISO 8601 (with or without offset, assumed UTC
/// when absent) or a bare `YYYY-MM-DD`. Returns `None` for an empty string or an unknown shape.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(date) = DateTime::parse_from_rfc2822(text) {
        return Some(date.with_timezone(&Utc));
    }
    if let Ok(date) = DateTime::parse_from_rfc3339(text) {
        return Some(date.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(Utc.from_utc_datetime(&naive));
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return date
            .and_hms_opt(0, 0, 0)
            .map(|naive| Utc.from_utc_datetime(&naive));
    }
    None
}

/// Formats a date for a query parameter. Both API generations accept ISO 8601 with an offset
/// (`2019-03-05T21:50:23Z`), so the client always sends that.
pub fn format_query_datetime(date: &DateTime<Utc>) -> String {
    date.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Formats a date in RFC 2822 with a `+0000` offset, the shape v2 itself returns.
pub fn format_rfc2822(date: &DateTime<Utc>) -> String {
    date.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

fn from_unix_seconds(seconds: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(seconds, 0).single()
}

impl Lenient for DateTime<Utc> {
    fn from_i64(seconds: i64) -> Option<Self> {
        (seconds > 0).then(|| from_unix_seconds(seconds)).flatten()
    }
    fn from_u64(seconds: u64) -> Option<Self> {
        i64::try_from(seconds).ok().and_then(Self::from_i64)
    }
    fn from_text(text: &str) -> Option<Self> {
        match text.trim().parse::<i64>() {
            Ok(seconds) if seconds > 0 => from_unix_seconds(seconds),
            _ => parse_datetime(text),
        }
    }
}

/// Serde helper: an optional date in any supported textual shape, or UNIX seconds.
///
/// Missing, `null`, `""`, `0` and unparseable values all become `None` rather than errors:
/// a malformed date on one field must not make a whole page of orders unreadable.
pub fn de_opt_datetime<'de, D>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error>
where
    D: Deserializer<'de>,
{
    lenient::deserialize(deserializer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Holder {
        #[serde(default, deserialize_with = "de_opt_datetime")]
        at: Option<DateTime<Utc>>,
    }

    fn parse(json: &str) -> Option<DateTime<Utc>> {
        serde_json::from_str::<Holder>(json).unwrap().at
    }

    #[test]
    fn rfc_2822_dates_from_v2_are_parsed_to_utc() {
        let at = parse(r#"{"at": "Tue, 05 Mar 2019 21:50:23 +0000"}"#).unwrap();
        assert_eq!(format_query_datetime(&at), "2019-03-05T21:50:23Z");
        let shifted = parse(r#"{"at": "Thu, 20 Apr 2017 11:32:00 -0400"}"#).unwrap();
        assert_eq!(format_query_datetime(&shifted), "2017-04-20T15:32:00Z");
    }

    #[test]
    fn iso_8601_dates_from_v3_are_parsed_to_utc() {
        let at = parse(r#"{"at": "2018-08-15T14:48:31+00:00"}"#).unwrap();
        assert_eq!(format_query_datetime(&at), "2018-08-15T14:48:31Z");
        let naive = parse(r#"{"at": "2018-08-15T14:48:31"}"#).unwrap();
        assert_eq!(at, naive);
    }

    #[test]
    fn empty_null_missing_and_garbage_dates_are_none() {
        assert_eq!(parse(r#"{"at": ""}"#), None);
        assert_eq!(parse(r#"{"at": null}"#), None);
        assert_eq!(parse(r#"{}"#), None);
        assert_eq!(parse(r#"{"at": "not a date"}"#), None);
        assert_eq!(parse(r#"{"at": 0}"#), None);
    }

    #[test]
    fn unix_seconds_are_accepted_as_number_or_string() {
        let number = parse(r#"{"at": 1561488106}"#).unwrap();
        let text = parse(r#"{"at": "1561488106"}"#).unwrap();
        assert_eq!(number, text);
        assert_eq!(format_query_datetime(&number), "2019-06-25T18:41:46Z");
    }

    #[test]
    fn rfc_2822_formatting_round_trips() {
        let at = parse_datetime("Tue, 05 Mar 2019 21:50:23 +0000").unwrap();
        assert_eq!(format_rfc2822(&at), "Tue, 05 Mar 2019 21:50:23 +0000");
    }
}
