//! `cenports`: the integration hub between online stores and fulfilment warehouses.
//!
//! The binary is thin: it parses the command line, sets up logging and hands over to the
//! subcommand's module under [`cli`]. Logs go to stderr (filter with `RUST_LOG`, default
//! `info`) so that stdout carries only what a subcommand prints for people and scripts.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match cli.command.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole chain of context: "could not listen on ...: ...".
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
