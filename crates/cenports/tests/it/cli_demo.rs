//! `cenports demo` runs end to end through the merchant's code path: sandbox, connect with the
//! credentials file, sync into the hub's database, a shipment and a stock push written back, and
//! the missing-scope message on connect; an Amazon emulator's seller connected for the same
//! merchant (its credentials file through the channel's check) and imported; then, unless
//! `--no-serve`, it serves the hub with the logins it printed, both stores on the merchant's
//! dashboard.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{run_with_url, Kind, Running};
use base64::Engine as _;

#[test]
fn the_demo_imports_every_order_and_explains_a_missing_scope() {
    let output = Command::new(env!("CARGO_BIN_EXE_cenports"))
        .args(["demo", "--orders", "600", "--no-serve"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run cenports demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("Connected store "), "{stdout}");
    // Counted in the hub's database, not at BigCommerce.
    assert!(
        stdout.contains("Orders by status (in the hub's database): 600 in all"),
        "{stdout}"
    );
    // The 500th order is over the 50-line cap: exactly one fallback.
    assert!(stdout.contains("  600 orders,"), "{stdout}");
    assert!(stdout.contains("1 over the 50-line cap"), "{stdout}");
    assert!(
        stdout.contains(
            "the access token lacks Orders: Modify (store_v2_orders) and Products: Modify \
             (store_v2_products); edit the API account in BigCommerce (Advanced Settings › API \
             Accounts), set Orders to Modify and Products to Modify, and reconnect"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("Nothing was saved: the hub holds 1 store as before."),
        "{stdout}"
    );
    assert!(stdout.contains("0 answered 429"), "{stdout}");
    // The write-back: one shipment per shipping address, the same parcel again sends nothing,
    // BigCommerce and the hub agree the order shipped; stock pushed once, then nothing.
    assert!(
        stdout.contains(
            "the same parcel reported again: already requested, nothing queued (0 POSTs)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("the hub shows it \"Shipped\" (shipped)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("second push, nothing changed: 0 write request(s), 0 read-back"),
        "{stdout}"
    );
    let shipped = stdout
        .lines()
        .find(|l| l.contains("BigCommerce now holds"))
        .expect("the shipment line");
    let rows = stdout
        .lines()
        .find(|l| l.contains("outbox row(s)"))
        .expect("the outbox line");
    let count = |line: &str, before: &str| -> u64 {
        line.split(before)
            .next()
            .unwrap()
            .split_whitespace()
            .last()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(
        count(shipped, " shipment(s)"),
        count(rows, " outbox row(s)"),
        "one BigCommerce shipment per outbox row:\n{stdout}"
    );

    // The Amazon seller: every role checked, connected for the same merchant, and every
    // merchant-fulfilled order imported once.
    for role in [
        "ok       Inventory and Order Tracking (orders)",
        "ok       Product Listing (listings)",
        "ok       Direct-to-Consumer Shipping (restricted) (restricted data)",
    ] {
        assert!(stdout.contains(role), "{role}:\n{stdout}");
    }
    assert!(
        stdout.contains("Connected Amazon store ") && stdout.contains("for demo@cenports.example"),
        "{stdout}"
    );
    let merchant_fulfilled = count(
        stdout
            .lines()
            .find(|l| l.contains("merchant-fulfilled). Its usage plans"))
            .expect("the Amazon banner"),
        " of them",
    );
    assert!(
        stdout.contains(&format!(
            "  {merchant_fulfilled} orders in the hub of the {merchant_fulfilled} \
             merchant-fulfilled ones"
        )),
        "{stdout}"
    );
    // The summary: one row per store, orders counted in the hub.
    let stores: Vec<Vec<&str>> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("The merchant's stores in the hub"))
        .skip(2)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let channels: Vec<&str> = stores.iter().map(|row| row[0]).collect();
    assert_eq!(channels, ["bigcommerce", "amazon"], "{stdout}");
    let orders = |row: &Vec<&str>| -> u64 { row[row.len() - 2].parse().unwrap() };
    assert_eq!(orders(&stores[0]), 600, "{stdout}");
    assert_eq!(orders(&stores[1]), merchant_fulfilled, "{stdout}");
    assert!(merchant_fulfilled > 0, "{stdout}");
}

/// A `cenports demo` serving its hub: the process (killed when dropped), the URL it printed,
/// its logins (email, password) and everything it printed up to them.
struct ServingDemo {
    _running: Running,
    url: String,
    logins: Vec<(String, String)>,
    printed: String,
}

/// Runs `cenports demo ARGS --listen 127.0.0.1:0` with `envs` and reads its output until it
/// has printed both logins (on a thread, so that a silent demo fails the test instead of
/// hanging it).
fn serve_demo(args: &[&str], envs: &[(&str, &str)]) -> ServingDemo {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cenports"))
        .arg("demo")
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run cenports demo");
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let mut printed = String::new();
    let mut url = None;
    let mut logins = Vec::new();
    while logins.len() < 2 {
        let line = received
            .recv_timeout(Duration::from_secs(180))
            .unwrap_or_else(|_| panic!("the demo stopped printing before its logins:\n{printed}"));
        printed.push_str(&line);
        printed.push('\n');
        if let Some(rest) = line.split("serving both demo stores at ").nth(1) {
            url = Some(rest.split_whitespace().next().unwrap().to_string());
        }
        if let Some(rest) = line.trim().strip_prefix("login: ") {
            let mut words = rest.split_whitespace();
            let email = words.next().unwrap().to_string();
            assert_eq!(words.next(), Some("password:"), "{line}");
            logins.push((email, words.next().unwrap().to_string()));
        }
    }
    let url = url.unwrap_or_else(|| panic!("no URL printed:\n{printed}"));
    ServingDemo {
        _running: running,
        url,
        logins,
        printed,
    }
}

#[test]
fn the_demo_then_serves_the_hub_and_its_printed_logins_sign_in() {
    let ServingDemo {
        _running,
        url,
        logins,
        printed,
    } = serve_demo(&["--orders", "200", "--products", "50"], &[]);
    assert!(url.starts_with("http://127.0.0.1:"), "{printed}");
    assert!(
        !url.ends_with(":0"),
        "the bound port is printed:\n{printed}"
    );
    let emails: Vec<&str> = logins.iter().map(|(email, _)| email.as_str()).collect();
    assert_eq!(
        emails,
        ["operator@cenports.example", "demo@cenports.example"],
        "{printed}"
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let health = http.get(format!("{url}/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);

        for (email, password) in &logins {
            let signed_in = http
                .post(format!("{url}/login"))
                .json(&serde_json::json!({ "email": email, "password": password }))
                .send()
                .await
                .unwrap();
            assert_eq!(signed_in.status(), 200, "{email}");
            let body: serde_json::Value = signed_in.json().await.unwrap();
            assert_eq!(body["user"]["email"], email.as_str(), "{body}");
            let role = if email.starts_with("operator@") {
                "operator"
            } else {
                "merchant"
            };
            assert_eq!(body["user"]["role"], role, "{body}");
        }
        // The merchant's dashboard lists both stores, each with its channel.
        let (email, password) = &logins[1];
        let signed_in = http
            .post(format!("{url}/login"))
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        let cookie = signed_in
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("cenports_session="))
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_string();
        let stores: serde_json::Value = http
            .get(format!("{url}/api/v1/stores"))
            .header("cookie", format!("cenports_session={cookie}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut channels: Vec<&str> = stores["stores"]
            .as_array()
            .unwrap_or_else(|| panic!("{stores}"))
            .iter()
            .map(|s| s["channel"].as_str().unwrap())
            .collect();
        channels.sort_unstable();
        assert_eq!(channels, ["amazon", "bigcommerce"], "{stores}");
        // The Amazon store works through the same dashboard and API: its page says its
        // notifications come from the queue (no webhooks to miss), its orders are listed.
        let amazon = stores["stores"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["channel"] == "amazon")
            .unwrap()["id"]
            .as_i64()
            .unwrap();
        let get = |path: String| {
            http.get(format!("{url}{path}"))
                .header("cookie", format!("cenports_session={cookie}"))
                .send()
        };
        let page = get(format!("/stores/{amazon}")).await.unwrap();
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(page.contains("notifications from the queue"), "{page}");
        assert!(!page.contains("no webhooks"), "{page}");
        let orders: serde_json::Value = get(format!("/api/v1/stores/{amazon}/orders?limit=5"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            orders["orders"].as_array().map(Vec::len),
            Some(5),
            "{orders}"
        );
        // A wrong password is refused: the printed one is what signs in.
        let refused = http
            .post(format!("{url}/login"))
            .json(&serde_json::json!({ "email": logins[1].0, "password": "not-the-password" }))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);
    });
}

/// Signs in with JSON: the status.
async fn sign_in(url: &str, email: &str, password: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{url}/login"))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `cenports demo --database-url URL` twice on one database: the second run finds the demo
/// accounts, keeps them, and serves with fresh passwords; the first run's no longer sign in.
async fn the_demo_runs_twice_on_one_database(database_url: String) {
    // One key for both runs (on PostgreSQL the key file would land in the working directory).
    let key = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let args: Vec<String> = [
        "--database-url",
        &database_url,
        "--orders",
        "100",
        "--products",
        "20",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    // The demo is read with blocking calls: off the runtime's threads.
    let run = |args: Vec<String>| {
        let key = key.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            serve_demo(&args, &[("CENPORTS_SECRET_KEY", key.as_str())])
        })
    };

    let first = run(args.clone()).await.unwrap();
    for (email, password) in &first.logins {
        assert_eq!(sign_in(&first.url, email, password).await, 200, "{email}");
    }
    let old = first.logins.clone();
    drop(first);

    let second = run(args).await.unwrap();
    assert!(
        second
            .printed
            .contains("The hub is serving both demo stores at"),
        "{}",
        second.printed
    );
    let emails: Vec<&str> = second.logins.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(
        emails,
        ["operator@cenports.example", "demo@cenports.example"],
        "{}",
        second.printed
    );
    for ((email, password), (_, old_password)) in second.logins.iter().zip(&old) {
        assert_ne!(password, old_password, "a fresh password for {email}");
        assert_eq!(sign_in(&second.url, email, password).await, 200, "{email}");
        assert_eq!(
            sign_in(&second.url, email, old_password).await,
            401,
            "the first run's password of {email} no longer signs in"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_twice_on_one_sqlite_file() {
    run_with_url(Kind::Sqlite, the_demo_runs_twice_on_one_database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_twice_on_one_postgres_database() {
    run_with_url(Kind::Postgres, the_demo_runs_twice_on_one_database).await;
}
