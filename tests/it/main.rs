//! The integration tests, one module per area, in one test binary: one
//! link of the crate instead of one per file. Run one area with
//! `cargo test --test it spool::`, one test with its full name
//! (`cargo test --test it spool::kill_9_with_fsync_always_loses_no_accepted_event`).
//!
//! `tests/privacy.rs` and `tests/privacy_scan.rs` stay binaries of their
//! own: each installs the process-wide tracing subscriber at trace level
//! and searches everything the process logged, which needs a process with
//! no other test in it.

#[path = "../common/mod.rs"]
mod common;

mod browser;
mod cli;
mod cluster;
mod dashboard;
mod derived;
mod engagement;
mod failover;
mod funnels;
mod goals;
mod identity;
mod imports;
mod ingest;
mod limits;
mod modern_clickhouse;
mod plausible;
mod plausible_breakdowns;
mod plausible_comparisons;
mod plausible_filters;
mod plausible_goals;
mod plausible_imported;
mod plausible_sequence;
mod plausible_support;
mod plausible_timeseries;
mod plausible_validations;
mod proxy;
mod queries;
mod resilience;
mod retention;
mod sampling;
mod small_profile;
mod spool;
mod stats_v1;
mod tracker;
mod vocabulary;
