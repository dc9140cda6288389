//! Every path the collector answers, and with which methods. A path taken
//! with another method is answered 405 with exactly the `Allow` listed here.

use std::net::SocketAddr;

use hyper::body::Incoming;
use hyper::{Method, Request, Response};

use super::reply::{self, cors, Body};
use super::{dashboard, events, forget, health, pages, peers, stats, stats_v1};
use crate::app::AppState;
use crate::query::v1::Endpoint;

/// Answers one request.
pub(super) async fn route(
    state: &AppState,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Body> {
    let path = request.uri().path().to_string();
    match (path.as_str(), request.method()) {
        ("/api/event", &Method::POST) => events::post(state, peer, request).await,
        ("/api/event", &Method::GET) => events::pixel(state, peer, request).await,
        ("/api/event", &Method::OPTIONS) => reply::preflight(),
        ("/api/event", _) => {
            state.http.metrics.rejected("method");
            cors(reply::method_not_allowed("GET, POST, OPTIONS"))
        }
        // No OPTIONS and no CORS headers: a cross-site page gets no
        // preflight grant, so it can never send the erasure request.
        ("/api/forget", &Method::POST) => forget::post(state, peer, request).await,
        ("/api/forget", &Method::GET) => pages::forget(),
        ("/api/forget", _) => reply::method_not_allowed("GET, POST"),
        ("/internal/visit", &Method::POST) => peers::visit(state, request).await,
        ("/internal/visit", _) => reply::method_not_allowed("POST"),
        ("/api/v2/query", &Method::POST) => stats::query(&state.stats, &state.http, request).await,
        ("/api/v2/query", _) => reply::method_not_allowed("POST"),
        ("/api/v2/funnel", &Method::POST) => {
            stats::funnel(&state.stats, &state.http, request).await
        }
        ("/api/v2/funnel", _) => reply::method_not_allowed("POST"),
        ("/api/v2/funnels", &Method::GET) => {
            stats::funnels(&state.stats, &state.http, request).await
        }
        ("/api/v2/funnels", _) => reply::method_not_allowed("GET"),
        ("/api/v2/realtime", &Method::GET) => {
            stats::realtime(&state.stats, &state.http, request).await
        }
        ("/api/v2/realtime", _) => reply::method_not_allowed("GET"),
        // Plausible's Stats API v1, answered by the v2 query code.
        ("/api/v1/stats/aggregate", &Method::GET) => {
            stats_v1::get(&state.stats, &state.http, request, Endpoint::Aggregate).await
        }
        ("/api/v1/stats/breakdown", &Method::GET) => {
            stats_v1::get(&state.stats, &state.http, request, Endpoint::Breakdown).await
        }
        ("/api/v1/stats/timeseries", &Method::GET) => {
            stats_v1::get(&state.stats, &state.http, request, Endpoint::Timeseries).await
        }
        ("/api/v1/stats/realtime/visitors", &Method::GET) => {
            stats_v1::get(&state.stats, &state.http, request, Endpoint::Realtime).await
        }
        (
            "/api/v1/stats/aggregate"
            | "/api/v1/stats/breakdown"
            | "/api/v1/stats/timeseries"
            | "/api/v1/stats/realtime/visitors",
            _,
        ) => reply::method_not_allowed("GET"),
        ("/", &Method::GET) => pages::home(),
        ("/healthz", &Method::GET) => health::get(state).await,
        ("/healthz", _) => reply::method_not_allowed("GET"),
        ("/demo", &Method::GET) => match &state.demo_site {
            Some(site) => pages::demo(site),
            None => reply::not_found(),
        },
        ("/demo", _) => reply::method_not_allowed("GET"),
        (asset, &Method::GET) if asset.starts_with("/assets/") => pages::asset(asset),
        (path, _) if dashboard::owns(path) => {
            dashboard::route(&state.logins, &state.http, peer.ip(), request).await
        }
        (js, method) if js.starts_with("/js/") => {
            crate::tracker::serve(js, method, request.headers())
        }
        _ => reply::not_found(),
    }
}
