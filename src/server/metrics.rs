//! The metrics listener: `GET /metrics` on its own address (loopback by
//! default), so the public port carries no counters of any tenant.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::reply::{self, text};
use crate::metrics::Metrics;

/// The metrics listener: `GET /metrics` and nothing else.
pub(super) async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
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
        let metrics = metrics.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let metrics = metrics.clone();
            async move {
                let response = match (request.uri().path(), request.method()) {
                    ("/metrics", &Method::GET) => text(
                        StatusCode::OK,
                        "text/plain; version=0.0.4",
                        metrics.render(),
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
