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

/// Serializes an optional timestamp as [`rfc3339`] does (`None` as null; fields that use it
/// leave `None` out).
pub fn opt_rfc3339<S: serde::Serializer>(
    at: &Option<chrono::DateTime<chrono::Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => rfc3339(at, serializer),
        None => serializer.serialize_none(),
    }
}

/// Serializes a timestamp exactly as chrono's own `Serialize` does (RFC 3339, `Z`, the
/// fractional seconds in 0, 3, 6 or 9 digits as needed), but as one string instead of a
/// dozen pieces written and escaped one by one: answers with thousands of them (a project's
/// checks) spend noticeably less time on them.
pub fn rfc3339<S: serde::Serializer>(
    at: &chrono::DateTime<chrono::Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

/// A JSON answer serialized into a buffer of `capacity` bytes to start with (a large answer
/// whose size is known roughly grows it once or not at all).
pub fn json_response<T: Serialize>(body: &T, capacity: usize) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut buf = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut buf, body) {
        Ok(()) => ([(header::CONTENT_TYPE, "application/json")], buf).into_response(),
        Err(e) => ApiError::internal(format!("the answer does not serialize: {e}")).into_response(),
    }
}

#[cfg(test)]
mod rfc3339_tests {
    use chrono::{DateTime, Utc};

    #[test]
    fn timestamps_serialize_as_chrono_serializes_them() {
        #[derive(serde::Serialize)]
        struct Ours(#[serde(serialize_with = "super::rfc3339")] DateTime<Utc>);
        for nanos in [
            0,
            1,
            999,
            1_000,
            123_000,
            1_000_000,
            5_000_000,
            123_456_789,
            999_999_999,
        ] {
            for secs in [
                0,
                1_800_000_000,
                1_765_000_000,
                -86_400 * 365 * 30,
                253_402_300_799,
            ] {
                let at = DateTime::<Utc>::from_timestamp(secs, nanos).unwrap_or_default();
                assert_eq!(
                    serde_json::to_string(&Ours(at)).ok(),
                    serde_json::to_string(&at).ok(),
                    "{secs} s {nanos} ns"
                );
            }
        }
    }
}
