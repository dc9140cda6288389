//! Files and directories saltmark writes are its own: `0600` and `0700`.
//!
//! The data directory holds the managed ClickHouse (every event, the
//! salts, the credential hashes), its generated passwords, the spool and
//! the server's configuration. Another local user must read none of it,
//! so everything is created private — not left to the umask (commonly
//! 022, which made spool segments 0644) — and a directory or file from an
//! older version is tightened when it is opened again. The binary also sets
//! a `077` umask, which the managed `clickhouse-server` inherits for the
//! files it writes itself.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of every file saltmark writes.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory saltmark creates.
pub const DIR_MODE: u32 = 0o700;

/// Creates `path` and its missing parents as `0700`; an existing `path` is
/// set to `0700`.
pub fn private_dir(path: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(DIR_MODE))
}

/// Options that create a file as `0600`.
pub fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(FILE_MODE);
    options
}

/// Writes `contents` to `path` (replacing it) as a `0600` file.
pub fn write_private(path: &Path, contents: impl AsRef<[u8]>) -> std::io::Result<()> {
    let mut file: File = private_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    // An existing file keeps its old mode through `open`: tighten it.
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    file.write_all(contents.as_ref())
}

/// Sets the process umask to `077`, so files created by libraries and
/// child processes are private too (the binary calls it first thing).
pub fn private_umask() {
    // SAFETY: umask only changes this process's file-creation mask.
    unsafe {
        libc::umask(0o077);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_directories_are_private_even_when_they_existed() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        private_dir(&nested).unwrap();
        assert_eq!(mode(&nested), 0o700);
        let file = nested.join("f");
        std::fs::write(&file, "old").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&file, "new").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");
        std::fs::set_permissions(&nested, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&nested).unwrap();
        assert_eq!(mode(&nested), 0o700);
    }
}
