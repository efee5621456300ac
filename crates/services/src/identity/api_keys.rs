//! Personal API keys: named, scoped (never above the owner's role), optionally expiring; the
//! key is shown once at creation and stored only as its SHA-256.

use chrono::{DateTime, Duration, Utc};
use domain::{
    ApiKeyInfo, AuditAction, NewApiKey, Role, Scope, User, ValidationError, validate_api_key_name,
};
use serde_json::json;
use storage::{Entity, StoreError};
use uuid::Uuid;

use super::token::{display_prefix, hash_token, new_api_key};
use super::{ClientMeta, Error, Identity, Party, Result};

/// A new key as asked for.
#[derive(Debug, Clone)]
pub struct NewKeyRequest {
    pub name: String,
    pub scope: Scope,
    /// When the key stops working; at most one of this and `expires_in_days`.
    pub expires_at: Option<DateTime<Utc>>,
    pub expires_in_days: Option<u32>,
}

impl Identity {
    /// Personal keys that are not revoked: `whose` (everyone's for `None`). Only admins
    /// (`caller_role`) may list keys that are not `me`'s.
    pub async fn api_keys(
        &self,
        whose: Option<Uuid>,
        me: Option<Uuid>,
        caller_role: Role,
    ) -> Result<Vec<ApiKeyInfo>> {
        if whose != me && caller_role != Role::Admin {
            return Err(Error::OthersKeys);
        }
        Ok(self.store.list_api_keys(whose).await?)
    }

    /// Creates a key for `owner`, whose effective role (capped by the credential asking) is
    /// `caller_role`. Returns the key's record and the secret, which is not stored.
    pub async fn create_api_key(
        &self,
        owner: &User,
        caller_role: Role,
        req: NewKeyRequest,
        actor: &Party,
        client: &ClientMeta,
    ) -> Result<(ApiKeyInfo, String)> {
        let name = validate_api_key_name(&req.name)?;
        let ceiling = Scope::ceiling(caller_role);
        if req.scope > ceiling {
            return Err(Error::ScopeAboveRole { ceiling });
        }
        let now = self.now();
        let expires_at = match (req.expires_at, req.expires_in_days) {
            (Some(_), Some(_)) => return Err(Error::ExpiryTwice),
            (Some(at), None) => Some(domain::truncate_to_micros(at)),
            (None, Some(days)) => Some(now + Duration::days(i64::from(days.min(36_500)))),
            (None, None) => None,
        };
        if expires_at.is_some_and(|at| at <= now) {
            return Err(ValidationError::new("expires_at", "must be in the future").into());
        }
        let key = new_api_key().map_err(Error::internal)?;
        let info = ApiKeyInfo {
            id: Uuid::new_v4(),
            user_id: owner.id,
            name,
            prefix: display_prefix(&key),
            scope: req.scope,
            created_at: now,
            expires_at,
            last_used_at: None,
        };
        let info = self
            .store
            .create_api_key(NewApiKey {
                key: info,
                key_hash: hash_token(&key),
            })
            .await?;
        self.audit(
            AuditAction::ApiKeyCreated,
            actor,
            &Party::from(owner),
            client,
            json!({"key_id": info.id, "name": info.name, "scope": info.scope,
                   "expires_at": info.expires_at}),
        )
        .await;
        Ok((info, key))
    }

    /// Revokes key `id`: the caller's own (`me`), or anyone's for an admin (`caller_role`).
    /// Someone else's key is not found, as if it did not exist.
    pub async fn revoke_api_key(
        &self,
        id: Uuid,
        me: Option<Uuid>,
        caller_role: Role,
        actor: &Party,
        client: &ClientMeta,
    ) -> Result<()> {
        let key = self.store.get_api_key(id).await?;
        if Some(key.user_id) != me && caller_role != Role::Admin {
            return Err(StoreError::NotFound {
                entity: Entity::ApiKey,
                id: id.to_string(),
            }
            .into());
        }
        let key = self.store.revoke_api_key(id, self.now()).await?;
        let owner = self.store.get_user(key.user_id).await.ok();
        self.audit(
            AuditAction::ApiKeyRevoked,
            actor,
            &Party {
                id: Some(key.user_id),
                name: owner.map(|u| u.username),
            },
            client,
            json!({"key_id": key.id, "name": key.name}),
        )
        .await;
        Ok(())
    }
}
