//! `cenports stock` as a merchant runs it: the real binary, configured only by `CENPORTS_*`
//! variables, a sandbox store on a loopback port, and a fresh database (a SQLite file; a
//! PostgreSQL database on 127.0.0.1:5432 for the `_on_postgres` test, required when `CI` is set,
//! skipped with a notice otherwise).

use std::process::Output;
use std::time::Duration;

use crate::common::{self, TempDir};
use bigcommerce_sandbox::credentials::credentials_txt;
use bigcommerce_sandbox::model::InventoryTracking as SbTracking;
use bigcommerce_sandbox::{fixtures, Sandbox, SandboxConfig, StoreInfo, StoreSpec};
use rand::Rng;
use serde_json::Value;
use tokio::net::TcpListener;

const EMAIL: &str = "stock@warehouse.example";

struct Hub {
    sandbox: Sandbox,
    store: StoreInfo,
    dir: TempDir,
    database_url: String,
    printed: std::sync::Mutex<Vec<u8>>,
}

impl Hub {
    async fn start(name: &str, database_url: Option<String>) -> Hub {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sandbox = Sandbox::start(listener, SandboxConfig::default())
            .await
            .unwrap();
        let store = sandbox.create_store(StoreSpec {
            products: 0,
            orders: 0,
            name: Some("Harbour Supplies".into()),
            ..StoreSpec::default()
        });
        sandbox
            .with_store(&store.hash, |data, _| {
                data.add_product(fixtures::product(
                    "T-shirt",
                    "TEE",
                    SbTracking::Variant,
                    0,
                    vec![
                        fixtures::variant("TEE-S", "S", 5),
                        fixtures::variant("TEE-M", "M", 5),
                    ],
                ));
                data.add_product(fixtures::product(
                    "Mug",
                    "MUG",
                    SbTracking::Product,
                    20,
                    vec![],
                ));
                data.add_product(fixtures::product(
                    "Gift card",
                    "CARD",
                    SbTracking::None,
                    0,
                    vec![],
                ));
            })
            .unwrap();
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

    async fn run(&self, args: &[&str]) -> Output {
        let mut command = tokio::process::Command::from(common::cenports_command());
        command
            .args(args)
            .env("CENPORTS_DATABASE_URL", &self.database_url)
            .env("CENPORTS_BIGCOMMERCE_API_URL", self.sandbox.base_url())
            .env("CENPORTS_KEY_FILE", self.dir.0.join("hub.key"))
            .env("CENPORTS_LOG", "debug");
        let output = tokio::time::timeout(Duration::from_secs(120), command.output())
            .await
            .expect("cenports finishes within 2 minutes")
            .expect("cenports runs");
        let mut printed = self.printed.lock().unwrap();
        printed.extend_from_slice(&output.stdout);
        printed.extend_from_slice(&output.stderr);
        output
    }

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

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    fn level(&self, sku: &str) -> i64 {
        self.sandbox
            .with_store(&self.store.hash, |data, _| {
                let product = data
                    .products
                    .values()
                    .find(|p| p.sku == sku || p.variants.iter().any(|v| v.sku == sku))?;
                Some(match product.inventory_tracking {
                    SbTracking::Variant => {
                        product
                            .variants
                            .iter()
                            .find(|v| v.sku == sku)?
                            .inventory_level
                    }
                    _ => product.inventory_level,
                })
            })
            .flatten()
            .unwrap()
    }
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn by_sku(rows: &[Value]) -> std::collections::HashMap<String, Value> {
    rows.iter()
        .map(|r| (r["sku"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

/// Connect, sync, import (a bad file, then a good one), set, show, push twice.
async fn stock_through_the_cli(hub: &Hub) {
    let hash = hub.store.hash.clone();
    let account = hub.store.account("merchant-guide").unwrap();
    let credentials = hub.file(
        "creds.txt",
        &credentials_txt(account, &hub.sandbox.api_path(&hash)),
    );
    hub.ok(&[
        "connect",
        "--email",
        EMAIL,
        "--credentials-file",
        &credentials,
    ])
    .await;
    hub.ok(&["sync", "--email", EMAIL]).await;

    // SKUs follow the API's rule (no control characters, at most 255 characters), and a line
    // with more fields than the header is a bad line: the whole file is refused.
    let controls = hub.file(
        "controls.csv",
        "sku,on_hand\nTEE\u{0}S,9\nTEE\tM,4\nMUG,2,extra\n",
    );
    let output = hub
        .run(&["stock", "import", "--store", &hash, &controls])
        .await;
    assert!(!output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "3 bad line(s); nothing was imported",
        "line 2: the SKU has control characters",
        "line 3: the SKU has control characters",
        "line 4: 3 field(s) where the header has 2",
    ] {
        assert!(stderr.contains(expected), "{expected} in {stderr}");
    }
    let long = "S".repeat(300);
    for sku in ["TEE\u{1}S", long.as_str()] {
        let output = hub.run(&["stock", "set", "--store", &hash, sku, "3"]).await;
        assert!(!output.status.success(), "{}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("has control characters")
                || stderr.contains("is longer than 255 characters"),
            "{stderr}"
        );
    }
    assert!(hub
        .json(&["stock", "--store", &hash, "--json"])
        .await
        .is_empty());

    // A bad file: every bad line named, nothing applied.
    let bad = hub.file(
        "bad.csv",
        "sku,on_hand\nTEE-S,9\nTEE-M,many\nTEE-S,3\nMUG,-2\n",
    );
    let output = hub.run(&["stock", "import", "--store", &hash, &bad]).await;
    assert!(!output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("3 bad line(s); nothing was imported"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 3: SKU TEE-M: on_hand \"many\" is not a whole number"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 4: SKU TEE-S is already on line 2"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 5: SKU MUG: on_hand -2 is outside"),
        "{stderr}"
    );
    assert!(hub
        .json(&["stock", "--store", &hash, "--json"])
        .await
        .is_empty());

    let good = hub.file(
        "good.csv",
        "sku,on_hand\nTEE-S,9\nTEE-M,1\nMUG,4\nCARD,2\nGHOST,1\n",
    );
    let out = hub.ok(&["stock", "import", "--store", &hash, &good]).await;
    assert!(out.contains("5 SKUs imported"), "{out}");
    hub.ok(&["stock", "set", "--store", &hash, "TEE-M", "6"])
        .await;
    let refused = hub
        .run(&["stock", "set", "--store", &hash, "TEE-M", "-1"])
        .await;
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("outside 0 to 2147483647"),
        "{}",
        text(&refused)
    );

    let rows = by_sku(&hub.json(&["stock", "--store", &hash, "--json"]).await);
    assert_eq!(rows["TEE-M"]["on_hand"], 6);
    assert_eq!(rows["TEE-M"]["available"], 6);
    assert_eq!(rows["TEE-M"]["store_level"], 5);
    assert_eq!(rows["TEE-M"]["tracking"], "variant");
    assert_eq!(rows["MUG"]["store_level"], 20);
    assert_eq!(rows["MUG"]["tracking"], "product");
    assert_eq!(rows["CARD"]["tracking"], "untracked");
    assert_eq!(rows["GHOST"]["tracking"], Value::Null);
    // The channel's ids are text: the T-shirt's product id and its variant's id, as strings.
    assert!(
        rows["TEE-M"]["product_id"].is_string(),
        "{:?}",
        rows["TEE-M"]
    );
    assert!(
        rows["TEE-M"]["variant_id"].is_string(),
        "{:?}",
        rows["TEE-M"]
    );
    assert_eq!(rows["TEE-S"]["product_id"], rows["TEE-M"]["product_id"]);
    assert_ne!(rows["TEE-S"]["variant_id"], rows["TEE-M"]["variant_id"]);
    // A product without options: its SKU is its base variant's, whose id is text too.
    assert!(rows["MUG"]["variant_id"].is_string(), "{:?}", rows["MUG"]);
    assert_ne!(rows["MUG"]["product_id"], rows["TEE-M"]["product_id"]);

    let pushed = hub
        .json(&["stock", "push", "--store", &hash, "--json"])
        .await;
    let report = &pushed[0];
    assert_eq!(report["store_hash"], hash.as_str());
    assert_eq!(report["changed"]["variant_tracked"], 2);
    assert_eq!(report["changed"]["product_tracked"], 1);
    assert_eq!(report["untracked"], 1);
    assert_eq!(report["write_requests"], 2);
    assert_eq!(report["floor"], 2);
    assert_eq!(report["read_requests"], 2);
    let outcomes = by_sku(report["outcomes"].as_array().unwrap());
    assert_eq!(outcomes["TEE-S"]["status"], "ok");
    assert_eq!(outcomes["GHOST"]["status"], "not_in_catalog");
    assert_eq!(outcomes["CARD"]["status"], "untracked");
    assert_eq!(
        (hub.level("TEE-S"), hub.level("TEE-M"), hub.level("MUG")),
        (9, 6, 4)
    );
    assert_eq!(hub.level("CARD"), 0);

    let again = hub.ok(&["stock", "push", "--store", &hash]).await;
    assert!(
        again.contains("requests: 0 write (floor 0), 0 read-back"),
        "{again}"
    );
    let shown = hub.ok(&["stock", "--store", &hash]).await;
    assert!(shown.contains("TEE-M"), "{shown}");
    assert!(shown.contains("not in catalog"), "{shown}");

    let printed = hub.printed.lock().unwrap().clone();
    for account in &hub.store.accounts {
        for secret in [&account.access_token, &account.client_secret] {
            assert!(
                !printed
                    .windows(secret.len())
                    .any(|w| w == secret.as_bytes()),
                "a secret was printed"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_is_imported_set_shown_and_pushed_through_the_cli() {
    let hub = Hub::start("stock-cli", None).await;
    stock_through_the_cli(&hub).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_is_imported_set_shown_and_pushed_through_the_cli_on_postgres() {
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
            eprintln!("NOTICE: skipping a PostgreSQL CLI test, PostgreSQL is unreachable: {e}");
            return;
        }
    };
    let name = format!(
        "cenports_test_{}",
        rand::thread_rng().gen_range(0..u64::MAX)
    );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);
    let hub = Hub::start("stock-cli-pg", Some(url.to_string())).await;
    let result =
        futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(stock_through_the_cli(&hub)))
            .await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
