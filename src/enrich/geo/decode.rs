//! Decoding a database record: one record type for all three schemas
//! (GeoIP2 City, GeoIP2 Country, the DB-IP flat schema), with three field
//! decoders for the shapes they use, and the normalising into a [`Location`].
//!
//! Separate because this is where the privacy promise of the module docs is
//! kept: keys not named here (location, postal, latitude, longitude,
//! postcode, traits, names in other languages, …) are skipped by the decoder
//! without being decoded.

use std::fmt;

use serde::de::{self, value::MapAccessDeserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{iso, Location, MAX_FIELD_BYTES};

/// The fields we read from a record, in either the GeoIP2 or the flat schema.
#[derive(Deserialize, Default)]
pub(super) struct RawRecord {
    /// GeoIP2: `{"iso_code": "GB", …}`. Some other vendors put the country's
    /// *name* here as a string; that is accepted and ignored.
    #[serde(default, deserialize_with = "country_object")]
    country: Option<String>,
    /// Flat schema: `"GB"`.
    #[serde(default)]
    country_code: Option<String>,
    /// GeoIP2: a list of subdivisions, largest first; we keep the first's
    /// English name and ISO 3166-2 code (the part after the country's).
    #[serde(default, deserialize_with = "first_subdivision")]
    subdivisions: Option<Subdivision>,
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
    ///
    /// The region code is GeoIP2's (`"GB"` + `"-"` + `"ENG"`) when that is an
    /// ISO 3166-2 code we know, else the code of the region's name
    /// ([`iso::region_code`]; DB-IP has only names, and GeoIP2 still has a
    /// few pre-2017 codes such as `CN-22` for `CN-JL`), else GeoIP2's code if
    /// it is at least well-formed, else empty. There is none without a
    /// country.
    pub(super) fn into_location(self) -> Location {
        let country = self.country.or(self.country_code).unwrap_or_default();
        let country_code = normalise_country(&country);
        let (region, subdivision_code) = match self.subdivisions {
            Some(Subdivision { name, iso_code }) => (name.or(self.state1), iso_code),
            None => (self.state1, None),
        };
        let region = cap(region.unwrap_or_default());
        let region_code = region_code(&country_code, subdivision_code.as_deref(), &region);
        Location {
            country_code,
            region,
            region_code,
            city: cap(self.city.unwrap_or_default()),
        }
    }
}

/// See [`RawRecord::into_location`]. `country` is already normalised.
fn region_code(country: &str, subdivision_code: Option<&str>, name: &str) -> String {
    if country.is_empty() {
        return String::new();
    }
    // ISO 3166-2 subdivision parts are one to three letters or digits.
    let given = subdivision_code
        .map(str::trim)
        .filter(|c| (1..=3).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(|c| format!("{country}-{}", c.to_ascii_uppercase()));
    if let Some(code) = &given {
        if iso::is_region_code(code) {
            return code.clone();
        }
    }
    match iso::region_code(country, name) {
        Some(code) => code.to_owned(),
        None => given.unwrap_or_default(),
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

/// The first entry of GeoIP2's `subdivisions`: `{"iso_code": "ENG",
/// "names": {"en": "England", …}, …}`.
#[derive(Deserialize)]
struct Subdivision {
    #[serde(default, rename = "names", deserialize_with = "english_name")]
    name: Option<String>,
    #[serde(default)]
    iso_code: Option<String>,
}

fn english_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<EnglishName>::deserialize(d)?.and_then(|n| n.en))
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

/// GeoIP2's `subdivisions` list: the English name and code of the first
/// entry; the rest are skipped undecoded.
fn first_subdivision<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Subdivision>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Subdivision>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of subdivisions")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let first = seq.next_element::<Subdivision>()?;
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(first)
        }
    }
    d.deserialize_seq(V)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::geo::tests::{ip, loc, open};

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
    fn region_codes() {
        let geoip2 = open("GeoIP2-City-Test.mmdb");
        let flat = open("dbip-city-flat-test.mmdb");
        let cases = [
            (&geoip2, "81.2.69.142", "GB-ENG"),
            // Several subdivisions (England, West Berkshire): the first.
            (&geoip2, "2.125.160.216", "GB-ENG"),
            (&geoip2, "216.160.83.56", "US-WA"),
            (&geoip2, "89.160.20.112", "SE-E"),
            (&geoip2, "::214.0.1.0", "AU-VIC"),
            // GeoIP2 says "22", the code before 2017; the name says CN-JL.
            (&geoip2, "175.16.199.1", "CN-JL"),
            (&geoip2, "2001:218::1", ""),
            (&geoip2, "10.0.0.1", ""),
            // The flat schema has names only.
            (&flat, "81.2.69.142", "GB-ENG"),
            (&flat, "216.160.83.60", "US-WA"),
            (&flat, "2001:218::1", "JP-13"),
            (&flat, "198.51.100.7", "DE-BE"),
            // No country ("XYZ" is dropped): no region code.
            (&flat, "203.0.113.9", ""),
        ];
        for (db, addr, want) in cases {
            let got = db.lookup(ip(addr)).unwrap();
            assert_eq!(got.region_code, want, "{} {addr}", db.database_type());
        }
        let country = open("GeoLite2-Country-Test.mmdb");
        assert_eq!(country.lookup(ip("81.2.69.142")).unwrap().region_code, "");
    }

    #[test]
    fn region_code_prefers_a_known_database_code() {
        let record = |country: &str, code: Option<&str>, name: Option<&str>| RawRecord {
            country: Some(country.into()),
            subdivisions: Some(Subdivision {
                name: name.map(Into::into),
                iso_code: code.map(Into::into),
            }),
            ..RawRecord::default()
        };
        let cases = [
            (record("GB", Some("ENG"), Some("England")), "GB-ENG"),
            // The code wins over a name that says something else.
            (record("GB", Some("SCT"), Some("England")), "GB-SCT"),
            (record("gb", Some("eng"), None), "GB-ENG"),
            (record("CN", Some("22"), Some("Jilin Sheng")), "CN-JL"),
            // Unknown but well-formed: kept, so nothing is lost.
            (record("CN", Some("22"), None), "CN-22"),
            (record("GB", None, Some("Scotland")), "GB-SCT"),
            (record("GB", Some("ENGLAND"), Some("Wales")), "GB-WLS"),
            (record("GB", Some("E-G"), None), ""),
            (record("GB", Some(""), Some("")), ""),
            (record("GB", Some("\u{e9}"), Some(&"x".repeat(1000))), ""),
            (record("GBR", Some("ENG"), Some("England")), ""),
        ];
        for (raw, want) in cases {
            assert_eq!(raw.into_location().region_code, want);
        }
        // GeoIP2's subdivision name wins over the flat schema's `state1`,
        // which still serves when the subdivision has no English name.
        let mut raw = record("GB", Some("ENG"), None);
        raw.state1 = Some("England".into());
        let location = raw.into_location();
        assert_eq!(
            (location.region.as_str(), location.region_code.as_str()),
            ("England", "GB-ENG")
        );
        let flat = RawRecord {
            country_code: Some("FR".into()),
            state1: Some("Île-de-France".into()),
            ..RawRecord::default()
        };
        assert_eq!(flat.into_location().region_code, "FR-IDF");
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
        assert_eq!(london.region_code, "GB-ENG");
        let Location {
            country_code,
            region,
            region_code,
            city,
        } = london;
        assert!(![country_code, region, region_code, city]
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
}
