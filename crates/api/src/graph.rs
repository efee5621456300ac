//! The component graph of a project: dependencies between components, the whole graph in one
//! response for the canvas, and bulk layout updates.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::{Dependency, GraphNode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::components::ComponentResponse;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, Ids, Json};

/// Most component positions accepted in one layout update.
pub const MAX_LAYOUT_ITEMS: usize = 2000;

/// "`component_id` depends on `depends_on_id`".
#[derive(Debug, Serialize, ToSchema)]
pub struct DependencyResponse {
    pub component_id: Uuid,
    pub depends_on_id: Uuid,
    pub created_at: DateTime<Utc>,
}

impl From<Dependency> for DependencyResponse {
    fn from(d: Dependency) -> Self {
        DependencyResponse {
            component_id: d.component_id,
            depends_on_id: d.depends_on_id,
            created_at: d.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DependencyList {
    pub dependencies: Vec<DependencyResponse>,
    pub count: usize,
}

impl From<Vec<Dependency>> for DependencyList {
    fn from(deps: Vec<Dependency>) -> Self {
        DependencyList {
            count: deps.len(),
            dependencies: deps.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DependencyCreate {
    /// The component (of the same project) this one depends on.
    pub depends_on_id: Uuid,
}

/// A component as a canvas node, with its task counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct GraphNodeResponse {
    #[serde(flatten)]
    pub component: ComponentResponse,
    pub task_count: i64,
    /// Tasks not yet `done`.
    pub open_task_count: i64,
}

impl From<GraphNode> for GraphNodeResponse {
    fn from(n: GraphNode) -> Self {
        GraphNodeResponse {
            component: n.component.into(),
            task_count: n.task_count,
            open_task_count: n.open_task_count,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectGraphResponse {
    pub project_id: Uuid,
    /// Components in creation order.
    pub components: Vec<GraphNodeResponse>,
    pub dependencies: Vec<DependencyResponse>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LayoutItem {
    pub component_id: Uuid,
    pub x: f64,
    pub y: f64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LayoutUpdate {
    /// New positions; every component must belong to the project. Applied all or nothing.
    pub positions: Vec<LayoutItem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LayoutResult {
    /// The moved components with their new versions.
    pub components: Vec<ComponentResponse>,
    pub count: usize,
}

/// Components, their task counts and dependencies of a project, in one consistent read.
#[utoipa::path(get, path = "/projects/{project_id}/graph", tag = "graph",
    params(("project_id" = Uuid, Path)),
    responses((status = 200, body = ProjectGraphResponse)))]
pub async fn project_graph(
    State(state): State<AppState>,
    Id(project_id): Id,
) -> ApiResult<axum::Json<ProjectGraphResponse>> {
    let graph = state.store.project_graph(project_id).await?;
    Ok(axum::Json(ProjectGraphResponse {
        project_id: graph.project_id,
        components: graph.nodes.into_iter().map(Into::into).collect(),
        dependencies: graph.dependencies.into_iter().map(Into::into).collect(),
    }))
}

/// Move many components at once (canvas layout).
#[utoipa::path(put, path = "/projects/{project_id}/layout", tag = "graph",
    params(("project_id" = Uuid, Path)),
    request_body = LayoutUpdate,
    responses((status = 200, body = LayoutResult)))]
pub async fn update_layout(
    State(state): State<AppState>,
    Id(project_id): Id,
    Json(body): Json<LayoutUpdate>,
) -> ApiResult<axum::Json<LayoutResult>> {
    if body.positions.len() > MAX_LAYOUT_ITEMS {
        return Err(ApiError::validation(
            "positions",
            format!("at most {MAX_LAYOUT_ITEMS} positions per request"),
        ));
    }
    let positions: Vec<_> = body
        .positions
        .iter()
        .map(|p| (p.component_id, domain::Position { x: p.x, y: p.y }))
        .collect();
    let moved = state.store.update_layout(project_id, &positions).await?;
    Ok(axum::Json(LayoutResult {
        count: moved.len(),
        components: moved.into_iter().map(Into::into).collect(),
    }))
}

/// All dependencies among a project's components.
#[utoipa::path(get, path = "/projects/{project_id}/dependencies", tag = "graph",
    params(("project_id" = Uuid, Path)),
    responses((status = 200, body = DependencyList)))]
pub async fn project_dependencies(
    State(state): State<AppState>,
    Id(project_id): Id,
) -> ApiResult<axum::Json<DependencyList>> {
    Ok(axum::Json(
        state.store.list_dependencies(project_id).await?.into(),
    ))
}

/// What a component depends on.
#[utoipa::path(get, path = "/components/{component_id}/dependencies", tag = "graph",
    params(("component_id" = Uuid, Path)),
    responses((status = 200, body = DependencyList)))]
pub async fn list_dependencies(
    State(state): State<AppState>,
    Id(component_id): Id,
) -> ApiResult<axum::Json<DependencyList>> {
    Ok(axum::Json(
        state
            .store
            .component_dependencies(component_id)
            .await?
            .into(),
    ))
}

/// Make a component depend on another of the same project. A dependency that would close a
/// cycle is refused with 409 and the cycle named.
#[utoipa::path(post, path = "/components/{component_id}/dependencies", tag = "graph",
    params(("component_id" = Uuid, Path)),
    request_body = DependencyCreate,
    responses(
        (status = 201, body = DependencyResponse),
        (status = 409, description = "Would create a cycle, or already exists", body = crate::error::ErrorBody),
    ))]
pub async fn add_dependency(
    State(state): State<AppState>,
    Id(component_id): Id,
    Json(body): Json<DependencyCreate>,
) -> ApiResult<(StatusCode, axum::Json<DependencyResponse>)> {
    let dep = state
        .store
        .add_dependency(component_id, body.depends_on_id)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(dep.into())))
}

/// Remove a dependency.
#[utoipa::path(delete, path = "/components/{component_id}/dependencies/{depends_on_id}", tag = "graph",
    params(("component_id" = Uuid, Path), ("depends_on_id" = Uuid, Path)),
    responses((status = 204, description = "Removed")))]
pub async fn remove_dependency(
    State(state): State<AppState>,
    Ids(component_id, depends_on_id): Ids,
) -> ApiResult<StatusCode> {
    state
        .store
        .remove_dependency(component_id, depends_on_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
