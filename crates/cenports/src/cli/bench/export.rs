//! `cenports bench export`: the peak memory of `cenports orders export` over a large store
//! (`docs/PERFORMANCE.md`, "Order export").
//!
//! It fills the hub the way `bench api` does — a `cenports sandbox` child process with
//! `--orders` orders (100,000 by default), connected through the merchant path and synced —
//! then runs the export as a **child process of its own** (`cenports --database-url URL orders
//! export --store HASH --format F --output FILE`), so the figure is the export's alone and not
//! this process's, which has just imported the store. While the child runs, its `VmHWM` (peak
//! resident set, from `/proc/PID/status`) is read every 2 ms; the peak only grows, so the last
//! reading is the peak up to a few milliseconds before the child exits. Prints rows, bytes,
//! time and peak RSS per backend and format. SQLite always; PostgreSQL when it answers, in a
//! fresh database dropped at the end.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use cenports::config::Overrides;
use cenports_harness::{SandboxChild, TempDir};
use clap::Args;

use super::setup::{connect_and_import, drop_postgres, scratch_postgres, start_sandbox};

/// Options of `cenports bench export`.
#[derive(Debug, Args)]
pub struct ExportBenchArgs {
    /// Orders in the sandbox store (all imported into the hub, all exported).
    #[arg(long, default_value_t = 100_000)]
    pub orders: usize,
    /// Seed of the sandbox store.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Skip PostgreSQL even if a server answers.
    #[arg(long)]
    pub sqlite_only: bool,
}

/// Runs `cenports bench export`.
pub(super) async fn run(args: ExportBenchArgs, overrides: &Overrides) -> Result<()> {
    let dir = TempDir::create("bench")?;
    let started = Instant::now();
    let sandbox = start_sandbox(&dir.0, args.orders, args.seed, "unlimited").await?;
    println!(
        "Sandbox: child process at {} with {} orders (unlimited plan), ready in {:.1} s",
        sandbox.base_url,
        args.orders,
        started.elapsed().as_secs_f64()
    );
    println!(
        "{:<11} {:<5} {:>10} {:>12} {:>9} {:>14}",
        "backend", "fmt", "rows", "bytes", "seconds", "peak RSS (MB)"
    );
    let sqlite = dir.0.join("cenports.db").display().to_string();
    let result = async {
        run_backend("SQLite", &sqlite, &args, &dir.0, &sandbox).await?;
        if args.sqlite_only {
            return Ok(());
        }
        let Some(db) = scratch_postgres(overrides).await? else {
            return Ok(());
        };
        let result = run_backend("PostgreSQL", db.url(), &args, &dir.0, &sandbox).await;
        drop_postgres(db).await;
        result
    }
    .await;
    drop(sandbox);
    result
}

async fn run_backend(
    backend: &'static str,
    database_url: &str,
    args: &ExportBenchArgs,
    dir: &Path,
    sandbox: &SandboxChild,
) -> Result<()> {
    let (storage, scope, _) =
        connect_and_import(backend, database_url, dir, sandbox, args.orders).await?;
    let hash = storage.get_store(&scope).await?.remote_id;
    storage.close().await;
    for format in ["csv", "json"] {
        let output = dir.join(format!("export-{backend}.{format}"));
        let exe = std::env::current_exe().context("could not find the cenports executable")?;
        let started = Instant::now();
        let mut child = tokio::process::Command::new(exe)
            .args([
                "--database-url",
                database_url,
                "orders",
                "export",
                "--store",
            ])
            .arg(&hash)
            .args(["--format", format, "--output"])
            .arg(&output)
            .env(
                "CENPORTS_KEY_FILE",
                dir.join(cenports::secrets::DEFAULT_KEY_FILE),
            )
            .env("CENPORTS_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .context("could not start `cenports orders export`")?;
        let status_file = format!("/proc/{}/status", child.id().unwrap_or(0));
        let mut peak_kb = 0u64;
        let status = loop {
            if let Some(kb) = vm_hwm_kb(&status_file) {
                peak_kb = peak_kb.max(kb);
            }
            if let Some(status) = child.try_wait()? {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        let elapsed = started.elapsed();
        ensure!(status.success(), "the export on {backend} failed: {status}");
        let text = std::fs::read(&output)?;
        let rows = text.iter().filter(|b| **b == b'\n').count() - usize::from(format == "csv");
        println!(
            "{:<11} {:<5} {:>10} {:>12} {:>9.1} {:>14.1}",
            backend,
            format,
            rows,
            text.len(),
            elapsed.as_secs_f64(),
            peak_kb as f64 / 1024.0
        );
        std::fs::remove_file(&output)?;
    }
    Ok(())
}

/// `VmHWM` (peak resident set) of a process, in kB, from its `/proc/PID/status`.
fn vm_hwm_kb(status: &str) -> Option<u64> {
    let text = std::fs::read_to_string(status).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}
