//! Components of a project: `/api/v1/projects/{id}/components` and `/api/v1/components/{id}`.
//! v1 could only list them (and returned `position`/`metadata` as JSON strings); here they are
//! full CRUD and JSON objects.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use domain::{Component, ComponentPatch, ComponentStatus, JsonObject, NewComponent};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Id, IfMatch, Json, Query, expected_version};
use crate::wire::{ComponentStatusSchema, PageParams, PositionBody, etag};

#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentResponse {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub r#type: Option<String>,
    #[schema(value_type = ComponentStatusSchema)]
    pub status: ComponentStatus,
    /// Percent done, 0-100.
    pub progress: i32,
    pub position: Option<PositionBody>,
    #[schema(value_type = Object)]
    pub metadata: JsonObject,
    /// The address that opens the service (http or https).
    pub url: Option<String>,
    /// The machine it runs on: a host name or an IP address.
    pub host: Option<String>,
    /// A built-in icon's name (see `ComponentCreate.icon`) or the id of an image artifact of
    /// the project (download it from `/api/v1/artifacts/{id}`).
    pub icon: Option<String>,
    pub description: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Component> for ComponentResponse {
    fn from(c: Component) -> Self {
        ComponentResponse {
            id: c.id,
            project_id: c.project_id,
            name: c.name,
            r#type: c.kind,
            status: c.status,
            progress: c.progress,
            position: c.position.map(Into::into),
            metadata: c.metadata,
            url: c.url,
            host: c.host,
            icon: c.icon.map(|i| i.to_string()),
            description: c.description,
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ComponentCreate {
    /// 1-255 characters.
    pub name: String,
    /// Free-form kind, e.g. "service" or "database"; up to 100 characters.
    pub r#type: Option<String>,
    #[schema(value_type = Option<ComponentStatusSchema>)]
    pub status: Option<ComponentStatus>,
    #[schema(minimum = 0, maximum = 100)]
    pub progress: Option<i32>,
    pub position: Option<PositionBody>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<JsonObject>,
    /// The address that opens the service: an absolute http(s) URL without credentials, up to
    /// 2048 characters.
    pub url: Option<String>,
    /// A host name or an IP address (no port).
    pub host: Option<String>,
    /// One of the built-in icons — access-point, backup, camera, cloud, container, database,
    /// desktop, dns, docker, firewall, game, git, home-assistant, kubernetes, laptop, light,
    /// mail, media, microcontroller, modem, monitoring, nas, phone, plug, power, printer,
    /// proxmox, raspberry-pi, router, sensor, server, speaker, storage, switch, tv, ups, vm,
    /// vpn, web — or the id of an image artifact of the same project.
    pub icon: Option<String>,
    /// Up to 1000 characters.
    pub description: Option<String>,
}

/// Partial update: omitted or null fields keep their value; an empty `url`, `host`, `icon` or
/// `description` clears it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ComponentUpdate {
    pub name: Option<String>,
    pub r#type: Option<String>,
    #[schema(value_type = Option<ComponentStatusSchema>)]
    pub status: Option<ComponentStatus>,
    #[schema(minimum = 0, maximum = 100)]
    pub progress: Option<i32>,
    pub position: Option<PositionBody>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<JsonObject>,
    pub url: Option<String>,
    pub host: Option<String>,
    pub icon: Option<String>,
    pub description: Option<String>,
    /// The version you last read; a stale one gets 409 instead of overwriting.
    pub version: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentList {
    pub components: Vec<ComponentResponse>,
    pub count: usize,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// List a project's components, newest first.
#[utoipa::path(get, path = "/projects/{project_id}/components", tag = "components",
    params(("project_id" = Uuid, Path), PageParams),
    responses((status = 200, body = ComponentList)))]
pub async fn list(
    State(state): State<AppState>,
    Id(project_id): Id,
    Query(paging): Query<PageParams>,
) -> ApiResult<axum::Json<ComponentList>> {
    let page = paging.page()?;
    let found = state.store.list_components(project_id, page).await?;
    let components: Vec<ComponentResponse> = found.items.into_iter().map(Into::into).collect();
    Ok(axum::Json(ComponentList {
        count: components.len(),
        components,
        total: found.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Add a component to a project.
#[utoipa::path(post, path = "/projects/{project_id}/components", tag = "components",
    params(("project_id" = Uuid, Path)),
    request_body = ComponentCreate,
    responses((status = 201, body = ComponentResponse)))]
pub async fn create(
    State(state): State<AppState>,
    Id(project_id): Id,
    Json(body): Json<ComponentCreate>,
) -> ApiResult<(StatusCode, HeaderMap, axum::Json<ComponentResponse>)> {
    let component = state
        .store
        .create_component(
            project_id,
            NewComponent {
                name: body.name,
                kind: body.r#type,
                status: body.status.unwrap_or_default(),
                progress: body.progress.unwrap_or(0),
                position: body.position.map(Into::into),
                metadata: body.metadata.unwrap_or_default(),
                url: body.url,
                host: body.host,
                icon: body.icon,
                description: body.description,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        etag(component.version),
        axum::Json(component.into()),
    ))
}

/// Get one component.
#[utoipa::path(get, path = "/components/{component_id}", tag = "components",
    params(("component_id" = Uuid, Path)),
    responses((status = 200, body = ComponentResponse, headers(("ETag" = String)))))]
pub async fn get(
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<(HeaderMap, axum::Json<ComponentResponse>)> {
    let component = state.store.get_component(id).await?;
    Ok((etag(component.version), axum::Json(component.into())))
}

/// Update a component (partial); 409 when `version`/`If-Match` is stale.
#[utoipa::path(put, path = "/components/{component_id}", tag = "components",
    params(("component_id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body = ComponentUpdate,
    responses((status = 200, body = ComponentResponse)))]
pub async fn update(
    State(state): State<AppState>,
    Id(id): Id,
    if_match: IfMatch,
    Json(body): Json<ComponentUpdate>,
) -> ApiResult<(HeaderMap, axum::Json<ComponentResponse>)> {
    let expected = expected_version(body.version, if_match)?;
    let patch = ComponentPatch {
        name: body.name,
        kind: body.r#type,
        status: body.status,
        progress: body.progress,
        position: body.position.map(Into::into),
        metadata: body.metadata,
        url: body.url,
        host: body.host,
        icon: body.icon,
        description: body.description,
    };
    let component = state.store.update_component(id, expected, patch).await?;
    Ok((etag(component.version), axum::Json(component.into())))
}

/// Delete a component with its tasks and dependencies.
#[utoipa::path(delete, path = "/components/{component_id}", tag = "components",
    params(("component_id" = Uuid, Path)),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(State(state): State<AppState>, Id(id): Id) -> ApiResult<StatusCode> {
    state.store.delete_component(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
