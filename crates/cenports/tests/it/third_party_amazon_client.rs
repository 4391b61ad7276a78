//! Acceptance check: a real third-party Selling Partner API client works against
//! `cenports sandbox --channel amazon` unchanged except for its two endpoints.
//!
//! The client is Amazon's official SDK for Python (PyPI `amzn-sp-api`, module `spapi`, pinned to
//! [`CLIENT_VERSION`]). Its `SPAPIClient(config, oauth_endpoint=..., endpoint=...)` takes the
//! SP-API host and Login with Amazon's token URL as full URLs, so the sandbox serves plain HTTP
//! and the script is given the banner's `SP-API endpoint` and `Login with Amazon` lines, nothing
//! else. What it exercises is in `tests/python/amazon_sp_api_client.py`; this test then reads
//! the effects back through the sandbox's control API.
//!
//! The SDK is installed once into a virtualenv under Cargo's target directory and reused by
//! later runs. The test is skipped, with a notice, only where `python3` is not on `PATH`.

use crate::common::third_party::{pip_venv, python3_available, run_script, SandboxProcess};
use crate::common::TempDir;

use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// The version of PyPI's `amzn-sp-api` this test was written and verified against.
const CLIENT_VERSION: &str = "1.13.0";

/// Orders of the seller account: three pages of `getOrders` at 100 a page.
const ORDERS: usize = 250;

/// How long the Python script may run (it takes about a second: the 429 is reached within the
/// burst, and the wait for the bucket is a move of the sandbox's clock).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test]
async fn amazons_official_python_sdk_works_against_the_amazon_sandbox() {
    if !python3_available("the check of Amazon's official SP-API Python SDK against the sandbox") {
        return;
    }
    let python = pip_venv("amzn-sp-api", CLIENT_VERSION);

    let dir = TempDir::new("amazon-sdk");
    let credentials = dir.0.join("credentials");
    let orders = ORDERS.to_string();
    let sandbox = SandboxProcess::start(&[
        "--channel",
        "amazon",
        "--port",
        "0",
        "--orders",
        &orders,
        "--credentials-dir",
        credentials.to_str().unwrap(),
    ]);
    let endpoint = sandbox.line("SP-API endpoint");
    let lwa = sandbox.line("Login with Amazon");
    let file = credentials.join("amazon-merchant.json");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/amazon_sp_api_client.py");
    let run = run_script(
        &python,
        &script,
        &[file.to_str().unwrap(), &orders],
        &[("SPAPI_ENDPOINT", endpoint), ("LWA_ENDPOINT", lwa)],
        &dir,
        SCRIPT_TIMEOUT,
    );
    let report = format!(
        "--- stdout of {}:\n{}\n--- stderr:\n{}\n--- sandbox banner:\n{}",
        script.display(),
        run.stdout,
        run.stderr,
        sandbox.banner
    );
    match run.status {
        None => panic!("the SP-API SDK script ran over {SCRIPT_TIMEOUT:?}\n{report}"),
        Some(status) => assert!(
            status.success(),
            "Amazon's SP-API SDK failed against the sandbox ({status})\n{report}"
        ),
    }
    assert!(run.stdout.contains("OK: "), "{report}");
    println!("{}", run.stdout);

    // What the script says it changed (`RESULT {json}`), checked in the emulator itself.
    let result: Value = run
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .map(|json| serde_json::from_str(json).expect("RESULT is JSON"))
        .unwrap_or_else(|| panic!("no RESULT line\n{report}"));
    let order_id = result["order_id"].as_str().unwrap();
    let control = format!("{endpoint}/_sandbox");
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        async move {
            let response = http
                .get(&path)
                .send()
                .await
                .expect("the control API answers");
            assert_eq!(response.status(), 200, "GET {path}");
            response.json::<Value>().await.unwrap()
        }
    };

    // Two packages, each confirmed once: the repeated packageReferenceId 1 shipped nothing.
    let packages = get(format!("{control}/packages")).await;
    let mut references: Vec<&str> = packages
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["order_id"] == order_id)
        .map(|entry| entry["package"]["package_reference_id"].as_str().unwrap())
        .collect();
    references.sort();
    assert_eq!(references, ["1", "2"], "packages of {order_id}: {packages}");
    let order = get(format!("{control}/orders/{order_id}")).await;
    assert_eq!(order["status"], "Shipped", "{order}");
    for item in order["items"].as_array().unwrap() {
        assert_eq!(
            item["quantity_shipped"], item["quantity_ordered"],
            "{order}"
        );
    }

    // The patched quantity is the listing's.
    let sku = result["sku"].as_str().unwrap();
    let listings = get(format!("{control}/listings")).await;
    let listing = listings
        .as_array()
        .unwrap()
        .iter()
        .find(|listing| listing["sku"] == sku)
        .unwrap_or_else(|| panic!("no listing {sku}: {listings}"));
    assert_eq!(listing["quantity"], result["quantity"], "{listing}");

    // The refusals the script saw are the sandbox's: by operation, status and app profile.
    let requests = get(format!("{control}/requests")).await;
    let seen = |operation: &str, status: u16, profile: &str| {
        requests.as_array().unwrap().iter().any(|request| {
            request["operation"] == operation
                && request["status"] == status
                && request["profile"] == profile
        })
    };
    for (operation, status, profile) in [
        ("getOrders", 429, "full"),
        ("getOrderAddress", 403, "full"),
        ("getOrderAddress", 200, "full"),
        ("confirmShipment", 400, "full"),
        ("getListingsItem", 403, "missing-listings"),
        ("getOrders", 403, "missing-orders"),
        ("searchOrders", 200, "full"),
    ] {
        assert!(
            seen(operation, status, profile),
            "no {operation} answered {status} to the {profile} profile in the request log"
        );
    }
}
