//! `/metrics` in the Prometheus text exposition format (version 0.0.4).
//!
//! Hand-written rather than through a metrics crate: most figures (sync lag, orders imported,
//! outbox depth) are *read from the database at scrape time*, so they are right whichever
//! process did the work and survive restarts; a registry of pre-declared instruments would add
//! a dependency and a copy of data the database already holds. What only a process knows (API
//! requests by status, the quota a store's client last saw, webhook receipts) is counted
//! in [`Metrics`]. Labels are bounded: the surface (`api`, `dashboard`, `ops`), route templates
//! (not paths: `/stores/{store_id}`, never `/stores/7`), status codes, store ids, outbox states,
//! and the webhook receiver's outcomes.
//!
//! | metric | type | labels | source |
//! |---|---|---|---|
//! | `cenports_http_requests_total` | counter | `surface`, `route`, `status` | this process: the API, the dashboard's pages, the operational routes |
//! | `cenports_sync_lag_seconds` | gauge | `store` | database: now − how far the order sync has come |
//! | `cenports_orders_imported` | gauge | `store` | database: orders held |
//! | `cenports_outbox_depth` | gauge | `store` | database: pending + sending rows |
//! | `cenports_outbox_rows` | gauge | `store`, `state` | database |
//! | `cenports_outbox_retrying` | gauge | `store` | database: pending + sending rows whose last attempt failed (an alert on it, or on `failed` rows, finds a store that cannot be written to) |
//! | `cenports_jobs_queued` | gauge | `store` | database: jobs waiting to be claimed (webhook hints, walks, syncs asked for through the API) |
//! | `cenports_jobs_oldest_seconds` | gauge | `store` | database: how long the oldest waiting job has waited (absent when none waits) |
//! | `cenports_fleet_processes` | gauge | | database: live `serve`/`worker` processes (heartbeat within the lease period) |
//! | `cenports_fleet_leases` | gauge | `process` | database: store leases each live process holds |
//! | `cenports_event_deliveries` | gauge | `state` | database: deliveries of events to the warehouses' systems, pending (waiting or retrying), delivered, failed (given up after a day) |
//! | `cenports_event_deliveries_oldest_pending_seconds` | gauge | | database: age of the oldest event still waiting for a delivery (0 when none) |
//! | `cenports_event_subscriptions_failing` | gauge | | database: subscriptions whose last attempt failed (paused, retrying) |
//! | `cenports_store_quota_left` | gauge | `store` | this process: the last `X-Rate-Limit-Requests-Left` any of its clients saw for the store (syncs, webhook fetches, outbox writes: they share the store's limiter) |
//! | `cenports_webhook_receipts_total` | counter | `outcome` | this process: fed by the webhook receiver |
//! | `cenports_api_syncs_total` | counter | `outcome` | this process: syncs triggered through the API |

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::storage::{DeliveryCounts, FleetProcess, StoreFigures, StoreId};

/// Counters only this process knows. Cheap to share (an `Arc` in the HTTP surfaces' state, the
/// scheduler's configuration and the webhook receiver's counting layer).
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(Surface, String, u16), u64>>,
    quota_left: Mutex<BTreeMap<i64, u64>>,
    webhook_receipts: Mutex<BTreeMap<String, u64>>,
    api_syncs: Mutex<BTreeMap<&'static str, u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Which part of the hub answered a request: the `surface` label of
/// `cenports_http_requests_total`, so that API and dashboard traffic can be told apart (and
/// summed) without listing route templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Surface {
    /// The JSON API under `/api/v1/`.
    Api,
    /// The dashboard's pages, its stylesheet, and sign-in and sign-out (`/login`, `/logout`,
    /// which scripts may also call with JSON).
    Dashboard,
    /// `/healthz`, `/readyz`, `/metrics`.
    Ops,
}

impl Surface {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Api => "api",
            Surface::Dashboard => "dashboard",
            Surface::Ops => "ops",
        }
    }
}

impl Metrics {
    /// Counts one answered request by surface, route template and status. `route` must be a
    /// template of the router (`/stores/{store_id}`), never a raw path, so that the number of
    /// series stays bounded by the route table.
    pub fn record_request(&self, surface: Surface, route: &str, status: u16) {
        *lock(&self.requests)
            .entry((surface, route.to_owned(), status))
            .or_default() += 1;
    }

    /// Records the quota a store's client last saw (requests left in the window).
    pub fn record_quota_left(&self, store: StoreId, left: u64) {
        lock(&self.quota_left).insert(store.get(), left);
    }

    /// The requests left in the store's quota window as a client of this process last saw
    /// them, if one has called the store's channel.
    pub fn quota_left(&self, store: StoreId) -> Option<u64> {
        lock(&self.quota_left).get(&store.get()).copied()
    }

    /// Counts one webhook receipt by outcome (e.g. `accepted`, `duplicate`, `bad_signature`):
    /// for the webhook receiver to call. Keep outcomes a fixed set.
    pub fn record_webhook_receipt(&self, outcome: &str) {
        *lock(&self.webhook_receipts)
            .entry(outcome.to_owned())
            .or_default() += 1;
    }

    /// Counts one sync triggered through the API by outcome (`ok`, `failed`).
    pub fn record_api_sync(&self, outcome: &'static str) {
        *lock(&self.api_syncs).entry(outcome).or_default() += 1;
    }

    /// The exposition: this process's counters and the database's figures at `now`.
    pub fn render(
        &self,
        figures: &[StoreFigures],
        fleet: &[FleetProcess],
        deliveries: &DeliveryCounts,
        now: DateTime<Utc>,
    ) -> String {
        let mut out = String::with_capacity(4096);
        family(
            &mut out,
            "cenports_http_requests_total",
            "counter",
            "HTTP requests answered by the hub (API, dashboard pages, operational routes), by \
             surface, route template and status.",
        );
        for ((surface, route, status), n) in lock(&self.requests).iter() {
            sample(
                &mut out,
                "cenports_http_requests_total",
                &[
                    ("surface", surface.as_str()),
                    ("route", route),
                    ("status", &status.to_string()),
                ],
                *n as f64,
            );
        }
        family(
            &mut out,
            "cenports_sync_lag_seconds",
            "gauge",
            "Seconds since the instant up to which the hub holds every changed order of the \
             store (absent before the first sync window).",
        );
        for f in figures {
            if let Some(until) = f.orders_synced_until {
                let lag = (now - until).num_milliseconds().max(0) as f64 / 1000.0;
                sample(
                    &mut out,
                    "cenports_sync_lag_seconds",
                    &[("store", &store(f))],
                    lag,
                );
            }
        }
        family(
            &mut out,
            "cenports_orders_imported",
            "gauge",
            "Orders the hub holds for the store (imported, deleted ones included).",
        );
        for f in figures {
            sample(
                &mut out,
                "cenports_orders_imported",
                &[("store", &store(f))],
                f.orders as f64,
            );
        }
        family(
            &mut out,
            "cenports_outbox_depth",
            "gauge",
            "Writes to the channel waiting to be delivered (pending and sending rows).",
        );
        for f in figures {
            sample(
                &mut out,
                "cenports_outbox_depth",
                &[("store", &store(f))],
                f.outbox.open() as f64,
            );
        }
        family(
            &mut out,
            "cenports_outbox_rows",
            "gauge",
            "Outbox rows by state.",
        );
        for f in figures {
            let id = store(f);
            for (state, n) in [
                ("pending", f.outbox.pending),
                ("sending", f.outbox.sending),
                ("delivered", f.outbox.delivered),
                ("failed", f.outbox.failed),
            ] {
                sample(
                    &mut out,
                    "cenports_outbox_rows",
                    &[("store", &id), ("state", state)],
                    n as f64,
                );
            }
        }
        family(
            &mut out,
            "cenports_outbox_retrying",
            "gauge",
            "Writes to the channel whose last attempt failed and that wait for a retry.",
        );
        for f in figures {
            sample(
                &mut out,
                "cenports_outbox_retrying",
                &[("store", &store(f))],
                f.outbox.retrying as f64,
            );
        }
        family(
            &mut out,
            "cenports_jobs_queued",
            "gauge",
            "Jobs waiting for the store: webhook hints, walks and syncs asked for through the API.",
        );
        for f in figures {
            sample(
                &mut out,
                "cenports_jobs_queued",
                &[("store", &store(f))],
                f.jobs_queued as f64,
            );
        }
        family(
            &mut out,
            "cenports_jobs_oldest_seconds",
            "gauge",
            "How long the store's oldest waiting job has waited.",
        );
        for f in figures {
            if let Some(age) = f.oldest_job_age_ms {
                sample(
                    &mut out,
                    "cenports_jobs_oldest_seconds",
                    &[("store", &store(f))],
                    age.max(0) as f64 / 1000.0,
                );
            }
        }
        family(
            &mut out,
            "cenports_fleet_processes",
            "gauge",
            "Live hub processes (serve and worker) on this database.",
        );
        sample(
            &mut out,
            "cenports_fleet_processes",
            &[],
            fleet.len() as f64,
        );
        family(
            &mut out,
            "cenports_fleet_leases",
            "gauge",
            "Store leases each live hub process holds.",
        );
        for process in fleet {
            sample(
                &mut out,
                "cenports_fleet_leases",
                &[("process", &process.id)],
                process.leases as f64,
            );
        }
        family(
            &mut out,
            "cenports_event_deliveries",
            "gauge",
            "Deliveries of events to the warehouses' systems, by state: pending (waiting or \
             retrying), delivered, failed (given up after a day of failures).",
        );
        for (state, n) in [
            ("pending", deliveries.pending),
            ("delivered", deliveries.delivered),
            ("failed", deliveries.failed),
        ] {
            sample(
                &mut out,
                "cenports_event_deliveries",
                &[("state", state)],
                n as f64,
            );
        }
        family(
            &mut out,
            "cenports_event_deliveries_oldest_pending_seconds",
            "gauge",
            "Age of the oldest event still waiting for a delivery (0 when none waits).",
        );
        sample(
            &mut out,
            "cenports_event_deliveries_oldest_pending_seconds",
            &[],
            deliveries.oldest_pending_seconds,
        );
        family(
            &mut out,
            "cenports_event_subscriptions_failing",
            "gauge",
            "Event subscriptions whose last attempt failed (paused and retrying).",
        );
        sample(
            &mut out,
            "cenports_event_subscriptions_failing",
            &[],
            deliveries.failing_subscriptions as f64,
        );
        family(
            &mut out,
            "cenports_store_quota_left",
            "gauge",
            "Requests left in the store's API quota window at its channel, as last seen by this process.",
        );
        for (id, left) in lock(&self.quota_left).iter() {
            sample(
                &mut out,
                "cenports_store_quota_left",
                &[("store", &id.to_string())],
                *left as f64,
            );
        }
        family(
            &mut out,
            "cenports_webhook_receipts_total",
            "counter",
            "Webhook deliveries received, by outcome.",
        );
        for (outcome, n) in lock(&self.webhook_receipts).iter() {
            sample(
                &mut out,
                "cenports_webhook_receipts_total",
                &[("outcome", outcome)],
                *n as f64,
            );
        }
        family(
            &mut out,
            "cenports_api_syncs_total",
            "counter",
            "Syncs triggered through the API, by outcome.",
        );
        for (outcome, n) in lock(&self.api_syncs).iter() {
            sample(
                &mut out,
                "cenports_api_syncs_total",
                &[("outcome", outcome)],
                *n as f64,
            );
        }
        out
    }
}

/// The `store` label of a store's samples: our store id (bounded by the number of stores, and
/// it reveals nothing, unlike a store hash).
fn store(f: &StoreFigures) -> String {
    f.store_id.get().to_string()
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (key, value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{key}=\"{}\"", escape_label(value));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
