//! Observability, apart from HTTP: structured logs (the `tracing` layer, secret redaction and
//! the batched writer into `application_logs`), OpenTelemetry traces (a `tracing` layer and an
//! OTLP/HTTP exporter), the time-series writer (metric events and the app's own metrics to
//! VictoriaMetrics or the local table) with the PromQL subset evaluated locally, and the small
//! outbound HTTP client they use for the services beside TaylorDash.
//!
//! The HTTP routes over these (`/logs`, `/metrics/query_range`, `/health/stack`) live in `api`.
//! Background work (the writers, retention jobs, sampling) runs only when started, on the
//! application's task tracker, and stops with its cancellation token.

pub mod batch_queue;
pub mod logs;
pub mod otel;
pub mod outbound;
pub mod timeseries;

use std::future::Future;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The `service` of the records this server writes itself (v1's service name, kept so monitors
/// written for v1 keep matching).
pub const SERVICE: &str = "taylordash-backend";

/// Runs a queue's writer on `tasks`. Once `cancel` is cancelled the writer keeps running while
/// `drain` waits for the queue to empty (bounded by the caller), then stops.
pub(crate) fn spawn_writer(
    tasks: &TaskTracker,
    cancel: &CancellationToken,
    writer: impl Future<Output = ()> + Send + 'static,
    drain: impl Future<Output = ()> + Send + 'static,
) {
    let cancel = cancel.clone();
    tasks.spawn(async move {
        let stopping = async move {
            cancel.cancelled().await;
            drain.await;
        };
        tokio::select! {
            () = writer => {}
            () = stopping => {}
        }
    });
}
