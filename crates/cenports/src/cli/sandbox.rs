//! `cenports sandbox`: runs the BigCommerce sandbox (or, with `--channel amazon`, the Amazon
//! Selling Partner API sandbox) as a server, for demos, manual testing and benchmarks.
//!
//! With `--channel amazon` it builds one seller account (`--orders` historical orders from
//! `--seed`), writes `DIR/amazon-merchant.json` with `--credentials-dir` (what `cenports connect
//! --channel amazon --credentials-file` reads), and serves SP-API, Login with Amazon and the
//! control API on one port.
//!
//! It builds one store (catalog and order history generated from `--seed`), prints where it
//! listens and the credentials of every API account profile in the layout of the `.txt` file
//! BigCommerce downloads when an API account is created (optionally writing each to
//! `DIR/<profile>.txt`), and serves until Ctrl-C or SIGTERM.
//!
//! The first line printed is `Sandbox listening on http://HOST:PORT` (`https://` with `--tls`),
//! so that a script or test starting it with `--port 0` can learn the port.
//!
//! `--tls` serves HTTPS with a certificate made at start-up by a throwaway authority, whose PEM
//! is written to a file for clients to trust: third-party clients that only speak `https://`
//! (BigCommerce's Python and Node clients) then need nothing changed but their host and the
//! trusted CA (`REQUESTS_CA_BUNDLE`, `NODE_EXTRA_CA_CERTS`).

use std::fs::OpenOptions;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use bigcommerce_sandbox::credentials::{credentials_txt, PROFILES};
use bigcommerce_sandbox::live::{self, LiveSettings};
use bigcommerce_sandbox::{Plan, Sandbox, SandboxConfig, StoreSpec, TlsIdentity};
use clap::Args;
use tokio::net::TcpListener;

/// Options of `cenports sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Which channel to emulate: bigcommerce or amazon.
    #[arg(long, default_value = "bigcommerce", value_parser = ["bigcommerce", "amazon"])]
    pub channel: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8090)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Seed of the generated store: the same seed gives the same store hash, credentials,
    /// catalog and orders.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Catalog products to generate.
    #[arg(long, default_value_t = 200)]
    pub products: usize,
    /// Historical orders to generate.
    #[arg(long, default_value_t = 2000)]
    pub orders: usize,
    /// The store's plan, which sets its API quota: standard, plus, pro or unlimited.
    #[arg(long, default_value = "standard", value_parser = parse_plan)]
    pub plan: Plan,
    /// Keep the store trading: new orders and status changes at this many events per second.
    #[arg(long, value_name = "EVENTS_PER_SECOND")]
    pub live: Option<f64>,
    /// Also write each profile's credentials to DIR/<profile>.txt (readable by you only).
    #[arg(long, value_name = "DIR")]
    pub credentials_dir: Option<PathBuf>,
    /// Speed-up of webhook retries (1 = BigCommerce's real schedule; 0.001 retries 1000 times
    /// sooner).
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    pub webhook_retry_scale: f64,
    /// Serve HTTPS with a fresh certificate for 127.0.0.1, ::1 and localhost, signed by a
    /// throwaway authority that clients must trust (see --ca-out).
    #[arg(long)]
    pub tls: bool,
    /// Where --tls writes the authority's certificate (PEM) for clients to trust [default:
    /// DIR/sandbox-ca.pem with --credentials-dir, else a file in the temporary directory].
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub ca_out: Option<PathBuf>,
}

/// The file name of the CA certificate in `--credentials-dir`.
const CA_FILE_NAME: &str = "sandbox-ca.pem";

pub(crate) fn parse_plan(value: &str) -> Result<Plan, String> {
    Plan::parse(value)
        .ok_or_else(|| format!("unknown plan '{value}': use standard, plus, pro or unlimited"))
}

/// Builds the sandbox and its store, prints the banner, then serves until a shutdown signal.
pub async fn run(args: SandboxArgs) -> anyhow::Result<()> {
    if args.channel == "amazon" {
        return run_amazon(args).await;
    }
    if !(args.webhook_retry_scale.is_finite() && args.webhook_retry_scale > 0.0) {
        bail!("--webhook-retry-scale must be a number above 0 (1 = BigCommerce's schedule)");
    }
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|error| listen_error(addr, error))?;
    let config = SandboxConfig {
        webhook_retry_scale: args.webhook_retry_scale,
        ..SandboxConfig::default()
    };
    let (sandbox, ca_file) = if args.tls {
        let identity = TlsIdentity::self_signed();
        let sandbox = Sandbox::start_tls(listener, config, &identity)
            .await
            .with_context(|| format!("could not start the sandbox on {addr}"))?;
        // Written before the first line is printed, so a script that has read it can trust it.
        let ca_file = ca_file_path(&args, sandbox.addr());
        write_ca_file(&ca_file, &identity.ca_pem)?;
        (sandbox, Some(ca_file))
    } else {
        let sandbox = Sandbox::start(listener, config)
            .await
            .with_context(|| format!("could not start the sandbox on {addr}"))?;
        (sandbox, None)
    };
    println!("Sandbox listening on {}", sandbox.base_url());

    let spec = StoreSpec {
        seed: args.seed,
        products: args.products,
        orders: args.orders,
        plan: args.plan,
        ..StoreSpec::default()
    };
    let started = Instant::now();
    // Generating a large store takes seconds of CPU: keep it off the server's worker threads.
    let builder = sandbox.clone();
    let store = tokio::task::spawn_blocking(move || builder.create_store(spec))
        .await
        .context("building the store failed")?;
    let elapsed = started.elapsed();
    tracing::info!(
        store.hash = %store.hash,
        products = args.products,
        orders = args.orders,
        duration_ms = elapsed.as_millis() as u64,
        "store built"
    );

    let api_path = sandbox.api_path(&store.hash);
    println!("Store hash: {}", store.hash);
    println!(
        "Store built: {} products, {} orders in {:.2} s (seed {}, plan {})",
        args.products,
        args.orders,
        elapsed.as_secs_f64(),
        args.seed,
        args.plan.display_name()
    );
    println!("Base URL: {}", sandbox.base_url());
    println!("API path: {api_path}");
    for account in &store.accounts {
        let description = PROFILES
            .iter()
            .find(|(name, _, _)| *name == account.profile)
            .map(|(_, description, _)| *description)
            .unwrap_or("");
        let txt = credentials_txt(account, &api_path);
        println!();
        println!("# {}: {description}", account.profile);
        print!("{txt}");
        if let Some(dir) = &args.credentials_dir {
            write_secret_file(dir, &format!("{}.txt", account.profile), &txt)?;
        }
    }
    println!();
    if let Some(dir) = &args.credentials_dir {
        println!("Credentials written to {}", dir.display());
    }
    if let Some(rate) = args.live {
        let settings = LiveSettings {
            rate,
            seed: Some(args.seed),
            ..LiveSettings::new(rate)
        };
        live::start_live(sandbox.state(), &store.hash, settings)
            .map_err(anyhow::Error::msg)
            .context("--live could not start live mode")?;
        println!("Live mode: {rate} events per second");
    }
    if let Some(ca_file) = &ca_file {
        print_tls_hints(ca_file, sandbox.addr());
    }
    println!("Control API: {}/_sandbox", sandbox.base_url());
    println!("Press Ctrl-C to stop.");

    let signal = shutdown_signal().await?;
    tracing::info!(signal, "shutting down");
    sandbox.state().live.stop_all();
    sandbox.shutdown();
    Ok(())
}

/// `cenports sandbox --channel amazon`: one seller account, its credentials file, until a
/// shutdown signal.
async fn run_amazon(args: SandboxArgs) -> anyhow::Result<()> {
    use amazon_sandbox::{AmazonSandbox, AmazonSandboxConfig, LiveSettings};
    if args.tls {
        bail!("--tls is not offered for the Amazon sandbox; it serves plain HTTP on loopback");
    }
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|error| listen_error(addr, error))?;
    let config = AmazonSandboxConfig {
        seed: args.seed,
        orders: args.orders,
        ..AmazonSandboxConfig::default()
    };
    let started = Instant::now();
    let sandbox = AmazonSandbox::start(listener, config)
        .await
        .with_context(|| format!("could not start the Amazon sandbox on {addr}"))?;
    println!("Sandbox listening on {}", sandbox.endpoint());
    println!(
        "Seller account built: {} orders in {:.2} s (seed {})",
        args.orders,
        started.elapsed().as_secs_f64(),
        args.seed
    );
    println!("SP-API endpoint: {}", sandbox.endpoint());
    println!("Login with Amazon: {}", sandbox.auth_endpoint());
    println!("Seller ID: {}", sandbox.seller_id());
    println!("Marketplace ID: {}", sandbox.marketplace_id());
    for app in sandbox.apps() {
        println!("Profile {}: {}", app.profile, app.description);
    }
    if let Some(dir) = &args.credentials_dir {
        let file = sandbox
            .write_credentials(dir)
            .context("could not write the credentials file")?;
        println!("Credentials written to {}", file.display());
        println!(
            "Connect with: CENPORTS_AMAZON_API_URL={0} CENPORTS_AMAZON_AUTH_URL={0} cenports \
             connect --channel amazon --email you@example.com --credentials-file {1}",
            sandbox.endpoint(),
            file.display()
        );
    }
    println!(
        "Notifications: set CENPORTS_AMAZON_QUEUE_URL={} for serve and worker to read \
         ORDER_CHANGE from the queue stand-in",
        sandbox.queue_url()
    );
    if let Some(rate) = args.live {
        let settings = LiveSettings {
            rate,
            seed: Some(args.seed),
        };
        sandbox
            .start_live(settings)
            .map_err(anyhow::Error::msg)
            .context("--live could not start live mode")?;
        println!("Live mode: {rate} events per second");
    }
    println!("Control API: {}/_sandbox", sandbox.endpoint());
    println!("Press Ctrl-C to stop.");
    let signal = shutdown_signal().await?;
    tracing::info!(signal, "shutting down");
    sandbox.shutdown();
    Ok(())
}

/// `--ca-out`, else `sandbox-ca.pem` in `--credentials-dir`, else a file named after the port in
/// the temporary directory (so that two sandboxes do not overwrite each other's).
fn ca_file_path(args: &SandboxArgs, addr: SocketAddr) -> PathBuf {
    if let Some(path) = &args.ca_out {
        path.clone()
    } else if let Some(dir) = &args.credentials_dir {
        dir.join(CA_FILE_NAME)
    } else {
        std::env::temp_dir().join(format!("cenports-sandbox-{}-ca.pem", addr.port()))
    }
}

/// Writes the CA certificate, creating its directory. It is public (a certificate, no key), so
/// it keeps the default permissions.
fn write_ca_file(path: &Path, pem: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create the directory {}", dir.display()))?;
    }
    std::fs::write(path, pem).with_context(|| {
        format!(
            "could not write the CA certificate to {}; pick another --ca-out",
            path.display()
        )
    })
}

/// How to point BigCommerce's own clients at this sandbox: they take a host, not a URL, and
/// trust the CA through their usual environment variables.
fn print_tls_hints(ca_file: &Path, addr: SocketAddr) {
    // The certificate names loopback addresses only: a wildcard bind is reached through them.
    let host = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let endpoint = SocketAddr::new(host, addr.port());
    let ca = ca_file.display();
    println!("CA certificate: {ca}");
    println!("Python (bigcommerce): REQUESTS_CA_BUNDLE={ca} BC_API_ENDPOINT={endpoint}");
    println!("Node: NODE_EXTRA_CA_CERTS={ca}");
}

/// The error for a socket that cannot be bound, saying what to change.
fn listen_error(addr: SocketAddr, error: std::io::Error) -> anyhow::Error {
    use std::io::ErrorKind;
    let hint = match error.kind() {
        ErrorKind::AddrInUse => "address in use; pick another --port".to_string(),
        ErrorKind::PermissionDenied => "permission denied; pick a --port above 1023".to_string(),
        ErrorKind::AddrNotAvailable => format!(
            "{} is not an address of this machine; check --bind",
            addr.ip()
        ),
        _ => error.to_string(),
    };
    anyhow::anyhow!("could not listen on {addr}: {hint}")
}

/// Writes `contents` to `dir/name`, creating `dir`; on Unix the file is made readable by its
/// owner only, since it holds an access token and a client secret.
fn write_secret_file(dir: &Path, name: &str, contents: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "could not create the credentials directory {}",
            dir.display()
        )
    })?;
    let path = dir.join(name);
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .with_context(|| format!("could not write {}", path.display()))?;
    // `mode` applies only to a new file: an existing one is tightened before the secret lands.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("could not restrict {} to its owner", path.display()))?;
    }
    file.write_all(contents.as_bytes())
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(())
}

/// Waits for Ctrl-C or (on Unix) SIGTERM and names the signal.
async fn shutdown_signal() -> anyhow::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate =
            signal(SignalKind::terminate()).context("could not listen for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => {
                result.context("could not listen for Ctrl-C")?;
                Ok("ctrl-c")
            }
            _ = terminate.recv() => Ok("sigterm"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("could not listen for Ctrl-C")?;
        Ok("ctrl-c")
    }
}
