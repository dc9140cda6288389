//! The command line's helpers: the filter syntax that turns `saltmark
//! query`'s flags into a stats API request ([`filters`]), the table and CSV
//! printing of the answer ([`table`]), and the subcommands' bodies, one file
//! per command ([`commands`]).
//!
//! Separate from the binary (`src/main.rs`), which only parses arguments and
//! dispatches, so that these are unit-tested with the rest of the library.

pub mod commands;
pub mod filters;
pub mod table;
