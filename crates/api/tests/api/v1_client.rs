//! Requests exactly as v1's web client sends them: its build-time key in `X-API-Key` and the
//! user's session as `Authorization: Bearer`, on every call. The session decides who is calling.

use crate::support::*;

on_both!(the_session_decides_when_a_key_comes_along);

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
