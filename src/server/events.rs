//! `/api/event`: the tracker's beacon (`POST`, JSON or `text/plain`) and the
//! no-JavaScript pixel (`GET`, the payload in the query string). Both end in
//! the ingest pipeline; every answer carries the public CORS headers.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};

use super::body::{self, BodyLimit};
use super::reply::{cors, json_error, refused, text, Body, Refusal};
use crate::app::AppState;
use crate::ingest::payload::{self, EventInput, PayloadError};
use crate::ingest::{Outcome, Refusal as IngestRefusal};

impl Refusal for IngestRefusal {
    fn status(&self) -> StatusCode {
        match self {
            IngestRefusal::BadPage(_) => StatusCode::BAD_REQUEST,
            IngestRefusal::RateLimited(..) => StatusCode::TOO_MANY_REQUESTS,
            IngestRefusal::QueueFull | IngestRefusal::NoSalt | IngestRefusal::ShuttingDown => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    fn reason(&self) -> Option<&'static str> {
        Some(match self {
            IngestRefusal::BadPage(_) => "malformed",
            IngestRefusal::RateLimited(kind, _) => kind.as_str(),
            IngestRefusal::QueueFull => "queue_full",
            IngestRefusal::NoSalt => "no_salt",
            IngestRefusal::ShuttingDown => "shutting_down",
        })
    }

    fn public_message(&self) -> String {
        match self {
            IngestRefusal::BadPage(message) => message.clone(),
            IngestRefusal::RateLimited(..) => "too many events; retry later".into(),
            IngestRefusal::QueueFull => "the collector is busy; retry shortly".into(),
            IngestRefusal::NoSalt => "the collector is starting; retry shortly".into(),
            IngestRefusal::ShuttingDown => "the collector is shutting down; retry shortly".into(),
        }
    }

    fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            IngestRefusal::RateLimited(_, wait) => Some(*wait),
            _ => None,
        }
    }
}

impl Refusal for PayloadError {
    fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }

    fn reason(&self) -> Option<&'static str> {
        Some("malformed")
    }

    fn public_message(&self) -> String {
        self.0.clone()
    }
}

/// The event endpoint's body limit (`limits.max_body_bytes`).
fn event_limit(state: &AppState) -> BodyLimit {
    BodyLimit {
        endpoint: "/api/event",
        max_bytes: state.http.limits.max_body_bytes,
    }
}

/// `POST /api/event`.
pub(super) async fn post(
    state: &AppState,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Body> {
    if let Some(content_type) = request.headers().get(header::CONTENT_TYPE) {
        let essence = content_type
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence != "text/plain" && essence != "application/json" {
            state.http.metrics.rejected("content_type");
            return cors(json_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be text/plain or application/json",
            ));
        }
    }
    let (parts, body) = match body::read_or_refuse(&state.http, request, event_limit(state)).await {
        Ok(read) => read,
        Err(response) => return cors(response),
    };
    let parsed = payload::from_json(&body);
    ingest(state, peer, &parts.headers, parsed, false).await
}

/// `GET /api/event?…`: the pixel.
pub(super) async fn pixel(
    state: &AppState,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Body> {
    let query = request.uri().query().unwrap_or("");
    let referer = request
        .headers()
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok());
    let parsed = payload::from_query(query, referer);
    ingest(state, peer, request.headers(), parsed, true).await
}

async fn ingest(
    state: &AppState,
    peer: SocketAddr,
    headers: &hyper::HeaderMap,
    parsed: Result<EventInput<'_>, PayloadError>,
    pixel: bool,
) -> Response<Body> {
    let input = match parsed {
        Ok(input) => input,
        Err(e) => return cors(refused(&state.http.metrics, &e)),
    };
    let client_ip = state.http.client_ip.resolve(peer.ip(), headers);
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match state.pipeline.process(&input, client_ip, user_agent).await {
        Outcome::Accepted => accepted(pixel, None),
        Outcome::Dropped(reason) => accepted(pixel, Some(reason.as_str())),
        Outcome::Refused(refusal) => cors(refused(&state.http.metrics, &refusal)),
    }
}

/// 202, with the drop reason when the event was deliberately not recorded.
fn accepted(pixel: bool, dropped: Option<&'static str>) -> Response<Body> {
    let mut response = if pixel {
        Response::builder()
            .status(StatusCode::ACCEPTED)
            .header(header::CONTENT_TYPE, "image/gif")
            .body(Full::new(Bytes::from_static(PIXEL_GIF)))
            .expect("static response")
    } else {
        text(StatusCode::ACCEPTED, "text/plain", "ok\n".into())
    };
    if let Some(reason) = dropped {
        response
            .headers_mut()
            .insert("x-saltmark-dropped", HeaderValue::from_static(reason));
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    cors(response)
}

/// A 1×1 transparent GIF for the no-JavaScript pixel.
const PIXEL_GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];
