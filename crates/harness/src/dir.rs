//! Temporary directories.

use std::path::{Path, PathBuf};

use crate::error::HarnessError;
use crate::names::random_suffix;

/// A directory of its own under the system's temporary directory,
/// `cenports-<name>-<pid>-<random>`, removed with everything in it when dropped (also when a
/// test panics or a bench returns an error).
///
/// The field is public so that `dir.0.join("hub.db")` reads as a path.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Reserves a fresh path without creating it, for a caller (or a child process, such as
    /// `cenports sandbox --credentials-dir`) that creates it. Nothing can fail yet.
    pub fn new(name: &str) -> TempDir {
        TempDir(std::env::temp_dir().join(format!(
            "cenports-{name}-{}-{}",
            std::process::id(),
            random_suffix()
        )))
    }

    /// A fresh directory, created.
    pub fn create(name: &str) -> Result<TempDir, HarnessError> {
        let dir = TempDir::new(name);
        std::fs::create_dir_all(&dir.0).map_err(|source| HarnessError::CreateDir {
            path: dir.0.clone(),
            source,
        })?;
        Ok(dir)
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // It may never have been created (`new`), or a child may still hold a file open:
        // either way there is nothing better to do than to try.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::TempDir;

    #[test]
    fn a_created_directory_is_removed_with_its_files_when_dropped() {
        let dir = TempDir::create("harness-dir").unwrap();
        let path = dir.path().to_path_buf();
        std::fs::write(path.join("file.txt"), "x").unwrap();
        assert!(path.is_dir());
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn two_directories_of_one_name_differ() {
        assert_ne!(TempDir::new("same").0, TempDir::new("same").0);
    }
}
