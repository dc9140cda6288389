//! The last stage: anonymous rows go into a bounded queue and from there, in
//! batches, into ClickHouse.
//!
//! - [`row`]: the stored row — what a table row may contain, and nothing else;
//! - [`spool`]: the durable on-disk spool for outages and overload;
//! - [`writer`]: the queue, batching, retry and drain-on-shutdown;
//! - [`import`]: a saltmark NDJSON export loaded back, exactly once;
//! - [`seed`]: realistic synthetic traffic written straight into `events`, for demos, tests and the bench.

pub mod import;
pub mod row;
pub mod seed;
pub mod spool;
pub mod writer;
