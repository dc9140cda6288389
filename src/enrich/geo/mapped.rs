//! The bytes behind a [`GeoDatabase`](super::GeoDatabase): a private, memory-mapped copy of the
//! operator's file, or (where no private copy can be made) the file read
//! into the heap.
//!
//! Separate because this is the module's only `unsafe` code: mapping a file
//! is sound only while nothing can change or shrink it, and the argument for
//! that (the copy is unnamed or unlinked at once, so no other process can
//! reach it, and saltmark never writes to it after the copy) lives here next
//! to the `unsafe` block, with the test that overwrites and truncates the
//! operator's file under a loaded database.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

/// The bytes behind a [`GeoDatabase`](super::GeoDatabase).
pub(super) enum DbBytes {
    /// Read into memory (`from_bytes`, or no private copy could be made).
    Heap(Vec<u8>),
    /// A private copy of the file, mapped read-only.
    Mapped(memmap2::Mmap),
}

impl AsRef<[u8]> for DbBytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            DbBytes::Heap(bytes) => bytes,
            DbBytes::Mapped(map) => map,
        }
    }
}

impl DbBytes {
    /// The contents of `file` (open at its start, `len` bytes long as far as
    /// its metadata knew), mapped from a private copy next to `path` if one
    /// can be made, else read into the heap.
    pub(super) fn load(file: &mut fs::File, path: &Path, len: u64) -> io::Result<DbBytes> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        if len > 0 {
            if let Some(mut copy) = private_file(dir) {
                match io::copy(file, &mut copy) {
                    Ok(copied) if copied > 0 => {
                        // SAFETY: `copy` is an unnamed (or already unlinked)
                        // file this process created: no other process has a
                        // path to it, and nothing in saltmark writes to it
                        // after this point, so the mapped bytes cannot change
                        // or shrink underneath the reader.
                        if let Ok(map) = unsafe { memmap2::Mmap::map(&copy) } {
                            return Ok(DbBytes::Mapped(map));
                        }
                    }
                    Ok(_) => {}
                    // The source itself could not be read: that is the error.
                    Err(e) if !is_copy_target_error(&e) => return Err(e),
                    Err(_) => {}
                }
                // Fall back to reading the file from its start.
                io::Seek::rewind(file)?;
            }
            tracing::info!(
                path = %path.display(),
                "cannot map a private copy of the geolocation database (directory not \
                 writable?); reading it into memory instead"
            );
        }
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.read_to_end(&mut bytes)?;
        Ok(DbBytes::Heap(bytes))
    }
}

/// Errors of writing the private copy (a full disk), as opposed to reading
/// the database, which decide between falling back to the heap and failing.
fn is_copy_target_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull
            | io::ErrorKind::QuotaExceeded
            | io::ErrorKind::FileTooLarge
            | io::ErrorKind::ReadOnlyFilesystem
    )
}

/// A new file in `dir` that no other process can open: unnamed
/// (`O_TMPFILE`) where the file system supports it, else created under a
/// unique name and unlinked at once. `None` if neither works (read-only or
/// not writable directory).
fn private_file(dir: &Path) -> Option<fs::File> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let unnamed = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_TMPFILE)
            .open(dir);
        if let Ok(file) = unnamed {
            return Some(file);
        }
    }
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = dir.join(format!(".saltmark-geo-{}-{n}.tmp", std::process::id()));
    let mut options = fs::OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&name).ok()?;
    // On Unix the open file outlives its name; elsewhere we cannot make it
    // private, so do not use it.
    match fs::remove_file(&name) {
        Ok(()) if cfg!(unix) => Some(file),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::geo::tests::{fixture, ip, loc};
    use crate::enrich::geo::{GeoDatabase, GeoLocator};

    #[test]
    fn a_loaded_database_survives_its_file_being_overwritten_or_truncated_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("geo.mmdb");
        fs::copy(fixture("GeoIP2-City-Test.mmdb"), &path).unwrap();
        let london = ip("81.2.69.142");
        let db = GeoDatabase::open(&path).unwrap();
        let geo = GeoLocator::open(Some(path.clone())).unwrap();
        // Mapped, but from a private copy: no file appears in the directory.
        assert!(db.is_mapped());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

        // Overwritten in place with other bytes, then truncated to nothing:
        // a mapping of the file itself would now answer garbage or SIGBUS.
        fs::write(&path, vec![0xA5; 100]).unwrap();
        assert_eq!(db.lookup(london).unwrap(), loc("GB", "England", "London"));
        assert_eq!(geo.lookup(london), loc("GB", "England", "London"));
        fs::File::create(&path).unwrap();
        assert_eq!(db.lookup(london).unwrap(), loc("GB", "England", "London"));
        assert_eq!(geo.lookup_shared(london).city, "London");
        assert!(geo.reload_if_changed().is_err());
        assert_eq!(geo.lookup(london), loc("GB", "England", "London"));
    }

    #[test]
    fn heap_databases_work_too() {
        let bytes = fs::read(fixture("GeoIP2-City-Test.mmdb")).unwrap();
        let db = GeoDatabase::from_bytes(bytes, "in-memory").unwrap();
        assert!(!db.is_mapped());
        assert_eq!(
            db.lookup(ip("81.2.69.142")).unwrap(),
            loc("GB", "England", "London")
        );
    }
}
