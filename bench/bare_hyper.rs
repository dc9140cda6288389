//! The baseline for `bench/run`: a bare hyper server on saltmark's stack
//! (tokio multi-thread runtime, hyper 1 http1 through hyper-util's TokioIo,
//! the same connection builder settings, the whole body read through
//! http-body-util with a 16 KiB limit) that does no work at all: 202 "ok\n"
//! for `POST /api/event`, 404 for everything else.
//!
//! Usage: `bare_hyper 127.0.0.1:9000` — runs until SIGTERM / SIGINT.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

const MAX_BODY_BYTES: usize = 16 * 1024;

async fn handle(request: Request<Incoming>) -> Response<Full<Bytes>> {
    if request.uri().path() != "/api/event" || request.method() != Method::POST {
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    match Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(body) => {
            std::hint::black_box(body.to_bytes());
            text(StatusCode::ACCEPTED, "ok\n")
        }
        Err(_) => text(StatusCode::PAYLOAD_TOO_LARGE, "too large\n"),
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

fn main() -> std::io::Result<()> {
    let address: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".into())
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    tokio::runtime::Runtime::new()?.block_on(serve(address))
}

async fn serve(address: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(address).await?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .max_buf_size(64 * 1024);
    eprintln!("bare_hyper listening on {}", listener.local_addr()?);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        };
        let service = hyper::service::service_fn(|request| async move {
            Ok::<_, Infallible>(handle(request).await)
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    Ok(())
}
