//! Black-box tests of the hub's subcommands: the real `cenports` binary, configured only by
//! `CENPORTS_*` variables, against a sandbox store on a loopback port and a fresh database
//! (a SQLite file; PostgreSQL on 127.0.0.1:5432 for the `_on_postgres` test, required when `CI`
//! is set, skipped with a notice otherwise).
//!
//! What a merchant and an operator see is asserted on stdout/stderr and on `--json` output.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use crate::common::{self, TempDir};
use bigcommerce_sandbox::credentials::credentials_txt;
use bigcommerce_sandbox::{Sandbox, SandboxConfig, StoreInfo, StoreSpec};
use rand::Rng;
use serde_json::Value;
use tokio::net::TcpListener;

const ALICE: &str = "alice@warehouse.example";
const BOB: &str = "bob@other-warehouse.example";

/// A sandbox with one store, a directory of its own, and a database for the hub.
struct Hub {
    sandbox: Sandbox,
    store: StoreInfo,
    dir: TempDir,
    database_url: String,
    /// Everything the binary printed, to search for secrets at the end.
    printed: std::sync::Mutex<Vec<u8>>,
}

impl Hub {
    async fn start(name: &str, database_url: Option<String>) -> Hub {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sandbox = Sandbox::start(listener, SandboxConfig::default())
            .await
            .unwrap();
        let store = sandbox.create_store(StoreSpec {
            seed: 11,
            orders: 120,
            products: 15,
            name: Some("Harbour Supplies".into()),
            ..StoreSpec::default()
        });
        let dir = TempDir::new(name);
        std::fs::create_dir_all(&dir.0).unwrap();
        let database_url =
            database_url.unwrap_or_else(|| format!("sqlite://{}", dir.0.join("hub.db").display()));
        Hub {
            sandbox,
            store,
            dir,
            database_url,
            printed: Default::default(),
        }
    }

    /// Writes the credentials `.txt` of one of `store`'s API accounts.
    fn credentials_file(&self, store: &StoreInfo, profile: &str) -> PathBuf {
        let account = store.account(profile).unwrap();
        let path = self.dir.0.join(format!("{}-{profile}.txt", store.hash));
        let txt = credentials_txt(account, &self.sandbox.api_path(&store.hash));
        std::fs::write(&path, txt).unwrap();
        path
    }

    /// Runs `cenports ARGS` configured by environment only, with extra variables.
    async fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = tokio::process::Command::from(common::cenports_command());
        command
            .args(args)
            .env("CENPORTS_DATABASE_URL", &self.database_url)
            .env("CENPORTS_BIGCOMMERCE_API_URL", self.sandbox.base_url())
            .env("CENPORTS_KEY_FILE", self.dir.0.join("hub.key"))
            // Debug logs: the secret check below also covers what the hub logs.
            .env("CENPORTS_LOG", "debug");
        for (name, value) in env {
            command.env(name, value);
        }
        let output = tokio::time::timeout(Duration::from_secs(120), command.output())
            .await
            .expect("cenports finishes within 2 minutes")
            .expect("cenports runs");
        let mut printed = self.printed.lock().unwrap();
        printed.extend_from_slice(&output.stdout);
        printed.extend_from_slice(&output.stderr);
        output
    }

    async fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[]).await
    }

    /// Runs and asserts success; returns stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        assert!(
            output.status.success(),
            "cenports {args:?} failed:\n{}",
            text(&output)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    async fn json(&self, args: &[&str]) -> Vec<Value> {
        let stdout = self.ok(args).await;
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: not JSON:\n{stdout}"))
    }

    async fn connect(&self, email: &str, store: &StoreInfo, profile: &str) -> Output {
        let file = self.credentials_file(store, profile);
        self.run(&[
            "connect",
            "--email",
            email,
            "--credentials-file",
            file.to_str().unwrap(),
        ])
        .await
    }

    /// Orders the sandbox lists (not archived), and those with one of `statuses`.
    fn sandbox_orders(&self, statuses: &[u32]) -> (usize, usize) {
        let store = self.sandbox.store(&self.store.hash).unwrap();
        let data = store.data.read();
        let live: Vec<_> = data.orders.values().filter(|o| !o.is_deleted).collect();
        let with = live
            .iter()
            .filter(|o| statuses.contains(&o.status_id))
            .count();
        (live.len(), with)
    }

    /// Asserts that no secret of any of the store's API accounts is in what the binary
    /// printed or (for SQLite) in the database files.
    fn assert_no_secret_leaked(&self) {
        let printed = self.printed.lock().unwrap().clone();
        let mut haystacks = vec![("stdout/stderr".to_string(), printed)];
        if self.database_url.starts_with("sqlite://") {
            for entry in std::fs::read_dir(&self.dir.0).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().to_string();
                if name.starts_with("hub.db") {
                    haystacks.push((name, std::fs::read(&path).unwrap()));
                }
            }
            assert!(haystacks.len() >= 2, "the database file exists");
        }
        for account in &self.store.accounts {
            for secret in [&account.access_token, &account.client_secret] {
                for (name, bytes) in &haystacks {
                    assert!(
                        !contains(bytes, secret.as_bytes()),
                        "{name} contains a secret of the {} account",
                        account.profile
                    );
                }
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Connect with the credentials file, sync, and list: the whole merchant path.
async fn connect_sync_and_list(hub: &Hub) {
    let hash = hub.store.hash.clone();
    let output = hub.connect(ALICE, &hub.store, "merchant-guide").await;
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for scope in [
        "ok       Orders: Modify (store_v2_orders)",
        "ok       Products: Modify (store_v2_products)",
        "ok       Information & Settings: Read-only (store_v2_information_read_only)",
    ] {
        assert!(stdout.contains(scope), "{stdout}");
    }
    assert!(
        stdout.contains(&format!("Connected store {hash} \"Harbour Supplies\"")),
        "{stdout}"
    );

    let stores = hub.json(&["stores", "--email", ALICE, "--json"]).await;
    assert_eq!(stores.len(), 1, "{stores:?}");
    assert_eq!(stores[0]["store_hash"], hash.as_str());
    assert_eq!(stores[0]["status"], "connected");
    assert_eq!(stores[0]["orders"], 0);

    let stdout = hub.ok(&["sync", "--email", ALICE]).await;
    let (live, ready) = hub.sandbox_orders(&[11, 9, 8]);
    assert!(stdout.contains("API requests ("), "{stdout}");
    assert!(stdout.contains("per 1,000 orders"), "{stdout}");

    let orders = hub
        .json(&["orders", "--email", ALICE, "--json", "--limit", "1000"])
        .await;
    assert_eq!(orders.len(), live, "every order is imported once");
    let mut ids: Vec<&str> = orders
        .iter()
        .map(|o| o["order_id"].as_str().unwrap())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), live, "no order twice");
    assert!(orders.iter().all(|o| o["store_hash"] == hash.as_str()));
    assert!(orders.iter().any(|o| o["items"].as_i64().unwrap() > 0));

    let ready_orders = hub
        .json(&[
            "orders", "--email", ALICE, "--state", "ready", "--json", "--limit", "1000",
        ])
        .await;
    assert_eq!(
        ready_orders.len(),
        ready,
        "ready = Awaiting Fulfillment/Shipment/Pickup"
    );
    assert!(ready_orders
        .iter()
        .all(|o| o["fulfilment_state"] == "ready"));
    let awaiting = hub
        .json(&[
            "orders",
            "--email",
            ALICE,
            "--status",
            "awaiting fulfillment",
            "--json",
            "--limit",
            "1000",
        ])
        .await;
    assert!(awaiting.iter().all(|o| o["status_code"] == "11"));
    assert_eq!(awaiting.len(), hub.sandbox_orders(&[11]).1);
    // The same status by its code; a name the store's channel does not have is refused with
    // the channel's statuses listed, and nothing is listed.
    let by_code = hub
        .json(&[
            "orders", "--email", ALICE, "--status", "11", "--json", "--limit", "1000",
        ])
        .await;
    assert_eq!(by_code, awaiting);
    let unknown = hub
        .run(&["orders", "--email", ALICE, "--status", "Shipped Yesterday"])
        .await;
    assert!(!unknown.status.success());
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        said.contains("\"Shipped Yesterday\" is not a BigCommerce order status")
            && said.contains("Awaiting Fulfillment (11)"),
        "{said}"
    );
    assert!(unknown.stdout.is_empty(), "nothing listed");

    // A creation range: from inclusive, to exclusive.
    let created = orders[0]["date_created"].as_str().unwrap().to_owned();
    let day = created[..10].to_owned();
    let on_that_day = orders
        .iter()
        .filter(|o| o["date_created"].as_str().unwrap().starts_with(&day))
        .count();
    let next_day = (chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").unwrap()
        + chrono::Duration::days(1))
    .to_string();
    let in_day = hub
        .json(&[
            "orders",
            "--email",
            ALICE,
            "--created-from",
            &day,
            "--created-to",
            &next_day,
            "--json",
            "--limit",
            "1000",
        ])
        .await;
    assert_eq!(in_day.len(), on_that_day, "{day}");
    let empty = hub
        .json(&[
            "orders",
            "--email",
            ALICE,
            "--created-from",
            &created,
            "--created-to",
            &created,
            "--json",
        ])
        .await;
    assert!(empty.is_empty(), "an empty half-open range: {empty:?}");

    // The table view names the same orders.
    let table = hub.ok(&["orders", "--email", ALICE, "--limit", "5"]).await;
    assert!(table.contains("order #"), "{table}");
    assert_eq!(table.lines().count(), 6, "{table}");

    let stores = hub.json(&["stores", "--json"]).await;
    assert_eq!(stores[0]["orders"], live as i64);
    assert!(stores[0]["last_sync"].is_string(), "{stores:?}");

    hub.assert_no_secret_leaked();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_with_the_credentials_file_then_syncing_imports_every_order() {
    let hub = Hub::start("cli-hub-sqlite", None).await;
    connect_sync_and_list(&hub).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_then_syncing_imports_every_order_on_postgres() {
    let admin_url = std::env::var("CENPORTS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = match sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&admin_url)
        .await
    {
        Ok(pool) => pool,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("PostgreSQL is required in CI but could not be reached: {e}")
        }
        Err(e) => {
            eprintln!("NOTICE: skipping the PostgreSQL CLI test, PostgreSQL is unreachable: {e}");
            return;
        }
    };
    let suffix: String = {
        let mut rng = rand::thread_rng();
        (0..12)
            .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
            .collect()
    };
    let name = format!("cenports_test_cli_{suffix}");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create the test database");
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);
    let hub = Hub::start("cli-hub-postgres", Some(url.to_string())).await;
    let result =
        futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(connect_sync_and_list(&hub)))
            .await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .expect("drop the test database");
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_credentials_are_refused_naming_both_modify_scopes_and_nothing_is_saved() {
    let hub = Hub::start("cli-hub-read-only", None).await;
    let output = hub.connect(ALICE, &hub.store, "read-only").await;
    assert!(!output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains("MISSING  Orders: Modify (store_v2_orders): edit the API account"),
        "{stdout}"
    );
    assert!(
        stdout.contains("MISSING  Products: Modify (store_v2_products)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok       Information & Settings: Read-only"),
        "{stdout}"
    );
    assert!(
        stderr.contains(
            "error: the access token lacks Orders: Modify (store_v2_orders) and Products: Modify \
             (store_v2_products); edit the API account in BigCommerce (Advanced Settings › API \
             Accounts), set Orders to Modify and Products to Modify, and reconnect"
        ),
        "{stderr}"
    );
    assert!(hub.json(&["stores", "--json"]).await.is_empty());
    assert!(hub
        .json(&["stores", "--email", ALICE, "--json"])
        .await
        .is_empty());
    hub.assert_no_secret_leaked();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_never_see_each_others_stores() {
    let hub = Hub::start("cli-hub-tenants", None).await;
    let other = hub.sandbox.create_store(StoreSpec {
        seed: 12,
        orders: 10,
        products: 5,
        name: Some("Other Shop".into()),
        ..StoreSpec::default()
    });
    let output = hub.connect(ALICE, &hub.store, "merchant-guide").await;
    assert!(output.status.success(), "{}", text(&output));
    // Bob types his store URL and client id; the secrets come from the environment, so they
    // never land in shell history.
    let account = other.account("merchant-guide").unwrap();
    let permanent = format!("https://store-{}.mybigcommerce.com", other.hash);
    let output = hub
        .run_with(
            &[
                "connect",
                "--email",
                BOB,
                "--store-url",
                &permanent,
                "--client-id",
                &account.client_id,
            ],
            &[
                ("CENPORTS_ACCESS_TOKEN", &account.access_token),
                ("CENPORTS_CLIENT_SECRET", &account.client_secret),
            ],
        )
        .await;
    assert!(output.status.success(), "{}", text(&output));

    let alice = hub.json(&["stores", "--email", ALICE, "--json"]).await;
    let bob = hub.json(&["stores", "--email", BOB, "--json"]).await;
    assert_eq!(alice.len(), 1);
    assert_eq!(bob.len(), 1);
    assert_eq!(alice[0]["store_hash"], hub.store.hash.as_str());
    assert_eq!(bob[0]["store_hash"], other.hash.as_str());
    assert_eq!(
        hub.json(&["stores", "--json"]).await.len(),
        2,
        "operators see all"
    );

    // Alice cannot name Bob's store, for orders, sync or disconnect.
    for command in ["orders", "sync", "disconnect"] {
        let output = hub
            .run(&[command, "--email", ALICE, "--store", &other.hash])
            .await;
        assert!(!output.status.success(), "{command}: {}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("no store {} of {ALICE}", other.hash)),
            "{command}: {stderr}"
        );
        assert!(!stderr.contains("Other Shop"), "{stderr}");
    }

    // Disconnecting forgets the secrets: the store stays, listed as disconnected, and sync
    // asks for a reconnect.
    let stdout = hub
        .ok(&["disconnect", "--email", BOB, "--store", &other.hash])
        .await;
    assert!(stdout.contains("Disconnected store"), "{stdout}");
    let bob = hub.json(&["stores", "--email", BOB, "--json"]).await;
    assert_eq!(bob[0]["status"], "disconnected");
    let output = hub
        .run(&["sync", "--email", BOB, "--store", &other.hash])
        .await;
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("reconnect it with `cenports connect`"),
        "{}",
        text(&output)
    );
    hub.assert_no_secret_leaked();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_domain_gets_the_permanent_address_explanation() {
    let hub = Hub::start("cli-hub-domain", None).await;
    let account = hub.store.account("merchant-guide").unwrap();
    let output = hub
        .run_with(
            &[
                "connect",
                "--email",
                ALICE,
                "--store-url",
                "https://www.harboursupplies.example",
                "--client-id",
                &account.client_id,
            ],
            &[
                ("CENPORTS_ACCESS_TOKEN", &account.access_token),
                ("CENPORTS_CLIENT_SECRET", &account.client_secret),
            ],
        )
        .await;
    assert!(!output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("www.harboursupplies.example is the storefront's own domain"),
        "{stderr}"
    );
    assert!(stderr.contains("open Store Profile"), "{stderr}");
    assert!(stderr.contains("Permanent Address"), "{stderr}");
    assert!(hub.json(&["stores", "--json"]).await.is_empty());
    hub.assert_no_secret_leaked();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_off_a_terminal_names_the_variable_to_set() {
    let hub = Hub::start("cli-hub-no-secret", None).await;
    let output = hub
        .run(&[
            "connect",
            "--email",
            ALICE,
            "--store-url",
            &hub.store.hash,
            "--client-id",
            "abc",
        ])
        .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the Client Secret is missing: set CENPORTS_CLIENT_SECRET"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_setting_is_refused_before_anything_runs_naming_the_field_and_the_fix() {
    let hub = Hub::start("cli-hub-config", None).await;
    let output = hub
        .run_with(
            &["stores"],
            &[("CENPORTS_BIGCOMMERCE_API_URL", "api.bigcommerce.com")],
        )
        .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "setting `bigcommerce_api_url` (from the environment variable \
             CENPORTS_BIGCOMMERCE_API_URL) is not a URL"
        ),
        "{stderr}"
    );

    // The config file is a layer below the environment.
    let file = hub.dir.0.join("cenports.toml");
    std::fs::write(&file, "sync_interval = \"often\"\n").unwrap();
    let output = hub
        .run(&["--config", file.to_str().unwrap(), "stores"])
        .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "setting `sync_interval` (from the config file {})",
            file.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("give a duration such as 300, 90s, 5m or 1h"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_escapes_in_store_data_are_printed_escaped() {
    // A store named to clear the screen, retitle the terminal and recolour what follows.
    let hub = Hub::start("cli-hub-escapes", None).await;
    let evil = "\u{1b}[2J\u{1b}]0;pwned\u{7}\u{1b}[31mEvil\u{202e}Shop";
    let store = hub.sandbox.create_store(StoreSpec {
        seed: 12,
        orders: 0,
        products: 0,
        name: Some(evil.into()),
        ..StoreSpec::default()
    });
    let quiet = [("CENPORTS_LOG", "warn")];
    let file = hub.credentials_file(&store, "merchant-guide");
    let connect = hub
        .run_with(
            &[
                "connect",
                "--email",
                ALICE,
                "--credentials-file",
                file.to_str().unwrap(),
            ],
            &quiet,
        )
        .await;
    assert!(connect.status.success(), "{}", text(&connect));
    let stores = hub.run_with(&["stores"], &quiet).await;
    assert!(stores.status.success(), "{}", text(&stores));
    for output in [&connect, &stores] {
        for stream in [&output.stdout, &output.stderr] {
            assert!(
                !stream.iter().any(|b| *b == 0x1b || *b == 0x07),
                "a raw control character reached the terminal: {}",
                text(output)
            );
        }
    }
    let connected = String::from_utf8_lossy(&connect.stdout);
    assert!(
        connected.contains(r"\x1b[2J\x1b]0;pwned\x07\x1b[31mEvil\u{202e}Shop"),
        "{connected}"
    );
    let listed = String::from_utf8_lossy(&stores.stdout);
    assert!(listed.contains(r"\x1b[2J"), "{listed}");
    // JSON carries the name as it is, escaped the JSON way.
    let json = hub.json(&["stores", "--json"]).await;
    assert_eq!(json[0]["name"], evil);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_files_are_private_and_a_wider_one_is_reported() {
    use std::os::unix::fs::PermissionsExt;
    let hub = Hub::start("cli-hub-modes", None).await;
    let db = hub.dir.0.join("hub.db");
    let mode = |suffix: &str| {
        let mut name = db.clone().into_os_string();
        name.push(suffix);
        std::fs::metadata(&name)
            .unwrap_or_else(|e| panic!("{name:?}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    // A new database (under the test's umask, typically 022): the file and, while a process
    // holds it open, its -wal and -shm are the owner's only.
    let storage = cenports::storage::Storage::open(&hub.database_url)
        .await
        .unwrap();
    hub.ok(&["stores"]).await;
    for suffix in ["", "-wal", "-shm"] {
        assert_eq!(mode(suffix), 0o600, "hub.db{suffix}");
    }
    storage.close().await;
    // A file someone made readable by others: every command says so on stderr.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = hub.run_with(&["stores"], &[("CENPORTS_LOG", "warn")]).await;
    assert!(output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is readable by other users (mode 644)") && stderr.contains("chmod 600"),
        "{stderr}"
    );
}
