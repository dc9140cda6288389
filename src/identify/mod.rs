//! Identity without identification: who is the same visitor today, and which
//! events form one visit — computed from data we then throw away.
//!
//! - [`salts`]: one random 32-byte key per UTC day, shared through ClickHouse,
//!   destroyed after 48 hours;
//! - [`visitor`]: the keyed hash over site, IP and user agent;
//! - [`visits`]: 30-minute inactivity grouping into visits;
//! - [`peers`]: one owner collector per visitor, so visits stay whole when
//!   a load balancer spreads a visitor's events over several collectors.

pub mod peers;
pub mod salts;
pub mod visitor;
pub mod visits;
