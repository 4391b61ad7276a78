//! Orders and catalog in: what crosses the seam on the way into the hub.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::storage::{FulfilmentState, NewOrderRecord, NewProduct, NewSku};

/// What a walk reads: a stream's orders, narrowed by any of these filters (all optional,
/// combined with AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderQuery {
    /// The stream being walked, as [`super::OrdersIn::streams`] names it (or the core's own:
    /// `open_orders:{status}`, `reconcile`): a channel may give a stream of its own a filter
    /// of its own (e.g. archived orders).
    pub stream: String,
    /// Only this status code.
    pub status: Option<String>,
    /// Modified at or after.
    pub modified_from: Option<DateTime<Utc>>,
    /// Modified at or before.
    pub modified_to: Option<DateTime<Utc>>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created at or before.
    pub created_to: Option<DateTime<Utc>>,
    /// Orders per page (at most [`super::OrdersIn::max_page_size`]).
    pub page_size: u32,
}

/// One page of a walk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderPage {
    /// The orders, mapped.
    pub orders: Vec<NewOrderRecord>,
    /// Where the walk resumes after this page (committed with the page as the checkpoint's
    /// cursor); `None` when the page holds nothing to resume after.
    pub cursor: Option<String>,
    /// Whether another page may follow.
    pub more: bool,
}

/// One status with its number of orders at the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusTotal {
    /// The channel's status code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Orders in it.
    pub count: u64,
}

/// One page of the catalog: products, their SKU index entries, and the stock level the store
/// reports per SKU (`(sku, level)`, in index order, so the same entry wins for a SKU listed
/// twice).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogPage {
    /// Products.
    pub products: Vec<NewProduct>,
    /// Their SKUs.
    pub skus: Vec<NewSku>,
    /// What the store reports per SKU.
    pub levels: Vec<(String, i64)>,
}

/// A channel's status codes → our [`FulfilmentState`], per store.
///
/// A channel gives its default ([`super::OrdersIn::status_mapping`]); a store overrides entries
/// with [`StatusMapping::set`] or from text (`"7=ready,12=ready"`, see [`FromStr`]), e.g. a
/// merchant whose warehouse ships orders awaiting payment on account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMapping {
    states: BTreeMap<String, FulfilmentState>,
    fallback: FulfilmentState,
}

impl Default for StatusMapping {
    /// An empty table: every status is `other`.
    fn default() -> Self {
        StatusMapping {
            states: BTreeMap::new(),
            fallback: FulfilmentState::Other,
        }
    }
}

impl StatusMapping {
    /// A table of `(code, state)` entries with `other` for the rest.
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = (&'a str, FulfilmentState)>) -> Self {
        StatusMapping {
            states: entries
                .into_iter()
                .map(|(code, state)| (code.to_owned(), state))
                .collect(),
            fallback: FulfilmentState::Other,
        }
    }

    /// The state of a status code.
    pub fn state(&self, code: &str) -> FulfilmentState {
        self.states.get(code).copied().unwrap_or(self.fallback)
    }

    /// Maps `code` to `state` (overriding the default).
    pub fn set(&mut self, code: &str, state: FulfilmentState) -> &mut Self {
        self.states.insert(code.to_owned(), state);
        self
    }

    /// The state of codes not in the table (default `other`).
    pub fn set_fallback(&mut self, state: FulfilmentState) -> &mut Self {
        self.fallback = state;
        self
    }

    /// Every explicit entry, by code.
    pub fn entries(&self) -> impl Iterator<Item = (&str, FulfilmentState)> + '_ {
        self.states
            .iter()
            .map(|(code, state)| (code.as_str(), *state))
    }

    /// This table with `overrides` applied (`code=state` pairs, see [`FromStr`]).
    pub fn with_overrides(mut self, overrides: &StatusMapping) -> Self {
        for (code, state) in overrides.entries() {
            self.set(code, state);
        }
        if overrides.fallback != FulfilmentState::Other {
            self.fallback = overrides.fallback;
        }
        self
    }

    /// Applies text overrides: `code=state` pairs separated by commas, `*=state` for the
    /// fallback.
    pub fn apply_text(mut self, text: &str) -> Result<Self, InvalidStatusMapping> {
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let invalid = || InvalidStatusMapping(pair.to_owned());
            let (code, state) = pair.split_once('=').ok_or_else(invalid)?;
            let state = FulfilmentState::from_str(state.trim()).map_err(|_| invalid())?;
            match code.trim() {
                "" => return Err(invalid()),
                "*" => self.set_fallback(state),
                code => self.set(code, state),
            };
        }
        Ok(self)
    }
}

/// Overrides as `code=state` pairs separated by commas, e.g. `"7=ready, 12=ready"`, over an
/// empty table (combine with a channel's default with [`StatusMapping::with_overrides`]).
impl FromStr for StatusMapping {
    type Err = InvalidStatusMapping;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        StatusMapping::default().apply_text(text)
    }
}

/// A status mapping entry that is not `code=state`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid status mapping entry {0:?}: write `status_code=state`, e.g. `7=ready`, with a state \
     among ready, on_hold, cancelled, shipped, partially_shipped, refunded, other"
)]
pub struct InvalidStatusMapping(String);

impl fmt::Display for StatusMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (code, state) in self.entries() {
            write!(f, "{code}={},", state.as_str())?;
        }
        write!(f, "*={}", self.fallback.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_change_the_named_codes_and_the_fallback_only() {
        let base = StatusMapping::from_entries([
            ("11", FulfilmentState::Ready),
            ("7", FulfilmentState::OnHold),
        ]);
        let m = base.clone().apply_text("7=ready, *=on_hold").unwrap();
        assert_eq!(m.state("7"), FulfilmentState::Ready);
        assert_eq!(m.state("99"), FulfilmentState::OnHold);
        assert_eq!(m.state("11"), FulfilmentState::Ready);
        assert!(base.clone().apply_text("7:ready").is_err());
        assert!(base.clone().apply_text("7=sent").is_err());
        assert!(base.clone().apply_text("=ready").is_err());
        let again = StatusMapping::default().apply_text(&m.to_string()).unwrap();
        assert_eq!(again, m);
        let overrides: StatusMapping = "7=ready".parse().unwrap();
        assert_eq!(
            base.with_overrides(&overrides).state("7"),
            FulfilmentState::Ready
        );
    }
}
