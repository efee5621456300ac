//! Backups from inside the server: the schedule, the admin API (`/api/v1/admin/backups`) to
//! list, take and download them, and their outcomes as metrics and `backup.succeeded|failed`
//! events on the bus.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use backup::{Manifest, Target};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use prometheus::{IntCounterVec, IntGauge, Opts, Registry};
use serde::Serialize;
use storage::Store;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ApiResult};

/// Name prefix of backups taken by the server; only these are pruned by the schedule.
pub const SCHEDULED_PREFIX: &str = "taylordash-";

/// Takes backups into the object store, one at a time, recording outcomes.
pub struct BackupService {
    target: Target,
    running: tokio::sync::Mutex<()>,
    outcomes: IntCounterVec,
    last_success: IntGauge,
    last_duration_ms: IntGauge,
    last_bytes: IntGauge,
}

impl BackupService {
    pub fn new(target: Target, registry: &Registry) -> Result<BackupService, prometheus::Error> {
        let outcomes = IntCounterVec::new(
            Opts::new("taylordash_backups_total", "Backups taken, by outcome"),
            &["outcome"],
        )?;
        let last_success = IntGauge::new(
            "taylordash_backup_last_success_timestamp_seconds",
            "Unix time of the last successful backup",
        )?;
        let last_duration_ms = IntGauge::new(
            "taylordash_backup_last_duration_milliseconds",
            "How long the last successful backup took",
        )?;
        let last_bytes = IntGauge::new(
            "taylordash_backup_last_size_bytes",
            "Bytes of table files and objects in the last successful backup",
        )?;
        // Both outcomes exist from the start, so alerts can compare them before the first run.
        for outcome in ["success", "failure"] {
            outcomes.with_label_values(&[outcome]);
        }
        registry.register(Box::new(outcomes.clone()))?;
        registry.register(Box::new(last_success.clone()))?;
        registry.register(Box::new(last_duration_ms.clone()))?;
        registry.register(Box::new(last_bytes.clone()))?;
        Ok(BackupService {
            target,
            running: tokio::sync::Mutex::new(()),
            outcomes,
            last_success,
            last_duration_ms,
            last_bytes,
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Takes a backup unless one is running (`None` then); records and announces the outcome.
    pub async fn take(
        &self,
        store: &dyn Store,
        bus: &bus::EventBus,
        keep: Option<usize>,
    ) -> Option<Result<Manifest, String>> {
        let _guard = self.running.try_lock().ok()?;
        let started = Instant::now();
        let objects = self.target.objects().clone();
        let result = backup::create(store, &objects, &self.target, None, &backup::Quiet)
            .await
            .map_err(|e| e.to_string());
        let (kind, action, payload) = match &result {
            Ok(m) => {
                self.outcomes.with_label_values(&["success"]).inc();
                self.last_success.set(m.created_at.timestamp());
                self.last_duration_ms
                    .set(i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX));
                self.last_bytes
                    .set(i64::try_from(m.total_bytes()).unwrap_or(i64::MAX));
                tracing::info!(backup = %m.name, bytes = m.total_bytes(), "backup written");
                if let Some(keep) = keep {
                    match backup::prune(&self.target, SCHEDULED_PREFIX, keep).await {
                        Ok(deleted) if !deleted.is_empty() => {
                            tracing::info!(?deleted, "old backups deleted");
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "deleting old backups failed"),
                    }
                }
                let rows: u64 = m.tables.iter().map(|t| t.rows).sum();
                (
                    "backup.succeeded",
                    "succeeded",
                    serde_json::json!({"name": m.name, "rows": rows, "objects": m.objects.len(),
                        "bytes": m.total_bytes(), "duration_ms": started.elapsed().as_millis() as u64}),
                )
            }
            Err(e) => {
                self.outcomes.with_label_values(&["failure"]).inc();
                tracing::error!(error = %e, "backup failed");
                ("backup.failed", "failed", serde_json::json!({"error": e}))
            }
        };
        let key = uuid::Uuid::new_v4().to_string();
        let payload = payload.as_object().cloned().unwrap_or_default();
        let envelope = domain::envelope(uuid::Uuid::new_v4(), domain::now(), kind, &key, &payload);
        if let Err(e) = bus
            .publish(&format!("tracker/events/backups/{action}"), &envelope)
            .await
        {
            tracing::warn!(error = %e, "could not publish the backup outcome");
        }
        Some(result)
    }
}

/// Takes a backup every `interval`, keeping the newest `keep` scheduled ones.
pub async fn run_schedule(state: AppState, interval: Duration, keep: usize) {
    let Some(service) = state.files.as_ref().and_then(|f| f.backups.as_ref()) else {
        return;
    };
    loop {
        tokio::time::sleep(interval).await;
        if service
            .take(state.store.as_ref(), &state.bus, Some(keep))
            .await
            .is_none()
        {
            tracing::info!("skipping a scheduled backup: another one is running");
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BackupSummary {
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// `sqlite` or `postgresql`.
    pub source_backend: String,
    pub schema_version: i64,
    /// Rows per table.
    pub rows: std::collections::BTreeMap<String, u64>,
    pub objects: usize,
    /// Bytes of table files and objects.
    pub bytes: u64,
    /// Artifact objects that were missing when it was taken.
    pub missing_objects: Vec<String>,
    pub download_url: String,
}

impl From<Manifest> for BackupSummary {
    fn from(m: Manifest) -> Self {
        BackupSummary {
            download_url: format!("/api/v1/admin/backups/{}", m.name),
            bytes: m.total_bytes(),
            rows: m.tables.iter().map(|t| (t.name.clone(), t.rows)).collect(),
            objects: m.objects.len(),
            name: m.name,
            created_at: m.created_at,
            source_backend: m.source_backend,
            schema_version: m.schema_version,
            missing_objects: m.missing_objects,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BackupList {
    pub backups: Vec<BackupSummary>,
    pub count: usize,
    /// Where they are kept.
    pub location: String,
}

fn service(state: &AppState) -> ApiResult<&BackupService> {
    state
        .files
        .as_ref()
        .and_then(|f| f.backups.as_ref())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "BACKUPS_UNAVAILABLE",
                "backups are not configured on this server",
            )
        })
}

fn backup_error(e: backup::BackupError) -> ApiError {
    match e {
        backup::BackupError::NotFound(name) => ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("backup {name} not found"),
        ),
        backup::BackupError::BadName(name) => {
            ApiError::bad_request("INVALID_NAME", format!("'{name}' is not a backup name"))
        }
        backup::BackupError::Objects(e) => crate::artifacts::object_error(e),
        other => ApiError::internal(other),
    }
}

/// List the backups in the object store, newest first.
#[utoipa::path(get, path = "/admin/backups", tag = "backups",
    responses((status = 200, body = BackupList)))]
pub async fn list(State(state): State<AppState>) -> ApiResult<axum::Json<BackupList>> {
    let service = service(&state)?;
    let all = backup::list(service.target()).await.map_err(backup_error)?;
    let backups: Vec<BackupSummary> = all.into_iter().map(Into::into).collect();
    Ok(axum::Json(BackupList {
        count: backups.len(),
        backups,
        location: service.target().description(),
    }))
}

/// Take a backup now (waits until it is written).
#[utoipa::path(post, path = "/admin/backups", tag = "backups",
    responses(
        (status = 201, body = BackupSummary),
        (status = 409, description = "a backup is already running", body = crate::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
) -> ApiResult<(StatusCode, axum::Json<BackupSummary>)> {
    let service = service(&state)?;
    match service.take(state.store.as_ref(), &state.bus, None).await {
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            "BACKUP_RUNNING",
            "a backup is already being taken; try again when it is done",
        )),
        Some(Ok(m)) => Ok((StatusCode::CREATED, axum::Json(m.into()))),
        Some(Err(e)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "BACKUP_FAILED",
            format!("the backup failed: {e}"),
        )),
    }
}

/// Download a backup as one tar archive (manifest, table files, artifact objects).
#[utoipa::path(get, path = "/admin/backups/{name}", tag = "backups",
    params(("name" = String, Path, description = "backup name")),
    responses((status = 200, description = "the backup as a tar archive",
        content_type = "application/x-tar", body = String)))]
pub async fn download(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let service = service(&state)?;
    let (stream, length) = backup::tar_stream(service.target(), &name)
        .await
        .map_err(backup_error)?;
    let body = Body::from_stream(stream.map(|c| c.map_err(std::io::Error::other)));
    let mut response = body.into_response();
    let h = response.headers_mut();
    let mut set = |name: header::HeaderName, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set(header::CONTENT_TYPE, "application/x-tar".into());
    set(header::CONTENT_LENGTH, length.to_string());
    set(
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{name}.tar\""),
    );
    set(header::CACHE_CONTROL, "private, no-store".into());
    Ok(response)
}
