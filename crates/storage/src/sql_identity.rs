//! The queries behind [`crate::IdentityStore`], written once for both databases over
//! [`SqlBackend`].
//!
//! Every transaction that may change who is an admin starts with [`SERIALIZE_ADMIN_CHANGES`], so
//! two such transactions cannot both pass the "another admin remains" check (PostgreSQL takes a
//! transaction-scoped advisory lock; on SQLite a write that matches no row takes the file's write
//! lock first, waiting for it like any write: a transaction that read first could not get it
//! once another process — the command line beside the server — had written, and would fail at
//! once instead of waiting). Queries that
//! join users with sessions or keys name their columns with a table prefix (`u_`, `s_`, `k_`),
//! so one row decodes into both row structs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    ApiKeyInfo, AuditEntry, AuditFilter, Credentials, DomainEvent, JsonObject, NewApiKey,
    NewSession, NewUser, Page, PageRequest, Role, Session, ThrottlePolicy, ThrottleState, User,
    UserChanges, UserPatch, username_key,
};
use sqlx::types::Json;
use sqlx::{ColumnIndex, Executor};
use sqlx_macros::FromRow;
use uuid::Uuid;

use crate::backend::{Column, Conn, Dialects, Param, Row, Sql, SqlBackend};
use crate::sql_store::{convert, parent_missing, parse, write_outbox};
use crate::{Entity, IdentityStore, LoginUpdate, Result, StoreError};

/// Runs first in every transaction that may change who is an admin (the advisory lock's key is
/// an arbitrary constant).
const SERIALIZE_ADMIN_CHANGES: Dialects = Dialects {
    postgres: "SELECT pg_advisory_xact_lock(7410052671)",
    sqlite: "UPDATE users SET id = id WHERE 0",
};

const USER_BY_ID: &str = "SELECT u.id AS u_id, u.username AS u_username, u.role AS u_role, \
     u.is_active AS u_is_active, u.default_view AS u_default_view, \
     u.single_view_mode AS u_single_view_mode, u.created_by AS u_created_by, \
     u.created_at AS u_created_at, u.updated_at AS u_updated_at, u.last_login AS u_last_login \
     FROM users u WHERE u.id = $1";

const USER_FOR_UPDATE: Dialects = Dialects {
    postgres: "SELECT u.id AS u_id, u.username AS u_username, u.role AS u_role, \
               u.is_active AS u_is_active, u.default_view AS u_default_view, \
               u.single_view_mode AS u_single_view_mode, u.created_by AS u_created_by, \
               u.created_at AS u_created_at, u.updated_at AS u_updated_at, \
               u.last_login AS u_last_login FROM users u WHERE u.id = $1 FOR UPDATE",
    sqlite: USER_BY_ID,
};

const API_KEY_BY_ID: &str = "SELECT k.id AS k_id, k.user_id AS k_user_id, k.name AS k_name, \
     k.prefix AS k_prefix, k.scope AS k_scope, k.created_at AS k_created_at, \
     k.expires_at AS k_expires_at, k.last_used_at AS k_last_used_at \
     FROM api_keys k WHERE k.id = $1 AND k.revoked_at IS NULL";

const API_KEY_FOR_UPDATE: Dialects = Dialects {
    postgres: "SELECT k.id AS k_id, k.user_id AS k_user_id, k.name AS k_name, \
               k.prefix AS k_prefix, k.scope AS k_scope, k.created_at AS k_created_at, \
               k.expires_at AS k_expires_at, k.last_used_at AS k_last_used_at \
               FROM api_keys k WHERE k.id = $1 AND k.revoked_at IS NULL FOR UPDATE",
    sqlite: API_KEY_BY_ID,
};

const THROTTLE_FOR_UPDATE: Dialects = Dialects {
    postgres: "SELECT failures, last_failure, locked_until FROM login_throttle WHERE key = $1 \
               FOR UPDATE",
    sqlite: "SELECT failures, last_failure, locked_until FROM login_throttle WHERE key = $1",
};

/// `$1` action, `$2` actor, `$3` target, `$4` since, `$5` until: each NULL for "any".
const AUDIT_PAGE: &str = "SELECT id, created_at, action, actor_id, actor_name, target_id, \
     target_name, ip_address, user_agent, details, count(*) OVER () AS total_count \
     FROM auth_audit_log WHERE ($1 IS NULL OR action = $1) AND ($2 IS NULL OR actor_id = $2) \
     AND ($3 IS NULL OR target_id = $3) AND ($4 IS NULL OR created_at >= $4) \
     AND ($5 IS NULL OR created_at < $5) ORDER BY created_at DESC, id DESC LIMIT $6 OFFSET $7";

const AUDIT_COUNT: &str = "SELECT count(*) FROM auth_audit_log WHERE ($1 IS NULL OR action = $1) \
     AND ($2 IS NULL OR actor_id = $2) AND ($3 IS NULL OR target_id = $3) \
     AND ($4 IS NULL OR created_at >= $4) AND ($5 IS NULL OR created_at < $5)";

#[derive(FromRow)]
pub(crate) struct UserRow {
    #[sqlx(rename = "u_id")]
    id: Uuid,
    #[sqlx(rename = "u_username")]
    username: String,
    #[sqlx(rename = "u_role")]
    role: String,
    #[sqlx(rename = "u_is_active")]
    is_active: bool,
    #[sqlx(rename = "u_default_view")]
    default_view: Option<String>,
    #[sqlx(rename = "u_single_view_mode")]
    single_view_mode: bool,
    #[sqlx(rename = "u_created_by")]
    created_by: Option<Uuid>,
    #[sqlx(rename = "u_created_at")]
    created_at: DateTime<Utc>,
    #[sqlx(rename = "u_updated_at")]
    updated_at: DateTime<Utc>,
    #[sqlx(rename = "u_last_login")]
    last_login: Option<DateTime<Utc>>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(r: UserRow) -> Result<User> {
        Ok(User {
            id: r.id,
            username: r.username,
            role: parse(r.role)?,
            is_active: r.is_active,
            default_view: r.default_view,
            single_view_mode: r.single_view_mode,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            last_login: r.last_login,
        })
    }
}

#[derive(FromRow)]
struct CredentialsRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

impl TryFrom<CredentialsRow> for Credentials {
    type Error = StoreError;

    fn try_from(r: CredentialsRow) -> Result<Credentials> {
        Ok(Credentials {
            user: r.user.try_into()?,
            password_hash: r.password_hash,
        })
    }
}

#[derive(FromRow)]
struct SessionRow {
    #[sqlx(rename = "s_id")]
    id: Uuid,
    #[sqlx(rename = "s_user_id")]
    user_id: Uuid,
    #[sqlx(rename = "s_created_at")]
    created_at: DateTime<Utc>,
    #[sqlx(rename = "s_last_activity")]
    last_activity: DateTime<Utc>,
    #[sqlx(rename = "s_expires_at")]
    expires_at: DateTime<Utc>,
    #[sqlx(rename = "s_ttl_seconds")]
    ttl_seconds: i64,
    #[sqlx(rename = "s_ip_address")]
    ip_address: Option<String>,
    #[sqlx(rename = "s_user_agent")]
    user_agent: Option<String>,
    #[sqlx(rename = "s_sign_in_method")]
    sign_in_method: Option<String>,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Session {
        Session {
            id: r.id,
            user_id: r.user_id,
            created_at: r.created_at,
            last_activity: r.last_activity,
            expires_at: r.expires_at,
            ttl_seconds: r.ttl_seconds,
            ip_address: r.ip_address,
            user_agent: r.user_agent,
            // The column's values are written by this program only; anything else reads as
            // "not recorded".
            sign_in_method: r.sign_in_method.and_then(|m| m.parse().ok()),
        }
    }
}

#[derive(FromRow)]
struct SessionUserRow {
    #[sqlx(flatten)]
    session: SessionRow,
    #[sqlx(flatten)]
    user: UserRow,
}

#[derive(FromRow)]
struct ApiKeyRow {
    #[sqlx(rename = "k_id")]
    id: Uuid,
    #[sqlx(rename = "k_user_id")]
    user_id: Uuid,
    #[sqlx(rename = "k_name")]
    name: String,
    #[sqlx(rename = "k_prefix")]
    prefix: String,
    #[sqlx(rename = "k_scope")]
    scope: String,
    #[sqlx(rename = "k_created_at")]
    created_at: DateTime<Utc>,
    #[sqlx(rename = "k_expires_at")]
    expires_at: Option<DateTime<Utc>>,
    #[sqlx(rename = "k_last_used_at")]
    last_used_at: Option<DateTime<Utc>>,
}

impl TryFrom<ApiKeyRow> for ApiKeyInfo {
    type Error = StoreError;

    fn try_from(r: ApiKeyRow) -> Result<ApiKeyInfo> {
        Ok(ApiKeyInfo {
            id: r.id,
            user_id: r.user_id,
            name: r.name,
            prefix: r.prefix,
            scope: parse(r.scope)?,
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
        })
    }
}

#[derive(FromRow)]
struct ApiKeyUserRow {
    #[sqlx(flatten)]
    key: ApiKeyRow,
    #[sqlx(flatten)]
    user: UserRow,
}

#[derive(FromRow)]
struct ThrottleRow {
    failures: i64,
    last_failure: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
}

#[derive(FromRow)]
struct AuditRow {
    id: Uuid,
    created_at: DateTime<Utc>,
    action: String,
    actor_id: Option<Uuid>,
    actor_name: Option<String>,
    target_id: Option<Uuid>,
    target_name: Option<String>,
    ip_address: Option<String>,
    user_agent: Option<String>,
    details: Json<JsonObject>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;

    fn try_from(r: AuditRow) -> Result<AuditEntry> {
        Ok(AuditEntry {
            id: r.id,
            at: r.created_at,
            action: parse(r.action)?,
            actor_id: r.actor_id,
            actor_name: r.actor_name,
            target_id: r.target_id,
            target_name: r.target_name,
            ip_address: r.ip_address,
            user_agent: r.user_agent,
            details: r.details.0,
        })
    }
}

/// An audit entry with the number of all entries the filter matches.
#[derive(FromRow)]
struct AuditPageRow {
    #[sqlx(flatten)]
    entry: AuditRow,
    total_count: i64,
}

#[async_trait]
impl<B> IdentityStore for B
where
    B: SqlBackend,
    for<'c> &'c mut Conn<B>: Executor<'c, Database = B::Db>,
    for<'a> &'a str: Param<'a, B::Db> + ColumnIndex<Row<B>>,
    for<'a> Option<&'a str>: Param<'a, B::Db>,
    for<'a> Json<&'a JsonObject>: Param<'a, B::Db>,
    usize: ColumnIndex<Row<B>>,
    for<'q> String: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Option<String>: Param<'q, B::Db>,
    for<'q> Uuid: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Option<Uuid>: Param<'q, B::Db>,
    for<'q> i64: Param<'q, B::Db> + Column<B::Db>,
    for<'q> bool: Param<'q, B::Db> + Column<B::Db>,
    for<'q> DateTime<Utc>: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Option<DateTime<Utc>>: Param<'q, B::Db>,
    Json<JsonObject>: Column<B::Db>,
{
    async fn create_user(&self, new: NewUser, at: DateTime<Utc>) -> Result<User> {
        let mut conn = self.writer().acquire().await?;
        insert_user(&mut *conn, &new, at).await
    }

    async fn create_first_admin(&self, new: NewUser, at: DateTime<Utc>) -> Result<User> {
        let new = NewUser {
            role: Role::Admin,
            ..new
        };
        let mut tx = self.writer().begin().await?;
        sqlx::query(SERIALIZE_ADMIN_CHANGES.get(B::KIND))
            .execute(&mut *tx)
            .await?;
        if count_admins(&mut *tx).await? > 0 {
            return Err(StoreError::AdminExists);
        }
        let user = insert_user(&mut *tx, &new, at).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn get_user(&self, id: Uuid) -> Result<User> {
        sqlx::query_as::<_, UserRow>(USER_BY_ID)
            .bind(id)
            .fetch_optional(self.reader())
            .await?
            .ok_or(StoreError::not_found(Entity::User, id))?
            .try_into()
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        let rows: Vec<UserRow> = sqlx::query_as(
            "SELECT u.id AS u_id, u.username AS u_username, u.role AS u_role, \
             u.is_active AS u_is_active, u.default_view AS u_default_view, \
             u.single_view_mode AS u_single_view_mode, u.created_by AS u_created_by, \
             u.created_at AS u_created_at, u.updated_at AS u_updated_at, \
             u.last_login AS u_last_login FROM users u ORDER BY u.created_at DESC, u.id DESC",
        )
        .fetch_all(self.reader())
        .await?;
        convert(rows)
    }

    async fn find_credentials(&self, username: &str) -> Result<Option<Credentials>> {
        let row: Option<CredentialsRow> = sqlx::query_as(
            "SELECT u.id AS u_id, u.username AS u_username, u.role AS u_role, \
             u.is_active AS u_is_active, u.default_view AS u_default_view, \
             u.single_view_mode AS u_single_view_mode, u.created_by AS u_created_by, \
             u.created_at AS u_created_at, u.updated_at AS u_updated_at, \
             u.last_login AS u_last_login, u.password_hash FROM users u WHERE u.username_key = $1",
        )
        .bind(username_key(username))
        .fetch_optional(self.reader())
        .await?;
        row.map(Credentials::try_from).transpose()
    }

    async fn get_credentials(&self, id: Uuid) -> Result<Credentials> {
        sqlx::query_as::<_, CredentialsRow>(
            "SELECT u.id AS u_id, u.username AS u_username, u.role AS u_role, \
             u.is_active AS u_is_active, u.default_view AS u_default_view, \
             u.single_view_mode AS u_single_view_mode, u.created_by AS u_created_by, \
             u.created_at AS u_created_at, u.updated_at AS u_updated_at, \
             u.last_login AS u_last_login, u.password_hash FROM users u WHERE u.id = $1",
        )
        .bind(id)
        .fetch_optional(self.reader())
        .await?
        .ok_or(StoreError::not_found(Entity::User, id))?
        .try_into()
    }

    async fn count_active_admins(&self) -> Result<i64> {
        let mut conn = self.reader().acquire().await?;
        count_admins(&mut *conn).await
    }

    async fn update_user(
        &self,
        id: Uuid,
        patch: UserPatch,
        at: DateTime<Utc>,
        keep_session: Option<Uuid>,
    ) -> Result<(User, UserChanges)> {
        let mut tx = self.writer().begin().await?;
        sqlx::query(SERIALIZE_ADMIN_CHANGES.get(B::KIND))
            .execute(&mut *tx)
            .await?;
        let mut user = user_for_update::<B>(&mut *tx, id).await?;
        let was_admin = user.is_active_admin();
        let changes = user.apply(&patch, at)?;
        if was_admin
            && !user.is_active_admin()
            && !patch.may_remove_last_admin
            && other_active_admins(&mut *tx, id).await? == 0
        {
            return Err(StoreError::LastAdmin);
        }
        sqlx::query(
            "UPDATE users SET role = $2, is_active = $3, default_view = $4, \
             single_view_mode = $5, updated_at = $6, \
             password_hash = coalesce($7, password_hash) WHERE id = $1",
        )
        .bind(id)
        .bind(user.role.as_str())
        .bind(user.is_active)
        .bind(&user.default_view)
        .bind(user.single_view_mode)
        .bind(user.updated_at)
        .bind(patch.password_hash.as_deref())
        .execute(&mut *tx)
        .await?;
        if changes.revokes_sessions() {
            sqlx::query(
                "UPDATE user_sessions SET revoked_at = $2 \
                 WHERE user_id = $1 AND revoked_at IS NULL AND ($3 IS NULL OR id <> $3)",
            )
            .bind(id)
            .bind(at)
            .bind(keep_session)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok((user, changes))
    }

    async fn delete_user(&self, id: Uuid) -> Result<User> {
        let mut tx = self.writer().begin().await?;
        sqlx::query(SERIALIZE_ADMIN_CHANGES.get(B::KIND))
            .execute(&mut *tx)
            .await?;
        let user = user_for_update::<B>(&mut *tx, id).await?;
        if user.is_active_admin() && other_active_admins(&mut *tx, id).await? == 0 {
            return Err(StoreError::LastAdmin);
        }
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn record_login(&self, id: Uuid, at: DateTime<Utc>, update: LoginUpdate) -> Result<User> {
        let mut tx = self.writer().begin().await?;
        let mut user = user_for_update::<B>(&mut *tx, id).await?;
        user.last_login = Some(at);
        if let Some((kiosk, view)) = update.kiosk {
            user.single_view_mode = kiosk;
            user.default_view = domain::validate_default_view(view)?;
        }
        sqlx::query(
            "UPDATE users SET last_login = $2, single_view_mode = $3, \
             default_view = $4, password_hash = coalesce($5, password_hash) \
             WHERE id = $1",
        )
        .bind(id)
        .bind(at)
        .bind(user.single_view_mode)
        .bind(&user.default_view)
        .bind(update.rehashed_password.as_deref())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn create_session(&self, new: NewSession) -> Result<()> {
        let s = &new.session;
        let inserted = sqlx::query(
            "INSERT INTO user_sessions (id, user_id, token_hash, created_at, \
             last_activity, expires_at, ttl_seconds, ip_address, user_agent, sign_in_method) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(s.id)
        .bind(s.user_id)
        .bind(&new.token_hash)
        .bind(s.created_at)
        .bind(s.last_activity)
        .bind(s.expires_at)
        .bind(s.ttl_seconds)
        .bind(&s.ip_address)
        .bind(&s.user_agent)
        .bind(s.sign_in_method.map(|m| m.as_str()))
        .execute(self.writer())
        .await;
        inserted.map_err(|e| parent_missing(e, Entity::User, s.user_id))?;
        Ok(())
    }

    async fn session_by_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Session, User)>> {
        let row: Option<SessionUserRow> = sqlx::query_as(
            "SELECT s.id AS s_id, s.user_id AS s_user_id, s.created_at AS s_created_at, \
             s.last_activity AS s_last_activity, s.expires_at AS s_expires_at, \
             s.ttl_seconds AS s_ttl_seconds, s.ip_address AS s_ip_address, \
             s.user_agent AS s_user_agent, s.sign_in_method AS s_sign_in_method, u.id AS u_id, u.username AS u_username, \
             u.role AS u_role, u.is_active AS u_is_active, u.default_view AS u_default_view, \
             u.single_view_mode AS u_single_view_mode, u.created_by AS u_created_by, \
             u.created_at AS u_created_at, u.updated_at AS u_updated_at, \
             u.last_login AS u_last_login FROM user_sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL \
             AND s.expires_at > $2 AND u.is_active",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.reader())
        .await?;
        row.map(|r| Ok((r.session.into(), r.user.try_into()?)))
            .transpose()
    }

    async fn touch_session(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE user_sessions SET last_activity = $2, expires_at = $3 \
             WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(id)
        .bind(now)
        .bind(expires_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn list_sessions(&self, user_id: Uuid, now: DateTime<Utc>) -> Result<Vec<Session>> {
        let rows: Vec<SessionRow> = sqlx::query_as(
            "SELECT s.id AS s_id, s.user_id AS s_user_id, s.created_at AS s_created_at, \
             s.last_activity AS s_last_activity, s.expires_at AS s_expires_at, \
             s.ttl_seconds AS s_ttl_seconds, s.ip_address AS s_ip_address, \
             s.user_agent AS s_user_agent, s.sign_in_method AS s_sign_in_method \
             FROM user_sessions s WHERE s.user_id = $1 \
             AND s.revoked_at IS NULL AND s.expires_at > $2 ORDER BY s.created_at DESC, s.id DESC",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(Session::from).collect())
    }

    async fn revoke_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE user_sessions SET revoked_at = $3 WHERE id = $1 AND user_id = $2 \
             AND revoked_at IS NULL AND expires_at > $3",
        )
        .bind(session_id)
        .bind(user_id)
        .bind(now)
        .execute(self.writer())
        .await?;
        if B::Db::rows_affected(&done) == 0 {
            return Err(StoreError::not_found(Entity::Session, session_id));
        }
        Ok(())
    }

    async fn revoke_sessions(
        &self,
        user_id: Uuid,
        except: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE user_sessions SET revoked_at = $2 WHERE user_id = $1 \
             AND revoked_at IS NULL AND expires_at > $2 AND ($3 IS NULL OR id <> $3)",
        )
        .bind(user_id)
        .bind(now)
        .bind(except)
        .execute(self.writer())
        .await?;
        Ok(B::Db::rows_affected(&done))
    }

    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut conn = self.writer().acquire().await?;
        let done = sqlx::query(
            "DELETE FROM user_sessions WHERE expires_at <= $1 OR revoked_at IS NOT NULL",
        )
        .bind(now)
        .execute(&mut *conn)
        .await?;
        // Throttle counters long past any lock are forgotten too.
        let stale = now - ThrottlePolicy::PER_USERNAME.max_lockout * 2;
        sqlx::query(
            "DELETE FROM login_throttle WHERE last_failure < $1 \
             AND (locked_until IS NULL OR locked_until < $1)",
        )
        .bind(stale)
        .execute(&mut *conn)
        .await?;
        Ok(B::Db::rows_affected(&done))
    }

    async fn create_api_key(&self, new: NewApiKey) -> Result<ApiKeyInfo> {
        let k = new.key;
        let inserted = sqlx::query(
            "INSERT INTO api_keys (id, user_id, name, key_hash, prefix, scope, \
             created_at, expires_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(k.id)
        .bind(k.user_id)
        .bind(&k.name)
        .bind(&new.key_hash)
        .bind(&k.prefix)
        .bind(k.scope.as_str())
        .bind(k.created_at)
        .bind(k.expires_at)
        .bind(k.last_used_at)
        .execute(self.writer())
        .await;
        inserted.map_err(|e| parent_missing(e, Entity::User, k.user_id))?;
        Ok(k)
    }

    async fn api_key_by_hash(
        &self,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(ApiKeyInfo, User)>> {
        let row: Option<ApiKeyUserRow> = sqlx::query_as(
            "SELECT k.id AS k_id, k.user_id AS k_user_id, k.name AS k_name, \
             k.prefix AS k_prefix, k.scope AS k_scope, k.created_at AS k_created_at, \
             k.expires_at AS k_expires_at, k.last_used_at AS k_last_used_at, u.id AS u_id, \
             u.username AS u_username, u.role AS u_role, u.is_active AS u_is_active, \
             u.default_view AS u_default_view, u.single_view_mode AS u_single_view_mode, \
             u.created_by AS u_created_by, u.created_at AS u_created_at, \
             u.updated_at AS u_updated_at, u.last_login AS u_last_login \
             FROM api_keys k JOIN users u ON u.id = k.user_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL \
             AND (k.expires_at IS NULL OR k.expires_at > $2) AND u.is_active",
        )
        .bind(key_hash)
        .bind(now)
        .fetch_optional(self.reader())
        .await?;
        row.map(|r| Ok((r.key.try_into()?, r.user.try_into()?)))
            .transpose()
    }

    async fn touch_api_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn list_api_keys(&self, user_id: Option<Uuid>) -> Result<Vec<ApiKeyInfo>> {
        let rows: Vec<ApiKeyRow> = sqlx::query_as(
            "SELECT k.id AS k_id, k.user_id AS k_user_id, k.name AS k_name, \
             k.prefix AS k_prefix, k.scope AS k_scope, k.created_at AS k_created_at, \
             k.expires_at AS k_expires_at, k.last_used_at AS k_last_used_at \
             FROM api_keys k WHERE k.revoked_at IS NULL AND ($1 IS NULL OR k.user_id = $1) \
             ORDER BY k.created_at DESC, k.id DESC",
        )
        .bind(user_id)
        .fetch_all(self.reader())
        .await?;
        convert(rows)
    }

    async fn get_api_key(&self, id: Uuid) -> Result<ApiKeyInfo> {
        sqlx::query_as::<_, ApiKeyRow>(API_KEY_BY_ID)
            .bind(id)
            .fetch_optional(self.reader())
            .await?
            .ok_or(StoreError::not_found(Entity::ApiKey, id))?
            .try_into()
    }

    async fn revoke_api_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<ApiKeyInfo> {
        let mut tx = self.writer().begin().await?;
        let key: ApiKeyInfo = sqlx::query_as::<_, ApiKeyRow>(API_KEY_FOR_UPDATE.get(B::KIND))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::not_found(Entity::ApiKey, id))?
            .try_into()?;
        sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(key)
    }

    async fn throttle_locked_until(
        &self,
        keys: &[String],
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        let mut conn = self.reader().acquire().await?;
        let mut latest: Option<DateTime<Utc>> = None;
        for key in keys {
            let until: Option<DateTime<Utc>> = sqlx::query_scalar(
                "SELECT locked_until FROM login_throttle WHERE key = $1 AND locked_until > $2",
            )
            .bind(key.as_str())
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(until) = until {
                latest = Some(latest.map_or(until, |l| l.max(until)));
            }
        }
        Ok(latest)
    }

    async fn record_login_failure(
        &self,
        key: &str,
        policy: ThrottlePolicy,
        now: DateTime<Utc>,
    ) -> Result<ThrottleState> {
        let mut tx = self.writer().begin().await?;
        sqlx::query(
            "INSERT INTO login_throttle (key, failures, last_failure, locked_until) \
             VALUES ($1, 0, $2, NULL) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let row: ThrottleRow = sqlx::query_as(THROTTLE_FOR_UPDATE.get(B::KIND))
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
        let previous = (row.failures > 0).then_some(ThrottleState {
            failures: row.failures,
            last_failure: row.last_failure,
            locked_until: row.locked_until,
        });
        let next = policy.after_failure(previous, now);
        sqlx::query(
            "UPDATE login_throttle SET failures = $2, last_failure = $3, \
             locked_until = $4 WHERE key = $1",
        )
        .bind(key)
        .bind(next.failures)
        .bind(next.last_failure)
        .bind(next.locked_until)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(next)
    }

    async fn clear_login_failures(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_throttle WHERE key = $1")
            .bind(key)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn record_audit(&self, e: AuditEntry) -> Result<()> {
        // The entry and its bus event commit together (transactional outbox).
        let mut tx = self.writer().begin().await?;
        sqlx::query(
            "INSERT INTO auth_audit_log (id, created_at, action, actor_id, \
             actor_name, target_id, target_name, ip_address, user_agent, details) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(e.id)
        .bind(e.at)
        .bind(e.action.as_str())
        .bind(e.actor_id)
        .bind(&e.actor_name)
        .bind(e.target_id)
        .bind(&e.target_name)
        .bind(&e.ip_address)
        .bind(&e.user_agent)
        .bind(Json(&e.details))
        .execute(&mut *tx)
        .await?;
        write_outbox(&mut *tx, &DomainEvent::audit(&e)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEntry>> {
        let action = filter.action.map(|a| a.as_str());
        let mut conn = self.reader().acquire().await?;
        let rows: Vec<AuditPageRow> = sqlx::query_as(AUDIT_PAGE)
            .bind(action)
            .bind(filter.actor_id)
            .bind(filter.target_id)
            .bind(filter.since)
            .bind(filter.until)
            .bind(page.limit)
            .bind(page.offset)
            .fetch_all(&mut *conn)
            .await?;
        let total = match rows.first() {
            Some(row) => row.total_count,
            None if page.offset == 0 => 0,
            None => {
                sqlx::query_scalar(AUDIT_COUNT)
                    .bind(action)
                    .bind(filter.actor_id)
                    .bind(filter.target_id)
                    .bind(filter.since)
                    .bind(filter.until)
                    .fetch_one(&mut *conn)
                    .await?
            }
        };
        Ok(Page {
            items: convert(rows.into_iter().map(|r| r.entry).collect())?,
            total,
        })
    }
}

/// The user, locked for the rest of the transaction where the database locks rows.
async fn user_for_update<'c, B: SqlBackend>(
    conn: impl Executor<'c, Database = B::Db>,
    id: Uuid,
) -> Result<User>
where
    for<'a> &'a str: ColumnIndex<Row<B>>,
    String: Column<B::Db>,
    for<'q> Uuid: Param<'q, B::Db> + Column<B::Db>,
    bool: Column<B::Db>,
    DateTime<Utc>: Column<B::Db>,
{
    sqlx::query_as::<_, UserRow>(USER_FOR_UPDATE.get(B::KIND))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::not_found(Entity::User, id))?
        .try_into()
}

async fn other_active_admins<'c, DB: Sql>(
    conn: impl Executor<'c, Database = DB>,
    id: Uuid,
) -> Result<i64>
where
    usize: ColumnIndex<DB::Row>,
    for<'q> Uuid: Param<'q, DB>,
    i64: Column<DB>,
{
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM users WHERE role = 'admin' AND is_active AND id <> $1",
    )
    .bind(id)
    .fetch_one(conn)
    .await?)
}

async fn count_admins<'c, DB: Sql>(conn: impl Executor<'c, Database = DB>) -> Result<i64>
where
    usize: ColumnIndex<DB::Row>,
    i64: Column<DB>,
{
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'admin' AND is_active")
            .fetch_one(conn)
            .await?,
    )
}

pub(crate) async fn insert_user<'c, DB: Sql>(
    conn: impl Executor<'c, Database = DB>,
    new: &NewUser,
    at: DateTime<Utc>,
) -> Result<User>
where
    for<'a> &'a str: Param<'a, DB>,
    for<'q> String: Param<'q, DB>,
    for<'q> Option<String>: Param<'q, DB>,
    for<'q> Uuid: Param<'q, DB>,
    for<'q> Option<Uuid>: Param<'q, DB>,
    for<'q> bool: Param<'q, DB>,
    for<'q> DateTime<Utc>: Param<'q, DB>,
    for<'q> Option<DateTime<Utc>>: Param<'q, DB>,
{
    let user = User::create(new, at)?;
    let inserted = sqlx::query(
        "INSERT INTO users (id, username, username_key, password_hash, role, \
         is_active, default_view, single_view_mode, created_by, created_at, \
         updated_at, last_login) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(user.id)
    .bind(&user.username)
    .bind(username_key(&user.username))
    .bind(&new.password_hash)
    .bind(user.role.as_str())
    .bind(user.is_active)
    .bind(&user.default_view)
    .bind(user.single_view_mode)
    .bind(user.created_by)
    .bind(user.created_at)
    .bind(user.updated_at)
    .bind(user.last_login)
    .execute(conn)
    .await;
    match inserted {
        Ok(_) => Ok(user),
        Err(e) if StoreError::is_unique_violation(&e) => {
            Err(StoreError::UsernameTaken(user.username))
        }
        Err(e) if StoreError::is_foreign_key_violation(&e) => Err(StoreError::not_found(
            Entity::User,
            new.created_by.unwrap_or_default(),
        )),
        Err(e) => Err(e.into()),
    }
}
