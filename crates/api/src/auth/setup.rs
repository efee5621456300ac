//! First run without default credentials (`services::identity`'s setup token): presenting the
//! token printed in the server log creates the first admin and logs them in.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ClientInfo;
use super::sessions::{LoginResponse, session_headers};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::Json;

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
        setup_required: state.auth.identity.setup_required().await?,
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
    let login = state
        .auth
        .identity
        .complete_setup(&body.token, body.username, body.password, &client.meta())
        .await?;
    Ok((
        StatusCode::CREATED,
        session_headers(&login.token, login.keep_for(), &client),
        axum::Json(login.into()),
    ))
}
