//! Coarse geolocation: client IP → country, region and city, from a
//! MaxMind-format (`.mmdb`) database.
//!
//! Three on-disk schemas are understood, because operators bring whichever
//! database they are licensed for:
//! - GeoIP2 / GeoLite2 **City** (`country.iso_code`, `subdivisions[0].names.en`
//!   and `.iso_code`, `city.names.en`);
//! - GeoIP2 / GeoLite2 **Country** (only `country.iso_code`);
//! - the DB-IP / ip-location-db **flat** schema (`country_code`, `state1`,
//!   `city` as a plain string), which is what `geo/fetch` downloads.
//!
//! Privacy: we keep only what a country/region/city report needs. Latitude,
//! longitude, postcode, accuracy radius, ASN and the like are never decoded:
//! the private `RawRecord` type (in `decode`) has no fields for them, so the
//! decoder skips their bytes. No function here logs a client IP address.
//!
//! Robustness: the database is a file an operator drops in place, possibly
//! truncated or corrupt. A bad file must be a clear error naming the file, and
//! never a panic or a silent stream of empty locations, so [`GeoDatabase`]
//! probes the file when it is opened and [`GeoLocator`] keeps serving the
//! previous database when a replacement is bad.
//!
//! Layout: this file holds the public API ([`Location`], [`GeoError`],
//! [`GeoDatabase`] and its lookups, [`GeoLocator`] and its reload); `probe`
//! the open-time checks and the panic guard around the parser; `mapped` the
//! memory-mapped bytes and their safety argument; `decode` the record type
//! and its field decoders; [`iso`] the ISO 3166 names and the subdivision
//! name → ISO 3166-2 code mapping (DB-IP has names only).

mod decode;
pub mod iso;
mod mapped;
mod probe;

use std::fmt;
use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use arc_swap::ArcSwapOption;
use maxminddb::{MaxMindDbError, Reader};
use quick_cache::sync::Cache;

use crate::shared::SharedStr;
use decode::RawRecord;
use mapped::DbBytes;
use probe::{corrupt, guard, panic_message};

/// Longest value, in bytes, we store for any one field. Real names are far
/// shorter; the cap bounds what a hostile or broken database can push into
/// every stored event.
pub const MAX_FIELD_BYTES: usize = 128;

/// The coarse location of a client. All fields are empty when unknown.
///
/// Deliberately only country, region and city: nothing finer than a city is
/// ever stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// ISO 3166-1 alpha-2 country code, uppercase (`"GB"`), or empty.
    pub country_code: String,
    /// First-level subdivision in English (`"England"`, `"Washington"`), or empty.
    pub region: String,
    /// ISO 3166-2 code of that subdivision (`"GB-ENG"`, `"US-WA"`), or empty:
    /// the database's own code where it has one, else found from the name
    /// (see [`iso::region_code`]).
    pub region_code: String,
    /// City name in English (`"London"`), or empty.
    pub city: String,
}

impl Location {
    /// True when the database told us nothing about the address, so that a
    /// [`GeoLocator`] holding several databases can ask the next one.
    pub fn is_empty(&self) -> bool {
        self.country_code.is_empty()
            && self.region.is_empty()
            && self.region_code.is_empty()
            && self.city.is_empty()
    }
}

/// A [`Location`] as the ingest path uses it: shared by every row from the
/// same database record (see [`GeoLocator::lookup_shared`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharedLocation {
    /// See [`Location::country_code`].
    pub country_code: SharedStr,
    /// See [`Location::region`].
    pub region: SharedStr,
    /// See [`Location::region_code`].
    pub region_code: SharedStr,
    /// See [`Location::city`].
    pub city: SharedStr,
}

impl SharedLocation {
    /// See [`Location::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.country_code.is_empty()
            && self.region.is_empty()
            && self.region_code.is_empty()
            && self.city.is_empty()
    }
}

impl From<Location> for SharedLocation {
    fn from(location: Location) -> Self {
        SharedLocation {
            country_code: location.country_code.into(),
            region: location.region.into(),
            region_code: location.region_code.into(),
            city: location.city.into(),
        }
    }
}

/// Decoded records remembered per database, keyed by the record's offset in
/// the data section (many networks share one city record). The key is a
/// position in the database, not an address: no client IP is kept.
const RECORD_CACHE_ENTRIES: usize = 16_384;

/// Why a geolocation database could not be used. Every message names the
/// file, because the operator's fix is always "replace that file".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GeoError {
    /// The file could not be read at all (permissions, a directory, I/O error).
    #[error("cannot read geolocation database {}: {source}", .path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// The file is not a well-formed MaxMind DB: bad metadata, a broken search
    /// tree or data section, or the parser panicked while reading it.
    #[error(
        "geolocation database {} is corrupt or not a MaxMind DB (.mmdb) file: {detail}",
        .path.display()
    )]
    Corrupt {
        /// The database file (or the label given to [`GeoDatabase::from_bytes`]).
        path: PathBuf,
        /// What was wrong, as reported by the parser.
        detail: String,
    },
    /// A well-formed MaxMind DB whose records carry no country, region or city
    /// in any schema we know (for example an ASN or a test database).
    #[error(
        "{} is a MaxMind DB file of type {database_type:?} but not a geolocation \
         database saltmark understands: {detail}",
        .path.display()
    )]
    NotGeolocation {
        /// The database file.
        path: PathBuf,
        /// The `database_type` from the file's metadata.
        database_type: String,
        /// What the probe found.
        detail: String,
    },
}

/// One opened database, immutable once opened.
///
/// The database is memory-mapped, but not the operator's file itself:
/// operators (and `geo/fetch`) replace that file while the server runs, and a
/// mapped file overwritten or truncated underneath us is wrong answers or a
/// crash (SIGBUS), not an error. So [`GeoDatabase::open`] and reloads first
/// copy the file into a private, unnamed file in the same directory
/// (`O_TMPFILE`, or a new file unlinked at once), which no other process can
/// reach, and map that. Its pages are file-backed: shared with the page
/// cache, read in on demand and reclaimable, instead of 60–70 MB of heap per
/// DB-IP file. The copy costs the file's size in disk space (freed when the
/// database is replaced or the server exits) and, at start-up and each
/// reload, one in-kernel file copy. Where no private file can be created (a
/// read-only directory), the file is read into the heap as before.
pub struct GeoDatabase {
    reader: Reader<DbBytes>,
    mapped: bool,
    records: Cache<usize, Arc<SharedLocation>>,
    label: PathBuf,
    database_type: String,
    ip_version: u16,
}

impl fmt::Debug for GeoDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeoDatabase")
            .field("label", &self.label)
            .field("database_type", &self.database_type)
            .field("ip_version", &self.ip_version)
            .finish_non_exhaustive()
    }
}

impl GeoDatabase {
    /// Read and validate the database at `path`.
    ///
    /// Fails with [`GeoError::Open`] if the file cannot be read,
    /// [`GeoError::Corrupt`] if it is not a sound MaxMind DB, and
    /// [`GeoError::NotGeolocation`] if it is sound but holds no location data
    /// we understand — so a bad file stops the server at start-up instead of
    /// silently producing empty locations.
    pub fn open(path: &Path) -> Result<GeoDatabase, GeoError> {
        let open_error = |source| GeoError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut file = fs::File::open(path).map_err(open_error)?;
        let len = file.metadata().map_err(open_error)?.len();
        let bytes = DbBytes::load(&mut file, path, len).map_err(open_error)?;
        Self::from_bytes_at(bytes, path.to_path_buf())
    }

    /// Validate a database already in memory. `label` names it in errors and
    /// logs (tests, or a database embedded in the binary).
    pub fn from_bytes(bytes: Vec<u8>, label: &str) -> Result<GeoDatabase, GeoError> {
        Self::from_bytes_at(DbBytes::Heap(bytes), PathBuf::from(label))
    }

    /// True when the database is served from a private memory-mapped copy
    /// (see [`GeoDatabase`]), false when it was read into the heap.
    pub fn is_mapped(&self) -> bool {
        self.mapped
    }

    fn from_bytes_at(bytes: DbBytes, label: PathBuf) -> Result<GeoDatabase, GeoError> {
        // `Reader::from_source` checks only the metadata and the section
        // layout; see `probe` for the rest.
        let mapped = matches!(bytes, DbBytes::Mapped(_));
        let reader = match guard(|| Reader::from_source(bytes)) {
            Ok(Ok(reader)) => reader,
            Ok(Err(e)) => return Err(corrupt(&label, &e)),
            Err(panic) => {
                return Err(GeoError::Corrupt {
                    path: label,
                    detail: format!(
                        "the MaxMind DB parser panicked while reading the metadata ({})",
                        panic_message(&*panic)
                    ),
                })
            }
        };
        let metadata = reader.metadata();
        let database = GeoDatabase {
            database_type: metadata.database_type.clone(),
            ip_version: metadata.ip_version,
            reader,
            mapped,
            records: Cache::new(RECORD_CACHE_ENTRIES),
            label,
        };
        database.probe()?;
        Ok(database)
    }

    /// Look `ip` up. An address the database does not know is
    /// `Ok(Location::default())`, not an error; an error means the database is
    /// damaged where this address led.
    ///
    /// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, what a dual-stack socket
    /// reports for IPv4 clients) are looked up as IPv4. An IPv4 address in an
    /// IPv6 database works (the crate follows the IPv4 subtree); an IPv6
    /// address in an IPv4-only database is simply unknown.
    pub fn lookup(&self, ip: IpAddr) -> Result<Location, GeoError> {
        let ip = ip.to_canonical();
        if ip.is_ipv6() && self.ip_version == 4 {
            return Ok(Location::default());
        }
        match guard(|| self.decode(ip)) {
            Ok(Ok(record)) => Ok(record.map(RawRecord::into_location).unwrap_or_default()),
            Ok(Err(e)) => Err(corrupt(&self.label, &e)),
            // The panic payload is deliberately not included: it could echo
            // the address being looked up, and client IPs are never logged.
            Err(_) => Err(GeoError::Corrupt {
                path: self.label.clone(),
                detail: "the MaxMind DB parser panicked during a lookup".to_owned(),
            }),
        }
    }

    /// Like [`lookup`](Self::lookup), as a [`SharedLocation`] from the
    /// record cache; `Ok(None)` when the database does not know `ip`.
    pub fn lookup_shared(&self, ip: IpAddr) -> Result<Option<Arc<SharedLocation>>, GeoError> {
        let ip = ip.to_canonical();
        if ip.is_ipv6() && self.ip_version == 4 {
            return Ok(None);
        }
        let found = guard(|| -> Result<_, MaxMindDbError> {
            let result = self.reader.lookup(ip)?;
            let Some(offset) = result.offset() else {
                return Ok(None);
            };
            if let Some(hit) = self.records.get(&offset) {
                return Ok(Some(hit));
            }
            let location = result
                .decode::<RawRecord>()?
                .map(RawRecord::into_location)
                .unwrap_or_default();
            let shared = Arc::new(SharedLocation::from(location));
            self.records.insert(offset, Arc::clone(&shared));
            Ok(Some(shared))
        });
        match found {
            Ok(Ok(found)) => Ok(found),
            Ok(Err(e)) => Err(corrupt(&self.label, &e)),
            // As in `lookup`: no panic payload, it could echo the address.
            Err(_) => Err(GeoError::Corrupt {
                path: self.label.clone(),
                detail: "the MaxMind DB parser panicked during a lookup".to_owned(),
            }),
        }
    }

    /// The `database_type` from the file's metadata (`"GeoIP2-City"`,
    /// `"GeoLite2-Country"`, `"city ipv4"` for DB-IP via ip-location-db, …).
    /// The "geolocation database loaded" log line (at start-up and on each
    /// reload) and [`GeoLocator`]'s `Debug` output carry it, so an operator
    /// can see which database is live; `/healthz` does not report it.
    pub fn database_type(&self) -> &str {
        &self.database_type
    }

    /// The file (or label) this database was loaded from.
    pub fn label(&self) -> &Path {
        &self.label
    }

    fn decode(&self, ip: IpAddr) -> Result<Option<RawRecord>, MaxMindDbError> {
        self.reader.lookup(ip)?.decode::<RawRecord>()
    }
}

// ---------------------------------------------------------------------------
// The server-side holder.

/// What the server holds: the current database for each configured file (or
/// none yet), swapped atomically on reload so lookups never wait for a load.
///
/// Usually one file. DB-IP's free City Lite database comes as two files, one
/// for IPv4 and one for IPv6 (the IPv6 file holds no IPv4 networks), so
/// [`GeoLocator::open_many`] accepts several; the first that knows an address
/// wins.
pub struct GeoLocator {
    sources: Vec<Source>,
}

struct Source {
    path: PathBuf,
    current: ArcSwapOption<GeoDatabase>,
    /// Serialises reloads of this file; lookups never take it.
    state: Mutex<ReloadState>,
}

#[derive(Default)]
struct ReloadState {
    /// Stamp of the file behind `current`.
    loaded: Option<FileStamp>,
    /// Stamp of a file that failed to load: not retried (and not reported
    /// again) until the file changes once more.
    failed: Option<FileStamp>,
    /// A "file is missing" warning was logged and the file has not come back.
    missing_warned: bool,
}

/// What "the file changed" means: a different length, modification time or
/// (on Unix) inode, the last catching a same-size replacement by rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: Option<(u64, u64)>,
}

impl FileStamp {
    fn of(metadata: &fs::Metadata) -> FileStamp {
        #[cfg(unix)]
        let inode = {
            use std::os::unix::fs::MetadataExt;
            Some((metadata.dev(), metadata.ino()))
        };
        #[cfg(not(unix))]
        let inode = None;
        FileStamp {
            len: metadata.len(),
            modified: metadata.modified().ok(),
            inode,
        }
    }
}

impl fmt::Debug for GeoLocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for source in &self.sources {
            let db = source.current.load();
            list.entry(&(&source.path, db.as_deref().map(GeoDatabase::database_type)));
        }
        list.finish()
    }
}

/// A geolocation database's required credit (see
/// [`GeoLocator::attribution`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Attribution {
    /// The words to show.
    pub text: &'static str,
    /// Where they link to.
    pub url: &'static str,
    /// The licence that asks for them.
    pub licence: &'static str,
}

impl GeoLocator {
    /// Open the configured database, if any.
    ///
    /// `None` (geolocation switched off) gives a locator whose lookups are
    /// always empty. A missing file is not fatal — a fresh install may start
    /// before `geo/fetch` has run — so it logs one warning, lookups are empty,
    /// and [`reload_if_changed`](Self::reload_if_changed) picks the file up
    /// once it appears. A file that exists but is unreadable or corrupt is an
    /// error, so the server refuses to start with a message naming it.
    pub fn open(path: Option<PathBuf>) -> Result<GeoLocator, GeoError> {
        Self::open_many(path.into_iter().collect())
    }

    /// Like [`open`](Self::open) for several files, consulted in order; the
    /// first database that returns a non-empty location for an address wins.
    /// Put the IPv4 file first for DB-IP's split IPv4/IPv6 pair.
    pub fn open_many(paths: Vec<PathBuf>) -> Result<GeoLocator, GeoError> {
        let mut sources = Vec::with_capacity(paths.len());
        for path in paths {
            let source = Source {
                path,
                current: ArcSwapOption::empty(),
                state: Mutex::new(ReloadState::default()),
            };
            source.reload()?;
            sources.push(source);
        }
        Ok(GeoLocator { sources })
    }

    /// The credit a loaded database's licence asks for wherever its data is
    /// shown: DB-IP's free databases are CC BY 4.0, which requires visible
    /// attribution; MaxMind's are not shown with one here.
    pub fn attribution(&self) -> Option<Attribution> {
        let dbip = self.sources.iter().any(|source| {
            source.current.load().as_deref().is_some_and(|db| {
                let kind = db.database_type().to_ascii_lowercase();
                kind.starts_with("dbip") || kind.contains("db-ip")
            })
        });
        dbip.then_some(Attribution {
            text: "IP geolocation by DB-IP",
            url: "https://db-ip.com",
            licence: "CC BY 4.0",
        })
    }

    /// The location of `ip`, or an empty one.
    ///
    /// Never fails and never panics: geolocation is an enrichment, and an
    /// event without a country is better than a lost event. A lookup error
    /// (a database damaged in a part the open-time probe did not reach) is
    /// logged at debug level, without the address: client IPs are never logged.
    pub fn lookup(&self, ip: IpAddr) -> Location {
        for source in &self.sources {
            let current = source.current.load();
            let Some(db) = current.as_deref() else {
                continue;
            };
            match db.lookup(ip) {
                Ok(location) if !location.is_empty() => return location,
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "geolocation lookup failed; no location recorded");
                }
            }
        }
        Location::default()
    }

    /// Like [`lookup`](Self::lookup), but shared with every other lookup that
    /// reached the same database record: no decoding and no allocation on a
    /// cache hit. This is what the ingest path uses.
    pub fn lookup_shared(&self, ip: IpAddr) -> Arc<SharedLocation> {
        for source in &self.sources {
            let current = source.current.load();
            let Some(db) = current.as_deref() else {
                continue;
            };
            match db.lookup_shared(ip) {
                Ok(Some(location)) if !location.is_empty() => return location,
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "geolocation lookup failed; no location recorded");
                }
            }
        }
        static UNKNOWN: std::sync::LazyLock<Arc<SharedLocation>> =
            std::sync::LazyLock::new(Arc::default);
        Arc::clone(&UNKNOWN)
    }

    /// Re-open each file whose modification time, length or inode changed
    /// since it was last loaded, and swap it in. `Ok(true)` if at least one
    /// new database is now in use.
    ///
    /// A bad new file gives `Err` and the previous database stays in use (a
    /// half-copied download must not blank out geolocation); the same bad
    /// file is not retried until it changes again. A file that disappeared
    /// leaves the previous database in use: `Ok(false)`. With several files,
    /// all are tried and the first error is returned.
    pub fn reload_if_changed(&self) -> Result<bool, GeoError> {
        let mut swapped = false;
        let mut first_error = None;
        for source in &self.sources {
            match source.reload() {
                Ok(changed) => swapped |= changed,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(swapped),
        }
    }

    /// True when at least one database is loaded, i.e. lookups can return
    /// something. Nothing in saltmark reports it (`/healthz` does not look at
    /// geolocation, and each load is logged by the reload itself); only this
    /// module's tests call it.
    pub fn is_loaded(&self) -> bool {
        self.sources.iter().any(|s| s.current.load().is_some())
    }

    /// The `database_type` of each loaded database, in lookup order. Like
    /// [`is_loaded`](Self::is_loaded), reported nowhere; only this module's
    /// tests call it.
    pub fn database_types(&self) -> Vec<String> {
        self.sources
            .iter()
            .filter_map(|s| {
                s.current
                    .load()
                    .as_deref()
                    .map(|db| db.database_type.clone())
            })
            .collect()
    }
}

impl Source {
    /// Load the file if it changed; see [`GeoLocator::reload_if_changed`].
    fn reload(&self) -> Result<bool, GeoError> {
        // A poisoned lock only means an earlier reload panicked between
        // updates of plain values; they are still consistent enough to use.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let open_error = |source| GeoError::Open {
            path: self.path.clone(),
            source,
        };

        let mut file = match fs::File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !state.missing_warned {
                    state.missing_warned = true;
                    if state.loaded.is_some() {
                        tracing::warn!(
                            path = %self.path.display(),
                            "geolocation database was removed; keeping the copy already loaded"
                        );
                    } else {
                        tracing::warn!(
                            path = %self.path.display(),
                            "geolocation database not found; locations stay empty until it appears \
                             (run geo/fetch, or set the path to an existing .mmdb file)"
                        );
                    }
                }
                return Ok(false);
            }
            Err(e) => return Err(open_error(e)),
        };
        state.missing_warned = false;

        // Stamp and contents come from the same open file, so a rename-replace
        // between the two cannot pair one file's stamp with another's bytes.
        let stamp = FileStamp::of(&file.metadata().map_err(open_error)?);
        if state.loaded == Some(stamp) || state.failed == Some(stamp) {
            return Ok(false);
        }
        let bytes = DbBytes::load(&mut file, &self.path, stamp.len).map_err(open_error)?;

        match GeoDatabase::from_bytes_at(bytes, self.path.clone()) {
            Ok(db) => {
                tracing::info!(
                    path = %self.path.display(),
                    database_type = db.database_type(),
                    "geolocation database loaded"
                );
                self.current.store(Some(Arc::new(db)));
                state.loaded = Some(stamp);
                state.failed = None;
                Ok(true)
            }
            Err(e) => {
                state.failed = Some(stamp);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_ip_data_is_credited_and_maxmind_test_data_is_not() {
        let dbip = GeoLocator::open(Some(fixture("dbip-city-flat-test.mmdb"))).unwrap();
        let credit = dbip.attribution().expect("DB-IP is credited");
        assert_eq!(credit.licence, "CC BY 4.0");
        assert!(credit.text.contains("DB-IP"));
        let maxmind = GeoLocator::open(Some(fixture("GeoIP2-City-Test.mmdb"))).unwrap();
        assert_eq!(maxmind.attribution(), None);
        assert_eq!(GeoLocator::open(None).unwrap().attribution(), None);
    }

    // Shared with the tests of the submodules.

    const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/geo/testdata");

    pub(super) fn fixture(name: &str) -> PathBuf {
        Path::new(TESTDATA).join(name)
    }

    pub(super) fn open(name: &str) -> GeoDatabase {
        GeoDatabase::open(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub(super) fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A location as the databases give it; the region code is the one
    /// its name maps to (the tests of `decode` check the codes themselves).
    pub(super) fn loc(country_code: &str, region: &str, city: &str) -> Location {
        Location {
            country_code: country_code.into(),
            region: region.into(),
            region_code: iso::region_code(country_code, region)
                .unwrap_or_default()
                .into(),
            city: city.into(),
        }
    }

    #[test]
    fn types_are_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<GeoLocator>();
        assert_send_sync::<GeoDatabase>();
        assert_send_sync::<GeoError>();
    }

    #[test]
    fn ipv6_address_in_ipv4_only_database_is_unknown_not_an_error() {
        let db = open("dbip-city-flat-ipv4-test.mmdb");
        assert_eq!(db.lookup(ip("2001:218::1")).unwrap(), Location::default());
        assert_eq!(
            db.lookup(ip("81.2.69.142")).unwrap(),
            loc("GB", "England", "London")
        );
        // A mapped IPv4 address is IPv4, even in an IPv4-only database.
        assert_eq!(
            db.lookup(ip("::ffff:216.160.83.57")).unwrap(),
            loc("US", "Washington", "Milton")
        );
    }

    #[test]
    fn locator_without_a_path_is_always_empty() {
        let geo = GeoLocator::open(None).unwrap();
        assert!(!geo.is_loaded());
        assert_eq!(geo.lookup(ip("81.2.69.142")), Location::default());
        assert!(!geo.reload_if_changed().unwrap());
    }

    #[test]
    fn locator_picks_up_a_file_that_appears_and_survives_bad_replacements() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("geo.mmdb");
        let london = ip("81.2.69.142");

        // Missing at start-up: fine, empty, not loaded.
        let geo = GeoLocator::open(Some(path.clone())).unwrap();
        assert!(!geo.is_loaded());
        assert_eq!(geo.lookup(london), Location::default());
        assert!(!geo.reload_if_changed().unwrap());

        // The file appears.
        fs::copy(fixture("GeoIP2-City-Test.mmdb"), &path).unwrap();
        assert!(geo.reload_if_changed().unwrap());
        assert!(geo.is_loaded());
        assert_eq!(geo.database_types(), ["GeoIP2-City"]);
        assert_eq!(geo.lookup(london), loc("GB", "England", "London"));
        assert!(!geo.reload_if_changed().unwrap(), "unchanged file reloaded");

        // Overwritten with a corrupt file: an error, and the old database stays.
        fs::copy(fixture("GeoIP2-City-Test-Broken-Double-Format.mmdb"), &path).unwrap();
        let err = geo.reload_if_changed().unwrap_err();
        assert!(err.to_string().contains("geo.mmdb"), "{err}");
        assert_eq!(geo.lookup(london), loc("GB", "England", "London"));
        // The same bad file is reported once, not on every reload.
        assert!(!geo.reload_if_changed().unwrap());

        // Removed: keep answering from the loaded copy.
        fs::remove_file(&path).unwrap();
        assert!(!geo.reload_if_changed().unwrap());
        assert_eq!(geo.lookup(london), loc("GB", "England", "London"));

        // A different valid database replaces it.
        fs::copy(fixture("dbip-city-flat-test.mmdb"), &path).unwrap();
        assert!(geo.reload_if_changed().unwrap());
        assert_eq!(
            geo.lookup(ip("2001:218::1")),
            loc("JP", "Tokyo", "Tokyo"),
            "still serving the old database"
        );
    }

    #[test]
    fn shared_lookups_agree_with_plain_lookups() {
        let addrs = [
            "81.2.69.142",
            "81.2.69.141",
            "216.160.83.56",
            "216.160.83.60",
            "2001:218::1",
            "::ffff:81.2.69.142",
            "198.51.100.7",
            "203.0.113.9",
            "10.0.0.1",
            "::1",
            "8.8.8.8",
        ];
        for name in [
            "GeoIP2-City-Test.mmdb",
            "GeoLite2-Country-Test.mmdb",
            "dbip-city-flat-test.mmdb",
            "dbip-city-flat-ipv4-test.mmdb",
        ] {
            let db = open(name);
            for addr in addrs {
                let plain = db.lookup(ip(addr)).unwrap();
                // Twice: the second answer comes from the record cache.
                for _ in 0..2 {
                    let shared = db.lookup_shared(ip(addr)).unwrap();
                    let shared = shared.as_deref().cloned().unwrap_or_default();
                    assert_eq!(shared, SharedLocation::from(plain.clone()), "{name} {addr}");
                }
            }
        }
        let geo = GeoLocator::open_many(vec![
            fixture("GeoIP2-City-Test.mmdb"),
            fixture("dbip-city-flat-ipv6-test.mmdb"),
        ])
        .unwrap();
        for addr in addrs {
            let plain = SharedLocation::from(geo.lookup(ip(addr)));
            assert_eq!(*geo.lookup_shared(ip(addr)), plain, "{addr}");
        }
        let first = geo.lookup_shared(ip("81.2.69.142"));
        assert!(Arc::ptr_eq(&first, &geo.lookup_shared(ip("81.2.69.142"))));
    }

    #[test]
    fn locator_refuses_a_corrupt_file_at_start_up() {
        let err = GeoLocator::open(Some(fixture("metadata-marker-only.mmdb"))).unwrap_err();
        assert!(
            err.to_string().contains("metadata-marker-only.mmdb"),
            "{err}"
        );
    }

    #[test]
    fn locator_with_split_ipv4_and_ipv6_files() {
        let geo = GeoLocator::open_many(vec![
            fixture("dbip-city-flat-ipv4-test.mmdb"),
            fixture("dbip-city-flat-ipv6-test.mmdb"),
        ])
        .unwrap();
        assert!(geo.is_loaded());
        assert_eq!(
            geo.lookup(ip("81.2.69.142")),
            loc("GB", "England", "London")
        );
        assert_eq!(geo.lookup(ip("2001:218::1")), loc("JP", "Tokyo", "Tokyo"));
        assert_eq!(geo.lookup(ip("10.0.0.1")), Location::default());

        // The first database that knows an address wins: GeoIP2 has JP with
        // no city for 2001:218::1, the flat file has Tokyo.
        let geo = GeoLocator::open_many(vec![
            fixture("GeoIP2-City-Test.mmdb"),
            fixture("dbip-city-flat-ipv6-test.mmdb"),
        ])
        .unwrap();
        assert_eq!(geo.lookup(ip("2001:218::1")), loc("JP", "", ""));

        // One bad file in the list stops start-up, naming that file.
        let err = GeoLocator::open_many(vec![
            fixture("dbip-city-flat-ipv4-test.mmdb"),
            fixture("corrupt-search-tree.mmdb"),
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains("corrupt-search-tree.mmdb"),
            "{err}"
        );
    }
}
