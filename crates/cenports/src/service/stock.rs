//! Stock: on hand, reserved and available per SKU, and a bulk set of on hand (all or nothing,
//! like `cenports stock import`). Pushing to the store stays with `cenports stock push` and the
//! scheduler (`docs/STOCK.md`).

use std::collections::HashSet;

use super::stores::scope_for;
use super::{AppState, ServiceError};
use crate::accounts::StoreAccess;
use crate::stock::available;
use crate::storage::{StockRow, MAX_STOCK_LEVEL};

/// Most items in one bulk set.
pub const MAX_STOCK_ITEMS: usize = 10_000;

/// A store's stock.
#[derive(Debug)]
pub struct StockLevels {
    /// Units held back from every tracked SKU.
    pub safety_buffer: i64,
    /// By SKU.
    pub items: Vec<StockItem>,
}

/// One SKU's stock.
#[derive(Debug)]
pub struct StockItem {
    /// On hand, reserved, the store's catalog entry and the last push, as stored.
    pub row: StockRow,
    /// What the store may sell: on hand − reserved − the safety buffer, at least 0.
    pub available: i64,
}

/// Every SKU the hub holds stock for in the store.
pub async fn list_stock(
    state: &AppState,
    access: StoreAccess,
    store_id: i64,
) -> Result<StockLevels, ServiceError> {
    let scope = scope_for(state, access, store_id).await?;
    let buffer = state.storage.stock_buffer(&scope).await?;
    let rows = state.storage.stock_rows(&scope).await?;
    let items = rows
        .into_iter()
        .map(|row| StockItem {
            available: available(row.on_hand, row.reserved, buffer),
            row,
        })
        .collect();
    Ok(StockLevels {
        safety_buffer: buffer,
        items,
    })
}

/// On hand of one SKU, to set.
#[derive(Debug, Clone)]
pub struct OnHand {
    /// The SKU (as in the store's catalog).
    pub sku: String,
    /// On hand, 0 to [`MAX_STOCK_LEVEL`].
    pub on_hand: i64,
}

/// What a bulk set did.
#[derive(Debug)]
pub struct StockSet {
    /// Items received.
    pub received: usize,
    /// SKUs whose on hand changed (equal values are not rewritten).
    pub changed: u64,
}

/// Sets on hand for many SKUs in one transaction: every item is checked first, and one bad
/// item rejects the whole request (the message lists each bad item by index).
pub async fn set_stock(
    state: &AppState,
    access: StoreAccess,
    store_id: i64,
    items: &[OnHand],
) -> Result<StockSet, ServiceError> {
    let scope = scope_for(state, access, store_id).await?;
    let levels = check_items(items)?;
    let changed = state.storage.set_stock(&scope, &levels).await?;
    Ok(StockSet {
        received: levels.len(),
        changed,
    })
}

/// Every problem of the items, or the levels to write.
fn check_items(items: &[OnHand]) -> Result<Vec<(String, i64)>, ServiceError> {
    if items.is_empty() || items.len() > MAX_STOCK_ITEMS {
        return Err(ServiceError::Invalid(format!(
            "items must hold 1 to {MAX_STOCK_ITEMS} SKUs; {} were given",
            items.len()
        )));
    }
    let mut problems = Vec::new();
    let mut seen = HashSet::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match crate::stock::check_sku(&item.sku) {
            Err(problem) => problems.push(format!("items[{i}].sku {problem}")),
            Ok(sku) if !seen.insert(sku) => {
                problems.push(format!("items[{i}].sku {sku:?} is given twice"))
            }
            Ok(_) => {}
        }
        if !(0..=MAX_STOCK_LEVEL).contains(&item.on_hand) {
            problems.push(format!(
                "items[{i}].on_hand must be from 0 to {MAX_STOCK_LEVEL}; {} was given",
                item.on_hand
            ));
        }
    }
    if problems.is_empty() {
        Ok(items
            .iter()
            .map(|i| (i.sku.trim().to_owned(), i.on_hand))
            .collect())
    } else {
        let shown = problems.len().min(20);
        let more = problems.len() - shown;
        let mut text = format!("nothing was set: {}", problems[..shown].join("; "));
        if more > 0 {
            text.push_str(&format!("; and {more} more"));
        }
        Err(ServiceError::Invalid(text))
    }
}
