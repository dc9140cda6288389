//! The stats API: `POST /api/v2/query` (Plausible Stats API v2's shape),
//! `POST /api/v2/funnel`, `GET /api/v2/funnels` and `GET /api/v2/realtime`. Order of checks: the credential first (strangers
//! learn nothing about the query language or the sites), then the body,
//! then the site, then a place among the running queries.

use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::body;
use super::reply::{refused, text, Body, Refusal};
use crate::app::{HttpState, StatsState};
use crate::auth::access::{self, Access};
use crate::auth::AuthError;
use crate::query::gate::{GateRefusal, QueryPermit};
use crate::query::request::QueryRequest;
use crate::query::QueryError;

impl Refusal for QueryError {
    fn status(&self) -> StatusCode {
        StatusCode::from_u16(QueryError::status(self)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn reason(&self) -> Option<&'static str> {
        None
    }

    fn public_message(&self) -> String {
        QueryError::public_message(self)
    }

    fn detail(&self) -> String {
        match self {
            QueryError::TooExpensive(cause) | QueryError::Store(cause) => {
                format!("{self}: {cause}")
            }
            other => other.to_string(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        matches!(self, QueryError::Store(_)).then_some(Duration::from_secs(5))
    }
}

impl Refusal for AuthError {
    fn status(&self) -> StatusCode {
        StatusCode::from_u16(AuthError::status(self)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn reason(&self) -> Option<&'static str> {
        None
    }

    fn public_message(&self) -> String {
        AuthError::public_message(self)
    }

    fn detail(&self) -> String {
        match self {
            AuthError::Store(cause) => format!("credential check failed: {cause}"),
            other => other.to_string(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        matches!(self, AuthError::Store(_)).then_some(Duration::from_secs(5))
    }
}

impl Refusal for GateRefusal {
    fn status(&self) -> StatusCode {
        match self {
            GateRefusal::Credential(_) => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn reason(&self) -> Option<&'static str> {
        Some(match self {
            GateRefusal::Credential(_) => "query_credential_busy",
            _ => "query_busy",
        })
    }

    fn public_message(&self) -> String {
        self.to_string()
    }
}

/// The answer to a failed query; a query over its limits is logged with
/// the limit ClickHouse named.
pub(super) fn query_refused(http: &HttpState, e: &QueryError) -> Response<Body> {
    if let QueryError::TooExpensive(cause) = e {
        tracing::warn!(error = %cause, "stats query over its limits");
    }
    refused(&http.metrics, e)
}

/// A place among the running queries for this credential.
pub(super) fn admit(stats: &StatsState, access: &Access) -> Result<QueryPermit, GateRefusal> {
    stats.gate.enter(&access.principal)
}

/// `POST /api/v2/query`.
pub(super) async fn query(
    stats: &StatsState,
    http: &HttpState,
    request: Request<Incoming>,
) -> Response<Body> {
    let access = match access::of_request(&stats.store, request.headers(), stats.clock.now()).await
    {
        Ok(access) => access,
        Err(e) => return refused(&http.metrics, &e),
    };
    let (_, body) = match body::read_or_refuse(http, request, body::STATS_QUERY).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let query = match QueryRequest::from_json(&body) {
        Ok(query) => query,
        Err(e) => return query_refused(http, &e),
    };
    if let Err(e) = access.site(&query.site_id) {
        return refused(&http.metrics, &e);
    }
    let _permit = match admit(stats, &access) {
        Ok(permit) => permit,
        Err(refusal) => return refused(&http.metrics, &refusal),
    };
    let tz = stats.timezone_of(&query.site_id);
    match crate::query::run::execute(&stats.store, &query, tz, stats.clock.now(), stats.sampling)
        .await
    {
        Ok(answer) => text(StatusCode::OK, "application/json", format!("{answer}\n")),
        Err(e) => query_refused(http, &e),
    }
}

/// `POST /api/v2/funnel`: visitors through a funnel's steps.
pub(super) async fn funnel(
    stats: &StatsState,
    http: &HttpState,
    request: Request<Incoming>,
) -> Response<Body> {
    let access = match access::of_request(&stats.store, request.headers(), stats.clock.now()).await
    {
        Ok(access) => access,
        Err(e) => return refused(&http.metrics, &e),
    };
    let (_, body) = match body::read_or_refuse(http, request, body::STATS_QUERY).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let question = match crate::query::funnel::FunnelRequest::from_json(&body) {
        Ok(question) => question,
        Err(e) => return query_refused(http, &e),
    };
    if let Err(e) = access.site(&question.query.site_id) {
        return refused(&http.metrics, &e);
    }
    let _permit = match admit(stats, &access) {
        Ok(permit) => permit,
        Err(refusal) => return refused(&http.metrics, &refusal),
    };
    let tz = stats.timezone_of(&question.query.site_id);
    match crate::query::funnel::execute(
        &stats.store,
        &question,
        tz,
        stats.clock.now(),
        stats.sampling,
    )
    .await
    {
        Ok(answer) => text(StatusCode::OK, "application/json", format!("{answer}\n")),
        Err(e) => query_refused(http, &e),
    }
}

/// `GET /api/v2/funnels?site_id=…`: the site's funnels (names and steps),
/// for a dashboard to offer them.
pub(super) async fn funnels(
    stats: &StatsState,
    http: &HttpState,
    request: Request<Incoming>,
) -> Response<Body> {
    let site = site_param(&request);
    let access = match access::of_request(&stats.store, request.headers(), stats.clock.now()).await
    {
        Ok(access) => access,
        Err(e) => return refused(&http.metrics, &e),
    };
    if let Err(e) = access.site(&site) {
        return refused(&http.metrics, &e);
    }
    match crate::goals::funnels::list(&stats.store, &site).await {
        Ok(funnels) => {
            let body = serde_json::json!({ "site_id": site, "funnels": funnels });
            text(StatusCode::OK, "application/json", format!("{body}\n"))
        }
        Err(crate::goals::GoalError::Store(e)) => query_refused(http, &QueryError::Store(e)),
        Err(e) => query_refused(http, &QueryError::Internal(e.to_string())),
    }
}

/// The `site_id` query parameter, normalised (empty when missing).
fn site_param(request: &Request<Incoming>) -> String {
    request
        .uri()
        .query()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "site_id")
                .map(|(_, v)| crate::config::normalise_site(&v))
        })
        .unwrap_or_default()
}

/// `GET /api/v2/realtime?site_id=…`: visitors in the last 5 minutes.
pub(super) async fn realtime(
    stats: &StatsState,
    http: &HttpState,
    request: Request<Incoming>,
) -> Response<Body> {
    let site = site_param(&request);
    let access = match access::of_request(&stats.store, request.headers(), stats.clock.now()).await
    {
        Ok(access) => access,
        Err(e) => return refused(&http.metrics, &e),
    };
    if let Err(e) = access.site(&site) {
        return refused(&http.metrics, &e);
    }
    let _permit = match admit(stats, &access) {
        Ok(permit) => permit,
        Err(refusal) => return refused(&http.metrics, &refusal),
    };
    let query = QueryRequest::from_value(&serde_json::json!({
        "site_id": site, "metrics": ["visitors"], "date_range": "realtime"
    }));
    let query = match query {
        Ok(q) => q,
        Err(e) => return query_refused(http, &e),
    };
    let tz = stats.timezone_of(&site);
    match crate::query::run::execute(&stats.store, &query, tz, stats.clock.now(), stats.sampling)
        .await
    {
        Ok(answer) => {
            let visitors = answer["results"][0]["metrics"][0].clone();
            let body =
                serde_json::json!({ "site_id": site, "visitors": visitors, "window_minutes": 5 });
            text(StatusCode::OK, "application/json", format!("{body}\n"))
        }
        Err(e) => query_refused(http, &e),
    }
}
