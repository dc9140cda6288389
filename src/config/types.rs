//! Configuration values that arrive as text and are parsed once, at load
//! time, into the types their components use. Nothing downstream parses a
//! configuration string again, and no parse error can turn into a silent
//! default: a bad value stops `Config::load` with the key's name (the
//! config crate adds it to every deserialisation error).
//!
//! Each type serialises back to the text it was read from, so
//! `check-config` prints what an operator would write.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::normalise_site;

/// When the write-ahead spool makes appended bytes durable (`spool.fsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Write and `fdatasync` before an append returns.
    Always,
    /// Buffer; write and `fdatasync` on this interval.
    Every(Duration),
}

impl FromStr for FsyncPolicy {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "always" {
            return Ok(FsyncPolicy::Always);
        }
        let millis = text
            .strip_suffix("ms")
            .and_then(|n| n.trim().parse::<u64>().ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{text:?} is neither \"always\" nor \"<N>ms\" (N ≥ 1)"))?;
        Ok(FsyncPolicy::Every(Duration::from_millis(millis)))
    }
}

impl fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsyncPolicy::Always => f.write_str("always"),
            FsyncPolicy::Every(interval) => write!(f, "{}ms", interval.as_millis()),
        }
    }
}

/// How much memory the managed ClickHouse may use (`clickhouse.profile`);
/// the settings of each are in `store::managed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerProfile {
    /// Roomy caches and a 4 GB per-query limit: a machine with memory to spare.
    #[default]
    Standard,
    /// A 1–2 GB server: small caches, a per-query memory limit with external
    /// GROUP BY / ORDER BY instead of failing, two query threads, fewer
    /// background threads, no query log.
    Small,
}

impl FromStr for ServerProfile {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "standard" => Ok(ServerProfile::Standard),
            "small" => Ok(ServerProfile::Small),
            other => Err(format!(
                "unknown ClickHouse profile {other:?} (standard or small)"
            )),
        }
    }
}

impl fmt::Display for ServerProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServerProfile::Standard => "standard",
            ServerProfile::Small => "small",
        })
    }
}

/// How log lines are written (`log_format`): text for people, one JSON
/// object per line for a log pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Plain text (colours only on a terminal).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("unknown log format {other:?} (text or json)")),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

/// The one forwarding header believed from trusted proxies
/// (`client_ip_header`), as a header name (lowercase).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardingHeader(pub hyper::header::HeaderName);

impl FromStr for ForwardingHeader {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        hyper::header::HeaderName::from_bytes(text.trim().to_ascii_lowercase().as_bytes())
            .map(ForwardingHeader)
            .map_err(|_| format!("{text:?} is not a valid header name"))
    }
}

impl fmt::Display for ForwardingHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// Paths never recorded (`exclude_paths`): the patterns as written, and
/// the compiled set (`*` stays within one path segment, `**` crosses them).
#[derive(Debug, Clone)]
pub struct PathGlobs {
    patterns: Vec<String>,
    set: globset::GlobSet,
}

impl PathGlobs {
    /// Compiles `patterns`.
    pub fn new(patterns: Vec<String>) -> Result<PathGlobs, String> {
        let mut builder = globset::GlobSetBuilder::new();
        for pattern in &patterns {
            let glob = globset::GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("{pattern:?}: {e}"))?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|e| e.to_string())?;
        Ok(PathGlobs { patterns, set })
    }

    /// The compiled set.
    pub fn set(&self) -> &globset::GlobSet {
        &self.set
    }

    /// The patterns as written.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

impl Default for PathGlobs {
    fn default() -> Self {
        PathGlobs::new(Vec::new()).expect("the empty set compiles")
    }
}

impl<'de> Deserialize<'de> for PathGlobs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let patterns = Vec::<String>::deserialize(deserializer)?;
        PathGlobs::new(patterns).map_err(serde::de::Error::custom)
    }
}

impl Serialize for PathGlobs {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.patterns.serialize(serializer)
    }
}

/// A per-site setting written as a list of `site=value` entries
/// (`site_timezones`, `retention.site_months`), keyed by the normalised site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerSite<T>(pub BTreeMap<String, T>);

impl<T> Default for PerSite<T> {
    fn default() -> Self {
        PerSite(BTreeMap::new())
    }
}

impl<T: Copy> PerSite<T> {
    /// The site's value, if it has one.
    pub fn get(&self, site: &str) -> Option<T> {
        self.0.get(site).copied()
    }
}

/// What a per-site value must satisfy beyond parsing, and how it is named
/// in errors.
pub trait SiteValue: Sized {
    /// `site=` + this, in error messages.
    const SHAPE: &'static str;
    /// Parses and checks one value.
    fn parse_value(text: &str) -> Result<Self, String>;
    /// The value as written.
    fn show(&self) -> String;
}

impl SiteValue for chrono_tz::Tz {
    const SHAPE: &'static str = "site=Area/City";
    fn parse_value(text: &str) -> Result<Self, String> {
        text.parse()
            .map_err(|_| format!("{text:?} is not an IANA time zone"))
    }
    fn show(&self) -> String {
        self.name().to_string()
    }
}

/// Months events are kept (1 to 1200).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Months(pub u32);

impl SiteValue for Months {
    const SHAPE: &'static str = "site=months";
    fn parse_value(text: &str) -> Result<Self, String> {
        let months: u32 = text
            .parse()
            .map_err(|_| format!("months must be a whole number, not {text:?}"))?;
        if months == 0 || months > 1200 {
            return Err(format!("months must be between 1 and 1200, not {months}"));
        }
        Ok(Months(months))
    }
    fn show(&self) -> String {
        self.0.to_string()
    }
}

impl<T: SiteValue> PerSite<T> {
    /// Parses `site=value` entries.
    pub fn parse(entries: &[String]) -> Result<PerSite<T>, String> {
        let mut map = BTreeMap::new();
        for entry in entries {
            let (site, value) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?} is not {}", T::SHAPE))?;
            let value = T::parse_value(value.trim()).map_err(|e| format!("{entry:?}: {e}"))?;
            map.insert(normalise_site(site), value);
        }
        Ok(PerSite(map))
    }
}

impl<'de, T: SiteValue> Deserialize<'de> for PerSite<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries = Vec::<String>::deserialize(deserializer)?;
        PerSite::parse(&entries).map_err(serde::de::Error::custom)
    }
}

impl<T: SiteValue> Serialize for PerSite<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0
            .iter()
            .map(|(site, value)| format!("{site}={}", value.show()))
            .collect::<Vec<_>>()
            .serialize(serializer)
    }
}

/// Serde for a value read with `FromStr` and shown with `Display`.
pub mod text {
    use super::*;

    /// Parses the text.
    pub fn deserialize<'de, D, T>(deserializer: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr<Err = String>,
    {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }

    /// Shows the value.
    pub fn serialize<S: Serializer, T: fmt::Display>(
        value: &T,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsync_policy_parses_and_shows_itself() {
        assert_eq!("always".parse::<FsyncPolicy>(), Ok(FsyncPolicy::Always));
        let every = "250ms".parse::<FsyncPolicy>().unwrap();
        assert_eq!(every, FsyncPolicy::Every(Duration::from_millis(250)));
        assert_eq!(every.to_string(), "250ms");
        assert!("0ms".parse::<FsyncPolicy>().is_err());
        assert!("sometimes".parse::<FsyncPolicy>().is_err());
    }

    #[test]
    fn per_site_entries_are_normalised_and_checked() {
        let months =
            PerSite::<Months>::parse(&["WWW.Shop.example=6".into(), "blog.example = 12".into()])
                .unwrap();
        assert_eq!(months.get("shop.example"), Some(Months(6)));
        assert_eq!(months.get("blog.example"), Some(Months(12)));
        assert!(PerSite::<Months>::parse(&["a.example=0".into()]).is_err());
        assert!(PerSite::<Months>::parse(&["a.example".into()]).is_err());
        let zones = PerSite::<chrono_tz::Tz>::parse(&["a.example=Europe/Paris".into()]).unwrap();
        assert_eq!(zones.get("a.example"), Some(chrono_tz::Europe::Paris));
        assert!(PerSite::<chrono_tz::Tz>::parse(&["a.example=Mars/Olympus".into()]).is_err());
    }

    #[test]
    fn globs_keep_single_stars_within_a_segment() {
        let globs = PathGlobs::new(vec!["/admin/*".into(), "/private/**".into()]).unwrap();
        assert!(globs.set().is_match("/admin/users"));
        assert!(!globs.set().is_match("/admin/users/7"));
        assert!(globs.set().is_match("/private/a/b"));
        assert!(PathGlobs::new(vec!["/a/[".into()]).is_err());
    }
}
