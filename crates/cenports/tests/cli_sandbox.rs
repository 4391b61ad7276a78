//! Black-box tests of `cenports sandbox`: the real binary on port 0, talked to over loopback
//! with the credentials it writes.

mod common;

use common::{field, Running, TempDir};

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[tokio::test]
async fn the_sandbox_serves_orders_to_the_credentials_it_writes() {
    let dir = TempDir::new("cli-sandbox");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cenports"))
        .args([
            "sandbox",
            "--port",
            "0",
            "--orders",
            "50",
            "--products",
            "20",
        ])
        .arg("--credentials-dir")
        .arg(&dir.0)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the cenports binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let _running = Running(child);

    // Read the banner on a thread so that a silent binary fails the test instead of hanging it.
    let (lines, banner) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut base = None;
    let mut hash = None;
    let mut printed = String::new();
    loop {
        let line = banner
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("the sandbox stopped printing; so far:\n{printed}"))
            .expect("stdout is readable");
        printed.push_str(&line);
        printed.push('\n');
        if let Some(url) = line.strip_prefix("Sandbox listening on ") {
            assert!(base.is_none(), "the listening line comes first, once");
            base = Some(url.to_string());
        }
        if let Some(value) = line.strip_prefix("Store hash: ") {
            hash = Some(value.to_string());
        }
        if line.starts_with("Control API: ") {
            break;
        }
    }
    let base = base.expect("a 'Sandbox listening on' line");
    let hash = hash.expect("a 'Store hash' line");
    assert!(
        printed.starts_with("Sandbox listening on http://127.0.0.1:"),
        "{printed}"
    );
    assert!(printed.contains(&format!("Control API: {base}/_sandbox")));
    for profile in ["merchant-guide", "read-only", "missing-orders-modify"] {
        assert!(printed.contains(&format!("# {profile}: ")), "{printed}");
    }

    let path = dir.0.join("merchant-guide.txt");
    let txt = std::fs::read_to_string(&path).expect("the merchant-guide credentials are written");
    assert!(printed.contains(&txt), "the file holds what was printed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "credentials are readable by their owner only"
        );
    }
    let api_path = field(&txt, "API PATH");
    let token = field(&txt, "ACCESS TOKEN");
    assert_eq!(api_path, format!("{base}/stores/{hash}/v3/"));

    let orders_url = format!("{}v2/orders?limit=5", api_path.trim_end_matches("v3/"));
    let response = reqwest::Client::new()
        .get(&orders_url)
        .header("X-Auth-Token", token)
        .header("Accept", "application/json")
        .send()
        .await
        .expect("the sandbox answers");
    assert_eq!(response.status(), 200, "GET {orders_url}");
    let orders: Vec<serde_json::Value> = response.json().await.expect("a JSON array of orders");
    assert_eq!(orders.len(), 5);
}

#[test]
fn a_port_in_use_is_reported_with_what_to_do() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_cenports"))
        .args(["sandbox", "--port", &port, "--orders", "0"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("the cenports binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "could not listen on 127.0.0.1:{port}: address in use; pick another --port"
        )),
        "{stderr}"
    );
}
