//! `POST /internal/visit`: another collector asks this one, the owner of a
//! visitor, to decide the visit (see `identify::peers`). Only with
//! `sessions.peers` configured, and only with the shared secret.

use hyper::body::Incoming;
use hyper::header;
use hyper::{Request, Response, StatusCode};

use super::body;
use super::reply::{self, json_error, text, Body};
use crate::app::AppState;
use crate::identify::peers::{VisitAnswer, VisitQuestion};

/// Decides one visit for a peer.
pub(super) async fn visit(state: &AppState, request: Request<Incoming>) -> Response<Body> {
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
        state.http.metrics.rejected("peer_unauthorised");
        return json_error(StatusCode::UNAUTHORIZED, "unknown peer secret");
    }
    let (_, body) = match body::read_or_refuse(&state.http, request, body::INTERNAL_VISIT).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let Ok(question) = serde_json::from_slice::<VisitQuestion>(&body) else {
        return json_error(StatusCode::BAD_REQUEST, "expected {today, yesterday, now}");
    };
    let answer = VisitAnswer::from(
        question.decide_locally(&state.pipeline.visits, state.pipeline.random.as_ref()),
    );
    text(
        StatusCode::OK,
        "application/json",
        serde_json::to_string(&answer).unwrap_or_default(),
    )
}
