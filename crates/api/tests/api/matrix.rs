//! Every documented `/api/v1` route × every kind of caller, against the access table: a route
//! without a rule fails here, and so does a rule the middleware does not enforce.

use api::auth::policy::{Access, access_for};
use domain::Role;

use crate::support::*;

struct Caller {
    name: &'static str,
    cred: Cred,
    /// Effective role; `None` = anonymous.
    role: Option<Role>,
    /// A user stands behind the credential (not the service key).
    is_user: bool,
    /// A personal key with the `read` scope: it may not change its owner's account.
    read_only_key: bool,
    /// Alertmanager's token: its webhook receiver only.
    alertmanager: bool,
}

/// Each documented `/api/v1` operation as (method, route template).
fn documented_routes() -> Vec<(Method, String)> {
    let doc = serde_json::to_value(api::openapi()).expect("serializable");
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        for method in item.as_object().expect("path item").keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            routes.push((method, path.clone()));
        }
    }
    // Logging out ends the caller's session: do it last.
    routes.sort_by_key(|(_, path)| path.ends_with("/logout"));
    routes
}

/// The template with every `{param}` replaced by a fresh id. The live stream gets an invalid
/// topic filter, so an authorized caller is answered (422) instead of held open forever.
fn concrete(template: &str) -> String {
    if template.ends_with("/events/stream") {
        return format!("{template}?topic=not/%23/valid");
    }
    template
        .split('/')
        .map(|s| {
            if s.starts_with('{') {
                uuid::Uuid::new_v4().to_string()
            } else {
                s.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// v1's plugin routes answer everyone they admit with 501 `PLUGINS_NOT_AVAILABLE`: a deliberate
/// answer, not a failure.
fn not_available(r: &Reply) -> bool {
    r.status == StatusCode::NOT_IMPLEMENTED && r.body["code"] == "PLUGINS_NOT_AVAILABLE"
}

#[test]
fn every_documented_route_has_an_access_rule() {
    let missing: Vec<String> = documented_routes()
        .into_iter()
        .filter(|(m, p)| access_for(m, p).is_none())
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(
        missing.is_empty(),
        "add these routes to crates/api/src/auth/policy.rs: {missing:#?}"
    );
}

async fn every_route_enforces_its_rule_for_every_caller(app: TestApp) {
    // Forward-auth on, so a trusted proxy's users are callers too; single sign-on with a real
    // OpenID provider, so its users are.
    let mut op = crate::oidc::provider();
    // Alertmanager's token is configured, so it is a caller too.
    let mut config = with_alertmanager_token(forward_auth_config());
    if let Some(op) = &op {
        config.oidc = Some(crate::oidc::settings(op, "taylordash"));
    }
    let app = TestApp::configured(app.db, config);
    app.user("ada", "admin").await;
    app.user("eddie", "editor").await;
    app.user("vic", "viewer").await;
    // Users of their own for the "session + key" callers: "all my other sessions" revoked by
    // one caller must not end another's.
    app.user("vix", "viewer").await;
    app.user("edna", "editor").await;
    // Keys belong to their own admin: a key revoking "all my sessions" must not end ada's.
    app.user("kay", "admin").await;
    let kay = Cred::Bearer(app.login("kay").await);
    let admin = Cred::Bearer(app.login("ada").await);
    let mut callers = vec![
        Caller {
            name: "anonymous",
            cred: Cred::Anonymous,
            role: None,
            is_user: false,
            read_only_key: false,
            alertmanager: false,
        },
        Caller {
            name: "viewer session",
            cred: Cred::Bearer(app.login("vic").await),
            role: Some(Role::Viewer),
            is_user: true,
            read_only_key: false,
            alertmanager: false,
        },
        Caller {
            name: "editor session",
            cred: Cred::Bearer(app.login("eddie").await),
            role: Some(Role::Editor),
            is_user: true,
            read_only_key: false,
            alertmanager: false,
        },
        // v1's web client: the user's session plus the installation's key. The session
        // decides, so this is a viewer, not an admin.
        Caller {
            name: "viewer session + service key",
            cred: Cred::SessionAndKey(app.login("vix").await, KEY.to_owned()),
            role: Some(Role::Viewer),
            is_user: true,
            read_only_key: false,
            alertmanager: false,
        },
        Caller {
            name: "service key",
            cred: Cred::service(),
            role: Some(Role::Admin),
            is_user: false,
            read_only_key: false,
            alertmanager: false,
        },
    ];
    for (scope, role) in [
        ("read", Role::Viewer),
        ("write", Role::Editor),
        ("admin", Role::Admin),
    ] {
        let key = app.api_key(&kay, scope).await;
        callers.push(Caller {
            name: scope,
            cred: Cred::Key(key),
            role: Some(role),
            is_user: true,
            read_only_key: scope == "read",
            alertmanager: false,
        });
    }
    // A personal admin key beside an editor's session does not make it an admin.
    let admin_key = app.api_key(&kay, "admin").await;
    callers.push(Caller {
        name: "editor session + admin key",
        cred: Cred::SessionAndKey(app.login("edna").await, admin_key),
        role: Some(Role::Editor),
        is_user: true,
        read_only_key: false,
        alertmanager: false,
    });
    // Users a trusted forward-auth proxy names, their roles from their groups (accounts made
    // on their first request); the same headers from an untrusted address are anonymous.
    for (user, groups, role) in [
        ("fa-viewer", "family", Role::Viewer),
        ("fa-editor", "family,taylordash-editors", Role::Editor),
        ("fa-admin", "taylordash-admins", Role::Admin),
    ] {
        callers.push(Caller {
            name: user,
            cred: Cred::Proxy {
                user: user.to_owned(),
                groups: groups.to_owned(),
                peer: PROXY,
            },
            role: Some(role),
            is_user: true,
            read_only_key: false,
            alertmanager: false,
        });
    }
    callers.push(Caller {
        name: "forward-auth admin headers from an untrusted address",
        cred: Cred::Proxy {
            user: "fa-spoof".to_owned(),
            groups: "taylordash-admins".to_owned(),
            peer: STRANGER,
        },
        role: None,
        is_user: false,
        read_only_key: false,
        alertmanager: false,
    });
    // Users signed in through the OpenID provider: ordinary sessions, roles from the groups
    // claim.
    if let Some(op) = op.as_mut() {
        for (user, groups, role) in [
            ("sso-viewer", &[][..], Role::Viewer),
            ("sso-editor", &["taylordash-editors"][..], Role::Editor),
            ("sso-admin", &["taylordash-admins"][..], Role::Admin),
        ] {
            op.set_groups(user, groups);
            let (r, _) = crate::oidc::sign_in(&app, op, user).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{user}: {}", r.body);
            callers.push(Caller {
                name: user,
                cred: Cred::Cookie(crate::oidc::session_token(&r)),
                role: Some(role),
                is_user: true,
                read_only_key: false,
                alertmanager: false,
            });
        }
    }
    // Alertmanager's token, as Alertmanager sends it (bearer) and as a key header: its
    // webhook receiver takes it, every other route refuses it.
    callers.push(Caller {
        name: "alertmanager token (bearer)",
        cred: Cred::Bearer(ALERTMANAGER_TOKEN.to_owned()),
        role: None,
        is_user: false,
        read_only_key: false,
        alertmanager: true,
    });
    callers.push(Caller {
        name: "alertmanager token (X-API-Key)",
        cred: Cred::Key(ALERTMANAGER_TOKEN.to_owned()),
        role: None,
        is_user: false,
        read_only_key: false,
        alertmanager: true,
    });
    callers.push(Caller {
        name: "admin session",
        cred: admin,
        role: Some(Role::Admin),
        is_user: true,
        read_only_key: false,
        alertmanager: false,
    });

    let mut failures = Vec::new();
    for (method, template) in documented_routes() {
        let access = access_for(&method, &template).expect("checked by the other test");
        for caller in &callers {
            let body = matches!(method, Method::POST | Method::PUT).then(|| json!({}));
            let r = app
                .call_as(&caller.cred, method.clone(), &concrete(&template), body)
                .await;
            let expected = match (access, caller.role) {
                (Access::Public, _) => None,
                (Access::RoleOrAlertmanager(_), _) if caller.alertmanager => None,
                _ if caller.alertmanager => Some(StatusCode::FORBIDDEN),
                (_, None) => Some(StatusCode::UNAUTHORIZED),
                (Access::User(_), Some(_)) if !caller.is_user => Some(StatusCode::FORBIDDEN),
                (Access::User(_), Some(_))
                    if caller.read_only_key
                        && method != Method::GET
                        && template != "/api/v1/auth/api-keys" =>
                {
                    Some(StatusCode::FORBIDDEN)
                }
                (
                    Access::Role(need) | Access::User(need) | Access::RoleOrAlertmanager(need),
                    Some(have),
                ) if have < need => Some(StatusCode::FORBIDDEN),
                _ => None,
            };
            let ok = match expected {
                Some(status) if caller.alertmanager => {
                    r.status == status && r.body["code"] == "ALERTMANAGER_TOKEN_ONLY"
                }
                Some(status) => r.status == status,
                None => {
                    r.status != StatusCode::UNAUTHORIZED
                        && r.status != StatusCode::FORBIDDEN
                        && (!r.status.is_server_error() || not_available(&r))
                }
            };
            if !ok {
                failures.push(format!(
                    "{method} {template} as {}: expected {}, got {} {}",
                    caller.name,
                    expected.map_or("access".to_owned(), |s| s.to_string()),
                    r.status,
                    r.body
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Spelled out for the most important row: a viewer cannot change anything.
async fn viewer_gets_403_on_every_write(app: TestApp) {
    app.user("vic", "viewer").await;
    let viewer = Cred::Bearer(app.login("vic").await);
    let mut checked = 0;
    for (method, template) in documented_routes() {
        let access = access_for(&method, &template).expect("rule");
        let write = matches!(method, Method::POST | Method::PUT | Method::DELETE);
        if !write
            || !matches!(access, Access::Role(r) | Access::RoleOrAlertmanager(r) if r > Role::Viewer)
        {
            continue;
        }
        let body = matches!(method, Method::POST | Method::PUT).then(|| json!({}));
        let r = app
            .call_as(&viewer, method.clone(), &concrete(&template), body)
            .await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {template}: {}",
            r.body
        );
        assert_eq!(r.body["code"], "INSUFFICIENT_ROLE", "{method} {template}");
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} write routes checked");
}

on_both!(
    every_route_enforces_its_rule_for_every_caller,
    viewer_gets_403_on_every_write,
);
