//! The last stage: anonymous rows go into a bounded queue and from there, in
//! batches, into ClickHouse.
//!
//! - [`row`]: the stored row — what a table row may contain, and nothing else;
//! - [`shared`]: the cheaply cloned string type of its repetitive columns;
//! - [`spool`]: the durable on-disk spool for outages and overload;
//! - [`writer`]: the queue, batching, retry and drain-on-shutdown.

pub mod row;
pub mod shared;
pub mod spool;
pub mod writer;
