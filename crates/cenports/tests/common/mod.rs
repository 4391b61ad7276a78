//! Helpers shared by the binary's black-box tests: child processes that are killed and
//! directories that are removed when a test ends, however it ends.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Child;
use std::time::{SystemTime, UNIX_EPOCH};

/// A process killed when the test ends (also on a failed assertion).
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory of its own for one test, removed when the test ends.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        TempDir(
            std::env::temp_dir().join(format!("cenports-{name}-{}-{nanos}", std::process::id())),
        )
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The value of a `NAME: value` line of a credentials file.
pub fn field<'a>(txt: &'a str, name: &str) -> &'a str {
    txt.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
        .unwrap_or_else(|| panic!("no {name} line in:\n{txt}"))
}

/// A `cenports sandbox` child process and what its banner said.
pub struct SandboxChild {
    pub process: Running,
    /// Every line printed up to and including `Control API: ...`.
    pub banner: String,
    /// `http://127.0.0.1:PORT` (the `Sandbox listening on` line).
    pub base_url: String,
    /// The `Store hash:` line.
    pub hash: String,
}

/// Starts `cenports sandbox ARGS --credentials-dir DIR` and reads its banner on a thread, so that
/// a silent binary fails the test (after `timeout`) instead of hanging it.
pub fn spawn_sandbox(
    args: &[&str],
    dir: &std::path::Path,
    timeout: std::time::Duration,
) -> SandboxChild {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_cenports"))
        .arg("sandbox")
        .args(args)
        .arg("--credentials-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the cenports binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let process = Running(child);
    let (lines, banner_lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let (mut base_url, mut hash, mut banner) = (None, None, String::new());
    loop {
        let line = banner_lines
            .recv_timeout(timeout)
            .unwrap_or_else(|_| panic!("the sandbox stopped printing; so far:\n{banner}"))
            .expect("stdout is readable");
        banner.push_str(&line);
        banner.push('\n');
        if let Some(url) = line.strip_prefix("Sandbox listening on ") {
            assert!(base_url.is_none(), "the listening line comes first, once");
            base_url = Some(url.to_string());
        }
        if let Some(value) = line.strip_prefix("Store hash: ") {
            hash = Some(value.to_string());
        }
        if line.starts_with("Control API: ") {
            break;
        }
    }
    SandboxChild {
        process,
        base_url: base_url.expect("a 'Sandbox listening on' line"),
        hash: hash.expect("a 'Store hash' line"),
        banner,
    }
}
