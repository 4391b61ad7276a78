//! Helpers shared by the binary's black-box tests: child processes that are killed and
//! directories and databases that are removed when a test ends, however it ends. That
//! scaffolding is the `cenports-harness` crate's, which the `cenports bench` subcommands use
//! too; what is here adds the tests' ways (a failed setup panics, both backends per test) and
//! the hub's own helpers (a connected store, the binary under test).

pub mod soak;
pub mod tenant;
pub mod third_party;

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

use std::path::Path;
use std::time::Duration;

/// From [`cenports_harness`], as the benches use them: a directory removed when the test
/// ends (`TempDir::new` reserves the path, `TempDir::create` makes it too), a child process
/// killed when the test ends (`Running(child)`), the `cenports sandbox` child and what its
/// banner said, and random names.
pub use cenports_harness::{random_suffix, Running, SandboxChild, TempDir};

/// The value of a `NAME: value` line of a credentials file; the test fails without one.
pub fn field<'a>(txt: &'a str, name: &str) -> &'a str {
    cenports_harness::field(txt, name).unwrap_or_else(|| panic!("no {name} line in:\n{txt}"))
}

/// Starts `cenports sandbox ARGS --credentials-dir DIR` (the binary under test) and reads its
/// banner, so that a binary silent for `timeout` fails the test instead of hanging it.
pub fn spawn_sandbox(args: &[&str], dir: &Path, timeout: Duration) -> SandboxChild {
    SandboxChild::start(
        Path::new(env!("CARGO_BIN_EXE_cenports")),
        args,
        dir,
        timeout,
    )
    .unwrap_or_else(|error| panic!("{error}"))
}

// ------------------------------------------------------------------ a fresh database per test

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

/// Runs `test` with the URL of a fresh database of `kind` (a SQLite file in a directory of its
/// own, or a PostgreSQL database `cenports_test_<random>` on the server of
/// `CENPORTS_TEST_POSTGRES_URL`, else 127.0.0.1:5432), removed afterwards however the test
/// ends. If PostgreSQL cannot be reached, a PostgreSQL run fails when `CI` is set and is
/// skipped with a notice otherwise.
pub async fn run_with_url<F, Fut>(kind: Kind, test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use cenports_harness::{HarnessError, ScratchPostgres};
    use futures::FutureExt;
    use std::panic::AssertUnwindSafe;

    let result = match kind {
        Kind::Sqlite => {
            let dir = TempDir::create("test").expect("a temporary directory");
            let url = format!("sqlite://{}", dir.0.join("cenports.db").display());
            AssertUnwindSafe(test(url)).catch_unwind().await
        }
        Kind::Postgres => {
            let admin_url = cenports_harness::admin_url();
            let db = match ScratchPostgres::create(&admin_url, "test").await {
                Ok(db) => db,
                Err(e @ HarnessError::PostgresUnreachable { .. }) => {
                    if std::env::var_os("CI").is_some() {
                        panic!("PostgreSQL is required in CI but could not be reached: {e}")
                    }
                    eprintln!("NOTICE: skipping a PostgreSQL test, PostgreSQL is unreachable: {e}");
                    return;
                }
                Err(e) => panic!("create test database: {e}"),
            };
            let result = AssertUnwindSafe(test(db.url().to_owned()))
                .catch_unwind()
                .await;
            db.drop_database().await.expect("drop test database");
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
    save_store_for(
        storage,
        "ops@example.com",
        api_base_url,
        store,
        access_token,
        key,
    )
    .await
}

/// [`save_store`] for the user `email` (two users may connect the same store).
pub async fn save_store_for(
    storage: &cenports::storage::Storage,
    email: &str,
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
    let user = storage.ensure_user(email).await.unwrap();
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
    connect_store_for(storage, "ops@example.com", sandbox, store, tune).await
}

/// [`connect_store`] for the user `email` (a merchant who also sells on another channel).
pub async fn connect_store_for(
    storage: &cenports::storage::Storage,
    email: &str,
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
    let record = save_store_for(storage, email, sandbox.base_url(), store, &token, &KEY).await;
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
