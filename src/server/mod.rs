//! The HTTP layer: routes, limits, status codes, and the accept loop with
//! graceful shutdown.
//!
//! `run(listener, shutdown, app)` is the whole server: the binary binds a
//! socket and calls it; tests bind `127.0.0.1:0` and do the same.
//!
//! Shutdown order (SIGTERM/SIGINT in the binary, any future in tests):
//! stop accepting → let in-flight requests finish (10 s at most) → stop the
//! background jobs → drain the writer queue into ClickHouse → return.

//!
//! Rooms: [`routes`] maps paths to the endpoint families, one file each —
//! [`events`] (`/api/event`), [`stats`] (`/api/v2/*`), [`stats_v1`]
//! (`/api/v1/stats/*`), [`dashboard`] (`/dashboard`, `/share`,
//! `/api/dashboard/*`), [`forget`] (`/api/forget`), [`peers`]
//! (`/internal/visit`), [`health`] (`/healthz`), [`pages`] (the demo and
//! erasure pages) and [`metrics`] (the separate `/metrics`
//! listener). Every shared answer is built in [`reply`]; every body is read
//! through [`body`].

pub mod body;
mod dashboard;
mod events;
mod forget;
mod health;
mod metrics;
mod pages;
mod peers;
pub mod reply;
mod routes;
mod stats;
mod stats_v1;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::app::{App, AppState};
use reply::Body;

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
    let limits = state.http.limits.clone();
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
    let metrics_server = app.take_metrics_listener().map(|listener| {
        tokio::spawn(metrics::serve(
            listener,
            state.http.metrics.clone(),
            metrics_stop.clone(),
        ))
    });
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
            state.http.metrics.rejected("too_many_connections");
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
        let metrics = state.http.metrics.clone();
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
        let response = routes::route(state, peer, request).await;
        tracing::debug!(status = response.status().as_u16(), "answered");
        response
    }
    .instrument(span)
    .await
}
