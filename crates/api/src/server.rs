//! The HTTP/1.1 server loop: accepts connections and serves the router on each, with the limits
//! a server facing untrusted clients needs (hyper enforces none of them on its own):
//!
//! - **request head / keep-alive idle:** a connection that has not sent a complete request head
//!   within [`ServerLimits::header_timeout`] of opening, or of finishing its previous response,
//!   is closed (hyper has one timer for both: its header read timeout starts whenever it waits
//!   for a head);
//! - **request body:** the body must keep arriving: at most [`ServerLimits::body_chunk_timeout`]
//!   between two chunks, so slow but real uploads work and a stalled one ends with 408;
//! - **connections:** at most [`ServerLimits::max_connections`] at once; one more is answered
//!   `503 TOO_MANY_CONNECTIONS` (JSON, `Retry-After`) and closed.
//!
//! Requests hyper cannot parse (malformed head, 414, 431) get the same JSON errors and security
//! headers as the router's, through [`crate::raw_response`].
//!
//! Upgraded WebSockets and streamed responses (SSE) are not cut by these: the head and body
//! limits apply to what the client sends, and the stream endpoints send heartbeats.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use prometheus::{IntCounter, IntGauge, Registry};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;
use tower_http::timeout::RequestBodyTimeout;

use crate::raw_response::{ParseErrorRewriter, json_response};

/// Connection limits; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    pub header_timeout: Duration,
    pub body_chunk_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_timeout: Duration::from_secs(60),
            body_chunk_timeout: Duration::from_secs(60),
            max_connections: 512,
        }
    }
}

/// Open and refused connections, for `/metrics`.
#[derive(Clone)]
pub struct ServerMetrics {
    open: IntGauge,
    refused: IntCounter,
}

impl ServerMetrics {
    pub(crate) fn new(registry: &Registry) -> Result<ServerMetrics, prometheus::Error> {
        let open = IntGauge::new("http_connections", "Open HTTP connections")?;
        let refused = IntCounter::new(
            "http_connections_refused_total",
            "Connections refused because the connection limit was reached",
        )?;
        registry.register(Box::new(open.clone()))?;
        registry.register(Box::new(refused.clone()))?;
        Ok(ServerMetrics { open, refused })
    }
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, asks every
/// connection to close after its current request, and resolves once all have closed (callers
/// bound that wait with their grace period).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    metrics: ServerMetrics,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let app = router;
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics.refused.inc();
            tracing::warn!(%peer, limit = limits.max_connections,
                "connection refused: too many open connections (TAYLORDASH_HTTP_MAX_CONNECTIONS)");
            // Per-connection work, bounded by the write timeout inside.
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = RequestBodyTimeout::new(app.clone(), limits.body_chunk_timeout).map_request(
            move |mut req: Request<Incoming>| {
                // The peer address feeds the per-client login throttle and the audit trail.
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            },
        );
        let mut stop = stop_rx.clone();
        let open = metrics.open.clone();
        open.inc();
        // Per-connection work: it ends when the client goes, a timeout fires, or shutdown asks
        // it to; shutdown waits for it through the connection slots.
        tokio::spawn(async move {
            let builder = {
                let mut b = hyper::server::conn::http1::Builder::new();
                b.timer(TokioTimer::new())
                    .header_read_timeout(limits.header_timeout);
                b
            };
            let conn = builder
                .serve_connection(
                    TokioIo::new(ParseErrorRewriter::new(stream)),
                    TowerToHyperService::new(service),
                )
                .with_upgrades();
            let mut conn = std::pin::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                // Sent once, at shutdown (or the sender is gone: shutting down as well).
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection closed with an error");
            }
            open.dec();
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop_tx.send(());
    // Every slot free again means every connection has closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    Ok(())
}

/// Answers a connection over the limit with a JSON 503 and closes it.
async fn refuse(mut stream: TcpStream) -> Result<(), Infallible> {
    let response = json_response(
        "503 Service Unavailable",
        "TOO_MANY_CONNECTIONS",
        "the server has too many open connections; retry shortly",
        &[("retry-after", "1")],
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(&response).await?;
        stream.shutdown().await
    })
    .await;
    Ok(())
}
