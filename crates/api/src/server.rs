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
//!   `503 TOO_MANY_CONNECTIONS` (JSON, `Retry-After`) and closed;
//! - **draining:** for [`ServerLimits::shutdown_delay`] after the shutdown signal the server
//!   keeps serving, but `/health/ready` answers `503 SHUTTING_DOWN` and every response closes
//!   its connection. A load balancer's health check takes the replica out of rotation in that
//!   time, so no request is in flight to it when it stops accepting; without the delay, a
//!   request the proxy sent just as the listener closed would get no answer.
//!
//! Requests hyper cannot parse (malformed head, 414, 431) get the same JSON errors and security
//! headers as the router's, through [`crate::raw_response`].
//!
//! Upgraded WebSockets and streamed responses (SSE) are not cut by these: the head and body
//! limits apply to what the client sends, and the stream endpoints send heartbeats.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// How long to keep serving, marked not ready, between the shutdown signal and closing the
    /// listener (0 = close at once, right for a server no load balancer sits in front of).
    pub shutdown_delay: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_timeout: Duration::from_secs(60),
            body_chunk_timeout: Duration::from_secs(60),
            max_connections: 512,
            shutdown_delay: Duration::ZERO,
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
        let open = IntGauge::new("taylordash_http_connections", "Open HTTP connections")?;
        let refused = IntCounter::new(
            "taylordash_http_connections_refused_total",
            "Connections refused because the connection limit was reached",
        )?;
        registry.register(Box::new(open.clone()))?;
        registry.register(Box::new(refused.clone()))?;
        Ok(ServerMetrics { open, refused })
    }
}

/// Serves `router` on `listener` until `shutdown` resolves; then drains for
/// [`ServerLimits::shutdown_delay`], stops accepting, asks every connection to close after its
/// current request, and resolves once all have closed (callers bound that wait with their grace
/// period).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    metrics: ServerMetrics,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let draining = Arc::new(AtomicBool::new(false));
    let app = router.layer(axum::middleware::from_fn_with_state(
        draining.clone(),
        mark_draining,
    ));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    // Armed when the shutdown signal arrives: accepting goes on until then.
    let mut drain_ends: Option<tokio::time::Instant> = None;
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown, if drain_ends.is_none() => {
                if limits.shutdown_delay.is_zero() {
                    break;
                }
                draining.store(true, Ordering::SeqCst);
                tracing::info!(delay_s = limits.shutdown_delay.as_secs_f32(),
                    "draining: /health/ready answers 503 so load balancers stop sending requests here");
                drain_ends = Some(tokio::time::Instant::now() + limits.shutdown_delay);
                continue;
            }
            () = tokio::time::sleep_until(drain_ends.unwrap_or_else(tokio::time::Instant::now)),
                if drain_ends.is_some() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
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

/// While draining: readiness fails (so health checks take this replica out of rotation) and
/// every other response asks the client to close its connection, so keep-alive clients and
/// proxies reconnect elsewhere instead of reusing a connection that is about to close.
async fn mark_draining(
    axum::extract::State(draining): axum::extract::State<Arc<AtomicBool>>,
    req: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::IntoResponse;
    if !draining.load(Ordering::SeqCst) {
        return next.run(req).await;
    }
    let mut response = if req.uri().path() == "/health/ready" {
        crate::error::ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SHUTTING_DOWN",
            "this server is shutting down; requests go to the other replicas",
        )
        .into_response()
    } else {
        next.run(req).await
    };
    // A WebSocket upgrade keeps its connection; shutdown ends it after the delay.
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
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
