//! # Stock: what a store may sell, pushed in the fewest requests
//!
//! The hub holds **on hand** per SKU per merchant, shared by all their stores (set absolutely:
//! `cenports stock set`, a CSV import, or the API's `PUT …/stock`). What a store may sell is
//!
//! ```text
//! available = max(0, on_hand − reserved − safety_buffer)
//! reserved  = Σ (quantity − quantity_shipped) over the SKU's lines of the imported orders of all
//!             the merchant's stores that are not cancelled, refunded or shipped (nor archived)
//! ```
//!
//! `reserved` is one SQL aggregate ([`crate::storage::Storage::stock_rows`]). The merchant's
//! scopes only allow overwriting a level (Catalog API), not adjusting it, so an order placed
//! between our read and our write is overwritten until the next push: docs/STOCK.md explains
//! that window and why it closes by itself.
//!
//! The module is channel-agnostic:
//! - [`plan`]: which SKUs differ from what the store last reported and how each is written
//!   (per variant, per product, or not at all, with the reason);
//! - [`push`]: batching to the channel's limits, removing the items a batch rejection names
//!   and resending the rest, the read-back, and recording the outcome per SKU, behind the
//!   channel's [`crate::channel::StockOut`] (each channel's `stock.rs`);
//! - [`csv`]: the `sku,on_hand` import, all or nothing.

pub mod csv;
pub mod plan;
pub mod push;

pub use crate::channel::{Target, Write, WriteKind, WriteOutcome};
pub use plan::{plan_push, Plan, Skip};
pub use push::{push_stock, PushReport, SkuOutcome, SkuStatus};

/// What a store may sell of a SKU: on hand minus what imported, unshipped orders still need,
/// minus the store's safety buffer; never below zero (a store cannot hold a negative level).
pub fn available(on_hand: i64, reserved: i64, safety_buffer: i64) -> i64 {
    on_hand
        .saturating_sub(reserved)
        .saturating_sub(safety_buffer.max(0))
        .max(0)
}

#[cfg(test)]
mod tests {
    use super::available;

    #[test]
    fn available_is_on_hand_minus_reserved_minus_buffer_and_never_negative() {
        assert_eq!(available(10, 3, 0), 7);
        assert_eq!(available(10, 3, 2), 5);
        assert_eq!(available(2, 3, 0), 0);
        assert_eq!(available(5, 0, 9), 0);
        assert_eq!(available(5, 0, -4), 5);
    }
}

/// The longest SKU taken (characters): the longest a store takes.
pub const MAX_SKU: usize = 255;

/// What is wrong with a SKU, by [`check_sku`]: the one rule of the API's stock `PUT`, the CLI's
/// `stock set` and `stock import`, so a SKU set one way can be changed every other way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkuProblem {
    /// Empty or only spaces.
    Empty,
    /// Longer than [`MAX_SKU`] characters.
    TooLong,
    /// Holds control characters (NUL, tab, line break, escape…).
    ControlCharacters,
}

impl std::fmt::Display for SkuProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("is empty"),
            Self::TooLong => write!(f, "is longer than {MAX_SKU} characters"),
            Self::ControlCharacters => f.write_str("has control characters"),
        }
    }
}

/// Checks a SKU as given and returns it without surrounding spaces: not blank, at most
/// [`MAX_SKU`] characters, no control characters.
pub fn check_sku(sku: &str) -> Result<&str, SkuProblem> {
    let trimmed = sku.trim();
    if trimmed.is_empty() {
        Err(SkuProblem::Empty)
    } else if sku.chars().count() > MAX_SKU {
        Err(SkuProblem::TooLong)
    } else if sku.chars().any(char::is_control) {
        Err(SkuProblem::ControlCharacters)
    } else {
        Ok(trimmed)
    }
}
