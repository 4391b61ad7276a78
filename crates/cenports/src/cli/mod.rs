//! The command line: one clap enum of subcommands, each implemented in its own module.
//!
//! The global flags `--config FILE` and `--database-url URL` are the top layer of the
//! configuration ([`cenports::config`]); every subcommand that touches the hub loads the same
//! validated [`Settings`] from them, so a wrong setting fails before anything runs.

pub mod bench;
pub mod connect;
pub mod demo;
pub mod fleet;
pub mod fulfilment;
pub mod orders;
pub mod reconcile;
pub mod sandbox;
pub mod serve;
pub mod stock;
pub mod stores;
pub mod subscriptions;
pub mod sync;
pub mod user;
pub mod worker;

use std::fmt::Write as _;
use std::path::PathBuf;

use cenports::config::{Overrides, Settings};
use clap::{Parser, Subcommand};

/// Text from a store, a file or a person, made safe to print on a terminal: control characters
/// (ESC, BEL, NUL, backspace, line breaks, …) and the invisible marks that reorder text
/// (bidirectional overrides and isolates) are shown escaped, `\x1b` or `\u{202e}`, so a store
/// named `ESC[2J…` cannot clear the screen, recolour, retitle the terminal or spoof the lines
/// around it. Every CLI output of remote or user data goes through it (tables through
/// [`stores::truncate`]); JSON output needs nothing, as JSON escapes control characters itself.
pub fn shown(text: &str) -> String {
    escape(text, false)
}

/// As [`shown`], keeping line breaks: for multi-line messages (an error with its causes, a
/// CSV's list of bad lines).
pub fn shown_lines(text: &str) -> String {
    escape(text, true)
}

fn escape(text: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let reorders = matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if (c == '\n' && keep_newlines) || !(c.is_control() || reorders) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    out
}

/// Cenports: the integration hub between online stores and fulfilment warehouses.
#[derive(Debug, Parser)]
#[command(name = "cenports", version, about)]
pub struct Cli {
    /// A TOML config file (keys: docs/OPERATIONS.md) [env: CENPORTS_CONFIG].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The database, overriding CENPORTS_DATABASE_URL and the config file: a SQLite path or a
    /// postgres:// URL.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The configuration layers the command line adds.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            config_file: self.config.clone(),
            database_url: self.database_url.clone(),
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The main job on the embedded default: an in-process sandbox store, connected, imported
    /// and summarised through the same code path a merchant's store takes.
    Demo(demo::DemoArgs),
    /// Run a sandbox: an emulated BigCommerce store (or, with --channel amazon, an Amazon
    /// seller account) with generated catalog and orders, and credentials for every profile.
    Sandbox(sandbox::SandboxArgs),
    /// Connect (or reconnect) a store (BigCommerce, or Amazon with --channel amazon): check
    /// its credentials on the spot and save them only if every permission needed is there.
    Connect(connect::ConnectArgs),
    /// Disconnect a store: forget its access token and client secret (its orders stay).
    Disconnect(connect::DisconnectArgs),
    /// List connected stores with their order counts and last sync.
    Stores(stores::StoresArgs),
    /// Import orders (open orders first, then every order) and the catalog of stores now.
    Sync(sync::SyncArgs),
    /// List imported orders as a table or JSON.
    Orders(orders::OrdersArgs),
    /// Stock per SKU: show it, set on hand (one SKU or a CSV), set the safety buffer, push what
    /// changed to the store.
    Stock(stock::StockArgs),
    /// Run the hub: the webhook receiver, the job worker, the outbox worker, the sync
    /// scheduler (polling and reconciliation) and the webhook health check, until Ctrl-C or
    /// SIGTERM. Several serve and worker processes on one database split the stores.
    Serve(serve::ServeArgs),
    /// Run the background roles only, no HTTP listener: the job worker (webhook and queue
    /// hints), the outbox worker (shipments and status changes to the store), the event
    /// dispatcher, the notification queue readers and the sync scheduler, until
    /// Ctrl-C or SIGTERM. Several serve and worker processes on one database split the stores
    /// between them (docs/OPERATIONS.md).
    Worker(worker::WorkerArgs),
    /// The hub processes (serve, worker) working on this database and the stores each holds.
    Fleet(fleet::FleetArgs),
    /// Compare order counts per status with each store now and repair any drift.
    Reconcile(reconcile::ReconcileArgs),
    /// Benchmarks: `bench import` backfills a sandbox store into SQLite and PostgreSQL and
    /// prints throughput, API requests and peak memory.
    Bench(bench::BenchArgs),
    /// Record a shipment and write it to the store's channel exactly once (through the outbox).
    Ship(fulfilment::ShipArgs),
    /// Record many shipments from a CSV (order,carrier,tracking[,sku,quantity,…]): every row
    /// checked first, a bad row refuses the whole file; re-importing ships nothing twice.
    ShipImport(fulfilment::ShipImportArgs),
    /// Change an order's status at the store (cancelled, on-hold, awaiting-shipment,
    /// completed) through the outbox, where the channel allows it (Amazon does not).
    OrderStatus(fulfilment::OrderStatusArgs),
    /// Show the outbox of writes to the stores; --drain delivers what is due.
    Outbox(fulfilment::OutboxArgs),
    /// Accounts: `user add --email E --role merchant|operator`, `user list`.
    User(user::UserArgs),
    /// API keys: `api-key create --email E` prints a new key, once; `list`, `revoke`.
    ApiKey(user::ApiKeyArgs),
    /// Events for the warehouse's system: `subscriptions add --email E --url URL [--event T]`
    /// prints the signing secret once; `list`, `remove`, `deliveries`, `resend`.
    Subscriptions(subscriptions::SubscriptionsArgs),
}

impl Command {
    /// Runs the subcommand to completion with the command line's configuration layers.
    pub async fn run(self, overrides: &Overrides) -> anyhow::Result<()> {
        match self {
            Command::Demo(args) => demo::run(args, overrides).await,
            Command::Sandbox(args) => sandbox::run(args).await,
            Command::Connect(args) => connect::run(args, &Settings::load(overrides)?).await,
            Command::Disconnect(args) => {
                connect::run_disconnect(args, &Settings::load(overrides)?).await
            }
            Command::Stores(args) => stores::run(args, &Settings::load(overrides)?).await,
            Command::Sync(args) => sync::run(args, &Settings::load(overrides)?).await,
            Command::Orders(args) => orders::run(args, &Settings::load(overrides)?).await,
            Command::Stock(args) => stock::run(args, &Settings::load(overrides)?).await,
            Command::Serve(args) => serve::run(args, &Settings::load(overrides)?).await,
            Command::Worker(args) => worker::run(args, &Settings::load(overrides)?).await,
            Command::Fleet(args) => fleet::run(args, &Settings::load(overrides)?).await,
            Command::Reconcile(args) => reconcile::run(args, &Settings::load(overrides)?).await,
            Command::Bench(args) => bench::run(args, overrides).await,
            Command::Ship(args) => fulfilment::run_ship(args, &Settings::load(overrides)?).await,
            Command::ShipImport(args) => {
                fulfilment::run_ship_import(args, &Settings::load(overrides)?).await
            }
            Command::OrderStatus(args) => {
                fulfilment::run_order_status(args, &Settings::load(overrides)?).await
            }
            Command::Outbox(args) => {
                fulfilment::run_outbox(args, &Settings::load(overrides)?).await
            }
            Command::User(args) => user::run(args, &Settings::load(overrides)?).await,
            Command::ApiKey(args) => user::run_api_key(args, &Settings::load(overrides)?).await,
            Command::Subscriptions(args) => {
                subscriptions::run(args, &Settings::load(overrides)?).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{shown, shown_lines};

    #[test]
    fn control_characters_and_reordering_marks_are_shown_escaped() {
        assert_eq!(
            shown("\u{1b}[2J\u{1b}]0;owned\u{7}Shop\u{0}\t\n\u{202e}txt"),
            "\\x1b[2J\\x1b]0;owned\\x07Shop\\x00\\x09\\x0a\\u{202e}txt"
        );
        assert_eq!(shown("Café Ünïcode"), "Café Ünïcode");
        assert_eq!(shown_lines("a\nb\u{1b}c"), "a\nb\\x1bc");
    }
}
