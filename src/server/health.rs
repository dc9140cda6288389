//! `GET /healthz`: 200 when ClickHouse answers, the writer delivers, today's
//! salt is loaded and nothing waits in the spool for an absent ClickHouse;
//! otherwise 503 with which of these failed.

use hyper::{Response, StatusCode};

use super::reply::{text, Body};
use crate::app::AppState;

/// The health answer.
pub(super) async fn get(state: &AppState) -> Response<Body> {
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
