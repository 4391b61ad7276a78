//! Money and other lenient numeric parsing.
//!
//! v2 sends money as decimal strings with four places (`"12.3400"`), v2 consignments and v3
//! send JSON numbers (`5.1`), and a few fields arrive as `""` when unset. Money is always
//! parsed into [`Decimal`] through its textual form, never through `f64`, so `5.1` stays
//! exactly `5.1`.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Parses a decimal from a string such as `"12.3400"` or `"-0.5"`. `None` for an empty or
/// malformed string.
pub fn parse_decimal(text: &str) -> Option<Decimal> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .ok()
}

fn decimal_from_value(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(text) => parse_decimal(text),
        // The number's own textual form keeps `5.1` exact instead of `5.0999999...`.
        Value::Number(number) => parse_decimal(&number.to_string()),
        _ => None,
    }
}

/// Serde helper: optional money (or any decimal) from a string, a number, `""` or `null`.
pub fn de_opt_decimal<'de, D>(deserializer: D) -> Result<Option<Decimal>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value.as_ref().and_then(decimal_from_value))
}

/// Serde helper: an optional unsigned integer that may arrive as a number (`12`, `12.0`) or a
/// string (`"12"`). Empty strings, `null` and negative values become `None`.
pub fn de_opt_u64<'de, D>(deserializer: D) -> Result<Option<u64>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value.as_ref().and_then(u64_from_value))
}

/// Serde helper: a required unsigned integer (ids) that may arrive as a number or a string.
pub fn de_u64<'de, D>(deserializer: D) -> Result<u64, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(deserializer)?;
    u64_from_value(&value).ok_or_else(|| {
        serde::de::Error::custom(format!("expected an unsigned integer, got {value}"))
    })
}

/// Serde helper: a count that defaults to `0` when missing, `null` or unparseable.
pub fn de_u64_or_zero<'de, D>(deserializer: D) -> Result<u64, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(de_opt_u64(deserializer)?.unwrap_or(0))
}

/// Serde helper: an optional signed integer (stock levels) from a number or a string.
pub fn de_opt_i64<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value.as_ref().and_then(i64_from_value))
}

/// Serde helper: an optional string that tolerates numbers and booleans (a ZIP code or phone
/// number sent unquoted) by rendering them as text. `null` stays `None`; `""` stays `Some("")`.
pub fn de_opt_string<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(match value {
        Some(Value::String(text)) => Some(text),
        Some(Value::Number(number)) => Some(number.to_string()),
        Some(Value::Bool(flag)) => Some(flag.to_string()),
        _ => None,
    })
}

/// Serde helper: an optional boolean from `true`/`false`, `1`/`0` or `"true"`/`"1"`.
pub fn de_opt_bool<'de, D>(deserializer: D) -> Result<Option<bool>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(match value {
        Some(Value::Bool(flag)) => Some(flag),
        Some(Value::Number(number)) => number.as_f64().map(|n| n != 0.0),
        Some(Value::String(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    })
}

fn u64_from_value(value: &Value) -> Option<u64> {
    i64_from_value(value).and_then(|n| u64::try_from(n).ok())
}

fn i64_from_value(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64().or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(text) => {
            let text = text.trim();
            text.parse::<i64>().ok().or_else(|| {
                parse_decimal(text)
                    .filter(|d| d.fract().is_zero())
                    .and_then(|d| d.to_string().parse::<i64>().ok())
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Holder {
        #[serde(default, deserialize_with = "de_opt_decimal")]
        money: Option<Decimal>,
        #[serde(default, deserialize_with = "de_opt_u64")]
        count: Option<u64>,
        #[serde(default, deserialize_with = "de_opt_string")]
        text: Option<String>,
        #[serde(default, deserialize_with = "de_opt_bool")]
        flag: Option<bool>,
    }

    fn parse(json: &str) -> Holder {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn four_place_money_strings_keep_their_value() {
        let money = parse(r#"{"money": "12.3400"}"#).money.unwrap();
        assert_eq!(money, Decimal::new(1234, 2));
        assert_eq!(money.to_string(), "12.3400");
    }

    #[test]
    fn money_numbers_are_exact() {
        assert_eq!(parse(r#"{"money": 5.1}"#).money, Some(Decimal::new(51, 1)));
        assert_eq!(parse(r#"{"money": 3}"#).money, Some(Decimal::new(3, 0)));
    }

    #[test]
    fn empty_or_null_money_is_none() {
        assert_eq!(parse(r#"{"money": ""}"#).money, None);
        assert_eq!(parse(r#"{"money": null}"#).money, None);
        assert_eq!(parse(r#"{}"#).money, None);
    }

    #[test]
    fn integers_arrive_as_numbers_or_strings() {
        assert_eq!(parse(r#"{"count": 17}"#).count, Some(17));
        assert_eq!(parse(r#"{"count": "17"}"#).count, Some(17));
        assert_eq!(parse(r#"{"count": 17.0}"#).count, Some(17));
        assert_eq!(parse(r#"{"count": ""}"#).count, None);
    }

    #[test]
    fn strings_tolerate_unquoted_numbers() {
        assert_eq!(parse(r#"{"text": 78751}"#).text.as_deref(), Some("78751"));
        assert_eq!(parse(r#"{"text": ""}"#).text.as_deref(), Some(""));
    }

    #[test]
    fn booleans_tolerate_numbers_and_strings() {
        assert_eq!(parse(r#"{"flag": 1}"#).flag, Some(true));
        assert_eq!(parse(r#"{"flag": "false"}"#).flag, Some(false));
    }
}
