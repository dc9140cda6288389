//! User agent → browser, OS and device class, plus the bot verdict.
//!
//! Parsing uses uap-core's `regexes.yaml` (vendored in `data/`) through the
//! `ua-parser` crate, then folds uap's fine-grained family names into the
//! names Plausible stores ("Chrome Mobile" is just Chrome, "Mac OS X" is
//! "Mac"), so that a report built for Plausible finds the same rows here.
//! Only these coarse columns are stored; the raw user agent never is, and it
//! is never logged either.

use std::sync::Arc;

use quick_cache::sync::Cache;
use thiserror::Error;

use super::bots::{BotDataError, BotDetector};
use crate::shared::SharedStr;

const UAP_REGEXES_YAML: &str = include_str!("data/uap-regexes.yaml");

/// Longer user agents are cut before parsing and caching, so one hostile
/// header cannot pin megabytes in the cache. Real ones stay well below this.
pub const MAX_USER_AGENT_BYTES: usize = 1024;

/// uap's family for anything it does not recognise.
const UAP_UNKNOWN: &str = "Other";
/// uap's device family for crawlers it recognises on its own.
const UAP_SPIDER_DEVICE: &str = "Spider";

/// uap browser families → the name Plausible stores for the same browser
/// (Plausible parses with Matomo's device detector and renames a few of its
/// families; a report built for Plausible filters on these exact strings).
/// Families not listed keep uap's spelling ("Samsung Internet", "Vivaldi").
const BROWSER_ALIASES: &[(&str, &str)] = &[
    ("Chrome Mobile", "Chrome"),
    ("Chrome Mobile iOS", "Chrome"),
    ("Chrome Mobile WebView", "Mobile App"),
    ("Mobile Safari", "Safari"),
    ("Mobile Safari UI/WKWebView", "Safari"),
    ("Firefox Mobile", "Firefox"),
    ("Firefox iOS", "Firefox"),
    ("Edge", "Microsoft Edge"),
    ("Edge Mobile", "Microsoft Edge"),
    ("Opera Mobile", "Opera"),
    ("Opera Mini", "Opera"),
    ("IE", "Internet Explorer"),
    ("IE Mobile", "Internet Explorer"),
    ("DuckDuckGo Mobile", "DuckDuckGo Privacy Browser"),
    ("Yandex Browser Mobile", "Yandex Browser"),
    ("Yandex Browser Lite", "Yandex Browser"),
    ("MiuiBrowser", "MIUI Browser"),
    // In-app browsers: Plausible files every app's web view as "Mobile App".
    ("Facebook", "Mobile App"),
    ("Instagram", "Mobile App"),
    ("LinkedIn", "Mobile App"),
    ("Pinterest", "Mobile App"),
    ("Snapchat", "Mobile App"),
    ("Twitter", "Mobile App"),
];

/// uap OS families → Plausible's names. Linux distributions that uap names
/// ("Ubuntu", "Fedora", …) keep their names, as Plausible's do.
const OS_ALIASES: &[(&str, &str)] = &[
    ("Mac OS X", "Mac"),
    ("Linux", "GNU/Linux"),
    ("Chrome OS", "Chrome OS"),
];

/// Names saltmark stored before it adopted Plausible's, and their
/// replacements: the migration `0007_plausible_vocabulary.sql` rewrites
/// stored rows with the same table, and [`upgrade_legacy_names`] rewrites
/// rows that were still in the spool when the collector was upgraded.
pub const LEGACY_DEVICE_NAMES: &[(&str, &str)] = &[
    ("desktop", "Desktop"),
    ("mobile", "Mobile"),
    ("tablet", "Tablet"),
];
/// See [`LEGACY_DEVICE_NAMES`].
pub const LEGACY_OS_NAMES: &[(&str, &str)] = &[("macOS", "Mac"), ("Linux", "GNU/Linux")];
/// See [`LEGACY_DEVICE_NAMES`].
pub const LEGACY_BROWSER_NAMES: &[(&str, &str)] = &[
    ("Edge", "Microsoft Edge"),
    ("Chrome WebView", "Mobile App"),
    ("DuckDuckGo", "DuckDuckGo Privacy Browser"),
];

/// Rewrites names stored before Plausible's vocabulary (see
/// [`LEGACY_DEVICE_NAMES`]) in place; current names pass unchanged.
pub fn upgrade_legacy_names(browser: &mut SharedStr, os: &mut SharedStr, device: &mut SharedStr) {
    let upgrade = |value: &mut SharedStr, table: &[(&str, &'static str)]| {
        if let Some((_, new)) = table.iter().find(|(old, _)| *old == value.as_str()) {
            *value = SharedStr::from_static(new);
        }
    };
    upgrade(browser, LEGACY_BROWSER_NAMES);
    upgrade(os, LEGACY_OS_NAMES);
    upgrade(device, LEGACY_DEVICE_NAMES);
}

/// Operating systems whose browsers are desktop class.
const DESKTOP_OSES: &[&str] = &[
    "Windows",
    "Mac",
    "GNU/Linux",
    "Ubuntu",
    "Debian",
    "Fedora",
    "Chrome OS",
    "FreeBSD",
    "OpenBSD",
];

/// Why the user agent parser could not be built at startup.
#[derive(Debug, Error)]
pub enum UserAgentError {
    #[error("uap-regexes.yaml is not valid: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("uap-regexes.yaml could not be compiled: {0}")]
    Compile(#[from] ua_parser::Error),
    #[error(transparent)]
    Bots(#[from] BotDataError),
}

/// Coarse device class, the only device detail we store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Desktop,
    Mobile,
    Tablet,
}

impl Device {
    /// The value stored in the database and shown in the dashboard.
    pub fn as_str(&self) -> &'static str {
        match self {
            Device::Desktop => "Desktop",
            Device::Mobile => "Mobile",
            Device::Tablet => "Tablet",
        }
    }

    /// Classifies by the screen width the tracker reported, for when the
    /// user agent does not tell (Plausible's breakpoints: 576 and 992 px).
    pub fn from_screen_width(width: u32) -> Device {
        match width {
            0..576 => Device::Mobile,
            576..992 => Device::Tablet,
            _ => Device::Desktop,
        }
    }
}

/// What we keep from a user agent. The names are [`SharedStr`]s so that
/// every row of a cached agent shares them instead of copying them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedAgent {
    pub is_bot: bool,
    /// "Chrome", "Safari", "Samsung Internet"…; empty when unknown.
    pub browser: SharedStr,
    /// Major and minor, as Plausible keeps them ("120.0"); nothing finer,
    /// since build numbers split one audience into many rows.
    pub browser_version: SharedStr,
    /// "Windows", "Mac", "iOS", "Android", "GNU/Linux", "Chrome OS"…
    pub os: SharedStr,
    /// Major, or major.minor when there is a minor ("10", "17.1", "17.0").
    pub os_version: SharedStr,
    /// `None` when the user agent alone does not decide.
    pub device: Option<Device>,
}

impl ParsedAgent {
    /// Device class for storage: the user agent's verdict if it has one,
    /// else the reported screen width, else desktop (the most common case
    /// among agents that do not say).
    pub fn device_class(&self, screen_width: Option<u32>) -> Device {
        self.device
            .or_else(|| screen_width.map(Device::from_screen_width))
            .unwrap_or(Device::Desktop)
    }
}

/// Parses user agents with a cache in front, since a site's traffic repeats
/// the same few hundred user agents and a uap parse costs microseconds.
pub struct AgentParser {
    extractor: ua_parser::Extractor<'static>,
    bots: BotDetector,
    cache: Cache<String, Arc<ParsedAgent>>,
}

impl AgentParser {
    /// Builds the parser from the embedded uap-core data and bot list;
    /// `cache_capacity` is the number of distinct user agents remembered.
    pub fn embedded(cache_capacity: usize) -> Result<AgentParser, UserAgentError> {
        let regexes: ua_parser::Regexes<'static> = serde_yaml::from_str(UAP_REGEXES_YAML)?;
        let extractor = ua_parser::Extractor::try_from(regexes)?;
        Ok(AgentParser {
            extractor,
            bots: BotDetector::embedded()?,
            cache: Cache::new(cache_capacity.max(1)),
        })
    }

    /// Parses (or recalls) one user agent.
    pub fn parse(&self, user_agent: &str) -> Arc<ParsedAgent> {
        let key = truncate_on_char_boundary(user_agent.trim(), MAX_USER_AGENT_BYTES);
        if let Some(parsed) = self.cache.get(key) {
            return parsed;
        }
        let parsed = Arc::new(self.parse_uncached(key));
        self.cache.insert(key.to_owned(), Arc::clone(&parsed));
        parsed
    }

    fn parse_uncached(&self, user_agent: &str) -> ParsedAgent {
        let browser = self.extractor.ua.extract(user_agent);
        let os = self.extractor.os.extract(user_agent);
        let is_uap_spider = self
            .extractor
            .dev
            .extract(user_agent)
            .is_some_and(|device| device.device == UAP_SPIDER_DEVICE);
        let (browser, browser_version) = browser.map(browser_fields).unwrap_or_default();
        let (os, os_version) = os.map(os_fields).unwrap_or_default();
        let device = device_from_user_agent(user_agent, &os);
        ParsedAgent {
            is_bot: is_uap_spider || self.bots.is_bot(user_agent),
            browser: browser.into(),
            browser_version: browser_version.into(),
            os: os.into(),
            os_version: os_version.into(),
            device,
        }
    }
}

fn browser_fields(value: ua_parser::user_agent::ValueRef<'_>) -> (String, String) {
    if value.family == UAP_UNKNOWN {
        return Default::default();
    }
    let name = alias_or_self(BROWSER_ALIASES, &value.family).to_owned();
    // Plausible keeps no version for in-app browsers.
    if name == "Mobile App" {
        return (name, String::new());
    }
    let version = short_version(value.major, value.minor);
    (name, version)
}

fn os_fields(value: ua_parser::os::ValueRef<'_>) -> (String, String) {
    if value.os == UAP_UNKNOWN {
        return Default::default();
    }
    let name = alias_or_self(OS_ALIASES, &value.os).to_owned();
    let version = short_version(value.major.as_deref(), value.minor.as_deref());
    (name, version)
}

fn alias_or_self<'a>(aliases: &'a [(&'a str, &'a str)], family: &'a str) -> &'a str {
    aliases
        .iter()
        .find(|(from, _)| *from == family)
        .map_or(family, |(_, to)| to)
}

/// "17" + "1" → "17.1", "120" + "0" → "120.0", "10" + none → "10": the
/// major.minor Plausible stores.
fn short_version(major: Option<&str>, minor: Option<&str>) -> String {
    match (major.map(str::trim), minor.map(str::trim)) {
        (Some(major), Some(minor)) if !major.is_empty() && !minor.is_empty() => {
            format!("{major}.{minor}")
        }
        (Some(major), _) => major.to_owned(),
        (None, _) => String::new(),
    }
}

/// Device class from tokens in the user agent. Tablets first, because iPad
/// and Android tablet agents also carry phone-like tokens ("Mobile/15E148").
/// iPadOS Safari in desktop mode claims to be a Mac and is counted as
/// desktop; nothing in the user agent can tell them apart.
fn device_from_user_agent(user_agent: &str, os: &str) -> Option<Device> {
    let has = |token: &str| user_agent.contains(token);
    let is_android = has("Android");
    // "Tablet PC 2.0" is a Windows touch-capability token on laptops.
    let says_tablet = has("Tablet") && !has("Tablet PC");
    if has("iPad") || says_tablet || (is_android && !has("Mobile")) {
        return Some(Device::Tablet);
    }
    if has("iPhone") || has("iPod") || has("Mobile") || is_android {
        return Some(Device::Mobile);
    }
    DESKTOP_OSES.contains(&os).then_some(Device::Desktop)
}

fn truncate_on_char_boundary(value: &str, max_bytes: usize) -> &str {
    if value.len() <= max_bytes {
        return value;
    }
    let mut end = max_bytes;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn parser() -> &'static AgentParser {
        static PARSER: OnceLock<AgentParser> = OnceLock::new();
        PARSER.get_or_init(|| AgentParser::embedded(1000).expect("embedded uap data builds"))
    }

    struct Expected {
        ua: &'static str,
        browser: &'static str,
        browser_version: &'static str,
        os: &'static str,
        os_version: &'static str,
        device: Option<Device>,
    }

    const fn expect(
        ua: &'static str,
        browser: &'static str,
        browser_version: &'static str,
        os: &'static str,
        os_version: &'static str,
        device: Option<Device>,
    ) -> Expected {
        Expected {
            ua,
            browser,
            browser_version,
            os,
            os_version,
            device,
        }
    }

    const DESKTOP: Option<Device> = Some(Device::Desktop);
    const MOBILE: Option<Device> = Some(Device::Mobile);
    const TABLET: Option<Device> = Some(Device::Tablet);

    const REAL_BROWSERS: &[Expected] = &[
        expect(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            "Chrome", "120.0", "Windows", "10", DESKTOP,
        ),
        expect(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
            "Safari", "17.2", "Mac", "10.15", DESKTOP,
        ),
        expect(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
            "Safari", "17.1", "iOS", "17.1", MOBILE,
        ),
        expect(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
            "Chrome", "120.0", "iOS", "17.2", MOBILE,
        ),
        expect(
            "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
            "Safari", "16.6", "iOS", "16.6", TABLET,
        ),
        expect(
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
            "Chrome", "120.0", "Android", "14", MOBILE,
        ),
        expect(
            "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
            "Firefox", "121.0", "Android", "14", MOBILE,
        ),
        expect(
            "Mozilla/5.0 (Android 13; Tablet; rv:121.0) Gecko/121.0 Firefox/121.0",
            "Firefox", "121.0", "Android", "13", TABLET,
        ),
        expect(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
            "Firefox", "121.0", "Windows", "10", DESKTOP,
        ),
        expect(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
            "Microsoft Edge", "120.0", "Windows", "10", DESKTOP,
        ),
        expect(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
            "Opera", "106.0", "Windows", "10", DESKTOP,
        ),
        expect(
            "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
            "Samsung Internet", "23.0", "Android", "13", MOBILE,
        ),
        expect(
            "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Safari/537.36",
            "Samsung Internet", "23.0", "Android", "13", TABLET,
        ),
        expect(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            "Chrome", "120.0", "GNU/Linux", "", DESKTOP,
        ),
        expect(
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
            "Firefox", "121.0", "Ubuntu", "", DESKTOP,
        ),
        expect(
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            "Chrome", "120.0", "Chrome OS", "14541.0", DESKTOP,
        ),
    ];

    #[test]
    fn real_browsers_are_parsed_and_normalised() {
        let mut wrong = Vec::new();
        for expected in REAL_BROWSERS {
            let parsed = parser().parse(expected.ua);
            let actual = (
                parsed.browser.as_str(),
                parsed.browser_version.as_str(),
                parsed.os.as_str(),
                parsed.os_version.as_str(),
                parsed.device,
                parsed.is_bot,
            );
            let wanted = (
                expected.browser,
                expected.browser_version,
                expected.os,
                expected.os_version,
                expected.device,
                false,
            );
            if actual != wanted {
                wrong.push(format!("{actual:?} instead of {wanted:?}: {}", expected.ua));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn bots_are_flagged() {
        for ua in [
            "",
            "   ",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
            "curl/8.4.0",
        ] {
            assert!(parser().parse(ua).is_bot, "not a bot: {ua:?}");
        }
    }

    #[test]
    fn uap_spiders_count_as_bots_even_if_the_bot_list_misses_them() {
        // Unknown to crawler-user-agents, but uap's generic "crawler" rule
        // classifies it as a Spider device.
        let ua = "Mozilla/5.0 (compatible; ZzqxWebCrawler/1.0; +https://example.invalid)";
        assert!(
            !parser().bots.is_bot(ua),
            "test needs a UA the bot list misses"
        );
        assert!(parser().parse(ua).is_bot);
    }

    #[test]
    fn unknown_user_agents_give_empty_fields() {
        let parsed = parser().parse("SomethingEntirelyUnknown/1.0 (no details at all)");
        assert_eq!(parsed.browser, "");
        assert_eq!(parsed.browser_version, "");
        assert_eq!(parsed.os, "");
        assert_eq!(parsed.os_version, "");
        assert_eq!(parsed.device, None);
    }

    #[test]
    fn device_class_prefers_user_agent_then_screen_width() {
        let undecided = ParsedAgent::default();
        assert_eq!(undecided.device_class(None), Device::Desktop);
        assert_eq!(undecided.device_class(Some(390)), Device::Mobile);
        assert_eq!(undecided.device_class(Some(800)), Device::Tablet);
        assert_eq!(undecided.device_class(Some(1440)), Device::Desktop);
        let phone = ParsedAgent {
            device: MOBILE,
            ..ParsedAgent::default()
        };
        assert_eq!(phone.device_class(Some(1440)), Device::Mobile);
    }

    #[test]
    fn screen_width_thresholds_match_plausible() {
        assert_eq!(Device::from_screen_width(0), Device::Mobile);
        assert_eq!(Device::from_screen_width(575), Device::Mobile);
        assert_eq!(Device::from_screen_width(576), Device::Tablet);
        assert_eq!(Device::from_screen_width(991), Device::Tablet);
        assert_eq!(Device::from_screen_width(992), Device::Desktop);
        assert_eq!(Device::Desktop.as_str(), "Desktop");
        assert_eq!(Device::Mobile.as_str(), "Mobile");
        assert_eq!(Device::Tablet.as_str(), "Tablet");
    }

    #[test]
    fn repeated_user_agents_come_from_the_cache() {
        let parser = AgentParser::embedded(10).expect("builds");
        let ua = REAL_BROWSERS[0].ua;
        let first = parser.parse(ua);
        let second = parser.parse(ua);
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(parser.cache.len(), 1);
    }

    #[test]
    fn huge_user_agents_are_truncated_before_caching() {
        let parser = AgentParser::embedded(10).expect("builds");
        let huge = format!("{} {}", REAL_BROWSERS[0].ua, "é".repeat(10_000));
        let parsed = parser.parse(&huge);
        assert_eq!(parsed.browser, "Chrome");
        let cached_key_len = MAX_USER_AGENT_BYTES;
        let truncated = truncate_on_char_boundary(&huge, cached_key_len);
        assert!(truncated.len() <= MAX_USER_AGENT_BYTES);
        assert!(parser.cache.get(truncated).is_some());
    }

    #[test]
    fn windows_tablet_pc_token_is_still_desktop() {
        let ua = "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; SLCC2; Tablet PC 2.0; rv:11.0) like Gecko";
        let parsed = parser().parse(ua);
        assert_eq!(parsed.device, DESKTOP);
        assert_eq!(parsed.browser, "Internet Explorer");
        assert_eq!(parsed.os, "Windows");
    }

    #[test]
    fn short_version_is_major_and_minor() {
        assert_eq!(short_version(Some("17"), Some("1")), "17.1");
        assert_eq!(short_version(Some("17"), Some("0")), "17.0");
        assert_eq!(short_version(Some("10"), None), "10");
        assert_eq!(short_version(None, Some("3")), "");
    }

    #[test]
    fn parser_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<AgentParser>();
    }
}
