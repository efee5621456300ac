//! Liveness, readiness and the stack overview (v1 paths and bodies).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ApiResult};

/// v1's service name, kept so monitors written for v1 keep matching.
pub const SERVICE: &str = "taylordash-backend";

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

#[derive(Serialize, ToSchema)]
pub struct ServiceHealth {
    #[schema(example = "healthy")]
    status: &'static str,
    #[schema(example = "postgresql")]
    r#type: &'static str,
    message: String,
}

#[derive(Serialize, ToSchema)]
pub struct StackServices {
    database: ServiceHealth,
    mqtt: ServiceHealth,
    api: ServiceHealth,
}

#[derive(Serialize, ToSchema)]
pub struct StackHealth {
    #[schema(example = "healthy")]
    overall_status: &'static str,
    services: StackServices,
    timestamp: DateTime<Utc>,
}

/// Health of every part of the stack; 503 when any part is unhealthy.
#[utoipa::path(get, path = "/health/stack", tag = "health",
    responses(
        (status = 200, body = StackHealth),
        (status = 503, description = "Some service is unhealthy", body = StackHealth),
    ))]
pub async fn stack(State(state): State<AppState>) -> (StatusCode, Json<StackHealth>) {
    let database = match check_database(&state).await {
        Ok(()) => ServiceHealth {
            status: "healthy",
            r#type: state.store.backend().as_str(),
            message: "Database is connected and responsive".into(),
        },
        Err(reason) => ServiceHealth {
            status: "unhealthy",
            r#type: state.store.backend().as_str(),
            message: format!("Database connection failed: {reason}"),
        },
    };
    let transport = state.bus.transport();
    let mqtt = ServiceHealth {
        status: if transport.is_connected() {
            "healthy"
        } else {
            "unhealthy"
        },
        r#type: transport.kind(),
        message: transport.describe(),
    };
    let healthy = database.status == "healthy" && mqtt.status == "healthy";
    let body = StackHealth {
        overall_status: if healthy { "healthy" } else { "unhealthy" },
        services: StackServices {
            database,
            mqtt,
            api: ServiceHealth {
                status: "healthy",
                r#type: "taylordash",
                message: "API server is running".into(),
            },
        },
        timestamp: Utc::now(),
    };
    let status = if healthy {
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
