//! First run without default credentials: while no admin exists, the server holds a one-time
//! random setup token (printed in its log as a URL); presenting it here creates the first admin
//! and logs them in. The token then stops working, and the endpoint refuses once any admin
//! exists (however it was created).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use domain::{AuditAction, Role};
use serde::{Deserialize, Serialize};
use serde_json::json;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::audit::{self, party};
use super::sessions::{LoginResponse, session_headers, start_session};
use super::token::{hash_token, random_token};
use super::users::{NewUserRequest, new_user};
use super::{AuthState, ClientInfo};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;

impl AuthState {
    /// Creates a new setup token (replacing any earlier one) and returns it; only its hash is
    /// kept.
    pub async fn issue_setup_token(&self) -> Result<String, getrandom::Error> {
        let token = random_token()?;
        *self.setup_token.lock().await = Some(hash_token(&token));
        Ok(token)
    }

    pub async fn setup_pending(&self) -> bool {
        self.setup_token.lock().await.is_some()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SetupStatus {
    /// No admin exists yet: the UI should offer first-run setup.
    pub setup_required: bool,
}

/// Whether first-run setup is needed.
#[utoipa::path(get, path = "/auth/setup", tag = "auth",
    responses((status = 200, body = SetupStatus)))]
pub async fn status(State(state): State<AppState>) -> ApiResult<axum::Json<SetupStatus>> {
    Ok(axum::Json(SetupStatus {
        setup_required: state.store.count_active_admins().await? == 0,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SetupRequest {
    /// The token from the setup URL in the server log.
    pub token: String,
    pub username: String,
    /// 12-1024 characters, not a common password.
    pub password: String,
}

/// Create the first admin with the one-time setup token, and log in as them.
#[utoipa::path(post, path = "/auth/setup", tag = "auth",
    request_body = SetupRequest,
    responses(
        (status = 201, body = LoginResponse),
        (status = 403, description = "Wrong or used setup token (INVALID_SETUP_TOKEN)", body = crate::error::ErrorBody),
        (status = 409, description = "An admin already exists (SETUP_COMPLETE)", body = crate::error::ErrorBody),
    ))]
pub async fn complete(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<SetupRequest>,
) -> ApiResult<(StatusCode, HeaderMap, axum::Json<LoginResponse>)> {
    // Held until the admin exists, so two attempts with the token cannot both succeed.
    let mut pending = state.auth.setup_token.lock().await;
    let valid = pending
        .as_deref()
        .is_some_and(|h| bool::from(h.as_bytes().ct_eq(hash_token(&body.token).as_bytes())));
    if !valid {
        return Err(ApiError::forbidden(
            "INVALID_SETUP_TOKEN",
            "this setup token is wrong or was already used; an admin can add users, or run \
             `taylordash user add --role admin NAME` on the server",
        ));
    }
    let new = new_user(
        &state,
        NewUserRequest {
            username: body.username,
            password: body.password,
            role: Role::Admin,
            default_view: None,
            single_view_mode: false,
        },
        None,
    )
    .await?;
    let created = state.store.create_first_admin(new, state.auth.now()).await;
    let user = match created {
        Ok(user) => user,
        Err(e) => {
            if matches!(e, storage::StoreError::AdminExists) {
                *pending = None;
            }
            return Err(e.into());
        }
    };
    *pending = None;
    drop(pending);
    audit::record(
        &state,
        AuditAction::SetupTokenUsed,
        party(&user),
        party(&user),
        &client,
        json!({}),
    )
    .await;
    audit::record(
        &state,
        AuditAction::UserCreated,
        party(&user),
        party(&user),
        &client,
        json!({"role": user.role, "via": "setup"}),
    )
    .await;
    let (token, session) = start_session(&state, &user, false, &client).await?;
    Ok((
        StatusCode::CREATED,
        session_headers(&token, None, &client),
        axum::Json(LoginResponse {
            user_id: user.id,
            username: user.username,
            role: user.role,
            session_token: token,
            expires_at: session.expires_at,
            single_view_mode: false,
            default_view: user.default_view,
        }),
    ))
}
