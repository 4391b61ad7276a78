//! # Cenports, the hub
//!
//! The library behind the `cenports` binary: the channel-agnostic core (accounts, stores,
//! orders, storage, sync, fulfilment, stock, webhooks, the API and the dashboard) and the
//! channels that fill it, each in its own folder under [`channel`]. The binary is a thin CLI
//! over these modules.
//!
//! - [`accounts`]: users and roles, passwords, API keys, sessions and login throttling.
//! - [`config`]: the one typed, layered configuration ([`config::Settings`]).
//! - [`dates`]: a day or an instant, as filters take them.
//! - [`storage`]: one storage contract over SQLite (the embedded default) and PostgreSQL.
//! - [`channel`]: the one seam to sales channels (orders in, catalog in, fulfilment out, stock
//!   out, webhooks in, connect), the registry that picks a store's channel, and one folder per
//!   channel (`channel/<name>/`).
//! - [`fleet`]: several processes on one database: store leases with heartbeats, so one
//!   process works each store.
//! - [`secrets`]: encryption at rest of the store credentials.
//! - [`stock`]: available to sell per SKU and the push of what changed to the store.
//! - [`fulfilment`]: shipments and order status changes written back exactly once through a
//!   durable outbox.
//! - [`sync`]: importing orders and the catalog (walks, targeted imports, reconciliation).
//! - [`webhooks`]: registering hooks, receiving and verifying callbacks, targeted fetches.
//! - [`metrics`]: `/metrics` in the Prometheus text format, and the counters only a process
//!   knows (shared by the API, the dashboard, the webhook receiver and the scheduler).
//! - [`server`]: the long-running hub (`cenports serve`): receiver, worker, scheduler, and the
//!   router that merges the API and the dashboard.
//! - [`service`]: what the JSON API and the dashboard both do (syncs, orders, shipments, stores,
//!   stock), over the state both run on ([`service::AppState`]).
//! - [`edge`]: what both HTTP surfaces share: who is calling (API keys, sessions, CSRF) and the
//!   JSON error envelope.
//! - [`http`]: the JSON API under `/api/v1`, health and metrics, as an axum router.
//! - [`web`]: the dashboard's pages, and signing in and out.

pub mod accounts;
pub mod channel;
pub mod config;
pub mod dates;
pub mod edge;
pub mod events;
pub mod export;
pub mod fleet;
pub mod fulfilment;
pub mod http;
pub mod metrics;
pub mod money;
pub mod secrets;
pub mod server;
pub mod service;
pub mod stock;
pub mod storage;
pub mod sync;
pub mod web;
pub mod webhooks;
