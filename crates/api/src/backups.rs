//! The admin API for backups (`/api/v1/admin/backups`): list, take and download them. Taking
//! one, its metrics and events, and the schedule are `backup::schedule`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use backup::Manifest;
use backup::schedule::{BackupService, TakeError};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ApiResult};

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
        .and_then(|f| f.backups.as_deref())
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
        (status = 409, description = "a backup is already running (BACKUP_RUNNING)", body = crate::ErrorBody),
        (status = 507, description = "the backup directory is short of free space (INSUFFICIENT_STORAGE)", body = crate::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
) -> ApiResult<(StatusCode, axum::Json<BackupSummary>)> {
    let service = service(&state)?;
    match service.take(state.store.as_ref(), &state.bus).await {
        Ok(m) => Ok((StatusCode::CREATED, axum::Json(m.into()))),
        Err(e @ TakeError::Running) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "BACKUP_RUNNING",
            e.to_string(),
        )),
        Err(e @ TakeError::NoSpace { .. }) => Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "INSUFFICIENT_STORAGE",
            e.to_string(),
        )),
        Err(e @ TakeError::Failed(_)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "BACKUP_FAILED",
            e.to_string(),
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
