//! The stand-in for the Amazon SQS queue an app subscribes to `ORDER_CHANGE` with. Amazon
//! delivers notifications to SQS (or EventBridge), never by HTTP callback; the hub long-polls
//! the queue. This module keeps SQS standard-queue semantics that a consumer must live with:
//!
//! - **at-least-once**: a received message is hidden for its visibility timeout, then comes
//!   back (with a new receipt handle and a higher receive count) unless it was deleted;
//! - deleting needs the **latest** receipt handle: an older one is accepted and does nothing,
//!   as SQS documents;
//! - **duplicates** on demand (`duplicate_share`): SQS standard queues occasionally deliver a
//!   second copy of a message, which a consumer must tolerate;
//! - long polling: a receive waits up to 20 seconds for a message;
//! - at most 10 messages per receive; messages come out roughly in the order they were sent
//!   (SQS promises no order at all).
//!
//! Not modelled: retention (messages stay until deleted), dead-letter queues, message size.
//! The HTTP surface is in [`crate::api::control`] under `/_sandbox/queue`.

use chrono::{DateTime, Duration, Utc};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tokio::sync::Notify;

/// The most messages one receive returns (SQS's limit).
pub const MAX_MESSAGES: usize = 10;
/// The longest long poll, in seconds (SQS's limit).
pub const MAX_WAIT_SECONDS: u64 = 20;
/// The longest visibility timeout, in seconds (SQS's limit: 12 hours).
pub const MAX_VISIBILITY_SECONDS: i64 = 43_200;

#[derive(Debug)]
struct Stored {
    message_id: String,
    body: String,
    sent_at: DateTime<Utc>,
    visible_at: DateTime<Utc>,
    receive_count: u32,
    receipt_handle: Option<String>,
}

/// A message as a receive returns it.
#[derive(Debug, Clone, Serialize)]
pub struct ReceivedMessage {
    /// Stable across redeliveries of the same message.
    pub message_id: String,
    /// Changes at every delivery; deleting needs the latest.
    pub receipt_handle: String,
    /// The notification, as text (SQS bodies are strings).
    pub body: String,
    /// SQS's `ApproximateReceiveCount`: 1 on first delivery.
    pub receive_count: u32,
    pub sent_at: DateTime<Utc>,
}

/// Counts, for tests and the control API.
#[derive(Debug, Clone, Serialize)]
pub struct QueueStats {
    /// Messages that a receive would return now.
    pub visible: usize,
    /// Messages received and neither deleted nor visible again yet.
    pub in_flight: usize,
    pub sent: u64,
    pub deleted: u64,
    pub duplicate_share: f64,
}

#[derive(Debug)]
struct Inner {
    messages: Vec<Stored>,
    next_id: u64,
    sent: u64,
    deleted: u64,
    duplicate_share: f64,
    rng: ChaCha8Rng,
}

/// One queue.
#[derive(Debug)]
pub struct Queue {
    inner: Mutex<Inner>,
    arrived: Notify,
    /// The visibility timeout when a receive names none.
    pub default_visibility: Duration,
}

impl Queue {
    pub fn new(seed: u64, default_visibility: Duration) -> Queue {
        Queue {
            inner: Mutex::new(Inner {
                messages: Vec::new(),
                next_id: 0,
                sent: 0,
                deleted: 0,
                duplicate_share: 0.0,
                rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5e5_0bad),
            }),
            arrived: Notify::new(),
            default_visibility,
        }
    }

    fn uuid(inner: &mut Inner) -> String {
        inner.next_id += 1;
        let r: u64 = inner.rng.gen();
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            (r >> 32) as u32,
            (r >> 16) as u16,
            inner.next_id & 0xfff,
            (r >> 4) & 0xfff,
            (inner.next_id << 20 | (r & 0xfffff)) & 0xffff_ffff_ffff
        )
    }

    /// Sends a message (and, with the duplicate share, sometimes a second copy).
    pub fn send(&self, body: String, now: DateTime<Utc>) {
        {
            let mut inner = self.inner.lock();
            let copies =
                if inner.duplicate_share > 0.0 && inner.rng.gen::<f64>() < inner.duplicate_share {
                    2
                } else {
                    1
                };
            for _ in 0..copies {
                let message_id = Queue::uuid(&mut inner);
                inner.sent += 1;
                inner.messages.push(Stored {
                    message_id,
                    body: body.clone(),
                    sent_at: now,
                    visible_at: now,
                    receive_count: 0,
                    receipt_handle: None,
                });
            }
        }
        self.arrived.notify_waiters();
    }

    /// Receives up to `max` visible messages, hiding each for `visibility`.
    pub fn receive(
        &self,
        max: usize,
        visibility: Duration,
        now: DateTime<Utc>,
    ) -> Vec<ReceivedMessage> {
        let mut inner = self.inner.lock();
        let mut out = Vec::new();
        let mut picked = Vec::new();
        for (i, message) in inner.messages.iter().enumerate() {
            if out.len() + picked.len() >= max.clamp(1, MAX_MESSAGES) {
                break;
            }
            if message.visible_at <= now {
                picked.push(i);
            }
        }
        for i in picked {
            let handle = format!("{}#{}", Queue::uuid(&mut inner), inner.rng.gen::<u32>());
            let message = &mut inner.messages[i];
            message.receive_count += 1;
            message.visible_at = now + visibility;
            message.receipt_handle = Some(handle.clone());
            out.push(ReceivedMessage {
                message_id: message.message_id.clone(),
                receipt_handle: handle,
                body: message.body.clone(),
                receive_count: message.receive_count,
                sent_at: message.sent_at,
            });
        }
        out
    }

    /// Deletes the message whose latest receipt handle this is; `false` when the handle is
    /// unknown or stale (SQS answers success either way).
    pub fn delete(&self, receipt_handle: &str) -> bool {
        let mut inner = self.inner.lock();
        let before = inner.messages.len();
        inner
            .messages
            .retain(|m| m.receipt_handle.as_deref() != Some(receipt_handle));
        let deleted = inner.messages.len() < before;
        if deleted {
            inner.deleted += 1;
        }
        deleted
    }

    /// Sets how long the message with this (latest) receipt handle stays hidden from `now`
    /// (SQS's `ChangeMessageVisibility`; 0 makes it visible at once).
    pub fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
        now: DateTime<Utc>,
    ) -> bool {
        let changed = {
            let mut inner = self.inner.lock();
            match inner
                .messages
                .iter_mut()
                .find(|m| m.receipt_handle.as_deref() == Some(receipt_handle))
            {
                Some(message) => {
                    message.visible_at = now + timeout;
                    true
                }
                None => false,
            }
        };
        if changed {
            self.arrived.notify_waiters();
        }
        changed
    }

    /// Makes a share of future sends deliver a second copy.
    pub fn set_duplicate_share(&self, share: f64) {
        self.inner.lock().duplicate_share = share.clamp(0.0, 1.0);
    }

    /// Drops every message.
    pub fn purge(&self) {
        self.inner.lock().messages.clear();
    }

    pub fn stats(&self, now: DateTime<Utc>) -> QueueStats {
        let inner = self.inner.lock();
        let visible = inner
            .messages
            .iter()
            .filter(|m| m.visible_at <= now)
            .count();
        QueueStats {
            visible,
            in_flight: inner.messages.len() - visible,
            sent: inner.sent,
            deleted: inner.deleted,
            duplicate_share: inner.duplicate_share,
        }
    }

    /// Waits until a message is sent or made visible, or `timeout` passes.
    pub async fn wait(&self, timeout: std::time::Duration) {
        let _ = tokio::time::timeout(timeout, self.arrived.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_undeleted_message_comes_back_after_its_visibility_timeout() {
        let queue = Queue::new(1, Duration::seconds(30));
        let t0 = Utc::now();
        queue.send("a".into(), t0);
        let first = queue.receive(10, Duration::seconds(30), t0);
        assert_eq!(first.len(), 1);
        assert!(queue
            .receive(10, Duration::seconds(30), t0 + Duration::seconds(29))
            .is_empty());
        let again = queue.receive(10, Duration::seconds(30), t0 + Duration::seconds(30));
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].message_id, first[0].message_id);
        assert_eq!(again[0].receive_count, 2);
        // The first handle is stale now.
        assert!(!queue.delete(&first[0].receipt_handle));
        assert!(queue.delete(&again[0].receipt_handle));
        assert!(queue
            .receive(10, Duration::seconds(30), t0 + Duration::hours(1))
            .is_empty());
    }

    #[test]
    fn duplicates_are_separate_messages_with_the_same_body() {
        let queue = Queue::new(1, Duration::seconds(30));
        queue.set_duplicate_share(1.0);
        let now = Utc::now();
        queue.send("a".into(), now);
        let got = queue.receive(10, Duration::seconds(30), now);
        assert_eq!(got.len(), 2);
        assert_ne!(got[0].message_id, got[1].message_id);
        assert_eq!(got[0].body, got[1].body);
    }
}
