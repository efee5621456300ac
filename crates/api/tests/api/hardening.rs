//! Regression tests for what a fuzzer and an attacker found: text the system cannot store or
//! publish is refused at the edge with a clear 422, before it can reach the outbox.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{Cred, TestApp};

on_both!(
    nul_in_a_login_is_refused_before_the_throttle_and_writes_nothing,
    nul_and_control_characters_are_refused_in_every_text_field,
);

async fn outbox_rows(app: &TestApp) -> usize {
    app.raw_text("SELECT CAST(id AS TEXT) FROM event_outbox")
        .await
        .len()
}

async fn nul_in_a_login_is_refused_before_the_throttle_and_writes_nothing(app: TestApp) {
    let before = outbox_rows(&app).await;
    let login = |username: &'static str| {
        app.call_from(
            "192.0.2.9",
            &Cred::Anonymous,
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"username": username, "password": "wrong-password-1"})),
        )
    };
    // Lock the address out with ordinary failures first.
    let mut throttled = false;
    for _ in 0..30 {
        let r = login("nobody").await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            throttled = true;
            break;
        }
        r.assert_error(StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS");
    }
    assert!(throttled, "the address should be throttled by now");
    let after_failures = outbox_rows(&app).await;
    assert!(after_failures > before, "failed logins are audited");

    // A NUL in the username is a 422 naming the problem, throttled address or not, and leaves
    // no audit event behind (it could never be published).
    for _ in 0..5 {
        let r = login("ad\u{0}min").await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_TEXT");
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("NUL")
        );
    }
    assert_eq!(outbox_rows(&app).await, after_failures);
}

async fn nul_and_control_characters_are_refused_in_every_text_field(app: TestApp) {
    let before = outbox_rows(&app).await;
    app.post("/api/v1/projects", json!({"name": "lab\u{0}"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_TEXT");
    app.post(
        "/api/v1/projects",
        json!({"name": "ok", "metadata": {"note": ["fine", "x\u{0}"]}}),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_TEXT");
    // Other control characters and text-direction overrides in names are refused by the
    // domain rules, naming the field.
    for name in ["tab\there", "bell\u{7}", "invoice\u{202E}fdp.exe"] {
        let r = app.post("/api/v1/projects", json!({ "name": name })).await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
        assert_eq!(r.body["field"], "name", "{}", r.body);
    }
    app.post(
        "/api/v1/projects",
        json!({"name": "ok", "description": "beep\u{7}"}),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    // Descriptions keep their line breaks and tabs.
    let p = app
        .post(
            "/api/v1/projects",
            json!({"name": "multi-line", "description": "one\n\ttwo\r\n"}),
        )
        .await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    let id = p.str("id");
    app.put(
        &format!("/api/v1/projects/{id}"),
        json!({"name": "x\u{202E}y"}),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");

    // Query parameters: a NUL search no longer matches everything, a NUL topic filter is
    // refused.
    for path in [
        "/api/v1/projects?search=%00",
        "/api/v1/events?topic=tracker%2F%00",
        "/api/v1/logs?search=a%01b",
    ] {
        let r = app.get(path).await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("control characters"),
            "{path}: {}",
            r.body
        );
    }
    // Only the one valid project wrote an event.
    assert_eq!(outbox_rows(&app).await, before + 1);
}

/// A weak validator never satisfies a write precondition; `*` asks for none.
#[tokio::test]
async fn if_match_takes_only_strong_validators() {
    use axum::body::Body;
    use axum::http::{Request, header};
    let app = TestApp::new().await;
    let id = app.project("versioned").await;
    let put = |if_match: &str, name: &str| {
        Request::builder()
            .method(Method::PUT)
            .uri(format!("/api/v1/projects/{id}"))
            .header("x-api-key", crate::support::KEY)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::IF_MATCH, if_match)
            .body(Body::from(json!({ "name": name }).to_string()))
            .expect("request")
    };
    app.send(put("W/\"1\"", "weak"))
        .await
        .assert_error(StatusCode::PRECONDITION_FAILED, "WEAK_ETAG");
    app.send(put("\"\"", "empty"))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_IF_MATCH");
    let strong = app.send(put("\"1\"", "strong")).await;
    assert_eq!(strong.status, StatusCode::OK, "{}", strong.body);
    let any = app.send(put("*", "any")).await;
    assert_eq!(any.status, StatusCode::OK, "{}", any.body);
    assert_eq!(
        app.get(&format!("/api/v1/projects/{id}")).await.str("name"),
        "any"
    );
}

/// A session cookie plus a foreign `Origin` must not open the live stream over WebSocket.
#[tokio::test]
async fn cookie_websocket_upgrades_must_come_from_this_origin() {
    use axum::body::Body;
    use axum::http::{Request, header};
    let app = TestApp::new().await;
    app.user("vic", "viewer").await;
    let token = app.login("vic").await;
    let upgrade = |origin: &str| {
        Request::builder()
            .method(Method::GET)
            .uri("/api/v1/events/stream")
            .header(header::HOST, "localhost:8000")
            .header(header::COOKIE, format!("taylordash_session={token}"))
            .header(header::ORIGIN, origin)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
            .body(Body::empty())
            .expect("request")
    };
    app.send(upgrade("https://evil.example"))
        .await
        .assert_error(StatusCode::FORBIDDEN, "CSRF_REJECTED");
    let own = app.send(upgrade("http://localhost:8000")).await;
    assert_ne!(own.status, StatusCode::FORBIDDEN, "{}", own.body);
    assert_ne!(own.status, StatusCode::UNAUTHORIZED, "{}", own.body);
}

/// A read-scoped key reads its owner's account but cannot change it (end sessions, change the
/// password); a write-scoped key can.
#[tokio::test]
async fn read_only_keys_cannot_change_their_owners_account() {
    let app = TestApp::new().await;
    app.user("ada", "admin").await;
    let session = Cred::Bearer(app.login("ada").await);
    let read = Cred::Key(app.api_key(&session, "read").await);
    let write = Cred::Key(app.api_key(&session, "write").await);
    let listed = app
        .call_as(&read, Method::GET, "/api/v1/auth/sessions", None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    app.call_as(&read, Method::DELETE, "/api/v1/auth/sessions", None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "INSUFFICIENT_SCOPE");
    app.call_as(
        &read,
        Method::PUT,
        "/api/v1/auth/me/password",
        Some(json!({"current_password": crate::support::PASSWORD, "new_password": "another-long-passphrase"})),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "INSUFFICIENT_SCOPE");
    // The session still works: nothing was ended.
    assert_eq!(
        app.call_as(&session, Method::GET, "/api/v1/auth/me", None)
            .await
            .status,
        StatusCode::OK
    );
    let ended = app
        .call_as(&write, Method::DELETE, "/api/v1/auth/sessions", None)
        .await;
    assert!(ended.status.is_success(), "{} {}", ended.status, ended.body);
}

/// During a lockout, the right password with the name padded by spaces or tabs (which the
/// account lookup trims) is still locked out: padding does not buy a fresh budget.
#[tokio::test]
async fn a_padded_username_does_not_escape_the_lockout() {
    let app = TestApp::new().await;
    app.user("vic", "viewer").await;
    for _ in 0..5 {
        app.login_reply("vic", "wrong-password-1")
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS");
    }
    for pad in [57, 60, 64, 65, 80] {
        let padded = format!("{}vic", " ".repeat(pad));
        app.login_reply(&padded, crate::support::PASSWORD)
            .await
            .assert_error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS");
        let tabbed = format!("{}VIC", "\t".repeat(pad));
        app.login_reply(&tabbed, crate::support::PASSWORD)
            .await
            .assert_error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS");
    }
}

/// A project's owner must be a user that exists.
#[tokio::test]
async fn a_project_owner_must_exist() {
    let app = TestApp::new().await;
    let nobody = uuid::Uuid::new_v4();
    let r = app
        .post("/api/v1/projects", json!({"name": "p", "owner_id": nobody}))
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    assert_eq!(r.body["field"], "owner_id", "{}", r.body);
    let ada = app.user("ada", "admin").await;
    let p = app
        .post("/api/v1/projects", json!({"name": "p", "owner_id": ada}))
        .await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    let id = p.str("id");
    app.put(
        &format!("/api/v1/projects/{id}"),
        json!({ "owner_id": nobody }),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    assert_eq!(
        app.get(&format!("/api/v1/projects/{id}")).await.body["owner_id"],
        json!(ada)
    );
}

/// An address locked out by failed logins (someone else's, behind the same NAT) does not stop
/// a signed-in user from changing their password; wrong current passwords still count against
/// their name.
#[tokio::test]
async fn an_address_lockout_does_not_block_a_signed_in_password_change() {
    let app = TestApp::new().await;
    app.user("vic", "viewer").await;
    let ip = "192.0.2.77";
    let session = app
        .call_from(
            ip,
            &Cred::Anonymous,
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"username": "vic", "password": crate::support::PASSWORD})),
        )
        .await
        .str("session_token");
    // Failed logins for many names from the same address lock the address.
    let mut locked = false;
    for i in 0..40 {
        let r = app
            .call_from(
                ip,
                &Cred::Anonymous,
                Method::POST,
                "/api/v1/auth/login",
                Some(json!({"username": format!("guess{i}"), "password": "wrong-password-1"})),
            )
            .await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            locked = true;
            break;
        }
    }
    assert!(locked, "the address is locked");
    let changed = app
        .call_from(
            ip,
            &Cred::Bearer(session),
            Method::PUT,
            "/api/v1/auth/me/password",
            Some(json!({
                "current_password": crate::support::PASSWORD,
                "new_password": "a-brand-new-passphrase",
            })),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
}

/// The audit trail's events (sign-ins with names, addresses and user agents) are for admins
/// only, in the event list and by id as in `/audit`; and no event carries a session id.
#[tokio::test]
async fn audit_events_are_for_admins_and_carry_no_session_id() {
    let app = TestApp::new().await;
    app.user("ada", "admin").await;
    app.user("vic", "viewer").await;
    let admin = Cred::Bearer(app.login("ada").await);
    let viewer = Cred::Bearer(app.login("vic").await);
    app.project("lab").await;
    let list = |cred: &Cred| {
        app.call_as_owned(cred.clone(), Method::GET, "/api/v1/events?limit=200", None)
    };
    // The outbox relay brings the events into the mirror shortly.
    let mut seen = None;
    for _ in 0..200 {
        let r = list(&admin).await;
        let events = r.body["events"].as_array().cloned().unwrap_or_default();
        let auth = events
            .iter()
            .find(|e| e["topic"] == "tracker/events/auth/login_success");
        let lab = events.iter().any(|e| e["kind"] == "project.created");
        if let (Some(auth), true) = (auth, lab) {
            seen = Some(auth.clone());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let auth = seen.expect("the admin sees sign-in events");
    assert!(
        !auth.to_string().contains("session_id"),
        "no session id in an event: {auth}"
    );

    let mine = list(&viewer).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    let topics: Vec<&str> = mine.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["topic"].as_str())
        .collect();
    assert!(
        topics.contains(&"tracker/events/projects/created"),
        "{topics:?}"
    );
    assert!(
        topics
            .iter()
            .all(|t| !t.starts_with("tracker/events/auth/")),
        "{topics:?}"
    );
    let id = auth["id"].as_i64().expect("id");
    app.call_as(&viewer, Method::GET, &format!("/api/v1/events/{id}"), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let by_admin = app
        .call_as(&admin, Method::GET, &format!("/api/v1/events/{id}"), None)
        .await;
    assert_eq!(by_admin.status, StatusCode::OK, "{}", by_admin.body);
}
