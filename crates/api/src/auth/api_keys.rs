//! Personal API keys (`services::identity`): named, scoped (never above the owner's role),
//! optionally expiring; the key is shown once at creation and stored only as its SHA-256.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::{ApiKeyInfo, Scope};
use serde::{Deserialize, Serialize};
use services::identity::NewKeyRequest;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{ClientInfo, Principal, SignedIn};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Id, Json, Query};
use crate::wire::ScopeSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyResponse {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// The start of the key, to recognize it.
    #[schema(example = "tdk_1a2b3c4d")]
    pub prefix: String,
    #[schema(value_type = ScopeSchema)]
    pub scope: Scope,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyInfo> for ApiKeyResponse {
    fn from(k: ApiKeyInfo) -> Self {
        ApiKeyResponse {
            id: k.id,
            user_id: k.user_id,
            name: k.name,
            prefix: k.prefix,
            scope: k.scope,
            created_at: k.created_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
        }
    }
}

/// A new key, with the secret: shown this once, never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub info: ApiKeyResponse,
    /// Send as `X-API-Key` or `Authorization: Bearer`. Store it now: it cannot be shown again.
    pub key: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ApiKeyCreate {
    /// 1-100 characters, e.g. "backup script".
    pub name: String,
    /// At most your own role's level (viewer: read; editor: write; admin: admin).
    #[schema(value_type = Option<ScopeSchema>)]
    pub scope: Option<Scope>,
    /// When the key stops working (RFC 3339); omit for no expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Alternative to `expires_at`: days from now.
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    pub api_keys: Vec<ApiKeyResponse>,
    pub count: usize,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApiKeyListParams {
    /// Admins: this user's keys instead of your own.
    pub user_id: Option<Uuid>,
    /// Admins: everyone's keys.
    #[serde(default)]
    pub all: bool,
}

/// Your API keys (admins may list another user's, or everyone's). Secrets are never shown.
#[utoipa::path(get, path = "/auth/api-keys", tag = "auth",
    params(ApiKeyListParams),
    responses((status = 200, body = ApiKeyList)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<ApiKeyListParams>,
) -> ApiResult<axum::Json<ApiKeyList>> {
    let me = principal.user_id();
    let whose = if params.all || (me.is_none() && params.user_id.is_none()) {
        None
    } else {
        params.user_id.or(me)
    };
    let keys: Vec<ApiKeyResponse> = state
        .auth
        .identity
        .api_keys(whose, me, principal.role)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(ApiKeyList {
        count: keys.len(),
        api_keys: keys,
    }))
}

/// Create a personal API key. The response carries the key; it is not stored and cannot be
/// shown again.
#[utoipa::path(post, path = "/auth/api-keys", tag = "auth",
    request_body = ApiKeyCreate,
    responses(
        (status = 201, body = CreatedApiKey),
        (status = 403, description = "Scope above your role (SCOPE_ABOVE_ROLE)", body = crate::error::ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    me: SignedIn,
    client: ClientInfo,
    Json(body): Json<ApiKeyCreate>,
) -> ApiResult<(StatusCode, axum::Json<CreatedApiKey>)> {
    let request = NewKeyRequest {
        name: body.name,
        scope: body.scope.unwrap_or_default(),
        expires_at: body.expires_at,
        expires_in_days: body.expires_in_days,
    };
    let (info, key) = state
        .auth
        .identity
        .create_api_key(&me.user, me.role, request, &me.actor(), &client.meta())
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedApiKey {
            info: info.into(),
            key,
        }),
    ))
}

/// Revoke an API key: your own, or (admins) anyone's.
#[utoipa::path(delete, path = "/auth/api-keys/{key_id}", tag = "auth",
    params(("key_id" = Uuid, Path)),
    responses((status = 204, description = "Revoked")))]
pub async fn revoke(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    client: ClientInfo,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    state
        .auth
        .identity
        .revoke_api_key(
            id,
            principal.user_id(),
            principal.role,
            &principal.actor(),
            &client.meta(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
