//! The `cenports` crate's integration tests, in one test binary: each module was a test binary
//! of its own (`tests/NAME.rs`), and every one of those linked the whole crate. Run one module
//! with `cargo test -p cenports --test it NAME::` (e.g. `--test it storage_contract::`).

// First: the modules below use its helpers and its `both_backends!` macro.
mod common;

mod accounts_storage;
mod amazon;
mod amazon_cli;
mod amazon_soak;
mod api;
mod architecture;
mod browser;
mod cli_demo;
mod cli_fulfilment;
mod cli_hub;
mod cli_sandbox;
mod cli_user;
mod cli_webhooks;
mod connect;
mod events;
mod fleet;
mod fulfilment;
mod kill_resume;
mod memory_channel;
mod migration;
mod openapi_spec;
mod priorities;
mod scheduler;
mod stock;
mod stock_cli;
mod storage_contract;
mod sync;
mod third_party_amazon_client;
mod third_party_python_client;
mod web;
mod webhooks;
