//! Sign-in through a forward-auth proxy: identity headers believed only from a trusted proxy,
//! accounts linked or created on first sight, roles following the groups, audit entries.

use crate::support::*;

fn proxy(user: &str, groups: &str) -> Cred {
    Cred::Proxy {
        user: user.to_owned(),
        groups: groups.to_owned(),
        peer: PROXY,
    }
}

async fn usernames(app: &TestApp) -> Vec<String> {
    app.get("/api/v1/auth/users")
        .await
        .body
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["username"].as_str().expect("name").to_owned())
        .collect()
}

async fn audit(app: &TestApp, action: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/api/v1/audit?action={action}&limit=100"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["entries"].as_array().expect("entries").clone()
}

async fn me(app: &TestApp, cred: &Cred) -> Reply {
    app.call_as(cred, Method::GET, "/api/v1/auth/me", None)
        .await
}

async fn a_trusted_proxy_signs_users_in_and_their_groups_set_the_role(app: TestApp) {
    let app = TestApp::configured(app.db, forward_auth_config());
    let r = me(&app, &proxy("alice", "family, taylordash-editors")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["username"], "alice");
    assert_eq!(r.body["role"], "editor");
    assert_eq!(r.body["signed_in_by"], "forward_auth");
    assert!(r.body["session_expires_at"].is_null());
    // Made on the first request, linked, signed in: each in the audit trail once, however
    // many requests follow.
    for _ in 0..3 {
        let again = me(&app, &proxy("alice", "family,taylordash-editors")).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    }
    assert_eq!(usernames(&app).await, vec!["alice"]);
    let created = audit(&app, "user_created").await;
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["details"]["via"], "forward_auth sign-in");
    assert_eq!(
        created[0]["ip_address"], PROXY,
        "no X-Forwarded-For: the proxy"
    );
    let linked = audit(&app, "identity_linked").await;
    assert_eq!(linked.len(), 1, "{linked:?}");
    assert_eq!(linked[0]["details"]["provider"], "forward-auth");
    assert_eq!(linked[0]["details"]["subject"], "alice");
    let signed_in = audit(&app, "login_success").await;
    assert_eq!(signed_in.len(), 1, "{signed_in:?}");
    assert_eq!(signed_in[0]["details"]["method"], "forward_auth");

    // An editor may write, from this origin only (the headers come like a cookie).
    let alice = proxy("alice", "taylordash-editors");
    let made = app
        .call_as(
            &alice,
            Method::POST,
            "/api/v1/projects",
            Some(json!({"name": "lab"})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let mut foreign = TestApp::builder(&alice, Method::POST, "/api/v1/projects")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"name": "evil"}).to_string()))
        .expect("request");
    foreign.headers_mut().insert(
        header::ORIGIN,
        "https://evil.example".parse().expect("origin"),
    );
    app.send(foreign)
        .await
        .assert_error(StatusCode::FORBIDDEN, "CSRF_REJECTED");

    // Out of the editors group: a viewer at the next request, and the change is audited.
    let demoted = me(&app, &proxy("alice", "family")).await;
    assert_eq!(demoted.body["role"], "viewer", "{}", demoted.body);
    app.call_as(
        &proxy("alice", "family"),
        Method::POST,
        "/api/v1/projects",
        Some(json!({"name": "no"})),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "INSUFFICIENT_ROLE");
    let changes = audit(&app, "role_changed").await;
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["details"]["from"], "editor");
    assert_eq!(changes[0]["details"]["to"], "viewer");
    assert_eq!(changes[0]["target_name"], "alice");
}

async fn identity_headers_from_anywhere_else_are_ignored(app: TestApp) {
    // Forward-auth on: headers on a connection from an untrusted address, or with no known
    // peer, are not a sign-in.
    let on = TestApp::configured(app.db, forward_auth_config());
    let spoof = Cred::Proxy {
        user: "mallory".to_owned(),
        groups: "taylordash-admins".to_owned(),
        peer: STRANGER,
    };
    me(&on, &spoof)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "NOT_AUTHENTICATED");
    let no_peer = Request::get("/api/v1/auth/me")
        .header("remote-user", "mallory")
        .header("remote-groups", "taylordash-admins")
        .body(Body::empty())
        .expect("request");
    on.send(no_peer)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "NOT_AUTHENTICATED");
    // X-Forwarded-For naming a trusted proxy does not make the connection one.
    let mut forwarded = TestApp::builder(&spoof, Method::GET, "/api/v1/auth/me")
        .body(Body::empty())
        .expect("request");
    forwarded
        .headers_mut()
        .insert("x-forwarded-for", PROXY.parse().expect("value"));
    on.send(forwarded)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "NOT_AUTHENTICATED");
    assert!(usernames(&on).await.is_empty());
    assert!(audit(&on, "user_created").await.is_empty());

    // Forward-auth off: even the trusted proxy's headers mean nothing.
    let off = TestApp::configured(
        on.db,
        AuthConfig {
            forward_auth: None,
            ..forward_auth_config()
        },
    );
    me(&off, &proxy("mallory", "taylordash-admins"))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "NOT_AUTHENTICATED");
    assert!(usernames(&off).await.is_empty());
    // And an explicit credential always decides over the headers.
    off.user("vic", "viewer").await;
    let token = off.login("vic").await;
    let on = TestApp::configured(off.db, forward_auth_config());
    let mut both = TestApp::builder(
        &proxy("mallory", "taylordash-admins"),
        Method::GET,
        "/api/v1/auth/me",
    )
    .body(Body::empty())
    .expect("request");
    both.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("value"),
    );
    let r = on.send(both).await;
    assert_eq!(r.body["username"], "vic", "{}", r.body);
}

async fn first_sight_links_by_username_or_is_refused_as_configured(app: TestApp) {
    let app = TestApp::configured(app.db, forward_auth_config());
    // A local admin (the break-glass account) and a local editor named as at the proxy.
    app.user("root", "admin").await;
    let bob_id = app.user("Bob", "editor").await;
    let r = me(&app, &proxy("bob", "taylordash-admins")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["id"], bob_id.as_str(), "linked, not a new account");
    assert_eq!(r.body["role"], "admin");
    assert_eq!(audit(&app, "identity_linked").await.len(), 1);
    assert_eq!(
        audit(&app, "user_created").await.len(),
        2,
        "root and Bob only: no account made"
    );
    // Taken out of the admin group: no longer an admin at the next request.
    let r = me(&app, &proxy("bob", "")).await;
    assert_eq!(r.body["role"], "viewer", "{}", r.body);
    app.call_as(&proxy("bob", ""), Method::GET, "/api/v1/auth/users", None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "INSUFFICIENT_ROLE");

    // No accounts made, no linking by name: an unknown user is refused with a reason.
    let strict = TestApp::configured(
        app.db,
        AuthConfig {
            external: services::identity::ExternalPolicy {
                create_users: false,
                link_by_username: Some(false),
                ..Default::default()
            },
            ..forward_auth_config()
        },
    );
    me(&strict, &proxy("carol", "taylordash-admins"))
        .await
        .assert_error(StatusCode::FORBIDDEN, "NO_LINKED_ACCOUNT");
    me(&strict, &proxy("root", "taylordash-admins"))
        .await
        .assert_error(StatusCode::FORBIDDEN, "NO_LINKED_ACCOUNT");
    let names = usernames(&strict).await;
    assert!(!names.contains(&"carol".to_owned()), "{names:?}");
    // Bob's link stands.
    assert_eq!(me(&strict, &proxy("bob", "")).await.status, StatusCode::OK);
    let refused = audit(&strict, "login_failed").await;
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert_eq!(refused[0]["details"]["reason"], "no linked account");

    // Only listed groups may sign in once viewer groups are set.
    let closed = TestApp::configured(
        strict.db,
        AuthConfig {
            external: services::identity::ExternalPolicy {
                roles: domain::RoleMapping {
                    viewer_groups: Some(vec!["family".to_owned()]),
                    ..Default::default()
                },
                ..Default::default()
            },
            ..forward_auth_config()
        },
    );
    me(&closed, &proxy("dave", "guests"))
        .await
        .assert_error(StatusCode::FORBIDDEN, "NOT_IN_ALLOWED_GROUP");
    assert_eq!(
        me(&closed, &proxy("erin", "guests|family")).await.body["role"],
        "viewer"
    );
    let names = usernames(&closed).await;
    assert!(!names.contains(&"dave".to_owned()), "{names:?}");
    assert!(names.contains(&"erin".to_owned()), "{names:?}");

    // A disabled account stays out, whatever the proxy says.
    let erin = closed
        .get("/api/v1/auth/users")
        .await
        .body
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == "erin")
        .expect("erin")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let off = closed
        .put(
            &format!("/api/v1/auth/users/{erin}"),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
    me(&closed, &proxy("erin", "family"))
        .await
        .assert_error(StatusCode::FORBIDDEN, "ACCOUNT_DISABLED");
}

async fn header_names_are_configurable(app: TestApp) {
    let app = TestApp::configured(
        app.db,
        AuthConfig {
            forward_auth: Some(api::auth::ForwardAuth {
                user_header: "x-authentik-username".parse().expect("name"),
                groups_header: "x-authentik-groups".parse().expect("name"),
                email_header: "x-authentik-email".parse().expect("name"),
                logout_url: Some("https://auth.example.net/logout".to_owned()),
            }),
            ..forward_auth_config()
        },
    );
    let addr: std::net::SocketAddr = format!("{PROXY}:1234").parse().expect("address");
    let req = Request::get("/api/v1/auth/me")
        .header("x-authentik-username", "frank")
        .header("x-authentik-groups", "users|taylordash-admins")
        .header("x-authentik-email", "frank@example.net")
        .header("remote-user", "ignored")
        .extension(axum::extract::ConnectInfo(addr))
        .body(Body::empty())
        .expect("request");
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["username"], "frank");
    assert_eq!(r.body["role"], "admin");
    assert_eq!(r.body["logout_url"], "https://auth.example.net/logout");
    // The default header alone is not read any more.
    me(&app, &proxy("ignored", "taylordash-admins"))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "NOT_AUTHENTICATED");
}

on_both!(
    a_trusted_proxy_signs_users_in_and_their_groups_set_the_role,
    identity_headers_from_anywhere_else_are_ignored,
    first_sight_links_by_username_or_is_refused_as_configured,
    header_names_are_configurable,
);
