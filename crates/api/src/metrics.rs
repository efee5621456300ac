//! Prometheus metrics: HTTP traffic by matched route template (never the raw path, so the
//! number of series stays bounded), database pool occupancy and process statistics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::AppState;
use crate::error::ApiError;

/// The commit the binary was built from: `TAYLORDASH_COMMIT` at build time (the Dockerfile sets
/// it from its `REVISION` argument), else `unknown`; nothing is read from git, so a build from
/// the same sources and variables stays the same.
pub const BUILD_COMMIT: &str = match option_env!("TAYLORDASH_COMMIT") {
    Some(commit) if !commit.is_empty() => commit,
    _ => "unknown",
};

/// Label for requests that matched no route.
const UNMATCHED: &str = "unmatched";

pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    pool_size: IntGauge,
    pool_idle: IntGauge,
    pool_max: IntGauge,
    server: crate::server::ServerMetrics,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests served"),
            &["method", "route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from receiving a request to sending the response head",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["method", "route"],
        )?;
        let pool_size = IntGauge::new(
            "taylordash_db_pool_connections",
            "Open database connections",
        )?;
        let pool_idle = IntGauge::new(
            "taylordash_db_pool_idle_connections",
            "Idle database connections",
        )?;
        let pool_max = IntGauge::new(
            "taylordash_db_pool_max_connections",
            "Database pool size limit",
        )?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(pool_size.clone()))?;
        registry.register(Box::new(pool_idle.clone()))?;
        registry.register(Box::new(pool_max.clone()))?;
        let build_info = IntGaugeVec::new(
            Opts::new(
                "taylordash_build_info",
                "Always 1; the labels name the running build",
            ),
            &["version", "commit"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), BUILD_COMMIT])
            .set(1);
        registry.register(Box::new(build_info))?;
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        let server = crate::server::ServerMetrics::new(&registry)?;
        Ok(Metrics {
            registry,
            http_requests,
            http_duration,
            pool_size,
            pool_idle,
            pool_max,
            server,
        })
    }

    /// Registry for other parts of the application to add their own metrics to.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The connection metrics the server loop ([`crate::server::serve`]) keeps.
    pub fn server(&self) -> crate::server::ServerMetrics {
        self.server.clone()
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.http_requests
            .with_label_values(&[method, route, status.to_string().as_str()])
            .inc();
        self.http_duration
            .with_label_values(&[method, route])
            .observe(seconds);
    }
}

/// Middleware: counts and times every request.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let response = next.run(req).await;
    // The web UI's files and pages match no API route; label them apart from real misses.
    let route = if route == UNMATCHED && response.extensions().get::<crate::ui::Served>().is_some()
    {
        crate::ui::ROUTE_LABEL.to_owned()
    } else {
        route
    };
    state.metrics.observe(
        method.as_str(),
        &route,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`: Prometheus text exposition.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"))
)]
pub async fn render(State(state): State<AppState>) -> Result<Response, ApiError> {
    let m = &state.metrics;
    let stats = state.store.pool_stats();
    m.pool_size.set(i64::from(stats.size));
    m.pool_idle.set(i64::from(stats.idle));
    m.pool_max.set(i64::from(stats.max));
    let mut buf = Vec::new();
    TextEncoder::new()
        .encode(&m.registry.gather(), &mut buf)
        .map_err(ApiError::internal)?;
    let mut response = buf.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}
