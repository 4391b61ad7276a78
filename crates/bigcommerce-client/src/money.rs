//! Money and other lenient numeric parsing.
//!
//! v2 sends money as decimal strings with four places (`"12.3400"`), v2 consignments and v3
//! send JSON numbers (`5.1`), and a few fields arrive as `""` when unset. Money is always
//! parsed into [`Decimal`] through its textual form, never through `f64`, so `5.1` stays
//! exactly `5.1`.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::lenient::{self, float_text, Lenient};

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

impl Lenient for Decimal {
    // An integer's textual form parses to the same decimal (scale 0) as `Decimal::from`.
    fn from_i64(number: i64) -> Option<Self> {
        Some(Decimal::from(number))
    }
    fn from_u64(number: u64) -> Option<Self> {
        Some(Decimal::from(number))
    }
    // The number's own textual form keeps `5.1` exact instead of `5.0999999...`.
    fn from_f64(number: f64) -> Option<Self> {
        parse_decimal(&float_text(number)?)
    }
    fn from_text(text: &str) -> Option<Self> {
        parse_decimal(text)
    }
}

impl Lenient for i64 {
    fn from_i64(number: i64) -> Option<Self> {
        Some(number)
    }
    fn from_u64(number: u64) -> Option<Self> {
        i64::try_from(number).ok()
    }
    fn from_f64(number: f64) -> Option<Self> {
        (number.fract() == 0.0 && number.abs() < 9.0e15).then_some(number as i64)
    }
    fn from_text(text: &str) -> Option<Self> {
        let text = text.trim();
        text.parse::<i64>().ok().or_else(|| {
            parse_decimal(text)
                .filter(|d| d.fract().is_zero())
                .and_then(|d| d.to_string().parse::<i64>().ok())
        })
    }
}

/// Unsigned integers go through `i64`, as they always have: negative values become `None`.
impl Lenient for u64 {
    fn from_i64(number: i64) -> Option<Self> {
        u64::try_from(number).ok()
    }
    fn from_u64(number: u64) -> Option<Self> {
        i64::from_u64(number).and_then(Self::from_i64)
    }
    fn from_f64(number: f64) -> Option<Self> {
        i64::from_f64(number).and_then(Self::from_i64)
    }
    fn from_text(text: &str) -> Option<Self> {
        i64::from_text(text).and_then(Self::from_i64)
    }
}

impl Lenient for String {
    fn from_bool(flag: bool) -> Option<Self> {
        Some(flag.to_string())
    }
    fn from_i64(number: i64) -> Option<Self> {
        Some(number.to_string())
    }
    fn from_u64(number: u64) -> Option<Self> {
        Some(number.to_string())
    }
    fn from_f64(number: f64) -> Option<Self> {
        float_text(number)
    }
    fn from_text(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
    fn from_string(text: String) -> Option<Self> {
        Some(text)
    }
}

impl Lenient for bool {
    fn from_bool(flag: bool) -> Option<Self> {
        Some(flag)
    }
    fn from_i64(number: i64) -> Option<Self> {
        Some(number != 0)
    }
    fn from_u64(number: u64) -> Option<Self> {
        Some(number != 0)
    }
    fn from_f64(number: f64) -> Option<Self> {
        Some(number != 0.0)
    }
    fn from_text(text: &str) -> Option<Self> {
        let text = text.trim();
        let is = |word: &str| text.eq_ignore_ascii_case(word);
        if is("true") || is("1") || is("yes") {
            Some(true)
        } else if is("false") || is("0") || is("no") {
            Some(false)
        } else {
            None
        }
    }
}

/// Serde helper: optional money (or any decimal) from a string, a number, `""` or `null`.
pub fn de_opt_decimal<'de, D>(deserializer: D) -> Result<Option<Decimal>, D::Error>
where
    D: Deserializer<'de>,
{
    lenient::deserialize(deserializer)
}

/// Serde helper: an optional unsigned integer that may arrive as a number (`12`, `12.0`) or a
/// string (`"12"`). Empty strings, `null` and negative values become `None`.
pub fn de_opt_u64<'de, D>(deserializer: D) -> Result<Option<u64>, D::Error>
where
    D: Deserializer<'de>,
{
    lenient::deserialize(deserializer)
}

/// Serde helper: a required unsigned integer (ids) that may arrive as a number or a string.
pub fn de_u64<'de, D>(deserializer: D) -> Result<u64, D::Error>
where
    D: Deserializer<'de>,
{
    deserializer.deserialize_any(RequiredU64)
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
    lenient::deserialize(deserializer)
}

/// Serde helper: an optional string that tolerates numbers and booleans (a ZIP code or phone
/// number sent unquoted) by rendering them as text. `null` stays `None`; `""` stays `Some("")`.
pub fn de_opt_string<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    lenient::deserialize(deserializer)
}

/// Serde helper: an optional boolean from `true`/`false`, `1`/`0` or `"true"`/`"1"`.
pub fn de_opt_bool<'de, D>(deserializer: D) -> Result<Option<bool>, D::Error>
where
    D: Deserializer<'de>,
{
    lenient::deserialize(deserializer)
}

/// [`de_u64`]: like the lenient `u64`, but a value that does not fit is an error naming it.
struct RequiredU64;

impl RequiredU64 {
    fn check<E: serde::de::Error>(number: Option<u64>, shown: impl fmt::Display) -> Result<u64, E> {
        number.ok_or_else(|| E::custom(format!("expected an unsigned integer, got {shown}")))
    }
}

impl<'de> Visitor<'de> for RequiredU64 {
    type Value = u64;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an unsigned integer")
    }

    fn visit_bool<E: serde::de::Error>(self, flag: bool) -> Result<u64, E> {
        Self::check(None, flag)
    }

    fn visit_i64<E: serde::de::Error>(self, number: i64) -> Result<u64, E> {
        Self::check(u64::from_i64(number), number)
    }

    fn visit_u64<E: serde::de::Error>(self, number: u64) -> Result<u64, E> {
        Self::check(u64::from_u64(number), number)
    }

    fn visit_f64<E: serde::de::Error>(self, number: f64) -> Result<u64, E> {
        Self::check(u64::from_f64(number), Value::from(number))
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<u64, E> {
        Self::check(u64::from_text(text), Value::from(text))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<u64, E> {
        Self::check(None, Value::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<u64, E> {
        Self::check(None, Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_any(self)
    }

    // Containers are never ids; they are read into a `Value` only to name them in the error.
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<u64, A::Error> {
        let value = Value::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
        Self::check(None, value)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<u64, A::Error> {
        let value = Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        Self::check(None, value)
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
