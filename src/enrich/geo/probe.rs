//! Open-time checks of a geolocation database, and the panic guard that
//! every call into the MaxMind DB parser runs under.
//!
//! `Reader::from_source` checks only the metadata, so [`GeoDatabase::probe`]
//! looks up fixed addresses and walks the first networks before a database is
//! used, turning a damaged or wrong-kind file into a clear [`GeoError`]. Kept
//! apart from the lookups in `mod.rs` because it is the one place that decides
//! whether a file is accepted, with the fixtures that exercise each refusal.

use std::any::Any;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use maxminddb::{MaxMindDbError, WithinOptions};

use super::decode::RawRecord;
use super::{GeoDatabase, GeoError};

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

impl GeoDatabase {
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
    pub(super) fn probe(&self) -> Result<(), GeoError> {
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

/// What the open-time probe saw.
#[derive(Default)]
struct Sample {
    /// Records found and decoded.
    records: usize,
    /// Of those, records that gave a non-empty [`Location`](super::Location).
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
pub(super) fn guard<T>(f: impl FnOnce() -> T) -> Result<T, Box<dyn Any + Send>> {
    catch_unwind(AssertUnwindSafe(f))
}

pub(super) fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "no message"
    }
}

pub(super) fn corrupt(label: &Path, e: &MaxMindDbError) -> GeoError {
    GeoError::Corrupt {
        path: label.to_path_buf(),
        detail: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::geo::tests::{fixture, ip};
    use crate::enrich::geo::GeoLocator;
    use std::fs;

    const BROKEN: &[&str] = &[
        "GeoIP2-City-Test-Broken-Double-Format.mmdb",
        "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
        "corrupt-search-tree.mmdb",
        "metadata-marker-only.mmdb",
    ];

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
    /// error naming the input, and lookups on whatever opened must give Ok
    /// or a clear error too. Each call runs under `catch_unwind` here as
    /// well, so a panic escaping the module's own guard fails the test; a
    /// parser panic the guard caught fails it too (its error says
    /// "panicked"), as in `broken_fixtures_are_clear_errors_naming_the_file`.
    /// The tally fails it if the flips stop reaching either outcome (with
    /// maxminddb 0.32: 115 of the 300 rejected, 185 opened, and no lookup on
    /// those failed).
    #[test]
    fn damaged_bytes_never_panic() {
        let good = fs::read(fixture("GeoIP2-City-Test.mmdb")).unwrap();
        let addrs = [
            "81.2.69.142",
            "216.160.83.56",
            "2001:218::1",
            "2.125.160.216",
        ];
        let (mut opened, mut rejected) = (0, 0);
        for i in 0..300 {
            let mut bytes = good.clone();
            let at = (i * 7919) % bytes.len();
            bytes[at] ^= 0xA5;
            let outcome = catch_unwind(|| GeoDatabase::from_bytes(bytes, "damaged"));
            assert!(outcome.is_ok(), "opening panicked (byte {at} flipped)");
            match outcome.unwrap() {
                Ok(db) => {
                    opened += 1;
                    for a in addrs {
                        let lookup = catch_unwind(AssertUnwindSafe(|| db.lookup(ip(a))));
                        assert!(lookup.is_ok(), "lookup of {a} panicked (byte {at} flipped)");
                        if let Err(e) = lookup.unwrap() {
                            let msg = e.to_string();
                            assert!(matches!(e, GeoError::Corrupt { .. }), "{msg}");
                            assert!(msg.contains("damaged"), "{msg}");
                            assert!(!msg.contains("panicked"), "byte {at} flipped: {msg}");
                        }
                    }
                }
                Err(e) => {
                    rejected += 1;
                    assert!(
                        matches!(
                            e,
                            GeoError::Corrupt { .. } | GeoError::NotGeolocation { .. }
                        ),
                        "byte {at} flipped: {e}"
                    );
                    let msg = e.to_string();
                    assert!(msg.contains("damaged"), "byte {at} flipped: {msg}");
                    assert!(!msg.contains("panicked"), "byte {at} flipped: {msg}");
                }
            }
        }
        assert!(rejected > 0, "no damaged database was rejected");
        assert!(opened > 0, "every damaged database was rejected");
    }

    #[test]
    fn a_panic_becomes_an_error() {
        let caught = guard(|| -> u8 { panic!("parser bug") }).unwrap_err();
        assert_eq!(panic_message(&*caught), "parser bug");
    }
}
