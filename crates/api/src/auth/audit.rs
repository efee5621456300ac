//! `GET /api/v1/audit`: admins read the audit trail (written by the identity service's
//! `Identity::audit`, the one place every security event goes through).

use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::{AuditAction, AuditEntry, AuditFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::wire::PageParams;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryResponse {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    /// e.g. `login_success`, `login_failed`, `user_deleted`, `api_key_created`.
    pub action: String,
    pub actor_id: Option<Uuid>,
    pub actor_name: Option<String>,
    pub target_id: Option<Uuid>,
    pub target_name: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Object)]
    pub details: domain::JsonObject,
}

impl From<AuditEntry> for AuditEntryResponse {
    fn from(e: AuditEntry) -> Self {
        AuditEntryResponse {
            id: e.id,
            created_at: e.at,
            action: e.action.as_str().to_owned(),
            actor_id: e.actor_id,
            actor_name: e.actor_name,
            target_id: e.target_id,
            target_name: e.target_name,
            ip_address: e.ip_address,
            user_agent: e.user_agent,
            details: e.details,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub entries: Vec<AuditEntryResponse>,
    pub count: usize,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only this action, e.g. `login_failed`.
    pub action: Option<String>,
    /// Only entries by this user.
    pub actor_id: Option<Uuid>,
    /// Only entries about this user.
    pub target_id: Option<Uuid>,
    /// Entries at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Entries before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
}

/// The audit trail, newest first (admin).
#[utoipa::path(get, path = "/audit", tag = "auth",
    params(AuditParams, PageParams),
    responses((status = 200, body = AuditList)))]
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<AuditParams>,
    Query(paging): Query<PageParams>,
) -> ApiResult<axum::Json<AuditList>> {
    let page = paging.page()?;
    let action = params
        .action
        .filter(|a| !a.is_empty())
        .map(|a| a.parse::<AuditAction>())
        .transpose()
        .map_err(|e| ApiError::validation("action", format!("action: {e}")))?;
    let filter = AuditFilter {
        action,
        actor_id: params.actor_id,
        target_id: params.target_id,
        since: params.since,
        until: params.until,
    };
    let found = state.store.list_audit(&filter, page).await?;
    let entries: Vec<AuditEntryResponse> = found.items.into_iter().map(Into::into).collect();
    Ok(axum::Json(AuditList {
        count: entries.len(),
        entries,
        total: found.total,
        limit: page.limit,
        offset: page.offset,
    }))
}
