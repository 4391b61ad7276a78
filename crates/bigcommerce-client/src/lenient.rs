//! The visitor behind the lenient serde helpers of [`crate::money`] and [`crate::dates`].
//!
//! A lenient field accepts any JSON value and reads it straight from the deserializer, without
//! buffering it into a `serde_json::Value` first: the scalar shapes the field may take are
//! converted by the target type's [`Lenient`] impl, and everything else (`null`, arrays,
//! objects, a scalar of the wrong kind) is skipped and becomes `None`. A malformed value on one
//! field must never make a whole page unreadable.
//!
//! Each conversion must give exactly what the former `Value`-based helpers gave, so a field
//! reads the same whether it comes from text (the client's responses) or from a `Value`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// How a type is made from each JSON scalar; `None` where the shape does not fit.
pub(crate) trait Lenient: Sized {
    fn from_bool(_flag: bool) -> Option<Self> {
        None
    }
    fn from_i64(_number: i64) -> Option<Self> {
        None
    }
    fn from_u64(_number: u64) -> Option<Self> {
        None
    }
    fn from_f64(_number: f64) -> Option<Self> {
        None
    }
    fn from_text(_text: &str) -> Option<Self> {
        None
    }
    /// An owned string, for the types that can keep it without copying.
    fn from_string(text: String) -> Option<Self> {
        Self::from_text(&text)
    }
}

/// Reads any JSON value as an optional `T`.
pub(crate) fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Lenient,
{
    deserializer.deserialize_any(LenientVisitor(PhantomData))
}

/// The textual form `serde_json::Value` gives a float (`5.1`, not `5.0999...`), so money and
/// strings read from numbers come out exactly as they did through `Value`.
pub(crate) fn float_text(number: f64) -> Option<String> {
    serde_json::Number::from_f64(number).map(|number| number.to_string())
}

struct LenientVisitor<T>(PhantomData<T>);

impl<'de, T: Lenient> Visitor<'de> for LenientVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, flag: bool) -> Result<Self::Value, E> {
        Ok(T::from_bool(flag))
    }

    fn visit_i64<E>(self, number: i64) -> Result<Self::Value, E> {
        Ok(T::from_i64(number))
    }

    fn visit_u64<E>(self, number: u64) -> Result<Self::Value, E> {
        Ok(T::from_u64(number))
    }

    fn visit_f64<E>(self, number: f64) -> Result<Self::Value, E> {
        Ok(T::from_f64(number))
    }

    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(T::from_text(text))
    }

    fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
        Ok(T::from_string(text))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}
