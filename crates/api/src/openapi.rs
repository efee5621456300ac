//! The OpenAPI document: metadata, the security schemes, and the error responses every operation
//! can return, added by convention so no handler can forget to document them. Each `/api/v1`
//! operation's required role comes from the access table (`auth/policy.rs`); the input rules
//! (lengths, patterns, ranges) come from `constraints.rs`.

use utoipa::OpenApi;
use utoipa::openapi::path::{HttpMethod, Operation, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ComponentsBuilder, ContentBuilder, Ref, RefOr, Response};

use crate::auth::policy::{Access, access_for};
use crate::error::ErrorBody;

const API_KEY: &str = "api_key";
const BEARER: &str = "bearer";
const COOKIE: &str = "session_cookie";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TaylorDash API",
        description = "Mission control for home-lab projects: projects, components, their \
                       dependencies and tasks. Every `/api/v1` route except login and first-run \
                       setup needs a credential: an API key in `X-API-Key` (or as a bearer \
                       token), a session token from `POST /api/v1/auth/login` as \
                       `Authorization: Bearer`, or the browser's session cookie. Roles: viewer \
                       reads, editor also changes, admin also administers. Alertmanager posts \
                       to its webhook receiver with a token of its own \
                       (`TAYLORDASH_ALERTMANAGER_TOKEN`, as `Authorization: Bearer`), which no \
                       other route accepts. Every error is JSON `{\"detail\", \"code\"}`.",
    ),
    tags(
        (name = "projects", description = "Projects"),
        (name = "components", description = "Components of a project"),
        (name = "graph", description = "Dependencies between components, canvas graph and layout"),
        (name = "tasks", description = "Tasks of a component"),
        (name = "events", description = "Event bus: stored events, publishing, dead letters, live stream"),
        (name = "health", description = "Liveness, readiness, metrics"),
        (name = "auth", description = "Login, sessions, users, API keys, first-run setup, audit trail"),
        (name = "logs", description = "Structured application logs: search, stats, browser error reports"),
        (name = "metrics", description = "Time series for charts (VictoriaMetrics or the local subset)"),
        (name = "artifacts", description = "Files attached to projects: upload, download, metadata"),
        (name = "checks", description = "Service checks: HTTP, TCP, ping, DNS, MQTT heartbeats and push URLs; their state, history and uptime"),
        (name = "backups", description = "On-demand backups and their download (admins)"),
        (name = "alerts", description = "Alerts, rules, notification channels and Alertmanager's webhook"),
        (name = "plugins", description = "v1's plugin routes: not available in this version (501)"),
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
        API_KEY,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-API-Key",
            "A personal API key (`tdk_...`, scoped read/write/admin), or the installation's \
             service key (admin)",
        ))),
    );
    let mut bearer = Http::new(HttpAuthScheme::Bearer);
    bearer.description = Some(
        "A session token from `POST /api/v1/auth/login`, or an API key; on \
         `POST /api/v1/alerts/alertmanager` also Alertmanager's token \
         (`TAYLORDASH_ALERTMANAGER_TOKEN`), which every other route refuses"
            .to_owned(),
    );
    components.add_security_scheme(BEARER, SecurityScheme::Http(bearer));
    components.add_security_scheme(
        COOKIE,
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            crate::auth::SESSION_COOKIE,
            "The browser's session cookie, set at login (writes must come from this origin)",
        ))),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
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
            let access = path
                .starts_with("/api/v1/")
                .then(|| access_for(&http_method(&method), path))
                .flatten();
            if let Some(role) = access.and_then(Access::role) {
                op.security = Some(
                    [API_KEY, BEARER, COOKIE]
                        .into_iter()
                        .map(|s| SecurityRequirement::new(s, Vec::<String>::new()))
                        .collect(),
                );
                error(
                    op,
                    401,
                    "Missing or invalid credentials (NOT_AUTHENTICATED, INVALID_API_KEY, \
                     INVALID_TOKEN)",
                );
                let about_me = matches!(access, Some(Access::User(_)));
                let alertmanager = matches!(access, Some(Access::RoleOrAlertmanager(_)));
                error(
                    op,
                    403,
                    &format!(
                        "Needs the {role} role{} (INSUFFICIENT_ROLE, INSUFFICIENT_SCOPE{}); a \
                         cookie-authenticated write from another origin (CSRF_REJECTED){}",
                        if about_me {
                            " and a user account"
                        } else if alertmanager {
                            " or Alertmanager's token"
                        } else {
                            ""
                        },
                        if about_me { ", USER_REQUIRED" } else { "" },
                        if alertmanager {
                            ""
                        } else {
                            "; Alertmanager's token, which only POST \
                             /api/v1/alerts/alertmanager accepts (ALERTMANAGER_TOKEN_ONLY)"
                        },
                    ),
                );
            }
            // An operation whose only answer is 501 (v1's plugin routes) reads nothing and
            // touches nothing: past the access check it has no other error to document.
            let unavailable = op.responses.responses.contains_key("501")
                && !op.responses.responses.keys().any(|k| k.starts_with('2'));
            if unavailable {
                continue;
            }
            if access.is_some() {
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
            // Every query parameter is checked (types, ranges, no control characters).
            let has_query =
                op.parameters.iter().flatten().any(
                    |p| matches!(p, RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query)),
                );
            if op.request_body.is_some() || has_query {
                error(
                    op,
                    422,
                    "Invalid field or parameter (VALIDATION_FAILED; `field` names it), or a NUL \
                     character anywhere in the body (INVALID_TEXT)",
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
                error(
                    op,
                    412,
                    "If-Match carried a weak validator, which never matches (WEAK_ETAG)",
                );
            }
        }
    }
    unique_operation_ids(&mut doc);
    crate::constraints::apply(doc)
}

/// OpenAPI requires unique `operationId`s (generated clients key their types by them), but
/// handlers in different modules share names (`list`, `get`, ...): a shared id becomes
/// `<resource>_<id>`, the resource being the last literal segment of the path
/// (`/api/v1/projects/{project_id}` → `projects_get`).
fn unique_operation_ids(doc: &mut utoipa::openapi::OpenApi) {
    const METHODS: [HttpMethod; 4] = [
        HttpMethod::Get,
        HttpMethod::Post,
        HttpMethod::Put,
        HttpMethod::Delete,
    ];
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for item in doc.paths.paths.values_mut() {
        for method in &METHODS {
            if let Some(id) = operation(item, method).and_then(|op| op.operation_id.clone()) {
                *seen.entry(id).or_default() += 1;
            }
        }
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        let resource = path
            .split('/')
            .rfind(|s| !s.is_empty() && !s.starts_with('{'))
            .unwrap_or("root")
            .replace(['-', '.'], "_");
        for method in &METHODS {
            if let Some(op) = operation(item, method)
                && let Some(id) = op.operation_id.as_mut()
                && seen.get(id.as_str()).is_some_and(|n| *n > 1)
            {
                *id = format!("{resource}_{id}");
            }
        }
    }
}

fn http_method(method: &HttpMethod) -> axum::http::Method {
    match method {
        HttpMethod::Get => axum::http::Method::GET,
        HttpMethod::Post => axum::http::Method::POST,
        HttpMethod::Put => axum::http::Method::PUT,
        HttpMethod::Delete => axum::http::Method::DELETE,
        _ => axum::http::Method::OPTIONS,
    }
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

#[cfg(test)]
mod operation_id_tests {
    use utoipa::openapi::path::HttpMethod;

    #[test]
    fn operation_ids_are_unique() {
        let mut doc = crate::openapi();
        let mut ids = Vec::new();
        for item in doc.paths.paths.values_mut() {
            for m in [
                HttpMethod::Get,
                HttpMethod::Post,
                HttpMethod::Put,
                HttpMethod::Delete,
            ] {
                if let Some(id) = super::operation(item, &m).and_then(|op| op.operation_id.clone())
                {
                    ids.push(id);
                }
            }
        }
        let total = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), total, "duplicate operationIds");
        assert!(ids.contains(&"projects_list".to_owned()), "{ids:?}");
    }
}
