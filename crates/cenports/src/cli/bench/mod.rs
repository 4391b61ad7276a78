//! `cenports bench`: the benchmarks of `docs/PERFORMANCE.md`, one module per bench.
//!
//! This module holds the subcommand's arguments and the dispatch only. Each bench owns its
//! options and its table (`import.rs`: `import` and `first-order`; `api.rs`; `stock.rs`;
//! `webhooks.rs`; `fleet.rs`; `events.rs`); what they share of the product (connecting a store
//! through the merchant path, which PostgreSQL to use) is in `setup.rs`, and the scaffolding
//! they share with the integration tests (temporary directories, the `cenports sandbox` child
//! process, scratch PostgreSQL databases) is the `cenports-harness` crate. No bench imports
//! this module.

mod amazon;
mod api;
mod events;
mod export;
mod fleet;
mod import;
mod setup;
mod stock;
mod webhook_burst;
mod webhooks;

use anyhow::Result;
use cenports::config::Overrides;
use clap::{Args, Subcommand};

/// Options of `cenports bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchCommand,
}

/// What to measure.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Backfill a sandbox store (a child process, unthrottled) into SQLite and PostgreSQL and
    /// print throughput, API requests and peak memory. The global --database-url names the
    /// PostgreSQL server to use (a fresh database is created on it and dropped). With
    /// `--channel amazon`, an Amazon seller's first import under Amazon's usage plans
    /// (`cli/bench/amazon.rs`).
    Import(import::ImportArgs),
    /// Time from connect to the first ready-to-ship order visible in the hub, on a store with a
    /// large history and a rate-limited plan (Standard by default): the open-orders-first
    /// promise. Runs on SQLite and stops the sync once the first open order is committed.
    FirstOrder(import::FirstOrderArgs),
    /// Push stock for every SKU of a generated sandbox store, then again with nothing
    /// changed, and print the requests used against the floor (cli/bench/stock.rs).
    Stock(stock::StockBenchArgs),
    /// Webhook-to-visible latency (p50/p99/max) of live-mode orders with polling off, and the
    /// receiver's requests/s, on SQLite and PostgreSQL (`cli/bench/webhooks.rs`); with
    /// `--burst`, a flash sale on a Standard-plan store with polling on: the job queue's peak,
    /// fetches and walks, peak RSS, and the orders missing after the burst
    /// (`cli/bench/webhook_burst.rs`).
    Webhooks(webhooks::WebhooksArgs),
    /// Latency (p50/p99) of `GET /api/v1/stores/{id}/orders` over real HTTP with 100,000
    /// orders in the hub: first and deep cursor pages, a filter, a search
    /// (`cli/bench/api.rs`), on SQLite and PostgreSQL.
    Api(api::ApiBenchArgs),
    /// Peak memory of `cenports orders export` (a child process) over a store of 100,000
    /// orders, CSV and JSON lines, on SQLite and PostgreSQL (`cli/bench/export.rs`).
    Export(export::ExportBenchArgs),
    /// Many stores polled by several `cenports worker` processes on one PostgreSQL database:
    /// stores per worker, sync lag p50/p99, API requests and hub CPU per store per hour,
    /// connections, and a killed worker's stores synced again (`cli/bench/fleet.rs`).
    Fleet(fleet::FleetArgs),
    /// Events for the warehouse's systems on SQLite and PostgreSQL: what they cost an import
    /// (orders/s and CPU per 1,000 orders without events, with events and no subscription,
    /// with two subscriptions), the dispatcher's deliveries/s and latency to a local receiver
    /// that verifies each signature, and an outage ridden out with back-off; every event
    /// checked to arrive once and in order per order (`cli/bench/events.rs`).
    Events(events::EventsBenchArgs),
}

/// Runs `cenports bench ...`.
pub async fn run(args: BenchArgs, overrides: &Overrides) -> Result<()> {
    match args.what {
        BenchCommand::Import(args) => import::run_import(args, overrides).await,
        BenchCommand::FirstOrder(args) => import::run_first_order(args).await,
        BenchCommand::Stock(args) => stock::run(args, overrides).await,
        BenchCommand::Webhooks(args) => webhooks::run(args, overrides).await,
        BenchCommand::Api(args) => api::run(args, overrides).await,
        BenchCommand::Export(args) => export::run(args, overrides).await,
        BenchCommand::Fleet(args) => fleet::run(args, overrides).await,
        BenchCommand::Events(args) => events::run(args, overrides).await,
    }
}
