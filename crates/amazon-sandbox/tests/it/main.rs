//! The Amazon sandbox's black-box tests, as one test binary. Every sandbox listens on port 0;
//! tests move the sandbox's own clock instead of sleeping, and touch no process-wide state.

mod auth;
mod conformance;
mod control;
mod listings;
mod orders;
mod queue;
mod rate_limits;
mod support;
