//! The one gate in front of `/api/v1`: rule lookup (deny by default), authentication, CSRF
//! check for cookie sessions, role check. Handlers read the caller from the [`Principal`] it
//! leaves in the request extensions.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{Extensions, HeaderMap, HeaderName, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use chrono::Duration;
use domain::FORWARD_AUTH_PROVIDER;
use domain::{Role, Scope};
use services::identity::token::API_KEY_PREFIX;
use services::identity::{Authenticated, ExternalLogin, SESSION_TTL};

use super::client::{ClientInfo, same_origin};
use super::policy::{Access, access_for};
use super::sessions::session_headers;
use super::{API_KEY_HEADER, Credential, Principal, SESSION_COOKIE, user_required};
use crate::AppState;
use crate::error::ApiError;

pub async fn authorize(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let Some(access) = access_for(req.method(), &path) else {
        tracing::error!(method = %req.method(), route = %path, "route has no access rule; refused");
        return Err(ApiError::forbidden(
            "NO_ACCESS_RULE",
            "this route has no access rule yet, so nobody may call it",
        ));
    };
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let Some(required) = access.role() else {
        // Public routes: a browser form posted from another site must not log anyone in.
        if writes && !same_origin(req.headers(), &state.auth.config, false) {
            return Err(csrf_rejected());
        }
        return Ok(next.run(req).await);
    };

    let (principal, refresh) = authenticate(&state, req.headers(), req.extensions()).await?;
    // Alertmanager's token is good for its webhook receiver and nothing else; there it needs
    // no role.
    let alertmanager = principal.credential == Credential::Alertmanager;
    if alertmanager && !matches!(access, Access::RoleOrAlertmanager(_)) {
        return Err(ApiError::forbidden(
            "ALERTMANAGER_TOKEN_ONLY",
            "this is Alertmanager's token: only POST /api/v1/alerts/alertmanager accepts it; \
             use a session or an API key here",
        ));
    }
    // Cookie-authenticated writes, and WebSocket upgrades (a GET, but one that opens a channel
    // a foreign page could read), must come from this origin (or a listed one).
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    // A proxy's identity headers come with every request the browser sends, like a cookie.
    let via_cookie = matches!(
        principal.credential,
        Credential::Session {
            via_cookie: true,
            ..
        } | Credential::ForwardAuth
    );
    if via_cookie && (writes || upgrade) && !same_origin(req.headers(), &state.auth.config, true) {
        return Err(csrf_rejected());
    }
    if matches!(access, Access::User(_)) && principal.user.is_none() {
        return Err(user_required());
    }
    // Changes to your own account (ending sessions, the password) need a session or a key
    // that may write: a read-only key is for reading. Creating a key is left to the identity
    // service, which never lets a key mint one wider than itself (SCOPE_ABOVE_ROLE).
    if writes
        && matches!(access, Access::User(_))
        && path != "/api/v1/auth/api-keys"
        && matches!(
            principal.credential,
            Credential::ApiKey {
                scope: Scope::Read,
                ..
            }
        )
    {
        return Err(ApiError::forbidden(
            "INSUFFICIENT_SCOPE",
            "changing your account needs a session or an API key with the 'write' scope; this \
             key is 'read'",
        ));
    }
    if principal.role < required && !alertmanager {
        return Err(insufficient(&principal, required));
    }
    // A long-lived browser session that just slid forward gets its cookie extended too.
    let refresh = refresh.map(|(token, ttl)| {
        let client = ClientInfo::from_request(req.headers(), req.extensions(), &state.auth.config);
        session_headers(&token, Some(ttl), &client)
    });
    if let Some(user_id) = principal.user_id() {
        // The request's log records carry who made it (see `logs::layer`).
        tracing::Span::current().record("user_id", tracing::field::display(user_id));
    }
    req.extensions_mut().insert(principal);
    let mut res = next.run(req).await;
    if let Some(cookie) = refresh.as_ref().and_then(|h| h.get(header::SET_COOKIE))
        && !res.headers().contains_key(header::SET_COOKIE)
    {
        res.headers_mut().insert(header::SET_COOKIE, cookie.clone());
    }
    Ok(res)
}

fn csrf_rejected() -> ApiError {
    ApiError::forbidden(
        "CSRF_REJECTED",
        "cross-site request refused: the Origin header is missing or not this server; a page \
         served from another origin (a development proxy, another host name) must be listed in \
         TAYLORDASH_ALLOWED_ORIGINS",
    )
}

fn insufficient(principal: &Principal, required: Role) -> ApiError {
    match (&principal.credential, &principal.user) {
        (Credential::ApiKey { scope, .. }, Some(user)) if user.role >= required => {
            ApiError::forbidden(
                "INSUFFICIENT_SCOPE",
                format!(
                    "this needs the {required} role; the API key's scope '{scope}' does not \
                     allow it"
                ),
            )
        }
        _ => ApiError::forbidden(
            "INSUFFICIENT_ROLE",
            format!(
                "this needs the {required} role; you have {}",
                principal.role
            ),
        ),
    }
}

/// A cookie to send again with a later expiry: (token, lifetime).
type CookieRefresh = Option<(String, Duration)>;

/// Finds out who is calling. A session decides whenever one is sent (`Authorization: Bearer`
/// with a session token, else the session cookie): its user and role are the caller, and a key
/// sent alongside is ignored, so it can never raise the session's privileges (v1's web client
/// sends its build-time key with every request). Without a session: `X-API-Key` (service key,
/// Alertmanager's token or personal key), else one of these as `Authorization: Bearer`. With
/// none of these: a trusted forward-auth proxy's user header, if forward-auth is on and the
/// connection comes from a trusted proxy (from anywhere else the header is ignored). A
/// credential that is present but wrong is refused; there is no falling back to the next one.
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &Extensions,
) -> Result<(Principal, CookieRefresh), ApiError> {
    let bearer = bearer_token(headers)?;
    if let Some(token) = bearer.filter(|t| !is_key(state, t)) {
        return session(state, token, false).await;
    }
    if let Some(token) = session_cookie(headers) {
        return session(state, &token, true).await;
    }
    let key = match headers.get(API_KEY_HEADER) {
        Some(key) => std::str::from_utf8(key.as_bytes()).map_err(|_| invalid_api_key())?,
        None => match bearer {
            Some(key) => key,
            None => {
                if let Some(principal) = forward_auth(state, headers, extensions).await? {
                    return Ok((principal, None));
                }
                return Err(ApiError::unauthorized(
                    "NOT_AUTHENTICATED",
                    "Not authenticated: log in, or send an API key in the X-API-Key header \
                     (or as Authorization: Bearer)",
                ));
            }
        },
    };
    if state.api_key.matches(key.as_bytes()) {
        return Ok((Principal::service(), None));
    }
    if is_alertmanager_token(state, key) {
        return Ok((Principal::alertmanager(), None));
    }
    if key.starts_with(API_KEY_PREFIX) {
        return Ok((personal_key(state, key).await?, None));
    }
    Err(invalid_api_key())
}

/// The token of `Authorization: Bearer <token>`, if the header is there; any other shape is
/// refused.
fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| Some(token.trim()))
        .ok_or_else(|| {
            ApiError::unauthorized(
                "INVALID_TOKEN",
                "the Authorization header must be 'Bearer <token>'",
            )
        })
}

/// Whether a bearer token is a key (the service key, Alertmanager's token or a personal `tdk_`
/// key) rather than a session token.
fn is_key(state: &AppState, token: &str) -> bool {
    state.api_key.matches(token.as_bytes())
        || is_alertmanager_token(state, token)
        || token.starts_with(API_KEY_PREFIX)
}

fn is_alertmanager_token(state: &AppState, token: &str) -> bool {
    state
        .auth
        .config
        .alertmanager_token
        .as_ref()
        .is_some_and(|t| t.matches(token))
}

fn invalid_api_key() -> ApiError {
    ApiError::challenge("ApiKey", "INVALID_API_KEY", "Invalid API key")
}

fn invalid_session() -> ApiError {
    ApiError::challenge(
        "Bearer realm=\"taylordash\", error=\"invalid_token\"",
        "INVALID_TOKEN",
        "Invalid or expired session: log in again",
    )
}

async fn personal_key(state: &AppState, key: &str) -> Result<Principal, ApiError> {
    let Some((info, user)) = state.auth.identity.api_key_by_secret(key).await? else {
        return Err(invalid_api_key());
    };
    // The key never does more than its owner may do now (a demoted owner demotes the key).
    let role = info.scope.role().min(user.role);
    Ok(Principal {
        credential: Credential::ApiKey {
            id: info.id,
            scope: info.scope,
        },
        user: Some(user),
        role,
    })
}

async fn session(
    state: &AppState,
    token: &str,
    via_cookie: bool,
) -> Result<(Principal, CookieRefresh), ApiError> {
    let Some(Authenticated {
        session,
        user,
        extended,
    }) = state.auth.identity.session_by_token(token).await?
    else {
        return Err(invalid_session());
    };
    // Browser-session cookies (no Max-Age) need no refresh; "remember me" ones do.
    let ttl = Duration::seconds(session.ttl_seconds);
    let refresh = (extended && via_cookie && ttl > SESSION_TTL).then(|| (token.to_owned(), ttl));
    let principal = Principal {
        credential: Credential::Session {
            id: session.id,
            via_cookie,
        },
        role: user.role,
        user: Some(user),
    };
    Ok((principal, refresh))
}

/// The user a trusted proxy names in its headers, if forward-auth is on, the connection comes
/// from a trusted proxy and the user header is there. The account is found, linked or created
/// and its role follows the groups header (the identity service's `external_user`).
async fn forward_auth(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &Extensions,
) -> Result<Option<Principal>, ApiError> {
    let config = &state.auth.config;
    let Some(fa) = &config.forward_auth else {
        return Ok(None);
    };
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    if !peer.is_some_and(|ip| config.is_trusted_proxy(ip)) {
        return Ok(None);
    }
    let text = |name: &HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let Some(username) = text(&fa.user_header) else {
        return Ok(None);
    };
    let login = ExternalLogin {
        provider: FORWARD_AUTH_PROVIDER.to_owned(),
        subject: username.to_owned(),
        username: username.to_owned(),
        email: text(&fa.email_header)
            .filter(|e| e.chars().count() <= domain::EMAIL_MAX)
            .map(str::to_owned),
        groups: text(&fa.groups_header)
            .map(domain::split_groups)
            .unwrap_or_default(),
        method: services::identity::FORWARD_AUTH,
        interactive: false,
    };
    let client = ClientInfo::from_request(headers, extensions, config);
    let found = state
        .auth
        .identity
        .external_user(login, &config.external, &client.meta())
        .await?;
    Ok(Some(Principal {
        credential: Credential::ForwardAuth,
        role: found.user.role,
        user: Some(found.user),
    }))
}

/// The session token from the `Cookie` header(s), if present.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    super::oidc::cookie(headers, SESSION_COOKIE)
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{HeaderValue, StatusCode};
    use axum::middleware::from_fn_with_state;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;
    use crate::{ApiKey, Metrics};

    /// A route added without a rule is refused to everyone, the service key included; a route
    /// with one is served (which also shows the rule lookup sees the full nested path).
    #[tokio::test]
    async fn routes_without_a_rule_are_denied_by_default() {
        let db = testsupport::TestDb::sqlite().await;
        let key = "service-key-0123456789";
        let metrics = Metrics::new().unwrap();
        let bus =
            bus::EventBus::start(db.store.clone(), metrics.registry(), Default::default()).unwrap();
        let state = AppState::new(
            db.store.clone(),
            ApiKey::new(key),
            metrics,
            std::sync::Arc::new(bus),
        );
        let v1 = Router::new()
            .route("/unruled", get(|| async { "secret" }))
            .route("/projects", get(|| async { "listed" }))
            .route_layer(from_fn_with_state(state.clone(), authorize));
        let app = Router::new().nest("/api/v1", v1).with_state(state);
        let call = |path: &'static str| {
            app.clone().oneshot(
                Request::get(path)
                    .header(API_KEY_HEADER, key)
                    .body(Body::empty())
                    .unwrap(),
            )
        };
        assert_eq!(
            call("/api/v1/unruled").await.unwrap().status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            call("/api/v1/projects").await.unwrap().status(),
            StatusCode::OK
        );
    }

    #[test]
    fn session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; taylordash_session=abc; b=2"),
        );
        assert_eq!(session_cookie(&h).as_deref(), Some("abc"));
        let mut none = HeaderMap::new();
        none.append(
            header::COOKIE,
            HeaderValue::from_static("taylordash_sessionx=1"),
        );
        assert_eq!(session_cookie(&none), None);
    }
}
