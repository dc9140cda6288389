//! Every shared answer of the HTTP layer, built in one place: JSON errors,
//! refusals (each knows its status, the reason it is counted under and when
//! to retry: 429 and 503 always carry `Retry-After`), 405 with the
//! endpoint's `Allow`, HTML pages with the hardening headers, and the CORS
//! headers of the public event endpoint. The 413 naming the endpoint's own
//! limit is [`super::body::BodyError`], a refusal like the others.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

use crate::metrics::Metrics;

/// The body type of every answer.
pub type Body = Full<Bytes>;

/// Sets fixed headers on an answer.
fn set_headers(response: &mut Response<Body>, fixed: &[(header::HeaderName, &'static str)]) {
    let headers = response.headers_mut();
    for (name, value) in fixed {
        headers.insert(name.clone(), HeaderValue::from_static(value));
    }
}

/// A plain answer.
pub fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

/// A JSON answer (`no-store`: answers are per credential and per moment).
pub fn json(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let mut response = text(status, "application/json", format!("{body}\n"));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `{"error": message}`.
pub fn json_error(status: StatusCode, message: &str) -> Response<Body> {
    json(status, &serde_json::json!({ "error": message }))
}

/// A request the collector will not answer as asked. Each kind of refusal
/// knows its own answer, so no handler builds one by hand and no catch-all
/// label is needed.
pub trait Refusal {
    /// The HTTP status.
    fn status(&self) -> StatusCode;
    /// The label it is counted under in `saltmark_requests_rejected_total`;
    /// `None` for answers that are not counted there (failed credentials,
    /// database trouble, which is logged instead).
    fn reason(&self) -> Option<&'static str>;
    /// What the client is told: never a database's own text.
    fn public_message(&self) -> String;
    /// What the log is told (the whole cause chain where there is one).
    fn detail(&self) -> String {
        self.public_message()
    }
    /// When a retry may pass (429 and 503 default to one second).
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

/// The answer to a refusal: counted, logged when it is the collector's
/// fault, `{"error": …}` with `Retry-After` on 429 and 503.
pub fn refused(metrics: &Metrics, refusal: &dyn Refusal) -> Response<Body> {
    if let Some(reason) = refusal.reason() {
        metrics.rejected(reason);
    }
    let status = refusal.status();
    if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
        tracing::error!(error = %refusal.detail(), "request failed");
    } else if status == StatusCode::SERVICE_UNAVAILABLE && refusal.reason().is_none() {
        tracing::warn!(error = %refusal.detail(), "request failed for now");
    }
    let retry = refusal.retry_after().or_else(|| {
        matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        )
        .then_some(Duration::from_secs(1))
    });
    match retry {
        Some(wait) => retry_later(status, &refusal.public_message(), wait),
        None => json_error(status, &refusal.public_message()),
    }
}

/// `{"error": message}` with `Retry-After` in whole seconds.
fn retry_later(status: StatusCode, message: &str, wait: Duration) -> Response<Body> {
    let mut response = json_error(status, message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(whole_seconds(wait)));
    response
}

/// Whole seconds, rounded up, at least one (`Retry-After` has no fractions).
fn whole_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// 503 with `Retry-After`: the client should come back, not give up.
pub fn unavailable(message: &str, retry_after_secs: u64) -> Response<Body> {
    retry_later(
        StatusCode::SERVICE_UNAVAILABLE,
        message,
        Duration::from_secs(retry_after_secs),
    )
}

/// 429 with `Retry-After` (whole seconds, at least one).
pub fn too_many(message: &str, retry_after: Duration) -> Response<Body> {
    retry_later(StatusCode::TOO_MANY_REQUESTS, message, retry_after)
}

/// 405 naming the methods the path does take.
pub fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut response = json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("this endpoint takes {allow}"),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// 404.
pub fn not_found() -> Response<Body> {
    text(StatusCode::NOT_FOUND, "text/plain", "not found\n".into())
}

/// The Content-Security-Policy of every page: only our own scripts, styles
/// and API, no inline script or style, no framing, no plugins, no `<base>`.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The hardening headers of everything a browser renders from us (pages
/// and their assets): the CSP, no framing, no MIME sniffing, no Referer (a
/// share link's page must not leak its address anywhere).
pub fn harden(response: &mut Response<Body>) {
    set_headers(
        response,
        &[
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::HeaderName::from_static("cross-origin-opener-policy"),
                "same-origin",
            ),
        ],
    );
}

/// A page or page asset, hardened, revalidated on every use.
pub fn page(content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Full::new(body.into()))
        .expect("static response parts are valid");
    harden(&mut response);
    response
}

/// Events come from every site's pages: any origin may send, none may read
/// anything but the drop reason. No credentials are involved (we set no
/// cookies), so a wildcard is safe — for `/api/event` only.
pub fn cors(mut response: Response<Body>) -> Response<Body> {
    set_headers(
        &mut response,
        &[
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::ACCESS_CONTROL_EXPOSE_HEADERS, "x-saltmark-dropped"),
        ],
    );
    response
}

/// The CORS preflight of `/api/event`.
pub fn preflight() -> Response<Body> {
    let mut response = text(StatusCode::NO_CONTENT, "text/plain", String::new());
    set_headers(
        &mut response,
        &[
            (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, "Content-Type"),
            (header::ACCESS_CONTROL_MAX_AGE, "86400"),
        ],
    );
    cors(response)
}
