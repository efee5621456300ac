//! `/api/v1/projects/{id}/artifacts` and `/api/v1/artifacts/{id}`: files attached to projects.
//!
//! Uploads are the raw request body (`Content-Type` is the file's type, `?name=` its name),
//! streamed into the object store — never held in memory whole — hashed on the way, capped at
//! the configured size, and durable in the store (fsynced locally, each part's signed SHA-256
//! checked by an S3 server, the stored size checked) before the record is written. Downloads stream from the store, with single byte ranges (206/416).

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::Artifact;
use futures_util::StreamExt;
use objects::{ObjectError, Objects};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, Query};
use crate::wire::PageParams;
use crate::{AppState, Principal};

/// Header carrying the SHA-256 (hex) the client expects the upload to have.
pub const CHECKSUM_HEADER: &str = "x-checksum-sha256";

/// The object store and upload settings the artifact routes use.
pub struct Files {
    pub objects: Objects,
    pub max_upload_bytes: u64,
    /// Woken when objects are queued for deletion, so the collector runs at once.
    pub collector: Arc<tokio::sync::Notify>,
    /// Backups into the same object store.
    pub backups: Option<Arc<backup::schedule::BackupService>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactResponse {
    pub id: Uuid,
    pub project_id: Uuid,
    pub component_id: Option<Uuid>,
    pub name: String,
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    /// The user who uploaded it; null for the service key.
    pub uploaded_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// Where to download it.
    pub download_url: String,
}

impl From<Artifact> for ArtifactResponse {
    fn from(a: Artifact) -> Self {
        ArtifactResponse {
            download_url: format!("/api/v1/artifacts/{}", a.id),
            id: a.id,
            project_id: a.project_id,
            component_id: a.component_id,
            name: a.name,
            content_type: a.content_type,
            size: a.size,
            sha256: a.sha256,
            uploaded_by: a.uploaded_by,
            created_at: a.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactList {
    pub artifacts: Vec<ArtifactResponse>,
    pub count: usize,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// File name (a path is reduced to its last segment), 1-255 characters.
    pub name: String,
    /// Attach to this component of the project.
    pub component_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only the artifacts attached to this component.
    pub component_id: Option<Uuid>,
}

fn files(state: &AppState) -> ApiResult<&Files> {
    state.files.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "FILES_UNAVAILABLE",
            "file storage is not configured on this server",
        )
    })
}

/// The API error for an object-store failure.
pub(crate) fn object_error(e: ObjectError) -> ApiError {
    match e {
        ObjectError::TooLarge { limit } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("the file is larger than the limit of {limit} bytes"),
        ),
        ObjectError::Body(detail) => ApiError::bad_request(
            "UPLOAD_INTERRUPTED",
            format!("the upload did not complete: {detail}"),
        ),
        ObjectError::NotFound(key) => {
            tracing::error!(key = %key, "an artifact's object is missing from the store");
            ApiError::new(
                StatusCode::NOT_FOUND,
                "OBJECT_MISSING",
                "the file's content is missing from the object store; \
                 run `taylordash artifacts reconcile` to list such records",
            )
        }
        ObjectError::ChecksumMismatch { .. } | ObjectError::SizeMismatch { .. } => {
            tracing::error!(error = %e, "the object store returned other bytes than were sent");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "STORED_CHECKSUM_MISMATCH",
                "the object store did not keep the file intact; nothing was saved, try again",
            )
        }
        ObjectError::Store(detail) => {
            tracing::warn!(error = %detail, "object store unavailable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "OBJECT_STORE_UNAVAILABLE",
                "the object store cannot be reached; try again later",
            )
        }
        other @ ObjectError::InvalidKey(_) => ApiError::internal(other),
    }
}

fn expected_checksum(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get(CHECKSUM_HEADER) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if value.len() != 64 || !value.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request(
            "INVALID_CHECKSUM",
            format!("{CHECKSUM_HEADER} must be the 64 hex digits of the file's SHA-256"),
        ));
    }
    Ok(Some(value))
}

/// Upload a file to a project (streamed).
///
/// The body is the file itself; its `Content-Type` is kept (a missing or malformed one becomes
/// `application/octet-stream`). Send `X-Checksum-Sha256` to have the upload refused (422,
/// `CHECKSUM_MISMATCH`) when the bytes that arrived differ from what you sent.
#[utoipa::path(post, path = "/projects/{project_id}/artifacts", tag = "artifacts",
    params(("project_id" = Uuid, Path), UploadParams,
        ("X-Checksum-Sha256" = Option<String>, Header, description = "expected SHA-256, hex")),
    request_body(content = String, content_type = "application/octet-stream",
        description = "the file's bytes"),
    responses(
        (status = 201, body = ArtifactResponse),
        (status = 413, description = "larger than the upload limit", body = crate::ErrorBody),
        (status = 422, description = "invalid name, component, or checksum mismatch",
            body = crate::ErrorBody),
        (status = 503, description = "object store unavailable", body = crate::ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Id(project_id): Id,
    Query(params): Query<UploadParams>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let name = Artifact::clean_name(&params.name)?;
    let content_type = Artifact::clean_content_type(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    );
    let expected = expected_checksum(&headers)?;
    let files = files(&state)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > files.max_upload_bytes) {
        return Err(object_error(ObjectError::TooLarge {
            limit: files.max_upload_bytes,
        }));
    }
    // Fail before reading the body when the project or component does not exist.
    state.store.get_project(project_id).await?;
    if let Some(component_id) = params.component_id {
        let c = state.store.get_component(component_id).await?;
        if c.project_id != project_id {
            return Err(ApiError::validation(
                "component_id",
                format!("component {component_id} is not part of project {project_id}"),
            ));
        }
    }
    let id = Uuid::new_v4();
    let key = Artifact::object_key(project_id, id);
    let stored = files
        .objects
        .put_stream_sized(
            &key,
            body.into_data_stream(),
            files.max_upload_bytes,
            declared,
        )
        .await
        .map_err(object_error)?;
    let discard = |reason: &'static str| {
        let objects = files.objects.clone();
        let key = key.clone();
        async move {
            if let Err(e) = objects.delete(&key).await {
                tracing::warn!(key = %key, error = %e, reason, "could not remove a refused upload; \
                     `taylordash artifacts reconcile` will");
            }
        }
    };
    if let Some(expected) = expected
        && expected != stored.sha256
    {
        discard("checksum mismatch").await;
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "CHECKSUM_MISMATCH",
            format!(
                "the upload's SHA-256 is {}, not the {expected} you sent; nothing was saved",
                stored.sha256
            ),
        ));
    }
    let artifact = Artifact {
        id,
        project_id,
        component_id: params.component_id,
        name,
        content_type,
        size: i64::try_from(stored.size).unwrap_or(i64::MAX),
        sha256: stored.sha256,
        object_key: key.clone(),
        uploaded_by: principal.user.as_ref().map(|u| u.id),
        created_at: domain::now(),
    };
    if let Err(e) = state.store.create_artifact(&artifact).await {
        discard("record not written").await;
        return Err(e.into());
    }
    let location = artifact_location(id);
    let mut response = (
        StatusCode::CREATED,
        axum::Json(ArtifactResponse::from(artifact)),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

fn artifact_location(id: Uuid) -> String {
    format!("/api/v1/artifacts/{id}")
}

/// List a project's artifacts, newest first.
#[utoipa::path(get, path = "/projects/{project_id}/artifacts", tag = "artifacts",
    params(("project_id" = Uuid, Path), ListParams, PageParams),
    responses((status = 200, body = ArtifactList)))]
pub async fn list(
    State(state): State<AppState>,
    Id(project_id): Id,
    Query(filter): Query<ListParams>,
    Query(paging): Query<PageParams>,
) -> ApiResult<axum::Json<ArtifactList>> {
    let page = paging.page()?;
    let found = state
        .store
        .list_artifacts(project_id, filter.component_id, page)
        .await?;
    let artifacts: Vec<ArtifactResponse> = found.items.into_iter().map(Into::into).collect();
    Ok(axum::Json(ArtifactList {
        count: artifacts.len(),
        artifacts,
        total: found.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// A single byte range of an object of `size` bytes, from a `Range` header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeRequest {
    /// No range, or one this server ignores (several ranges, other units): send it all.
    Whole,
    Part(std::ops::Range<u64>),
    Unsatisfiable,
}

pub(crate) fn parse_range(value: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let (start, end) = (start.trim(), end.trim());
    let range = if start.is_empty() {
        // The last `end` bytes.
        match end.parse::<u64>() {
            Ok(0) => return RangeRequest::Unsatisfiable,
            Ok(n) => size.saturating_sub(n)..size,
            Err(_) => return RangeRequest::Whole,
        }
    } else {
        let Ok(first) = start.parse::<u64>() else {
            return RangeRequest::Whole;
        };
        let last = if end.is_empty() {
            size.saturating_sub(1)
        } else {
            match end.parse::<u64>() {
                Ok(last) if last >= first => last.min(size.saturating_sub(1)),
                _ => return RangeRequest::Whole,
            }
        };
        if first >= size {
            return RangeRequest::Unsatisfiable;
        }
        first..last + 1
    };
    if range.is_empty() {
        RangeRequest::Unsatisfiable
    } else {
        RangeRequest::Part(range)
    }
}

/// `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266/8187).
fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Get an artifact's metadata.
#[utoipa::path(get, path = "/artifacts/{artifact_id}/info", tag = "artifacts",
    params(("artifact_id" = Uuid, Path)),
    responses((status = 200, body = ArtifactResponse)))]
pub async fn info(
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<axum::Json<ArtifactResponse>> {
    Ok(axum::Json(state.store.get_artifact(id).await?.into()))
}

/// Download an artifact (streamed; `Range: bytes=...` for part of it).
#[utoipa::path(get, path = "/artifacts/{artifact_id}", tag = "artifacts",
    params(("artifact_id" = Uuid, Path),
        ("Range" = Option<String>, Header, description = "one byte range, e.g. bytes=0-1023")),
    responses(
        (status = 200, description = "the file", content_type = "application/octet-stream",
            body = String),
        (status = 206, description = "the requested range", content_type = "application/octet-stream",
            body = String),
        (status = 416, description = "the range is outside the file", body = crate::ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    Id(id): Id,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let artifact = state.store.get_artifact(id).await?;
    let files = files(&state)?;
    let size = u64::try_from(artifact.size).unwrap_or(0);
    let range = parse_range(
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        size,
    );
    let requested = match range {
        RangeRequest::Unsatisfiable => {
            let mut response = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "RANGE_NOT_SATISFIABLE",
                format!("the file has {size} bytes; the requested range is outside it"),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(response);
        }
        RangeRequest::Part(r) => Some(r),
        RangeRequest::Whole => None,
    };
    let download = if size == 0 {
        None
    } else {
        Some(
            files
                .objects
                .get(&artifact.object_key, requested.clone())
                .await
                .map_err(object_error)?,
        )
    };
    let (status, length, body) = match download {
        None => (StatusCode::OK, 0, Body::empty()),
        Some(d) => {
            let status = if requested.is_some() {
                StatusCode::PARTIAL_CONTENT
            } else {
                StatusCode::OK
            };
            let length = d.range.end - d.range.start;
            let stream = d.stream.map(|chunk| chunk.map_err(std::io::Error::other));
            (status, length, Body::from_stream(stream))
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let h = response.headers_mut();
    let mut set = |name: header::HeaderName, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set(header::CONTENT_TYPE, artifact.content_type.clone());
    set(header::CONTENT_LENGTH, length.to_string());
    set(
        header::CONTENT_DISPOSITION,
        content_disposition(&artifact.name),
    );
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff".into());
    set(header::ACCEPT_RANGES, "bytes".into());
    set(header::ETAG, format!("\"{}\"", artifact.sha256));
    set(header::CACHE_CONTROL, "private, no-cache".into());
    if let Some(r) = requested {
        set(
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{size}", r.start, r.end - 1),
        );
    }
    Ok(response)
}

/// Delete an artifact; its content is removed from the object store in the background.
#[utoipa::path(delete, path = "/artifacts/{artifact_id}", tag = "artifacts",
    params(("artifact_id" = Uuid, Path)),
    responses((status = 204, description = "deleted")))]
pub async fn delete(State(state): State<AppState>, Id(id): Id) -> ApiResult<StatusCode> {
    state.store.delete_artifact(id).await?;
    if let Some(files) = &state.files {
        files.collector.notify_one();
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeRequest::*;
        assert_eq!(parse_range(None, 10), Whole);
        assert_eq!(parse_range(Some("bytes=0-3"), 10), Part(0..4));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Part(5..10));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Part(7..10));
        assert_eq!(parse_range(Some("bytes=-30"), 10), Part(0..10));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), Part(8..10));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-"), 0), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 10), Whole);
        assert_eq!(parse_range(Some("bytes=5-2"), 10), Whole);
        assert_eq!(parse_range(Some("items=0-1"), 10), Whole);
        assert_eq!(parse_range(Some("bytes=x-1"), 10), Whole);
    }

    #[test]
    fn disposition_is_safe_and_exact() {
        assert_eq!(
            content_disposition("report 1.pdf"),
            "attachment; filename=\"report 1.pdf\"; filename*=UTF-8''report%201.pdf"
        );
        let d = content_disposition("résumé.txt");
        assert!(d.contains("filename=\"r_sum_.txt\""), "{d}");
        assert!(d.contains("filename*=UTF-8''r%C3%A9sum%C3%A9.txt"), "{d}");
    }
}
