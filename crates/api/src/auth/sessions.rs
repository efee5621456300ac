//! Login, logout, "who am I", and your own sessions; v1's body and response shapes.
//!
//! A session token is 256 random bits, given to the client once (in the body for API clients,
//! and as an HttpOnly, SameSite=Strict cookie for the browser) and stored only as its SHA-256.
//! Sessions slide: each use moves the end to `ttl` after now (24 h, or 30 days with
//! "remember me").

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use chrono::{DateTime, Duration, Utc};
use domain::{
    AuditAction, NewSession, Role, Session, User, throttle_key_for_address,
    throttle_key_for_username,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use storage::LoginUpdate;
use utoipa::ToSchema;
use uuid::Uuid;

use super::audit::{self, actor, party};
use super::password::{self, Verified};
use super::token::{hash_token, random_token};
use super::users::{Message, UserInfo};
use super::{ClientInfo, Credential, Principal, SESSION_COOKIE};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, Json};
use crate::wire::RoleSchema;

pub const SESSION_TTL: Duration = Duration::hours(24);
pub const REMEMBER_ME_TTL: Duration = Duration::days(30);

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
/// for 15 minutes, doubling with each further failure.
#[utoipa::path(post, path = "/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse, headers(("Set-Cookie" = String))),
        (status = 401, description = "Invalid username or password (INVALID_CREDENTIALS)", body = crate::error::ErrorBody),
        (status = 429, description = "Too many failed logins (TOO_MANY_ATTEMPTS); see Retry-After", body = crate::error::ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<LoginRequest>,
) -> ApiResult<(HeaderMap, axum::Json<LoginResponse>)> {
    let keys = throttle_keys(&body.username, &client);
    let attempted = Some(
        body.username
            .chars()
            .take(domain::USERNAME_MAX)
            .collect::<String>(),
    );
    if let Err(e) = check_throttle(&state, &keys).await {
        audit::record(
            &state,
            AuditAction::LoginLocked,
            (None, attempted.clone()),
            (None, attempted),
            &client,
            json!({}),
        )
        .await;
        return Err(e);
    }
    let cost = state.auth.config.password_cost;
    let found = state.store.find_credentials(&body.username).await?;
    // Unknown users cost the same hash verification as known ones, so the answer's timing
    // does not tell whether the name exists.
    let (user, verified) = match found {
        Some(c) => {
            let v = password::verify(body.password.clone(), c.password_hash, cost).await;
            (Some(c.user), v)
        }
        None => {
            let dummy = dummy_hash(&state).await?;
            password::verify(body.password.clone(), dummy, cost).await;
            (None, Verified::No)
        }
    };
    let user = match user {
        Some(user) if verified.ok() && user.is_active => user,
        user => {
            record_failure(&state, &keys).await;
            let target = user.as_ref().map_or((None, attempted.clone()), party);
            audit::record(
                &state,
                AuditAction::LoginFailed,
                (None, attempted),
                target,
                &client,
                json!({}),
            )
            .await;
            return Err(ApiError::unauthorized(
                "INVALID_CREDENTIALS",
                "Invalid username or password",
            ));
        }
    };
    if let Err(e) = state
        .store
        .clear_login_failures(&throttle_key_for_username(&user.username))
        .await
    {
        tracing::warn!(error = %e, "could not reset the login throttle");
    }
    // An imported v1 bcrypt hash (or one made with older parameters) is replaced now, while the
    // password is at hand.
    let rehashed_password = match verified {
        Verified::YesNeedsRehash => Some(password::hash(body.password, cost).await?),
        _ => None,
    };
    // v1: kiosk settings chosen at login are remembered for non-admins; admins never kiosk.
    let kiosk = (user.role != Role::Admin
        && (body.single_view_mode || body.default_view.is_some()))
    .then_some((body.single_view_mode, body.default_view));
    let user = state
        .store
        .record_login(
            user.id,
            state.auth.now(),
            LoginUpdate {
                rehashed_password,
                kiosk,
            },
        )
        .await?;
    let (token, session) = start_session(&state, &user, body.remember_me, &client).await?;
    audit::record(
        &state,
        AuditAction::LoginSuccess,
        party(&user),
        party(&user),
        &client,
        json!({"session_id": session.id, "remember_me": body.remember_me}),
    )
    .await;
    let headers = session_headers(&token, body.remember_me.then_some(REMEMBER_ME_TTL), &client);
    Ok((
        headers,
        axum::Json(LoginResponse {
            user_id: user.id,
            username: user.username,
            role: user.role,
            session_token: token,
            expires_at: session.expires_at,
            single_view_mode: user.single_view_mode && user.role != Role::Admin,
            default_view: user.default_view,
        }),
    ))
}

/// Creates a session for `user`; returns the token (never stored) and the session.
pub(crate) async fn start_session(
    state: &AppState,
    user: &User,
    remember_me: bool,
    client: &ClientInfo,
) -> ApiResult<(String, Session)> {
    let token = random_token().map_err(ApiError::internal)?;
    let now = state.auth.now();
    let ttl = if remember_me {
        REMEMBER_ME_TTL
    } else {
        SESSION_TTL
    };
    let session = Session {
        id: Uuid::new_v4(),
        user_id: user.id,
        created_at: now,
        last_activity: now,
        expires_at: now + ttl,
        ttl_seconds: ttl.num_seconds(),
        ip_address: client.ip_string(),
        user_agent: client.user_agent.clone(),
    };
    state
        .store
        .create_session(NewSession {
            session: session.clone(),
            token_hash: hash_token(&token),
        })
        .await?;
    Ok((token, session))
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

/// The argon2id hash verified for unknown usernames (made once, with the current parameters).
async fn dummy_hash(state: &AppState) -> ApiResult<String> {
    let cost = state.auth.config.password_cost;
    state
        .auth
        .dummy_hash
        .get_or_try_init(|| async {
            let filler = random_token().map_err(ApiError::internal)?;
            password::hash(filler, cost).await
        })
        .await
        .cloned()
}

/// The throttle counters a login attempt counts against: the username, and the client address
/// when known.
pub(crate) fn throttle_keys(username: &str, client: &ClientInfo) -> Vec<String> {
    // Longer names cannot exist; capping keeps the key short whatever a client sends.
    let name: String = username.chars().take(domain::USERNAME_MAX + 1).collect();
    let mut keys = vec![throttle_key_for_username(&name)];
    if let Some(ip) = client.ip {
        keys.push(throttle_key_for_address(ip));
    }
    keys
}

/// 429 with `Retry-After` while any of `keys` is locked.
pub(crate) async fn check_throttle(state: &AppState, keys: &[String]) -> ApiResult<()> {
    let now = state.auth.now();
    if let Some(until) = state.store.throttle_locked_until(keys, now).await? {
        let secs = (until - now).num_seconds().max(1);
        return Err(ApiError::too_many_requests(
            "TOO_MANY_ATTEMPTS",
            format!(
                "Too many failed logins; try again in {} minutes",
                (secs + 59) / 60
            ),
            u64::try_from(secs).unwrap_or(1),
        ));
    }
    Ok(())
}

/// Counts a failed attempt against every key.
pub(crate) async fn record_failure(state: &AppState, keys: &[String]) {
    let now = state.auth.now();
    for key in keys {
        let policy = if key.starts_with("ip:") {
            state.auth.config.per_address
        } else {
            state.auth.config.per_username
        };
        if let Err(e) = state.store.record_login_failure(key, policy, now).await {
            tracing::error!(error = %e, "could not count a failed login");
        }
    }
}

/// End this session (v1). The browser's cookie is cleared too.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses(
        (status = 200, body = Message),
        (status = 400, description = "Not a session (NOT_A_SESSION)", body = crate::error::ErrorBody),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    client: ClientInfo,
) -> ApiResult<(HeaderMap, axum::Json<Message>)> {
    let (Credential::Session { id, .. }, Some(user)) = (&principal.credential, &principal.user)
    else {
        return Err(ApiError::bad_request(
            "NOT_A_SESSION",
            "this request is authenticated by an API key, not a session; revoke keys with              DELETE /api/v1/auth/api-keys/{key_id}",
        ));
    };
    state
        .store
        .revoke_session(user.id, *id, state.auth.now())
        .await?;
    audit::record(
        &state,
        AuditAction::Logout,
        actor(&principal),
        party(user),
        &client,
        json!({"session_id": id}),
    )
    .await;
    Ok((
        clear_cookie(&client),
        axum::Json(Message {
            message: "Logged out successfully".into(),
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
}

/// Who you are (v1's `UserInfo`) and when your session ends. Calling it also extends the
/// session, which is how the UI's "stay signed in" works.
#[utoipa::path(get, path = "/auth/me", tag = "auth",
    responses((status = 200, body = Me)))]
pub async fn me(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> ApiResult<axum::Json<Me>> {
    let user = principal
        .user
        .ok_or_else(|| ApiError::forbidden("USER_REQUIRED", "not a user"))?;
    let session_expires_at = match principal.credential {
        Credential::Session { id, .. } => state
            .store
            .list_sessions(user.id, state.auth.now())
            .await?
            .into_iter()
            .find(|s| s.id == id)
            .map(|s| s.expires_at),
        _ => None,
    };
    Ok(axum::Json(Me {
        user: user.into(),
        session_expires_at,
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
    Extension(principal): Extension<Principal>,
) -> ApiResult<axum::Json<SessionList>> {
    let me = principal
        .user_id()
        .ok_or_else(|| ApiError::forbidden("USER_REQUIRED", "not a user"))?;
    let current = principal.session_id();
    let sessions: Vec<SessionInfo> = state
        .store
        .list_sessions(me, state.auth.now())
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
    Extension(principal): Extension<Principal>,
    client: ClientInfo,
) -> ApiResult<axum::Json<Revoked>> {
    let Some(me) = &principal.user else {
        return Err(ApiError::forbidden("USER_REQUIRED", "not a user"));
    };
    let revoked = state
        .store
        .revoke_sessions(me.id, principal.session_id(), state.auth.now())
        .await?;
    audit::record(
        &state,
        AuditAction::SessionRevoked,
        actor(&principal),
        party(me),
        &client,
        json!({"count": revoked, "kept": principal.session_id()}),
    )
    .await;
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
    Extension(principal): Extension<Principal>,
    client: ClientInfo,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let Some(me) = &principal.user else {
        return Err(ApiError::forbidden("USER_REQUIRED", "not a user"));
    };
    state
        .store
        .revoke_session(me.id, id, state.auth.now())
        .await?;
    audit::record(
        &state,
        AuditAction::SessionRevoked,
        actor(&principal),
        party(me),
        &client,
        json!({"session_id": id}),
    )
    .await;
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
    let deleted = state
        .store
        .delete_expired_sessions(state.auth.now())
        .await?;
    Ok(axum::Json(Cleanup {
        message: format!("Cleaned up {deleted} expired sessions"),
        deleted,
    }))
}
