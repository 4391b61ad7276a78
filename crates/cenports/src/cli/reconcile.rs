//! `cenports reconcile`: compare each store's order counts per status with the hub and repair
//! what drifted ([`cenports::sync::reconcile`]). The scheduler of `sync --watch` and `serve`
//! runs the same pass periodically; this runs it now and prints what it found.

use anyhow::{bail, Result};
use cenports::config::Settings;
use cenports::storage::StoreStatus;
use cenports::sync::reconcile::reconcile_store;
use cenports::sync::SyncOptions;
use clap::Args;

use crate::cli::stores::{open_storage, select_stores};

/// Options of `cenports reconcile`.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// Only the stores of this Cenports user (default: every connected store).
    #[arg(long)]
    pub email: Option<String>,
    /// Only this store (its hash; see `cenports stores`).
    #[arg(long, value_name = "HASH")]
    pub store: Option<String>,
}

/// Runs `cenports reconcile`.
pub async fn run(args: ReconcileArgs, settings: &Settings) -> Result<()> {
    let storage = open_storage(settings).await?;
    let channels = settings.channels()?;
    let stores = select_stores(&storage, args.email.as_deref(), args.store.as_deref()).await?;
    let mut failed = 0;
    for store in stores {
        if store.status == StoreStatus::Disconnected {
            println!("Store {}: disconnected, skipped.", store.remote_id);
            continue;
        }
        let outcome = async {
            let client = channels.open(&storage, &store).await?;
            Ok::<_, anyhow::Error>(
                reconcile_store(
                    &storage,
                    &store.scope(),
                    client.as_ref(),
                    &SyncOptions::default(),
                )
                .await?,
            )
        }
        .await;
        match outcome {
            Ok(report) => {
                println!(
                    "Store {}: {} statuses checked, {} drifted, {} still differ; {} orders \
                     inserted, {} updated, {} read one by one; {} requests",
                    super::shown(&store.remote_id),
                    report.statuses_checked,
                    report.drifted.len(),
                    report.remaining(),
                    report.inserted,
                    report.updated,
                    report.targeted,
                    report.api_requests
                );
                for drift in &report.drifted {
                    println!(
                        "  status {:>2} {:<30} store {:>7}  hub {:>7} -> {:>7}",
                        drift.status_code,
                        super::shown(&drift.status_name),
                        drift.store_count,
                        drift.hub_before,
                        drift.hub_after
                    );
                }
            }
            Err(error) => {
                println!(
                    "Store {}: failed: {}",
                    super::shown(&store.remote_id),
                    super::shown(&format!("{error:#}"))
                );
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} store(s) could not be reconciled; see above");
    }
    Ok(())
}
