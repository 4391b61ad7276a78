//! Acceptance check: a real third-party BigCommerce client works against `cenports sandbox`
//! unchanged except for its base URL.
//!
//! The client is BigCommerce's official Python one (PyPI `bigcommerce`, pinned to
//! [`CLIENT_VERSION`]). It builds every URL as `"https://" + host + path` with the host from
//! `BC_API_ENDPOINT`, so the sandbox runs with `--tls` and the client is given
//! `BC_API_ENDPOINT=127.0.0.1:PORT` and `REQUESTS_CA_BUNDLE=<the sandbox's CA>`; nothing else.
//! What it exercises is in `tests/python/official_client.py`.
//!
//! The client is installed once into a virtualenv under Cargo's target directory and reused by
//! later runs. The test is skipped, with a notice, only where `python3` is not on `PATH`.

use crate::common::third_party::{pip_venv, python3_available, run_script, SandboxProcess};
use crate::common::TempDir;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The version of PyPI's `bigcommerce` this test was written and verified against.
const CLIENT_VERSION: &str = "0.23.4";

/// Orders and products of the store the client talks to.
const ORDERS: usize = 120;
const PRODUCTS: usize = 30;

/// How long the Python script may run: about 5 s of it are waits for the rate-limit window.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

/// `127.0.0.1:PORT`: what BigCommerce's clients take as their API host.
fn endpoint(sandbox: &SandboxProcess) -> &str {
    sandbox
        .base_url
        .strip_prefix("https://")
        .unwrap_or_else(|| panic!("not an https:// base URL: {}", sandbox.base_url))
}

#[tokio::test]
async fn the_tls_banner_says_where_the_ca_is_and_how_to_point_clients_at_the_sandbox() {
    let dir = TempDir::new("tls-banner");
    let ca_out = dir.0.join("nested").join("ca.pem");
    let sandbox = SandboxProcess::start(&[
        "--port",
        "0",
        "--tls",
        "--orders",
        "3",
        "--products",
        "2",
        "--ca-out",
        ca_out.to_str().unwrap(),
    ]);
    assert!(
        sandbox.base_url.starts_with("https://127.0.0.1:"),
        "{}",
        sandbox.banner
    );
    let endpoint = endpoint(&sandbox);
    let ca = ca_out.display().to_string();
    assert_eq!(sandbox.line("CA certificate"), ca);
    assert_eq!(
        sandbox.line("Python (bigcommerce)"),
        format!("REQUESTS_CA_BUNDLE={ca} BC_API_ENDPOINT={endpoint}")
    );
    assert_eq!(sandbox.line("Node"), format!("NODE_EXTRA_CA_CERTS={ca}"));
    assert!(sandbox
        .line("API path")
        .starts_with(&format!("{}/stores/", sandbox.base_url)));

    // The written CA is what makes the sandbox trusted, and nothing else is needed.
    let pem = std::fs::read(&ca_out).expect("the CA certificate is written");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let url = format!("{}/_sandbox/stores", sandbox.base_url);
    let response = client.get(&url).send().await.expect("the sandbox answers");
    assert_eq!(response.status(), 200, "GET {url}");
}

#[test]
fn ca_out_without_tls_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_cenports"))
        .args(["sandbox", "--port", "0", "--ca-out", "ca.pem"])
        .output()
        .expect("the cenports binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--tls"), "{stderr}");
}

#[test]
fn the_official_python_client_works_against_the_tls_sandbox() {
    if !python3_available("the check of BigCommerce's official Python client against the sandbox") {
        return;
    }
    let python = pip_venv("bigcommerce", CLIENT_VERSION);

    let dir = TempDir::new("python-client");
    let credentials = dir.0.join("credentials");
    let orders = ORDERS.to_string();
    let products = PRODUCTS.to_string();
    let sandbox = SandboxProcess::start(&[
        "--port",
        "0",
        "--tls",
        "--orders",
        &orders,
        "--products",
        &products,
        "--plan",
        "pro",
        "--credentials-dir",
        credentials.to_str().unwrap(),
    ]);
    let ca = credentials.join("sandbox-ca.pem");
    assert_eq!(sandbox.line("CA certificate"), ca.display().to_string());

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/official_client.py");
    let ca = ca.display().to_string();
    let run = run_script(
        &python,
        &script,
        &[credentials.to_str().unwrap(), &orders, &products],
        &[
            ("BC_API_ENDPOINT", endpoint(&sandbox)),
            ("REQUESTS_CA_BUNDLE", &ca),
        ],
        &dir,
        SCRIPT_TIMEOUT,
    );
    let stdout = &run.stdout;
    let report = format!(
        "--- stdout of {}:\n{stdout}\n--- stderr:\n{}\n--- sandbox banner:\n{}",
        script.display(),
        run.stderr,
        sandbox.banner
    );
    match run.status {
        None => panic!("the Python client script ran over {SCRIPT_TIMEOUT:?}\n{report}"),
        Some(status) => assert!(
            status.success(),
            "the official Python client failed against the sandbox ({status})\n{report}"
        ),
    }
    assert!(stdout.contains("OK: "), "{report}");
    println!("{stdout}");
}
