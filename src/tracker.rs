//! `GET /js/script.js` and its variants: the tracker script, built from
//! `tracker/script.js` by `build.rs` (minified, gzip and brotli
//! precompressed at build time) and served from memory.
//!
//! Caching: the URL carries no version, so a year-long `immutable` would
//! pin a broken script in browsers for a year. Instead a day of freshness
//! plus a week of `stale-while-revalidate`: pages never wait for the script
//! after the first visit, a fix reaches everyone within a day, and a
//! revalidation is a `304` on the strong `ETag` (a hash of the bytes sent;
//! each encoding has its own, any of them matches).
//!
//! Variants use Plausible's naming: `script.<feature>.<feature>.js` with
//! the features `hash`, `outbound-links`, `file-downloads`,
//! `tagged-events`, in any order.

use std::sync::LazyLock;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Response, StatusCode};

/// One built script.
pub struct Script {
    /// File name, e.g. `script.outbound-links.js`.
    pub name: &'static str,
    /// The minified script.
    pub js: &'static [u8],
    /// `js`, gzipped.
    pub gzip: &'static [u8],
    /// `js`, brotli-compressed.
    pub brotli: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/tracker_scripts.rs"));

/// Feature names as used in variant file names; bit `i` of a `SCRIPTS`
/// index is `FEATURES[i]`.
pub const FEATURES: [&str; 4] = ["hash", "outbound-links", "file-downloads", "tagged-events"];

/// The `Cache-Control` of every script response.
pub const CACHE_CONTROL: &str = "public, max-age=86400, stale-while-revalidate=604800";

/// Response encodings, in the order of `Script`'s fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

/// Strong ETags per script and encoding, computed once.
static ETAGS: LazyLock<Vec<[HeaderValue; 3]>> = LazyLock::new(|| {
    SCRIPTS
        .iter()
        .map(|s| {
            [s.js, s.gzip, s.brotli].map(|bytes| {
                let hash = blake3::hash(bytes).to_hex();
                HeaderValue::from_str(&format!("\"{}\"", &hash[..20]))
                    .expect("hex is a valid header")
            })
        })
        .collect()
});

/// Finds the script for a file name under `/js/`.
pub fn lookup(file: &str) -> Option<&'static Script> {
    index(file).map(|i| &SCRIPTS[i])
}

/// The `SCRIPTS` index (feature bit mask) for a file name.
fn index(file: &str) -> Option<usize> {
    let middle = file.strip_prefix("script")?.strip_suffix(".js")?;
    let mut mask = 0usize;
    if !middle.is_empty() {
        for token in middle.strip_prefix('.')?.split('.') {
            let bit = FEATURES.iter().position(|f| *f == token)?;
            mask |= 1 << bit;
        }
    }
    Some(mask)
}

/// The best encoding the client accepts (`br`, then `gzip`, else none).
pub fn negotiate(accept_encoding: Option<&str>) -> Encoding {
    let Some(accept) = accept_encoding else {
        return Encoding::Identity;
    };
    let (mut br, mut gzip, mut star) = (None, None, None);
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match coding.as_str() {
            "br" => br = Some(q),
            "gzip" | "x-gzip" => gzip = Some(q),
            "*" => star = Some(q),
            _ => {}
        }
    }
    let accepted = |q: Option<f32>| q.or(star).is_some_and(|q| q > 0.0);
    if accepted(br) {
        Encoding::Brotli
    } else if accepted(gzip) {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// Answers any request under `/js/`.
pub fn serve(path: &str, method: &Method, headers: &HeaderMap) -> Response<Full<Bytes>> {
    let plain = |status: StatusCode, body: &'static str| {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .expect("static response")
    };
    let Some(index) = path.strip_prefix("/js/").and_then(index) else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    if method != Method::GET && method != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let script = &SCRIPTS[index];
    let etags = &ETAGS[index];
    let encoding = negotiate(
        headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    let (body, etag, content_encoding) = match encoding {
        Encoding::Identity => (script.js, &etags[0], None),
        Encoding::Gzip => (script.gzip, &etags[1], Some("gzip")),
        Encoding::Brotli => (script.brotli, &etags[2], Some("br")),
    };
    let not_modified = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || etags.iter().any(|e| e.as_bytes() == tag.as_bytes()));
    let mut builder = Response::builder()
        .header(header::ETAG, etag.clone())
        .header(header::CACHE_CONTROL, CACHE_CONTROL)
        .header(header::VARY, "Accept-Encoding")
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
        .header("cross-origin-resource-policy", "cross-origin");
    if not_modified {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Full::new(Bytes::new()))
            .expect("static response");
    }
    builder = builder
        .status(StatusCode::OK)
        .header(
            header::CONTENT_TYPE,
            "application/javascript; charset=utf-8",
        )
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if let Some(content_encoding) = content_encoding {
        builder = builder.header(header::CONTENT_ENCODING, content_encoding);
    }
    builder
        .body(Full::new(Bytes::from_static(body)))
        .expect("static response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_names_resolve_in_any_order() {
        assert_eq!(lookup("script.js").unwrap().name, "script.js");
        assert_eq!(
            lookup("script.file-downloads.outbound-links.js")
                .unwrap()
                .name,
            "script.outbound-links.file-downloads.js"
        );
        assert_eq!(
            lookup("script.tagged-events.hash.js").unwrap().name,
            "script.hash.tagged-events.js"
        );
        assert!(lookup("script.manual.js").is_none());
        assert!(lookup("script..js").is_none());
        assert!(lookup("scriptx.js").is_none());
        assert!(lookup("other.js").is_none());
    }

    #[test]
    fn encodings_are_negotiated_by_q_value() {
        assert_eq!(negotiate(None), Encoding::Identity);
        assert_eq!(negotiate(Some("gzip, deflate, br, zstd")), Encoding::Brotli);
        assert_eq!(negotiate(Some("gzip")), Encoding::Gzip);
        assert_eq!(negotiate(Some("br;q=0, gzip;q=0.5")), Encoding::Gzip);
        assert_eq!(negotiate(Some("*")), Encoding::Brotli);
        assert_eq!(negotiate(Some("*;q=0")), Encoding::Identity);
        assert_eq!(negotiate(Some("identity")), Encoding::Identity);
    }

    #[test]
    fn every_variant_is_smaller_than_its_budget() {
        for script in &SCRIPTS {
            // build.rs's budgets: the default script's is the promise in
            // docs/api.md; the variants carry click tracking on top.
            let limit = if script.name == "script.js" {
                1024
            } else {
                1450
            };
            assert!(script.gzip.len() <= limit, "{}", script.name);
            assert!(script.brotli.len() < script.gzip.len(), "{}", script.name);
        }
    }
}
