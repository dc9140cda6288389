//! Plausible's Stats API v1: `GET /api/v1/stats/aggregate`, `/breakdown`,
//! `/timeseries` and `/realtime/visitors`. Each request is translated into
//! the v2 request that asks the same question ([`crate::query::v1`]), run by
//! the same code as `POST /api/v2/query`, and the answer reshaped. The
//! order of checks is v2's: the credential first, then the parameters, then
//! the site, then a place among the running queries. A GET carries no body;
//! one sent anyway is not read.

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::reply::{json, refused, Body, Refusal};
use super::stats::{admit, query_refused};
use crate::app::{HttpState, StatsState};
use crate::auth::access;
use crate::query::request::QueryRequest;
use crate::query::v1::{self, Endpoint, Params, V1Error};
use crate::query::QueryError;

impl Refusal for V1Error {
    fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }

    fn reason(&self) -> Option<&'static str> {
        None
    }

    fn public_message(&self) -> String {
        self.0.clone()
    }
}

/// The answer to a failed v2 query: a malformed one names the v1
/// parameter, anything else is answered as v2 answers it (a database
/// failure never as its own text).
fn v1_refused(http: &HttpState, e: &QueryError, endpoint: Endpoint) -> Response<Body> {
    match v1::refusal_of(e, endpoint) {
        Some(refusal) => refused(&http.metrics, &refusal),
        None => query_refused(http, e),
    }
}

/// `GET /api/v1/stats/…` for `endpoint`.
pub(super) async fn get(
    stats: &StatsState,
    http: &HttpState,
    request: Request<Incoming>,
    endpoint: Endpoint,
) -> Response<Body> {
    let now = stats.clock.now();
    let access = match access::of_request(&stats.store, request.headers(), now).await {
        Ok(access) => access,
        Err(e) => return refused(&http.metrics, &e),
    };
    let params = Params::parse(request.uri().query());
    let today = |site: &str| now.with_timezone(&stats.timezone_of(site)).date_naive();
    let translated = match v1::translate(endpoint, &params, today) {
        Ok(translated) => translated,
        Err(e) => return refused(&http.metrics, &e),
    };
    let query = match QueryRequest::from_value(&translated.body) {
        Ok(query) => query,
        Err(e) => return v1_refused(http, &e, endpoint),
    };
    if let Err(e) = access.site(&query.site_id) {
        return refused(&http.metrics, &e);
    }
    let _permit = match admit(stats, &access) {
        Ok(permit) => permit,
        Err(refusal) => return refused(&http.metrics, &refusal),
    };
    let tz = stats.timezone_of(&query.site_id);
    match crate::query::run::execute(&stats.store, &query, tz, now, stats.sampling).await {
        Ok(answer) => json(StatusCode::OK, &translated.reshape(&answer)),
        Err(e) => v1_refused(http, &e, endpoint),
    }
}
