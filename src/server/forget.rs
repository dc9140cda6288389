//! `POST /api/forget`: a visitor erases their own rows on one site.
//!
//! The only input besides the site is the request itself (address and user
//! agent), hashed with today's and yesterday's salts — see
//! `retention::erasure`. Three defences keep other web pages from using it:
//!
//! - **Same origin only.** The request must carry `Saltmark-Erase:
//!   this-browser`, a header no cross-site page can send without a CORS
//!   preflight, and the collector grants none for this path (no `OPTIONS`,
//!   no `Access-Control-*` headers). A browser's `Sec-Fetch-Site`, when
//!   sent, must say `same-origin`. So a hostile page can neither erase its
//!   visitor's data on another site nor read the answer.
//! - **Nothing to learn.** The answer is the same whether rows existed or
//!   not: no count is ever returned.
//! - **Bounded cost.** Each visitor hash may erase a few times per window
//!   (429 beyond), and erasures are carried out in rounds: one delete for
//!   every request of a round, at most one round per
//!   `retention.erasure_round_secs`, bounded in time to the two days the
//!   live salts can reach.

use std::net::SocketAddr;

use hyper::body::Incoming;
use hyper::header;
use hyper::{Request, Response, StatusCode};

use super::body;
use super::reply::{self, json_error, Body};
use crate::app::AppState;
use crate::retention::erasure::ErasureError;

/// The header the erasure page sends (its value must be exactly this).
pub const ERASE_HEADER: &str = "saltmark-erase";
/// The value of [`ERASE_HEADER`].
pub const ERASE_VALUE: &str = "this-browser";

fn is_same_origin_request(headers: &hyper::HeaderMap) -> bool {
    let marked = headers
        .get(ERASE_HEADER)
        .is_some_and(|v| v.as_bytes() == ERASE_VALUE.as_bytes());
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    marked && matches!(fetch_site, None | Some("same-origin") | Some("none"))
}

fn site_from_form(form: &str) -> Option<String> {
    url::form_urlencoded::parse(form.as_bytes())
        .find(|(k, _)| k == "d" || k == "domain")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

fn site_from_json(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value
        .get("d")
        .or_else(|| value.get("domain"))?
        .as_str()
        .map(String::from)
}

/// Handles the erasure request.
pub async fn post(
    state: &AppState,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Body> {
    if !is_same_origin_request(request.headers()) {
        state.http.metrics.rejected("forget_cross_site");
        return json_error(
            StatusCode::FORBIDDEN,
            "erasure requests are sent by this collector's erasure page (GET /api/forget?d=<site>)",
        );
    }
    let query_site = request.uri().query().and_then(site_from_form);
    let (parts, body) = match body::read_or_refuse(&state.http, request, body::FORGET).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let site = query_site
        .or_else(|| site_from_json(&body))
        .or_else(|| std::str::from_utf8(&body).ok().and_then(site_from_form));
    let Some(site) = site.map(|s| crate::config::normalise_site(&s)) else {
        return json_error(StatusCode::BAD_REQUEST, "d: missing site domain");
    };
    if !state.pipeline.sites.contains(&site) {
        return json_error(StatusCode::BAD_REQUEST, "d: not a site of this collector");
    }
    let Some(salts) = state.pipeline.salts.current() else {
        return reply::unavailable("the collector is starting; retry shortly", 1);
    };
    let client_ip = state.http.client_ip.resolve(peer.ip(), &parts.headers);
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let today = crate::identify::visitor::visitor_id(&salts.today, &site, client_ip, user_agent);
    if let Err(wait) = state.erasures.check_rate(today) {
        state.http.metrics.rejected("forget_rate_limited");
        return reply::too_many("erasure already requested; retry later", wait);
    }
    let mut visitor_ids = vec![today];
    if let Some(yesterday) = &salts.yesterday {
        visitor_ids.push(crate::identify::visitor::visitor_id(
            yesterday, &site, client_ip, user_agent,
        ));
    }
    // The live salts reach back to the start of yesterday (UTC) at most.
    let since = salts
        .day
        .pred_opt()
        .unwrap_or(salts.day)
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    match state.erasures.erase(&site, visitor_ids, since).await {
        Ok(()) => {
            tracing::info!(site = %site, "visitor erasure done");
            reply::json(
                StatusCode::OK,
                &serde_json::json!({
                    "site": site,
                    "erased": true,
                    "note": "Everything recorded for this browser and network today and yesterday is deleted. \
                             Older visits cannot be linked to anyone: the keys that made them linkable are destroyed after 48 hours.",
                }),
            )
        }
        Err(ErasureError::Busy) => {
            state.http.metrics.rejected("forget_busy");
            reply::unavailable("too many erasures are waiting; retry shortly", 30)
        }
        Err(e) => {
            tracing::error!(error = %e, "visitor erasure failed");
            reply::unavailable("erasure failed; retry later", 30)
        }
    }
}
