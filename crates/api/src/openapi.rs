//! The OpenAPI document: metadata, the API-key scheme, and the error responses every operation
//! can return, added by convention so no handler can forget to document them.

use utoipa::OpenApi;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, ContentBuilder, Ref, RefOr, Response};

use crate::error::ErrorBody;

const SCHEME: &str = "api_key";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TaylorDash API",
        description = "Mission control for home-lab projects: projects, components, their \
                       dependencies and tasks. Every `/api/v1` route needs the `X-API-Key` header; \
                       every error is JSON `{\"detail\", \"code\"}`.",
    ),
    tags(
        (name = "projects", description = "Projects"),
        (name = "components", description = "Components of a project"),
        (name = "graph", description = "Dependencies between components, canvas graph and layout"),
        (name = "tasks", description = "Tasks of a component"),
        (name = "events", description = "Event bus: stored events, publishing, dead letters, live stream"),
        (name = "health", description = "Liveness, readiness, metrics"),
    ),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

pub(crate) fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Adds the security scheme and the conventional error responses.
pub(crate) fn finish(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let components = doc
        .components
        .get_or_insert_with(|| ComponentsBuilder::new().build());
    components.add_security_scheme(
        SCHEME,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-API-Key",
            "The installation's API key (printed at first start, stored in the data directory)",
        ))),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        let protected = path.starts_with("/api/v1/");
        let has_id = path.contains('{');
        for method in [
            HttpMethod::Get,
            HttpMethod::Post,
            HttpMethod::Put,
            HttpMethod::Delete,
        ] {
            let Some(op) = operation(item, &method) else {
                continue;
            };
            if protected {
                op.security = Some(vec![SecurityRequirement::new(SCHEME, Vec::<String>::new())]);
                error(
                    op,
                    401,
                    "Missing or invalid API key (MISSING_API_KEY, INVALID_API_KEY)",
                );
                error(op, 503, "Database unavailable (DATABASE_UNAVAILABLE)");
                error(
                    op,
                    500,
                    "Unexpected server error (INTERNAL_ERROR); quote request_id",
                );
            }
            if has_id {
                error(
                    op,
                    400,
                    "Malformed id or request (INVALID_ID, MALFORMED_JSON)",
                );
                error(op, 404, "No such resource (NOT_FOUND)");
            }
            let lists = op
                .parameters
                .iter()
                .flatten()
                .any(|p| matches!(p, RefOr::T(p) if p.name == "limit"));
            if op.request_body.is_some() || lists {
                error(
                    op,
                    422,
                    "Invalid field or parameter (VALIDATION_FAILED; `field` names it)",
                );
            }
            if op.request_body.is_some() {
                error(op, 400, "Body is not valid JSON (MALFORMED_JSON)");
                error(op, 413, "Body too large (PAYLOAD_TOO_LARGE)");
                error(
                    op,
                    415,
                    "Body is not application/json (UNSUPPORTED_MEDIA_TYPE)",
                );
            }
            if method == HttpMethod::Put && has_id && !path.ends_with("/layout") {
                error(op, 409, "Stale version (VERSION_CONFLICT)");
            }
        }
    }
    doc
}

fn operation<'a>(
    item: &'a mut utoipa::openapi::PathItem,
    method: &HttpMethod,
) -> Option<&'a mut Operation> {
    match method {
        HttpMethod::Get => item.get.as_mut(),
        HttpMethod::Post => item.post.as_mut(),
        HttpMethod::Put => item.put.as_mut(),
        HttpMethod::Delete => item.delete.as_mut(),
        _ => None,
    }
}

/// Documents an error status unless the handler already did.
fn error(op: &mut Operation, status: u16, description: &str) {
    let key = status.to_string();
    if op.responses.responses.contains_key(&key) {
        return;
    }
    let response: Response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build();
    op.responses.responses.insert(key, RefOr::T(response));
}
