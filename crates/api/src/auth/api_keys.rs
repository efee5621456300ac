//! Personal API keys: named, scoped (never above the owner's role), optionally expiring; the
//! key is shown once at creation and stored only as its SHA-256.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use domain::{ApiKeyInfo, AuditAction, NewApiKey, Role, Scope, validate_api_key_name};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::audit::{self, actor};
use super::middleware::scope_ceiling;
use super::token::{display_prefix, hash_token, new_api_key};
use super::{ClientInfo, Principal};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
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
    #[serde(default)]
    #[schema(value_type = Option<ScopeSchema>)]
    pub scope: Scope,
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

fn is_admin(principal: &Principal) -> bool {
    principal.role == Role::Admin
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
    if whose != me && !is_admin(&principal) {
        return Err(ApiError::forbidden(
            "INSUFFICIENT_ROLE",
            "only admins may list other users' API keys",
        ));
    }
    let keys: Vec<ApiKeyResponse> = state
        .store
        .list_api_keys(whose)
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
    Extension(principal): Extension<Principal>,
    client: ClientInfo,
    Json(body): Json<ApiKeyCreate>,
) -> ApiResult<(StatusCode, axum::Json<CreatedApiKey>)> {
    let Some(owner) = &principal.user else {
        return Err(ApiError::forbidden(
            "USER_REQUIRED",
            "API keys belong to users",
        ));
    };
    let name = validate_api_key_name(&body.name)?;
    let ceiling = scope_ceiling(&principal);
    if body.scope > ceiling {
        return Err(ApiError::forbidden(
            "SCOPE_ABOVE_ROLE",
            format!(
                "a key cannot do more than its creator: the widest scope you may give is \
                 '{ceiling}'"
            ),
        ));
    }
    let now = state.auth.now();
    let expires_at = match (body.expires_at, body.expires_in_days) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "expires_at",
                "send expires_at or expires_in_days, not both",
            ));
        }
        (Some(at), None) => Some(domain::truncate_to_micros(at)),
        (None, Some(days)) => Some(now + Duration::days(i64::from(days.min(36_500)))),
        (None, None) => None,
    };
    if expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::validation(
            "expires_at",
            "expires_at: must be in the future",
        ));
    }
    let key = new_api_key().map_err(ApiError::internal)?;
    let info = ApiKeyInfo {
        id: Uuid::new_v4(),
        user_id: owner.id,
        name,
        prefix: display_prefix(&key),
        scope: body.scope,
        created_at: now,
        expires_at,
        last_used_at: None,
    };
    let info = state
        .store
        .create_api_key(NewApiKey {
            key: info,
            key_hash: hash_token(&key),
        })
        .await?;
    audit::record(
        &state,
        AuditAction::ApiKeyCreated,
        actor(&principal),
        (Some(owner.id), Some(owner.username.clone())),
        &client,
        json!({"key_id": info.id, "name": info.name, "scope": info.scope,
               "expires_at": info.expires_at}),
    )
    .await;
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
    let key = state.store.get_api_key(id).await?;
    if Some(key.user_id) != principal.user_id() && !is_admin(&principal) {
        // Someone else's key: as if it did not exist.
        return Err(storage::StoreError::NotFound {
            entity: storage::Entity::ApiKey,
            id: id.to_string(),
        }
        .into());
    }
    let key = state.store.revoke_api_key(id, state.auth.now()).await?;
    let owner = state.store.get_user(key.user_id).await.ok();
    audit::record(
        &state,
        AuditAction::ApiKeyRevoked,
        actor(&principal),
        (Some(key.user_id), owner.map(|u| u.username)),
        &client,
        json!({"key_id": key.id, "name": key.name}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
