//! `cenports demo` runs end to end through the merchant's code path: sandbox, connect with the
//! credentials file, sync into the hub's database, a shipment and a stock push written back, and
//! the missing-scope message on connect; then, unless `--no-serve`, it serves the hub with the
//! logins it printed.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Running;

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
}

#[test]
fn the_demo_then_serves_the_hub_and_its_printed_logins_sign_in() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cenports"))
        .args([
            "demo",
            "--orders",
            "200",
            "--products",
            "50",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run cenports demo");
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    // Read on a thread so that a silent demo fails the test instead of hanging it.
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
        if let Some(rest) = line.split("serving the demo store at ").nth(1) {
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
