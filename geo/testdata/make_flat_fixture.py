#!/usr/bin/env python3
"""Generate tiny MaxMind DBs in the DB-IP / ip-location-db *flat* city schema,
for saltmark's geolocation tests:

- dbip-city-flat-test.mmdb: IPv6 database with the IPv4 networks mapped into
  ::/96, so one file answers both families;
- dbip-city-flat-ipv4-test.mmdb and dbip-city-flat-ipv6-test.mmdb: the same
  networks split the way DB-IP's real City Lite download is split (an
  IPv4-only database, and an IPv6 database holding no IPv4 networks).

The flat schema has top-level keys country_code, state1, state2, city,
postcode, latitude, longitude (and timezone), with `city` a plain string
rather than GeoIP2's {"names": {"en": ...}} map. Every value below is made up
for tests (the places are real, the coordinates and postcode are only
plausible), so the outputs carry the project's own licence.

    pip install mmdb-writer netaddr
    python3 geo/testdata/make_flat_fixture.py

The build timestamp is fixed, so re-running it gives the same bytes for the
same mmdb-writer version.
"""

from pathlib import Path

from mmdb_writer import MMDBWriter, MmdbF64
from netaddr import IPSet

HERE = Path(__file__).resolve().parent
BUILD_EPOCH = 1767225600  # 2026-01-01T00:00:00Z, fixed for reproducible output


def record(cc, state1, city, *, state2="", postcode="", lat=0.0, lon=0.0):
    return {
        "country_code": cc,
        "state1": state1,
        "state2": state2,
        "city": city,
        "postcode": postcode,
        "latitude": MmdbF64(lat),
        "longitude": MmdbF64(lon),
        "timezone": "",
    }


NETWORKS = [
    # The test asserts the postcode and coordinates here never come back.
    ("81.2.69.142/31", record("GB", "England", "London", state2="City of London",
                              postcode="EC2V 7HH", lat=51.5142, lon=-0.0931)),
    ("216.160.83.56/29", record("US", "Washington", "Milton", lat=47.2513, lon=-122.3149)),
    ("2001:218::/32", record("JP", "Tokyo", "Tokyo", lat=35.6895, lon=139.6917)),
    # Normalisation cases (documentation ranges, so they never match a real client):
    # a lower-case country code is upper-cased; a 200-byte city is capped at 128 bytes.
    ("198.51.100.0/24", record("de", "Berlin", "\u00c4" * 100)),
    # An invalid country code is dropped; the names are kept.
    ("203.0.113.0/24", record("XYZ", "Nowhere", "Atlantis")),
]


class FixedEpochWriter(MMDBWriter):
    def _build_meta(self):
        meta = super()._build_meta()
        meta["build_epoch"] = BUILD_EPOCH
        return meta


def write(name, ip_version, families):
    out = HERE / name
    writer = FixedEpochWriter(
        ip_version=ip_version,
        # In an IPv6 database, IPv4 networks live in ::/96, where readers look.
        ipv4_compatible=(ip_version == 6 and 4 in families),
        database_type="DBIP-City-Lite-Flat-Test",
        languages=["en"],
        description={"en": "saltmark test fixture in the DB-IP flat city schema"},
    )
    for cidr, data in NETWORKS:
        if (6 if ":" in cidr else 4) in families:
            writer.insert_network(IPSet([cidr]), data)
    writer.to_db_file(str(out))
    print(f"wrote {out} ({out.stat().st_size} bytes)")


def main():
    write("dbip-city-flat-test.mmdb", 6, {4, 6})
    write("dbip-city-flat-ipv4-test.mmdb", 4, {4})
    write("dbip-city-flat-ipv6-test.mmdb", 6, {6})


if __name__ == "__main__":
    main()
