//! Endpoint methods on [`crate::Client`], grouped by resource, and the two paging schemes.
//!
//! - v2 lists are bare arrays paged with `page`/`limit`; the last page is a short page, and an
//!   empty page is `204 No Content` with no body.
//! - v3 lists are `{data, meta.pagination}` envelopes; the last page is
//!   `current_page >= total_pages` (or, without pagination, a short page).
//!
//! Pagers are `futures::Stream`s of pages: only one page is held at a time.

pub mod catalog;
pub mod hooks;
pub mod orders;
pub mod store;

use futures::{Stream, TryStreamExt};
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::error::Result;
use crate::http::Request;
use crate::models::Envelope;

/// Largest page BigCommerce serves on v2 and v3 lists.
pub const MAX_PAGE_SIZE: u32 = 250;

pub(crate) fn page_size(limit: Option<u32>) -> u32 {
    limit.unwrap_or(MAX_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE)
}

/// Fetches one v2 page; a 204 is an empty page.
pub(crate) async fn v2_page<T: DeserializeOwned>(
    client: &Client,
    request: &Request,
) -> Result<Vec<T>> {
    Ok(client.send::<Vec<T>>(request).await?.unwrap_or_default())
}

/// Pages through a v2 list starting at `first_page`.
pub(crate) fn v2_pages<T>(
    client: Client,
    request: Request,
    limit: u32,
    first_page: u32,
) -> impl Stream<Item = Result<Vec<T>>> + Send + 'static
where
    T: DeserializeOwned + Send + 'static,
{
    async_stream::try_stream! {
        let mut page = first_page.max(1);
        loop {
            let paged = request
                .clone()
                .param("page", page)
                .param("limit", limit);
            let items: Vec<T> = v2_page(&client, &paged).await?;
            let count = items.len();
            if count == 0 {
                break;
            }
            yield items;
            if count < limit as usize {
                break;
            }
            page += 1;
        }
    }
}

/// Pages through a v3 list starting at `first_page`.
pub(crate) fn v3_pages<T>(
    client: Client,
    request: Request,
    limit: u32,
    first_page: u32,
) -> impl Stream<Item = Result<Vec<T>>> + Send + 'static
where
    T: DeserializeOwned + Send + 'static,
{
    async_stream::try_stream! {
        let mut page = first_page.max(1);
        loop {
            let paged = request
                .clone()
                .param("page", page)
                .param("limit", limit);
            let envelope: Option<Envelope<Vec<T>>> = client.send(&paged).await?;
            let Some(envelope) = envelope else { break };
            let more = envelope.has_more_pages();
            let count = envelope.data.len();
            if count == 0 {
                break;
            }
            yield envelope.data;
            match more {
                Some(false) => break,
                None if count < limit as usize => break,
                _ => page += 1,
            }
        }
    }
}

/// Collects a bounded paged list (one order's lines or shipments, an account's hooks).
pub(crate) async fn collect_pages<T, S>(pages: S) -> Result<Vec<T>>
where
    S: Stream<Item = Result<Vec<T>>>,
{
    futures::pin_mut!(pages);
    let mut all = Vec::new();
    while let Some(page) = pages.try_next().await? {
        all.extend(page);
    }
    Ok(all)
}
