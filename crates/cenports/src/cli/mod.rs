//! The command line: one clap enum of subcommands, each implemented in its own module.

pub mod demo;
pub mod sandbox;

use clap::{Parser, Subcommand};

/// Cenports: the integration hub between online stores and fulfilment warehouses.
#[derive(Debug, Parser)]
#[command(name = "cenports", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The main job on the embedded default: an in-process sandbox store, imported end to end
    /// by the BigCommerce client, with what it cost in API calls.
    Demo(demo::DemoArgs),
    /// Run a BigCommerce sandbox: an emulated store with generated catalog and orders, and
    /// API credentials for every scope profile.
    Sandbox(sandbox::SandboxArgs),
}

impl Command {
    /// Runs the subcommand to completion.
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            Command::Demo(args) => demo::run(args).await,
            Command::Sandbox(args) => sandbox::run(args).await,
        }
    }
}
