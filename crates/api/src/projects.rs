//! `/api/v1/projects`: v1-compatible CRUD with paging, filters and version checks.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::{JsonObject, NewProject, Project, ProjectFilter, ProjectPatch, ProjectStatus};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Id, IfMatch, Json, Query, expected_version};
use crate::wire::{PageParams, ProjectStatusSchema, etag};

/// The owner v1's web client sends with every project it creates (its placeholder "default
/// UUID for now"). No user has it; it is read as no owner given, so that client can still
/// create projects now that an owner must be a user.
const V1_PLACEHOLDER_OWNER: Uuid = Uuid::from_u128(1);

/// `owner`, unless it is v1's placeholder.
fn owner(owner: Option<Uuid>) -> Option<Uuid> {
    owner.filter(|id| *id != V1_PLACEHOLDER_OWNER)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectResponse {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = ProjectStatusSchema)]
    pub status: ProjectStatus,
    pub owner_id: Option<Uuid>,
    #[schema(value_type = Object)]
    pub metadata: JsonObject,
    /// Current version; send it back (body `version` or `If-Match`) to update safely.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Project> for ProjectResponse {
    fn from(p: Project) -> Self {
        ProjectResponse {
            id: p.id,
            name: p.name,
            description: p.description,
            status: p.status,
            owner_id: p.owner_id,
            metadata: p.metadata,
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ProjectCreate {
    /// 1-255 characters.
    pub name: String,
    /// Up to 1000 characters.
    pub description: Option<String>,
    #[schema(value_type = Option<ProjectStatusSchema>)]
    pub status: Option<ProjectStatus>,
    /// A user's id (v1's placeholder `00000000-0000-0000-0000-000000000001` counts as none).
    pub owner_id: Option<Uuid>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<JsonObject>,
}

/// Partial update: omitted or null fields keep their value.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProjectUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    #[schema(value_type = Option<ProjectStatusSchema>)]
    pub status: Option<ProjectStatus>,
    /// A user's id; v1's placeholder `00000000-0000-0000-0000-000000000001` keeps the owner.
    pub owner_id: Option<Uuid>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<JsonObject>,
    /// The version you last read; a stale one gets 409 instead of overwriting.
    pub version: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectList {
    pub projects: Vec<ProjectResponse>,
    /// Items in this page.
    pub count: usize,
    /// Items matching the filters, over all pages.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectListParams {
    /// Only projects with this status.
    #[param(value_type = Option<ProjectStatusSchema>)]
    pub status: Option<String>,
    /// Case-insensitive substring of the name or description.
    pub search: Option<String>,
}

/// List projects, newest first.
#[utoipa::path(get, path = "/projects", tag = "projects",
    params(ProjectListParams, PageParams),
    responses((status = 200, body = ProjectList)))]
pub async fn list(
    State(state): State<AppState>,
    Query(filter): Query<ProjectListParams>,
    Query(paging): Query<PageParams>,
) -> ApiResult<Response> {
    let page = paging.page()?;
    let status = filter
        .status
        .map(|s| s.parse::<ProjectStatus>())
        .transpose()
        .map_err(|e| crate::error::ApiError::validation("status", format!("status: {e}")))?;
    let key = ListKey {
        status: status.map(ProjectStatus::as_str),
        search: filter.search.clone(),
        limit: page.limit,
        offset: page.offset,
    };
    // Served again while the table has not changed since it was read (see `ListCache`). Asking
    // for the stamp costs a query on PostgreSQL: only when there is an answer to serve again.
    if state.project_lists.holds(&key)
        && let Some(stamp) = state.store.projects_stamp().await
        && let Some(body) = state.project_lists.get(stamp, &key)
    {
        return Ok(json_body(body));
    }
    let filter = ProjectFilter {
        status,
        search: filter.search,
    };
    let (found, stamp) = state.store.list_projects_stamped(&filter, page).await?;
    let projects: Vec<ProjectResponse> = found.items.into_iter().map(Into::into).collect();
    let body = serde_json::to_vec(&ProjectList {
        count: projects.len(),
        projects,
        total: found.total,
        limit: page.limit,
        offset: page.offset,
    })
    .map_err(crate::error::ApiError::internal)?;
    let body = Bytes::from(body);
    if let Some(stamp) = stamp {
        state.project_lists.put(stamp, key, body.clone());
    }
    Ok(json_body(body))
}

fn json_body(body: Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// What one list answer depends on besides the table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ListKey {
    status: Option<&'static str>,
    search: Option<String>,
    limit: i64,
    offset: i64,
}

/// Project list answers (the JSON bodies), served again while the projects table has not
/// changed since they were read: each is kept under the stamp the store read it under
/// ([`storage::Store::list_projects_stamped`]) and served only while
/// [`storage::Store::projects_stamp`], asked after the request arrived, still answers that
/// stamp. On SQLite the stamp is the process's own write stamp (a write moves it before its
/// first statement); on PostgreSQL the generation a trigger moves in the transaction of every
/// change to the table, by any replica or client, read in the page's own snapshot and again
/// (one query shared by the requests waiting together) for each request. So no answer older
/// than a write acknowledged before the request is ever served. The answer depends on nothing
/// else: the list is the same for every caller allowed to read it, and the key holds every
/// query parameter. At most [`LIST_CACHE_BYTES`], one stamp at a time.
#[derive(Default)]
pub struct ListCache(Mutex<CachedLists>);

#[derive(Default)]
struct CachedLists {
    stamp: u64,
    bytes: usize,
    answers: HashMap<ListKey, Bytes>,
}

/// Bytes of answers kept at most (a 100-project page is about 27 KB).
const LIST_CACHE_BYTES: usize = 1 << 20;

impl ListCache {
    /// Whether an answer for `key` is kept (under some stamp).
    fn holds(&self, key: &ListKey) -> bool {
        let lists = self.0.lock().unwrap_or_else(|e| e.into_inner());
        lists.answers.contains_key(key)
    }

    fn get(&self, stamp: u64, key: &ListKey) -> Option<Bytes> {
        let lists = self.0.lock().unwrap_or_else(|e| e.into_inner());
        (lists.stamp == stamp)
            .then(|| lists.answers.get(key).cloned())
            .flatten()
    }

    fn put(&self, stamp: u64, key: ListKey, body: Bytes) {
        let mut lists = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if stamp < lists.stamp {
            return; // read before a newer answer was kept: already out of date
        }
        if stamp > lists.stamp || lists.bytes + body.len() > LIST_CACHE_BYTES {
            lists.answers.clear();
            lists.bytes = 0;
            lists.stamp = stamp;
        }
        if body.len() > LIST_CACHE_BYTES {
            return;
        }
        lists.bytes += body.len();
        if let Some(old) = lists.answers.insert(key, body) {
            lists.bytes -= old.len();
        }
    }
}

/// One project's progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectProgressResponse {
    pub id: Uuid,
    pub name: String,
    /// How many components the progress averages.
    pub components: i64,
    /// 0-100: the average of its components' progress; null without components.
    pub progress: Option<f64>,
}

/// Progress, defined once: a component's is the share of its tasks done when it has tasks,
/// else the percentage typed by hand; a project's is the average of its components'; the
/// overall is the average of the open projects that have components.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressResponse {
    /// 0-100; null while no open project has components.
    pub overall: Option<f64>,
    /// How many projects `overall` averages.
    pub measured: i64,
    /// The newest open (not archived) projects, at most 100, newest first.
    pub projects: Vec<ProjectProgressResponse>,
}

/// Projects the progress answer lists at most (the overall covers them all).
const PROGRESS_PROJECTS: i64 = 100;

/// The progress of the open projects and their average, as the dashboard shows it (the chart's
/// `taylordash_project_progress` samples the same numbers).
#[utoipa::path(get, path = "/projects/progress", tag = "projects",
    responses((status = 200, body = ProgressResponse)))]
pub async fn progress(State(state): State<AppState>) -> ApiResult<axum::Json<ProgressResponse>> {
    let report = state.store.project_progress(PROGRESS_PROJECTS).await?;
    Ok(axum::Json(ProgressResponse {
        overall: report.overall,
        measured: report.measured,
        projects: report
            .projects
            .into_iter()
            .map(|p| ProjectProgressResponse {
                id: p.id,
                name: p.name,
                components: p.components,
                progress: p.progress,
            })
            .collect(),
    }))
}

/// Create a project.
#[utoipa::path(post, path = "/projects", tag = "projects",
    request_body = ProjectCreate,
    responses((status = 201, body = ProjectResponse)))]
pub async fn create(
    State(state): State<AppState>,
    Json(body): Json<ProjectCreate>,
) -> ApiResult<(StatusCode, HeaderMap, axum::Json<ProjectResponse>)> {
    let project = state
        .store
        .create_project(NewProject {
            name: body.name,
            description: body.description,
            status: body.status.unwrap_or_default(),
            owner_id: owner(body.owner_id),
            metadata: body.metadata.unwrap_or_default(),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        etag(project.version),
        axum::Json(project.into()),
    ))
}

/// Get one project.
#[utoipa::path(get, path = "/projects/{project_id}", tag = "projects",
    params(("project_id" = Uuid, Path)),
    responses((status = 200, body = ProjectResponse, headers(("ETag" = String)))))]
pub async fn get(
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<(HeaderMap, axum::Json<ProjectResponse>)> {
    let project = state.store.get_project(id).await?;
    Ok((etag(project.version), axum::Json(project.into())))
}

/// Update a project (partial); 409 when `version`/`If-Match` is stale.
#[utoipa::path(put, path = "/projects/{project_id}", tag = "projects",
    params(("project_id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body = ProjectUpdate,
    responses((status = 200, body = ProjectResponse)))]
pub async fn update(
    State(state): State<AppState>,
    Id(id): Id,
    if_match: IfMatch,
    Json(body): Json<ProjectUpdate>,
) -> ApiResult<(HeaderMap, axum::Json<ProjectResponse>)> {
    let expected = expected_version(body.version, if_match)?;
    let patch = ProjectPatch {
        name: body.name,
        description: body.description,
        status: body.status,
        owner_id: owner(body.owner_id),
        metadata: body.metadata,
    };
    let project = state.store.update_project(id, expected, patch).await?;
    Ok((etag(project.version), axum::Json(project.into())))
}

/// Delete a project with its components, dependencies and tasks.
#[utoipa::path(delete, path = "/projects/{project_id}", tag = "projects",
    params(("project_id" = Uuid, Path)),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(State(state): State<AppState>, Id(id): Id) -> ApiResult<StatusCode> {
    state.store.delete_project(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
