//! `cenports worker`: the hub's background roles without an HTTP listener — the job worker
//! (webhook hints), the fulfilment outbox worker and the sync scheduler (polling,
//! reconciliation, the stock push after each sync) — until Ctrl-C or SIGTERM. For operators who
//! run several processes on one database: one or more `serve` processes answer HTTP, any number
//! of workers share the stores with them through store leases (`docs/OPERATIONS.md`, "Several
//! processes"). The wiring is [`cenports::server::run_workers`].

use std::time::Duration;

use anyhow::{Context, Result};
use cenports::config::Settings;
use cenports::server::{run_workers, ServeOptions};
use cenports::storage::Storage;
use clap::Args;

use crate::cli::serve::{parse_any, parse_positive};
use crate::cli::sync::shutdown_signal;

/// Options of `cenports worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Do not poll: deliver the outbox only (no sync scheduler, no reconciliation).
    #[arg(long)]
    pub no_poll: bool,
    /// Time between syncs of each store (300, 90s, 5m, 1h) [default: the `sync_interval`
    /// setting].
    #[arg(long, value_name = "DURATION", value_parser = parse_positive)]
    pub interval: Option<Duration>,
    /// Time between reconciliations of each store; `0` turns them off.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_any)]
    pub reconcile_interval: Duration,
    /// Syncs this process runs at once, across the stores it holds (each store has at most one).
    /// Raise it when requests are slow (a distant API) and the stores' syncs queue for a slot.
    #[arg(long, value_name = "N",
          default_value_t = cenports::sync::scheduler::DEFAULT_CONCURRENCY as u16,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub sync_concurrency: u16,
}

/// Runs `cenports worker`.
pub async fn run(args: WorkerArgs, settings: &Settings) -> Result<()> {
    let mut options = ServeOptions::from_settings(settings);
    options.poll = !args.no_poll;
    if let Some(interval) = args.interval {
        options.scheduler.interval = interval;
    }
    options.scheduler.reconcile_interval =
        (!args.reconcile_interval.is_zero()).then_some(args.reconcile_interval);
    options.scheduler.concurrency = usize::from(args.sync_concurrency);
    let storage = Storage::open(&settings.database_url)
        .await
        .context("could not open the database")?;
    println!(
        "Cenports worker: webhook jobs and outbox delivery on, no HTTP listener; the stores are \
         shared with the other processes on this database (cenports fleet)"
    );
    println!(
        "Polling: {}",
        if args.no_poll {
            "off (--no-poll)"
        } else {
            "on"
        }
    );
    run_workers(settings, &storage, &options, async {
        if let Err(error) = shutdown_signal().await {
            tracing::error!(error = %format!("{error:#}"), "worker: no signal handler; stopping");
        }
    })
    .await
}
