//! Public status pages: `/api/v1/projects/{id}/status-page` (is it on; turn it on or give it a
//! new link; turn it off) for the project's editors, and the anonymous
//! `/api/v1/status/{token}` behind the link (`Access::Public` in the policy table), whose
//! answer names components and their states and uptime, nothing else. The UI shows it at
//! `/status/<token>`, outside the signed-in shell.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use services::checks::status_page::PublicStatus;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::Id;

/// Whether a project's public status page is on. The link itself is shown only when made.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusPageSettings {
    pub enabled: bool,
    pub enabled_at: Option<DateTime<Utc>>,
}

/// A new status page link, shown only now (only its hash is stored).
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusPageCreated {
    pub enabled: bool,
    pub enabled_at: Option<DateTime<Utc>>,
    /// `/status/<token>`: the page, for anyone with the link (no sign-in).
    pub page_path: String,
    /// `/api/v1/status/<token>`: the same as JSON.
    pub api_path: String,
    /// Whether this replaced an earlier link, which stopped working.
    pub replaced: bool,
}

/// A project's public state: components, their states and uptime.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicStatusResponse {
    /// The project's name.
    pub project: String,
    /// The worst state of the components: `up`, `degraded`, `down` or `unknown`.
    pub status: String,
    /// Components with at least one check that drives their state, by name.
    pub components: Vec<PublicComponentResponse>,
    /// The latest run of any check shown.
    pub last_checked_at: Option<DateTime<Utc>>,
    /// When this answer was computed: states are at most 10 s older than the answer, uptime
    /// figures and bars at most 5 minutes.
    pub generated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicComponentResponse {
    pub name: String,
    /// `up`, `degraded`, `down`, `unknown` (no conclusive run yet) or `paused`.
    pub status: String,
    /// Share of runs up (or degraded) over the last 24 hours, 0-1; null without runs.
    pub uptime_24h: Option<f64>,
    /// The same over the last 30 days (whole UTC days, today included).
    pub uptime_30d: Option<f64>,
    /// 30 days, oldest first.
    pub days: Vec<PublicDay>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicDay {
    /// The UTC day.
    pub day: NaiveDate,
    /// Share of runs up (or degraded), 0-1; null without runs.
    pub uptime: Option<f64>,
    /// Whether any run that day was down.
    pub outage: bool,
}

impl From<&PublicStatus> for PublicStatusResponse {
    fn from(p: &PublicStatus) -> Self {
        PublicStatusResponse {
            project: p.project_name.clone(),
            status: p.status.into(),
            components: p
                .components
                .iter()
                .map(|c| PublicComponentResponse {
                    name: c.name.clone(),
                    status: c.status.into(),
                    uptime_24h: c.uptime_24h,
                    uptime_30d: c.uptime_30d,
                    days: c
                        .days
                        .iter()
                        .map(|d| PublicDay {
                            day: d.day,
                            uptime: d.uptime,
                            outage: d.outage,
                        })
                        .collect(),
                })
                .collect(),
            last_checked_at: p.last_checked_at,
            generated_at: p.generated_at,
        }
    }
}

/// Whether the project's public status page is on.
#[utoipa::path(get, path = "/projects/{project_id}/status-page", tag = "checks",
    params(("project_id" = uuid::Uuid, Path)),
    responses((status = 200, body = StatusPageSettings)))]
pub async fn settings(
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<axum::Json<StatusPageSettings>> {
    let enabled_at = state.checks.status_page_enabled_at(id).await?;
    Ok(axum::Json(StatusPageSettings {
        enabled: enabled_at.is_some(),
        enabled_at,
    }))
}

/// Turn the project's public status page on, or give it a new link (the old one stops
/// working); the link is in this answer only.
#[utoipa::path(post, path = "/projects/{project_id}/status-page", tag = "checks",
    params(("project_id" = uuid::Uuid, Path)),
    responses((status = 200, body = StatusPageCreated)))]
pub async fn enable(
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<axum::Json<StatusPageCreated>> {
    let link = state.checks.enable_status_page(id).await?;
    let enabled_at = state.checks.status_page_enabled_at(id).await?;
    Ok(axum::Json(StatusPageCreated {
        enabled: true,
        enabled_at,
        page_path: format!("/status/{}", link.token),
        api_path: format!("/api/v1/status/{}", link.token),
        replaced: link.replaced,
    }))
}

/// Turn the project's public status page off: its link answers 404 from now on.
#[utoipa::path(delete, path = "/projects/{project_id}/status-page", tag = "checks",
    params(("project_id" = uuid::Uuid, Path)),
    responses((status = 204, description = "Off (also when it was off already)")))]
pub async fn disable(State(state): State<AppState>, Id(id): Id) -> ApiResult<StatusCode> {
    state.checks.disable_status_page(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A public status page (no credentials but the link's token): the project's components,
/// their states and uptime. A wrong token, a replaced link and a page turned off all get 404.
#[utoipa::path(get, path = "/status/{token}", tag = "checks",
    params(("token" = String, Path)),
    responses((status = 200, body = PublicStatusResponse)))]
pub async fn public(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<(HeaderMap, axum::Json<PublicStatusResponse>)> {
    let unknown = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no status page has this link (it may have been turned off or replaced)",
        )
    };
    if token.len() > 128 {
        return Err(unknown());
    }
    let page = state
        .checks
        .public_status(&token)
        .await?
        .ok_or_else(unknown)?;
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::HeaderName::from_static("x-robots-tag"),
        HeaderValue::from_static("noindex"),
    );
    Ok((headers, axum::Json(page.as_ref().into())))
}
