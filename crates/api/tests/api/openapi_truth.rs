//! The OpenAPI document tells the truth: what it calls valid is accepted, what it calls invalid
//! is refused with a documented status, and the server applies one rule where the document
//! states one (paging limits are capped on every list). The fuzzing of the whole document is
//! `crates/api/tests/schemathesis/run.sh`; these are the cases it found, kept as tests.
#![allow(clippy::unwrap_used)]

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

fn doc() -> Value {
    serde_json::to_value(api::openapi()).unwrap()
}

fn param<'a>(doc: &'a Value, method: &str, path: &str, name: &str) -> &'a Value {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path} has no parameters"))
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
}

fn responses(doc: &Value, method: &str, path: &str) -> Vec<String> {
    doc["paths"][path][method]["responses"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path}"))
        .keys()
        .cloned()
        .collect()
}

/// `GET /dlq` answers a message that was not JSON with its text: the document says `payload`
/// is any JSON value, not an object.
#[tokio::test]
async fn a_dead_letters_payload_is_documented_as_any_value() {
    let doc = doc();
    let payload = &doc["components"]["schemas"]["DeadLetterResponse"]["properties"]["payload"];
    assert!(payload.get("type").is_none(), "{payload}");
    assert!(payload.get("$ref").is_none(), "{payload}");
}

/// The 422s a query parameter causes are documented: out-of-range hours, an empty query, a
/// malformed id, an invalid topic filter.
#[tokio::test]
async fn query_refusals_are_documented() {
    let app = TestApp::new().await;
    let doc = doc();
    for (path, request) in [
        ("/api/v1/logs/stats", "/api/v1/logs/stats?hours=0"),
        (
            "/api/v1/metrics/query_range",
            "/api/v1/metrics/query_range?query=&start=0&end=60&step=15",
        ),
        ("/api/v1/auth/api-keys", "/api/v1/auth/api-keys?user_id=x"),
        (
            "/api/v1/events/stream",
            "/api/v1/events/stream?topic=a/%23/b",
        ),
    ] {
        let r = app.get(request).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{request}: {}",
            r.body
        );
        assert!(
            responses(&doc, "get", path).contains(&"422".to_owned()),
            "{path} does not document 422"
        );
    }
    let hours = &param(&doc, "get", "/api/v1/logs/stats", "hours")["schema"];
    assert_eq!(hours["minimum"], 1);
    assert_eq!(hours["maximum"], 2160);
    let topic = &param(&doc, "get", "/api/v1/events/stream", "topic")["schema"];
    assert_eq!(topic["minLength"], 1);
    assert!(topic["pattern"].is_string());
}

/// The request schemas say what the validation says: uuid fields, name lengths, limits,
/// `If-Match`, vocabularies; every operation's tag is declared.
#[tokio::test]
async fn request_schemas_carry_the_validation_rules() {
    let doc = doc();
    let schemas = &doc["components"]["schemas"];
    let name = &schemas["ProjectCreate"]["properties"]["name"];
    assert_eq!(name["minLength"], 1);
    assert_eq!(name["maxLength"], domain::NAME_MAX);
    assert!(name["pattern"].is_string());
    assert_eq!(
        schemas["ApiKeyCreate"]["properties"]["name"]["maxLength"],
        domain::API_KEY_NAME_MAX
    );
    assert_eq!(
        schemas["TaskCreate"]["properties"]["assignee_id"]["format"],
        "uuid"
    );
    assert_eq!(
        schemas["CheckCreate"]["properties"]["kind"]["enum"],
        json!(["http", "tcp", "ping", "dns", "mqtt", "push"])
    );
    let limit = &param(&doc, "get", "/api/v1/projects", "limit")["schema"];
    assert_eq!(limit["minimum"], 1);
    let if_match = &param(&doc, "put", "/api/v1/projects/{project_id}", "If-Match")["schema"];
    assert_eq!(if_match["type"], "string");
    assert!(if_match["pattern"].is_string());
    // The history's parameters are in the query, where the handler reads them.
    let hours = param(&doc, "get", "/api/v1/checks/{check_id}/history", "hours");
    assert_eq!(hours["in"], "query");
    // An upload needs its file name.
    let upload = param(
        &doc,
        "post",
        "/api/v1/projects/{project_id}/artifacts",
        "name",
    );
    assert_eq!(upload["required"], true);

    let declared: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            for tag in op["tags"].as_array().into_iter().flatten() {
                let tag = tag.as_str().unwrap();
                assert!(declared.contains(&tag), "tag {tag} is not declared");
            }
        }
    }
}

/// Every list caps `limit` above its largest page instead of refusing it (the logs and a
/// check's history refused it, the other lists capped it).
#[tokio::test]
async fn limits_are_capped_on_every_list() {
    let app = TestApp::new().await;
    let logs = app.get("/api/v1/logs?limit=5000").await;
    assert_eq!(logs.status, StatusCode::OK, "{}", logs.body);
    assert_eq!(logs.body["limit"], 1000);

    let p = app.project("capped").await;
    let c = app.component(&p, "c").await;
    let check = app
        .post(
            &format!("/api/v1/components/{c}/checks"),
            json!({"kind": "push", "paused": true}),
        )
        .await;
    assert_eq!(check.status, StatusCode::CREATED, "{}", check.body);
    let id = check.str("id");
    let history = app
        .get(&format!("/api/v1/checks/{id}/history?limit=100000"))
        .await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.body);
    app.get(&format!("/api/v1/checks/{id}/history?limit=0"))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
}

/// The query's length is counted in characters, as the document's `maxLength` counts it (it
/// was counted in bytes, refusing 2,048 characters of non-ASCII text).
#[tokio::test]
async fn a_query_is_measured_in_characters() {
    let app = TestApp::new().await;
    let long = "é".repeat(2048);
    let r = app
        .get(&format!(
            "/api/v1/metrics/query_range?query={}&start=0&end=60&step=15",
            urlencode(&long)
        ))
        .await;
    assert_ne!(
        r.body["field"], "query",
        "2048 characters are within the limit: {}",
        r.body
    );
    let longer = "é".repeat(2049);
    app.get(&format!(
        "/api/v1/metrics/query_range?query={}&start=0&end=60&step=15",
        urlencode(&longer)
    ))
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
}

/// A missing file name is refused as the document says (a required parameter).
#[tokio::test]
async fn an_upload_without_a_name_is_refused() {
    let app = TestApp::new().await;
    let p = app.project("files").await;
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/projects/{p}/artifacts"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// What the document allows in a body is read: an integer written with a fraction (`4.0`, an
/// integer to JSON Schema) and `null` for an optional role or scope.
#[tokio::test]
async fn integral_numbers_and_nulls_the_document_allows_are_read() {
    let app = TestApp::new().await;
    let p = app.project("numbers").await;
    let c = app
        .post(
            &format!("/api/v1/projects/{p}/components"),
            json!({"name": "c", "progress": 40.0}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.body);
    assert_eq!(c.body["progress"], 40);
    app.post(
        &format!("/api/v1/projects/{p}/components"),
        json!({"name": "c", "progress": 40.5}),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");

    let user = app
        .post(
            "/api/v1/auth/users",
            json!({"username": "nullrole", "password": PASSWORD, "role": null}),
        )
        .await;
    assert_eq!(user.status, StatusCode::OK, "{}", user.body);
    assert_eq!(user.body["role"], "viewer");
    let token = app.login("nullrole").await;
    let key = app
        .call_as(
            &Cred::Bearer(token),
            Method::POST,
            "/api/v1/auth/api-keys",
            Some(json!({"name": "k", "scope": null, "expires_in_days": 1.0})),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.body);
    assert_eq!(key.body["scope"], "read");
}
