//! The event payload: Plausible-compatible JSON (`n`, `u`, `d`, `r`, `w`, `h`,
//! `p`) or the same fields as query parameters for the no-JavaScript pixel.
//!
//! Everything here is untrusted. Every field is length-capped before anything
//! else looks at it, wrong types are named in the error (so a site owner
//! debugging a tracker sees `n: invalid type: integer, expected a string`),
//! and props are limited in count and size.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// Maximum event name length, in bytes.
pub const MAX_NAME: usize = 120;
/// Maximum page URL and referrer length, in bytes.
pub const MAX_URL: usize = 2_000;
/// Maximum number of custom props per event.
pub const MAX_PROPS: usize = 30;
/// Maximum prop key length, in bytes.
pub const MAX_PROP_KEY: usize = 300;
/// Maximum prop value length, in bytes.
pub const MAX_PROP_VALUE: usize = 2_000;
/// Maximum number of site domains in one event (`d` may list several, comma-separated).
pub const MAX_DOMAINS: usize = 10;

/// What is wrong with a payload; the message goes back to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(pub String);

/// A validated event as the client described it (not yet enriched).
///
/// The text fields borrow from the request body when the JSON needs no
/// unescaping (the usual case), so parsing a beacon copies nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventInput<'a> {
    /// Event name; `pageview` for page views.
    pub name: Cow<'a, str>,
    /// Page URL.
    pub url: Cow<'a, str>,
    /// Site domains as sent (normalised later).
    pub domains: Vec<Cow<'a, str>>,
    /// `document.referrer`, if any.
    pub referrer: Option<Cow<'a, str>>,
    /// Screen (or window) width, a fallback for the device class.
    pub screen_width: Option<u32>,
    /// Hash-based routing: keep the URL fragment in the path.
    pub hash_mode: bool,
    /// Custom properties, stringified.
    pub props: Vec<(String, String)>,
    /// What an `engagement` event measured of its page view (`None` for
    /// every other event).
    pub engagement: Option<Engagement>,
    /// What the event said it earned (`revenue` / `$`), if anything.
    pub revenue: Option<Revenue>,
}

/// Revenue of an event, as Plausible's tracker sends it:
/// `{"amount": 15.99, "currency": "EUR"}` (the amount may be a string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revenue {
    /// Thousandths of the currency's unit (Plausible keeps three decimals).
    pub milli: i64,
    /// ISO 4217 code, upper case.
    pub currency: String,
}

/// The largest revenue amount believed, in units (a typo guard that also
/// keeps sums far from overflowing).
const MAX_REVENUE_UNITS: i64 = 1_000_000_000_000;

/// The event name Plausible's tracker uses for how long a page view was
/// looked at and how far it was scrolled (sent when the page is hidden or
/// left). Such rows are kept apart from page views and custom events.
pub const ENGAGEMENT: &str = "engagement";

/// Scroll depth when the tracker did not say it (Plausible's marker).
pub const SCROLL_DEPTH_UNKNOWN: u8 = 255;

/// The longest engaged time believed, as Plausible bounds it: older
/// trackers sent absurd values.
const MAX_ENGAGEMENT_MS: u64 = 30 * 24 * 3600 * 1000;

/// An `engagement` event's measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Engagement {
    /// Deepest scroll of the page view, percent 0–100, or
    /// [`SCROLL_DEPTH_UNKNOWN`].
    pub scroll_depth: u8,
    /// Engaged (visible and focused) milliseconds since the previous
    /// engagement event of the same page view: a delta, so the page view's
    /// total is the sum.
    pub time_ms: u32,
}

#[derive(Debug, Deserialize)]
struct RawEvent<'a> {
    #[serde(alias = "name", borrow)]
    n: Option<Text<'a>>,
    #[serde(alias = "url", borrow)]
    u: Option<Text<'a>>,
    #[serde(alias = "domain", borrow)]
    d: Option<Text<'a>>,
    #[serde(alias = "referrer", borrow)]
    r: Option<Option<Text<'a>>>,
    #[serde(alias = "screen_width")]
    w: Option<Value>,
    #[serde(alias = "hash_mode")]
    h: Option<Value>,
    #[serde(alias = "props")]
    p: Option<Value>,
    /// Older Plausible trackers send props as `m` / `meta`, often a JSON string.
    #[serde(alias = "meta")]
    m: Option<Value>,
    /// Scroll depth of an `engagement` event, percent.
    #[serde(alias = "scroll_depth")]
    sd: Option<Value>,
    /// Engaged milliseconds of an `engagement` event.
    #[serde(alias = "engagement_time")]
    e: Option<Value>,
    /// Revenue: `{"amount", "currency"}`.
    #[serde(rename = "$", alias = "revenue")]
    revenue: Option<Value>,
}

/// A JSON string, borrowed from the body when it has no escapes. (serde's
/// own `Cow<str>` always copies when it sits inside an `Option`.)
#[derive(Debug)]
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> serde::de::Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            // The same wording as `String`'s, so error messages are unchanged.
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_string(TextVisitor)
    }
}

/// Parses a JSON body.
pub fn from_json(body: &[u8]) -> Result<EventInput<'_>, PayloadError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(PayloadError("empty body: expected a JSON object".into()));
    }
    // serde would also accept a struct written as an array; we do not.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(PayloadError(
            "malformed JSON: expected a JSON object".into(),
        ));
    }
    // Fast path: plain serde_json. `serde_path_to_error` tracks the path of
    // every field (and allocates for it), which costs more than the parse
    // itself; it is only needed to name the field in an error, so a body that
    // fails is parsed a second time through it, giving the same message.
    // Like the path-tracking parse below, this does not check for trailing
    // bytes after the object (`Deserializer::end`): the same bodies pass.
    let raw = match RawEvent::deserialize(&mut serde_json::Deserializer::from_slice(body)) {
        Ok(raw) => raw,
        Err(_) => return Err(explain_json_error(body)),
    };
    validate(raw)
}

/// The error of a body that plain `serde_json` refused, with the path of the
/// offending field (`n: invalid type: …`).
#[cold]
fn explain_json_error(body: &[u8]) -> PayloadError {
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    let e = match serde_path_to_error::deserialize::<_, RawEvent<'_>>(deserializer) {
        Ok(_) => return PayloadError("malformed JSON".into()), // not reached: same parser
        Err(e) => e,
    };
    let path = e.path().to_string();
    let inner = e.into_inner();
    match inner.classify() {
        serde_json::error::Category::Data if path != "." => {
            PayloadError(format!("{path}: {inner}"))
        }
        serde_json::error::Category::Data => {
            PayloadError(format!("expected a JSON object: {inner}"))
        }
        _ => PayloadError(format!("malformed JSON: {inner}")),
    }
}

/// Parses the pixel's query string. `referer_header` stands in for `u` when the
/// page did not say its URL (an `<img>` sends the page as Referer).
pub fn from_query(
    query: &str,
    referer_header: Option<&str>,
) -> Result<EventInput<'static>, PayloadError> {
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        fields
            .entry(key.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    let take = |short: &str, long: &str| -> Option<Cow<'static, str>> {
        fields
            .get(short)
            .or_else(|| fields.get(long))
            .cloned()
            .map(Cow::Owned)
    };
    let props = take("p", "props")
        .or_else(|| take("m", "meta"))
        .map(|v| Value::String(v.into_owned()));
    let raw = RawEvent {
        n: take("n", "name")
            .or_else(|| Some("pageview".into()))
            .map(Text),
        u: take("u", "url")
            .or_else(|| referer_header.map(|r| Cow::Owned(r.to_owned())))
            .map(Text),
        d: take("d", "domain").map(Text),
        r: take("r", "referrer").map(|r| Some(Text(r))),
        w: take("w", "screen_width").map(|v| Value::String(v.into_owned())),
        h: take("h", "hash_mode").map(|v| Value::String(v.into_owned())),
        p: props,
        m: None,
        sd: take("sd", "scroll_depth").map(|v| Value::String(v.into_owned())),
        e: take("e", "engagement_time").map(|v| Value::String(v.into_owned())),
        revenue: take("$", "revenue")
            .map(|v| serde_json::from_str(&v).unwrap_or(Value::String(v.into_owned()))),
    };
    validate(raw)
}

fn validate(raw: RawEvent<'_>) -> Result<EventInput<'_>, PayloadError> {
    let name = required(raw.n, "n", "event name")?;
    if name.len() > MAX_NAME {
        return Err(PayloadError(format!(
            "n: event name longer than {MAX_NAME} bytes"
        )));
    }
    let url = required(raw.u, "u", "page URL")?;
    if url.len() > MAX_URL {
        return Err(PayloadError(format!(
            "u: page URL longer than {MAX_URL} bytes"
        )));
    }
    let domain_list = required(raw.d, "d", "site domain")?;
    let domains: Vec<Cow<'_, str>> = match domain_list {
        Cow::Borrowed(list) => list
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(Cow::Borrowed)
            .collect(),
        Cow::Owned(list) => list
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| Cow::Owned(d.to_owned()))
            .collect(),
    };
    if domains.is_empty() {
        return Err(PayloadError("d: missing site domain".into()));
    }
    if domains.len() > MAX_DOMAINS {
        return Err(PayloadError(format!("d: more than {MAX_DOMAINS} domains")));
    }
    let referrer = raw.r.flatten().map(|r| r.0).filter(|r| !r.is_empty());
    if referrer.as_ref().is_some_and(|r| r.len() > MAX_URL) {
        return Err(PayloadError(format!(
            "r: referrer longer than {MAX_URL} bytes"
        )));
    }
    let screen_width = match raw.w {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_u64().and_then(|w| u32::try_from(w).ok()),
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(
            s.parse::<u32>()
                .map_err(|_| PayloadError("w: screen width must be a whole number".into()))?,
        ),
        Some(_) => {
            return Err(PayloadError(
                "w: screen width must be a whole number".into(),
            ))
        }
    };
    let hash_mode = match raw.h {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0) != 0,
        Some(Value::String(s)) => matches!(s.as_str(), "1" | "true"),
        Some(_) => return Err(PayloadError("h: hash mode must be 0/1 or a boolean".into())),
    };
    let props = match raw.p.or(raw.m) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) if text.trim().is_empty() => Vec::new(),
        Some(Value::String(text)) => {
            let value: Value = serde_json::from_str(&text)
                .map_err(|e| PayloadError(format!("p: props string is not JSON: {e}")))?;
            props_from(value)?
        }
        Some(value) => props_from(value)?,
    };
    let engagement = if name == ENGAGEMENT {
        Some(engagement_from(raw.sd, raw.e)?)
    } else {
        None
    };
    let revenue = revenue_from(raw.revenue);
    Ok(EventInput {
        name,
        url,
        domains,
        referrer,
        screen_width,
        hash_mode,
        props,
        engagement,
        revenue,
    })
}

/// `{"amount": 15.99 | "15.99", "currency": "eur"}` (or that as a JSON
/// string) → thousandths of EUR, rounded half away from zero at the third
/// decimal. Anything else is left out and the event kept without revenue,
/// as Plausible does: a conversion is not lost to a malformed amount.
fn revenue_from(value: Option<Value>) -> Option<Revenue> {
    let object = match value? {
        Value::Object(object) => object,
        Value::String(text) => match serde_json::from_str(&text) {
            Ok(Value::Object(object)) => object,
            _ => return None,
        },
        _ => return None,
    };
    let amount = match object.get("amount")? {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    let currency = match object.get("currency")? {
        Value::String(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
            c.to_ascii_uppercase()
        }
        _ => return None,
    };
    let milli = decimal_milli(&amount)?;
    Some(Revenue { milli, currency })
}

/// A decimal number (`-12.3456`, `1e3`) in thousandths, rounded half away
/// from zero; `None` when it is not a number or beyond the believed range.
fn decimal_milli(text: &str) -> Option<i64> {
    let value: f64 = text.parse().ok()?;
    if !value.is_finite() || value.abs() >= MAX_REVENUE_UNITS as f64 {
        return None;
    }
    // Exact for the plain decimals a tracker sends ("15.99"): digits after
    // the third decimal only decide the rounding.
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let milli = match digits.split_once('.') {
        Some((units, fraction))
            if !units.is_empty()
                && units.bytes().all(|b| b.is_ascii_digit())
                && fraction.bytes().all(|b| b.is_ascii_digit()) =>
        {
            let mut thousandths: i64 = 0;
            for (i, b) in fraction
                .bytes()
                .chain(std::iter::repeat(b'0'))
                .take(3)
                .enumerate()
            {
                thousandths += i64::from(b - b'0') * [100, 10, 1][i];
            }
            let round_up = fraction.as_bytes().get(3).is_some_and(|b| *b >= b'5');
            units.parse::<i64>().ok()? * 1000 + thousandths + i64::from(round_up)
        }
        _ if digits.bytes().all(|b| b.is_ascii_digit()) => digits.parse::<i64>().ok()? * 1000,
        // Exponents and the like: through the float.
        _ => return Some((value * 1000.0).round() as i64),
    };
    Some(if negative { -milli } else { milli })
}

/// A whole number sent as a JSON number or a string of digits.
fn whole_number(value: Option<Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    }
}

/// Plausible's reading of `sd` and `e`: a scroll depth over 100 is 100, a
/// missing or unreadable one is unknown; an engaged time outside 0…30 days
/// is 0; an engagement that says neither is refused.
fn engagement_from(sd: Option<Value>, e: Option<Value>) -> Result<Engagement, PayloadError> {
    let scroll_depth = whole_number(sd).map_or(SCROLL_DEPTH_UNKNOWN, |d| d.min(100) as u8);
    let time_ms = whole_number(e)
        .filter(|ms| *ms < MAX_ENGAGEMENT_MS)
        .and_then(|ms| u32::try_from(ms).ok())
        .unwrap_or(0);
    if scroll_depth == SCROLL_DEPTH_UNKNOWN && time_ms == 0 {
        return Err(PayloadError(
            "sd, e: an engagement event needs a whole-number scroll depth (sd) or engaged time (e)"
                .into(),
        ));
    }
    Ok(Engagement {
        scroll_depth,
        time_ms,
    })
}

fn required<'a>(
    value: Option<Text<'a>>,
    field: &str,
    what: &str,
) -> Result<Cow<'a, str>, PayloadError> {
    match value.map(|v| trim(v.0)) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(PayloadError(format!("{field}: missing {what}"))),
    }
}

/// `str::trim` for a `Cow`, copying only an owned value that changes.
fn trim(value: Cow<'_, str>) -> Cow<'_, str> {
    match value {
        Cow::Borrowed(v) => Cow::Borrowed(v.trim()),
        Cow::Owned(v) if v.trim().len() == v.len() => Cow::Owned(v),
        Cow::Owned(v) => Cow::Owned(v.trim().to_owned()),
    }
}

fn props_from(value: Value) -> Result<Vec<(String, String)>, PayloadError> {
    let Value::Object(map) = value else {
        return Err(PayloadError("p: props must be a JSON object".into()));
    };
    if map.len() > MAX_PROPS {
        return Err(PayloadError(format!("p: more than {MAX_PROPS} props")));
    }
    let mut props = Vec::with_capacity(map.len());
    for (key, value) in map {
        if key.is_empty() || key.len() > MAX_PROP_KEY {
            return Err(PayloadError(format!(
                "p: prop keys must be 1 to {MAX_PROP_KEY} bytes"
            )));
        }
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Array(_) | Value::Object(_) => {
                return Err(PayloadError(format!(
                    "p.{key}: prop values must be strings, numbers or booleans"
                )))
            }
        };
        if text.len() > MAX_PROP_VALUE {
            return Err(PayloadError(format!(
                "p.{key}: prop value longer than {MAX_PROP_VALUE} bytes"
            )));
        }
        props.push((key, text));
    }
    Ok(props)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_payload_parses() {
        let body = br#"{"n":"pageview","u":"https://example.com/a?x=1","d":"example.com","r":null,"w":1280,"h":1,"p":{"plan":"pro","n":3,"ok":true}}"#;
        let event = from_json(body).unwrap();
        assert_eq!(event.name, "pageview");
        assert_eq!(event.domains, vec!["example.com"]);
        assert_eq!(event.referrer, None);
        assert_eq!(event.screen_width, Some(1280));
        assert!(event.hash_mode);
        assert_eq!(
            event.props,
            vec![
                ("n".into(), "3".into()),
                ("ok".into(), "true".into()),
                ("plan".into(), "pro".into())
            ]
        );
    }

    #[test]
    fn props_as_json_string_and_long_names() {
        let body = br#"{"name":"Signup","url":"https://a.example/","domain":"a.example","meta":"{\"plan\":\"pro\"}"}"#;
        let event = from_json(body).unwrap();
        assert_eq!(event.props, vec![("plan".into(), "pro".into())]);
    }

    #[test]
    fn engagement_measures_are_read_as_plausible_reads_them() {
        let parse = |extra: &str| {
            let body =
                format!(r#"{{"n":"engagement","u":"https://a.example/b","d":"a.example"{extra}}}"#);
            from_json(body.as_bytes()).map(|e| e.engagement.expect("an engagement"))
        };
        let got = parse(r#","sd":45,"e":1200"#).unwrap();
        assert_eq!((got.scroll_depth, got.time_ms), (45, 1200));
        // Over 100 % is 100 %; strings of digits count; an unknown depth is 255.
        let got = parse(r#","sd":"140","e":"30""#).unwrap();
        assert_eq!((got.scroll_depth, got.time_ms), (100, 30));
        let got = parse(r#","e":5000"#).unwrap();
        assert_eq!(
            (got.scroll_depth, got.time_ms),
            (SCROLL_DEPTH_UNKNOWN, 5000)
        );
        // An engaged time of 30 days or more is not believed.
        let got = parse(r#","sd":10,"e":2592000000"#).unwrap();
        assert_eq!((got.scroll_depth, got.time_ms), (10, 0));
        // Neither measure: refused, saying which fields.
        let err = parse(r#","sd":"deep","e":-4"#).unwrap_err().0;
        assert!(err.starts_with("sd, e:"), "{err}");
        assert!(parse("").is_err());
        // Other events carry none, whatever they send.
        let body = br#"{"n":"pageview","u":"https://a.example/","d":"a.example","sd":40}"#;
        assert_eq!(from_json(body).unwrap().engagement, None);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let err = |body: &[u8]| from_json(body).unwrap_err().0;
        assert!(err(b"{not json").contains("malformed JSON"));
        assert!(err(b"").contains("empty body"));
        assert!(err(br#"{"u":"https://a/","d":"a"}"#).contains("n: missing"));
        assert!(err(br#"{"n":"x","d":"a"}"#).contains("u: missing"));
        assert!(err(br#"{"n":"x","u":"https://a/"}"#).contains("d: missing"));
        assert!(err(br#"{"n":5,"u":"https://a/","d":"a"}"#).starts_with("n:"));
        assert!(err(br#"{"n":"x","u":"https://a/","d":"a","p":[1]}"#)
            .contains("props must be a JSON object"));
        assert!(err(br#"{"n":"x","u":"https://a/","d":"a","p":{"k":{"deep":1}}}"#).contains("p.k"));
        assert!(err(br#"{"n":"x","u":"https://a/","d":"a","w":"wide"}"#).contains("w:"));
        assert!(err(br#"[1,2]"#).contains("expected a JSON object"));
    }

    #[test]
    fn strings_borrow_from_the_body_unless_escaped() {
        let body = br#"{"n":"page\u0076iew","u":" https://a.example/x ","d":"a.example, b.example","r":"https:\/\/t.co\/"}"#;
        let event = from_json(body).unwrap();
        assert_eq!(event.name, "pageview");
        assert!(matches!(event.name, Cow::Owned(_)));
        assert_eq!(event.url, "https://a.example/x");
        assert!(matches!(event.url, Cow::Borrowed(_)));
        assert_eq!(event.domains, vec!["a.example", "b.example"]);
        assert!(event.domains.iter().all(|d| matches!(d, Cow::Borrowed(_))));
        assert_eq!(event.referrer.as_deref(), Some("https://t.co/"));
        // As before the fast path: bytes after the object are not examined.
        assert!(from_json(br#"{"n":"x","u":"https://a/","d":"a"} trailing"#).is_ok());
    }

    #[test]
    fn pixel_query_and_referer_fallback() {
        let event = from_query(
            "d=example.com&r=https%3A%2F%2Fgoogle.com%2F",
            Some("https://example.com/page"),
        )
        .unwrap();
        assert_eq!(event.name, "pageview");
        assert_eq!(event.url, "https://example.com/page");
        assert_eq!(event.referrer.as_deref(), Some("https://google.com/"));
        assert!(from_query("u=https%3A%2F%2Fexample.com%2F", None).is_err());
    }

    #[test]
    fn revenue_is_read_as_plausibles_tracker_sends_it() {
        let revenue = |extra: &str| {
            let body =
                format!(r#"{{"n":"Purchase","u":"https://a.example/","d":"a.example"{extra}}}"#);
            from_json(body.as_bytes()).map(|e| e.revenue)
        };
        let got = |milli, currency: &str| {
            Ok(Some(Revenue {
                milli,
                currency: currency.into(),
            }))
        };
        assert_eq!(
            revenue(r#","$":{"amount":15.99,"currency":"EUR"}"#),
            got(15_990, "EUR")
        );
        assert_eq!(
            revenue(r#","revenue":{"amount":"1322.2235","currency":"usd"}"#),
            got(1_322_224, "USD")
        );
        assert_eq!(
            revenue(r#","$":"{\"amount\":\"-5\",\"currency\":\"BHD\"}""#),
            got(-5_000, "BHD")
        );
        assert_eq!(
            revenue(r#","$":{"amount":2e3,"currency":"JPY"}"#),
            got(2_000_000, "JPY")
        );
        assert_eq!(revenue(r#","$":null"#), Ok(None));
        assert_eq!(revenue(""), Ok(None));
        // Malformed revenue: the event is kept, without revenue.
        for bad in [
            r#","$":{"amount":"ten","currency":"EUR"}"#,
            r#","$":{"amount":10,"currency":"EURO"}"#,
            r#","$":{"amount":10}"#,
            r#","$":"10 EUR""#,
            r#","$":{"amount":1e13,"currency":"EUR"}"#,
        ] {
            assert_eq!(revenue(bad), Ok(None), "{bad}");
        }
    }
}
