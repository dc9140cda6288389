//! The HTTP layer: routes, limits, status codes, and the accept loop with
//! graceful shutdown.
//!
//! `run(listener, shutdown, app)` is the whole server: the binary binds a
//! socket and calls it; tests bind `127.0.0.1:0` and do the same.
//!
//! Shutdown order (SIGTERM/SIGINT in the binary, any future in tests):
//! stop accepting → let in-flight requests finish (10 s at most) → stop the
//! background jobs → drain the writer queue into ClickHouse → return.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::app::{App, AppState};
use crate::ingest::payload::{self, EventInput, PayloadError};
use crate::ingest::{Outcome, Refusal};

/// Largest accepted event body by default (`limits.max_body_bytes`).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

type Body = Full<Bytes>;

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

/// Serves until `shutdown` completes, then drains and returns.
pub async fn run(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    app: App,
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
    tracing::info!("draining the event queue");
    app.shutdown().await;
    Ok(())
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
        ("/api/event", &Method::OPTIONS) => cors(preflight()),
        ("/api/event", _) => {
            state.metrics.rejected("method");
            let mut response = json_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "use POST (or GET for the pixel)",
            );
            response.headers_mut().insert(
                header::ALLOW,
                HeaderValue::from_static("GET, POST, OPTIONS"),
            );
            cors(response)
        }
        ("/api/forget", &Method::POST) => forget_post(state, peer, request).await,
        ("/api/forget", &Method::GET) => forget_page(request.uri().query().unwrap_or("")),
        ("/api/forget", &Method::OPTIONS) => cors(preflight()),
        ("/api/forget", _) => {
            let mut response = json_error(StatusCode::METHOD_NOT_ALLOWED, "use POST");
            response.headers_mut().insert(
                header::ALLOW,
                HeaderValue::from_static("GET, POST, OPTIONS"),
            );
            cors(response)
        }
        ("/internal/visit", &Method::POST) => internal_visit(state, request).await,
        ("/api/v2/query", &Method::POST) => stats_query(state, request).await,
        ("/api/v2/realtime", &Method::GET) => realtime(state, request).await,
        ("/api/v2/query" | "/api/v2/realtime", _) => json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "use POST for /api/v2/query, GET for /api/v2/realtime",
        ),
        ("/healthz", &Method::GET) => health(state).await,
        ("/metrics", &Method::GET) => text(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            state.metrics.render(),
        ),
        ("/demo", &Method::GET) => match &state.demo_site {
            Some(site) => demo_page(site),
            None => text(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
        },
        ("/healthz" | "/metrics" | "/demo", _) => {
            let mut response = json_error(StatusCode::METHOD_NOT_ALLOWED, "use GET");
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET"));
            response
        }
        (dashboard, _) if crate::dashboard::owns(dashboard) => {
            crate::dashboard::route(state, request).await
        }
        (js, method) if js.starts_with("/js/") => {
            crate::tracker::serve(js, method, request.headers())
        }
        _ => text(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    }
}

async fn event_post(
    state: &AppState,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Body> {
    let declared_len = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let max_body = state.limits.max_body_bytes;
    if declared_len.is_some_and(|len| len > max_body as u64) {
        return too_large(state);
    }
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
    let (parts, body) = request.into_parts();
    let read_timeout = Duration::from_secs(state.limits.body_read_timeout_secs);
    let Ok(collected) =
        tokio::time::timeout(read_timeout, Limited::new(body, max_body).collect()).await
    else {
        state.metrics.rejected("body_timeout");
        let mut response = json_error(
            StatusCode::REQUEST_TIMEOUT,
            "the request body did not arrive in time",
        );
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return cors(response);
    };
    let body = match collected {
        Ok(collected) => collected.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return too_large(state)
        }
        Err(e) => {
            state.metrics.rejected("body_read");
            return cors(json_error(
                StatusCode::BAD_REQUEST,
                &format!("could not read the request body: {e}"),
            ));
        }
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
            let mut response = json_error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many events; retry later",
            );
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
            cors(response)
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
            let mut response = json_error(StatusCode::SERVICE_UNAVAILABLE, message);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            cors(response)
        }
    }
}

/// `POST /internal/visit`: another collector asks this one, the owner of a
/// visitor, to decide the visit (see `identify::peers`). Only with
/// `sessions.peers` configured, and only with the shared secret.
async fn internal_visit(state: &AppState, request: Request<Incoming>) -> Response<Body> {
    let Some(peers) = &state.pipeline.peers else {
        return text(StatusCode::NOT_FOUND, "text/plain", "not found\n".into());
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
    let body = match Limited::new(request.into_body(), 256).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return too_large(state),
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

/// `POST /api/forget`: erase the caller's own rows on one site. The only
/// input besides the site is the request itself (IP and user agent), hashed
/// with today's and yesterday's salts — see `retention::erasure`.
async fn forget_post(
    state: &AppState,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Body> {
    let query_site = request.uri().query().and_then(site_from_form);
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, 1024).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return too_large(state),
    };
    let site = query_site
        .or_else(|| {
            serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| {
                    v.get("d")
                        .or_else(|| v.get("domain"))
                        .and_then(|d| d.as_str())
                        .map(String::from)
                })
        })
        .or_else(|| std::str::from_utf8(&body).ok().and_then(site_from_form));
    let Some(site) = site.map(|s| crate::config::normalise_site(&s)) else {
        return cors(json_error(
            StatusCode::BAD_REQUEST,
            "d: missing site domain",
        ));
    };
    if !state.pipeline.sites.contains(&site) {
        return cors(json_error(
            StatusCode::BAD_REQUEST,
            "d: not a site of this collector",
        ));
    }
    let Some(salts) = state.pipeline.salts.current() else {
        let mut response = json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the collector is starting; retry shortly",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return cors(response);
    };
    let client_ip = state.client_ip.resolve(peer.ip(), &parts.headers);
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut visitor_ids = vec![crate::identify::visitor::visitor_id(
        &salts.today,
        &site,
        client_ip,
        user_agent,
    )];
    if let Some(yesterday) = &salts.yesterday {
        visitor_ids.push(crate::identify::visitor::visitor_id(
            yesterday, &site, client_ip, user_agent,
        ));
    }
    match crate::retention::erasure::forget_visitor(
        &state.store,
        &site,
        &visitor_ids,
        state.expiry.statement_timeout,
    )
    .await
    {
        Ok(rows) => {
            tracing::info!(site = %site, rows, "visitor erasure");
            let body = serde_json::json!({
                "site": site,
                "deleted_rows": rows,
                "visitor_ids_checked": visitor_ids.len(),
                "note": "Rows recorded for this browser and network today and yesterday were deleted. \
                         Older rows cannot be linked to anyone: the keys that made them linkable are destroyed after 48 hours.",
            });
            cors(text(
                StatusCode::OK,
                "application/json",
                format!("{body}\n"),
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "visitor erasure failed");
            let mut response = json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "erasure failed; retry later",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
            cors(response)
        }
    }
}

/// `GET /api/forget?d=site`: a page with a button, so a "delete my data"
/// link on a website leads to a confirmation rather than deleting on a GET
/// (which any page could trigger with an image tag).
fn forget_page(query: &str) -> Response<Body> {
    let site = site_from_form(query).unwrap_or_default();
    let site_json = serde_json::to_string(&site).unwrap_or_else(|_| "\"\"".into());
    let html = FORGET_HTML.replace("{{SITE_JSON}}", &site_json);
    text(StatusCode::OK, "text/html; charset=utf-8", html)
}

fn site_from_form(form: &str) -> Option<String> {
    url::form_urlencoded::parse(form.as_bytes())
        .find(|(k, _)| k == "d" || k == "domain")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

const FORGET_HTML: &str = include_str!("forget.html");

fn query_error(e: crate::query::QueryError) -> Response<Body> {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::error!(error = %e, "stats query failed");
    }
    json_error(status, &e.to_string())
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

/// `POST /api/v2/query` (Plausible Stats API v2 shape).
async fn stats_query(state: &AppState, request: Request<Incoming>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    // Authenticate before looking at the query: strangers learn nothing.
    let access = match authorize(state, &parts.headers).await {
        Ok(access) => access,
        Err(e) => return query_error(e),
    };
    let body = match Limited::new(body, 64 * 1024).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return json_error(StatusCode::PAYLOAD_TOO_LARGE, "query larger than 64 KiB"),
    };
    let query = match crate::query::request::QueryRequest::from_json(&body) {
        Ok(query) => query,
        Err(e) => return query_error(e),
    };
    if let Err(e) = access.site(&query.site_id) {
        return query_error(e);
    }
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
    if let Err(e) = authorize(state, request.headers())
        .await
        .and_then(|access| access.site(&site))
    {
        return query_error(e);
    }
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

fn too_large(state: &AppState) -> Response<Body> {
    state.metrics.rejected("too_large");
    cors(json_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!(
            "request body larger than {} bytes",
            state.limits.max_body_bytes
        ),
    ))
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

fn preflight() -> Response<Body> {
    let mut response = text(StatusCode::NO_CONTENT, "text/plain", String::new());
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

/// Events come from every site's pages: any origin may send, none may read
/// anything but the drop reason. No credentials are involved (we set no
/// cookies), so a wildcard is safe.
fn cors(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("x-saltmark-dropped"),
    );
    response
}

fn json_error(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": message });
    text(status, "application/json", format!("{body}\n"))
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

fn demo_page(site: &str) -> Response<Body> {
    // Sites are validated domain names, but escape anyway: this is HTML.
    let site: String = site
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        .collect();
    let html = DEMO_HTML.replace("{{SITE}}", &site);
    text(StatusCode::OK, "text/html; charset=utf-8", html)
}

const DEMO_HTML: &str = include_str!("demo.html");

/// A 1×1 transparent GIF for the no-JavaScript pixel.
const PIXEL_GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// Keeps the crate's public surface honest about what a caller needs.
pub type SharedState = Arc<AppState>;
