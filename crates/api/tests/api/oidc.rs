//! Single sign-on with a real OpenID provider (`oidc-provider`, started on loopback by
//! `testsupport::OpenIdProvider`): the authorization code flow with PKCE end to end, accounts
//! linked by (issuer, subject) and created just in time, roles following the groups claim,
//! sessions like a password sign-in's, RP-initiated logout — and every refusal (tampered token,
//! wrong audience, expired token, replayed state, replayed token, unreachable provider) with
//! its code and nothing created.

use std::collections::HashMap;

use services::identity::OidcSettings;
use testsupport::OpenIdProvider;

use crate::support::*;

const PUBLIC: &str = "http://taylordash.test";
const REDIRECT: &str = "http://taylordash.test/api/v1/auth/oidc/callback";
const SECRET: &str = "test-client-secret-0123456789";

pub(crate) fn provider() -> Option<OpenIdProvider> {
    provider_with(OpenIdProvider::start)
}

fn provider_with(start: fn(&Value) -> Option<OpenIdProvider>) -> Option<OpenIdProvider> {
    let client = |id: &str, alg: &str| {
        json!({
            "client_id": id,
            "client_secret": SECRET,
            "redirect_uris": [REDIRECT],
            "post_logout_redirect_uris": [format!("{PUBLIC}/login")],
            "id_token_signed_response_alg": alg,
        })
    };
    start(&json!([
        client("taylordash", "RS256"),
        client("taylordash-es", "ES256")
    ]))
}

pub(crate) fn settings(op: &OpenIdProvider, client_id: &str) -> OidcSettings {
    OidcSettings {
        name: "Test IdP".into(),
        issuer: op.issuer.clone(),
        client_id: client_id.into(),
        client_secret: Some(SECRET.into()),
        redirect_uri: REDIRECT.into(),
        post_logout_redirect_uri: Some(format!("{PUBLIC}/login")),
        scopes: ["openid", "profile", "email", "groups"]
            .map(String::from)
            .to_vec(),
        username_claim: "preferred_username".into(),
        groups_claim: "groups".into(),
        extra_ca: Vec::new(),
    }
}

fn app_for(db: TestDb, op: &OpenIdProvider, client_id: &str) -> TestApp {
    TestApp::configured(
        db,
        AuthConfig {
            oidc: Some(settings(op, client_id)),
            break_glass: vec!["root".into()],
            ..fast()
        },
    )
}

/// [`app_for`] with linking by name turned on (`TAYLORDASH_SSO_LINK_BY_USERNAME=true`).
fn app_linking(db: TestDb, op: &OpenIdProvider) -> TestApp {
    TestApp::configured(
        db,
        AuthConfig {
            oidc: Some(settings(op, "taylordash")),
            break_glass: vec!["root".into()],
            external: services::identity::ExternalPolicy {
                link_by_username: Some(true),
                ..Default::default()
            },
            ..fast()
        },
    )
}

/// The browser's side: cookies per name (everything here is on one loopback host).
#[derive(Default)]
struct Browser {
    jar: HashMap<String, String>,
    http: reqwest::Client,
}

fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http") {
        location.to_owned()
    } else {
        format!("{base}{location}")
    }
}

impl Browser {
    fn new() -> Browser {
        Browser::trusting(Vec::new())
    }

    /// A browser that trusts `ca` too (a provider with a private CA's certificate).
    fn trusting(ca: Vec<reqwest::Certificate>) -> Browser {
        Browser {
            jar: HashMap::new(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .tls_certs_merge(ca)
                .build()
                .expect("client"),
        }
    }

    fn keep(&mut self, headers: &reqwest::header::HeaderMap) {
        for v in headers.get_all("set-cookie") {
            let text = v.to_str().expect("cookie");
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty()
                    || text.contains("Max-Age=0")
                    || text.contains("expires=Thu, 01 Jan 1970")
                {
                    self.jar.remove(name.trim());
                } else {
                    self.jar.insert(name.trim().to_owned(), value.to_owned());
                }
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Follows the provider's redirects from `url`, signing in as `user` at its form, until it
    /// sends the browser back to TaylorDash; returns that callback path.
    async fn through_provider(&mut self, issuer: &str, url: &str, user: &str) -> String {
        let mut url = url.to_owned();
        for _ in 0..12 {
            if let Some(back) = url.strip_prefix(PUBLIC) {
                return back.to_owned();
            }
            let res = self
                .http
                .get(&url)
                .header("cookie", self.cookie_header())
                .send()
                .await
                .expect("provider request");
            self.keep(res.headers());
            let status = res.status();
            if status.is_redirection() {
                let location = res.headers()["location"].to_str().expect("location");
                url = absolute(issuer, location);
                continue;
            }
            assert_eq!(
                status,
                200,
                "{url}: {}",
                res.text().await.unwrap_or_default()
            );
            assert!(
                url.contains("/interaction/"),
                "expected the sign-in form at {url}"
            );
            let res = self
                .http
                .post(format!("{url}/login"))
                .header("cookie", self.cookie_header())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("login={user}"))
                .send()
                .await
                .expect("sign in at the provider");
            self.keep(res.headers());
            assert!(res.status().is_redirection(), "form: {}", res.status());
            url = absolute(
                issuer,
                res.headers()["location"].to_str().expect("location"),
            );
        }
        panic!("the provider never sent the browser back");
    }
}

/// A started sign-in: the provider URL, the state cookie.
struct Started {
    location: String,
    state_cookie: String,
}

async fn start(app: &TestApp, return_to: &str) -> Started {
    let r = app
        .send(
            Request::get(format!("/api/v1/auth/oidc/login?return_to={return_to}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    let location = r.headers[header::LOCATION]
        .to_str()
        .expect("location")
        .to_owned();
    let set = r.headers[header::SET_COOKIE].to_str().expect("cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let state_cookie = set.split(';').next().expect("cookie").to_owned();
    Started {
        location,
        state_cookie,
    }
}

async fn callback(app: &TestApp, path: &str, cookie: &str, accept: &str) -> Reply {
    app.send(
        Request::get(path)
            .header(header::COOKIE, cookie)
            .header(header::ACCEPT, accept)
            .body(Body::empty())
            .expect("request"),
    )
    .await
}

/// A full sign-in of `user` through the provider; the callback's reply and its path.
pub(crate) async fn sign_in(app: &TestApp, op: &OpenIdProvider, user: &str) -> (Reply, String) {
    let s = start(app, "/projects").await;
    let mut browser = Browser::new();
    let back = browser
        .through_provider(&op.issuer, &s.location, user)
        .await;
    let r = callback(app, &back, &s.state_cookie, "application/json").await;
    (r, back)
}

pub(crate) fn session_token(r: &Reply) -> String {
    r.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("taylordash_session="))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie: {:?}", r.headers))
        .to_owned()
}

fn cookie_value(r: &Reply, name: &str) -> Option<String> {
    r.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
}

async fn audit(app: &TestApp, action: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/api/v1/audit?action={action}&limit=100"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["entries"].as_array().expect("entries").clone()
}

/// A row count, read straight from the database.
async fn count(app: &TestApp, sql: &'static str) -> usize {
    app.raw_text(sql).await[0].parse().expect("a count")
}

async fn session_rows(app: &TestApp) -> usize {
    count(app, "SELECT CAST(COUNT(*) AS TEXT) FROM user_sessions").await
}

async fn link_rows(app: &TestApp) -> usize {
    count(
        app,
        "SELECT CAST(COUNT(*) AS TEXT) FROM external_identities",
    )
    .await
}

async fn user_count(app: &TestApp) -> usize {
    app.get("/api/v1/auth/users")
        .await
        .body
        .as_array()
        .expect("users")
        .len()
}

async fn a_browser_signs_in_and_out_through_the_provider(db: TestDb) {
    let Some(mut op) = provider() else { return };
    let app = app_for(db, &op, "taylordash");
    // A local admin besides, the break-glass one.
    app.user("root", "admin").await;
    op.set_groups("alice", &["family", "taylordash-admins"]);

    let options = app.get("/api/v1/auth/sign-in-options").await;
    assert_eq!(options.body["oidc"]["name"], "Test IdP", "{}", options.body);
    assert_eq!(options.body["oidc"]["login_url"], "/api/v1/auth/oidc/login");

    let s = start(&app, "/projects").await;
    // PKCE S256, state and nonce, the configured scopes, to the provider's own endpoint.
    let url = url::Url::parse(&s.location).expect("url");
    assert!(s.location.starts_with(&format!("{}/auth?", op.issuer)));
    let q: HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert_eq!(q["scope"], "openid profile email groups");
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert!(q["nonce"].len() >= 32 && q["state"].len() >= 32);
    assert_eq!(
        s.state_cookie,
        format!("taylordash_oidc_state={}", q["state"])
    );

    let mut browser = Browser::new();
    let back = browser
        .through_provider(&op.issuer, &s.location, "alice")
        .await;
    let r = callback(&app, &back, &s.state_cookie, "text/html").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers[header::LOCATION], "/projects");
    let token = session_token(&r);
    let session_cookie = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("taylordash_session="))
        .expect("session cookie")
        .to_owned();
    assert!(
        session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Strict"),
        "as a password sign-in's: {session_cookie}"
    );
    let me = app
        .call_as(
            &Cred::Cookie(token.clone()),
            Method::GET,
            "/api/v1/auth/me",
            None,
        )
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["username"], "alice");
    assert_eq!(me.body["role"], "admin", "from the groups claim");
    let alice_id = me.body["id"].clone();
    assert!(me.body["session_expires_at"].is_string(), "a real session");
    assert_eq!(me.body["signed_in_by"], "oidc", "how this session began");
    let sessions = app
        .raw_text("SELECT sign_in_method FROM user_sessions")
        .await;
    assert_eq!(sessions, vec!["oidc"]);

    // Linked by (issuer, subject), created just in time, all audited.
    let linked = audit(&app, "identity_linked").await;
    assert_eq!(linked.len(), 1, "{linked:?}");
    assert_eq!(linked[0]["details"]["provider"], op.issuer);
    assert_eq!(linked[0]["details"]["subject"], "sub-alice");
    let created = audit(&app, "user_created").await;
    assert!(
        created
            .iter()
            .any(|e| e["details"]["via"] == "oidc sign-in"),
        "{created:?}"
    );
    let signed_in = audit(&app, "login_success").await;
    assert_eq!(signed_in.len(), 1, "{signed_in:?}");
    assert_eq!(signed_in[0]["details"]["method"], "oidc");
    let stored = app
        .raw_text("SELECT provider || ' ' || subject FROM external_identities")
        .await;
    assert_eq!(stored, vec![format!("{} sub-alice", op.issuer)]);

    // Taken out of the admin group: a viewer at the next sign-in; the same account (same
    // subject), the change audited.
    op.set_groups("alice", &["family"]);
    let (again, _) = sign_in(&app, &op, "alice").await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    let me = app
        .call_as(
            &Cred::Cookie(session_token(&again)),
            Method::GET,
            "/api/v1/auth/me",
            None,
        )
        .await;
    assert_eq!(me.body["role"], "viewer");
    assert_eq!(me.body["id"], alice_id, "the same account");
    // Each sign-in is in the audit trail, with its session.
    let signed_in = audit(&app, "login_success").await;
    assert_eq!(signed_in.len(), 2, "{signed_in:?}");
    assert!(
        signed_in
            .iter()
            .all(|e| e["details"]["session_id"].is_string())
    );
    let changed = audit(&app, "role_changed").await;
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["details"]["from"], "admin");
    assert_eq!(changed[0]["details"]["to"], "viewer");
    assert_eq!(changed[0]["details"]["via"], "oidc");
    assert_eq!(user_count(&app).await, 2);

    // Logout ends the session here and hands the browser the provider's logout URL with the
    // ID token as hint.
    let hint = cookie_value(&again, "taylordash_oidc_logout").expect("logout hint cookie");
    let out = app
        .send(
            TestApp::builder(
                &Cred::Cookie(session_token(&again)),
                Method::POST,
                "/api/v1/auth/logout",
            )
            .header(
                header::COOKIE,
                format!(
                    "taylordash_session={}; taylordash_oidc_logout={hint}",
                    session_token(&again)
                ),
            )
            .body(Body::empty())
            .expect("request"),
        )
        .await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    let logout =
        url::Url::parse(out.body["logout_url"].as_str().expect("logout_url")).expect("url");
    assert!(
        logout
            .as_str()
            .starts_with(&format!("{}/session/end?", op.issuer))
    );
    let q: HashMap<_, _> = logout.query_pairs().into_owned().collect();
    assert_eq!(q["id_token_hint"], hint);
    assert_eq!(q["post_logout_redirect_uri"], format!("{PUBLIC}/login"));
    let gone = app
        .call_as(
            &Cred::Cookie(session_token(&again)),
            Method::GET,
            "/api/v1/auth/me",
            None,
        )
        .await;
    gone.assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
    // The provider accepts that logout request (it knows the hint and the redirect).
    let res = Browser::new()
        .http
        .get(logout.as_str())
        .send()
        .await
        .expect("end session");
    assert_eq!(res.status(), 200, "the provider's logout confirmation page");

    // Password sign-in can now be turned off (SSO configured, a break-glass account named).
    let off = app
        .put("/api/v1/auth/settings", json!({"password_sign_in": false}))
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
    assert_eq!(off.body["oidc_provider"], "Test IdP");
    let options = app.get("/api/v1/auth/sign-in-options").await;
    assert_eq!(options.body["password"], false);
}

async fn a_local_account_is_linked_by_its_name_then_by_its_subject(db: TestDb) {
    let Some(mut op) = provider() else { return };
    let app = app_linking(db, &op);
    let carol = app.user("carol", "viewer").await;
    op.set_groups("carol", &["taylordash-editors"]);
    let (r, _) = sign_in(&app, &op, "carol").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let me = app
        .call_as(
            &Cred::Cookie(session_token(&r)),
            Method::GET,
            "/api/v1/auth/me",
            None,
        )
        .await;
    assert_eq!(me.body["id"], carol.as_str(), "the local account, linked");
    assert_eq!(me.body["role"], "editor");
    let linked = audit(&app, "identity_linked").await;
    assert_eq!(linked.len(), 1, "{linked:?}");
    assert_eq!(linked[0]["details"]["subject"], "sub-carol");
    // The next sign-in finds the account by its link (issuer, subject): no second link.
    let (r, _) = sign_in(&app, &op, "carol").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(audit(&app, "identity_linked").await.len(), 1);
    let stored = app
        .raw_text("SELECT user_id FROM external_identities WHERE subject = 'sub-carol'")
        .await;
    assert_eq!(stored.len(), 1);
    assert_eq!(user_count(&app).await, 1, "no second account");
}

/// A provider's username is the user's pick (OIDC Core 5.7): one named like the break-glass
/// admin, or any admin, is never linked to that account, so its groups cannot set the account's
/// role. Off by default, refused even with linking by name turned on.
async fn a_provider_user_named_like_a_local_admin_is_not_linked(db: TestDb) {
    let Some(mut op) = provider() else { return };
    let app = app_for(db, &op, "taylordash");
    app.user("root", "admin").await;
    app.user("boss", "admin").await;
    app.user("erin", "viewer").await;
    // By default no name is linked: each is refused, nothing stored, roles kept.
    for name in ["root", "boss", "erin"] {
        op.set_groups(name, &["family"]);
        let (r, _) = sign_in(&app, &op, name).await;
        r.assert_error(StatusCode::FORBIDDEN, "NO_LINKED_ACCOUNT");
        assert!(cookie_value(&r, "taylordash_session").is_none(), "{name}");
    }
    assert_eq!(link_rows(&app).await, 0);
    assert!(audit(&app, "identity_linked").await.is_empty());
    assert_eq!(admins(&app).await, ["boss", "root"]);

    // Linking by name on: still never a break-glass account or an admin, whatever the groups.
    let app = app_linking(app.db, &op);
    op.set_groups("root", &["taylordash-admins"]);
    for name in ["root", "boss"] {
        let (r, _) = sign_in(&app, &op, name).await;
        r.assert_error(StatusCode::FORBIDDEN, "NO_LINKED_ACCOUNT");
    }
    op.set_groups("root", &["family"]);
    let (r, _) = sign_in(&app, &op, "root").await;
    r.assert_error(StatusCode::FORBIDDEN, "NO_LINKED_ACCOUNT");
    assert_eq!(link_rows(&app).await, 0);
    assert_eq!(admins(&app).await, ["boss", "root"], "roles kept");
    assert!(audit(&app, "role_changed").await.is_empty());
    // The break-glass password still signs in, as an admin.
    let me = app
        .call_as(
            &Cred::Bearer(app.login("root").await),
            Method::GET,
            "/api/v1/auth/me",
            None,
        )
        .await;
    assert_eq!(me.body["role"], "admin", "{}", me.body);
    // What the option is for: a local non-admin account is linked.
    let (r, _) = sign_in(&app, &op, "erin").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(link_rows(&app).await, 1);
}

async fn admins(app: &TestApp) -> Vec<String> {
    app.raw_text("SELECT username FROM users WHERE role = 'admin' ORDER BY username")
        .await
}

/// A disabled local account met by name for the first time: refused before anything is linked.
async fn a_disabled_account_is_refused_before_it_is_linked(db: TestDb) {
    let Some(op) = provider() else { return };
    let app = app_linking(db, &op);
    let dave = app.user("dave", "viewer").await;
    let off = app
        .put(
            &format!("/api/v1/auth/users/{dave}"),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
    for _ in 0..2 {
        let (r, _) = sign_in(&app, &op, "dave").await;
        r.assert_error(StatusCode::FORBIDDEN, "ACCOUNT_DISABLED");
        assert!(cookie_value(&r, "taylordash_session").is_none());
    }
    assert_eq!(link_rows(&app).await, 0, "no link left behind");
    assert!(audit(&app, "identity_linked").await.is_empty());
    assert_eq!(session_rows(&app).await, 0);
    let refused = audit(&app, "login_failed").await;
    let disabled = refused
        .iter()
        .filter(|e| e["details"]["reason"] == "account disabled")
        .count();
    assert_eq!(disabled, 2, "{refused:?}");
}

/// The provider decides who is an admin, even for the last one: out of the admin group, no
/// admin at the next sign-in (and in the database), audited as the last admin leaving; the way
/// back is a local admin (the break-glass account, or `taylordash user add` on the server).
async fn the_last_admin_out_of_the_admin_group_loses_admin_at_next_sign_in(db: TestDb) {
    let Some(mut op) = provider() else { return };
    let app = app_for(db, &op, "taylordash");
    op.set_groups("alice", &["taylordash-admins"]);
    let (first, _) = sign_in(&app, &op, "alice").await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    let admins = || async {
        app.raw_text("SELECT username FROM users WHERE role = 'admin' AND is_active")
            .await
    };
    assert_eq!(admins().await, vec!["alice"], "the only admin");

    op.set_groups("alice", &["family"]);
    let (again, _) = sign_in(&app, &op, "alice").await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    let token = session_token(&again);
    let me = app
        .call_as(
            &Cred::Cookie(token.clone()),
            Method::GET,
            "/api/v1/auth/me",
            None,
        )
        .await;
    assert_eq!(me.body["role"], "viewer", "{}", me.body);
    assert!(admins().await.is_empty(), "stored as a viewer too");
    // Not just this sign-in: every later request of the session is a viewer's.
    app.call_as(
        &Cred::Cookie(token),
        Method::GET,
        "/api/v1/auth/users",
        None,
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "INSUFFICIENT_ROLE");
    let changed = audit(&app, "role_changed").await;
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["details"]["from"], "admin");
    assert_eq!(changed[0]["details"]["to"], "viewer");
    assert_eq!(changed[0]["details"]["last_admin"], true);
    assert_eq!(changed[0]["target_name"], "alice");

    // Back in the group: admin again at the next sign-in.
    op.set_groups("alice", &["taylordash-admins"]);
    let (back, _) = sign_in(&app, &op, "alice").await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
    assert_eq!(admins().await, vec!["alice"]);
}

/// A provider whose certificate comes from the home lab's private CA: refused (a certificate
/// error, said so) until the stack's CA file is trusted, then a full sign-in over HTTPS.
async fn a_provider_with_a_private_ca_is_trusted_through_the_stack_ca(db: TestDb) {
    let Some(op) = provider_with(OpenIdProvider::start_tls) else {
        return;
    };
    assert!(op.issuer.starts_with("https://localhost:"), "{}", op.issuer);
    let ca = reqwest::Certificate::from_pem_bundle(&std::fs::read(op.ca_file()).expect("CA"))
        .expect("PEM");
    let untrusted = TestApp::configured(
        TestDb::sqlite().await,
        AuthConfig {
            oidc: Some(settings(&op, "taylordash")),
            ..fast()
        },
    );
    let r = untrusted
        .send(
            Request::get("/api/v1/auth/oidc/login")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    r.assert_error(StatusCode::BAD_GATEWAY, "OIDC_PROVIDER_UNREACHABLE");
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&op.issuer) && detail.contains("certificate"),
        "{detail}"
    );

    let app = TestApp::configured(
        db,
        AuthConfig {
            oidc: Some(OidcSettings {
                extra_ca: ca.clone(),
                ..settings(&op, "taylordash")
            }),
            ..fast()
        },
    );
    let s = start(&app, "/").await;
    let mut browser = Browser::trusting(ca);
    let back = browser
        .through_provider(&op.issuer, &s.location, "erin")
        .await;
    let r = callback(&app, &back, &s.state_cookie, "application/json").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let me = app
        .call_as(
            &Cred::Cookie(session_token(&r)),
            Method::GET,
            "/api/v1/auth/me",
            None,
        )
        .await;
    assert_eq!(me.body["username"], "erin", "{}", me.body);
    assert_eq!(me.body["signed_in_by"], "oidc");
}

async fn es256_tokens_and_rotated_keys_are_verified(db: TestDb) {
    let Some(mut op) = provider() else { return };
    let app = app_for(db, &op, "taylordash-es");
    let (r, _) = sign_in(&app, &op, "bob").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "ES256: {}", r.body);
    // The provider rotates its keys: the token names a key id not cached; the key set is
    // fetched again and the token accepted.
    op.next_token("rotate");
    let (r, _) = sign_in(&app, &op, "bob").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "rotated key: {}", r.body);
    // A key the provider never published is refused.
    op.next_token("unknown_key");
    let (r, _) = sign_in(&app, &op, "bob").await;
    r.assert_error(StatusCode::UNAUTHORIZED, "OIDC_TOKEN_INVALID");
    assert_eq!(user_count(&app).await, 1);
}

async fn bad_tokens_and_replays_are_refused_and_create_nothing(db: TestDb) {
    let Some(mut op) = provider() else { return };
    let app = app_for(db, &op, "taylordash");
    op.set_groups("mallory", &["taylordash-admins"]);
    for (mode, status, code) in [
        ("tamper", StatusCode::UNAUTHORIZED, "OIDC_TOKEN_INVALID"),
        ("audience", StatusCode::UNAUTHORIZED, "OIDC_WRONG_AUDIENCE"),
        ("expired", StatusCode::UNAUTHORIZED, "OIDC_TOKEN_EXPIRED"),
    ] {
        op.next_token(mode);
        let (r, _) = sign_in(&app, &op, "mallory").await;
        r.assert_error(status, code);
        assert!(
            cookie_value(&r, "taylordash_session").is_none(),
            "{mode}: no session"
        );
    }
    assert_eq!(user_count(&app).await, 0, "nothing created");
    assert!(audit(&app, "identity_linked").await.is_empty());

    // The same refusal as a page for the browser.
    op.next_token("expired");
    let s = start(&app, "/").await;
    let back = Browser::new()
        .through_provider(&op.issuer, &s.location, "mallory")
        .await;
    let page = callback(
        &app,
        &back,
        &s.state_cookie,
        "text/html,application/xhtml+xml",
    )
    .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(
        page.headers[header::CONTENT_TYPE]
            .to_str()
            .expect("content type")
            .starts_with("text/html")
    );
    let html = page.body.as_str().expect("page");
    assert!(
        html.contains("Sign-in refused") && html.contains("OIDC_TOKEN_EXPIRED"),
        "{html}"
    );
    assert!(html.contains("has expired"), "{html}");

    // A good sign-in, then its callback replayed: the state was used.
    let s = start(&app, "/").await;
    let back = Browser::new()
        .through_provider(&op.issuer, &s.location, "mallory")
        .await;
    let ok = callback(&app, &back, &s.state_cookie, "application/json").await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(user_count(&app).await, 1);
    let sessions = session_rows(&app).await;
    let signed_in = audit(&app, "login_success").await.len();
    assert_eq!((sessions, signed_in), (1, 1));
    for _ in 0..2 {
        let replayed = callback(&app, &back, &s.state_cookie, "application/json").await;
        replayed.assert_error(StatusCode::BAD_REQUEST, "OIDC_STATE_INVALID");
        assert!(cookie_value(&replayed, "taylordash_session").is_none());
        assert_eq!(
            session_rows(&app).await,
            sessions,
            "no session from a replay"
        );
        assert_eq!(audit(&app, "login_success").await.len(), signed_in);
    }

    // The previous sign-in's ID token handed out again: its nonce is not this sign-in's. A
    // refusal page for the browser, and nothing created.
    for _ in 0..2 {
        op.next_token("replay");
        let s = start(&app, "/").await;
        let back = Browser::new()
            .through_provider(&op.issuer, &s.location, "mallory")
            .await;
        let page = callback(
            &app,
            &back,
            &s.state_cookie,
            "text/html,application/xhtml+xml",
        )
        .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        assert!(
            page.headers[header::CONTENT_TYPE]
                .to_str()
                .expect("content type")
                .starts_with("text/html")
        );
        let html = page.body.as_str().expect("page");
        assert!(
            html.contains("Sign-in refused") && html.contains("OIDC_NONCE_MISMATCH"),
            "{html}"
        );
        assert!(cookie_value(&page, "taylordash_session").is_none());
        assert_eq!(
            session_rows(&app).await,
            sessions,
            "no session from a replay"
        );
        assert_eq!(audit(&app, "login_success").await.len(), signed_in);
    }

    // A callback in a browser that did not start the sign-in (no or another state cookie).
    let s = start(&app, "/").await;
    let back = Browser::new()
        .through_provider(&op.issuer, &s.location, "mallory")
        .await;
    callback(
        &app,
        &back,
        "taylordash_oidc_state=someone-elses",
        "application/json",
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "OIDC_STATE_INVALID");
    // ... which does not spend the sign-in of the browser that started it.
    let own = callback(&app, &back, &s.state_cookie, "application/json").await;
    assert_eq!(own.status, StatusCode::SEE_OTHER, "{}", own.body);

    let refused = audit(&app, "login_failed").await;
    let reasons: Vec<&str> = refused
        .iter()
        .filter_map(|e| e["details"]["reason"].as_str())
        .collect();
    for code in [
        "OIDC_TOKEN_INVALID",
        "OIDC_WRONG_AUDIENCE",
        "OIDC_TOKEN_EXPIRED",
        "OIDC_STATE_INVALID",
        "OIDC_NONCE_MISMATCH",
    ] {
        assert!(reasons.contains(&code), "{code} audited: {reasons:?}");
    }
    assert_eq!(
        user_count(&app).await,
        1,
        "only the good sign-in made an account"
    );

    // The provider goes away between the start and the callback.
    let s = start(&app, "/").await;
    let back = Browser::new()
        .through_provider(&op.issuer, &s.location, "mallory")
        .await;
    op.stop();
    callback(&app, &back, &s.state_cookie, "application/json")
        .await
        .assert_error(StatusCode::BAD_GATEWAY, "OIDC_PROVIDER_UNREACHABLE");
    // And a sign-in cannot even start (discovery is cached for an hour, so a fresh app).
}

async fn an_unreachable_or_unconfigured_provider_is_a_clear_error(db: TestDb) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let issuer = format!(
        "http://127.0.0.1:{}",
        closed.local_addr().expect("addr").port()
    );
    drop(closed);
    let app = TestApp::configured(
        db,
        AuthConfig {
            oidc: Some(OidcSettings {
                name: "Gone".into(),
                issuer,
                client_id: "taylordash".into(),
                client_secret: None,
                redirect_uri: REDIRECT.into(),
                post_logout_redirect_uri: None,
                scopes: vec!["openid".into()],
                username_claim: "preferred_username".into(),
                groups_claim: "groups".into(),
                extra_ca: Vec::new(),
            }),
            ..fast()
        },
    );
    app.send(
        Request::get("/api/v1/auth/oidc/login")
            .body(Body::empty())
            .expect("request"),
    )
    .await
    .assert_error(StatusCode::BAD_GATEWAY, "OIDC_PROVIDER_UNREACHABLE");
    // Without the state cookie of a started sign-in, a callback is refused before anything.
    app.send(
        Request::get("/api/v1/auth/oidc/callback?state=x&code=y")
            .body(Body::empty())
            .expect("request"),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "OIDC_STATE_INVALID");

    let plain = TestApp::new().await;
    plain
        .send(
            Request::get("/api/v1/auth/oidc/login")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "OIDC_NOT_CONFIGURED");
    let options = plain.get("/api/v1/auth/sign-in-options").await;
    assert!(options.body["oidc"].is_null());
}

mod sqlite {
    use super::*;

    #[tokio::test]
    async fn a_browser_signs_in_and_out_through_the_provider() {
        super::a_browser_signs_in_and_out_through_the_provider(TestDb::sqlite().await).await;
    }

    #[tokio::test]
    async fn es256_tokens_and_rotated_keys_are_verified() {
        super::es256_tokens_and_rotated_keys_are_verified(TestDb::sqlite().await).await;
    }

    #[tokio::test]
    async fn a_provider_with_a_private_ca_is_trusted_through_the_stack_ca() {
        super::a_provider_with_a_private_ca_is_trusted_through_the_stack_ca(TestDb::sqlite().await)
            .await;
    }

    #[tokio::test]
    async fn the_last_admin_out_of_the_admin_group_loses_admin_at_next_sign_in() {
        super::the_last_admin_out_of_the_admin_group_loses_admin_at_next_sign_in(
            TestDb::sqlite().await,
        )
        .await;
    }

    #[tokio::test]
    async fn a_local_account_is_linked_by_its_name_then_by_its_subject() {
        super::a_local_account_is_linked_by_its_name_then_by_its_subject(TestDb::sqlite().await)
            .await;
    }

    #[tokio::test]
    async fn bad_tokens_and_replays_are_refused_and_create_nothing() {
        super::bad_tokens_and_replays_are_refused_and_create_nothing(TestDb::sqlite().await).await;
    }

    #[tokio::test]
    async fn an_unreachable_or_unconfigured_provider_is_a_clear_error() {
        super::an_unreachable_or_unconfigured_provider_is_a_clear_error(TestDb::sqlite().await)
            .await;
    }

    #[tokio::test]
    async fn a_provider_user_named_like_a_local_admin_is_not_linked() {
        super::a_provider_user_named_like_a_local_admin_is_not_linked(TestDb::sqlite().await).await;
    }

    #[tokio::test]
    async fn a_disabled_account_is_refused_before_it_is_linked() {
        super::a_disabled_account_is_refused_before_it_is_linked(TestDb::sqlite().await).await;
    }
}

mod postgres {
    use super::*;

    #[tokio::test]
    async fn a_browser_signs_in_and_out_through_the_provider() {
        let Some(db) = TestDb::postgres().await else {
            return;
        };
        super::a_browser_signs_in_and_out_through_the_provider(db).await;
    }

    #[tokio::test]
    async fn bad_tokens_and_replays_are_refused_and_create_nothing() {
        let Some(db) = TestDb::postgres().await else {
            return;
        };
        super::bad_tokens_and_replays_are_refused_and_create_nothing(db).await;
    }

    #[tokio::test]
    async fn the_last_admin_out_of_the_admin_group_loses_admin_at_next_sign_in() {
        let Some(db) = TestDb::postgres().await else {
            return;
        };
        super::the_last_admin_out_of_the_admin_group_loses_admin_at_next_sign_in(db).await;
    }

    #[tokio::test]
    async fn a_provider_user_named_like_a_local_admin_is_not_linked() {
        let Some(db) = TestDb::postgres().await else {
            return;
        };
        super::a_provider_user_named_like_a_local_admin_is_not_linked(db).await;
    }

    #[tokio::test]
    async fn a_disabled_account_is_refused_before_it_is_linked() {
        let Some(db) = TestDb::postgres().await else {
            return;
        };
        super::a_disabled_account_is_refused_before_it_is_linked(db).await;
    }

    #[tokio::test]
    async fn a_local_account_is_linked_by_its_name_then_by_its_subject() {
        let Some(db) = TestDb::postgres().await else {
            return;
        };
        super::a_local_account_is_linked_by_its_name_then_by_its_subject(db).await;
    }
}
