//! Webhook delivery: BigCommerce's light callbacks, signed with Standard Webhooks, retried on
//! BigCommerce's schedule.
//!
//! # What is emulated
//! - **Matching.** Every event a store change fires (`store::Event`) goes to each *active* hook
//!   of that store whose scope is the event's scope, or a wildcard above it (`store/order/*`
//!   matches `store/order/created` and `store/order/message/created`).
//! - **Payload.** The light payload of `integrations__webhooks__overview.mdx`:
//!   `{created_at, store_id, producer: "stores/{hash}", scope, hash, data}`. `scope` is the
//!   event's own scope even when the hook subscribed with a wildcard (as BigCommerce's examples
//!   show). `hash` is the SHA-1 hex of the JSON of `data`, so, as in BigCommerce, two events
//!   with the same `data` (two `store/order/updated` of one order) carry the same hash: a
//!   receiver should de-duplicate by `webhook-id`, not by `hash`. `store_id` is a numeric
//!   string derived from the store hash ([`store_id`]).
//! - **Headers.** `Content-Type: application/json`, the hook's custom `headers`, and the
//!   Standard Webhooks trio `webhook-id` (one per message, the same on every retry of it),
//!   `webhook-timestamp` (this attempt) and `webhook-signature: v1,<base64 HMAC-SHA256>` keyed
//!   with the raw bytes of the client secret of the API account that owns the hook.
//! - **Retries.** A `2xx` answer is success; any other status, a timeout
//!   (`SandboxConfig::webhook_timeout_ms`) or a connection error is a failure, retried after
//!   60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400 and 86400 seconds, each multiplied
//!   by `SandboxConfig::webhook_retry_scale`. When the last retry fails the hook is deactivated
//!   (`is_active: false`), as BigCommerce does after about 48 hours. Redirects are not followed
//!   (a `3xx` is a failure). A retry is dropped if its hook was deleted or deactivated meanwhile.
//! - **Duplicates.** BigCommerce "may occasionally" deliver a callback twice; a per-store
//!   probability set with `POST /_sandbox/stores/{hash}/webhook_duplicates` makes the sandbox
//!   do the same, on purpose.
//! - **Loss.** Not a BigCommerce feature but what a receiver must survive (an outage longer
//!   than the retries, a hook deactivated meanwhile): `POST /_sandbox/stores/{hash}/webhook_loss`
//!   with `{"probability": 1.0}` drops that share of messages before their first attempt,
//!   recorded as `dropped` in the delivery log.
//!
//! # What is not emulated
//! - The per-domain success-ratio blocklist (90 % over two minutes, three-minute block) and the
//!   "domain as a whole" retry decision: each message is retried on its own.
//! - The notification e-mail on deactivation and the 90-days-of-inactivity deactivation.
//! - The "up to one minute" before a new hook starts working: hooks work at once.
//!
//! # Design
//! [`Dispatcher::publish`] is called from synchronous code right after a store change; it only
//! reads the hooks and pushes messages on an unbounded queue, so it never waits on the network.
//! The task started by [`Dispatcher::start`] takes messages off the queue and delivers them
//! with at most [`MAX_IN_FLIGHT`] requests in flight; a failed attempt schedules its retry on a
//! timer task that puts the message back on the queue. Every attempt is recorded in a bounded
//! per-store log read through `GET /_sandbox/stores/{hash}/webhook_deliveries`.
//!
//! The control routes (`webhook_deliveries`, `webhook_duplicates`, `webhook_loss`) are served by
//! [`crate::api::control`], which calls the [`Dispatcher`]; this module knows nothing of HTTP
//! routing. Nor does it know the server's state: the dispatcher gets its settings as values and
//! finds stores through a weak [`StoreLookup`] (which `SandboxState` implements), so the state
//! can own the dispatcher without a circle.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::sync::{mpsc, watch, Semaphore};

use crate::handle::{StoreHandle, StoreLookup};
use crate::store::Event;

/// BigCommerce's retry intervals in seconds, after the first attempt fails.
pub const RETRY_SCHEDULE_SECS: [u64; 11] = [
    60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400, 86400,
];

/// How many callbacks are in flight at once, over all stores.
pub const MAX_IN_FLIGHT: usize = 8;

/// How many delivery records each store keeps (oldest dropped first).
pub const DELIVERY_LOG_CAPACITY: usize = 10_000;

/// How far a `webhook-timestamp` may be from now for [`verify`] to accept it (Standard
/// Webhooks' recommended tolerance).
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 5 * 60;

/// Standard Webhooks header names.
pub mod headers {
    pub const WEBHOOK_ID: &str = "webhook-id";
    pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
    pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
}

/// Signs a message the Standard Webhooks way: `v1,` then the base64 of
/// HMAC-SHA256(`secret`, `"{msg_id}.{timestamp}.{body}"`). BigCommerce keys it with the raw
/// bytes of the API account's client secret.
pub fn sign(secret: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1,{}",
        BASE64.encode(mac(secret, msg_id, timestamp, body).finalize().into_bytes())
    )
}

fn mac(secret: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Why [`verify`] refused a callback.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the webhook-timestamp {timestamp} is more than {TIMESTAMP_TOLERANCE_SECS} s away from now ({now}); refuse it as a possible replay")]
    TimestampOutOfTolerance { timestamp: i64, now: i64 },
    #[error("no v1 signature in webhook-signature matches the body; check the client secret")]
    NoMatchingSignature,
}

/// Verifies a callback over its raw body: the timestamp must be within
/// [`TIMESTAMP_TOLERANCE_SECS`] of `now`, and one of the space-separated `v1,<base64>`
/// signatures of the `webhook-signature` header must match (compared in constant time).
pub fn verify(
    secret: &[u8],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    signature_header: &str,
    now: i64,
) -> Result<(), VerifyError> {
    if (now - timestamp).abs() > TIMESTAMP_TOLERANCE_SECS {
        return Err(VerifyError::TimestampOutOfTolerance { timestamp, now });
    }
    let matched = signature_header
        .split_whitespace()
        .filter_map(|candidate| candidate.strip_prefix("v1,"))
        .filter_map(|encoded| BASE64.decode(encoded).ok())
        .any(|raw| {
            mac(secret, msg_id, timestamp, body)
                .verify_slice(&raw)
                .is_ok()
        });
    if matched {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

/// Whether a hook subscribed to `hook_scope` receives an event of `event_scope`: the same
/// scope, or a wildcard `a/b/*` above it (`store/order/*` covers `store/order/created` and
/// `store/order/message/created`). Trailing slashes (some price-list scopes are documented
/// with one) are ignored.
pub fn scope_matches(hook_scope: &str, event_scope: &str) -> bool {
    let hook = hook_scope.trim_end_matches('/');
    let event = event_scope.trim_end_matches('/');
    match hook.strip_suffix("/*") {
        Some(prefix) => event
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1),
        None => hook == event,
    }
}

/// The numeric `store_id` a store's callbacks carry. BigCommerce's is an internal number we
/// cannot know, so it is derived from the store hash (FNV-1a), stable across runs.
pub fn store_id(store_hash: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in store_hash.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (1_000_000 + h % 999_000_000).to_string()
}

/// The callback body, in BigCommerce's field order.
#[derive(Serialize)]
struct Payload<'a> {
    created_at: i64,
    store_id: String,
    producer: String,
    scope: &'a str,
    hash: String,
    data: &'a serde_json::Value,
}

/// One message to one hook, possibly on its way to a retry.
#[derive(Debug, Clone)]
struct Message {
    id: String,
    store_hash: String,
    hook_id: u64,
    scope: String,
    body: Bytes,
    /// 1 for the first delivery, 2 for the first retry, ...
    attempt: usize,
}

/// One delivery attempt, as `GET /_sandbox/stores/{hash}/webhook_deliveries` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// Position in the store's log, from 1.
    pub seq: u64,
    /// The `webhook-id` of the message.
    pub message_id: String,
    pub hook_id: u64,
    pub scope: String,
    pub destination: String,
    /// 1 for the first delivery, 2 for the first retry, ... up to 12.
    pub attempt: usize,
    /// The receiver's status code, when it answered.
    pub status: Option<u16>,
    /// Why the attempt failed without a status (timeout, connection refused), or was skipped.
    pub error: Option<String>,
    /// `delivered`, `retry_scheduled`, `deactivated` (last retry failed), or `dropped` (the hook
    /// was deleted or deactivated before this attempt).
    pub outcome: String,
    /// When the next retry is due, in milliseconds from `at_ms` (scaled).
    pub retry_in_ms: Option<u64>,
    /// Unix milliseconds of the attempt.
    pub at_ms: i64,
}

#[derive(Debug, Default)]
struct DeliveryLog {
    next_seq: u64,
    records: VecDeque<DeliveryRecord>,
}

impl DeliveryLog {
    fn push(&mut self, mut record: DeliveryRecord) {
        self.next_seq += 1;
        record.seq = self.next_seq;
        if self.records.len() == DELIVERY_LOG_CAPACITY {
            self.records.pop_front();
        }
        self.records.push_back(record);
    }
}

/// How a store duplicates callbacks on purpose.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DuplicateSettings {
    /// Chance (0..=1) that a message is delivered twice.
    pub probability: f64,
    /// Whether the duplicate gets its own `webhook-id` (a re-emitted event) instead of the
    /// original's (a re-delivered message). Both happen in the wild; the hash is the same.
    pub new_id: bool,
}

/// Body of `POST /_sandbox/stores/{hash}/webhook_loss`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct LossSettings {
    /// Chance (0..=1) that a message is dropped before its first attempt.
    pub probability: f64,
}

/// What the dispatcher's tasks share.
#[derive(Debug)]
struct Shared {
    client: reqwest::Client,
    retry_scale: f64,
    queue: mpsc::UnboundedSender<Message>,
    logs: Mutex<HashMap<String, DeliveryLog>>,
    duplicates: Mutex<HashMap<String, DuplicateSettings>>,
    /// Per store, the chance (0..=1) that a message is lost before its first attempt.
    loss: Mutex<HashMap<String, f64>>,
    /// Random per dispatcher so that message ids do not repeat across sandbox runs.
    id_prefix: u64,
    next_id: AtomicU64,
}

impl Shared {
    fn record(&self, message: &Message, destination: &str, outcome: Outcome) {
        let (status, error, outcome, retry_in_ms) = match outcome {
            Outcome::Delivered(status) => (Some(status), None, "delivered", None),
            Outcome::Retry {
                status,
                error,
                in_ms,
            } => (status, error, "retry_scheduled", Some(in_ms)),
            Outcome::Deactivated { status, error } => (status, error, "deactivated", None),
            Outcome::Dropped(reason) => (None, Some(reason), "dropped", None),
        };
        self.logs
            .lock()
            .entry(message.store_hash.clone())
            .or_default()
            .push(DeliveryRecord {
                seq: 0,
                message_id: message.id.clone(),
                hook_id: message.hook_id,
                scope: message.scope.clone(),
                destination: destination.to_string(),
                attempt: message.attempt,
                status,
                error,
                outcome: outcome.to_string(),
                retry_in_ms,
                at_ms: chrono::Utc::now().timestamp_millis(),
            });
    }

    fn message_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("msg_{:016x}{n:08x}", self.id_prefix)
    }
}

enum Outcome {
    Delivered(u16),
    Retry {
        status: Option<u16>,
        error: Option<String>,
        in_ms: u64,
    },
    Deactivated {
        status: Option<u16>,
        error: Option<String>,
    },
    Dropped(String),
}

/// Delivers webhook callbacks.
#[derive(Debug)]
pub struct Dispatcher {
    shared: Arc<Shared>,
    /// Taken by [`Dispatcher::start`].
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Message>>>,
}

impl Dispatcher {
    /// A dispatcher whose deliveries time out after `timeout` and whose retries run
    /// `retry_scale` times BigCommerce's schedule (the sandbox passes its config's
    /// `webhook_timeout_ms` and `webhook_retry_scale`); nothing is sent until
    /// [`Dispatcher::start`].
    pub fn new(timeout: Duration, retry_scale: f64) -> Dispatcher {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            // BigCommerce counts a redirect as a failure, and the sandbox must never wander
            // off to a proxy from the environment.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("a reqwest client with static settings builds");
        let (queue, receiver) = mpsc::unbounded_channel();
        Dispatcher {
            shared: Arc::new(Shared {
                client,
                retry_scale: retry_scale.max(0.0),
                queue,
                logs: Mutex::new(HashMap::new()),
                duplicates: Mutex::new(HashMap::new()),
                loss: Mutex::new(HashMap::new()),
                id_prefix: rand::thread_rng().gen(),
                next_id: AtomicU64::new(1),
            }),
            receiver: Mutex::new(Some(receiver)),
        }
    }

    /// Starts the delivery task, which finds the store of each message in `state`; it stops
    /// when `shutdown` turns true or the state is dropped. Calling it twice does nothing the
    /// second time.
    pub fn start<S: StoreLookup + 'static>(&self, state: Weak<S>, shutdown: watch::Receiver<bool>) {
        let Some(receiver) = self.receiver.lock().take() else {
            return;
        };
        let state: Weak<dyn StoreLookup> = state;
        let shared = self.shared.clone();
        tokio::spawn(run(shared, state, receiver, shutdown));
    }

    /// Queues the callbacks that `events` fire for the store's active hooks. Never blocks on
    /// the network; call it after releasing the store's write lock.
    pub fn publish(&self, store: &Arc<StoreHandle>, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let hooks: Vec<(u64, String)> = store
            .data
            .read()
            .hooks
            .values()
            .filter(|hook| hook.is_active)
            .map(|hook| (hook.id, hook.scope.clone()))
            .collect();
        if hooks.is_empty() {
            return;
        }
        let duplicates = self
            .shared
            .duplicates
            .lock()
            .get(&store.hash)
            .copied()
            .unwrap_or_default();
        let loss = self
            .shared
            .loss
            .lock()
            .get(&store.hash)
            .copied()
            .unwrap_or_default();
        let created_at = chrono::Utc::now().timestamp();
        let store_id = store_id(&store.hash);
        for event in events {
            let targets: Vec<u64> = hooks
                .iter()
                .filter(|(_, scope)| scope_matches(scope, &event.scope))
                .map(|(id, _)| *id)
                .collect();
            if targets.is_empty() {
                continue;
            }
            let data_json = serde_json::to_vec(&event.data).unwrap_or_default();
            let payload = Payload {
                created_at,
                store_id: store_id.clone(),
                producer: format!("stores/{}", store.hash),
                scope: &event.scope,
                hash: hex(&sha1(&data_json)),
                data: &event.data,
            };
            let body = Bytes::from(serde_json::to_vec(&payload).unwrap_or_default());
            for hook_id in targets {
                let message = Message {
                    id: self.shared.message_id(),
                    store_hash: store.hash.clone(),
                    hook_id,
                    scope: event.scope.clone(),
                    body: body.clone(),
                    attempt: 1,
                };
                if loss > 0.0 && rand::thread_rng().gen_bool(loss.min(1.0)) {
                    self.shared.record(
                        &message,
                        "",
                        Outcome::Dropped("lost on purpose (webhook_loss)".to_string()),
                    );
                    continue;
                }
                if duplicates.probability > 0.0
                    && rand::thread_rng().gen_bool(duplicates.probability.min(1.0))
                {
                    let mut twin = message.clone();
                    if duplicates.new_id {
                        twin.id = self.shared.message_id();
                    }
                    let _ = self.shared.queue.send(twin);
                }
                // Sending fails only once the delivery task has stopped (shutdown).
                let _ = self.shared.queue.send(message);
            }
        }
    }

    /// The delivery log of a store, records after `after`.
    pub fn deliveries(&self, store_hash: &str, after: u64) -> Vec<DeliveryRecord> {
        self.shared
            .logs
            .lock()
            .get(store_hash)
            .map(|log| {
                log.records
                    .iter()
                    .filter(|r| r.seq > after)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Makes the store lose a share (0..=1) of its callbacks before their first attempt.
    pub fn set_loss(&self, store_hash: &str, probability: f64) {
        self.shared
            .loss
            .lock()
            .insert(store_hash.to_string(), probability.clamp(0.0, 1.0));
    }

    /// Makes the store deliver some callbacks twice.
    pub fn set_duplicates(&self, store_hash: &str, settings: DuplicateSettings) {
        self.shared
            .duplicates
            .lock()
            .insert(store_hash.to_string(), settings);
    }
}

/// The delivery task: one message at a time off the queue, at most [`MAX_IN_FLIGHT`] in flight.
async fn run(
    shared: Arc<Shared>,
    state: Weak<dyn StoreLookup>,
    mut receiver: mpsc::UnboundedReceiver<Message>,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    loop {
        let message = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            message = receiver.recv() => match message {
                Some(message) => message,
                None => return,
            },
        };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let shared = shared.clone();
        let state = state.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            deliver(&shared, &state, message, shutdown).await;
            drop(permit);
        });
    }
}

/// What an attempt needs from the store, read fresh each time so that a hook deleted,
/// deactivated or re-pointed between retries is honoured.
struct Target {
    destination: String,
    headers: Vec<(String, String)>,
    secret: Vec<u8>,
}

fn target(state: &Weak<dyn StoreLookup>, message: &Message) -> Result<Target, String> {
    let state = state.upgrade().ok_or("the sandbox stopped")?;
    let store = state
        .find_store(&message.store_hash)
        .ok_or("the store no longer exists")?;
    let data = store.data.read();
    let hook = data
        .hooks
        .get(&message.hook_id)
        .ok_or("the hook was deleted")?;
    if !hook.is_active {
        return Err("the hook is not active".to_string());
    }
    let secret = data
        .account_by_client_id(&hook.client_id)
        .map(|account| account.client_secret.as_bytes().to_vec())
        .unwrap_or_default();
    Ok(Target {
        destination: hook.destination.clone(),
        headers: hook
            .headers
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        secret,
    })
}

async fn deliver(
    shared: &Arc<Shared>,
    state: &Weak<dyn StoreLookup>,
    message: Message,
    mut shutdown: watch::Receiver<bool>,
) {
    let target = match target(state, &message) {
        Ok(target) => target,
        Err(reason) => {
            shared.record(&message, "", Outcome::Dropped(reason));
            return;
        }
    };
    let timestamp = chrono::Utc::now().timestamp();
    let mut request = shared
        .client
        .post(&target.destination)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    // Custom headers go first so that they cannot replace the signature headers.
    for (name, value) in &target.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .header(headers::WEBHOOK_ID, message.id.as_str())
        .header(headers::WEBHOOK_TIMESTAMP, timestamp.to_string())
        .header(
            headers::WEBHOOK_SIGNATURE,
            sign(&target.secret, &message.id, timestamp, &message.body),
        )
        .body(message.body.clone());
    let (status, error) = match request.send().await {
        Ok(response) => (Some(response.status().as_u16()), None),
        Err(error) => (None, Some(describe(&error))),
    };
    if let Some(code) = status.filter(|code| (200..300).contains(code)) {
        shared.record(&message, &target.destination, Outcome::Delivered(code));
        return;
    }
    let Some(delay_secs) = RETRY_SCHEDULE_SECS.get(message.attempt - 1) else {
        deactivate(state, &message);
        shared.record(
            &message,
            &target.destination,
            Outcome::Deactivated { status, error },
        );
        return;
    };
    let delay = Duration::from_secs_f64(*delay_secs as f64 * shared.retry_scale);
    shared.record(
        &message,
        &target.destination,
        Outcome::Retry {
            status,
            error,
            in_ms: delay.as_millis() as u64,
        },
    );
    // The retry waits on its own timer task so that it holds no delivery slot meanwhile.
    let queue = shared.queue.clone();
    let retry = Message {
        attempt: message.attempt + 1,
        ..message
    };
    tokio::spawn(async move {
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => {}
            _ = tokio::time::sleep(delay) => {
                let _ = queue.send(retry);
            }
        }
    });
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout: no answer within webhook_timeout_ms".to_string()
    } else if error.is_connect() {
        format!("connection failed: {error}")
    } else {
        error.to_string()
    }
}

/// After the last retry fails BigCommerce deactivates the hook.
fn deactivate(state: &Weak<dyn StoreLookup>, message: &Message) {
    let Some(store) = state
        .upgrade()
        .and_then(|state| state.find_store(&message.store_hash))
    else {
        return;
    };
    let mut data = store.data.write();
    if let Some(hook) = data.hooks.get_mut(&message.hook_id) {
        hook.is_active = false;
        hook.updated_at = chrono::Utc::now().timestamp();
    }
}

/// SHA-1, for the payload's `hash` field only (BigCommerce's choice, not a security measure).
fn sha1(input: &[u8]) -> [u8; 20] {
    use sha1::Digest;
    sha1::Sha1::digest(input).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_matches_the_published_test_vectors() {
        assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex(&sha1(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
    }

    #[test]
    fn a_signature_verifies_and_a_tampered_body_does_not() {
        let secret = b"client-secret";
        let signature = sign(secret, "msg_1", 1_700_000_000, b"{\"a\":1}");
        assert!(signature.starts_with("v1,"));
        let header = format!("v1,bm90IGl0 {signature}");
        assert_eq!(
            verify(
                secret,
                "msg_1",
                1_700_000_000,
                b"{\"a\":1}",
                &header,
                1_700_000_010
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                secret,
                "msg_1",
                1_700_000_000,
                b"{\"a\":2}",
                &header,
                1_700_000_010
            ),
            Err(VerifyError::NoMatchingSignature)
        );
        assert!(matches!(
            verify(
                secret,
                "msg_1",
                1_700_000_000,
                b"{\"a\":1}",
                &header,
                1_700_001_000
            ),
            Err(VerifyError::TimestampOutOfTolerance { .. })
        ));
    }

    #[test]
    fn wildcard_scopes_match_the_events_below_them_only() {
        assert!(scope_matches("store/order/*", "store/order/created"));
        assert!(scope_matches(
            "store/order/*",
            "store/order/message/created"
        ));
        assert!(scope_matches("store/order/created", "store/order/created"));
        assert!(!scope_matches("store/order/*", "store/orders/created"));
        assert!(!scope_matches("store/order/*", "store/order"));
        assert!(!scope_matches("store/order/created", "store/order/updated"));
        assert!(scope_matches(
            "store/priceList/updated/",
            "store/priceList/updated"
        ));
    }
}
