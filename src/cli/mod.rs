//! The command line's helpers: what `saltmark query` needs besides clap,
//! the filter syntax that turns its flags into a stats API request
//! ([`filters`]) and the table and CSV printing of the answer ([`table`]).
//!
//! Separate from the binary (`src/main.rs`), which only parses arguments and
//! dispatches, so that these are unit-tested with the rest of the library.

pub mod filters;
pub mod table;
