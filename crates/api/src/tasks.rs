//! Tasks of a component: `/api/v1/components/{id}/tasks` and `/api/v1/tasks/{id}`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use domain::{NewTask, Task, TaskPatch, TaskStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Id, IfMatch, Json, Query, expected_version};
use crate::wire::{PageParams, TaskStatusSchema, etag};

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskResponse {
    pub id: Uuid,
    pub component_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = TaskStatusSchema)]
    pub status: TaskStatus,
    pub assignee_id: Option<Uuid>,
    pub due_date: Option<DateTime<Utc>>,
    /// Set when the status becomes `done`, cleared when it leaves `done`.
    pub completed_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Task> for TaskResponse {
    fn from(t: Task) -> Self {
        TaskResponse {
            id: t.id,
            component_id: t.component_id,
            name: t.name,
            description: t.description,
            status: t.status,
            assignee_id: t.assignee_id,
            due_date: t.due_date,
            completed_at: t.completed_at,
            version: t.version,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TaskCreate {
    /// 1-255 characters.
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = Option<TaskStatusSchema>)]
    pub status: Option<TaskStatus>,
    pub assignee_id: Option<Uuid>,
    /// RFC 3339 with an offset, e.g. `2026-12-01T18:00:00+01:00`.
    pub due_date: Option<DateTime<Utc>>,
}

/// Partial update: omitted or null fields keep their value.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TaskUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    #[schema(value_type = Option<TaskStatusSchema>)]
    pub status: Option<TaskStatus>,
    pub assignee_id: Option<Uuid>,
    pub due_date: Option<DateTime<Utc>>,
    /// The version you last read; a stale one gets 409 instead of overwriting.
    pub version: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskList {
    pub tasks: Vec<TaskResponse>,
    pub count: usize,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// List a component's tasks, newest first.
#[utoipa::path(get, path = "/components/{component_id}/tasks", tag = "tasks",
    params(("component_id" = Uuid, Path), PageParams),
    responses((status = 200, body = TaskList)))]
pub async fn list(
    State(state): State<AppState>,
    Id(component_id): Id,
    Query(paging): Query<PageParams>,
) -> ApiResult<axum::Json<TaskList>> {
    let page = paging.page()?;
    let found = state.store.list_tasks(component_id, page).await?;
    let tasks: Vec<TaskResponse> = found.items.into_iter().map(Into::into).collect();
    Ok(axum::Json(TaskList {
        count: tasks.len(),
        tasks,
        total: found.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Add a task to a component.
#[utoipa::path(post, path = "/components/{component_id}/tasks", tag = "tasks",
    params(("component_id" = Uuid, Path)),
    request_body = TaskCreate,
    responses((status = 201, body = TaskResponse)))]
pub async fn create(
    State(state): State<AppState>,
    Id(component_id): Id,
    Json(body): Json<TaskCreate>,
) -> ApiResult<(StatusCode, HeaderMap, axum::Json<TaskResponse>)> {
    let task = state
        .store
        .create_task(
            component_id,
            NewTask {
                name: body.name,
                description: body.description,
                status: body.status.unwrap_or_default(),
                assignee_id: body.assignee_id,
                due_date: body.due_date,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        etag(task.version),
        axum::Json(task.into()),
    ))
}

/// Get one task.
#[utoipa::path(get, path = "/tasks/{task_id}", tag = "tasks",
    params(("task_id" = Uuid, Path)),
    responses((status = 200, body = TaskResponse, headers(("ETag" = String)))))]
pub async fn get(
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<(HeaderMap, axum::Json<TaskResponse>)> {
    let task = state.store.get_task(id).await?;
    Ok((etag(task.version), axum::Json(task.into())))
}

/// Update a task (partial); 409 when `version`/`If-Match` is stale.
#[utoipa::path(put, path = "/tasks/{task_id}", tag = "tasks",
    params(("task_id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body = TaskUpdate,
    responses((status = 200, body = TaskResponse)))]
pub async fn update(
    State(state): State<AppState>,
    Id(id): Id,
    if_match: IfMatch,
    Json(body): Json<TaskUpdate>,
) -> ApiResult<(HeaderMap, axum::Json<TaskResponse>)> {
    let expected = expected_version(body.version, if_match)?;
    let patch = TaskPatch {
        name: body.name,
        description: body.description,
        status: body.status,
        assignee_id: body.assignee_id,
        due_date: body.due_date,
    };
    let task = state.store.update_task(id, expected, patch).await?;
    Ok((etag(task.version), axum::Json(task.into())))
}

/// Delete a task.
#[utoipa::path(delete, path = "/tasks/{task_id}", tag = "tasks",
    params(("task_id" = Uuid, Path)),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(State(state): State<AppState>, Id(id): Id) -> ApiResult<StatusCode> {
    state.store.delete_task(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
