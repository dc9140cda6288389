//! Coarse geolocation: client IP → country, region and city, from a
//! MaxMind-format (`.mmdb`) database.
//!
//! Three on-disk schemas are understood, because operators bring whichever
//! database they are licensed for:
//! - GeoIP2 / GeoLite2 **City** (`country.iso_code`, `subdivisions[0].names.en`,
//!   `city.names.en`);
//! - GeoIP2 / GeoLite2 **Country** (only `country.iso_code`);
//! - the DB-IP / ip-location-db **flat** schema (`country_code`, `state1`,
//!   `city` as a plain string), which is what `geo/fetch` downloads.
//!
//! Privacy: we keep only what a country/region/city report needs. Latitude,
//! longitude, postcode, accuracy radius, ASN and the like are never decoded:
//! the private `RawRecord` type has no fields for them, so the decoder skips
//! their bytes. No function here logs a client IP address.
//!
//! Robustness: the database is a file an operator drops in place, possibly
//! truncated or corrupt. A bad file must be a clear error naming the file, and
//! never a panic or a silent stream of empty locations, so [`GeoDatabase`]
//! probes the file when it is opened and [`GeoLocator`] keeps serving the
//! previous database when a replacement is bad.

use std::any::Any;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use arc_swap::ArcSwapOption;
use maxminddb::{MaxMindDbError, Reader, WithinOptions};
use quick_cache::sync::Cache;
use serde::de::{self, value::MapAccessDeserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::shared::SharedStr;

/// Longest value, in bytes, we store for any one field. Real names are far
/// shorter; the cap bounds what a hostile or broken database can push into
/// every stored event.
pub const MAX_FIELD_BYTES: usize = 128;

/// The coarse location of a client. All fields are empty when unknown.
///
/// Deliberately only three fields: nothing finer than a city is ever stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// ISO 3166-1 alpha-2 country code, uppercase (`"GB"`), or empty.
    pub country_code: String,
    /// First-level subdivision in English (`"England"`, `"Washington"`), or empty.
    pub region: String,
    /// City name in English (`"London"`), or empty.
    pub city: String,
}

impl Location {
    /// True when the database told us nothing about the address, so that a
    /// [`GeoLocator`] holding several databases can ask the next one.
    pub fn is_empty(&self) -> bool {
        self.country_code.is_empty() && self.region.is_empty() && self.city.is_empty()
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
    /// See [`Location::city`].
    pub city: SharedStr,
}

impl SharedLocation {
    /// See [`Location::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.country_code.is_empty() && self.region.is_empty() && self.city.is_empty()
    }
}

impl From<Location> for SharedLocation {
    fn from(location: Location) -> Self {
        SharedLocation {
            country_code: location.country_code.into(),
            region: location.region.into(),
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

/// Fixed addresses looked up when a database is opened, spread over the IPv4
/// and IPv6 space (public resolvers, MaxMind's test networks, several RIR
/// ranges, loopback and the ends of the space). They are not client addresses,
/// so naming them in an error is fine.
const PROBE_ADDRESSES: &[IpAddr] = &[
    IpAddr::V4(Ipv4Addr::new(0, 0, 0, 1)),
    IpAddr::V4(Ipv4Addr::new(1, 1, 1, 1)),
    IpAddr::V4(Ipv4Addr::new(2, 125, 160, 216)),
    IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)),
    IpAddr::V4(Ipv4Addr::new(9, 9, 9, 9)),
    IpAddr::V4(Ipv4Addr::new(41, 0, 0, 1)),
    IpAddr::V4(Ipv4Addr::new(67, 43, 156, 1)),
    IpAddr::V4(Ipv4Addr::new(81, 2, 69, 142)),
    IpAddr::V4(Ipv4Addr::new(89, 160, 20, 112)),
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
    IpAddr::V4(Ipv4Addr::new(149, 101, 100, 1)),
    IpAddr::V4(Ipv4Addr::new(175, 16, 199, 1)),
    IpAddr::V4(Ipv4Addr::new(185, 1, 2, 3)),
    IpAddr::V4(Ipv4Addr::new(202, 196, 224, 1)),
    IpAddr::V4(Ipv4Addr::new(216, 160, 83, 56)),
    IpAddr::V4(Ipv4Addr::new(255, 255, 255, 255)),
    IpAddr::V6(Ipv6Addr::LOCALHOST),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x218, 0, 0, 0, 0, 0, 1)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8888)),
    IpAddr::V6(Ipv6Addr::new(0x2400, 0xcb00, 0, 0, 0, 0, 0, 1)),
    IpAddr::V6(Ipv6Addr::new(0x2606, 0x4700, 0x4700, 0, 0, 0, 0, 0x1111)),
    IpAddr::V6(Ipv6Addr::new(0x2a02, 0xcf40, 0, 0, 0, 0, 0, 0)),
    IpAddr::V6(Ipv6Addr::new(0x2c0f, 0xfb50, 0, 0, 0, 0, 0, 1)),
    IpAddr::V6(Ipv6Addr::new(
        0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff,
    )),
];

/// How many networks the open-time walk decodes from the start of the
/// database (and, for IPv6 databases, from the start of 2000::/3). Walking a
/// few dozen networks costs microseconds even on a 100 MB file.
const WALK_LIMIT: usize = 64;

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
    /// `"GeoLite2-Country"`, `"city ipv4"` for DB-IP via ip-location-db, …),
    /// for start-up logs and the health endpoint, so an operator can see
    /// which database is live.
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

    /// Open-time validation.
    ///
    /// `Reader::from_source` only checks the metadata: a corrupt search tree
    /// or data section shows up only when a lookup reaches it. So we look up
    /// [`PROBE_ADDRESSES`] and walk the first [`WALK_LIMIT`] networks (from
    /// the start of the tree and of 2000::/3), decoding every record reached,
    /// and treat any error as corruption. We also require that at least one
    /// record carries a country, region or city, which catches a database of
    /// the wrong kind (ASN, anonymous-IP, a test file) before it silently
    /// yields empty locations for every event.
    ///
    /// We do not use `Reader::verify()`: it walks the entire tree and data
    /// section (millions of nodes for DB-IP City Lite, on every reload), and
    /// it rejects the ip-location-db DB-IP files outright because their
    /// metadata has an empty `description`.
    ///
    /// Everything runs under `catch_unwind`: the promise is "a corrupt file is
    /// a clear error, never a panic". maxminddb 0.32 returned errors, not
    /// panics, on every broken fixture in `geo/testdata` (see the tests), but
    /// it is third-party code parsing untrusted bytes with slice indexing, and
    /// a panic at start-up or during a reload would take the server down.
    fn probe(&self) -> Result<(), GeoError> {
        let outcome = guard(|| -> Result<Sample, MaxMindDbError> {
            let mut sample = Sample::default();
            for &ip in PROBE_ADDRESSES {
                if ip.is_ipv6() && self.ip_version == 4 {
                    continue;
                }
                sample.add(self.decode(ip)?);
            }
            let mut starts = vec![self.reader.networks(WithinOptions::default())?];
            if self.ip_version == 6 {
                let global_unicast = "2000::/3".parse()?;
                starts.push(
                    self.reader
                        .within(global_unicast, WithinOptions::default())?,
                );
            }
            for networks in starts {
                for item in networks.take(WALK_LIMIT) {
                    sample.add(item?.decode::<RawRecord>()?);
                }
            }
            Ok(sample)
        });
        let sample = match outcome {
            Ok(Ok(sample)) => sample,
            Ok(Err(e)) => return Err(corrupt(&self.label, &e)),
            Err(panic) => {
                return Err(GeoError::Corrupt {
                    path: self.label.clone(),
                    detail: format!(
                        "the MaxMind DB parser panicked while probing the database ({})",
                        panic_message(&*panic)
                    ),
                })
            }
        };
        if sample.located > 0 {
            return Ok(());
        }
        let detail = if sample.records == 0 {
            "no record found for any probe address or in the first networks".to_owned()
        } else {
            format!(
                "none of the {} records sampled has a country, region or city",
                sample.records
            )
        };
        Err(GeoError::NotGeolocation {
            path: self.label.clone(),
            database_type: self.database_type.clone(),
            detail,
        })
    }
}

/// The bytes behind a [`GeoDatabase`].
enum DbBytes {
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
    fn load(file: &mut fs::File, path: &Path, len: u64) -> io::Result<DbBytes> {
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

/// What the open-time probe saw.
#[derive(Default)]
struct Sample {
    /// Records found and decoded.
    records: usize,
    /// Of those, records that gave a non-empty [`Location`].
    located: usize,
}

impl Sample {
    fn add(&mut self, record: Option<RawRecord>) {
        if let Some(record) = record {
            self.records += 1;
            if !record.into_location().is_empty() {
                self.located += 1;
            }
        }
    }
}

/// Run `f`, turning a panic into `Err` (see [`GeoDatabase::probe`] for why).
///
/// `AssertUnwindSafe` is sound here: the only state `f` touches is an
/// immutable `Reader` and values it creates itself, so nothing can be left
/// half-updated by an unwinding panic. (This only helps when the binary is
/// built with `panic = "unwind"`, the default.)
fn guard<T>(f: impl FnOnce() -> T) -> Result<T, Box<dyn Any + Send>> {
    catch_unwind(AssertUnwindSafe(f))
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "no message"
    }
}

fn corrupt(label: &Path, e: &MaxMindDbError) -> GeoError {
    GeoError::Corrupt {
        path: label.to_path_buf(),
        detail: e.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Decoding: one record type for all three schemas. Keys not named here
// (location, postal, latitude, longitude, postcode, traits, names in other
// languages, …) are skipped by the decoder without being decoded.

/// The fields we read from a record, in either the GeoIP2 or the flat schema.
#[derive(Deserialize, Default)]
struct RawRecord {
    /// GeoIP2: `{"iso_code": "GB", …}`. Some other vendors put the country's
    /// *name* here as a string; that is accepted and ignored.
    #[serde(default, deserialize_with = "country_object")]
    country: Option<String>,
    /// Flat schema: `"GB"`.
    #[serde(default)]
    country_code: Option<String>,
    /// GeoIP2: a list of subdivisions, largest first; we keep the first's name.
    #[serde(default, deserialize_with = "first_subdivision")]
    subdivisions: Option<String>,
    /// Flat schema: the first-level subdivision, e.g. `"England"`.
    #[serde(default)]
    state1: Option<String>,
    /// GeoIP2: `{"names": {"en": "London", …}}`; flat schema: `"London"`.
    #[serde(default, deserialize_with = "name_or_names")]
    city: Option<String>,
}

impl RawRecord {
    /// Normalise into what we store: GeoIP2 fields win over flat ones, every
    /// field is capped at [`MAX_FIELD_BYTES`], and a country code must be two
    /// ASCII letters (uppercased) or it is dropped.
    fn into_location(self) -> Location {
        let country = self.country.or(self.country_code).unwrap_or_default();
        Location {
            country_code: normalise_country(&country),
            region: cap(self.subdivisions.or(self.state1).unwrap_or_default()),
            city: cap(self.city.unwrap_or_default()),
        }
    }
}

fn normalise_country(code: &str) -> String {
    let code = code.trim();
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
        code.to_ascii_uppercase()
    } else {
        String::new()
    }
}

/// Truncate to at most [`MAX_FIELD_BYTES`] bytes without splitting a character.
fn cap(mut s: String) -> String {
    if s.len() > MAX_FIELD_BYTES {
        let mut end = MAX_FIELD_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// `{"names": {"en": …}}` — the shape of GeoIP2's `city` and subdivisions.
#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    names: Option<EnglishName>,
}

#[derive(Deserialize)]
struct EnglishName {
    #[serde(default)]
    en: Option<String>,
}

impl Named {
    fn english(self) -> Option<String> {
        self.names.and_then(|n| n.en)
    }
}

#[derive(Deserialize)]
struct IsoCode {
    #[serde(default)]
    iso_code: Option<String>,
}

/// A field that is either a plain name (`"London"`) or a GeoIP2 names map.
fn name_or_names<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a name string or a map with names.en")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            Ok(Named::deserialize(MapAccessDeserializer::new(map))?.english())
        }
    }
    d.deserialize_any(V)
}

/// GeoIP2's `country` map (we take `iso_code`); a string there is not a code.
fn country_object<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a country map or a country name")
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            Ok(IsoCode::deserialize(MapAccessDeserializer::new(map))?.iso_code)
        }
    }
    d.deserialize_any(V)
}

/// GeoIP2's `subdivisions` list: the English name of the first entry; the
/// rest are skipped undecoded.
fn first_subdivision<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of subdivisions")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let first = seq.next_element::<Named>()?.and_then(Named::english);
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(first)
        }
    }
    d.deserialize_seq(V)
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
    /// something (for the health endpoint and start-up logs).
    pub fn is_loaded(&self) -> bool {
        self.sources.iter().any(|s| s.current.load().is_some())
    }

    /// The `database_type` of each loaded database, in lookup order.
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

    const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/geo/testdata");

    fn fixture(name: &str) -> PathBuf {
        Path::new(TESTDATA).join(name)
    }

    fn open(name: &str) -> GeoDatabase {
        GeoDatabase::open(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn loc(country_code: &str, region: &str, city: &str) -> Location {
        Location {
            country_code: country_code.into(),
            region: region.into(),
            city: city.into(),
        }
    }

    const BROKEN: &[&str] = &[
        "GeoIP2-City-Test-Broken-Double-Format.mmdb",
        "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
        "corrupt-search-tree.mmdb",
        "metadata-marker-only.mmdb",
    ];

    #[test]
    fn types_are_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<GeoLocator>();
        assert_send_sync::<GeoDatabase>();
        assert_send_sync::<GeoError>();
    }

    #[test]
    fn geoip2_city() {
        let db = open("GeoIP2-City-Test.mmdb");
        assert_eq!(db.database_type(), "GeoIP2-City");
        let cases = [
            ("81.2.69.142", loc("GB", "England", "London")),
            ("216.160.83.56", loc("US", "Washington", "Milton")),
            // The source JSON has a country but no subdivisions or city here.
            ("2001:218::1", loc("JP", "", "")),
            ("10.0.0.1", Location::default()),
            ("::1", Location::default()),
            // What a dual-stack socket reports for an IPv4 client.
            ("::ffff:81.2.69.142", loc("GB", "England", "London")),
        ];
        for (addr, want) in cases {
            assert_eq!(db.lookup(ip(addr)).unwrap(), want, "{addr}");
        }
    }

    #[test]
    fn geolite2_city_and_country() {
        let city = open("GeoLite2-City-Test.mmdb");
        assert_eq!(city.database_type(), "GeoLite2-City");
        assert_eq!(
            city.lookup(ip("81.2.69.142")).unwrap(),
            loc("GB", "England", "London")
        );
        assert_eq!(
            city.lookup(ip("216.160.83.56")).unwrap(),
            loc("US", "Washington", "Milton")
        );

        let country = open("GeoLite2-Country-Test.mmdb");
        assert_eq!(country.database_type(), "GeoLite2-Country");
        assert_eq!(
            country.lookup(ip("81.2.69.142")).unwrap(),
            loc("GB", "", "")
        );
        assert_eq!(
            country.lookup(ip("2001:218::1")).unwrap(),
            loc("JP", "", "")
        );
        assert_eq!(country.lookup(ip("10.0.0.1")).unwrap(), Location::default());
    }

    #[test]
    fn flat_dbip_schema() {
        let db = open("dbip-city-flat-test.mmdb");
        assert_eq!(db.database_type(), "DBIP-City-Lite-Flat-Test");
        // This record also has state2, postcode "EC2V 7HH", latitude and
        // longitude: exactly these three values come back, nothing else.
        let london = db.lookup(ip("81.2.69.142")).unwrap();
        assert_eq!(london, loc("GB", "England", "London"));
        assert_eq!(london.city, "London");
        // Exhaustive destructuring: adding a field to `Location` (say, a
        // postcode) stops this test compiling, so it has to be a decision.
        let Location {
            country_code,
            region,
            city,
        } = london;
        assert!(![country_code, region, city]
            .iter()
            .any(|v| v.contains("EC2V") || v.contains("51.") || v.contains("City of")));

        assert_eq!(
            db.lookup(ip("216.160.83.60")).unwrap(),
            loc("US", "Washington", "Milton")
        );
        assert_eq!(
            db.lookup(ip("2001:218::1")).unwrap(),
            loc("JP", "Tokyo", "Tokyo")
        );
        assert_eq!(db.lookup(ip("81.2.69.141")).unwrap(), Location::default());
        assert_eq!(db.lookup(ip("8.8.8.8")).unwrap(), Location::default());
    }

    #[test]
    fn fields_are_normalised_and_capped() {
        let db = open("dbip-city-flat-test.mmdb");
        // Lower-case "de" is upper-cased; a 200-byte city ("Ä" × 100) is cut
        // to 128 bytes without splitting a character.
        let berlin = db.lookup(ip("198.51.100.7")).unwrap();
        assert_eq!(berlin.country_code, "DE");
        assert_eq!(berlin.region, "Berlin");
        assert_eq!(berlin.city, "Ä".repeat(64));
        // "XYZ" is not a country code: dropped, the names stay.
        assert_eq!(
            db.lookup(ip("203.0.113.9")).unwrap(),
            loc("", "Nowhere", "Atlantis")
        );

        assert_eq!(normalise_country(" gb "), "GB");
        for bad in ["", "G", "GBR", "G1", "É1", "\u{1F1EC}\u{1F1E7}"] {
            assert_eq!(normalise_country(bad), "", "{bad:?}");
        }
        assert_eq!(cap("London".into()), "London");
        let three_byte = "€".repeat(50); // 150 bytes
        let capped = cap(three_byte);
        assert_eq!(capped, "€".repeat(42)); // 126 bytes: 129 would split a char
        assert_eq!(cap("a".repeat(300)).len(), MAX_FIELD_BYTES);
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

    /// What maxminddb 0.32 does with each broken fixture, all errors and no
    /// panics (a panic would be reported as "...parser panicked..."):
    /// - Broken-Double-Format: opens, then the probe's first lookup fails
    ///   ("double of size 5"), even though we skip the `location` map;
    /// - Invalid-Node-Count: `from_source` fails (search tree past metadata);
    /// - corrupt-search-tree: its damage is in unreachable nodes, so every
    ///   lookup succeeds; its records are `{"ip": "test"}`, so we reject it as
    ///   not a geolocation database;
    /// - metadata-marker-only: `from_source` fails (unexpected end of buffer).
    #[test]
    fn broken_fixtures_are_clear_errors_naming_the_file() {
        for name in BROKEN {
            let path = fixture(name);
            let err = GeoDatabase::open(&path).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(name), "{name}: {msg}");
            assert!(!msg.contains("panicked"), "{name}: {msg}");
            match *name {
                "corrupt-search-tree.mmdb" => {
                    assert!(matches!(err, GeoError::NotGeolocation { .. }), "{msg}")
                }
                _ => assert!(matches!(err, GeoError::Corrupt { .. }), "{msg}"),
            }

            let err = GeoLocator::open(Some(path.clone())).unwrap_err();
            assert!(err.to_string().contains(name), "{name}: {err}");

            let bytes = fs::read(&path).unwrap();
            let err = GeoDatabase::from_bytes(bytes, "label-for-test").unwrap_err();
            assert!(err.to_string().contains("label-for-test"), "{err}");
        }
    }

    #[test]
    fn non_mmdb_files_are_errors() {
        // Deterministic "random" bytes (xorshift), an empty file, and a valid
        // database cut short at several points.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let err = GeoDatabase::from_bytes(noise, "noise.bin").unwrap_err();
        assert!(matches!(err, GeoError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("noise.bin"));
        assert!(GeoDatabase::from_bytes(Vec::new(), "empty").is_err());

        let good = fs::read(fixture("GeoIP2-City-Test.mmdb")).unwrap();
        for len in [1, 100, good.len() / 2, good.len() - 10] {
            assert!(
                GeoDatabase::from_bytes(good[..len].to_vec(), "cut").is_err(),
                "truncated to {len}"
            );
        }

        let dir = tempfile::tempdir().unwrap();
        let err = GeoDatabase::open(dir.path()).unwrap_err(); // a directory
        assert!(matches!(err, GeoError::Open { .. }), "{err}");
        let err = GeoDatabase::open(&dir.path().join("absent.mmdb")).unwrap_err();
        assert!(err.to_string().contains("absent.mmdb"), "{err}");
    }

    /// Flip bytes all over a valid database: opening must give Ok or a clear
    /// error, and lookups on whatever opened must never panic.
    #[test]
    fn damaged_bytes_never_panic() {
        let good = fs::read(fixture("GeoIP2-City-Test.mmdb")).unwrap();
        let addrs = [
            "81.2.69.142",
            "216.160.83.56",
            "2001:218::1",
            "2.125.160.216",
        ];
        for i in 0..300 {
            let mut bytes = good.clone();
            let at = (i * 7919) % bytes.len();
            bytes[at] ^= 0xA5;
            if let Ok(db) = GeoDatabase::from_bytes(bytes, "damaged") {
                for a in addrs {
                    let _ = db.lookup(ip(a));
                }
            }
        }
    }

    #[test]
    fn a_panic_becomes_an_error() {
        let caught = guard(|| -> u8 { panic!("parser bug") }).unwrap_err();
        assert_eq!(panic_message(&*caught), "parser bug");
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
