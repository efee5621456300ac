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
