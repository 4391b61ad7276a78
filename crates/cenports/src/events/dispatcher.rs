//! The dispatcher: delivers events to the merchants' subscriptions from the database queue.
//!
//! Every `serve` and `worker` process runs one. It claims due deliveries
//! ([`Storage::claim_deliveries`]: pending, the subscription not paused, the next in line of its
//! order for its subscription) under a lease, for all its free slots at once, sends each as a signed POST, and records
//! the outcome: a 2xx answer delivers it; anything else (another status, a refused connection,
//! a timeout, a refused destination) pauses the subscription for its back-off and the delivery
//! waits, until it is given up a day after its first attempt. A process killed mid-send leaves
//! the claim to expire; another process sends it again with the same `webhook-id`.
//!
//! The request (`docs/EVENTS.md`, "What a subscriber receives"):
//!
//! ```text
//! POST <url>
//! content-type: application/json
//! user-agent: Cenports-Events/1
//! webhook-id: evt_123
//! webhook-timestamp: 1765051200
//! webhook-signature: v1,<base64 HMAC-SHA256 of "evt_123.1765051200.<body>">
//!
//! {"id":"evt_123","type":"order.cancelled","timestamp":"…","store_id":3,"data":{…}}
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::{signer, Destinations};
use crate::secrets::SecretBox;
use crate::storage::{
    ClaimedDelivery, DeliveryState, Storage, SubscriptionId, EVENT_RETENTION, GIVE_UP_AFTER,
};

/// How the dispatcher runs.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// Deliveries in flight at once (over every subscription).
    pub concurrency: usize,
    /// Time between looks at the queue when it was empty.
    pub idle_wait: Duration,
    /// How long a claim lasts: longer than a request can take.
    pub lease: Duration,
    /// How long the dispatcher waits for an endpoint's answer.
    pub timeout: Duration,
    /// How long a delivery is retried before it is given up.
    pub give_up_after: Duration,
    /// Where events may go.
    pub destinations: Destinations,
    /// This process's name in claims (the fleet's process id).
    pub owner: String,
}

impl DispatcherConfig {
    /// The defaults: 16 in flight, a look every 250 ms, 10 s per request, a day of retries.
    pub fn new(owner: impl Into<String>, destinations: Destinations) -> Self {
        DispatcherConfig {
            concurrency: 16,
            idle_wait: Duration::from_millis(250),
            lease: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            give_up_after: GIVE_UP_AFTER,
            destinations,
            owner: owner.into(),
        }
    }
}

/// What a dispatcher did, for its log line at shutdown.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DispatchReport {
    /// Deliveries the endpoints took.
    pub delivered: u64,
    /// Attempts that failed (each pauses its subscription).
    pub failed_attempts: u64,
    /// Deliveries given up.
    pub given_up: u64,
}

/// How often old events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);

/// Runs until `shutdown` resolves, then lets the sends in flight finish.
pub async fn run(
    storage: Storage,
    secret_box: Arc<SecretBox>,
    config: DispatcherConfig,
    shutdown: impl Future<Output = ()>,
) -> DispatchReport {
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        .no_proxy()
        .user_agent("Cenports-Events/1")
        .dns_resolver(config.destinations.resolver())
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %error, "events: the HTTP client could not be built; no event is delivered by this process");
            shutdown.await;
            return DispatchReport::default();
        }
    };
    let mut report = DispatchReport::default();
    let mut in_flight: JoinSet<Outcome> = JoinSet::new();
    let mut signers: HashMap<SubscriptionId, Arc<standardwebhooks::Webhook>> = HashMap::new();
    let mut last_prune = tokio::time::Instant::now() - PRUNE_EVERY;
    tokio::pin!(shutdown);
    loop {
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = tokio::time::Instant::now();
            prune(&storage).await;
        }
        let free = config.concurrency.saturating_sub(in_flight.len());
        let claimed = if free > 0 {
            match storage
                .claim_deliveries(&config.owner, free as u32, config.lease)
                .await
            {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(error = %error, "events: could not claim deliveries");
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let claimed_any = !claimed.is_empty();
        for delivery in claimed {
            let webhook = match signers.get(&delivery.subscription_id) {
                Some(webhook) => Ok(webhook.clone()),
                None => signer(
                    &secret_box,
                    delivery.user_id,
                    &delivery.url,
                    &delivery.sealed_secret,
                )
                .map(Arc::new)
                .inspect(|webhook| {
                    signers.insert(delivery.subscription_id, webhook.clone());
                }),
            };
            let (client, destinations) = (client.clone(), config.destinations);
            in_flight.spawn(async move {
                let result = match webhook {
                    Ok(webhook) => send(&client, destinations, &webhook, &delivery).await,
                    Err(error) => Err((None, error)),
                };
                Outcome { delivery, result }
            });
        }
        if claimed_any && in_flight.len() < config.concurrency {
            // More may be due at once: look again before waiting.
            continue;
        }
        tokio::select! {
            () = &mut shutdown => break,
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Ok(outcome) = done {
                    record(&storage, &config, outcome, &mut report).await;
                }
                // Record every send that finished meanwhile before claiming again, so the next
                // claim fills all the free slots at once: with a fast endpoint, claiming after
                // each answer kept one or two requests in flight, at two commits a delivery.
                while let Some(done) = in_flight.try_join_next() {
                    if let Ok(outcome) = done {
                        record(&storage, &config, outcome, &mut report).await;
                    }
                }
            }
            () = tokio::time::sleep(config.idle_wait) => {}
        }
    }
    while let Some(done) = in_flight.join_next().await {
        if let Ok(outcome) = done {
            record(&storage, &config, outcome, &mut report).await;
        }
    }
    report
}

/// Deletes events past their retention, a batch at a time (short transactions), until none is
/// left or a hundred batches went (the rest waits for the next hour).
async fn prune(storage: &Storage) {
    let mut total = 0;
    for _ in 0..100 {
        match storage.prune_events(EVENT_RETENTION).await {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(error) => {
                tracing::warn!(error = %error, "events: could not prune old events");
                break;
            }
        }
    }
    if total > 0 {
        tracing::info!(events.pruned = total, "events: old events pruned");
    }
}

/// A finished send: the HTTP status on success, or the status (if any) and the error.
struct Outcome {
    delivery: ClaimedDelivery,
    result: Result<u16, (Option<u16>, String)>,
}

/// Sends one delivery, signed for this attempt.
async fn send(
    client: &reqwest::Client,
    destinations: Destinations,
    webhook: &standardwebhooks::Webhook,
    delivery: &ClaimedDelivery,
) -> Result<u16, (Option<u16>, String)> {
    let url = url::Url::parse(&delivery.url).map_err(|e| (None, format!("bad URL: {e}")))?;
    destinations.check_literal(&url).map_err(|e| (None, e))?;
    let body = delivery.event.envelope().to_string();
    let id = crate::storage::event_public_id(delivery.event.id);
    let timestamp = chrono::Utc::now().timestamp();
    let signature = webhook
        .sign(&id, timestamp, body.as_bytes())
        .map_err(|e| (None, format!("could not sign: {e}")))?;
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(standardwebhooks::HEADER_WEBHOOK_ID, &id)
        .header(
            standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
            timestamp.to_string(),
        )
        .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
        .body(body)
        .send()
        .await
        .map_err(|e| (None, describe_send_error(&e)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(status.as_u16());
    }
    let text: String = response
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    let hint = if status.is_redirection() {
        " (redirects are not followed: subscribe the final URL)"
    } else {
        ""
    };
    Err((
        Some(status.as_u16()),
        format!("the endpoint answered {status}{hint}: {}", text.trim()),
    ))
}

fn describe_send_error(error: &reqwest::Error) -> String {
    let mut message = if error.is_timeout() {
        "the endpoint did not answer in time".to_owned()
    } else if error.is_connect() {
        "could not connect to the endpoint".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

async fn record(
    storage: &Storage,
    config: &DispatcherConfig,
    outcome: Outcome,
    report: &mut DispatchReport,
) {
    let Outcome { delivery, result } = outcome;
    let event = crate::storage::event_public_id(delivery.event.id);
    match result {
        Ok(status) => match storage
            .delivery_succeeded(delivery.id, &config.owner, status)
            .await
        {
            Ok(_) => {
                report.delivered += 1;
                tracing::debug!(delivery.id = %delivery.id, event.id = %event, event.kind = %delivery.event.event_type, "events: delivered");
            }
            Err(error) => {
                tracing::warn!(delivery.id = %delivery.id, error = %error, "events: a delivery was sent but could not be recorded; it will be sent again (same webhook-id)")
            }
        },
        Err((status, message)) => {
            report.failed_attempts += 1;
            match storage
                .delivery_failed(
                    delivery.id,
                    &config.owner,
                    status,
                    &message,
                    config.give_up_after,
                )
                .await
            {
                Ok(Some(DeliveryState::Failed)) => {
                    report.given_up += 1;
                    tracing::warn!(delivery.id = %delivery.id, event.id = %event, subscription.id = %delivery.subscription_id, error = %message, "events: delivery given up after a day of failures; resend it from the dashboard or with `cenports subscriptions resend`");
                }
                Ok(_) => {
                    tracing::info!(delivery.id = %delivery.id, event.id = %event, subscription.id = %delivery.subscription_id, attempt = delivery.attempt, error = %message, "events: delivery failed; the subscription pauses and retries");
                }
                Err(error) => {
                    tracing::warn!(delivery.id = %delivery.id, error = %error, "events: a failed delivery could not be recorded; its claim expires and it is retried")
                }
            }
        }
    }
}
