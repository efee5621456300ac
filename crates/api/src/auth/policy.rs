//! Who may call which `/api/v1` route: one rule per (method, route template).
//!
//! The authorization middleware looks up the matched route here; a route without a rule is
//! refused for everyone (deny by default), and the route-matrix test fails for every documented
//! route that has no rule. Adding a route therefore means adding one line below.
//!
//! Path parameters match by position, not name: `/api/v1/events/{id}` also covers
//! `/api/v1/events/{event_id}`.
//!
//! Events are read by topic family as well: the audit trail's events
//! (`domain::topics::admin_only`, `tracker/events/auth/...`) reach admins only — in the event
//! list, by id and on the live stream (`events.rs`); every other topic reaches every role the
//! route admits.

use axum::http::Method;
use domain::Role;

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credential (login, first-run setup).
    Public,
    /// Any credential whose effective role is at least this (the service key is admin).
    Role(Role),
    /// As `Role`, and the credential must belong to a user (a session or a personal API key):
    /// the route is about "me".
    User(Role),
    /// As `Role`, or Alertmanager's token (`TAYLORDASH_ALERTMANAGER_TOKEN`): its webhook
    /// receiver. Every other route refuses that token (403 `ALERTMANAGER_TOKEN_ONLY`).
    RoleOrAlertmanager(Role),
}

impl Access {
    /// The role needed, if any.
    pub fn role(self) -> Option<Role> {
        match self {
            Access::Public => None,
            Access::Role(r) | Access::User(r) | Access::RoleOrAlertmanager(r) => Some(r),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

const fn rule(method: &'static str, path: &'static str, access: Access) -> Rule {
    Rule {
        method,
        path,
        access,
    }
}

const PUBLIC: Access = Access::Public;
const VIEWER: Access = Access::Role(Role::Viewer);
const EDITOR: Access = Access::Role(Role::Editor);
const ADMIN: Access = Access::Role(Role::Admin);
const ME: Access = Access::User(Role::Viewer);
const EDITOR_OR_ALERTMANAGER: Access = Access::RoleOrAlertmanager(Role::Editor);

pub const RULES: &[Rule] = &[
    // Projects, components, dependencies, tasks: read as viewer, change as editor.
    rule("GET", "/api/v1/projects", VIEWER),
    rule("POST", "/api/v1/projects", EDITOR),
    rule("GET", "/api/v1/projects/progress", VIEWER),
    rule("GET", "/api/v1/projects/{project_id}", VIEWER),
    rule("PUT", "/api/v1/projects/{project_id}", EDITOR),
    rule("DELETE", "/api/v1/projects/{project_id}", EDITOR),
    rule("GET", "/api/v1/projects/{project_id}/components", VIEWER),
    rule("POST", "/api/v1/projects/{project_id}/components", EDITOR),
    rule("GET", "/api/v1/projects/{project_id}/graph", VIEWER),
    rule("PUT", "/api/v1/projects/{project_id}/layout", EDITOR),
    rule("GET", "/api/v1/projects/{project_id}/dependencies", VIEWER),
    rule("GET", "/api/v1/components/{component_id}", VIEWER),
    rule("PUT", "/api/v1/components/{component_id}", EDITOR),
    rule("DELETE", "/api/v1/components/{component_id}", EDITOR),
    rule(
        "GET",
        "/api/v1/components/{component_id}/dependencies",
        VIEWER,
    ),
    rule(
        "POST",
        "/api/v1/components/{component_id}/dependencies",
        EDITOR,
    ),
    rule(
        "DELETE",
        "/api/v1/components/{component_id}/dependencies/{depends_on_id}",
        EDITOR,
    ),
    rule("GET", "/api/v1/components/{component_id}/tasks", VIEWER),
    rule("POST", "/api/v1/components/{component_id}/tasks", EDITOR),
    rule("GET", "/api/v1/tasks/{task_id}", VIEWER),
    rule("PUT", "/api/v1/tasks/{task_id}", EDITOR),
    rule("DELETE", "/api/v1/tasks/{task_id}", EDITOR),
    rule("GET", "/api/v1/health/stack", VIEWER),
    // Event bus and dead-letter queue (routes arrive with the event bus).
    rule("GET", "/api/v1/events", VIEWER),
    rule("POST", "/api/v1/events", EDITOR),
    rule("GET", "/api/v1/events/stream", VIEWER),
    rule("POST", "/api/v1/events/test", EDITOR),
    rule("GET", "/api/v1/events/{id}", VIEWER),
    rule("GET", "/api/v1/dlq", VIEWER),
    rule("GET", "/api/v1/dlq/{id}", VIEWER),
    rule("DELETE", "/api/v1/dlq/{id}", ADMIN),
    rule("POST", "/api/v1/dlq/{id}/replay", EDITOR),
    // Replaying an edited copy puts words in a device's mouth: admins only.
    rule("POST", "/api/v1/dlq/{id}/replay-edited", ADMIN),
    // Sessions and first-run setup.
    rule("POST", "/api/v1/auth/login", PUBLIC),
    rule("GET", "/api/v1/auth/setup", PUBLIC),
    rule("POST", "/api/v1/auth/setup", PUBLIC),
    // The second login step (its challenge token is the credential), and what the login page
    // may offer.
    rule("POST", "/api/v1/auth/login/second-factor", PUBLIC),
    rule("POST", "/api/v1/auth/login/enrol", PUBLIC),
    rule("GET", "/api/v1/auth/sign-in-options", PUBLIC),
    // Single sign-on: anyone may start it and come back; the callback checks everything.
    rule("GET", "/api/v1/auth/oidc/login", PUBLIC),
    rule("GET", "/api/v1/auth/oidc/callback", PUBLIC),
    rule("POST", "/api/v1/auth/logout", ME),
    rule("GET", "/api/v1/auth/me", ME),
    rule("PUT", "/api/v1/auth/me/password", ME),
    rule("GET", "/api/v1/auth/sessions", ME),
    rule("DELETE", "/api/v1/auth/sessions", ME),
    rule("DELETE", "/api/v1/auth/sessions/{session_id}", ME),
    rule("DELETE", "/api/v1/auth/sessions/cleanup", ADMIN),
    // Your own two-factor sign-in; an admin resets someone's, and sets the sign-in settings.
    rule("GET", "/api/v1/auth/me/totp", ME),
    rule("POST", "/api/v1/auth/me/totp", ME),
    rule("POST", "/api/v1/auth/me/totp/confirm", ME),
    rule("POST", "/api/v1/auth/me/totp/disable", ME),
    rule("POST", "/api/v1/auth/me/totp/recovery-codes", ME),
    rule("DELETE", "/api/v1/auth/users/{user_id}/totp", ADMIN),
    // Your own passkeys; signing in with one (the signed challenge is the credential).
    rule("POST", "/api/v1/auth/me/passkeys/options", ME),
    rule("GET", "/api/v1/auth/me/passkeys", ME),
    rule("POST", "/api/v1/auth/me/passkeys", ME),
    rule("PUT", "/api/v1/auth/me/passkeys/{passkey_id}", ME),
    rule("DELETE", "/api/v1/auth/me/passkeys/{passkey_id}", ME),
    rule("POST", "/api/v1/auth/login/passkey/options", PUBLIC),
    rule("POST", "/api/v1/auth/login/passkey", PUBLIC),
    rule(
        "POST",
        "/api/v1/auth/login/second-factor/passkey/options",
        PUBLIC,
    ),
    rule("POST", "/api/v1/auth/login/second-factor/passkey", PUBLIC),
    rule("GET", "/api/v1/auth/settings", ADMIN),
    rule("PUT", "/api/v1/auth/settings", ADMIN),
    // Users: admin only.
    rule("GET", "/api/v1/auth/users", ADMIN),
    rule("POST", "/api/v1/auth/users", ADMIN),
    rule("PUT", "/api/v1/auth/users/{user_id}", ADMIN),
    rule("DELETE", "/api/v1/auth/users/{user_id}", ADMIN),
    // API keys: your own (admins: anyone's, checked in the handlers).
    rule("GET", "/api/v1/auth/api-keys", VIEWER),
    rule("POST", "/api/v1/auth/api-keys", ME),
    rule("DELETE", "/api/v1/auth/api-keys/{key_id}", VIEWER),
    // Audit trail.
    rule("GET", "/api/v1/audit", ADMIN),
    // Structured logs: reading them (they name users, endpoints and errors) and writing the
    // sample records is for admins; any signed-in browser may report its own errors.
    rule("GET", "/api/v1/logs", ADMIN),
    rule("GET", "/api/v1/logs/stats", ADMIN),
    rule("GET", "/api/v1/logs/{log_id}", ADMIN),
    rule("POST", "/api/v1/logs/test", ADMIN),
    rule("POST", "/api/v1/logs/frontend", VIEWER),
    // Artifacts: read as viewer, upload and delete as editor.
    rule("GET", "/api/v1/projects/{project_id}/artifacts", VIEWER),
    rule("POST", "/api/v1/projects/{project_id}/artifacts", EDITOR),
    rule("GET", "/api/v1/artifacts/{artifact_id}", VIEWER),
    rule("GET", "/api/v1/artifacts/{artifact_id}/info", VIEWER),
    rule("DELETE", "/api/v1/artifacts/{artifact_id}", EDITOR),
    // Service checks: read as viewer (secret header values are never sent back), change and
    // run ("test now" makes this server send requests) as editor. The push URL carries its own
    // secret, so it needs no credential: a cron job calls it.
    rule("GET", "/api/v1/components/{component_id}/checks", VIEWER),
    rule("POST", "/api/v1/components/{component_id}/checks", EDITOR),
    rule(
        "POST",
        "/api/v1/components/{component_id}/checks/test",
        EDITOR,
    ),
    rule("GET", "/api/v1/projects/{project_id}/checks", VIEWER),
    rule("GET", "/api/v1/checks/{check_id}", VIEWER),
    rule("PUT", "/api/v1/checks/{check_id}", EDITOR),
    rule("DELETE", "/api/v1/checks/{check_id}", EDITOR),
    rule("POST", "/api/v1/checks/{check_id}/test", EDITOR),
    rule("POST", "/api/v1/checks/{check_id}/push-token", EDITOR),
    rule("GET", "/api/v1/checks/{check_id}/history", VIEWER),
    rule("GET", "/api/v1/checks/{check_id}/uptime", VIEWER),
    rule("GET", "/api/v1/checks/push/{token}", PUBLIC),
    rule("POST", "/api/v1/checks/push/{token}", PUBLIC),
    // Public status pages: whether one is on is no secret (viewers see it); turning it on,
    // making a new link or turning it off is an editor's. The page itself needs no
    // credential but its link, whose 256-bit token cannot be guessed; it names components,
    // their states and uptime only.
    rule("GET", "/api/v1/projects/{project_id}/status-page", VIEWER),
    rule("POST", "/api/v1/projects/{project_id}/status-page", EDITOR),
    rule(
        "DELETE",
        "/api/v1/projects/{project_id}/status-page",
        EDITOR,
    ),
    rule("GET", "/api/v1/status/{token}", PUBLIC),
    // Alerts: everyone signed in sees alerts, rules and notifications; editors acknowledge
    // and silence (audited: who and why); admins manage rules and channels (channels hold
    // secrets). Alertmanager posts its webhook with a token of its own, good for that route
    // only (least privilege: no role, no other route); editors may post there too (by hand,
    // from a script, or as Alertmanager with an editor's personal key).
    rule("GET", "/api/v1/alerts", VIEWER),
    rule("GET", "/api/v1/alerts/{alert_id}", VIEWER),
    rule("GET", "/api/v1/alerts/{alert_id}/notifications", VIEWER),
    rule("POST", "/api/v1/alerts/{alert_id}/acknowledge", EDITOR),
    rule("POST", "/api/v1/alerts/{alert_id}/silence", EDITOR),
    rule(
        "POST",
        "/api/v1/alerts/alertmanager",
        EDITOR_OR_ALERTMANAGER,
    ),
    rule("GET", "/api/v1/alert-notifications", VIEWER),
    rule("GET", "/api/v1/alert-rules", VIEWER),
    rule("POST", "/api/v1/alert-rules", ADMIN),
    rule("GET", "/api/v1/alert-rules/{rule_id}", VIEWER),
    rule("PUT", "/api/v1/alert-rules/{rule_id}", ADMIN),
    rule("DELETE", "/api/v1/alert-rules/{rule_id}", ADMIN),
    rule("GET", "/api/v1/alert-channels", ADMIN),
    rule("POST", "/api/v1/alert-channels", ADMIN),
    rule("GET", "/api/v1/alert-channels/{channel_id}", ADMIN),
    rule("PUT", "/api/v1/alert-channels/{channel_id}", ADMIN),
    rule("DELETE", "/api/v1/alert-channels/{channel_id}", ADMIN),
    rule("POST", "/api/v1/alert-channels/{channel_id}/test", ADMIN),
    // Backups: they hold every user's data, password hashes included.
    rule("GET", "/api/v1/admin/backups", ADMIN),
    rule("POST", "/api/v1/admin/backups", ADMIN),
    rule("GET", "/api/v1/admin/backups/{name}", ADMIN),
    // Time series for charts.
    rule("GET", "/api/v1/metrics/query_range", VIEWER),
    // v1's plugin routes: this version has no plugins, so each answers 501
    // PLUGINS_NOT_AVAILABLE to whoever the rule admits. Reading is for every role and changing
    // (installing runs someone else's code) for admins, as it would be if plugins existed.
    rule("GET", "/api/v1/plugins/list", VIEWER),
    rule("GET", "/api/v1/plugins/stats/overview", VIEWER),
    rule("GET", "/api/v1/plugins/{plugin_id}", VIEWER),
    rule("GET", "/api/v1/plugins/{plugin_id}/health", VIEWER),
    rule(
        "GET",
        "/api/v1/plugins/{plugin_id}/security/violations",
        VIEWER,
    ),
    rule("POST", "/api/v1/plugins/install", ADMIN),
    rule("POST", "/api/v1/plugins/registry/refresh", ADMIN),
    rule("DELETE", "/api/v1/plugins/{plugin_id}", ADMIN),
    rule("PUT", "/api/v1/plugins/{plugin_id}/update", ADMIN),
    rule("POST", "/api/v1/plugins/{plugin_id}/config", ADMIN),
    rule("POST", "/api/v1/plugins/{plugin_id}/security/scan", ADMIN),
];

/// The rule for a matched route template, if there is one. HEAD is treated as GET.
pub fn access_for(method: &Method, path: &str) -> Option<Access> {
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    RULES
        .iter()
        .find(|r| r.method == method && same_template(r.path, path))
        .map(|r| r.access)
}

/// Equal templates, where any `{param}` matches any other `{param}`.
fn same_template(a: &str, b: &str) -> bool {
    let param = |s: &str| s.starts_with('{') && s.ends_with('}');
    let (mut a, mut b) = (a.split('/'), b.split('/'));
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x == y || (param(x) && param(y)) => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_matches_templates_by_shape() {
        assert_eq!(
            access_for(&Method::GET, "/api/v1/events/{event_id}"),
            Some(VIEWER)
        );
        assert_eq!(access_for(&Method::HEAD, "/api/v1/projects"), Some(VIEWER));
        assert_eq!(
            access_for(&Method::DELETE, "/api/v1/auth/sessions/cleanup"),
            Some(ADMIN),
            "a literal segment wins over a parameter when listed"
        );
        assert_eq!(access_for(&Method::PATCH, "/api/v1/projects"), None);
        assert_eq!(access_for(&Method::GET, "/api/v1/nothing"), None);
    }

    #[test]
    fn rules_for_the_event_bus_are_ready() {
        let expect = [
            ("GET", "/api/v1/events", Role::Viewer),
            ("GET", "/api/v1/events/{id}", Role::Viewer),
            ("GET", "/api/v1/events/stream", Role::Viewer),
            ("POST", "/api/v1/events/test", Role::Editor),
            ("GET", "/api/v1/dlq", Role::Viewer),
            ("DELETE", "/api/v1/dlq/{id}", Role::Admin),
            ("POST", "/api/v1/dlq/{id}/replay", Role::Editor),
        ];
        for (method, path, role) in expect {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            assert_eq!(
                access_for(&method, path),
                Some(Access::Role(role)),
                "{path}"
            );
        }
    }

    /// Alertmanager's token opens its webhook receiver and nothing else.
    #[test]
    fn only_the_webhook_receiver_takes_alertmanagers_token() {
        let takers: Vec<_> = RULES
            .iter()
            .filter(|r| matches!(r.access, Access::RoleOrAlertmanager(_)))
            .map(|r| (r.method, r.path, r.access.role()))
            .collect();
        assert_eq!(
            takers,
            [("POST", "/api/v1/alerts/alertmanager", Some(Role::Editor))]
        );
    }

    #[test]
    fn no_rule_is_listed_twice() {
        for (i, a) in RULES.iter().enumerate() {
            for b in &RULES[i + 1..] {
                assert!(
                    !(a.method == b.method && same_template(a.path, b.path)),
                    "{} {} is listed twice",
                    a.method,
                    a.path
                );
            }
        }
    }
}
