//! Login, logout, "who am I", and your own sessions; v1's body and response shapes. The work is
//! the identity service's (`services::identity`); here the session token becomes a body field
//! for API clients and an HttpOnly, SameSite=Strict cookie for the browser.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use chrono::{DateTime, Duration, Utc};
use domain::Role;
use serde::{Deserialize, Serialize};
use services::identity::{self, NewLogin};
use utoipa::ToSchema;
use uuid::Uuid;

use super::users::UserInfo;
use super::{ClientInfo, Credential, SESSION_COOKIE, SignedIn};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, Json};
use crate::wire::RoleSchema;

/// v1's login body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// Keep the session for 30 days of inactivity instead of 24 hours.
    #[serde(default)]
    pub remember_me: bool,
    /// Kiosk mode for this (non-admin) user, remembered on the account as in v1.
    #[serde(default)]
    pub single_view_mode: bool,
    pub default_view: Option<String>,
}

/// v1's login response; `expires_at` carries its timezone.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub user_id: Uuid,
    pub username: String,
    #[schema(value_type = RoleSchema)]
    pub role: Role,
    /// Send as `Authorization: Bearer <token>`; browsers also get it as an HttpOnly cookie.
    pub session_token: String,
    pub expires_at: DateTime<Utc>,
    pub single_view_mode: bool,
    pub default_view: Option<String>,
}

/// Log in with a username and password.
///
/// Wrong credentials are 401 whether or not the user exists. After 5 failures for a username
/// (or 20 from one address) within 15 minutes, logins are refused with 429 and `Retry-After`
/// for 15 minutes, doubling with each further failure. An account with two-factor sign-in
/// (or an admin who must set it up) gets 202 and a challenge instead of a session: finish with
/// `POST /auth/login/second-factor`.
#[utoipa::path(post, path = "/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse, headers(("Set-Cookie" = String))),
        (status = 202, description = "Password right; a second factor is needed", body = super::second_factor::SecondFactorChallenge),
        (status = 401, description = "Invalid username or password (INVALID_CREDENTIALS)", body = crate::error::ErrorBody),
        (status = 403, description = "Password sign-in is turned off (PASSWORD_SIGN_IN_DISABLED)", body = crate::error::ErrorBody),
        (status = 429, description = "Too many failed logins (TOO_MANY_ATTEMPTS); see Retry-After", body = crate::error::ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<LoginRequest>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let outcome = state
        .auth
        .identity
        .login(
            identity::LoginRequest {
                username: body.username,
                password: body.password,
                remember_me: body.remember_me,
                single_view_mode: body.single_view_mode,
                default_view: body.default_view,
            },
            &client.meta(),
        )
        .await?;
    match outcome {
        identity::LoginOutcome::SignedIn(login) => {
            let headers = session_headers(&login.token, login.keep_for(), &client);
            Ok((headers, axum::Json(LoginResponse::from(*login))).into_response())
        }
        identity::LoginOutcome::SecondFactor(pending) => {
            let mut headers = HeaderMap::new();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            let body = super::second_factor::SecondFactorChallenge {
                challenge_token: pending.token,
                expires_at: pending.expires_at,
                second_factor: pending.step.to_owned(),
                passkey: pending.passkey,
            };
            Ok((StatusCode::ACCEPTED, headers, axum::Json(body)).into_response())
        }
    }
}

impl From<NewLogin> for LoginResponse {
    fn from(login: NewLogin) -> Self {
        let user = login.user;
        LoginResponse {
            user_id: user.id,
            username: user.username,
            role: user.role,
            session_token: login.token,
            expires_at: login.session.expires_at,
            single_view_mode: user.single_view_mode && user.role != Role::Admin,
            default_view: user.default_view,
        }
    }
}

/// `Set-Cookie` for a new session (a browser-session cookie unless `max_age`), and no caching
/// of the response that carries the token.
pub(crate) fn session_headers(
    token: &str,
    max_age: Option<Duration>,
    client: &ClientInfo,
) -> HeaderMap {
    let mut cookie = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={}", age.num_seconds()));
    }
    if client.https {
        cookie.push_str("; Secure");
    }
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers
}

fn clear_cookie(client: &ClientInfo) -> HeaderMap {
    let mut cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    if client.https {
        cookie.push_str("; Secure");
    }
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, value);
    }
    headers
}

/// v1's logout answer, and where to send the browser next.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogoutResponse {
    #[schema(example = "Logged out successfully")]
    pub message: String,
    /// Signed in through an OpenID provider that offers RP-initiated logout: its
    /// `end_session_endpoint` (with the ID token as hint), where the browser should go next to
    /// end the provider's session too. Absent otherwise (v1's answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logout_url: Option<String>,
}

/// End this session (v1). The browser's cookie is cleared too; after a single sign-on,
/// `logout_url` is the provider's logout page.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses(
        (status = 200, body = LogoutResponse),
        (status = 400, description = "Not a session (NOT_A_SESSION)", body = crate::error::ErrorBody),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    me: SignedIn,
    client: ClientInfo,
    request: HeaderMap,
) -> ApiResult<(HeaderMap, axum::Json<LogoutResponse>)> {
    let Some(id) = me.session_id() else {
        return Err(ApiError::bad_request(
            "NOT_A_SESSION",
            "this request is authenticated by an API key, not a session; revoke keys with \
             DELETE /api/v1/auth/api-keys/{key_id}",
        ));
    };
    state
        .auth
        .identity
        .logout(&me.actor(), &me.user, id, &client.meta())
        .await?;
    let logout_url = super::oidc::logout_url(&state, &request).await?;
    let mut headers = clear_cookie(&client);
    super::oidc::clear_logout_hint(&mut headers, &client);
    Ok((
        headers,
        axum::Json(LogoutResponse {
            message: "Logged out successfully".into(),
            logout_url,
        }),
    ))
}

/// `GET /auth/me`: v1's `UserInfo` plus when the calling session ends.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    #[serde(flatten)]
    pub user: UserInfo,
    /// When the calling session ends if unused (sessions slide: a request more than a minute
    /// after the last one extends it by its idle lifetime, as this request just did). The UI
    /// warns before it; absent for API keys and the service key.
    pub session_expires_at: Option<DateTime<Utc>>,
    /// How this request is signed in.
    pub signed_in_by: SignedInBy,
    /// Signed in by a forward-auth proxy: its logout page, where "Sign out" sends the browser
    /// (ending the proxy's sign-in; a TaylorDash logout alone would not).
    pub logout_url: Option<String>,
}

/// How a request is signed in (`GET /auth/me`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignedInBy {
    /// A session begun with a local password (and a second factor if the account has one).
    Password,
    /// A session begun at an OpenID provider (single sign-on).
    Oidc,
    /// A session begun with a passkey alone (passwordless).
    Passkey,
    /// A session begun before the server recorded how sessions begin.
    Session,
    /// A personal API key or the service key.
    ApiKey,
    /// A trusted proxy's identity headers (forward-auth).
    ForwardAuth,
}

impl From<Option<domain::SignInMethod>> for SignedInBy {
    fn from(method: Option<domain::SignInMethod>) -> SignedInBy {
        match method {
            Some(domain::SignInMethod::Password) => SignedInBy::Password,
            Some(domain::SignInMethod::Oidc) => SignedInBy::Oidc,
            Some(domain::SignInMethod::Passkey) => SignedInBy::Passkey,
            None => SignedInBy::Session,
        }
    }
}

/// Who you are (v1's `UserInfo`) and when your session ends. Calling it also extends the
/// session, which is how the UI's "stay signed in" works.
#[utoipa::path(get, path = "/auth/me", tag = "auth",
    responses((status = 200, body = Me)))]
pub async fn me(State(state): State<AppState>, me: SignedIn) -> ApiResult<axum::Json<Me>> {
    let session = match me.session_id() {
        Some(id) => state
            .auth
            .identity
            .sessions(me.user.id)
            .await?
            .into_iter()
            .find(|s| s.id == id),
        None => None,
    };
    let session_expires_at = session.as_ref().map(|s| s.expires_at);
    let (signed_in_by, logout_url) = match me.credential {
        Credential::Session { .. } => (session.and_then(|s| s.sign_in_method).into(), None),
        // (Alertmanager's token never gets here: it has no user, and `/auth/me` refuses it.)
        Credential::ApiKey { .. } | Credential::ServiceKey | Credential::Alertmanager => {
            (SignedInBy::ApiKey, None)
        }
        Credential::ForwardAuth => (
            SignedInBy::ForwardAuth,
            state
                .auth
                .config
                .forward_auth
                .as_ref()
                .and_then(|f| f.logout_url.clone()),
        ),
    };
    Ok(axum::Json(Me {
        user: me.user.into(),
        session_expires_at,
        signed_in_by,
        logout_url,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_activity: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// The session making this request.
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionInfo>,
    pub count: usize,
}

/// Your live sessions, newest first.
#[utoipa::path(get, path = "/auth/sessions", tag = "auth",
    responses((status = 200, body = SessionList)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    me: SignedIn,
) -> ApiResult<axum::Json<SessionList>> {
    let current = me.session_id();
    let sessions: Vec<SessionInfo> = state
        .auth
        .identity
        .sessions(me.user.id)
        .await?
        .into_iter()
        .map(|s| SessionInfo {
            current: Some(s.id) == current,
            id: s.id,
            created_at: s.created_at,
            last_activity: s.last_activity,
            expires_at: s.expires_at,
            ip_address: s.ip_address,
            user_agent: s.user_agent,
        })
        .collect();
    Ok(axum::Json(SessionList {
        count: sessions.len(),
        sessions,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    pub message: String,
    pub revoked: u64,
}

/// End all your sessions except the one making this request.
#[utoipa::path(delete, path = "/auth/sessions", tag = "auth",
    responses((status = 200, body = Revoked)))]
pub async fn revoke_other_sessions(
    State(state): State<AppState>,
    me: SignedIn,
    client: ClientInfo,
) -> ApiResult<axum::Json<Revoked>> {
    let revoked = state
        .auth
        .identity
        .revoke_other_sessions(&me.actor(), &me.user, me.session_id(), &client.meta())
        .await?;
    Ok(axum::Json(Revoked {
        message: format!("Revoked {revoked} sessions"),
        revoked,
    }))
}

/// End one of your sessions.
#[utoipa::path(delete, path = "/auth/sessions/{session_id}", tag = "auth",
    params(("session_id" = Uuid, Path)),
    responses((status = 204, description = "Revoked")))]
pub async fn revoke_session(
    State(state): State<AppState>,
    me: SignedIn,
    client: ClientInfo,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    state
        .auth
        .identity
        .revoke_session(&me.actor(), &me.user, id, &client.meta())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cleanup {
    #[schema(example = "Cleaned up 3 expired sessions")]
    pub message: String,
    pub deleted: u64,
}

/// Delete expired and revoked sessions (v1's cron endpoint; admin or service key).
#[utoipa::path(delete, path = "/auth/sessions/cleanup", tag = "auth",
    responses((status = 200, body = Cleanup)))]
pub async fn cleanup(State(state): State<AppState>) -> ApiResult<axum::Json<Cleanup>> {
    let deleted = state.auth.identity.delete_expired_sessions().await?;
    Ok(axum::Json(Cleanup {
        message: format!("Cleaned up {deleted} expired sessions"),
        deleted,
    }))
}
