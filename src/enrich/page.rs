//! Page URL → the columns we keep about the page: hostname, pathname and the
//! campaign (UTM) tags.
//!
//! Everything else in the URL — other query parameters, credentials, ports —
//! is dropped here, because query strings routinely carry e-mail addresses,
//! session tokens and search terms that a privacy-first collector must not
//! store.

use std::borrow::Cow;

use thiserror::Error;
use url::Url;

/// Pathnames beyond this are cut: long enough for any real route, short
/// enough that a hostile client cannot bloat storage.
pub const MAX_PATHNAME_BYTES: usize = 2000;
/// Cap for each UTM value and the derived `source_param`.
pub const MAX_UTM_BYTES: usize = 256;

/// Why a page URL was rejected; the event is dropped rather than stored with
/// a made-up page.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PageError {
    #[error("page URL is not a valid absolute URL: {0}")]
    Invalid(#[from] url::ParseError),
    #[error("page URL scheme {0:?} is not http or https")]
    UnsupportedScheme(String),
    #[error("page URL has no host")]
    MissingHost,
}

/// What we store about the page an event happened on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Lowercase, without a leading "www." so www and apex count as one site.
    pub hostname: String,
    /// Percent-decoded path (plus `#fragment` in hash mode), never empty.
    pub pathname: String,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
    pub utm_content: String,
    pub utm_term: String,
    /// First non-empty of `utm_source`, `source`, `ref` (Plausible's order): the site owner's own
    /// statement of where the visit came from, which outranks the Referer.
    pub source_param: String,
    /// Which ad click id the URL carried (its name only; the value, which
    /// identifies one click, is never read).
    pub click_id: Option<super::channel::ClickId>,
}

/// Parses the page URL a tracker sent.
///
/// `hash_mode` is for single-page apps that route on the fragment
/// (`/app#/settings`): the fragment then belongs to the pathname, otherwise
/// it is discarded.
pub fn parse_page(url: &str, hash_mode: bool) -> Result<Page, PageError> {
    let parsed = Url::parse(url.trim())?;
    ensure_http(&parsed)?;
    let hostname = normalize_host(parsed.host_str().ok_or(PageError::MissingHost)?);
    let pathname =
        truncate_to_char_boundary(build_pathname(&parsed, hash_mode), MAX_PATHNAME_BYTES);
    let utm = UtmTags::from_url(&parsed);
    let source_param = utm.source_param();
    let click_id = super::channel::ClickId::from_url_query(parsed.query().unwrap_or(""));
    Ok(Page {
        click_id,
        hostname,
        pathname,
        utm_source: utm.source,
        utm_medium: utm.medium,
        utm_campaign: utm.campaign,
        utm_content: utm.content,
        utm_term: utm.term,
        source_param,
    })
}

fn ensure_http(url: &Url) -> Result<(), PageError> {
    match url.scheme() {
        "http" | "https" => Ok(()),
        other => Err(PageError::UnsupportedScheme(other.to_owned())),
    }
}

/// Lowercases and strips one leading "www."; shared with the referrer module
/// so both sides of a self-referral comparison agree.
pub(crate) fn normalize_host(host: &str) -> String {
    let lower = host.trim_end_matches('.').to_ascii_lowercase();
    match lower.strip_prefix("www.") {
        Some(rest) if !rest.is_empty() => rest.to_owned(),
        _ => lower,
    }
}

fn build_pathname(url: &Url, hash_mode: bool) -> String {
    let mut pathname = percent_decode(url.path()).into_owned();
    if pathname.is_empty() {
        pathname.push('/');
    }
    if let (true, Some(route)) = (hash_mode, url.fragment().and_then(route_fragment)) {
        pathname.push('#');
        pathname.push_str(&percent_decode(route));
    }
    pathname
}

/// The route in a URL fragment, for hash-routed single-page apps: `#/settings`
/// and `#!/item/3` are routes; a fragment that is not (`#access_token=…`
/// from an OAuth redirect, `#section-2`) is dropped, and so is whatever
/// follows a `?` or `&` inside a route (`#/callback?code=…`). Fragments are
/// where sign-in flows put secrets, so only what looks like a path is kept.
fn route_fragment(fragment: &str) -> Option<&str> {
    let route = fragment.split(['?', '&']).next().unwrap_or("");
    let is_route = (route.starts_with('/') || route.starts_with("!/")) && !route.contains('=');
    is_route.then_some(route)
}

/// Decodes `%XX` escapes; invalid UTF-8 after decoding is replaced rather
/// than rejected, since a slightly mangled path is still worth counting.
pub(crate) fn percent_decode(input: &str) -> Cow<'_, str> {
    if !input.contains('%') {
        return Cow::Borrowed(input);
    }
    let bytes = input.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match (bytes[index], hex_pair(bytes, index + 1)) {
            (b'%', Some(value)) => {
                decoded.push(value);
                index += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&decoded).into_owned())
}

fn hex_pair(bytes: &[u8], start: usize) -> Option<u8> {
    let high = (*bytes.get(start)? as char).to_digit(16)?;
    let low = (*bytes.get(start + 1)? as char).to_digit(16)?;
    u8::try_from(high * 16 + low).ok()
}

/// Cuts `value` to at most `max_bytes` without splitting a UTF-8 character.
pub(crate) fn truncate_to_char_boundary(mut value: String, max_bytes: usize) -> String {
    if value.len() > max_bytes {
        let mut end = max_bytes;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        value.truncate(end);
    }
    value
}

#[derive(Default)]
struct UtmTags {
    source: String,
    medium: String,
    campaign: String,
    content: String,
    term: String,
    ref_param: String,
    source_alias: String,
}

impl UtmTags {
    /// Reads the first non-empty value of each tag; `query_pairs` already
    /// percent-decodes and turns `+` into a space.
    fn from_url(url: &Url) -> UtmTags {
        let mut tags = UtmTags::default();
        for (key, value) in url.query_pairs() {
            let slot = match key.as_ref() {
                "utm_source" => &mut tags.source,
                "utm_medium" => &mut tags.medium,
                "utm_campaign" => &mut tags.campaign,
                "utm_content" => &mut tags.content,
                "utm_term" => &mut tags.term,
                "ref" => &mut tags.ref_param,
                "source" => &mut tags.source_alias,
                _ => continue,
            };
            let value = value.trim();
            if slot.is_empty() && !value.is_empty() {
                *slot = truncate_to_char_boundary(value.to_owned(), MAX_UTM_BYTES);
            }
        }
        tags
    }

    fn source_param(&self) -> String {
        // Plausible's order: utm_source, then source, then ref.
        [&self.source, &self.source_alias, &self.ref_param]
            .into_iter()
            .find(|value| !value.is_empty())
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(url: &str) -> Page {
        parse_page(url, false).expect("valid page URL")
    }

    #[test]
    fn hostname_is_lowercased_and_www_stripped() {
        assert_eq!(page("https://WWW.Example.COM/").hostname, "example.com");
        assert_eq!(
            page("https://blog.example.com/").hostname,
            "blog.example.com"
        );
        assert_eq!(page("https://wwwexample.com/").hostname, "wwwexample.com");
    }

    #[test]
    fn only_http_and_https_are_accepted() {
        assert!(parse_page("http://example.com/", false).is_ok());
        assert_eq!(
            parse_page("ftp://example.com/file", false),
            Err(PageError::UnsupportedScheme("ftp".into()))
        );
        assert!(matches!(
            parse_page("file:///etc/passwd", false),
            Err(PageError::UnsupportedScheme(_))
        ));
        assert!(matches!(
            parse_page("/relative/path", false),
            Err(PageError::Invalid(_))
        ));
        assert!(matches!(parse_page("", false), Err(PageError::Invalid(_))));
        let message = parse_page("javascript:alert(1)", false)
            .unwrap_err()
            .to_string();
        assert!(message.contains("javascript"), "{message}");
    }

    #[test]
    fn pathname_drops_query_and_fragment_and_decodes() {
        let p = page("https://example.com/caf%C3%A9/menu?utm_source=x&email=a%40b.c#top");
        assert_eq!(p.pathname, "/café/menu");
    }

    #[test]
    fn empty_path_becomes_slash_and_trailing_slash_is_kept() {
        assert_eq!(page("https://example.com").pathname, "/");
        assert_eq!(page("https://example.com?x=1").pathname, "/");
        assert_eq!(page("https://example.com/docs/").pathname, "/docs/");
        assert_eq!(page("https://example.com/docs").pathname, "/docs");
    }

    #[test]
    fn hash_mode_keeps_the_fragment() {
        let url = "https://example.com/app?x=1#/settings/profile";
        assert_eq!(
            parse_page(url, true).unwrap().pathname,
            "/app#/settings/profile"
        );
        assert_eq!(parse_page(url, false).unwrap().pathname, "/app");
        assert_eq!(
            parse_page("https://example.com/app", true)
                .unwrap()
                .pathname,
            "/app"
        );
    }

    #[test]
    fn hash_mode_keeps_only_route_like_fragments() {
        let path = |url: &str| parse_page(url, true).unwrap().pathname;
        assert_eq!(
            path("https://example.com/cb#access_token=s3cret&x=1"),
            "/cb"
        );
        assert_eq!(path("https://example.com/#section-2"), "/");
        assert_eq!(
            path("https://example.com/app#/callback?code=s3cret"),
            "/app#/callback"
        );
        assert_eq!(path("https://example.com/app#/a&token=s3cret"), "/app#/a");
        assert_eq!(path("https://example.com/app#/id_token=s3cret"), "/app");
        assert_eq!(path("https://example.com/app#!/item/3"), "/app#!/item/3");
    }

    #[test]
    fn utm_tags_are_read_decoded_and_trimmed() {
        let p = page(
            "https://example.com/?utm_source=News+letter&utm_medium=email&utm_campaign=spring%20sale\
             &utm_content=hero&utm_term=%20shoes%20",
        );
        assert_eq!(p.utm_source, "News letter");
        assert_eq!(p.utm_medium, "email");
        assert_eq!(p.utm_campaign, "spring sale");
        assert_eq!(p.utm_content, "hero");
        assert_eq!(p.utm_term, "shoes");
        assert_eq!(p.source_param, "News letter");
    }

    #[test]
    fn source_param_falls_back_to_source_then_ref() {
        assert_eq!(
            page("https://example.com/?ref=producthunt").source_param,
            "producthunt"
        );
        assert_eq!(page("https://example.com/?source=hn").source_param, "hn");
        assert_eq!(
            page("https://example.com/?source=hn&ref=producthunt&utm_source=").source_param,
            "hn"
        );
        assert_eq!(
            page("https://example.com/?source=hn&utm_source=newsletter").source_param,
            "newsletter"
        );
        assert_eq!(page("https://example.com/?other=1").source_param, "");
    }

    #[test]
    fn first_non_empty_value_wins_for_repeated_keys() {
        let p = page("https://example.com/?utm_source=&utm_source=a&utm_source=b");
        assert_eq!(p.utm_source, "a");
    }

    #[test]
    fn fields_are_capped_on_char_boundaries() {
        let long_path = "é".repeat(1500); // 3000 bytes
        let p = page(&format!(
            "https://example.com/{long_path}?utm_campaign={}",
            "ü".repeat(200)
        ));
        assert!(p.pathname.len() <= MAX_PATHNAME_BYTES);
        assert!(p.pathname.len() >= MAX_PATHNAME_BYTES - 1);
        assert!(p.pathname.starts_with("/é"));
        assert!(p.utm_campaign.len() <= MAX_UTM_BYTES);
        assert_eq!(p.utm_campaign.chars().count(), MAX_UTM_BYTES / 2);
    }

    #[test]
    fn invalid_percent_escapes_are_kept_literally() {
        assert_eq!(percent_decode("/100%/a%zz/%4"), "/100%/a%zz/%4");
        assert_eq!(percent_decode("/a%2Fb"), "/a/b");
        assert_eq!(percent_decode("/%FF"), "/\u{FFFD}");
    }

    #[test]
    fn credentials_and_port_do_not_leak_into_hostname() {
        let p = page("https://user:secret@Example.com:8443/x");
        assert_eq!(p.hostname, "example.com");
        assert_eq!(p.pathname, "/x");
    }
}
