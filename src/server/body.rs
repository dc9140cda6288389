//! Reading a request body: the one way every endpoint does it, with that
//! endpoint's own size limit and the shared read timeout.
//!
//! Why one helper: a slow body holds a connection and its buffer for as
//! long as the client likes. Before this, only `/api/event` had a timeout,
//! and 40 connections trickling one byte each into `/api/forget` and the
//! login endpoint held their slots for 80 s. Now a body that is not
//! complete within `limits.body_read_timeout_secs` is answered 408 and the
//! connection closed; a declared or streamed body over the endpoint's limit
//! is answered 413 with that limit in the message.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{HeaderMap, Response, StatusCode};

use super::reply::{refused, Body, Refusal};
use crate::app::HttpState;
use crate::metrics::Metrics;

/// An endpoint's body limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit {
    /// The endpoint, as named in the 413 message.
    pub endpoint: &'static str,
    /// Largest body accepted, in bytes.
    pub max_bytes: usize,
}

/// `POST /api/forget`: a site name.
pub const FORGET: BodyLimit = BodyLimit {
    endpoint: "/api/forget",
    max_bytes: 1024,
};
/// `POST /internal/visit`: two ids and a time.
pub const INTERNAL_VISIT: BodyLimit = BodyLimit {
    endpoint: "/internal/visit",
    max_bytes: 256,
};
/// `POST /api/v2/query`.
pub const STATS_QUERY: BodyLimit = BodyLimit {
    endpoint: "/api/v2/query",
    max_bytes: 64 * 1024,
};
/// The dashboard's JSON endpoints (login, logout, share links).
pub const DASHBOARD: BodyLimit = BodyLimit {
    endpoint: "/api/dashboard",
    max_bytes: 8 * 1024,
};

/// Why a body was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// Declared or streamed past the endpoint's limit (413).
    #[error("request body larger than {} bytes, the limit of {}", .0.max_bytes, .0.endpoint)]
    TooLarge(BodyLimit),
    /// Not complete within the read timeout (408).
    #[error("the request body did not arrive within {0} s")]
    Timeout(u64),
    /// The connection failed while reading (400).
    #[error("could not read the request body")]
    Read,
}

impl Refusal for BodyError {
    fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            BodyError::Read => StatusCode::BAD_REQUEST,
        }
    }

    fn reason(&self) -> Option<&'static str> {
        Some(match self {
            BodyError::TooLarge(_) => "too_large",
            BodyError::Timeout(_) => "body_timeout",
            BodyError::Read => "body_read",
        })
    }

    fn public_message(&self) -> String {
        self.to_string()
    }
}

impl BodyError {
    /// The answer, counted. The connection is closed, and the answer says
    /// so: after a timeout its client is slow or hostile and the slot is
    /// worth more than the keep-alive; after a body over the limit the rest
    /// of it is unread, so the connection cannot carry another request (a
    /// client that pooled it would see its next request fail).
    pub fn response(&self, metrics: &Metrics) -> Response<Body> {
        let mut response = refused(metrics, self);
        if let BodyError::Timeout(_) | BodyError::TooLarge(_) = self {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// The declared `Content-Length`, if any and readable.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Reads a body with `limit` and the shared read timeout; a refusal is
/// counted and answered here.
pub async fn read_or_refuse(
    http: &HttpState,
    request: hyper::Request<Incoming>,
    limit: BodyLimit,
) -> Result<(hyper::http::request::Parts, Bytes), Response<Body>> {
    let (parts, body) = request.into_parts();
    let timeout = Duration::from_secs(http.limits.body_read_timeout_secs);
    match read(body, &parts.headers, limit, timeout).await {
        Ok(bytes) => Ok((parts, bytes)),
        Err(e) => Err(e.response(&http.metrics)),
    }
}

/// After a body passes its limit, up to this much more is read and thrown
/// away before the 413 goes out (a lingering close): a client still
/// sending a modestly oversized body then reads the answer instead of a
/// reset connection. A body declared or streamed beyond that is refused
/// without reading further, and the connection closed.
pub const DRAIN_BYTES: usize = 64 * 1024;

/// Reads the whole body, at most `limit.max_bytes`, within `timeout`.
pub async fn read(
    mut body: Incoming,
    headers: &HeaderMap,
    limit: BodyLimit,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    let declared = declared_length(headers);
    if declared.is_some_and(|len| len > (limit.max_bytes + DRAIN_BYTES) as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    let deadline = tokio::time::Instant::now() + timeout;
    // Past the limit, the rest is read (up to DRAIN_BYTES more) and dropped.
    let mut over = declared.is_some_and(|len| len > limit.max_bytes as u64);
    let mut seen = 0usize;
    let mut kept = bytes::BytesMut::new();
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) if over => return Err(BodyError::TooLarge(limit)),
            Err(_) => return Err(BodyError::Timeout(timeout.as_secs())),
            Ok(None) => break,
            Ok(Some(Err(_))) if over => return Err(BodyError::TooLarge(limit)),
            Ok(Some(Err(_))) => return Err(BodyError::Read),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len();
        if !over && seen <= limit.max_bytes {
            kept.extend_from_slice(&data);
            continue;
        }
        over = true;
        kept.clear();
        if seen > limit.max_bytes + DRAIN_BYTES {
            break;
        }
    }
    if over {
        Err(BodyError::TooLarge(limit))
    } else {
        Ok(kept.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_endpoints_limit() {
        assert_eq!(
            BodyError::TooLarge(FORGET).to_string(),
            "request body larger than 1024 bytes, the limit of /api/forget"
        );
        assert_eq!(
            BodyError::TooLarge(INTERNAL_VISIT).to_string(),
            "request body larger than 256 bytes, the limit of /internal/visit"
        );
        assert_eq!(BodyError::Timeout(10).status(), StatusCode::REQUEST_TIMEOUT);
        for closing in [BodyError::Timeout(10), BodyError::TooLarge(FORGET)] {
            assert_eq!(
                closing.response(&Metrics::new()).headers()[header::CONNECTION],
                "close"
            );
        }
    }
}
