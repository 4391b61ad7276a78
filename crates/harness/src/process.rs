//! Child processes: killed when dropped, and the `cenports sandbox` child.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use crate::error::HarnessError;

/// A child process killed, and waited for, when dropped: a failed assertion or an early
/// return never leaves it running.
#[derive(Debug)]
pub struct Running(pub Child);

impl Running {
    /// The child's process id (for `/proc/<pid>/...`).
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first line `cenports sandbox` prints, with its base URL.
const LISTENING: &str = "Sandbox listening on ";
/// The line with the store's hash.
const STORE_HASH: &str = "Store hash: ";
/// The last line of the banner: after it the store is built and its credentials are written.
const CONTROL_API: &str = "Control API: ";

/// `cenports sandbox` running as a child process, and what its banner said. Dropping it (or
/// its [`process`](SandboxChild::process)) stops the sandbox.
#[derive(Debug)]
pub struct SandboxChild {
    pub process: Running,
    /// Every line printed up to and including `Control API: ...`.
    pub banner: String,
    /// `http://127.0.0.1:PORT` (the `Sandbox listening on` line).
    pub base_url: String,
    /// The `Store hash:` line.
    pub hash: String,
    /// Where the credentials `.txt` of every API account profile were written.
    pub credentials_dir: PathBuf,
}

impl SandboxChild {
    /// Starts `BINARY sandbox ARGS --credentials-dir DIR` (warnings only on its stderr, which
    /// is inherited) and reads its banner until the store is built and its credentials are
    /// written. The banner is read on a thread, so a child that prints nothing for `silence`
    /// is an error rather than a hang; the thread keeps draining stdout afterwards, so the
    /// child never blocks on a full pipe nor fails on a closed one.
    pub fn start<I>(
        binary: &Path,
        args: I,
        credentials_dir: &Path,
        silence: Duration,
    ) -> Result<SandboxChild, HarnessError>
    where
        I: IntoIterator,
        I::Item: AsRef<OsStr>,
    {
        let mut child = Command::new(binary)
            .arg("sandbox")
            .args(args)
            .arg("--credentials-dir")
            .arg(credentials_dir)
            .env("CENPORTS_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| HarnessError::Spawn {
                binary: binary.to_path_buf(),
                source,
            })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let process = Running(child);
        let (lines, banner_lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // Once the banner is read nobody listens; keep reading anyway.
                let _ = lines.send(line);
            }
        });
        let (mut base_url, mut hash, mut banner) = (None, None, String::new());
        loop {
            let line = match banner_lines.recv_timeout(silence) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(HarnessError::SandboxNotReady {
                        what: format!("printed nothing for {} s", silence.as_secs()),
                        banner,
                    })
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(HarnessError::SandboxNotReady {
                        what: "exited".into(),
                        banner,
                    })
                }
            };
            banner.push_str(&line);
            banner.push('\n');
            if let Some(url) = line.strip_prefix(LISTENING) {
                base_url.get_or_insert_with(|| url.trim().to_owned());
            }
            if let Some(value) = line.strip_prefix(STORE_HASH) {
                hash = Some(value.trim().to_owned());
            }
            if line.starts_with(CONTROL_API) {
                break;
            }
        }
        let (Some(base_url), Some(hash)) = (base_url, hash) else {
            return Err(HarnessError::SandboxNotReady {
                what: format!("printed no '{LISTENING}' or '{STORE_HASH}' line"),
                banner,
            });
        };
        Ok(SandboxChild {
            process,
            banner,
            base_url,
            hash,
            credentials_dir: credentials_dir.to_path_buf(),
        })
    }

    /// The credentials `.txt` of an API account profile (`merchant-guide`, `read-only`, ...).
    pub fn credentials_file(&self, profile: &str) -> PathBuf {
        self.credentials_dir.join(format!("{profile}.txt"))
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn a_running_child_is_killed_when_dropped() {
        let child = Command::new("sleep").arg("60").spawn().unwrap();
        let pid = child.id();
        drop(Running(child));
        // Reaped, not a zombie: the pid is gone from /proc.
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
    }

    #[test]
    fn a_child_that_exits_before_its_banner_is_an_error_with_what_it_printed() {
        let dir = std::env::temp_dir();
        // `echo sandbox ... --credentials-dir DIR` prints one line and exits.
        let error = SandboxChild::start(
            Path::new("echo"),
            ["--port", "0"],
            &dir,
            Duration::from_secs(10),
        )
        .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("exited before it was ready"), "{message}");
        assert!(
            message.contains("sandbox --port 0 --credentials-dir"),
            "{message}"
        );
    }
}
