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

use crate::common::{Running, TempDir};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The version of PyPI's `bigcommerce` this test was written and verified against.
const CLIENT_VERSION: &str = "0.23.4";

/// Orders and products of the store the client talks to.
const ORDERS: usize = 120;
const PRODUCTS: usize = 30;

/// How long the Python script may run: about 5 s of it are waits for the rate-limit window.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

/// A `cenports sandbox` process and what its banner said.
struct SandboxProcess {
    _process: Running,
    /// Every line up to and including `Control API: ...`.
    banner: String,
    /// `https://127.0.0.1:PORT`.
    base_url: String,
}

impl SandboxProcess {
    /// Starts the real binary with `args` and reads its banner.
    fn start(args: &[&str]) -> SandboxProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cenports"))
            .arg("sandbox")
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the cenports binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let process = Running(child);
        // Read on a thread so that a silent binary fails the test instead of hanging it.
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = String::new();
        loop {
            let line = received
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("the sandbox stopped printing; so far:\n{banner}"))
                .expect("stdout is readable");
            banner.push_str(&line);
            banner.push('\n');
            if line.starts_with("Control API: ") {
                break;
            }
        }
        let base_url = banner
            .lines()
            .next()
            .and_then(|first| first.strip_prefix("Sandbox listening on "))
            .unwrap_or_else(|| panic!("the first line is not 'Sandbox listening on':\n{banner}"))
            .to_string();
        SandboxProcess {
            _process: process,
            banner,
            base_url,
        }
    }

    /// The value of the banner's `NAME: value` line.
    fn line(&self, name: &str) -> &str {
        self.banner
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
            .unwrap_or_else(|| panic!("no '{name}:' line in:\n{}", self.banner))
    }

    /// `127.0.0.1:PORT`: what BigCommerce's clients take as their API host.
    fn endpoint(&self) -> &str {
        self.base_url
            .strip_prefix("https://")
            .unwrap_or_else(|| panic!("not an https:// base URL: {}", self.base_url))
    }
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
    let endpoint = sandbox.endpoint();
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
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!(
            "\n*** NOTICE: python3 is not on PATH: SKIPPING the check of BigCommerce's official \
             Python client against the sandbox. Install Python 3 to run it. ***\n"
        );
        return;
    }
    let python = client_venv();

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
    let stdout_path = dir.0.join("stdout.txt");
    let stderr_path = dir.0.join("stderr.txt");
    let child = Command::new(&python)
        .arg(&script)
        .arg(&credentials)
        .arg(&orders)
        .arg(&products)
        .env("BC_API_ENDPOINT", sandbox.endpoint())
        .env("REQUESTS_CA_BUNDLE", &ca)
        // Loopback never goes through a proxy the environment may name.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("the virtualenv's python runs");
    let mut script_process = Running(child);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = script_process.0.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > SCRIPT_TIMEOUT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(script_process);
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let report = format!(
        "--- stdout of {}:\n{stdout}\n--- stderr:\n{stderr}\n--- sandbox banner:\n{}",
        script.display(),
        sandbox.banner
    );
    match status {
        None => panic!("the Python client script ran over {SCRIPT_TIMEOUT:?}\n{report}"),
        Some(status) => assert!(
            status.success(),
            "the official Python client failed against the sandbox ({status})\n{report}"
        ),
    }
    assert!(stdout.contains("OK: "), "{report}");
    println!("{stdout}");
}

/// The python of a virtualenv holding `bigcommerce==CLIENT_VERSION`, made on first use under
/// Cargo's target directory and reused afterwards.
fn client_venv() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bigcommerce-{CLIENT_VERSION}"));
    let python = if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    };
    // Written last: a venv without it is a half-made one from an interrupted run.
    let installed = venv.join("cenports-installed");
    if installed.exists() && python.exists() {
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    run(
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
        "create a virtualenv (on Debian, install python3-venv)",
    );
    run(
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("bigcommerce=={CLIENT_VERSION}"),
        ]),
        "install the bigcommerce client from PyPI",
    );
    std::fs::write(&installed, CLIENT_VERSION).unwrap();
    python
}

/// Runs a setup command, failing the test with its output if it fails.
fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("could not {what}: {command:?}: {error}"));
    assert!(
        output.status.success(),
        "could not {what}: {command:?} exited with {}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
