//! The client's black-box tests, as one test binary: each former `tests/*.rs` file is a module
//! here, so the tests link once instead of once per file. They share a process, so a test must
//! not touch process-wide state (environment variables, the current directory, fixed ports):
//! every server listens on port 0.

mod against_sandbox;
mod sandbox_support;
mod support;
mod transport;
