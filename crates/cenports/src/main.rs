//! `cenports`: the integration hub between online stores and fulfilment warehouses.
//!
//! The binary is thin: it parses the command line, sets up logging and hands over to the
//! subcommand's module under [`cli`]. Logs go to stderr (filter with the `log` setting:
//! `CENPORTS_LOG`, `RUST_LOG` or the config file, default `info`) so that stdout carries only
//! what a subcommand prints for people and scripts.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use cenports::config::{Settings, DEFAULT_LOG};
use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let overrides = cli.overrides();
    // A configuration error is reported by the subcommand that needs the settings; logging
    // then falls back to the default filter.
    let filter = Settings::load(&overrides)
        .map(|settings| settings.log)
        .unwrap_or_else(|_| DEFAULT_LOG.to_string());
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match cli.command.run(&overrides).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole chain of context: "could not listen on ...: ...".
            eprintln!("error: {}", cli::shown_lines(&format!("{error:#}")));
            ExitCode::FAILURE
        }
    }
}
