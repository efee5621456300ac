//! Requests exactly as v1's web client sends them: its build-time key in `X-API-Key` and the
//! user's session as `Authorization: Bearer`, on every call. The session decides who is calling.

use crate::support::*;

on_both!(
    the_session_decides_when_a_key_comes_along,
    v1_sign_in_reload_and_sign_out,
    v1_user_management_as_admin_and_as_viewer,
    v1_projects_crud,
    v1_events_list,
    v1_log_viewer,
    v1_error_reports,
    v1_plugin_routes_say_not_available,
);

async fn the_session_decides_when_a_key_comes_along(app: TestApp) {
    let ada = app.user("ada", "admin").await;
    app.user("vic", "viewer").await;
    let v1 = |token: &str| Cred::SessionAndKey(token.to_owned(), KEY.to_owned());

    // "Who am I" is the signed-in user, so a reload keeps them signed in.
    let vic = app.login("vic").await;
    let me = app
        .call_as(&v1(&vic), Method::GET, "/api/v1/auth/me", None)
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["username"], "vic");

    // The key does not make a viewer an admin.
    app.call_as(&v1(&vic), Method::GET, "/api/v1/auth/users", None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "INSUFFICIENT_ROLE");

    // An admin acts as themselves: what they create names them, and they cannot delete
    // their own account.
    let admin = app.login("ada").await;
    let created = app
        .call_as(
            &v1(&admin),
            Method::POST,
            "/api/v1/auth/users",
            Some(json!({"username": "newbie", "password": PASSWORD, "role": "viewer"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(created.body["created_by"], json!(ada), "{}", created.body);
    app.call_as(
        &v1(&admin),
        Method::DELETE,
        &format!("/api/v1/auth/users/{ada}"),
        None,
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "CANNOT_DELETE_SELF");

    // Logout logs out, and the ended session is refused even with the key beside it.
    let out = app
        .call_as(&v1(&vic), Method::POST, "/api/v1/auth/logout", None)
        .await;
    assert!(out.status.is_success(), "{} {}", out.status, out.body);
    app.call_as(&v1(&vic), Method::GET, "/api/v1/auth/me", None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    app.call_as(&v1(&vic), Method::GET, "/api/v1/projects", None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");

    // Without a session, the key alone still works as before.
    let projects = app.get("/api/v1/projects").await;
    assert_eq!(projects.status, StatusCode::OK);
}

/// A page served by a development proxy (v1's Vite server) or under another host name signs in
/// and uses its cookie once its origin is listed; any other origin is still refused, and the
/// refusal names the setting.
#[tokio::test]
async fn listed_origins_may_sign_in_and_use_the_cookie() {
    let app = TestApp::configured(
        TestDb::sqlite().await,
        AuthConfig {
            allowed_origins: vec!["http://localhost:5173".into()],
            ..fast()
        },
    );
    app.user("eddie", "editor").await;
    let login = |origin: &'static str| {
        let req = TestApp::builder(&Cred::Anonymous, Method::POST, "/api/v1/auth/login")
            .header(header::ORIGIN, origin)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"username": "eddie", "password": PASSWORD}).to_string(),
            ))
            .expect("request");
        app.send(req)
    };
    let refused = login("http://evil.example:5173").await;
    refused.assert_error(StatusCode::FORBIDDEN, "CSRF_REJECTED");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("TAYLORDASH_ALLOWED_ORIGINS"),
        "{}",
        refused.body
    );
    let ok = login("http://localhost:5173").await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let token = ok.str("session_token");

    // A cookie-authenticated write from the listed origin.
    let req = TestApp::builder(&Cred::Anonymous, Method::POST, "/api/v1/projects")
        .header(header::COOKIE, format!("taylordash_session={token}"))
        .header(header::ORIGIN, "http://localhost:5173")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"name": "from the dev proxy"}).to_string(),
        ))
        .expect("request");
    let created = app.send(req).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
}

// The contract suite: requests exactly as v1's web client (`frontend/src` of TaylorDash v1)
// builds them, each answer checked against v1's status and the fields its code reads.

/// The key v1's client is built with (`VITE_API_KEY`): an operator points it at this server's
/// service key.
const BUILD_KEY: &str = KEY;
/// The key v1's error reporter hard-codes; this server refuses it everywhere.
const V1_DEV_KEY: &str = "taylordash-dev-key";

/// A request as v1's `fetch` calls build it: `X-API-Key` always, the session from
/// `localStorage` as `Authorization: Bearer` where its code adds it, and
/// `Content-Type: application/json` with a body.
async fn v1_fetch(
    app: &TestApp,
    method: Method,
    path: &str,
    session: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "localhost:8000")
        .header("x-api-key", BUILD_KEY);
    if let Some(token) = session {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    app.send(req.body(body).expect("request")).await
}

/// Each field is present in `value` (v1's client reads them; `null` counts as present).
#[track_caller]
fn has_fields(value: &Value, fields: &[&str]) {
    for f in fields {
        assert!(value.get(f).is_some(), "no `{f}` in {value}");
    }
}

/// v1's `UserInfo`, which `AuthContext` and `UserManagement` read.
#[track_caller]
fn is_user_info(value: &Value, username: &str) {
    has_fields(
        value,
        &[
            "id",
            "username",
            "role",
            "default_view",
            "single_view_mode",
            "created_at",
            "last_login",
            "is_active",
        ],
    );
    assert_eq!(value["username"], username, "{value}");
    assert!(value["single_view_mode"].is_boolean(), "{value}");
}

/// An error v1's client can show: JSON with a `detail` text (its code reads `detail`).
#[track_caller]
fn is_v1_error(r: &Reply, status: StatusCode) {
    assert_eq!(r.status, status, "{}", r.body);
    assert!(
        r.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{}",
        r.body
    );
}

/// `AuthContext.login`: v1's body and headers (the key, no session yet).
async fn v1_login(app: &TestApp, body: Value) -> Reply {
    v1_fetch(app, Method::POST, "/api/v1/auth/login", None, Some(body)).await
}

/// Login, the `/auth/me` check every page load makes (with both headers), logout, and the
/// token after logout.
async fn v1_sign_in_reload_and_sign_out(app: TestApp) {
    let ada = app.user("ada", "admin").await;
    app.user("vic", "viewer").await;

    // A wrong password: 401 with the `detail` the login page shows.
    let wrong = v1_login(
        &app,
        json!({"username": "ada", "password": "not-the-password-1", "remember_me": false,
               "single_view_mode": false}),
    )
    .await;
    is_v1_error(&wrong, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body["detail"], "Invalid username or password");

    // An admin signs in (the login page leaves `default_view` out unless kiosk mode is set).
    let login = v1_login(
        &app,
        json!({"username": "ada", "password": PASSWORD, "remember_me": true,
               "single_view_mode": false}),
    )
    .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    has_fields(
        &login.body,
        &[
            "user_id",
            "username",
            "role",
            "session_token",
            "expires_at",
            "single_view_mode",
            "default_view",
        ],
    );
    assert_eq!(login.body["user_id"], json!(ada));
    assert_eq!(login.body["role"], "admin");
    assert_eq!(login.body["single_view_mode"], false);
    // `new Date(expires_at)` must mean the same instant in every browser: it has its offset.
    let expires = chrono::DateTime::parse_from_rfc3339(&login.str("expires_at"))
        .expect("expires_at with its timezone");
    let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
    assert!(
        (29..=30).contains(&days),
        "remember me lasts 30 days: {days}"
    );
    let token = login.str("session_token");

    // Every page load: `GET /auth/me` with the session and the key. The user is the session's.
    let me = v1_fetch(&app, Method::GET, "/api/v1/auth/me", Some(&token), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    is_user_info(&me.body, "ada");
    assert_eq!(me.body["id"], json!(ada));
    assert_eq!(me.body["role"], "admin");
    assert!(me.body["last_login"].is_string(), "{}", me.body);

    // A viewer in kiosk mode: the login page sends the options, they are kept and echoed.
    let kiosk = v1_login(
        &app,
        json!({"username": "vic", "password": PASSWORD, "remember_me": false,
               "single_view_mode": true, "default_view": "projects"}),
    )
    .await;
    assert_eq!(kiosk.status, StatusCode::OK, "{}", kiosk.body);
    assert_eq!(kiosk.body["role"], "viewer");
    assert_eq!(kiosk.body["single_view_mode"], true);
    assert_eq!(kiosk.body["default_view"], "projects");
    let vic = kiosk.str("session_token");
    let me = v1_fetch(&app, Method::GET, "/api/v1/auth/me", Some(&vic), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    is_user_info(&me.body, "vic");
    assert_eq!(
        me.body["role"], "viewer",
        "the key does not make vic an admin"
    );
    assert_eq!(me.body["single_view_mode"], true);
    assert_eq!(me.body["default_view"], "projects");

    // Logout: no body, the session and the key. v1's answer.
    let out = v1_fetch(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert_eq!(out.body, json!({"message": "Logged out successfully"}));
    // The next page load with the old token: 401, so `checkAuth` clears it and shows the login.
    let again = v1_fetch(&app, Method::GET, "/api/v1/auth/me", Some(&token), None).await;
    is_v1_error(&again, StatusCode::UNAUTHORIZED);
    // The token is dead for everything, key or not; vic's session is untouched.
    let projects = v1_fetch(&app, Method::GET, "/api/v1/projects", Some(&token), None).await;
    is_v1_error(&projects, StatusCode::UNAUTHORIZED);
    let me = v1_fetch(&app, Method::GET, "/api/v1/auth/me", Some(&vic), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
}

/// `UserManagement`: list, create, edit, delete as an admin; a viewer is refused each.
async fn v1_user_management_as_admin_and_as_viewer(app: TestApp) {
    let ada = app.user("ada", "admin").await;
    app.user("vic", "viewer").await;
    let admin = app.login("ada").await;
    let viewer = app.login("vic").await;
    let users = "/api/v1/auth/users";

    // The list is a bare array of `UserInfo`.
    let list = v1_fetch(&app, Method::GET, users, Some(&admin), None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let listed = list.body.as_array().expect("a bare array");
    assert_eq!(listed.len(), 2);
    for u in listed {
        is_user_info(u, u["username"].as_str().unwrap_or_default());
    }

    // "Add User": the form always sends every field.
    let form = json!({"username": "newbie", "password": PASSWORD, "role": "viewer",
                      "default_view": "dashboard", "single_view_mode": false});
    let created = v1_fetch(&app, Method::POST, users, Some(&admin), Some(form.clone())).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    is_user_info(&created.body, "newbie");
    assert_eq!(created.body["role"], "viewer");
    assert_eq!(created.body["default_view"], "dashboard");
    assert_eq!(created.body["is_active"], true);
    assert_eq!(
        created.body["created_by"],
        json!(ada),
        "the admin, not the key"
    );
    let newbie = created.str("id");
    // An admin added with the same form (kiosk off).
    let boss = v1_fetch(
        &app,
        Method::POST,
        users,
        Some(&admin),
        Some(
            json!({"username": "boss", "password": PASSWORD, "role": "admin",
                    "default_view": "dashboard", "single_view_mode": false}),
        ),
    )
    .await;
    assert_eq!(boss.status, StatusCode::OK, "{}", boss.body);
    assert_eq!(boss.body["single_view_mode"], false);
    // The same name again: 409 with v1's detail, which the form shows.
    let taken = v1_fetch(&app, Method::POST, users, Some(&admin), Some(form)).await;
    is_v1_error(&taken, StatusCode::CONFLICT);
    assert_eq!(taken.body["detail"], "Username already exists");

    // "Edit User" sends only what changed.
    let path = format!("{users}/{newbie}");
    let edited = v1_fetch(
        &app,
        Method::PUT,
        &path,
        Some(&admin),
        Some(json!({"single_view_mode": true, "default_view": "projects"})),
    )
    .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    is_user_info(&edited.body, "newbie");
    assert_eq!(edited.body["single_view_mode"], true);
    assert_eq!(edited.body["default_view"], "projects");
    let new_password = "another-stapler-orbit-43";
    let edited = v1_fetch(
        &app,
        Method::PUT,
        &path,
        Some(&admin),
        Some(json!({"password": new_password})),
    )
    .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    let relogin = app.login_reply("newbie", new_password).await;
    assert_eq!(relogin.status, StatusCode::OK, "{}", relogin.body);
    // Nothing changed: v1's 400.
    let nothing = v1_fetch(&app, Method::PUT, &path, Some(&admin), Some(json!({}))).await;
    is_v1_error(&nothing, StatusCode::BAD_REQUEST);
    assert_eq!(nothing.body["detail"], "No updates provided");

    // A viewer's browser carries the same key, and is refused everything here.
    for (method, path, body) in [
        (Method::GET, users.to_owned(), None),
        (
            Method::POST,
            users.to_owned(),
            Some(
                json!({"username": "sneaky", "password": PASSWORD, "role": "admin",
                        "default_view": "dashboard", "single_view_mode": false}),
            ),
        ),
        (Method::PUT, path.clone(), Some(json!({"role": "admin"}))),
        (Method::DELETE, path.clone(), None),
    ] {
        let r = v1_fetch(&app, method.clone(), &path, Some(&viewer), body).await;
        is_v1_error(&r, StatusCode::FORBIDDEN);
        assert_eq!(r.body["code"], "INSUFFICIENT_ROLE", "{method} {path}");
    }

    // Delete: v1's message; not yourself (the UI hides the button, the API refuses too).
    let deleted = v1_fetch(&app, Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(
        deleted.body,
        json!({"message": "User newbie deleted successfully"})
    );
    let own = v1_fetch(
        &app,
        Method::DELETE,
        &format!("{users}/{ada}"),
        Some(&admin),
        None,
    )
    .await;
    is_v1_error(&own, StatusCode::BAD_REQUEST);
    assert_eq!(own.body["detail"], "Cannot delete your own account");
    let gone = v1_fetch(
        &app,
        Method::PUT,
        &path,
        Some(&admin),
        Some(json!({"role": "admin"})),
    )
    .await;
    is_v1_error(&gone, StatusCode::NOT_FOUND);
}

/// The project list (axios: the key alone), the "New Project" modal (the key and the session,
/// with v1's placeholder owner), and the service's update and delete.
async fn v1_projects_crud(app: TestApp) {
    app.user("eddie", "editor").await;
    app.user("vic", "viewer").await;
    let editor = app.login("eddie").await;
    let viewer = app.login("vic").await;
    let project_fields = [
        "id",
        "name",
        "description",
        "status",
        "owner_id",
        "metadata",
        "created_at",
        "updated_at",
    ];

    // The modal's body, as it sends it.
    let form = json!({"name": "Home lab", "description": "", "status": "planning",
                      "owner_id": "00000000-0000-0000-0000-000000000001", "metadata": {}});
    let created = v1_fetch(
        &app,
        Method::POST,
        "/api/v1/projects",
        Some(&editor),
        Some(form.clone()),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    has_fields(&created.body, &project_fields);
    assert_eq!(created.body["name"], "Home lab");
    assert_eq!(created.body["status"], "planning");
    assert_eq!(created.body["metadata"], json!({}));
    assert_eq!(
        created.body["owner_id"],
        Value::Null,
        "v1's placeholder owner is no owner"
    );
    let id = created.str("id");
    // A viewer's modal gets a `detail` to show.
    let refused = v1_fetch(
        &app,
        Method::POST,
        "/api/v1/projects",
        Some(&viewer),
        Some(form),
    )
    .await;
    is_v1_error(&refused, StatusCode::FORBIDDEN);

    // `apiService.getProjects` reads `projects`.
    let list = v1_fetch(&app, Method::GET, "/api/v1/projects", None, None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.body["count"], 1);
    has_fields(&list.body["projects"][0], &project_fields);
    assert_eq!(list.body["projects"][0]["id"], id.as_str());

    // Get, partial update, delete (204, no body).
    let path = format!("/api/v1/projects/{id}");
    let one = v1_fetch(&app, Method::GET, &path, None, None).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    has_fields(&one.body, &project_fields);
    let updated = v1_fetch(
        &app,
        Method::PUT,
        &path,
        None,
        Some(json!({"status": "active", "owner_id": "00000000-0000-0000-0000-000000000001"})),
    )
    .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    has_fields(&updated.body, &project_fields);
    assert_eq!(updated.body["status"], "active");
    assert_eq!(updated.body["name"], "Home lab", "omitted fields are kept");
    assert_eq!(updated.body["owner_id"], Value::Null);
    let deleted = v1_fetch(&app, Method::DELETE, &path, None, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(deleted.body, Value::Null);
    is_v1_error(
        &v1_fetch(&app, Method::GET, &path, None, None).await,
        StatusCode::NOT_FOUND,
    );
    is_v1_error(
        &v1_fetch(&app, Method::GET, "/api/v1/projects/not-a-uuid", None, None).await,
        StatusCode::BAD_REQUEST,
    );
}

/// `POST /events/test` and `GET /events?topic=&kind=&limit=`: v1's list keys (`events`,
/// `count`; `topic`, `payload`, `created_at` per item). v1 put the whole envelope, as a JSON
/// string, in `payload`; here `payload` is the envelope's payload object and the envelope's
/// other fields sit beside it (README, "Differences from v1").
async fn v1_events_list(app: TestApp) {
    let test = v1_fetch(&app, Method::POST, "/api/v1/events/test", None, None).await;
    assert_eq!(test.status, StatusCode::OK, "{}", test.body);
    assert_eq!(test.body["status"], "success");
    assert_eq!(test.body["message"], "Test event published");
    let trace = test.str("trace_id");

    let path = "/api/v1/events?topic=tracker/events/test/api&kind=test_event&limit=100";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let list = loop {
        let r = v1_fetch(&app, Method::GET, path, None, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        if r.body["count"] == 1 {
            break r.body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not listed: {}",
            r.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let event = &list["events"][0];
    has_fields(event, &["topic", "payload", "created_at"]);
    assert_eq!(event["topic"], "tracker/events/test/api");
    // The envelope v1 stored, rebuilt from the item.
    has_fields(event, &["trace_id", "ts", "kind", "idempotency_key"]);
    assert_eq!(event["trace_id"], trace.as_str());
    assert_eq!(event["kind"], "test_event");
    assert_eq!(event["payload"]["message"], "Test event from API");

    // Dead letters: v1's keys.
    let dlq = v1_fetch(&app, Method::GET, "/api/v1/dlq", None, None).await;
    assert_eq!(dlq.status, StatusCode::OK, "{}", dlq.body);
    assert!(dlq.body["dlq_events"].is_array() && dlq.body["count"].is_number());
}

/// `LogViewer`: the filtered list (admins; v1 showed it to everyone with the key) and v1's
/// sample records.
async fn v1_log_viewer(app: TestApp) {
    app.user("ada", "admin").await;
    app.user("vic", "viewer").await;
    let admin = app.login("ada").await;
    let viewer = app.login("vic").await;

    let sample = v1_fetch(&app, Method::POST, "/api/v1/logs/test", Some(&admin), None).await;
    assert_eq!(sample.status, StatusCode::OK, "{}", sample.body);
    assert_eq!(
        sample.body["message"],
        "Test log entries created successfully"
    );
    assert_eq!(sample.body["logs_created"], 3);

    // The viewer's filters: `ALL` is left out of the query, `limit=100` always sent.
    let path = "/api/v1/logs?level=ERROR&service=taylordash-backend&category=API&search=test\
                &limit=100";
    let logs = v1_fetch(&app, Method::GET, path, Some(&admin), None).await;
    assert_eq!(logs.status, StatusCode::OK, "{}", logs.body);
    has_fields(
        &logs.body,
        &["logs", "total", "limit", "offset", "has_more"],
    );
    assert_eq!(logs.body["total"], 1, "{}", logs.body);
    let entry = &logs.body["logs"][0];
    has_fields(
        entry,
        &[
            "id",
            "timestamp",
            "level",
            "service",
            "category",
            "severity",
            "message",
            "details",
            "trace_id",
            "endpoint",
            "method",
            "error_code",
            "context",
        ],
    );
    assert_eq!(entry["level"], "ERROR");
    assert_eq!(entry["severity"], "HIGH");
    assert_eq!(entry["error_code"], "TEST_ERROR");
    assert!(entry["id"].is_number() && entry["context"].is_object());

    let refused = v1_fetch(&app, Method::GET, path, Some(&viewer), None).await;
    is_v1_error(&refused, StatusCode::FORBIDDEN);
}

/// The body v1's `ErrorLogger.flush` builds from one `createApiError`.
fn v1_error_batch(message: &str) -> Value {
    json!({"errors": [{
        "timestamp": "2025-01-02T03:04:05.678Z",
        "level": "ERROR",
        "service": "taylordash-frontend",
        "category": "API",
        "severity": "MEDIUM",
        "message": message,
        "error_code": "API_ERROR",
        "context": {
            "timestamp": "2025-01-02T03:04:05.678Z",
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
            "endpoint": "/projects",
            "method": "GET",
            "statusCode": 500,
            "stack_trace": "Error: boom\n    at loadProjects (ProjectsList.tsx:14:7)",
            "url": "http://localhost:8000/projects?token=secret-in-the-query",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"
        }
    }]})
}

/// `ErrorLogger.flush`: `POST /logs/frontend` with `{"errors": [...]}`, by `fetch` (its
/// hard-coded public key, which is refused, and the session cookie login left in the browser)
/// or, while the page unloads, by `navigator.sendBeacon` (`text/plain`, the cookie only).
async fn v1_error_reports(app: TestApp) {
    let vic = app.user("vic", "viewer").await;
    let session = app.login("vic").await;
    let report = |content_type: &'static str, key: Option<&'static str>, body: Value| {
        let mut req = TestApp::builder(
            &Cred::Cookie(session.clone()),
            Method::POST,
            "/api/v1/logs/frontend",
        )
        .header(header::CONTENT_TYPE, content_type);
        if let Some(key) = key {
            req = req.header("x-api-key", key);
        }
        app.send(req.body(Body::from(body.to_string())).expect("request"))
    };

    let sent = report(
        "application/json",
        Some(V1_DEV_KEY),
        v1_error_batch("GET /projects failed with status 500"),
    )
    .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    assert_eq!(sent.body["accepted"], 1);
    let beacon = report(
        "text/plain;charset=UTF-8",
        None,
        v1_error_batch("sent while the page unloaded"),
    )
    .await;
    assert_eq!(beacon.status, StatusCode::ACCEPTED, "{}", beacon.body);

    // Without the session, the hard-coded key alone is refused.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/logs/frontend")
        .header(header::HOST, "localhost:8000")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-api-key", V1_DEV_KEY)
        .body(Body::from(v1_error_batch("anonymous").to_string()))
        .expect("request");
    is_v1_error(&app.send(req).await, StatusCode::UNAUTHORIZED);
    // A browser cannot write in the backend's name.
    let mut forged = v1_error_batch("forged");
    forged["errors"][0]["service"] = json!("taylordash-backend");
    let r = report("application/json", None, forged).await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    assert_eq!(r.body["field"], "errors[0].service", "{}", r.body);

    // Stored as the browser's record, the stack trace and page lifted out of the context.
    app.state
        .logs
        .sink
        .flush(std::time::Duration::from_secs(10))
        .await;
    let stored = app
        .get("/api/v1/logs?service=taylordash-frontend&search=failed%20with%20status")
        .await;
    assert_eq!(stored.body["total"], 1, "{}", stored.body);
    let row = &stored.body["logs"][0];
    assert_eq!(row["level"], "ERROR");
    assert_eq!(row["category"], "API");
    assert_eq!(row["severity"], "MEDIUM");
    assert_eq!(row["error_code"], "API_ERROR");
    assert_eq!(row["user_id"], json!(vic));
    assert_eq!(row["endpoint"], "http://localhost:8000/projects");
    assert!(
        row["stack_trace"]
            .as_str()
            .is_some_and(|s| s.contains("loadProjects")),
        "{row}"
    );
    assert_eq!(row["context"]["statusCode"], 500);
    assert_eq!(
        row["context"]["user_agent"],
        "Mozilla/5.0 (X11; Linux x86_64)"
    );
    assert!(row["context"].get("url").is_none(), "{row}");
    let all = app.get("/api/v1/logs?service=taylordash-frontend").await;
    assert_eq!(
        all.body["total"], 2,
        "the report and the beacon: {}",
        all.body
    );
}

/// v1's plugin routes: a clear 501 in the usual error shape for whoever may call them.
async fn v1_plugin_routes_say_not_available(app: TestApp) {
    app.user("vic", "viewer").await;
    let viewer = app.login("vic").await;
    let id = "projects-manager";
    let routes = [
        (
            Method::POST,
            "/api/v1/plugins/install".to_owned(),
            Some(json!({"repository_url": "https://github.com/o/r", "force": false})),
        ),
        (Method::GET, "/api/v1/plugins/list".to_owned(), None),
        (Method::GET, format!("/api/v1/plugins/{id}"), None),
        (Method::DELETE, format!("/api/v1/plugins/{id}"), None),
        (
            Method::PUT,
            format!("/api/v1/plugins/{id}/update"),
            Some(json!({"plugin_id": id})),
        ),
        (Method::GET, format!("/api/v1/plugins/{id}/health"), None),
        (
            Method::POST,
            format!("/api/v1/plugins/{id}/config"),
            Some(json!({"plugin_id": id, "config": {}})),
        ),
        (
            Method::GET,
            format!("/api/v1/plugins/{id}/security/violations?limit=10"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/plugins/{id}/security/scan"),
            None,
        ),
        (
            Method::GET,
            "/api/v1/plugins/stats/overview".to_owned(),
            None,
        ),
        (
            Method::POST,
            "/api/v1/plugins/registry/refresh".to_owned(),
            None,
        ),
    ];
    for (method, path, body) in routes {
        // v1's scripts call them with the key.
        let r = v1_fetch(&app, method.clone(), &path, None, body.clone()).await;
        r.assert_error(StatusCode::NOT_IMPLEMENTED, "PLUGINS_NOT_AVAILABLE");
        assert!(
            r.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("not available in this version")),
            "{method} {path}: {}",
            r.body
        );
        // Anonymous: 401 as everywhere under /api/v1.
        app.call_as(&Cred::Anonymous, method.clone(), &path, body.clone())
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "NOT_AUTHENTICATED");
        // A viewer may ask what there is, not change it.
        let r = v1_fetch(&app, method.clone(), &path, Some(&viewer), body).await;
        if method == Method::GET {
            r.assert_error(StatusCode::NOT_IMPLEMENTED, "PLUGINS_NOT_AVAILABLE");
        } else {
            r.assert_error(StatusCode::FORBIDDEN, "INSUFFICIENT_ROLE");
        }
    }
}
