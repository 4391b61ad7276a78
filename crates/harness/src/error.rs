//! The harness's one error type.

use std::path::PathBuf;

/// What can go wrong while setting up (or tearing down) the scaffolding, with what a reader
/// needs to act on it.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A temporary directory could not be created.
    #[error("could not create the directory {}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The child process could not be started (a wrong binary path, most often).
    #[error("could not start {} as a child process", binary.display())]
    Spawn {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The sandbox child process exited, or went silent, before its banner was complete.
    #[error("the sandbox child process {what} before it was ready; it printed:\n{banner}")]
    SandboxNotReady { what: String, banner: String },
    /// The PostgreSQL admin URL does not parse.
    #[error("{url} is not a PostgreSQL URL")]
    NotAUrl {
        url: String,
        #[source]
        source: url::ParseError,
    },
    /// The PostgreSQL server did not answer (or refused us): the caller may skip PostgreSQL.
    #[error("could not connect to {url}")]
    PostgresUnreachable {
        /// The admin URL, its password (if any) replaced by `***`.
        url: String,
        #[source]
        source: sqlx::Error,
    },
    /// The server answered, but a statement on it failed.
    #[error("could not {action} the database {name}")]
    Postgres {
        action: &'static str,
        name: String,
        #[source]
        source: sqlx::Error,
    },
}
