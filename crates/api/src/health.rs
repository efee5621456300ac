//! Liveness, readiness and the stack overview (v1 paths and bodies).

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ApiResult};

pub use observability::SERVICE;

/// How long a readiness probe waits for the database.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Serialize, ToSchema)]
pub struct Liveness {
    #[schema(example = "alive")]
    status: &'static str,
    #[schema(example = "taylordash-backend")]
    service: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ready")]
    status: &'static str,
    service: &'static str,
    #[schema(example = "healthy")]
    database: &'static str,
}

/// The process is up and serving HTTP.
#[utoipa::path(get, path = "/health/live", tag = "health",
    responses((status = 200, body = Liveness)))]
pub async fn live() -> Json<Liveness> {
    Json(Liveness {
        status: "alive",
        service: SERVICE,
    })
}

/// Ready for traffic: the database answers within two seconds.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses(
        (status = 200, body = Readiness),
        (status = 503, description = "Database not reachable", body = crate::error::ErrorBody),
    ))]
pub async fn ready(State(state): State<AppState>) -> ApiResult<Json<Readiness>> {
    check_database(&state).await.map_err(|reason| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NOT_READY",
            format!("Database not ready: {reason}"),
        )
    })?;
    Ok(Json(Readiness {
        status: "ready",
        service: SERVICE,
        database: "healthy",
    }))
}

async fn check_database(state: &AppState) -> Result<(), String> {
    match tokio::time::timeout(PING_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", PING_TIMEOUT.as_secs_f32())),
    }
}

/// Where the optional services beside TaylorDash are (`http://host:port`); `None` = not part
/// of this installation.
#[derive(Debug, Clone, Default)]
pub struct StackEndpoints {
    pub object_store: Option<String>,
    pub victoria_metrics: Option<String>,
    pub prometheus: Option<String>,
    pub grafana: Option<String>,
    /// The OTLP/HTTP collector (`OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub otlp: Option<String>,
}

/// How long each optional service may take to answer.
const SERVICE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Serialize, ToSchema)]
pub struct ServiceHealth {
    /// `healthy`, `unhealthy`, or `not_configured` (an optional service this installation
    /// does not use).
    #[schema(example = "healthy")]
    status: &'static str,
    #[schema(example = "postgresql")]
    r#type: &'static str,
    message: String,
    /// How long the check took, in milliseconds (absent when not configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<f64>,
    /// A required service being unhealthy makes the whole stack unhealthy (503); an optional
    /// one only `degraded`.
    required: bool,
}

impl ServiceHealth {
    fn new(ok: bool, r#type: &'static str, message: String, started: Instant) -> Self {
        ServiceHealth {
            status: if ok { "healthy" } else { "unhealthy" },
            r#type,
            message,
            latency_ms: Some(millis(started)),
            required: false,
        }
    }

    fn required(self) -> Self {
        ServiceHealth {
            required: true,
            ..self
        }
    }

    fn healthy(&self) -> bool {
        self.status != "unhealthy"
    }
}

fn millis(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

#[derive(Serialize, ToSchema)]
pub struct StackServices {
    database: ServiceHealth,
    /// The event bus transport (the MQTT broker, or the in-process bus).
    mqtt: ServiceHealth,
    api: ServiceHealth,
    object_store: ServiceHealth,
    victoria_metrics: ServiceHealth,
    prometheus: ServiceHealth,
    grafana: ServiceHealth,
    otlp: ServiceHealth,
}

#[derive(Serialize, ToSchema)]
pub struct StackHealth {
    /// `healthy`; `degraded` when only optional services are unhealthy; `unhealthy` (503)
    /// when a required one (database, event bus) is.
    #[schema(example = "healthy")]
    overall_status: &'static str,
    services: StackServices,
    timestamp: DateTime<Utc>,
}

/// Checks an optional HTTP service: `path` must answer 2xx, or — with `any_answer` — anything
/// below 500 (the service is there, it just does not serve that path to us).
async fn check_http(
    url: Option<&str>,
    r#type: &'static str,
    path: &str,
    any_answer: bool,
) -> ServiceHealth {
    let Some(url) = url else {
        return ServiceHealth {
            status: "not_configured",
            r#type,
            message: "not configured".into(),
            latency_ms: None,
            required: false,
        };
    };
    let started = Instant::now();
    let base = match observability::outbound::BaseUrl::parse(url) {
        Ok(base) => base,
        Err(e) => return ServiceHealth::new(false, r#type, e, started),
    };
    match observability::outbound::get(&base, path, SERVICE_TIMEOUT).await {
        Ok(reply) => {
            let ok = if any_answer {
                !reply.status.is_server_error()
            } else {
                reply.status.is_success()
            };
            let message = if ok {
                format!("{base} answered HTTP {}", reply.status.as_u16())
            } else {
                format!("{base}{path} answered HTTP {}", reply.status.as_u16())
            };
            ServiceHealth::new(ok, r#type, message, started)
        }
        Err(e) => ServiceHealth::new(false, r#type, e, started),
    }
}

/// Health of every part of the stack, with the time each check took. Optional services that
/// are not configured are `not_configured`; 503 only when a required one (database, event
/// bus) is down.
#[utoipa::path(get, path = "/health/stack", tag = "health",
    responses(
        (status = 200, description = "Healthy or degraded", body = StackHealth),
        (status = 503, description = "A required service is unhealthy", body = StackHealth),
    ))]
pub async fn stack(State(state): State<AppState>) -> (StatusCode, Json<StackHealth>) {
    let endpoints = &state.stack;
    let database = async {
        let started = Instant::now();
        let kind = state.store.backend().as_str();
        match check_database(&state).await {
            Ok(()) => ServiceHealth::new(
                true,
                kind,
                "Database is connected and responsive".into(),
                started,
            ),
            Err(reason) => ServiceHealth::new(
                false,
                kind,
                format!("Database connection failed: {reason}"),
                started,
            ),
        }
        .required()
    };
    let (database, object_store, victoria_metrics, prometheus, grafana, otlp) = tokio::join!(
        database,
        check_http(endpoints.object_store.as_deref(), "s3", "/status", true),
        check_http(
            endpoints.victoria_metrics.as_deref(),
            "victoriametrics",
            "/health",
            false
        ),
        check_http(
            endpoints.prometheus.as_deref(),
            "prometheus",
            "/-/healthy",
            false
        ),
        check_http(
            endpoints.grafana.as_deref(),
            "grafana",
            "/api/health",
            false
        ),
        check_http(endpoints.otlp.as_deref(), "otlp", "/", true),
    );
    let started = Instant::now();
    let transport = state.bus.transport();
    let mqtt = ServiceHealth::new(
        transport.is_connected(),
        transport.kind(),
        transport.describe(),
        started,
    )
    .required();
    let api = ServiceHealth::new(
        true,
        "taylordash",
        "API server is running".into(),
        Instant::now(),
    )
    .required();
    let required_ok = database.healthy() && mqtt.healthy();
    let optional_ok = [
        &object_store,
        &victoria_metrics,
        &prometheus,
        &grafana,
        &otlp,
    ]
    .iter()
    .all(|s| s.healthy());
    let overall_status = match (required_ok, optional_ok) {
        (false, _) => "unhealthy",
        (true, false) => "degraded",
        (true, true) => "healthy",
    };
    let body = StackHealth {
        overall_status,
        services: StackServices {
            database,
            mqtt,
            api,
            object_store,
            victoria_metrics,
            prometheus,
            grafana,
            otlp,
        },
        timestamp: Utc::now(),
    };
    let status = if required_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

#[derive(Serialize, ToSchema)]
pub struct RootInfo {
    #[schema(example = "TaylorDash Backend API")]
    message: &'static str,
    version: &'static str,
}

/// Service banner (v1 compatible).
#[utoipa::path(get, path = "/", tag = "health", responses((status = 200, body = RootInfo)))]
pub async fn root() -> Json<RootInfo> {
    Json(RootInfo {
        message: "TaylorDash Backend API",
        version: env!("CARGO_PKG_VERSION"),
    })
}
