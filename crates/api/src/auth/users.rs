//! `/api/v1/auth/users` (admin) and `PUT /api/v1/auth/me/password`, with v1's paths, bodies and
//! status codes.

use axum::Extension;
use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::{Role, User};
use serde::{Deserialize, Serialize};
use services::identity::{self, NewUserRequest};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ClientInfo, Principal, SignedIn};
use crate::AppState;
use crate::error::ApiResult;
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
    /// Viewer when left out (or null).
    #[schema(value_type = Option<RoleSchema>)]
    pub role: Option<Role>,
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
    let user = state
        .auth
        .identity
        .create_user(
            NewUserRequest {
                username: body.username,
                password: body.password,
                role: body.role.unwrap_or_default(),
                default_view: body.default_view,
                single_view_mode: body.single_view_mode,
            },
            &principal.actor(),
            &client.meta(),
        )
        .await?;
    Ok(axum::Json(user.into()))
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
    let update = identity::UserUpdate {
        role: body.role,
        default_view: body.default_view,
        single_view_mode: body.single_view_mode,
        is_active: body.is_active,
        password: body.password,
    };
    let user = state
        .auth
        .identity
        .update_user(id, update, &principal.actor(), &client.meta())
        .await?;
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
    let user = state
        .auth
        .identity
        .delete_user(id, &principal.actor(), &client.meta())
        .await?;
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
    me: SignedIn,
    client: ClientInfo,
    Json(body): Json<PasswordChange>,
) -> ApiResult<axum::Json<Message>> {
    state
        .auth
        .identity
        .change_password(
            &me.user,
            body.current_password,
            body.new_password,
            me.session_id(),
            &client.meta(),
        )
        .await?;
    Ok(axum::Json(Message {
        message: "Password changed; your other sessions have ended".into(),
    }))
}
