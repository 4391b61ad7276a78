//! `cenports serve`: the long-running hub (webhook receiver, job worker, sync scheduler,
//! webhook health check) until Ctrl-C or SIGTERM. The wiring is [`cenports::server::App`];
//! this module only turns flags into [`ServeOptions`], binds the address and waits for a signal.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use cenports::config::Settings;
use cenports::server::{App, ServeOptions};
use clap::Args;

use crate::cli::sync::shutdown_signal;

/// Options of `cenports serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on [default: the `listen` setting, CENPORTS_LISTEN, 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Do not poll: rely on webhooks alone (no sync scheduler, no reconciliation).
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
    /// Time between webhook health checks (hooks BigCommerce deactivated are re-activated).
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_positive)]
    pub hook_check_interval: Duration,
}

pub(crate) fn parse_any(text: &str) -> Result<Duration, String> {
    cenports::config::parse_duration(text)
        .ok_or_else(|| format!("{text:?} is not a duration: give one such as 300, 90s, 5m or 1h"))
}

pub(crate) fn parse_positive(text: &str) -> Result<Duration, String> {
    match parse_any(text)? {
        d if d.is_zero() => Err("must be longer than 0".into()),
        d => Ok(d),
    }
}

/// Runs `cenports serve`.
pub async fn run(args: ServeArgs, settings: &Settings) -> Result<()> {
    let mut options = ServeOptions::from_settings(settings);
    options.poll = !args.no_poll;
    if let Some(interval) = args.interval {
        options.scheduler.interval = interval;
    }
    options.scheduler.reconcile_interval =
        (!args.reconcile_interval.is_zero()).then_some(args.reconcile_interval);
    options.scheduler.concurrency = usize::from(args.sync_concurrency);
    options.hook_check_interval = args.hook_check_interval;
    let listen = args.listen.unwrap_or(settings.listen);
    let app = App::build(settings, options).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("could not listen on {listen}: is another process using it? Change it with --listen or CENPORTS_LISTEN"))?;
    let local = listener.local_addr()?;
    println!("Cenports listening on http://{local}");
    if let Some(setup) = app.setup_path() {
        println!(
            "First run: no account can sign in yet. Create the operator account at \
             http://{local}{setup} (the link works until an account exists; or run \
             `cenports user add --email E --role operator`)"
        );
    }
    match &settings.public_url {
        Some(url) => println!(
            "Webhooks: BigCommerce calls {}/webhooks/bigcommerce/{{store id}}",
            url.as_str().trim_end_matches('/')
        ),
        None => println!("Webhooks: off (no public_url / CENPORTS_PUBLIC_URL); polling only"),
    }
    println!(
        "Polling: {}",
        if args.no_poll {
            "off (--no-poll; this process takes no store while a polling process runs)"
        } else {
            "on"
        }
    );
    println!(
        "Fleet: process {}; the stores are shared with the other serve and worker processes on \
         this database (cenports fleet)",
        app.fleet().id()
    );
    app.serve(listener, async {
        if let Err(error) = shutdown_signal().await {
            tracing::error!(error = %format!("{error:#}"), "serve: no signal handler; stopping");
        }
    })
    .await
}
