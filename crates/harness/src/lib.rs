//! Scaffolding for running Cenports against real parts: the one place for what the product's
//! `cenports bench` subcommands and the `cenports` crate's integration tests (`tests/it`) both
//! need around the code they measure or check.
//!
//! - [`TempDir`]: a directory of its own, removed when dropped (a SQLite file, a key file,
//!   credentials files).
//! - [`Running`]: a child process killed (and reaped) when dropped, however the caller ends.
//! - [`SandboxChild`]: `cenports sandbox` started as a child process from a given binary with
//!   given flags, its banner read (base URL, store hash) and its credentials files found; it is
//!   stopped when dropped.
//! - [`ScratchPostgres`]: a database `cenports_<label>_<random>` created on a PostgreSQL server
//!   ([`admin_url`]: `CENPORTS_TEST_POSTGRES_URL`, else [`DEFAULT_ADMIN_URL`]) and dropped
//!   `WITH (FORCE)` when done.
//! - [`random_suffix`] for throwaway names, and [`field`] to read a `KEY: value` line of a
//!   credentials `.txt` (the layout BigCommerce downloads and the sandbox writes).
//!
//! It does not depend on `cenports` (the `cenports` binary depends on it, for its benches): it
//! starts the binary by path and talks to PostgreSQL directly, so what it sets up is what a
//! user or an operator would see, not the product's own view of it.
//!
//! Errors are one [`HarnessError`]; the tests turn them into panics, the benches into messages.

mod credentials;
mod dir;
mod error;
mod names;
mod postgres;
mod process;

pub use credentials::field;
pub use dir::TempDir;
pub use error::HarnessError;
pub use names::random_suffix;
pub use postgres::{admin_pool, admin_url, ScratchPostgres, ADMIN_URL_ENV, DEFAULT_ADMIN_URL};
pub use process::{Running, SandboxChild};
