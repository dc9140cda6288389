//! The HTTP layer: routes, limits, status codes, and the accept loop with
//! graceful shutdown.
//!
//! `run(listener, shutdown, app)` is the whole server: the binary binds a
//! socket and calls it; tests bind `127.0.0.1:0` and do the same.
//!
//! Shutdown order (SIGTERM/SIGINT in the binary, any future in tests):
//! stop accepting → let in-flight requests finish (10 s at most) → stop the
//! background jobs → drain the writer queue into ClickHouse → return.

pub mod body;
mod forget;
mod pages;
pub mod reply;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::app::{App, AppState};
use crate::ingest::payload::{self, EventInput, PayloadError};
use crate::ingest::{Outcome, Refusal};
use body::BodyLimit;
use reply::{cors, json_error, text, Body};

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

/// Serves until `shutdown` completes, then drains and returns.
///
/// With `metrics.listen` configured (loopback by default), `/metrics` is
/// served on that second listener, which the app bound at start-up, and on
/// no other: the public port carries no counters of any tenant.
pub async fn run(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    mut app: App,
) -> std::io::Result<()> {
    let state = app.state().clone();
    let limits = state.limits.clone();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    // A request head larger than max_buf_size is answered 431 by hyper
    // itself; headers not complete within the timeout close the connection
    // (hyper sends nothing). Both surface as connection errors, counted below.
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.header_read_timeout_secs))
        .max_buf_size(limits.max_header_bytes.max(8192));
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let metrics_stop = tokio_util::sync::CancellationToken::new();
    let metrics_server = app
        .take_metrics_listener()
        .map(|listener| tokio::spawn(serve_metrics(listener, state.clone(), metrics_stop.clone())));
    tokio::pin!(shutdown);
    tracing::info!(address = %listener.local_addr()?, "listening");
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            state.metrics.rejected("too_many_connections");
            tokio::spawn(refuse_connection(stream));
            continue;
        };
        let service_state = state.clone();
        let service = hyper::service::service_fn(move |request| {
            let state = service_state.clone();
            async move { Ok::<_, Infallible>(handle(&state, peer, request).await) }
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        let metrics = state.metrics.clone();
        metrics.connections_open.inc();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                if e.is_parse_too_large() {
                    metrics.rejected("headers_too_large");
                } else if e.is_timeout() {
                    metrics.rejected("header_timeout");
                }
                tracing::debug!(error = %e, "connection ended with an error");
            }
            metrics.connections_open.dec();
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing open requests");
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish within 10s");
    }
    metrics_stop.cancel();
    if let Some(server) = metrics_server {
        let _ = server.await;
    }
    tracing::info!("draining the event queue");
    app.shutdown().await;
    Ok(())
}

/// The metrics listener: `GET /metrics` and nothing else.
async fn serve_metrics(
    listener: TcpListener,
    state: Arc<AppState>,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(5));
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => return,
        };
        let state = state.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let state = state.clone();
            async move {
                let response = match (request.uri().path(), request.method()) {
                    ("/metrics", &Method::GET) => text(
                        StatusCode::OK,
                        "text/plain; version=0.0.4",
                        state.metrics.render(),
                    ),
                    ("/metrics", _) => reply::method_not_allowed("GET"),
                    _ => reply::not_found(),
                };
                Ok::<_, Infallible>(response)
            }
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}

/// Over `limits.max_connections`: a short, clear answer, then close.
async fn refuse_connection(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        stream.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        ),
    )
    .await;
    let _ = stream.shutdown().await;
}

async fn handle(state: &AppState, peer: SocketAddr, request: Request<Incoming>) -> Response<Body> {
    let request_id = REQUEST_IDS.fetch_add(1, Ordering::Relaxed);
    // Only the path: query strings may carry page URLs, and nothing here may
    // carry the client's address or user agent.
    let span = tracing::debug_span!(
        "request",
        id = request_id,
        method = %request.method(),
        path = %request.uri().path()
    );
    async move {
        let response = route(state, peer, request).await;
        tracing::debug!(status = response.status().as_u16(), "answered");
        response
    }
    .instrument(span)
    .await
}

async fn route(state: &AppState, peer: SocketAddr, request: Request<Incoming>) -> Response<Body> {
    let path = request.uri().path().to_string();
    match (path.as_str(), request.method()) {
        ("/api/event", &Method::POST) => event_post(state, peer, request).await,
        ("/api/event", &Method::GET) => event_pixel(state, peer, request).await,
        ("/api/event", &Method::OPTIONS) => reply::preflight(),
        ("/api/event", _) => {
            state.metrics.rejected("method");
            cors(reply::method_not_allowed("GET, POST, OPTIONS"))
        }
        // No OPTIONS and no CORS headers: a cross-site page gets no
        // preflight grant, so it can never send the erasure request.
        ("/api/forget", &Method::POST) => forget::post(state, peer, request).await,
        ("/api/forget", &Method::GET) => pages::forget(),
        ("/api/forget", _) => reply::method_not_allowed("GET, POST"),
        ("/internal/visit", &Method::POST) => internal_visit(state, request).await,
        ("/internal/visit", _) => reply::method_not_allowed("POST"),
        ("/api/v2/query", &Method::POST) => stats_query(state, request).await,
        ("/api/v2/query", _) => reply::method_not_allowed("POST"),
        ("/api/v2/realtime", &Method::GET) => realtime(state, request).await,
        ("/api/v2/realtime", _) => reply::method_not_allowed("GET"),
        ("/healthz", &Method::GET) => health(state).await,
        ("/demo", &Method::GET) => match &state.demo_site {
            Some(site) => pages::demo(site),
            None => reply::not_found(),
        },
        ("/healthz" | "/demo", _) => reply::method_not_allowed("GET"),
        (asset, &Method::GET) if asset.starts_with("/assets/") => pages::asset(asset),
        (dashboard, _) if crate::dashboard::owns(dashboard) => {
            crate::dashboard::route(state, peer.ip(), request).await
        }
        (js, method) if js.starts_with("/js/") => {
            crate::tracker::serve(js, method, request.headers())
        }
        _ => reply::not_found(),
    }
}

/// Reads a body with `limit` and the shared read timeout; a refusal is
/// counted and answered here.
pub(crate) async fn read_body(
    state: &AppState,
    request: Request<Incoming>,
    limit: BodyLimit,
) -> Result<(hyper::http::request::Parts, Bytes), Response<Body>> {
    let (parts, body) = request.into_parts();
    let timeout = Duration::from_secs(state.limits.body_read_timeout_secs);
    match body::read(body, &parts.headers, limit, timeout).await {
        Ok(bytes) => Ok((parts, bytes)),
        Err(e) => {
            state.metrics.rejected(e.reason());
            Err(e.response())
        }
    }
}

/// The event endpoint's body limit (`limits.max_body_bytes`).
fn event_limit(state: &AppState) -> BodyLimit {
    BodyLimit {
        endpoint: "/api/event",
        max_bytes: state.limits.max_body_bytes,
    }
}

async fn event_post(
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
            state.metrics.rejected("content_type");
            return cors(json_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be text/plain or application/json",
            ));
        }
    }
    let (parts, body) = match read_body(state, request, event_limit(state)).await {
        Ok(read) => read,
        Err(response) => return cors(response),
    };
    let parsed = payload::from_json(&body);
    ingest(state, peer, &parts.headers, parsed, false).await
}

async fn event_pixel(
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
        Err(e) => {
            state.metrics.rejected("malformed");
            return cors(json_error(StatusCode::BAD_REQUEST, &e.0));
        }
    };
    let client_ip = state.client_ip.resolve(peer.ip(), headers);
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let outcome = state.pipeline.process(&input, client_ip, user_agent).await;
    let accepted = |dropped: Option<&'static str>| {
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
    };
    match outcome {
        Outcome::Accepted => accepted(None),
        Outcome::Dropped(reason) => accepted(Some(reason.as_str())),
        Outcome::Refused(Refusal::BadPage(message)) => {
            state.metrics.rejected("malformed");
            cors(json_error(StatusCode::BAD_REQUEST, &message))
        }
        Outcome::Refused(Refusal::RateLimited(kind, wait)) => {
            state.metrics.rejected(kind.as_str());
            cors(reply::too_many("too many events; retry later", wait))
        }
        Outcome::Refused(refusal) => {
            let (reason, message) = match refusal {
                Refusal::QueueFull => ("queue_full", "the collector is busy; retry shortly"),
                Refusal::NoSalt => ("no_salt", "the collector is starting; retry shortly"),
                _ => (
                    "shutting_down",
                    "the collector is shutting down; retry shortly",
                ),
            };
            state.metrics.rejected(reason);
            cors(reply::unavailable(message, 1))
        }
    }
}

/// `POST /internal/visit`: another collector asks this one, the owner of a
/// visitor, to decide the visit (see `identify::peers`). Only with
/// `sessions.peers` configured, and only with the shared secret.
async fn internal_visit(state: &AppState, request: Request<Incoming>) -> Response<Body> {
    let Some(peers) = &state.pipeline.peers else {
        return reply::not_found();
    };
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !peers.authorised(bearer) {
        state.metrics.rejected("peer_unauthorised");
        return json_error(StatusCode::UNAUTHORIZED, "unknown peer secret");
    }
    let (_, body) = match read_body(state, request, body::INTERNAL_VISIT).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let Ok(question) = serde_json::from_slice::<crate::identify::peers::VisitQuestion>(&body)
    else {
        return json_error(StatusCode::BAD_REQUEST, "expected {today, yesterday, now}");
    };
    let answer = crate::identify::peers::VisitAnswer::from(
        question.decide_locally(&state.pipeline.sessions, state.pipeline.random.as_ref()),
    );
    text(
        StatusCode::OK,
        "application/json",
        serde_json::to_string(&answer).unwrap_or_default(),
    )
}

fn query_error(e: crate::query::QueryError) -> Response<Body> {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::error!(error = %e, "stats query failed");
    } else if let crate::query::QueryError::TooExpensive(cause) = &e {
        tracing::warn!(error = %cause, "stats query over its limits");
    }
    let mut response = json_error(status, &e.public_message());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    response
}

/// The request's credential (API key, share link or dashboard session).
async fn authorize(
    state: &AppState,
    headers: &hyper::HeaderMap,
) -> Result<crate::query::access::Access, crate::query::QueryError> {
    use crate::query::access;
    access::authorize(
        &state.store,
        access::credential(headers),
        state.pipeline.clock.now(),
    )
    .await
}

/// A place among the running queries for this credential.
fn admit_query(
    state: &AppState,
    access: &crate::query::access::Access,
) -> Result<crate::query::gate::QueryPermit, crate::query::gate::GateRefusal> {
    state.query_gate.enter(&access.principal)
}

/// The answer to a query the gate refused: 429 for this credential's
/// share, 503 for everyone's.
fn gate_refused(state: &AppState, refusal: crate::query::gate::GateRefusal) -> Response<Body> {
    let message = refusal.to_string();
    match refusal {
        crate::query::gate::GateRefusal::Credential(_) => {
            state.metrics.rejected("query_credential_busy");
            reply::too_many(&message, Duration::from_secs(1))
        }
        _ => {
            state.metrics.rejected("query_busy");
            reply::unavailable(&message, 1)
        }
    }
}

/// `POST /api/v2/query` (Plausible Stats API v2 shape).
async fn stats_query(state: &AppState, request: Request<Incoming>) -> Response<Body> {
    // Authenticate before looking at the query: strangers learn nothing.
    let access = match authorize(state, request.headers()).await {
        Ok(access) => access,
        Err(e) => return query_error(e),
    };
    let (_, body) = match read_body(state, request, body::STATS_QUERY).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let query = match crate::query::request::QueryRequest::from_json(&body) {
        Ok(query) => query,
        Err(e) => return query_error(e),
    };
    if let Err(e) = access.site(&query.site_id) {
        return query_error(e);
    }
    let _permit = match admit_query(state, &access) {
        Ok(permit) => permit,
        Err(refusal) => return gate_refused(state, refusal),
    };
    let tz = state.timezone_of(&query.site_id);
    let now = state.pipeline.clock.now();
    match crate::query::run::execute(&state.store, &query, tz, now).await {
        Ok(answer) => text(StatusCode::OK, "application/json", format!("{answer}\n")),
        Err(e) => query_error(e),
    }
}

/// `GET /api/v2/realtime?site_id=…`: visitors in the last 5 minutes.
async fn realtime(state: &AppState, request: Request<Incoming>) -> Response<Body> {
    let site = request
        .uri()
        .query()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "site_id")
                .map(|(_, v)| crate::config::normalise_site(&v))
        })
        .unwrap_or_default();
    let access = match authorize(state, request.headers()).await {
        Ok(access) => access,
        Err(e) => return query_error(e),
    };
    if let Err(e) = access.site(&site) {
        return query_error(e);
    }
    let _permit = match admit_query(state, &access) {
        Ok(permit) => permit,
        Err(refusal) => return gate_refused(state, refusal),
    };
    let query = crate::query::request::QueryRequest::from_value(&serde_json::json!({
        "site_id": site, "metrics": ["visitors"], "date_range": "realtime"
    }));
    let query = match query {
        Ok(q) => q,
        Err(e) => return query_error(e),
    };
    let tz = state.timezone_of(&site);
    match crate::query::run::execute(&state.store, &query, tz, state.pipeline.clock.now()).await {
        Ok(answer) => {
            let visitors = answer["results"][0]["metrics"][0].clone();
            let body =
                serde_json::json!({ "site_id": site, "visitors": visitors, "window_minutes": 5 });
            text(StatusCode::OK, "application/json", format!("{body}\n"))
        }
        Err(e) => query_error(e),
    }
}

async fn health(state: &AppState) -> Response<Body> {
    let clickhouse = state.store.ping().await;
    let writer = state.pipeline.writer.is_healthy();
    let salts = state.pipeline.salts.current().is_some();
    let spooling = state.pipeline.writer.is_spooling();
    let ok = clickhouse && writer && salts && !spooling;
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "degraded" },
        "clickhouse": clickhouse,
        "writer": writer,
        "salts": salts,
        "spooling": spooling,
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    text(status, "application/json", format!("{body}\n"))
}

/// A 1×1 transparent GIF for the no-JavaScript pixel.
const PIXEL_GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];
