//! The sandbox's black-box tests, as one test binary: each former `tests/*.rs` file is a module
//! here, so the tests link once instead of once per file. They share a process, so a test must
//! not touch process-wide state (environment variables, the current directory, fixed ports):
//! every sandbox listens on port 0.

mod catalog_and_hooks;
mod conformance;
mod orders_v2;
mod support;
mod tls;
