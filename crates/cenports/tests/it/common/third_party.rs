//! Running third-party Python tools and clients against the real binary: a `cenports sandbox`
//! child and what its banner said, a virtualenv per pinned PyPI package under Cargo's target
//! directory, and a script run with a time limit. Used by `third_party_python_client.rs`
//! (BigCommerce), `third_party_amazon_client.rs` (Amazon) and `openapi_spec.rs`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Running, TempDir};

/// Whether `python3` is on `PATH`. When it is not, prints a notice that `what` is skipped and
/// how to run it, so that a skipped check is never silent.
pub fn python3_available(what: &str) -> bool {
    if Command::new("python3").arg("--version").output().is_ok() {
        return true;
    }
    eprintln!(
        "\n*** NOTICE: python3 is not on PATH: SKIPPING {what}. Install Python 3 to run it. ***\n"
    );
    false
}

/// The python of a virtualenv holding `package==version` from PyPI, made on first use under
/// Cargo's target directory (`PACKAGE-VERSION`) and reused by later runs.
pub fn pip_venv(package: &str, version: &str) -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{package}-{version}"));
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
    run_setup(
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
        "create a virtualenv (on Debian, install python3-venv)",
    );
    run_setup(
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("{package}=={version}"),
        ]),
        &format!("install {package} {version} from PyPI"),
    );
    std::fs::write(&installed, version).unwrap();
    python
}

/// Runs a setup command, failing the test with its output if it fails.
pub fn run_setup(command: &mut Command, what: &str) {
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

/// How a script run ended.
pub struct ScriptRun {
    /// `None` when the script ran over its time limit and was killed.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `python script args` with `envs` (and no proxy for loopback), killing it after
/// `timeout`. Its output goes to files in `dir`, so a chatty script never blocks on a pipe.
pub fn run_script(
    python: &Path,
    script: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
    dir: &TempDir,
    timeout: Duration,
) -> ScriptRun {
    std::fs::create_dir_all(&dir.0).unwrap();
    let stdout_path = dir.0.join("stdout.txt");
    let stderr_path = dir.0.join("stderr.txt");
    let child = Command::new(python)
        .arg(script)
        .args(args)
        .envs(envs.iter().copied())
        // Loopback never goes through a proxy the environment may name.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("the virtualenv's python runs");
    let mut process = Running(child);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = process.0.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > timeout {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(process);
    ScriptRun {
        status,
        stdout: std::fs::read_to_string(&stdout_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
    }
}

/// A `cenports sandbox` process (either channel) and what its banner said.
pub struct SandboxProcess {
    _process: Running,
    /// Every line up to and including `Control API: ...`.
    pub banner: String,
    /// `http://127.0.0.1:PORT`, or `https://` with `--tls`.
    pub base_url: String,
}

impl SandboxProcess {
    /// Starts the real binary with `args` and reads its banner.
    pub fn start(args: &[&str]) -> SandboxProcess {
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
        // Read on a thread so that a silent binary fails the test instead of hanging it. The
        // thread keeps draining stdout after the banner, so the sandbox never writes to a
        // closed pipe.
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let _ = lines.send(line);
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
    pub fn line(&self, name: &str) -> &str {
        self.banner
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
            .unwrap_or_else(|| panic!("no '{name}:' line in:\n{}", self.banner))
    }
}
