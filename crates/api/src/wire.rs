//! Wire types shared by several resources, and the OpenAPI schemas of domain vocabularies.

use axum::http::{HeaderMap, HeaderValue, header};
use domain::{ComponentStatus, PageRequest, Position, ProjectStatus, Role, Scope, TaskStatus};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{RefOr, schema::SchemaType};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::error::ApiError;

/// Declares an OpenAPI string-enum schema whose values come from a domain status type, so the
/// documented vocabulary cannot drift from the accepted one.
macro_rules! status_schema {
    ($schema:ident, $status:ty, $doc:literal) => {
        #[doc = $doc]
        pub struct $schema;

        impl PartialSchema for $schema {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .description(Some($doc))
                    .enum_values(Some(<$status>::ALL.iter().map(|s| s.as_str())))
                    .into()
            }
        }

        impl ToSchema for $schema {}
    };
}

status_schema!(ProjectStatusSchema, ProjectStatus, "Lifecycle of a project");
status_schema!(
    ComponentStatusSchema,
    ComponentStatus,
    "Progress state of a component"
);
status_schema!(TaskStatusSchema, TaskStatus, "Workflow state of a task");
status_schema!(
    RoleSchema,
    Role,
    "What a user may do: viewer (read), editor (also change), admin (also administer)"
);
status_schema!(
    ScopeSchema,
    Scope,
    "What an API key may do: read, write or admin; never more than its owner's role"
);

/// Canvas coordinates of a component.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct PositionBody {
    pub x: f64,
    pub y: f64,
}

impl From<Position> for PositionBody {
    fn from(p: Position) -> Self {
        PositionBody { x: p.x, y: p.y }
    }
}

impl From<PositionBody> for Position {
    fn from(p: PositionBody) -> Self {
        Position { x: p.x, y: p.y }
    }
}

/// Paging parameters of list endpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1-500 (larger values are capped at 500).
    #[param(minimum = 1, default = 100)]
    pub limit: Option<i64>,
    /// Items to skip.
    #[param(minimum = 0, default = 0)]
    pub offset: Option<i64>,
}

impl PageParams {
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        Ok(PageRequest::new(self.limit, self.offset)?)
    }
}

/// `ETag` carrying a resource version, the value `If-Match` expects back.
pub fn etag(version: i64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&format!("\"{version}\"")) {
        headers.insert(header::ETAG, value);
    }
    headers
}
