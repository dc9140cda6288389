//! The mmdb reading path: any bytes as a database, then lookups; a corrupt
//! file must be an error, never a panic or a hang.
#![no_main]
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use saltmark::enrich::geo::GeoDatabase;

fuzz_target!(|data: &[u8]| {
    if let Ok(db) = GeoDatabase::from_bytes(data.to_vec(), "fuzz.mmdb") {
        for ip in [
            IpAddr::V4(Ipv4Addr::new(81, 2, 69, 142)),
            IpAddr::V4(Ipv4Addr::new(1, 0, 0, 0)),
            IpAddr::V4(Ipv4Addr::BROADCAST),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0x218, 0, 0, 0, 0, 0, 1)),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        ] {
            let _ = db.lookup(ip);
        }
    }
});
