//! `cenports fleet`: the hub processes working on this database and the stores each holds
//! (`docs/OPERATIONS.md`, "Several processes").

use anyhow::Result;
use cenports::config::Settings;
use clap::Args;
use serde_json::json;

use crate::cli::stores::open_storage;

/// Options of `cenports fleet`.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `cenports fleet`.
pub async fn run(args: FleetArgs, settings: &Settings) -> Result<()> {
    let storage = open_storage(settings).await?;
    let processes = storage.fleet_processes(settings.lease_period).await?;
    let (stores, leased) = storage.lease_counts().await?;
    if args.json {
        let list: Vec<_> = processes
            .iter()
            .map(|p| {
                json!({
                    "id": p.id, "role": p.role, "host": p.host, "pid": p.pid,
                    "heartbeat_age_ms": p.heartbeat_age_ms, "stores": p.leases,
                })
            })
            .collect();
        let out = json!({ "processes": list, "stores": stores, "stores_leased": leased });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if processes.is_empty() {
        println!(
            "No hub process is running on this database (none has heartbeated within the lease \
             period, {} s). Start `cenports serve` or `cenports worker`.",
            settings.lease_period.as_secs()
        );
    } else {
        println!(
            "{:<44} {:<7} {:>8} {:>10} {:>7}",
            "PROCESS", "ROLE", "PID", "HEARTBEAT", "STORES"
        );
        for p in &processes {
            println!(
                "{:<44} {:<7} {:>8} {:>8.1}s {:>7}",
                p.id,
                p.role,
                p.pid,
                p.heartbeat_age_ms as f64 / 1000.0,
                p.leases
            );
        }
    }
    println!(
        "{leased} of {stores} connected stores are held by a live process{}",
        if leased < stores {
            "; the others are taken at the next heartbeats (or wait for a process to start)"
        } else {
            ""
        }
    );
    Ok(())
}
