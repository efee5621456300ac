//! Identity and access over HTTP: login (v1 shapes), sessions and their expiry, revocation,
//! brute-force protection, users, API keys and scopes, CSRF, first-run setup, the audit trail
//! and security headers. Each runs on SQLite and PostgreSQL.

use chrono::{DateTime, Duration, Utc};

use crate::support::*;

fn sha256(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

fn hours_from_now(at: &str) -> i64 {
    let at = DateTime::parse_from_rfc3339(at).expect("RFC 3339 with offset");
    (at.with_timezone(&Utc) - Utc::now()).num_hours()
}

async fn login_keeps_v1_shape_and_sets_a_strict_cookie(app: TestApp) {
    let id = app.user("Alice", "viewer").await;
    let r = app
        .call_as(
            &Cred::Anonymous,
            Method::POST,
            "/api/v1/auth/login",
            Some(
                json!({"username": "alice", "password": PASSWORD, "remember_me": false,
                        "single_view_mode": true, "default_view": "projects"}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut fields: Vec<&String> = r.body.as_object().expect("object").keys().collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "default_view",
            "expires_at",
            "role",
            "session_token",
            "single_view_mode",
            "user_id",
            "username"
        ],
        "v1's LoginResponse"
    );
    assert_eq!(r.body["user_id"], id.as_str());
    assert_eq!(r.body["username"], "Alice", "login is case-insensitive");
    assert_eq!(r.body["role"], "viewer");
    assert_eq!(r.body["single_view_mode"], true);
    assert_eq!(r.body["default_view"], "projects");
    let expires = r.str("expires_at");
    assert!(expires.ends_with('Z') || expires.contains('+'), "{expires}");
    assert!((23..=24).contains(&hours_from_now(&expires)), "{expires}");
    let token = r.str("session_token");
    assert_eq!(token.len(), 64, "256 random bits");
    let token_again = token.clone();
    let cookie = r.headers[header::SET_COOKIE].to_str().expect("ascii");
    assert!(
        cookie.starts_with(&format!("taylordash_session={token};")),
        "{cookie}"
    );
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    assert!(
        !cookie.contains("Max-Age"),
        "a browser-session cookie: {cookie}"
    );
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");

    for cred in [Cred::Bearer(token.clone()), Cred::Cookie(token)] {
        let me = app
            .call_as(&cred, Method::GET, "/api/v1/auth/me", None)
            .await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.body);
        for field in [
            "id",
            "username",
            "role",
            "default_view",
            "single_view_mode",
            "created_at",
            "last_login",
            "is_active",
        ] {
            assert!(
                me.body.get(field).is_some(),
                "UserInfo.{field}: {}",
                me.body
            );
        }
        assert_eq!(
            me.body["single_view_mode"], true,
            "kiosk choice remembered (v1)"
        );
        assert!(me.body["last_login"].is_string());
        assert_eq!(me.body["signed_in_by"], "password", "{}", me.body);
    }
    // A session from before the server recorded how sessions begin.
    app.raw_text("UPDATE user_sessions SET sign_in_method = NULL")
        .await;
    let me = app
        .call_as(
            &Cred::Bearer(token_again.clone()),
            Method::GET,
            "/api/v1/auth/me",
            None,
        )
        .await;
    assert_eq!(me.body["signed_in_by"], "session", "{}", me.body);

    let long = app
        .call_as(
            &Cred::Anonymous,
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"username": "Alice", "password": PASSWORD, "remember_me": true})),
        )
        .await;
    assert!((30 * 24 - 1..=30 * 24).contains(&hours_from_now(&long.str("expires_at"))));
    let cookie = long.headers[header::SET_COOKIE].to_str().expect("ascii");
    assert!(cookie.contains("Max-Age=2592000"), "{cookie}");
    // As a "remember me" session slides, its cookie is extended too.
    let long_token = long.str("session_token");
    app.clock.advance(Duration::days(10));
    let used = app
        .call_as(
            &Cred::Cookie(long_token.clone()),
            Method::GET,
            "/api/v1/auth/me",
            None,
        )
        .await;
    assert_eq!(used.status, StatusCode::OK);
    let cookie = used.headers[header::SET_COOKIE].to_str().expect("ascii");
    assert!(
        cookie.starts_with(&format!("taylordash_session={long_token};"))
            && cookie.contains("Max-Age=2592000"),
        "{cookie}"
    );
}

async fn secrets_are_stored_only_as_hashes(app: TestApp) {
    app.user("ada", "admin").await;
    let token = app.login("ada").await;
    let key = app.api_key(&Cred::Bearer(token.clone()), "read").await;
    let sessions = app.raw_text("SELECT token_hash FROM user_sessions").await;
    let keys = app
        .raw_text("SELECT key_hash, prefix, name FROM api_keys")
        .await;
    let users = app.raw_text("SELECT password_hash FROM users").await;
    let everything = [sessions.clone(), keys.clone(), users.clone()].concat();
    for secret in [&token, &key, &PASSWORD.to_owned()] {
        assert!(
            everything.iter().all(|v| !v.contains(secret.as_str())),
            "a secret is stored in clear"
        );
    }
    assert!(
        sessions.contains(&sha256(&token)),
        "session stored as SHA-256"
    );
    assert!(keys.contains(&sha256(&key)), "key stored as SHA-256");
    assert!(users[0].starts_with("$argon2id$"), "{}", users[0]);
    // The stored forms do not authenticate.
    let by_hash = app
        .call_as(
            &Cred::Bearer(sha256(&token)),
            Method::GET,
            "/api/v1/auth/me",
            None,
        )
        .await;
    by_hash.assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
}

async fn expired_and_revoked_sessions_are_refused(app: TestApp) {
    app.user("vic", "viewer").await;
    let me = |t: &str| app.me(t.to_owned());
    // Sliding: used every 23 hours, a session lives on.
    let sliding = app.login("vic").await;
    for _ in 0..3 {
        app.clock.advance(Duration::hours(23));
        assert_eq!(me(&sliding).await.status, StatusCode::OK, "slides");
    }
    // Idle for more than 24 hours, it ends.
    app.clock.advance(Duration::hours(25));
    me(&sliding)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");

    // "Remember me" survives a long weekend.
    let remembered = app
        .call_as(
            &Cred::Anonymous,
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"username": "vic", "password": PASSWORD, "remember_me": true})),
        )
        .await
        .str("session_token");
    app.clock.advance(Duration::days(3));
    assert_eq!(me(&remembered).await.status, StatusCode::OK);
    app.clock.advance(Duration::days(31));
    me(&remembered)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");

    // Logout revokes; so does revoking from another session.
    let a = app.login("vic").await;
    let b = app.login("vic").await;
    let out = app
        .call_as(
            &Cred::Bearer(a.clone()),
            Method::POST,
            "/api/v1/auth/logout",
            None,
        )
        .await;
    assert_eq!(out.status, StatusCode::OK);
    assert_eq!(out.body["message"], "Logged out successfully");
    assert!(
        out.headers[header::SET_COOKIE]
            .to_str()
            .expect("ascii")
            .contains("Max-Age=0"),
        "cookie cleared"
    );
    me(&a)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    let c = app.login("vic").await;
    let listed = app
        .call_as(
            &Cred::Bearer(c.clone()),
            Method::GET,
            "/api/v1/auth/sessions",
            None,
        )
        .await;
    assert_eq!(listed.body["count"], 2, "{}", listed.body);
    let current: Vec<&Value> = listed.body["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter(|s| s["current"] == true)
        .collect();
    assert_eq!(current.len(), 1);
    let other = listed.body["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .find(|s| s["current"] == false)
        .expect("b")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let revoked = app
        .call_as(
            &Cred::Bearer(c.clone()),
            Method::DELETE,
            &format!("/api/v1/auth/sessions/{other}"),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    me(&b)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    let d = app.login("vic").await;
    let all = app
        .call_as(
            &Cred::Bearer(c.clone()),
            Method::DELETE,
            "/api/v1/auth/sessions",
            None,
        )
        .await;
    assert_eq!(all.body["revoked"], 1);
    me(&d)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    assert_eq!(me(&c).await.status, StatusCode::OK, "the current one stays");

    // v1's cron endpoint removes what is expired or revoked.
    let cleaned = app.delete("/api/v1/auth/sessions/cleanup").await;
    assert_eq!(cleaned.status, StatusCode::OK);
    let n = cleaned.body["deleted"].as_u64().expect("count");
    assert!(n >= 4, "{}", cleaned.body);
    assert_eq!(
        cleaned.body["message"],
        format!("Cleaned up {n} expired sessions")
    );
}

async fn role_password_and_deactivation_revoke_sessions(app: TestApp) {
    let id = app.user("vic", "viewer").await;
    let user = format!("/api/v1/auth/users/{id}");
    let me = |t: String| app.me(t);

    let t = app.login("vic").await;
    assert_eq!(
        app.put(&user, json!({"role": "editor"})).await.status,
        StatusCode::OK
    );
    me(t)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");

    let t = app.login("vic").await;
    let changed = app
        .put(&user, json!({"password": "another-long-passphrase"}))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    me(t)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    app.login_reply("vic", PASSWORD)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS");

    let t = app
        .login_reply("vic", "another-long-passphrase")
        .await
        .str("session_token");
    let key = app.api_key(&Cred::Bearer(t.clone()), "write").await;
    // Changing only the kiosk view keeps the session.
    assert_eq!(
        app.put(&user, json!({"default_view": "canvas"}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(me(t.clone()).await.status, StatusCode::OK);
    assert_eq!(
        app.put(&user, json!({"is_active": false})).await.status,
        StatusCode::OK
    );
    me(t)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    app.call_as(&Cred::Key(key), Method::GET, "/api/v1/projects", None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_API_KEY");
    app.login_reply("vic", "another-long-passphrase")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS");
}

async fn failed_logins_lock_out_then_expire(app: TestApp) {
    app.user("vic", "viewer").await;
    let attempt = |name: &'static str, pw: &'static str, ip: &'static str| {
        app.call_from(
            ip,
            &Cred::Anonymous,
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"username": name, "password": pw})),
        )
    };
    // Existing and unknown users get the same answer.
    let wrong = attempt("vic", "wrong-password-1", "192.0.2.1").await;
    let unknown = attempt("nobody", "wrong-password-1", "192.0.2.1").await;
    wrong.assert_error(StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS");
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.status, unknown.status);
    for _ in 0..4 {
        attempt("vic", "wrong-password-1", "192.0.2.1")
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS");
    }
    // The username is now locked, even with the right password and from another address.
    let locked = attempt("vic", PASSWORD, "198.51.100.1").await;
    locked.assert_error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS");
    let retry: i64 = locked.headers[header::RETRY_AFTER]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((890..=900).contains(&retry), "{retry}");
    // Unknown names lock the same way.
    for _ in 0..4 {
        attempt("nobody", "wrong-password-1", "203.0.113.5").await;
    }
    attempt("nobody", "x", "203.0.113.6")
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS");

    // The lock expires.
    app.clock
        .advance(Duration::minutes(15) + Duration::seconds(1));
    assert_eq!(
        attempt("vic", PASSWORD, "198.51.100.1").await.status,
        StatusCode::OK
    );

    // Backoff: after a lock, the next failures lock for twice as long.
    for _ in 0..5 {
        attempt("vic", "wrong-password-1", "198.51.100.1").await;
    }
    app.clock
        .advance(Duration::minutes(15) + Duration::seconds(1));
    attempt("vic", "wrong-password-1", "198.51.100.1").await;
    let again = attempt("vic", PASSWORD, "198.51.100.1").await;
    again.assert_error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS");
    let retry: i64 = again.headers[header::RETRY_AFTER]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1790..=1800).contains(&retry), "doubled: {retry}");
}

async fn one_address_cannot_spray_many_accounts(app: TestApp) {
    app.user("vic", "viewer").await;
    for i in 0..20 {
        let r = app
            .call_from(
                "192.0.2.77",
                &Cred::Anonymous,
                Method::POST,
                "/api/v1/auth/login",
                Some(json!({"username": format!("user{i}"), "password": "wrong-password-1"})),
            )
            .await;
        r.assert_error(StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS");
    }
    let from_sprayer = app
        .call_from(
            "192.0.2.77",
            &Cred::Anonymous,
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"username": "vic", "password": PASSWORD})),
        )
        .await;
    from_sprayer.assert_error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS");
    let elsewhere = app
        .call_from(
            "192.0.2.78",
            &Cred::Anonymous,
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"username": "vic", "password": PASSWORD})),
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::OK, "{}", elsewhere.body);
}

#[tokio::test]
async fn forwarded_addresses_count_only_behind_trusted_proxies() {
    let config = AuthConfig {
        trusted_proxies: vec!["10.0.0.0/8".parse().expect("cidr")],
        ..fast()
    };
    let app = TestApp::configured(TestDb::sqlite().await, config);
    // Each attempt uses a new username, so only the address counters can lock.
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let login = |peer: &'static str, forwarded: &'static str| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut req = Request::post("/api/v1/auth/login")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-forwarded-for", forwarded)
            .body(Body::from(
                json!({"username": format!("u{n}"), "password": "nope-nope-nope"}).to_string(),
            ))
            .expect("request");
        req.extensions_mut().insert(axum::extract::ConnectInfo(
            format!("{peer}:1234")
                .parse::<std::net::SocketAddr>()
                .expect("addr"),
        ));
        app.send(req)
    };
    // Through the proxy, each forwarded client has its own counter.
    for _ in 0..20 {
        login("10.0.0.1", "198.51.100.10").await;
    }
    login("10.0.0.1", "198.51.100.10")
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS");
    login("10.0.0.2", "198.51.100.11")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS");
    // An untrusted peer cannot dodge its counter by forging the header.
    for i in 0..20 {
        let forged = ["203.0.113.1", "203.0.113.2"][i % 2];
        login("192.0.2.200", forged).await;
    }
    login("192.0.2.200", "203.0.113.99")
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS");
    let audit = app.get("/api/v1/audit?action=login_failed&limit=1").await;
    assert_eq!(audit.body["entries"][0]["ip_address"], "192.0.2.200");
}

/// With real hashing costs, a login for a name that does not exist takes as long as one with a
/// wrong password (a hash is verified either way), so timing does not reveal accounts.
#[tokio::test]
async fn unknown_usernames_cost_a_full_password_check() {
    let app = TestApp::configured(TestDb::sqlite().await, AuthConfig::default());
    app.user("vic", "viewer").await;
    let mut known = std::time::Duration::MAX;
    let mut unknown = std::time::Duration::MAX;
    for i in 0..3 {
        let started = std::time::Instant::now();
        app.login_reply("vic", "wrong-password-1").await;
        known = known.min(started.elapsed());
        let started = std::time::Instant::now();
        app.login_reply(&format!("ghost{i}"), "wrong-password-1")
            .await;
        unknown = unknown.min(started.elapsed());
    }
    assert!(
        unknown * 3 >= known,
        "unknown user answered in {unknown:?}, known user in {known:?}"
    );
}

async fn v1_bcrypt_hashes_log_in_and_are_upgraded(app: TestApp) {
    let v1_hash = bcrypt::hash(PASSWORD, 4).expect("bcrypt");
    app.store
        .create_user(
            domain::NewUser {
                username: "legacy".into(),
                password_hash: v1_hash.clone(),
                role: domain::Role::Admin,
                default_view: None,
                single_view_mode: false,
                created_by: None,
            },
            domain::now(),
        )
        .await
        .expect("import");
    app.login_reply("legacy", "not-the-password")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS");
    let r = app.login_reply("legacy", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["role"], "admin");
    let stored = app
        .store
        .find_credentials("legacy")
        .await
        .expect("read")
        .expect("user");
    assert!(stored.password_hash.starts_with("$argon2id$"), "re-hashed");
    assert_ne!(stored.password_hash, v1_hash);
    assert_eq!(
        app.login_reply("legacy", PASSWORD).await.status,
        StatusCode::OK
    );
}

async fn api_keys_are_scoped_below_their_owner(app: TestApp) {
    app.user("ada", "admin").await;
    app.user("eddie", "editor").await;
    app.user("vic", "viewer").await;
    let ada = Cred::Bearer(app.login("ada").await);
    let eddie = Cred::Bearer(app.login("eddie").await);
    let vic = Cred::Bearer(app.login("vic").await);
    let create = |cred: &Cred, scope: &'static str| {
        app.call_as_owned(
            cred.clone(),
            Method::POST,
            "/api/v1/auth/api-keys",
            Some(json!({"name": "k", "scope": scope})),
        )
    };
    create(&vic, "write")
        .await
        .assert_error(StatusCode::FORBIDDEN, "SCOPE_ABOVE_ROLE");
    create(&eddie, "admin")
        .await
        .assert_error(StatusCode::FORBIDDEN, "SCOPE_ABOVE_ROLE");
    let made = create(&eddie, "write").await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let eddie_key = made.str("key");
    assert!(eddie_key.starts_with("tdk_"));
    assert_eq!(made.str("prefix"), eddie_key[..12]);
    // A read key cannot mint a wider key, even for an admin.
    let ada_read = Cred::Key(app.api_key(&ada, "read").await);
    create(&ada_read, "write")
        .await
        .assert_error(StatusCode::FORBIDDEN, "SCOPE_ABOVE_ROLE");
    let r = app
        .call_as(
            &ada_read,
            Method::POST,
            "/api/v1/projects",
            Some(json!({"name": "p"})),
        )
        .await;
    r.assert_error(StatusCode::FORBIDDEN, "INSUFFICIENT_SCOPE");
    // The key works in X-API-Key (v1) and as a bearer token.
    for cred in [
        Cred::Key(eddie_key.clone()),
        Cred::Bearer(eddie_key.clone()),
    ] {
        let r = app
            .call_as(
                &cred,
                Method::POST,
                "/api/v1/projects",
                Some(json!({"name": "p"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    // Lists never show the secret, but do show use.
    let list = app
        .call_as(&eddie, Method::GET, "/api/v1/auth/api-keys", None)
        .await;
    assert_eq!(list.body["count"], 1);
    let listed = &list.body["api_keys"][0];
    assert!(listed.get("key").is_none(), "{listed}");
    assert!(listed["last_used_at"].is_string(), "{listed}");
    // Others' keys: hidden from non-admins, visible and revocable for admins.
    let key_id = listed["id"].as_str().expect("id").to_owned();
    app.call_as(
        &vic,
        Method::DELETE,
        &format!("/api/v1/auth/api-keys/{key_id}"),
        None,
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.call_as(&vic, Method::GET, "/api/v1/auth/api-keys?all=true", None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "INSUFFICIENT_ROLE");
    let everyone = app
        .call_as(&ada, Method::GET, "/api/v1/auth/api-keys?all=true", None)
        .await;
    assert_eq!(everyone.body["count"], 2);
    // Demoting the owner demotes the key.
    let eddie_id = app
        .get("/api/v1/auth/users")
        .await
        .body
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == "eddie")
        .expect("eddie")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.put(
        &format!("/api/v1/auth/users/{eddie_id}"),
        json!({"role": "viewer"}),
    )
    .await;
    app.call_as(
        &Cred::Key(eddie_key.clone()),
        Method::POST,
        "/api/v1/projects",
        Some(json!({"name": "p"})),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "INSUFFICIENT_ROLE");
    let revoked = app
        .call_as(
            &ada,
            Method::DELETE,
            &format!("/api/v1/auth/api-keys/{key_id}"),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    app.call_as(&Cred::Key(eddie_key), Method::GET, "/api/v1/projects", None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_API_KEY");
    // Expiry.
    app.call_as(
        &ada,
        Method::POST,
        "/api/v1/auth/api-keys",
        Some(json!({"name": "old", "expires_at": "2001-01-01T00:00:00Z"})),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    let expiring = app
        .call_as(
            &ada,
            Method::POST,
            "/api/v1/auth/api-keys",
            Some(json!({"name": "temp", "scope": "read", "expires_in_days": 1})),
        )
        .await;
    let temp = Cred::Key(expiring.str("key"));
    assert_eq!(
        app.call_as(&temp, Method::GET, "/api/v1/projects", None)
            .await
            .status,
        StatusCode::OK
    );
    app.clock.advance(Duration::days(2));
    app.call_as(&temp, Method::GET, "/api/v1/projects", None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_API_KEY");
}

async fn the_last_admin_cannot_be_removed(app: TestApp) {
    let ada = app.user("ada", "admin").await;
    let token = Cred::Bearer(app.login("ada").await);
    let me = format!("/api/v1/auth/users/{ada}");
    for change in [json!({"role": "editor"}), json!({"is_active": false})] {
        app.call_as(&token, Method::PUT, &me, Some(change))
            .await
            .assert_error(StatusCode::CONFLICT, "LAST_ADMIN");
    }
    app.call_as(&token, Method::DELETE, &me, None)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "CANNOT_DELETE_SELF");
    assert_eq!(
        app.call_as(&token, Method::DELETE, &me, None).await.body["detail"],
        "Cannot delete your own account"
    );
    app.delete(&me)
        .await
        .assert_error(StatusCode::CONFLICT, "LAST_ADMIN");
    // With a second admin, stepping down is fine.
    app.user("grace", "admin").await;
    let r = app
        .call_as(&token, Method::PUT, &me, Some(json!({"role": "viewer"})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["role"], "viewer");
}

async fn users_api_keeps_v1_codes_and_fixes_its_bugs(app: TestApp) {
    let ada = app.user("ada", "admin").await;
    let ada_token = Cred::Bearer(app.login("ada").await);
    let made = app
        .call_as(
            &ada_token,
            Method::POST,
            "/api/v1/auth/users",
            Some(json!({"username": "bob", "password": PASSWORD, "role": "editor"})),
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    assert_eq!(made.body["created_by"], ada.as_str());
    let bob = made.str("id");
    let dup = app
        .post(
            "/api/v1/auth/users",
            json!({"username": "BOB", "password": PASSWORD, "role": "viewer"}),
        )
        .await;
    dup.assert_error(StatusCode::CONFLICT, "USERNAME_TAKEN");
    assert_eq!(dup.body["detail"], "Username already exists");
    for (body, field) in [
        (
            json!({"username": "carl", "password": "short", "role": "viewer"}),
            "password",
        ),
        (
            json!({"username": "carl", "password": "password1234", "role": "viewer"}),
            "password",
        ),
        (
            json!({"username": "carl", "password": PASSWORD, "role": "root"}),
            "role",
        ),
        (
            json!({"username": "c arl", "password": PASSWORD}),
            "username",
        ),
    ] {
        let r = app.post("/api/v1/auth/users", body).await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
        assert_eq!(r.body["field"], field, "{}", r.body);
    }
    app.put("/api/v1/auth/users/not-a-uuid", json!({"role": "viewer"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_ID");
    let nobody = uuid::Uuid::new_v4();
    app.put(
        &format!("/api/v1/auth/users/{nobody}"),
        json!({"role": "viewer"}),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.delete(&format!("/api/v1/auth/users/{nobody}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.put(&format!("/api/v1/auth/users/{bob}"), json!({}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "NO_UPDATES");
    let list = app.get("/api/v1/auth/users").await;
    assert_eq!(
        list.body.as_array().map(Vec::len),
        Some(2),
        "a bare array (v1)"
    );

    // v1 could not delete a user who had logged in or created others (foreign keys).
    let bob_token = Cred::Bearer(app.login("bob").await);
    app.login_reply("bob", "wrong-password-1").await;
    let carl = app
        .post(
            "/api/v1/auth/users",
            json!({"username": "carl", "password": PASSWORD, "role": "viewer"}),
        )
        .await
        .str("id");
    let dan = app
        .call_as(
            &ada_token,
            Method::POST,
            "/api/v1/auth/users",
            Some(json!({"username": "dan", "password": PASSWORD})),
        )
        .await
        .str("id");
    app.api_key(&bob_token, "read").await;
    let gone = app
        .call_as(
            &ada_token,
            Method::DELETE,
            &format!("/api/v1/auth/users/{ada}"),
            None,
        )
        .await;
    gone.assert_error(StatusCode::BAD_REQUEST, "CANNOT_DELETE_SELF");
    let deleted = app.delete(&format!("/api/v1/auth/users/{bob}")).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(deleted.body["message"], "User bob deleted successfully");
    app.call_as(&bob_token, Method::GET, "/api/v1/auth/me", None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    let trail = app
        .get(&format!("/api/v1/audit?target_id={bob}&limit=500"))
        .await;
    let actions: Vec<&str> = trail.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "user_created",
        "login_success",
        "login_failed",
        "user_deleted",
    ] {
        assert!(actions.contains(&action), "{action} kept: {actions:?}");
    }
    // Deleting a creator keeps the users they created.
    let admin2 = app.user("grace", "admin").await;
    let deleted = app.delete(&format!("/api/v1/auth/users/{ada}")).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    let users = app.get("/api/v1/auth/users").await;
    let dan_row = users
        .body
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["id"] == dan.as_str())
        .expect("dan stays");
    assert_eq!(dan_row["created_by"], Value::Null);
    assert!(!carl.is_empty() && !admin2.is_empty());
}

async fn changing_your_password_needs_the_current_one(app: TestApp) {
    app.user("vic", "viewer").await;
    let current = Cred::Bearer(app.login("vic").await);
    let other = Cred::Bearer(app.login("vic").await);
    let change = |cur: &str, new: &str| {
        app.call_as(
            &current,
            Method::PUT,
            "/api/v1/auth/me/password",
            Some(json!({"current_password": cur, "new_password": new})),
        )
    };
    change("wrong-password-1", "a-brand-new-passphrase")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_CURRENT_PASSWORD");
    let weak = change(PASSWORD, "123456789012").await;
    weak.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    assert_eq!(weak.body["field"], "password");
    let ok = change(PASSWORD, "a-brand-new-passphrase").await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(
        app.call_as(&current, Method::GET, "/api/v1/auth/me", None)
            .await
            .status,
        StatusCode::OK,
        "this session stays"
    );
    app.call_as(&other, Method::GET, "/api/v1/auth/me", None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    assert_eq!(
        app.login_reply("vic", "a-brand-new-passphrase")
            .await
            .status,
        StatusCode::OK
    );
    // The service key is nobody's account.
    app.call(
        Method::PUT,
        "/api/v1/auth/me/password",
        Some(json!({"current_password": "x", "new_password": "y"})),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "USER_REQUIRED");
}

async fn cookie_sessions_are_protected_against_csrf(app: TestApp) {
    app.user("eddie", "editor").await;
    let token = app.login("eddie").await;
    let send = |origin: Option<&'static str>, method: Method, body: Option<Value>| {
        let mut b = Request::builder()
            .method(method)
            .uri("/api/v1/projects")
            .header(header::HOST, "localhost:8000")
            .header(header::COOKIE, format!("taylordash_session={token}"));
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        if body.is_some() {
            b = b.header(header::CONTENT_TYPE, "application/json");
        }
        app.send(
            b.body(body.map_or_else(Body::empty, |v| Body::from(v.to_string())))
                .expect("request"),
        )
    };
    let p = json!({"name": "p"});
    send(Some("https://evil.example"), Method::POST, Some(p.clone()))
        .await
        .assert_error(StatusCode::FORBIDDEN, "CSRF_REJECTED");
    send(None, Method::POST, Some(p.clone()))
        .await
        .assert_error(StatusCode::FORBIDDEN, "CSRF_REJECTED");
    assert_eq!(
        send(Some("http://localhost:8000"), Method::POST, Some(p.clone()))
            .await
            .status,
        StatusCode::CREATED
    );
    // Reads are not state-changing; bearer tokens are not sent by browsers on their own.
    assert_eq!(
        send(Some("https://evil.example"), Method::GET, None)
            .await
            .status,
        StatusCode::OK
    );
    let bearer = app
        .call_as(
            &Cred::Bearer(token.clone()),
            Method::POST,
            "/api/v1/projects",
            Some(p),
        )
        .await;
    assert_eq!(bearer.status, StatusCode::CREATED);
    // A login form on another site cannot log the browser in (login CSRF).
    let r = app
        .send(
            Request::post("/api/v1/auth/login")
                .header(header::HOST, "localhost:8000")
                .header(header::ORIGIN, "https://evil.example")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"username": "eddie", "password": PASSWORD}).to_string(),
                ))
                .expect("request"),
        )
        .await;
    r.assert_error(StatusCode::FORBIDDEN, "CSRF_REJECTED");
}

async fn first_admin_is_created_with_the_one_time_setup_token(app: TestApp) {
    let status = app
        .call_as(&Cred::Anonymous, Method::GET, "/api/v1/auth/setup", None)
        .await;
    assert_eq!(status.body, json!({"setup_required": true}));
    let setup = |token: &str, password: &str| {
        app.call_as(
            &Cred::Anonymous,
            Method::POST,
            "/api/v1/auth/setup",
            Some(json!({"token": token, "username": "root", "password": password})),
        )
    };
    // No token issued: nothing to use.
    setup("", PASSWORD)
        .await
        .assert_error(StatusCode::FORBIDDEN, "INVALID_SETUP_TOKEN");
    let token = app
        .state
        .auth
        .identity
        .issue_setup_token()
        .await
        .expect("token");
    setup("0".repeat(64).as_str(), PASSWORD)
        .await
        .assert_error(StatusCode::FORBIDDEN, "INVALID_SETUP_TOKEN");
    setup(&token, "short")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    let done = setup(&token, PASSWORD).await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.body);
    assert_eq!(done.body["role"], "admin");
    assert!(done.headers.contains_key(header::SET_COOKIE));
    let session = Cred::Bearer(done.str("session_token"));
    assert_eq!(
        app.call_as(&session, Method::GET, "/api/v1/auth/users", None)
            .await
            .status,
        StatusCode::OK,
        "logged in as the new admin"
    );
    setup(&token, PASSWORD)
        .await
        .assert_error(StatusCode::FORBIDDEN, "INVALID_SETUP_TOKEN");
    assert!(!app.state.auth.identity.setup_pending().await);
    // Even a fresh token is useless once an admin exists.
    let late = app
        .state
        .auth
        .identity
        .issue_setup_token()
        .await
        .expect("token");
    let r = app
        .call_as(
            &Cred::Anonymous,
            Method::POST,
            "/api/v1/auth/setup",
            Some(json!({"token": late, "username": "root2", "password": PASSWORD})),
        )
        .await;
    r.assert_error(StatusCode::CONFLICT, "SETUP_COMPLETE");
    let status = app
        .call_as(&Cred::Anonymous, Method::GET, "/api/v1/auth/setup", None)
        .await;
    assert_eq!(status.body, json!({"setup_required": false}));
    let trail = app.get("/api/v1/audit?action=setup_token_used").await;
    assert_eq!(trail.body["total"], 1);
}

async fn audit_trail_records_who_what_where(app: TestApp) {
    app.user("vic", "viewer").await;
    let mut req = Request::post("/api/v1/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, "curl/8.0")
        .body(Body::from(
            json!({"username": "vic", "password": "wrong-password-1"}).to_string(),
        ))
        .expect("request");
    req.extensions_mut().insert(axum::extract::ConnectInfo(
        "192.0.2.9:5555"
            .parse::<std::net::SocketAddr>()
            .expect("addr"),
    ));
    app.send(req).await;
    let token = app.login("vic").await;
    app.call_as(
        &Cred::Bearer(token),
        Method::POST,
        "/api/v1/auth/logout",
        None,
    )
    .await;

    let failed = app.get("/api/v1/audit?action=login_failed").await;
    assert_eq!(failed.status, StatusCode::OK, "{}", failed.body);
    assert_eq!(failed.body["total"], 1);
    let e = &failed.body["entries"][0];
    assert_eq!(e["ip_address"], "192.0.2.9");
    assert_eq!(e["user_agent"], "curl/8.0");
    assert_eq!(e["target_name"], "vic");
    assert!(DateTime::parse_from_rfc3339(e["created_at"].as_str().expect("time")).is_ok());
    let all = app.get("/api/v1/audit?limit=2").await;
    assert_eq!(all.body["count"], 2);
    assert!(
        all.body["total"].as_i64().expect("total") >= 4,
        "{}",
        all.body
    );
    assert_eq!(all.body["entries"][0]["action"], "logout", "newest first");
    let second = app.get("/api/v1/audit?limit=1&offset=1").await;
    assert_eq!(second.body["entries"][0]["action"], "login_success");
    app.get("/api/v1/audit?action=nonsense")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    let future =
        (Utc::now() + Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let none = app.get(&format!("/api/v1/audit?since={future}")).await;
    assert_eq!(none.body["total"], 0, "{}", none.body);
}

async fn every_response_carries_security_headers(app: TestApp) {
    let app_tls = TestApp::configured(
        TestDb::sqlite().await,
        AuthConfig {
            public_origin: Some("https://dash.example.net".into()),
            ..fast()
        },
    );
    for path in [
        "/health/live",
        "/api/v1/projects",
        "/no/such/route",
        "/docs/",
    ] {
        let r = app
            .send(Request::get(path).body(Body::empty()).expect("request"))
            .await;
        let h = |name: &str| {
            r.headers
                .get(name)
                .unwrap_or_else(|| panic!("{path} lacks {name}"))
                .to_str()
                .expect("ascii")
                .to_owned()
        };
        let csp = h("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(
            csp.contains("script-src 'self';"),
            "no inline script: {csp}"
        );
        assert!(!csp.contains("unsafe-eval"), "{csp}");
        assert_eq!(h("x-content-type-options"), "nosniff");
        assert_eq!(h("referrer-policy"), "same-origin");
        assert!(h("permissions-policy").contains("camera=()"));
        assert!(
            !r.headers.contains_key("strict-transport-security"),
            "plain http"
        );
        let tls = app_tls
            .send(Request::get(path).body(Body::empty()).expect("request"))
            .await;
        assert!(
            tls.headers["strict-transport-security"]
                .to_str()
                .expect("ascii")
                .contains("max-age="),
            "{path}"
        );
    }
    // Behind TLS the session cookie is Secure.
    app_tls.user("vic", "viewer").await;
    let r = app_tls.login_reply("vic", PASSWORD).await;
    assert!(
        r.headers[header::SET_COOKIE]
            .to_str()
            .expect("ascii")
            .contains("; Secure")
    );
}

on_both!(
    login_keeps_v1_shape_and_sets_a_strict_cookie,
    secrets_are_stored_only_as_hashes,
    expired_and_revoked_sessions_are_refused,
    role_password_and_deactivation_revoke_sessions,
    failed_logins_lock_out_then_expire,
    one_address_cannot_spray_many_accounts,
    v1_bcrypt_hashes_log_in_and_are_upgraded,
    api_keys_are_scoped_below_their_owner,
    the_last_admin_cannot_be_removed,
    users_api_keeps_v1_codes_and_fixes_its_bugs,
    changing_your_password_needs_the_current_one,
    cookie_sessions_are_protected_against_csrf,
    first_admin_is_created_with_the_one_time_setup_token,
    audit_trail_records_who_what_where,
    every_response_carries_security_headers,
);
