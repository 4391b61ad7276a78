//! Pages of a list: the page size asked for and the cursor of the previous page, checked the
//! same way for every list (the API's and the dashboard's).

use super::ServiceError;

/// Largest page of a list.
pub const MAX_PAGE: u32 = 200;
/// Page size when `limit` is not given.
pub const DEFAULT_PAGE: u32 = 50;

/// The page size asked for, checked.
pub fn page_size(limit: Option<u32>) -> Result<u32, ServiceError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(ServiceError::InvalidQuery(format!(
            "limit must be from 1 to {MAX_PAGE}; {n} was given"
        ))),
    }
}

/// Reads a cursor returned by an earlier page. Cursors are opaque to clients; today they are
/// the last id of the previous page.
pub fn parse_cursor(cursor: Option<&str>) -> Result<Option<i64>, ServiceError> {
    match cursor {
        None => Ok(None),
        Some(text) => Some(text)
            // Exactly the documented pattern `^[1-9][0-9]{0,17}$` (the digits of a positive
            // id; clients still treat cursors as opaque).
            .filter(|t| {
                (1..=18).contains(&t.len())
                    && !t.starts_with('0')
                    && t.bytes().all(|b| b.is_ascii_digit())
            })
            .and_then(|t| t.parse::<i64>().ok())
            .filter(|id| *id > 0)
            .map(Some)
            .ok_or_else(|| {
                ServiceError::InvalidQuery(
                    "the cursor is not one this API returned; pass next_cursor from the \
                     previous page unchanged"
                        .into(),
                )
            }),
    }
}
