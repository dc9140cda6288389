//! Referrer + page → where the visit came from: a source name ("Google",
//! "Facebook"), the referring host when we do not know it, or direct.
//!
//! Names come from Snowplow's referer-parser list (`data/referers.yml`) plus
//! our own `data/referrers-extra.yml` for sources that list predates (AI
//! assistants, Bluesky, Threads, X…). Only host and path of the referring
//! page are kept: its query string can hold search terms or tokens that
//! belong to the visitor, not to the site owner's statistics.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use quick_cache::sync::Cache;
use thiserror::Error;
use url::Url;

use super::page::{normalize_host, percent_decode, truncate_to_char_boundary};

const REFERERS_YML: &str = include_str!("data/referers.yml");
const REFERRERS_EXTRA_YML: &str = include_str!("data/referrers-extra.yml");

/// Same cap as page pathnames: enough for a real URL, bounded for storage.
pub const MAX_REFERRER_BYTES: usize = 2000;
/// Cap for a site-supplied `utm_source` / `ref` / `source` value.
pub const MAX_SOURCE_BYTES: usize = 256;

/// Classified referrers kept, keyed by the referrer without its query
/// string and fragment. Real traffic repeats a few hundred referrers; the
/// cap bounds what junk referrers can take (~0.5 KB each).
const CACHE_ENTRIES: usize = 2048;
/// Longer keys are classified without the cache.
const MAX_CACHED_KEY_BYTES: usize = 512;

/// Brand fallback (`google.<tld>` → Google) only for labels at least this long:
/// one- and two-letter labels (t.co, fb.me) would claim t.me or fb.gg.
const MIN_BRAND_LABEL_LEN: usize = 4;

/// Dataset names folded into their parent brand: a dashboard reader thinks
/// of images.google.fr as Google, not as a separate "Google Images" source.
/// Products that are not search (Gmail, Google News, Gemini) stay apart.
const NAME_ALIASES: &[(&str, &str)] = &[
    ("Google Images", "Google"),
    ("Google Video", "Google"),
    ("Google Blogsearch", "Google"),
    ("Google Product Search", "Google"),
    ("Yahoo! Images", "Yahoo!"),
];

/// Android apps that send `android-app://<package>` instead of a URL.
const ANDROID_APP_SOURCES: &[(&str, &str)] = &[
    ("com.google.android.gm", "Gmail"),
    ("com.google.android.googlequicksearchbox", "Google"),
    ("com.google.android.apps.searchlite", "Google"),
    ("com.slack", "Slack"),
    ("org.telegram.messenger", "Telegram"),
];

/// Why the embedded referrer lists could not be loaded.
#[derive(Debug, Error)]
pub enum ReferrerDataError {
    #[error("{file} is not valid YAML: {source}")]
    Yaml {
        file: &'static str,
        source: serde_yaml::Error,
    },
    #[error("{file}: {detail}")]
    Shape { file: &'static str, detail: String },
}

/// Where a visit came from, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Referrer {
    /// Host + path of the referring page, no scheme, query or fragment,
    /// "www." stripped, a bare "/" path dropped; empty for direct visits.
    pub referrer: String,
    /// Canonical source name, or the referring host if unknown; empty means
    /// direct.
    pub source: String,
}

/// Maps referrer hosts and campaign values to source names. Built once at
/// startup; lookups are plain hash-map probes, and each referrer's parsed
/// host, path and source are cached (the own-site check runs per event).
pub struct ReferrerClassifier {
    /// Host without "www." → name. Domains with a path in the dataset
    /// ("google.de/imgres") are skipped: we classify by host only.
    name_by_host: HashMap<String, String>,
    /// First label of a registrable domain → its only name ("google" →
    /// "Google"), for hosts on TLDs the list does not enumerate.
    name_by_brand: HashMap<String, String>,
    /// Lowercased name → canonical name.
    name_by_lowercase: HashMap<String, String>,
    /// Name reduced to lowercase ASCII alphanumerics ("producthunt") →
    /// canonical name, so `?ref=producthunt` finds "Product Hunt".
    name_by_compact: HashMap<String, String>,
    /// Referrer up to its `?` / `#` → what it classifies as, whatever the
    /// page and site (neither the query nor the fragment changes the host,
    /// the path or the source).
    cache: Cache<String, Arc<Classified>>,
}

/// What a referrer classifies as before the own-site check.
#[derive(Debug)]
struct Classified {
    /// Normalised host; empty unless an http(s) referrer.
    host: String,
    /// `comparable_registrable_domain(host)`, as the start of that suffix.
    host_domain_start: Option<usize>,
    /// `Referrer::referrer` when the referrer is external.
    host_and_path: String,
    /// `Referrer::source` when external and no source parameter is given.
    source: String,
}

impl Classified {
    fn host_domain(&self) -> Option<&str> {
        self.host_domain_start.map(|start| &self.host[start..])
    }
}

impl ReferrerClassifier {
    /// Loads `referrers-extra.yml` then `referers.yml`; the first file to
    /// claim a domain or name keeps it, so the extra list wins conflicts.
    pub fn embedded() -> Result<ReferrerClassifier, ReferrerDataError> {
        let mut sources = parse_sources("referrers-extra.yml", REFERRERS_EXTRA_YML)?;
        sources.extend(parse_sources("referers.yml", REFERERS_YML)?);
        Ok(Self::from_sources(&sources))
    }

    fn from_sources(sources: &[KnownSource]) -> ReferrerClassifier {
        let mut classifier = ReferrerClassifier {
            name_by_host: HashMap::new(),
            name_by_brand: brand_index(sources),
            name_by_lowercase: HashMap::new(),
            name_by_compact: HashMap::new(),
            cache: Cache::new(CACHE_ENTRIES),
        };
        for source in sources {
            classifier.index_source(source);
        }
        classifier
    }

    fn index_source(&mut self, source: &KnownSource) {
        for host in source.hosts() {
            self.name_by_host
                .entry(host)
                .or_insert_with(|| source.name.clone());
        }
        self.name_by_lowercase
            .entry(source.name.to_lowercase())
            .or_insert_with(|| source.name.clone());
        let compact = compact_key(&source.name);
        if !compact.is_empty() {
            self.name_by_compact
                .entry(compact)
                .or_insert_with(|| source.name.clone());
        }
    }

    /// Decides `source` and `referrer` for one event.
    ///
    /// `source_param` is `Page::source_param`: a tag the site owner put in
    /// the link beats whatever the browser reports. `page_host` is
    /// `Page::hostname` and `site` the site's domain (lowercase, no "www."):
    /// navigation inside the site is not a source, so it counts as direct,
    /// and an own-site referrer is never stored, even next to a
    /// `source_param`.
    pub fn classify(
        &self,
        referrer_url: Option<&str>,
        source_param: &str,
        page_host: &str,
        site: &str,
    ) -> Referrer {
        let classified = referrer_url
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(|url| self.classified(url));
        let external = classified
            .as_deref()
            .filter(|c| !is_own_site(&c.host, c.host_domain(), page_host, site));
        let referrer = external
            .map(|c| c.host_and_path.clone())
            .unwrap_or_default();
        let source = match source_param.trim() {
            "" => external.map(|c| c.source.clone()).unwrap_or_default(),
            param => self.canonical_source_param(param),
        };
        Referrer { referrer, source }
    }

    /// The cached classification of a (trimmed, non-empty) referrer.
    fn classified(&self, url: &str) -> Arc<Classified> {
        let key = url.split(['?', '#']).next().unwrap_or(url);
        if key.len() > MAX_CACHED_KEY_BYTES {
            return Arc::new(self.classify_uncached(key));
        }
        if let Some(hit) = self.cache.get(key) {
            return hit;
        }
        let classified = Arc::new(self.classify_uncached(key));
        self.cache.insert(key.to_owned(), classified.clone());
        classified
    }

    fn classify_uncached(&self, url: &str) -> Classified {
        let parsed = parse_referrer(url);
        let host = parsed.host().to_owned();
        let host_domain_start = comparable_registrable_domain(&host).map(|d| host.len() - d.len());
        Classified {
            host_and_path: parsed.host_and_path(),
            source: self.source_of(&parsed),
            host,
            host_domain_start,
        }
    }

    fn source_of(&self, parsed: &ParsedReferrer) -> String {
        match parsed {
            ParsedReferrer::Web { host, .. } => self
                .name_for_host(host)
                .map(str::to_owned)
                .unwrap_or_else(|| host.clone()),
            ParsedReferrer::App { name } => (*name).to_owned(),
            ParsedReferrer::Unusable => String::new(),
        }
    }

    /// Known source name for a host: exact match, then parent domains, then
    /// the brand of its registrable domain.
    fn name_for_host(&self, host: &str) -> Option<&str> {
        let by_domain = parent_domains(host).find_map(|domain| self.name_by_host.get(domain));
        by_domain
            .or_else(|| self.name_by_brand.get(brand_label(host)?))
            .map(String::as_str)
    }

    fn canonical_source_param(&self, param: &str) -> String {
        let by_name = self
            .name_by_lowercase
            .get(&param.to_lowercase())
            .or_else(|| self.name_by_compact.get(&compact_key(param)));
        let by_domain = || {
            looks_like_domain(param)
                .then(|| self.name_for_host(&normalize_host(param)))
                .flatten()
        };
        match by_name.map(String::as_str).or_else(by_domain) {
            Some(name) => name.to_owned(),
            None => truncate_to_char_boundary(param.to_owned(), MAX_SOURCE_BYTES),
        }
    }
}

/// One named source from a referer-parser style file.
struct KnownSource {
    name: String,
    domains: Vec<String>,
}

impl KnownSource {
    /// The dataset's host-only domains, normalised like referrer hosts.
    fn hosts(&self) -> impl Iterator<Item = String> + '_ {
        self.domains
            .iter()
            .filter(|domain| !domain.contains('/'))
            .map(|domain| normalize_host(domain))
    }
}

/// Reads `section: { Name: { domains: [...] } }` keeping file order, so that
/// within one file the first listing of a domain wins deterministically.
fn parse_sources(file: &'static str, text: &str) -> Result<Vec<KnownSource>, ReferrerDataError> {
    let shape = |detail: &str| ReferrerDataError::Shape {
        file,
        detail: detail.to_owned(),
    };
    let document: serde_yaml::Mapping =
        serde_yaml::from_str(text).map_err(|source| ReferrerDataError::Yaml { file, source })?;
    let mut sources = Vec::new();
    for (_section, entries) in document {
        let entries = entries
            .as_mapping()
            .ok_or_else(|| shape("a section is not a mapping"))?;
        for (name, entry) in entries {
            let name = name
                .as_str()
                .ok_or_else(|| shape("a source name is not a string"))?;
            sources.push(KnownSource {
                name: canonical_dataset_name(name).to_owned(),
                domains: domains_of(entry).ok_or_else(|| shape(&format!("{name}: bad domains")))?,
            });
        }
    }
    Ok(sources)
}

fn canonical_dataset_name(name: &str) -> &str {
    NAME_ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, canonical)| canonical)
}

fn domains_of(entry: &serde_yaml::Value) -> Option<Vec<String>> {
    let Some(domains) = entry.get("domains") else {
        return Some(Vec::new());
    };
    domains
        .as_sequence()?
        .iter()
        .map(|domain| domain.as_str().map(str::to_owned))
        .collect()
}

/// Brand label → name, only for labels that (a) belong to registrable
/// domains listed as such (www.google.de, not news.google.de, which would
/// make "google" ambiguous between Google and Google News), (b) map to
/// exactly one name, and (c) appear under at least two registrable domains,
/// i.e. the dataset itself says the brand spans TLDs.
fn brand_index(sources: &[KnownSource]) -> HashMap<String, String> {
    let mut names_by_label: HashMap<String, HashSet<&str>> = HashMap::new();
    let mut domains_by_label: HashMap<String, HashSet<String>> = HashMap::new();
    for source in sources {
        for host in source.hosts() {
            let Some(label) = registrable_brand(&host) else {
                continue;
            };
            names_by_label
                .entry(label.to_owned())
                .or_default()
                .insert(&source.name);
            domains_by_label
                .entry(label.to_owned())
                .or_default()
                .insert(host.clone());
        }
    }
    names_by_label
        .into_iter()
        .filter(|(label, _)| domains_by_label.get(label).is_some_and(|d| d.len() >= 2))
        .filter_map(|(label, names)| single(names).map(|name| (label, name.to_owned())))
        .collect()
}

/// The brand label of `host` when `host` is itself a registrable domain.
fn registrable_brand(host: &str) -> Option<&str> {
    let label = brand_label(host)?;
    (psl::domain_str(host)? == host).then_some(label)
}

/// First label of the registrable domain: "google" for images.google.co.uk.
fn brand_label(host: &str) -> Option<&str> {
    let label = psl::domain_str(host)?.split('.').next()?;
    (label.len() >= MIN_BRAND_LABEL_LEN).then_some(label)
}

fn single<T>(set: HashSet<T>) -> Option<T> {
    let mut items = set.into_iter();
    match (items.next(), items.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// `host`, then each parent domain down to two labels.
fn parent_domains(host: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(host), |domain| {
        let (_, parent) = domain.split_once('.')?;
        parent.contains('.').then_some(parent)
    })
}

fn compact_key(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn looks_like_domain(value: &str) -> bool {
    value.contains('.') && !value.contains(|c: char| c.is_whitespace() || c == '/' || c == ':')
}

/// A referrer reduced to what classification needs.
enum ParsedReferrer {
    Web { host: String, path: String },
    App { name: &'static str },
    Unusable,
}

impl ParsedReferrer {
    fn host(&self) -> &str {
        match self {
            ParsedReferrer::Web { host, .. } => host,
            _ => "",
        }
    }

    fn host_and_path(&self) -> String {
        match self {
            ParsedReferrer::Web { host, path } => {
                truncate_to_char_boundary(format!("{host}{path}"), MAX_REFERRER_BYTES)
            }
            _ => String::new(),
        }
    }
}

fn parse_referrer(raw: &str) -> ParsedReferrer {
    let Ok(url) = Url::parse(raw) else {
        return ParsedReferrer::Unusable;
    };
    match url.scheme() {
        "http" | "https" => web_referrer(&url),
        "android-app" => android_app_referrer(&url),
        _ => ParsedReferrer::Unusable,
    }
}

fn web_referrer(url: &Url) -> ParsedReferrer {
    let Some(host) = url.host_str().map(normalize_host).filter(|h| !h.is_empty()) else {
        return ParsedReferrer::Unusable;
    };
    let path = match percent_decode(url.path()) {
        decoded if decoded == "/" => String::new(),
        decoded => decoded.into_owned(),
    };
    ParsedReferrer::Web { host, path }
}

fn android_app_referrer(url: &Url) -> ParsedReferrer {
    let package = url.host_str().unwrap_or_default();
    ANDROID_APP_SOURCES
        .iter()
        .find(|(app, _)| app.eq_ignore_ascii_case(package))
        .map_or(ParsedReferrer::Unusable, |(_, name)| ParsedReferrer::App {
            name,
        })
}

/// True when `host` is the page's own host, the site, a subdomain of the
/// site, or shares the site's / page's registrable domain. `host_domain` is
/// `comparable_registrable_domain(host)`.
fn is_own_site(host: &str, host_domain: Option<&str>, page_host: &str, site: &str) -> bool {
    if host.is_empty() {
        return false;
    }
    if is_same_or_subdomain(host, page_host) || is_same_or_subdomain(host, site) {
        return true;
    }
    // IP addresses and single-label hosts have no registrable domain worth
    // comparing (psl would call "0.1" the domain of 10.0.0.1).
    let Some(host_domain) = host_domain else {
        return false;
    };
    let shares = |other: &str| comparable_registrable_domain(other) == Some(host_domain);
    shares(site) || (page_host != site && shares(page_host))
}

/// `host` is `parent` or ends with `.parent`.
fn is_same_or_subdomain(host: &str, parent: &str) -> bool {
    !parent.is_empty()
        && host
            .strip_suffix(parent)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

fn comparable_registrable_domain(host: &str) -> Option<&str> {
    let bracketless = host.trim_start_matches('[').trim_end_matches(']');
    if bracketless.parse::<IpAddr>().is_ok() || !host.contains('.') {
        return None;
    }
    psl::domain_str(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "example.com";

    fn classifier() -> ReferrerClassifier {
        ReferrerClassifier::embedded().expect("embedded referrer data loads")
    }

    fn source_of(classifier: &ReferrerClassifier, url: &str) -> String {
        classifier.classify(Some(url), "", SITE, SITE).source
    }

    #[test]
    fn google_on_any_tld_and_subdomain_is_google() {
        let c = classifier();
        for url in [
            "https://www.google.com/",
            "https://google.com/search?q=x",
            "https://www.google.de/",
            "https://google.de/",
            "https://www.google.co.uk/",
            "https://images.google.fr/",
            "https://www.google.com.au/url?q=1",
            "https://google.xyz/",
            "https://support.google.com/",
            "https://video.google.com/",
            "https://blogsearch.google.de/",
        ] {
            assert_eq!(source_of(&c, url), "Google", "{url}");
        }
    }

    #[test]
    fn well_known_sources_get_their_names() {
        let c = classifier();
        let cases = [
            ("https://www.bing.com/search?q=a", "Bing"),
            ("https://t.co/abc123", "Twitter"),
            ("https://x.com/someone/status/1", "Twitter"),
            ("https://chatgpt.com/", "ChatGPT"),
            ("https://chat.openai.com/c/1", "ChatGPT"),
            ("https://www.perplexity.ai/search/1", "Perplexity"),
            ("https://claude.ai/chat/1", "Claude"),
            ("https://gemini.google.com/app", "Gemini"),
            ("https://copilot.microsoft.com/", "Copilot"),
            ("https://duckduckgo.com/", "DuckDuckGo"),
            ("https://search.brave.com/search?q=a", "Brave Search"),
            ("https://news.ycombinator.com/item?id=1", "Hacker News"),
            ("https://l.facebook.com/l.php?u=x", "Facebook"),
            ("https://lnkd.in/abc", "LinkedIn"),
            ("https://www.linkedin.com/feed/", "LinkedIn"),
            ("https://bsky.app/profile/x", "Bluesky"),
            ("https://mail.google.com/", "Gmail"),
            ("https://yandex.ru/", "Yandex"),
            ("https://de.search.yahoo.com/", "Yahoo!"),
            ("https://images.search.yahoo.com/", "Yahoo!"),
            ("https://news.google.com/", "Google News"),
            ("https://out.reddit.com/t3_x", "Reddit"),
        ];
        for (url, expected) in cases {
            assert_eq!(source_of(&c, url), expected, "{url}");
        }
    }

    #[test]
    fn self_referrals_are_direct() {
        let c = classifier();
        for url in [
            "https://example.com/pricing",
            "https://www.example.com/",
            "https://blog.example.com/post",
        ] {
            assert_eq!(
                c.classify(Some(url), "", SITE, SITE),
                Referrer::default(),
                "{url}"
            );
        }
        // The page host counts even when it differs from the site setting.
        let mirror = c.classify(
            Some("https://docs.example.org/x"),
            "",
            "docs.example.org",
            SITE,
        );
        assert_eq!(mirror, Referrer::default());
    }

    #[test]
    fn a_similarly_named_site_is_not_a_self_referral() {
        let c = classifier();
        let r = c.classify(Some("https://notexample.com/x"), "", SITE, SITE);
        assert_eq!(r.source, "notexample.com");
    }

    #[test]
    fn source_param_wins_over_the_referrer() {
        let c = classifier();
        let r = c.classify(
            Some("https://www.google.com/search?q=a"),
            "newsletter",
            SITE,
            SITE,
        );
        assert_eq!(r.source, "newsletter");
        assert_eq!(r.referrer, "google.com/search");
    }

    #[test]
    fn source_param_is_canonicalised_when_known() {
        let c = classifier();
        let canonical = |param: &str| c.classify(None, param, SITE, SITE).source;
        assert_eq!(canonical("producthunt"), "Product Hunt");
        assert_eq!(canonical("google"), "Google");
        assert_eq!(canonical("GOOGLE"), "Google");
        assert_eq!(canonical("google.com"), "Google");
        assert_eq!(canonical("news.ycombinator.com"), "Hacker News");
        assert_eq!(canonical("hacker news"), "Hacker News");
        assert_eq!(canonical("twitter"), "Twitter");
        assert_eq!(canonical("  My Newsletter "), "My Newsletter");
        assert_eq!(canonical("hn"), "hn");
        assert_eq!(canonical(&"ß".repeat(300)).len(), MAX_SOURCE_BYTES);
    }

    #[test]
    fn unknown_hosts_are_their_own_source() {
        let c = classifier();
        let r = c.classify(
            Some("https://www.someblog.example.net/2024/post"),
            "",
            SITE,
            SITE,
        );
        assert_eq!(r.source, "someblog.example.net");
        assert_eq!(r.referrer, "someblog.example.net/2024/post");
    }

    #[test]
    fn referrer_keeps_no_query_or_fragment() {
        let c = classifier();
        let r = c.classify(
            Some("https://Forum.Example.net/thread/42?session=secret&q=me#reply-3"),
            "",
            SITE,
            SITE,
        );
        assert_eq!(r.referrer, "forum.example.net/thread/42");
        assert!(!r.referrer.contains("secret"));
        let root = c.classify(Some("https://www.bing.com/?q=private"), "", SITE, SITE);
        assert_eq!(root.referrer, "bing.com");
    }

    #[test]
    fn referrer_is_capped() {
        let c = classifier();
        let url = format!("https://forum.example.net/{}", "ä".repeat(2000));
        let r = c.classify(Some(&url), "", SITE, SITE);
        assert!(r.referrer.len() <= MAX_REFERRER_BYTES);
        assert!(r.referrer.len() >= MAX_REFERRER_BYTES - 1);
    }

    #[test]
    fn missing_or_unusable_referrers_are_direct() {
        let c = classifier();
        for referrer in [
            None,
            Some(""),
            Some("  "),
            Some("not a url"),
            Some("file:///x"),
            Some("about:blank"),
        ] {
            assert_eq!(
                c.classify(referrer, "", SITE, SITE),
                Referrer::default(),
                "{referrer:?}"
            );
        }
    }

    #[test]
    fn android_apps_map_to_their_names() {
        let c = classifier();
        let gmail = c.classify(Some("android-app://com.google.android.gm"), "", SITE, SITE);
        assert_eq!(
            gmail,
            Referrer {
                referrer: String::new(),
                source: "Gmail".into()
            }
        );
        let unknown = c.classify(Some("android-app://com.unknown.app"), "", SITE, SITE);
        assert_eq!(unknown, Referrer::default());
    }

    #[test]
    fn short_labels_get_no_brand_fallback() {
        let c = classifier();
        // t.co is Twitter, but t.me is Telegram and must not become Twitter.
        assert_eq!(source_of(&c, "https://t.me/channel"), "t.me");
        assert_eq!(source_of(&c, "https://fb.gg/x"), "fb.gg");
    }

    #[test]
    fn extra_file_wins_conflicts() {
        let c = classifier();
        // referers.yml spells it "DuckDuckGoL"; the extra file corrects it.
        assert_eq!(source_of(&c, "https://duckduckgo.com/?q=a"), "DuckDuckGo");
    }

    #[test]
    fn ip_address_referrers_are_not_self_referrals() {
        let c = classifier();
        let r = c.classify(Some("http://10.0.0.1/admin"), "", "127.0.0.1", "");
        assert_eq!(r.source, "10.0.0.1");
    }

    #[test]
    fn brand_needs_a_unique_name_across_several_domains() {
        let sources = [
            KnownSource {
                name: "Alpha".into(),
                domains: vec!["alpha.com".into(), "www.alpha.de".into()],
            },
            KnownSource {
                name: "Beta".into(),
                domains: vec!["beta.com".into()],
            },
            KnownSource {
                name: "Gamma".into(),
                domains: vec!["gamma.com".into(), "gamma.fr".into()],
            },
            KnownSource {
                name: "Gamma Two".into(),
                domains: vec!["gamma.de".into()],
            },
        ];
        let c = ReferrerClassifier::from_sources(&sources);
        assert_eq!(c.name_for_host("alpha.co.uk"), Some("Alpha"));
        assert_eq!(c.name_for_host("beta.de"), None);
        assert_eq!(c.name_for_host("gamma.it"), None);
        assert_eq!(c.name_for_host("gamma.fr"), Some("Gamma"));
    }

    #[test]
    fn cached_referrers_are_still_checked_against_each_site() {
        let c = classifier();
        let url = "https://blog.example.com/post?utm=1";
        let own = c.classify(Some(url), "", SITE, SITE);
        assert_eq!(own, Referrer::default());
        // Same referrer (now cached, other query string) on another site.
        let other = c.classify(
            Some("https://blog.example.com/post#top"),
            "",
            "shop.test",
            "shop.test",
        );
        assert_eq!(other.referrer, "blog.example.com/post");
        assert_eq!(other.source, "blog.example.com");
        // And back: still own-site for example.com, on either argument.
        assert_eq!(
            c.classify(Some(url), "", SITE, "other.test"),
            Referrer::default()
        );
        assert_eq!(
            c.classify(Some(url), "", "x.test", SITE),
            Referrer::default()
        );
    }

    #[test]
    fn cached_and_uncached_classifications_agree() {
        let c = classifier();
        let fresh = classifier();
        for url in [
            "https://www.google.de/search?q=a",
            "https://t.co/abc123",
            "android-app://com.google.android.gm",
            "not a url",
            "http://10.0.0.1/admin",
            "https://news.ycombinator.com/item?id=1",
            "https://user@host.example.net:8080/a%20b/?x#y",
        ] {
            c.classify(Some(url), "", "warm.test", "warm.test");
            for site in [SITE, "host.example.net", "127.0.0.1", ""] {
                fresh.cache.clear();
                assert_eq!(
                    c.classify(Some(url), "", site, site),
                    fresh.classify(Some(url), "", site, site),
                    "{url} on {site}"
                );
            }
        }
    }

    #[test]
    fn subdomain_check_needs_a_dot_boundary() {
        assert!(is_same_or_subdomain("example.com", "example.com"));
        assert!(is_same_or_subdomain("blog.example.com", "example.com"));
        assert!(!is_same_or_subdomain("notexample.com", "example.com"));
        assert!(!is_same_or_subdomain("example.com", ""));
        assert!(!is_same_or_subdomain("com", "example.com"));
    }

    #[test]
    fn classifier_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ReferrerClassifier>();
    }
}
