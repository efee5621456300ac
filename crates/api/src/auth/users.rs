//! `/api/v1/auth/users` (admin) and `PUT /api/v1/auth/me/password`, with v1's paths, bodies and
//! status codes.

use axum::Extension;
use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::{AuditAction, NewUser, Role, User, UserPatch, check_password_policy};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::audit::{self, actor, party};
use super::password::{self, Verified};
use super::{ClientInfo, Principal};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, Json};
use crate::wire::RoleSchema;

/// v1's `UserInfo`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserInfo {
    pub id: Uuid,
    pub username: String,
    #[schema(value_type = RoleSchema)]
    pub role: Role,
    pub default_view: Option<String>,
    pub single_view_mode: bool,
    pub created_at: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
    pub is_active: bool,
    pub created_by: Option<Uuid>,
}

impl From<User> for UserInfo {
    fn from(u: User) -> Self {
        UserInfo {
            id: u.id,
            username: u.username,
            role: u.role,
            default_view: u.default_view,
            single_view_mode: u.single_view_mode,
            created_at: u.created_at,
            last_login: u.last_login,
            is_active: u.is_active,
            created_by: u.created_by,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserCreate {
    /// 1-64 characters, no spaces; unique regardless of letter case.
    pub username: String,
    /// 12-1024 characters, not a common password.
    pub password: String,
    #[serde(default)]
    #[schema(value_type = Option<RoleSchema>)]
    pub role: Role,
    pub default_view: Option<String>,
    /// Kiosk mode (not for admins).
    #[serde(default)]
    pub single_view_mode: bool,
}

/// Partial update: omitted or null fields keep their value; an empty `default_view` clears it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UserUpdate {
    #[schema(value_type = Option<RoleSchema>)]
    pub role: Option<Role>,
    pub default_view: Option<String>,
    pub single_view_mode: Option<bool>,
    pub is_active: Option<bool>,
    /// A new password (the policy applies); ends the user's sessions.
    pub password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub message: String,
}

/// All users, newest first (bare array, as in v1).
#[utoipa::path(get, path = "/auth/users", tag = "auth",
    responses((status = 200, body = Vec<UserInfo>)))]
pub async fn list(State(state): State<AppState>) -> ApiResult<axum::Json<Vec<UserInfo>>> {
    let users = state.store.list_users().await?;
    Ok(axum::Json(users.into_iter().map(Into::into).collect()))
}

/// Create a user (admin).
#[utoipa::path(post, path = "/auth/users", tag = "auth",
    request_body = UserCreate,
    responses(
        (status = 200, body = UserInfo),
        (status = 409, description = "Username already exists (USERNAME_TAKEN)", body = crate::error::ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    client: ClientInfo,
    Json(body): Json<UserCreate>,
) -> ApiResult<axum::Json<UserInfo>> {
    let user = create_user(
        &state,
        NewUserRequest {
            username: body.username,
            password: body.password,
            role: body.role,
            default_view: body.default_view,
            single_view_mode: body.single_view_mode,
        },
        &principal,
        &client,
    )
    .await?;
    Ok(axum::Json(user.into()))
}

pub(crate) struct NewUserRequest {
    pub username: String,
    pub password: String,
    pub role: Role,
    pub default_view: Option<String>,
    pub single_view_mode: bool,
}

/// Validates, hashes and stores a new user, and audits it.
pub(crate) async fn create_user(
    state: &AppState,
    req: NewUserRequest,
    principal: &Principal,
    client: &ClientInfo,
) -> ApiResult<User> {
    let new = new_user(state, req, principal.user_id()).await?;
    let user = state.store.create_user(new, state.auth.now()).await?;
    audit::record(
        state,
        AuditAction::UserCreated,
        actor(principal),
        party(&user),
        client,
        json!({"role": user.role}),
    )
    .await;
    Ok(user)
}

/// The validated, hashed form of a new-user request.
pub(crate) async fn new_user(
    state: &AppState,
    req: NewUserRequest,
    created_by: Option<Uuid>,
) -> ApiResult<NewUser> {
    let username = domain::validate_username(&req.username)?;
    check_password_policy(&req.password, &username)?;
    let password_hash = password::hash(req.password, state.auth.config.password_cost).await?;
    // Kiosk mode is for shared screens, not for administration (v1's rule).
    let single_view_mode = req.single_view_mode && req.role != Role::Admin;
    Ok(NewUser {
        username,
        password_hash,
        role: req.role,
        default_view: req.default_view,
        single_view_mode,
        created_by,
    })
}

/// Update a user (admin). Changing the role or password, or deactivating, ends the user's
/// sessions; no change may leave the installation without an active admin.
#[utoipa::path(put, path = "/auth/users/{user_id}", tag = "auth",
    params(("user_id" = Uuid, Path)),
    request_body = UserUpdate,
    responses(
        (status = 200, body = UserInfo),
        (status = 400, description = "No updates provided (NO_UPDATES)", body = crate::error::ErrorBody),
        (status = 409, description = "Would leave no active admin (LAST_ADMIN)", body = crate::error::ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    client: ClientInfo,
    Id(id): Id,
    Json(body): Json<UserUpdate>,
) -> ApiResult<axum::Json<UserInfo>> {
    let password_hash = match body.password {
        Some(pw) => {
            let target = state.store.get_user(id).await?;
            check_password_policy(&pw, &target.username)?;
            Some(password::hash(pw, state.auth.config.password_cost).await?)
        }
        None => None,
    };
    let patch = UserPatch {
        role: body.role,
        default_view: body.default_view.map(|v| Some(v).filter(|v| !v.is_empty())),
        single_view_mode: body.single_view_mode,
        is_active: body.is_active,
        password_hash,
    };
    if patch.is_empty() {
        return Err(ApiError::bad_request("NO_UPDATES", "No updates provided"));
    }
    let (user, changes) = state
        .store
        .update_user(id, patch, state.auth.now(), None)
        .await?;
    let who = actor(&principal);
    if let Some((old, new)) = changes.role {
        let details = json!({"old_role": old, "new_role": new});
        audit::record(
            &state,
            AuditAction::RoleChanged,
            who.clone(),
            party(&user),
            &client,
            details,
        )
        .await;
    }
    if changes.password {
        audit::record(
            &state,
            AuditAction::PasswordChanged,
            who.clone(),
            party(&user),
            &client,
            json!({}),
        )
        .await;
    }
    if !changes.fields.is_empty() {
        let details =
            json!({"fields": changes.fields, "sessions_revoked": changes.revokes_sessions()});
        audit::record(
            &state,
            AuditAction::UserUpdated,
            who,
            party(&user),
            &client,
            details,
        )
        .await;
    }
    Ok(axum::Json(user.into()))
}

/// Delete a user (admin); their sessions and API keys go too, the audit trail stays.
#[utoipa::path(delete, path = "/auth/users/{user_id}", tag = "auth",
    params(("user_id" = Uuid, Path)),
    responses(
        (status = 200, body = Message),
        (status = 400, description = "Cannot delete your own account (CANNOT_DELETE_SELF)", body = crate::error::ErrorBody),
        (status = 409, description = "Would leave no active admin (LAST_ADMIN)", body = crate::error::ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    client: ClientInfo,
    Id(id): Id,
) -> ApiResult<axum::Json<Message>> {
    if principal.user_id() == Some(id) {
        return Err(ApiError::bad_request(
            "CANNOT_DELETE_SELF",
            "Cannot delete your own account",
        ));
    }
    let user = state.store.delete_user(id).await?;
    audit::record(
        &state,
        AuditAction::UserDeleted,
        actor(&principal),
        party(&user),
        &client,
        json!({"role": user.role}),
    )
    .await;
    Ok(axum::Json(Message {
        message: format!("User {} deleted successfully", user.username),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    pub current_password: String,
    /// 12-1024 characters, not a common password.
    pub new_password: String,
}

/// Change your own password. Your other sessions end; this one stays.
#[utoipa::path(put, path = "/auth/me/password", tag = "auth",
    request_body = PasswordChange,
    responses(
        (status = 200, body = Message),
        (status = 400, description = "Current password is wrong (INVALID_CURRENT_PASSWORD)", body = crate::error::ErrorBody),
        (status = 429, description = "Too many wrong passwords (TOO_MANY_ATTEMPTS)", body = crate::error::ErrorBody),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    client: ClientInfo,
    Json(body): Json<PasswordChange>,
) -> ApiResult<axum::Json<Message>> {
    let Some(me) = &principal.user else {
        return Err(ApiError::forbidden("USER_REQUIRED", "not a user"));
    };
    // Guessing the current password through a stolen session is throttled like logins.
    let keys = super::sessions::throttle_keys(&me.username, &client);
    super::sessions::check_throttle(&state, &keys).await?;
    let creds = state.store.get_credentials(me.id).await?;
    let cost = state.auth.config.password_cost;
    if password::verify(body.current_password, creds.password_hash, cost).await == Verified::No {
        super::sessions::record_failure(&state, &keys).await;
        return Err(ApiError::bad_request(
            "INVALID_CURRENT_PASSWORD",
            "the current password is wrong",
        ));
    }
    check_password_policy(&body.new_password, &me.username)?;
    let hash = password::hash(body.new_password, cost).await?;
    let patch = UserPatch {
        password_hash: Some(hash),
        ..UserPatch::default()
    };
    state
        .store
        .update_user(me.id, patch, state.auth.now(), principal.session_id())
        .await?;
    audit::record(
        &state,
        AuditAction::PasswordChanged,
        actor(&principal),
        party(me),
        &client,
        json!({"self": true}),
    )
    .await;
    Ok(axum::Json(Message {
        message: "Password changed; your other sessions have ended".into(),
    }))
}

/// Creates a user outside any request — from the command line or the unattended-install
/// settings — with the same policy, hashing and audit entry as the API. `via` names the origin
/// in the audit trail (e.g. "command line").
pub async fn provision(
    state: &AppState,
    username: &str,
    password: String,
    role: Role,
    via: &str,
) -> ApiResult<User> {
    let new = new_user(
        state,
        NewUserRequest {
            username: username.to_owned(),
            password,
            role,
            default_view: None,
            single_view_mode: false,
        },
        None,
    )
    .await?;
    let user = state.store.create_user(new, state.auth.now()).await?;
    audit::record(
        state,
        AuditAction::UserCreated,
        (None, Some(via.to_owned())),
        party(&user),
        &ClientInfo::default(),
        json!({"role": user.role, "via": via}),
    )
    .await;
    Ok(user)
}
