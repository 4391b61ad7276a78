//! Priorities in a store's quota, in the core's words.
//!
//! A store's quota is shared by every task of the process that talks to the store
//! ([`super::Limiters`], `docs/HARD-PROBLEMS.md` note 3). When it runs short, the order in which
//! waiting requests go matters: a shipment must not queue behind a backfill of 100,000 orders.
//! The core says how urgent its work is with [`with_priority`], around the work, not as a
//! parameter of every channel method:
//!
//! ```ignore
//! channel::with_priority(Priority::Urgent, deliver(row)).await
//! ```
//!
//! Every request a channel sends while that future is polled is in the class, however deep in
//! the channel's streams and helpers it is made. The scope is a tokio task-local: it follows
//! the future, and a task spawned inside starts outside it (wrap the spawned future too). The
//! innermost scope wins; outside any scope the class is [`Priority::Sync`].
//!
//! How a channel honours the classes is its own business, behind the seam:
//!
//! - a channel whose client crate has a scope of its own (the first channel's limiter reads
//!   its client crate's `with_priority`) is given the class by [`with_priority`] itself,
//!   through the registry (one line per such channel in `registry.rs`);
//! - any other channel reads [`current_priority`] where it paces: a channel with per-operation
//!   token buckets (Amazon's) applies the same rule in each bucket, a higher class waiting
//!   first and an urgent request never spread behind bulk work.

use std::future::Future;

/// How urgent a request is for the store's quota, highest first. The derived order follows
/// urgency (`Urgent < Hint < Sync < Backfill`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// Someone is waiting on it: the outbox's shipments and status changes and their
    /// read-backs. Goes ahead of everything waiting, and waits behind at most one request of
    /// a lower class.
    Urgent,
    /// Targeted work: what a webhook hinted at (one order, one product), a stock push.
    Hint,
    /// Keeping up: incremental order walks, reconciliation. The class outside any scope.
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

/// Runs `future` with every channel request it makes in the class `priority` (the innermost
/// scope wins; a task spawned inside starts outside it).
pub async fn with_priority<F: Future>(priority: Priority, future: F) -> F::Output {
    PRIORITY
        .scope(
            priority,
            super::registry::with_channel_priority(priority, future),
        )
        .await
}

/// The class of the current scope ([`Priority::Sync`] outside any): what a channel that paces
/// its own requests reads.
pub fn current_priority() -> Priority {
    PRIORITY.try_with(|priority| *priority).unwrap_or_default()
}
