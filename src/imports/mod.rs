//! Imported history: another tool's aggregates, kept beside our events.
//!
//! A site moving from Plausible brings its export (a zip of CSV files, one
//! per table, aggregated per day). Those rows are not events — no visit, no
//! visitor, only daily sums — so they never enter `events`:
//!
//! - **Their own table.** `imported` (`schema/0015_imported.sql`) holds one
//!   row per row of Plausible's files, `kind` naming the file. Every row
//!   carries its import's id; `saltmark imports list` lists the imports
//!   and `imports remove` deletes one whole.
//! - **All or nothing.** Every file of an archive is read and checked
//!   before anything is stored; a bad value is an error naming the file,
//!   the line and the column. If storing fails midway, what was stored of
//!   that import is deleted again.
//! - **Once.** An import's id is derived from the files' contents: the
//!   same archive imported twice is refused, never counted twice.
//! - **Asked for, never mixed in silently.** The stats API adds imported
//!   rows only when a query says `"include": {"imports": true}`, and only
//!   where one of Plausible's tables can answer the whole question
//!   ([`crate::query::imported`]); `meta` says whether they were included
//!   and why not.
//! - **The same promises.** Expiry deletes the imported days past the
//!   site's retention, a site erasure deletes the site's imported rows;
//!   nothing here identifies a person (daily aggregates only), so a
//!   visitor erasure has nothing to find.
//!
//! [`plausible_csv`] reads Plausible's files, [`stored`] keeps them, and
//! [`export`] writes our events in Plausible's format, so a site can leave
//! as easily as it came.

pub mod export;
pub mod plausible_csv;
pub mod stored;

pub use plausible_csv::{ImportedRow, Kind};

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportsError {
    /// A value, header or file name of the export is wrong.
    #[error("{file}: {message}")]
    File {
        /// The file (its name inside the archive).
        file: String,
        /// What is wrong, with the line and column where there is one.
        message: String,
    },
    /// The archive or directory holds nothing to import.
    #[error("{0}: no Plausible export files (imported_visitors_YYYYMMDD_YYYYMMDD.csv, …) found")]
    Empty(String),
    /// The same files were imported already.
    #[error("this export was imported already (import {0}); remove it first to import it again")]
    AlreadyImported(u64),
    /// No such import.
    #[error("no import {0} for this site")]
    NoSuchImport(u64),
    /// Reading the archive or directory failed.
    #[error("reading {path}")]
    Io {
        /// The path read.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The zip archive is unreadable.
    #[error("reading the zip archive {path}")]
    Zip {
        /// The archive.
        path: String,
        /// The cause.
        #[source]
        source: zip::result::ZipError,
    },
    /// ClickHouse failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl From<clickhouse::error::Error> for ImportsError {
    fn from(e: clickhouse::error::Error) -> Self {
        ImportsError::Store(crate::store::StoreError::from(e))
    }
}
