//! The webhook path through the real binary, as an operator runs it: `cenports connect` with
//! `CENPORTS_PUBLIC_URL` registers the hooks, `cenports serve --no-poll` receives a new order's
//! callback and imports it, SIGTERM stops it cleanly, and `cenports disconnect` removes the
//! hooks; `cenports reconcile` imports what polling (off) never read. No secret is printed or
//! logged (debug logs searched).

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{self, TempDir};
use bigcommerce_sandbox::credentials::credentials_txt;
use bigcommerce_sandbox::{Sandbox, SandboxConfig, StoreSpec};
use tokio::io::{AsyncBufReadExt, BufReader};

const EMAIL: &str = "ops@warehouse.example";

fn env(dir: &TempDir, sandbox: &Sandbox, public_url: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "CENPORTS_DATABASE_URL",
            format!("sqlite://{}", dir.0.join("hub.db").display()),
        ),
        (
            "CENPORTS_BIGCOMMERCE_API_URL",
            sandbox.base_url().to_owned(),
        ),
        (
            "CENPORTS_KEY_FILE",
            dir.0.join("hub.key").display().to_string(),
        ),
        ("CENPORTS_PUBLIC_URL", public_url.to_owned()),
        ("CENPORTS_LOG", "debug".to_owned()),
    ]
}

fn command(vars: &[(&'static str, String)], args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::from(common::cenports_command());
    command.args(args).kill_on_drop(true);
    for (name, value) in vars {
        command.env(name, value);
    }
    command
}

async fn ok(vars: &[(&'static str, String)], args: &[&str], printed: &mut String) -> String {
    let output = tokio::time::timeout(Duration::from_secs(60), command(vars, args).output())
        .await
        .expect("finishes within a minute")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    printed.push_str(&stdout);
    printed.push_str(&String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "cenports {args:?} failed:\n{printed}"
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_registers_hooks_serve_imports_by_webhook_and_disconnect_removes_them() {
    let sandbox = Sandbox::start(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        SandboxConfig::default(),
    )
    .await
    .unwrap();
    let store = sandbox.create_store(StoreSpec {
        seed: 21,
        orders: 30,
        products: 10,
        ..StoreSpec::default()
    });
    let account = store.account("merchant-guide").unwrap().clone();
    let dir = TempDir::new("cli-webhooks");
    std::fs::create_dir_all(&dir.0).unwrap();
    let credentials = dir.0.join("creds.txt");
    std::fs::write(
        &credentials,
        credentials_txt(&account, &sandbox.api_path(&store.hash)),
    )
    .unwrap();
    // A free port for the hub: bound, read, released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let public_url = format!("http://127.0.0.1:{port}");
    let vars = env(&dir, &sandbox, &public_url);
    let mut printed = String::new();
    let hooks = |sandbox: &Sandbox| {
        sandbox
            .with_store(&store.hash, |data, _| {
                data.hooks.values().cloned().collect::<Vec<_>>()
            })
            .unwrap()
    };

    let out = ok(
        &vars,
        &[
            "connect",
            "--email",
            EMAIL,
            "--credentials-file",
            credentials.to_str().unwrap(),
        ],
        &mut printed,
    )
    .await;
    assert!(out.contains("Webhooks: 9 hooks call"), "{out}");
    let registered = hooks(&sandbox);
    assert_eq!(registered.len(), 9);
    let destination = format!("{public_url}/webhooks/bigcommerce/1");
    let mut header_secrets = Vec::new();
    for hook in &registered {
        assert_eq!(hook.destination, destination);
        assert!(hook.is_active);
        let headers = hook.headers.clone().unwrap_or_default();
        header_secrets.push(headers["x-cenports-hook-key"].clone());
    }
    header_secrets.dedup();
    assert_eq!(header_secrets.len(), 1, "one secret per store");

    // serve, webhooks only.
    let mut serve = command(
        &vars,
        &[
            "serve",
            "--no-poll",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let stderr = serve.stderr.take().unwrap();
    let logs = tokio::spawn(async move {
        let mut all = String::new();
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("serve prints its banner")
            .unwrap()
            .expect("serve keeps running");
        printed.push_str(&line);
        if line.starts_with("Cenports listening on") {
            break;
        }
    }
    // The channel's order id, as text (every id of a channel's is).
    let order_id = common::place_order_in_stock(&sandbox, &store.hash, 1).to_string();
    let placed = Instant::now();
    loop {
        let out = ok(
            &vars,
            &["orders", "--email", EMAIL, "--json", "--limit", "1000"],
            &mut printed,
        )
        .await;
        let orders: serde_json::Value = serde_json::from_str(&out).unwrap();
        let found = orders
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["order_id"] == order_id.as_str());
        if found {
            break;
        }
        assert!(
            placed.elapsed() < Duration::from_secs(10),
            "order {order_id} not imported by webhook: {out}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // SIGTERM: a clean stop.
    let pid = serve.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(15), serve.wait())
        .await
        .expect("serve stops on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");
    printed.push_str(&logs.await.unwrap());

    // Polling was off: only the webhook's order is in. Reconciliation brings in the rest.
    let out = ok(&vars, &["reconcile", "--email", EMAIL], &mut printed).await;
    assert!(out.contains("0 still differ"), "{out}");
    let listed = sandbox
        .with_store(&store.hash, |data, _| {
            data.orders
                .values()
                .filter(|o| !o.is_deleted && o.status_id != 0)
                .count()
        })
        .unwrap();
    let out = ok(
        &vars,
        &["orders", "--email", EMAIL, "--json", "--limit", "1000"],
        &mut printed,
    )
    .await;
    let orders: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        orders.as_array().unwrap().len(),
        listed,
        "every order after reconcile"
    );

    let out = ok(
        &vars,
        &["disconnect", "--email", EMAIL, "--store", &store.hash],
        &mut printed,
    )
    .await;
    assert!(out.contains("Removed 9 webhooks"), "{out}");
    assert!(hooks(&sandbox).is_empty());

    for secret in [
        account.access_token.as_str(),
        account.client_secret.as_str(),
        header_secrets[0].as_str(),
    ] {
        assert!(!printed.contains(secret), "a secret was printed or logged");
    }
    sandbox.shutdown();
}
