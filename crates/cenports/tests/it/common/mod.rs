//! Helpers shared by the binary's black-box tests: child processes that are killed and
//! directories that are removed when a test ends, however it ends.

pub mod tenant;

/// Writes a test once and runs it on both backends: `NAME!(name, |ctx| { … })` expands into
/// `name::sqlite` (a fresh SQLite file) and `name::postgres` (a fresh database on
/// 127.0.0.1:5432), each on a two-thread runtime, with `ctx` the [`Ctx`] of that database.
/// Attributes written before the name (e.g. `#[ignore]`) go to both.
macro_rules! both_backends {
    ($(#[$attr:meta])* $name:ident, |$ctx:ident| $body:block) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attr])*
            async fn sqlite() {
                $crate::common::run($crate::common::Kind::Sqlite, |$ctx: $crate::common::Ctx| async move { $body }).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attr])*
            async fn postgres() {
                $crate::common::run($crate::common::Kind::Postgres, |$ctx: $crate::common::Ctx| async move { $body }).await
            }
        }
    };
}
pub(crate) use both_backends;

use std::path::PathBuf;
use std::process::Child;
use std::time::{SystemTime, UNIX_EPOCH};

/// A process killed when the test ends (also on a failed assertion).
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory of its own for one test, removed when the test ends.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        TempDir(
            std::env::temp_dir().join(format!("cenports-{name}-{}-{nanos}", std::process::id())),
        )
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The value of a `NAME: value` line of a credentials file.
pub fn field<'a>(txt: &'a str, name: &str) -> &'a str {
    txt.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
        .unwrap_or_else(|| panic!("no {name} line in:\n{txt}"))
}

/// A `cenports sandbox` child process and what its banner said.
pub struct SandboxChild {
    pub process: Running,
    /// Every line printed up to and including `Control API: ...`.
    pub banner: String,
    /// `http://127.0.0.1:PORT` (the `Sandbox listening on` line).
    pub base_url: String,
    /// The `Store hash:` line.
    pub hash: String,
}

/// Starts `cenports sandbox ARGS --credentials-dir DIR` and reads its banner on a thread, so that
/// a silent binary fails the test (after `timeout`) instead of hanging it.
pub fn spawn_sandbox(
    args: &[&str],
    dir: &std::path::Path,
    timeout: std::time::Duration,
) -> SandboxChild {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_cenports"))
        .arg("sandbox")
        .args(args)
        .arg("--credentials-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the cenports binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let process = Running(child);
    let (lines, banner_lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let (mut base_url, mut hash, mut banner) = (None, None, String::new());
    loop {
        let line = banner_lines
            .recv_timeout(timeout)
            .unwrap_or_else(|_| panic!("the sandbox stopped printing; so far:\n{banner}"))
            .expect("stdout is readable");
        banner.push_str(&line);
        banner.push('\n');
        if let Some(url) = line.strip_prefix("Sandbox listening on ") {
            assert!(base_url.is_none(), "the listening line comes first, once");
            base_url = Some(url.to_string());
        }
        if let Some(value) = line.strip_prefix("Store hash: ") {
            hash = Some(value.to_string());
        }
        if line.starts_with("Control API: ") {
            break;
        }
    }
    SandboxChild {
        process,
        base_url: base_url.expect("a 'Sandbox listening on' line"),
        hash: hash.expect("a 'Store hash' line"),
        banner,
    }
}

// ------------------------------------------------------------------ a fresh database per test

/// The PostgreSQL server the tests use unless `CENPORTS_TEST_POSTGRES_URL` names another (its
/// admin database: each test creates and drops a database of its own there).
pub const DEFAULT_PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The backend a test runs on.
pub enum Kind {
    Sqlite,
    Postgres,
}

/// What a storage test gets: an open storage and the URL it was opened from.
pub struct Ctx {
    pub storage: cenports::storage::Storage,
    pub url: String,
}

/// Twelve random lower-case letters, for names of throwaway files and databases.
pub fn random_suffix() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..12)
        .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
        .collect()
}

/// A pool on the PostgreSQL admin database, and its URL.
pub async fn admin_pool() -> Result<(sqlx::PgPool, String), sqlx::Error> {
    let admin_url =
        std::env::var("CENPORTS_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_PG_ADMIN_URL.into());
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(&admin_url)
        .await?;
    Ok((pool, admin_url))
}

/// Runs `test` with the URL of a fresh database of `kind` (a SQLite file in a directory of its
/// own, or a PostgreSQL database `cenports_test_<random>`), removed afterwards however the test
/// ends. If PostgreSQL cannot be reached, a PostgreSQL run fails when `CI` is set and is
/// skipped with a notice otherwise.
pub async fn run_with_url<F, Fut>(kind: Kind, test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures::FutureExt;
    use std::panic::AssertUnwindSafe;

    let result = match kind {
        Kind::Sqlite => {
            let dir = std::env::temp_dir().join(format!("cenports-test-{}", random_suffix()));
            std::fs::create_dir_all(&dir).unwrap();
            let url = format!("sqlite://{}", dir.join("cenports.db").display());
            let result = AssertUnwindSafe(test(url)).catch_unwind().await;
            let _ = std::fs::remove_dir_all(&dir);
            result
        }
        Kind::Postgres => {
            let (admin, admin_url) = match admin_pool().await {
                Ok(found) => found,
                Err(e) if std::env::var_os("CI").is_some() => {
                    panic!("PostgreSQL is required in CI but could not be reached: {e}")
                }
                Err(e) => {
                    eprintln!("NOTICE: skipping a PostgreSQL test, PostgreSQL is unreachable: {e}");
                    return;
                }
            };
            let name = format!("cenports_test_{}", random_suffix());
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .expect("create test database");
            let mut url = url::Url::parse(&admin_url).unwrap();
            url.set_path(&name);
            let result = AssertUnwindSafe(test(url.to_string())).catch_unwind().await;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&admin)
                .await
                .expect("drop test database");
            admin.close().await;
            result
        }
    };
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// Runs `test` with the storage opened (migrations run) on a fresh database of `kind`; the
/// storage is closed before the database is removed.
pub async fn run<F, Fut>(kind: Kind, test: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures::FutureExt;
    use std::panic::AssertUnwindSafe;

    run_with_url(kind, |url| async move {
        let storage = cenports::storage::Storage::open(&url)
            .await
            .expect("open the test database");
        let result = AssertUnwindSafe(test(Ctx {
            storage: storage.clone(),
            url,
        }))
        .catch_unwind()
        .await;
        storage.close().await;
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    })
    .await
}

// ------------------------------------------------------------------ a store connected to the hub

/// A sandbox store connected to the hub as `cenports connect` saves it (credentials encrypted,
/// saved, read back and decrypted), with a client built the way the registry builds one:
/// `channel` is the store's channel client the core takes, `client` the BigCommerce client
/// inside it (for what a test reads from the store directly).
pub struct ConnectedStore {
    pub sandbox: bigcommerce_sandbox::Sandbox,
    pub hash: String,
    pub storage: cenports::storage::Storage,
    pub scope: cenports::storage::StoreScope,
    pub record: cenports::storage::StoreRecord,
    pub channel: cenports::channel::bigcommerce::BigCommerceStore,
    pub client: bigcommerce_client::Client,
}

/// A sandbox on 127.0.0.1, on a port of its own.
pub async fn start_sandbox() -> bigcommerce_sandbox::Sandbox {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    bigcommerce_sandbox::Sandbox::start(listener, bigcommerce_sandbox::SandboxConfig::default())
        .await
        .unwrap()
}

/// Saves `store` for `ops@example.com` as `cenports connect` does: its `merchant-guide` API
/// account with `access_token` (the real one, or one the sandbox revoked), encrypted with `key`.
pub async fn save_store(
    storage: &cenports::storage::Storage,
    api_base_url: &str,
    store: &bigcommerce_sandbox::StoreInfo,
    access_token: &str,
    key: &[u8; 32],
) -> cenports::storage::StoreRecord {
    use cenports::channel::bigcommerce::CHANNEL;
    use cenports::channel::credentials::encrypt_credentials;
    use cenports::channel::Credentials;
    use cenports::storage::{NewStore, StoreProfile};
    use secrecy::SecretString;

    let account = store
        .account("merchant-guide")
        .expect("merchant-guide account");
    let api = url::Url::parse(api_base_url).unwrap();
    let credentials = Credentials {
        client_id: account.client_id.clone(),
        client_secret: SecretString::from(account.client_secret.clone()),
        access_token: SecretString::from(access_token.to_owned()),
    };
    let secret_box = cenports::secrets::SecretBox::from_key_bytes(key).unwrap();
    let user = storage.ensure_user("ops@example.com").await.unwrap();
    storage
        .save_store(
            user.id,
            &NewStore {
                channel: CHANNEL.into(),
                remote_id: store.hash.clone(),
                api_base_url: api.to_string(),
                profile: StoreProfile::default(),
                credentials: encrypt_credentials(&secret_box, &store.hash, &credentials),
            },
        )
        .await
        .unwrap()
}

/// Connects `store` (its `merchant-guide` API account) for `ops@example.com`. The client
/// retries twice with millisecond backoffs (tests fault requests on purpose); `tune` changes
/// the rest of its configuration (e.g. a shorter timeout).
pub async fn connect_store(
    storage: &cenports::storage::Storage,
    sandbox: bigcommerce_sandbox::Sandbox,
    store: &bigcommerce_sandbox::StoreInfo,
    tune: impl FnOnce(&mut bigcommerce_client::ClientConfig),
) -> ConnectedStore {
    use cenports::channel::bigcommerce::{BigCommerce, BigCommerceStore};
    use cenports::channel::credentials::open_store_credentials;
    use std::time::Duration;

    const KEY: [u8; 32] = [42; 32];
    let token = store
        .account("merchant-guide")
        .expect("merchant-guide account")
        .access_token
        .clone();
    let record = save_store(storage, sandbox.base_url(), store, &token, &KEY).await;
    let channel = BigCommerce::new(url::Url::parse(sandbox.base_url()).unwrap());
    let secret_box = cenports::secrets::SecretBox::from_key_bytes(&KEY).unwrap();
    let stored = storage
        .get_store_credentials(&record.scope())
        .await
        .unwrap();
    let credentials = open_store_credentials(&secret_box, &record, stored.as_ref()).unwrap();
    let mut config = channel.client_config(&record, &credentials).unwrap();
    config.max_retries = 2;
    config.retry_base_delay = Duration::from_millis(5);
    config.max_retry_delay = Duration::from_millis(20);
    tune(&mut config);
    let client = bigcommerce_client::Client::new(config).unwrap();
    ConnectedStore {
        sandbox,
        hash: store.hash.clone(),
        storage: storage.clone(),
        scope: record.scope(),
        record,
        channel: BigCommerceStore::new(client.clone()),
        client,
    }
}

/// Places an order in the sandbox store for `quantity` of a SKU it has in stock (as a shopper
/// would, firing the store's webhooks); returns the order's id.
pub fn place_order_in_stock(
    sandbox: &bigcommerce_sandbox::Sandbox,
    hash: &str,
    quantity: u32,
) -> u64 {
    let sku = sandbox
        .with_store(hash, |data, _| {
            data.products
                .values()
                .flat_map(|p| p.variants.iter())
                .find(|v| !v.sku.is_empty() && v.inventory_level > i64::from(quantity) + 3)
                .map(|v| v.sku.clone())
        })
        .unwrap()
        .expect("a SKU in stock");
    sandbox
        .with_store(hash, |data, events| {
            data.place_order(
                bigcommerce_sandbox::fixtures::order(1, &[(sku.as_str(), quantity, 0)]),
                events,
            )
        })
        .unwrap()
        .expect("the sandbox takes the order")
}

/// The `cenports` binary under test, configured by the environment the test gives it only:
/// the variables a developer's shell may hold (a config file, a key, a listen address,
/// credentials) are removed, and standard input is empty. `tokio::process::Command::from` it
/// for async use.
pub fn cenports_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cenports"));
    for name in [
        "CENPORTS_CONFIG",
        "CENPORTS_SECRET_KEY",
        "CENPORTS_LISTEN",
        "CENPORTS_ACCESS_TOKEN",
        "CENPORTS_CLIENT_SECRET",
    ] {
        command.env_remove(name);
    }
    command.stdin(std::process::Stdio::null());
    command
}
