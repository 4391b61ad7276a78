//! Black-box tests of `cenports sandbox`: the real binary on port 0, talked to over loopback
//! with the credentials it writes.

use crate::common::{field, spawn_sandbox, TempDir};

use std::process::Command;
use std::time::Duration;

#[tokio::test]
async fn the_sandbox_serves_orders_to_the_credentials_it_writes() {
    let dir = TempDir::new("cli-sandbox");
    let sandbox = spawn_sandbox(
        &["--port", "0", "--orders", "50", "--products", "20"],
        &dir.0,
        Duration::from_secs(60),
    );
    let _running = sandbox.process;
    let (base, hash, printed) = (sandbox.base_url, sandbox.hash, sandbox.banner);
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
