//! Priority classes in a store's quota, and how a request gets its class.
//!
//! Every task of a process that talks to a store shares the store's one [`RateLimiter`]
//! (`docs/HARD-PROBLEMS.md` note 3). When the quota is tight, what goes first matters: a
//! shipment must not queue behind a backfill of 100,000 orders. Each request therefore has a
//! [`Priority`], and when requests wait for the limiter a higher class is served first (see
//! [`crate::limiter`] for the exact rules).
//!
//! The class is not a parameter of every client method: it is the caller's **scope**. Wrap the
//! work in [`with_priority`] and every request sent while that future is polled carries the
//! class, however deep in streams and helpers it is made:
//!
//! ```no_run
//! # async fn run(client: bigcommerce_client::Client) -> bigcommerce_client::Result<()> {
//! use bigcommerce_client::{with_priority, Priority};
//!
//! let order = with_priority(Priority::Urgent, client.get_order(100)).await?;
//! # Ok(())
//! # }
//! ```
//!
//! It is a tokio task-local: it follows the future it wraps, not the thread, and a task
//! spawned inside the scope starts outside it (wrap the spawned future too). The innermost
//! scope wins. A request outside any scope is [`Priority::Sync`], the ordinary class, so code
//! that never heard of priorities neither jumps ahead of shipments nor starves behind
//! backfills.
//!
//! [`RateLimiter`]: crate::RateLimiter

use std::future::Future;

/// How urgent a request is for the store's quota, highest first.
///
/// The derived order follows urgency: `Urgent < Hint < Sync < Backfill`, so "higher class" is
/// "smaller value".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// A person or a warehouse is waiting on it: shipments and status changes and their
    /// read-backs. Never spaced out by the pacer's spreading (it still respects the share left
    /// to other apps and a 429); waits behind at most one request of a lower class.
    Urgent,
    /// Targeted work triggered by a hint: the fetch of one order or product a webhook named, a
    /// stock push.
    Hint,
    /// Keeping up: incremental walks, reconciliation. What a request outside any scope is.
    #[default]
    Sync,
    /// Bulk work that may take hours: first imports, backfills, catalog walks.
    Backfill,
}

impl Priority {
    /// Every class, highest first.
    pub const ALL: [Priority; 4] = [
        Priority::Urgent,
        Priority::Hint,
        Priority::Sync,
        Priority::Backfill,
    ];

    /// The class's position in [`Priority::ALL`] (0 is the highest).
    pub fn rank(self) -> usize {
        self as usize
    }

    /// The class's name in logs and metrics (`urgent`, `hint`, `sync`, `backfill`).
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::Hint => "hint",
            Priority::Sync => "sync",
            Priority::Backfill => "backfill",
        }
    }
}

tokio::task_local! {
    static PRIORITY: Priority;
}

/// Runs `future` with every request it sends in the class `priority` (the innermost scope
/// wins; a task spawned inside starts outside it).
pub async fn with_priority<F: Future>(priority: Priority, future: F) -> F::Output {
    PRIORITY.scope(priority, future).await
}

/// The class of the current scope ([`Priority::Sync`] outside any).
pub fn current_priority() -> Priority {
    PRIORITY.try_with(|priority| *priority).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_innermost_scope_wins_and_the_default_is_sync() {
        assert_eq!(current_priority(), Priority::Sync);
        let seen = with_priority(Priority::Backfill, async {
            let outer = current_priority();
            let inner = with_priority(Priority::Urgent, async { current_priority() }).await;
            (outer, inner, current_priority())
        })
        .await;
        assert_eq!(
            seen,
            (Priority::Backfill, Priority::Urgent, Priority::Backfill)
        );
        assert_eq!(current_priority(), Priority::Sync);
    }

    #[test]
    fn classes_are_ordered_by_urgency() {
        assert!(Priority::Urgent < Priority::Hint);
        assert!(Priority::Hint < Priority::Sync);
        assert!(Priority::Sync < Priority::Backfill);
        for (rank, priority) in Priority::ALL.into_iter().enumerate() {
            assert_eq!(priority.rank(), rank);
        }
    }
}
