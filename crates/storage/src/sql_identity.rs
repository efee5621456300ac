//! The queries behind [`crate::IdentityStore`], written once for both databases (like
//! `sql_store.rs`).
//!
//! Macro parameters: the store type, the database type, the row-lock clause, and `serialize`: a
//! statement run first in every transaction that may change who is an admin, so two such
//! transactions cannot both pass the "another admin remains" check (PostgreSQL takes a
//! transaction-scoped advisory lock; SQLite already runs one writer at a time).

macro_rules! user_columns {
    () => {
        "u.id AS u_id, u.username AS u_username, u.role AS u_role, u.is_active AS u_is_active, \
         u.default_view AS u_default_view, u.single_view_mode AS u_single_view_mode, \
         u.created_by AS u_created_by, u.created_at AS u_created_at, \
         u.updated_at AS u_updated_at, u.last_login AS u_last_login"
    };
}

macro_rules! session_columns {
    () => {
        "s.id AS s_id, s.user_id AS s_user_id, s.created_at AS s_created_at, \
         s.last_activity AS s_last_activity, s.expires_at AS s_expires_at, \
         s.ttl_seconds AS s_ttl_seconds, s.ip_address AS s_ip_address, \
         s.user_agent AS s_user_agent"
    };
}

macro_rules! api_key_columns {
    () => {
        "k.id AS k_id, k.user_id AS k_user_id, k.name AS k_name, k.prefix AS k_prefix, \
         k.scope AS k_scope, k.created_at AS k_created_at, k.expires_at AS k_expires_at, \
         k.last_used_at AS k_last_used_at"
    };
}

macro_rules! audit_filter {
    () => {
        "($1 IS NULL OR action = $1) AND ($2 IS NULL OR actor_id = $2) \
         AND ($3 IS NULL OR target_id = $3) AND ($4 IS NULL OR created_at >= $4) \
         AND ($5 IS NULL OR created_at < $5)"
    };
}

macro_rules! impl_identity_store {
    ($store:ty, $db:ty, lock = $lock:literal, serialize = $serialize:literal) => {
        mod sql_identity_impl {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use domain::{
                ApiKeyInfo, AuditEntry, AuditFilter, Credentials, JsonObject, NewApiKey,
                NewSession, NewUser, Page, PageRequest, Role, Session, ThrottlePolicy,
                ThrottleState, User, UserChanges, UserPatch, username_key,
            };
            use sqlx::Row as _;
            use sqlx::types::Json;
            use uuid::Uuid;

            use crate::{Entity, IdentityStore, LoginUpdate, Result, StoreError};

            use super::*;

            type Row = <$db as sqlx::Database>::Row;
            type Conn = <$db as sqlx::Database>::Connection;

            fn parse<T: std::str::FromStr>(value: String) -> Result<T>
            where
                T::Err: std::fmt::Display,
            {
                value.parse().map_err(StoreError::corrupt)
            }

            fn user_from(row: &Row) -> Result<User> {
                Ok(User {
                    id: row.try_get("u_id")?,
                    username: row.try_get("u_username")?,
                    role: parse(row.try_get("u_role")?)?,
                    is_active: row.try_get("u_is_active")?,
                    default_view: row.try_get("u_default_view")?,
                    single_view_mode: row.try_get("u_single_view_mode")?,
                    created_by: row.try_get("u_created_by")?,
                    created_at: row.try_get("u_created_at")?,
                    updated_at: row.try_get("u_updated_at")?,
                    last_login: row.try_get("u_last_login")?,
                })
            }

            fn session_from(row: &Row) -> Result<Session> {
                Ok(Session {
                    id: row.try_get("s_id")?,
                    user_id: row.try_get("s_user_id")?,
                    created_at: row.try_get("s_created_at")?,
                    last_activity: row.try_get("s_last_activity")?,
                    expires_at: row.try_get("s_expires_at")?,
                    ttl_seconds: row.try_get("s_ttl_seconds")?,
                    ip_address: row.try_get("s_ip_address")?,
                    user_agent: row.try_get("s_user_agent")?,
                })
            }

            fn api_key_from(row: &Row) -> Result<ApiKeyInfo> {
                Ok(ApiKeyInfo {
                    id: row.try_get("k_id")?,
                    user_id: row.try_get("k_user_id")?,
                    name: row.try_get("k_name")?,
                    prefix: row.try_get("k_prefix")?,
                    scope: parse(row.try_get("k_scope")?)?,
                    created_at: row.try_get("k_created_at")?,
                    expires_at: row.try_get("k_expires_at")?,
                    last_used_at: row.try_get("k_last_used_at")?,
                })
            }

            fn audit_from(row: &Row) -> Result<AuditEntry> {
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    at: row.try_get("created_at")?,
                    action: parse(row.try_get("action")?)?,
                    actor_id: row.try_get("actor_id")?,
                    actor_name: row.try_get("actor_name")?,
                    target_id: row.try_get("target_id")?,
                    target_name: row.try_get("target_name")?,
                    ip_address: row.try_get("ip_address")?,
                    user_agent: row.try_get("user_agent")?,
                    details: row.try_get::<Json<JsonObject>, _>("details")?.0,
                })
            }

            async fn user_for_update(conn: &mut Conn, id: Uuid) -> Result<User> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    $crate::sql_identity::user_columns!(),
                    " FROM users u WHERE u.id = $1",
                    $lock
                ))
                .bind(id)
                .fetch_optional(conn)
                .await?
                .ok_or(StoreError::not_found(Entity::User, id))?;
                user_from(&row)
            }

            async fn other_active_admins(conn: &mut Conn, id: Uuid) -> Result<i64> {
                let row = sqlx::query(
                    "SELECT count(*) FROM users WHERE role = 'admin' AND is_active AND id <> $1",
                )
                .bind(id)
                .fetch_one(conn)
                .await?;
                Ok(row.try_get(0)?)
            }

            async fn count_admins(conn: &mut Conn) -> Result<i64> {
                let row = sqlx::query("SELECT count(*) FROM users WHERE role = 'admin' AND is_active")
                    .fetch_one(conn)
                    .await?;
                Ok(row.try_get(0)?)
            }

            async fn insert_user(conn: &mut Conn, new: &NewUser, at: DateTime<Utc>) -> Result<User> {
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
                    Err(e) if StoreError::is_foreign_key_violation(&e) => Err(
                        StoreError::not_found(Entity::User, new.created_by.unwrap_or_default()),
                    ),
                    Err(e) => Err(e.into()),
                }
            }

            async fn get_user_on(conn: &mut Conn, id: Uuid) -> Result<User> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    $crate::sql_identity::user_columns!(),
                    " FROM users u WHERE u.id = $1"
                ))
                .bind(id)
                .fetch_optional(conn)
                .await?
                .ok_or(StoreError::not_found(Entity::User, id))?;
                user_from(&row)
            }

            #[async_trait]
            impl IdentityStore for $store {
                async fn create_user(&self, new: NewUser, at: DateTime<Utc>) -> Result<User> {
                    let mut conn = self.writer().acquire().await?;
                    insert_user(&mut conn, &new, at).await
                }

                async fn create_first_admin(&self, new: NewUser, at: DateTime<Utc>) -> Result<User> {
                    let new = NewUser {
                        role: Role::Admin,
                        ..new
                    };
                    let mut tx = self.writer().begin().await?;
                    sqlx::query($serialize).execute(&mut *tx).await?;
                    if count_admins(&mut tx).await? > 0 {
                        return Err(StoreError::AdminExists);
                    }
                    let user = insert_user(&mut tx, &new, at).await?;
                    tx.commit().await?;
                    Ok(user)
                }

                async fn get_user(&self, id: Uuid) -> Result<User> {
                    let mut conn = self.reader().acquire().await?;
                    get_user_on(&mut conn, id).await
                }

                async fn list_users(&self) -> Result<Vec<User>> {
                    let rows = sqlx::query(concat!(
                        "SELECT ",
                        $crate::sql_identity::user_columns!(),
                        " FROM users u ORDER BY u.created_at DESC, u.id DESC"
                    ))
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(user_from).collect()
                }

                async fn find_credentials(&self, username: &str) -> Result<Option<Credentials>> {
                    let row = sqlx::query(concat!(
                        "SELECT ",
                        $crate::sql_identity::user_columns!(),
                        ", u.password_hash FROM users u WHERE u.username_key = $1"
                    ))
                    .bind(username_key(username))
                    .fetch_optional(self.reader())
                    .await?;
                    row.map(|row| {
                        Ok(Credentials {
                            user: user_from(&row)?,
                            password_hash: row.try_get("password_hash")?,
                        })
                    })
                    .transpose()
                }

                async fn get_credentials(&self, id: Uuid) -> Result<Credentials> {
                    let row = sqlx::query(concat!(
                        "SELECT ",
                        $crate::sql_identity::user_columns!(),
                        ", u.password_hash FROM users u WHERE u.id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?
                    .ok_or(StoreError::not_found(Entity::User, id))?;
                    Ok(Credentials {
                        user: user_from(&row)?,
                        password_hash: row.try_get("password_hash")?,
                    })
                }

                async fn count_active_admins(&self) -> Result<i64> {
                    let mut conn = self.reader().acquire().await?;
                    count_admins(&mut conn).await
                }

                async fn update_user(
                    &self,
                    id: Uuid,
                    patch: UserPatch,
                    at: DateTime<Utc>,
                    keep_session: Option<Uuid>,
                ) -> Result<(User, UserChanges)> {
                    let mut tx = self.writer().begin().await?;
                    sqlx::query($serialize).execute(&mut *tx).await?;
                    let mut user = user_for_update(&mut tx, id).await?;
                    let was_admin = user.is_active_admin();
                    let changes = user.apply(&patch, at)?;
                    if was_admin
                        && !user.is_active_admin()
                        && other_active_admins(&mut tx, id).await? == 0
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
                    sqlx::query($serialize).execute(&mut *tx).await?;
                    let user = user_for_update(&mut tx, id).await?;
                    if user.is_active_admin() && other_active_admins(&mut tx, id).await? == 0 {
                        return Err(StoreError::LastAdmin);
                    }
                    sqlx::query("DELETE FROM users WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(user)
                }

                async fn record_login(
                    &self,
                    id: Uuid,
                    at: DateTime<Utc>,
                    update: LoginUpdate,
                ) -> Result<User> {
                    let mut tx = self.writer().begin().await?;
                    let mut user = user_for_update(&mut tx, id).await?;
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
                         last_activity, expires_at, ttl_seconds, ip_address, user_agent) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
                    .execute(self.writer())
                    .await;
                    match inserted {
                        Ok(_) => Ok(()),
                        Err(e) if StoreError::is_foreign_key_violation(&e) => {
                            Err(StoreError::not_found(Entity::User, s.user_id))
                        }
                        Err(e) => Err(e.into()),
                    }
                }

                async fn session_by_token(
                    &self,
                    token_hash: &str,
                    now: DateTime<Utc>,
                ) -> Result<Option<(Session, User)>> {
                    let row = sqlx::query(concat!(
                        "SELECT ",
                        $crate::sql_identity::session_columns!(),
                        ", ",
                        $crate::sql_identity::user_columns!(),
                        " FROM user_sessions s JOIN users u ON u.id = s.user_id \
                         WHERE s.token_hash = $1 AND s.revoked_at IS NULL \
                         AND s.expires_at > $2 AND u.is_active"
                    ))
                    .bind(token_hash)
                    .bind(now)
                    .fetch_optional(self.reader())
                    .await?;
                    row.map(|row| Ok((session_from(&row)?, user_from(&row)?)))
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

                async fn list_sessions(
                    &self,
                    user_id: Uuid,
                    now: DateTime<Utc>,
                ) -> Result<Vec<Session>> {
                    let rows = sqlx::query(concat!(
                        "SELECT ",
                        $crate::sql_identity::session_columns!(),
                        " FROM user_sessions s WHERE s.user_id = $1 AND s.revoked_at IS NULL \
                         AND s.expires_at > $2 ORDER BY s.created_at DESC, s.id DESC"
                    ))
                    .bind(user_id)
                    .bind(now)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(session_from).collect()
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
                    if done.rows_affected() == 0 {
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
                    Ok(done.rows_affected())
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
                    Ok(done.rows_affected())
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
                    match inserted {
                        Ok(_) => Ok(k),
                        Err(e) if StoreError::is_foreign_key_violation(&e) => {
                            Err(StoreError::not_found(Entity::User, k.user_id))
                        }
                        Err(e) => Err(e.into()),
                    }
                }

                async fn api_key_by_hash(
                    &self,
                    key_hash: &str,
                    now: DateTime<Utc>,
                ) -> Result<Option<(ApiKeyInfo, User)>> {
                    let row = sqlx::query(concat!(
                        "SELECT ",
                        $crate::sql_identity::api_key_columns!(),
                        ", ",
                        $crate::sql_identity::user_columns!(),
                        " FROM api_keys k JOIN users u ON u.id = k.user_id \
                         WHERE k.key_hash = $1 AND k.revoked_at IS NULL \
                         AND (k.expires_at IS NULL OR k.expires_at > $2) AND u.is_active"
                    ))
                    .bind(key_hash)
                    .bind(now)
                    .fetch_optional(self.reader())
                    .await?;
                    row.map(|row| Ok((api_key_from(&row)?, user_from(&row)?)))
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
                    let rows = sqlx::query(concat!(
                        "SELECT ",
                        $crate::sql_identity::api_key_columns!(),
                        " FROM api_keys k WHERE k.revoked_at IS NULL \
                         AND ($1 IS NULL OR k.user_id = $1) \
                         ORDER BY k.created_at DESC, k.id DESC"
                    ))
                    .bind(user_id)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(api_key_from).collect()
                }

                async fn get_api_key(&self, id: Uuid) -> Result<ApiKeyInfo> {
                    let row = sqlx::query(concat!(
                        "SELECT ",
                        $crate::sql_identity::api_key_columns!(),
                        " FROM api_keys k WHERE k.id = $1 AND k.revoked_at IS NULL"
                    ))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?
                    .ok_or(StoreError::not_found(Entity::ApiKey, id))?;
                    api_key_from(&row)
                }

                async fn revoke_api_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<ApiKeyInfo> {
                    let mut tx = self.writer().begin().await?;
                    let row = sqlx::query(concat!(
                        "SELECT ",
                        $crate::sql_identity::api_key_columns!(),
                        " FROM api_keys k WHERE k.id = $1 AND k.revoked_at IS NULL",
                        $lock
                    ))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::not_found(Entity::ApiKey, id))?;
                    let key = api_key_from(&row)?;
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
                        let row = sqlx::query(
                            "SELECT locked_until FROM login_throttle \
                             WHERE key = $1 AND locked_until > $2",
                        )
                        .bind(key)
                        .bind(now)
                        .fetch_optional(&mut *conn)
                        .await?;
                        if let Some(row) = row {
                            let until: DateTime<Utc> = row.try_get(0)?;
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
                    let row = sqlx::query(concat!(
                        "SELECT failures, last_failure, locked_until FROM login_throttle \
                         WHERE key = $1",
                        $lock
                    ))
                    .bind(key)
                    .fetch_one(&mut *tx)
                    .await?;
                    let failures: i64 = row.try_get(0)?;
                    let previous = (failures > 0)
                        .then(|| -> Result<ThrottleState> {
                            Ok(ThrottleState {
                                failures,
                                last_failure: row.try_get(1)?,
                                locked_until: row.try_get(2)?,
                            })
                        })
                        .transpose()?;
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
                    // `write_outbox` comes with the domain queries (sql_store.rs) in the parent module.
                    super::write_outbox(&mut tx, &domain::DomainEvent::audit(&e)).await?;
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
                    let rows = sqlx::query(concat!(
                        "SELECT id, created_at, action, actor_id, actor_name, target_id, \
                         target_name, ip_address, user_agent, details, \
                         count(*) OVER () AS total_count FROM auth_audit_log WHERE ",
                        $crate::sql_identity::audit_filter!(),
                        " ORDER BY created_at DESC, id DESC LIMIT $6 OFFSET $7"
                    ))
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
                        Some(row) => row.try_get("total_count")?,
                        None if page.offset == 0 => 0,
                        None => sqlx::query(concat!(
                            "SELECT count(*) FROM auth_audit_log WHERE ",
                            $crate::sql_identity::audit_filter!()
                        ))
                        .bind(action)
                        .bind(filter.actor_id)
                        .bind(filter.target_id)
                        .bind(filter.since)
                        .bind(filter.until)
                        .fetch_one(&mut *conn)
                        .await?
                        .try_get(0)?,
                    };
                    Ok(Page {
                        items: rows.iter().map(audit_from).collect::<Result<_>>()?,
                        total,
                    })
                }
            }
        }
    };
}

pub(crate) use {
    api_key_columns, audit_filter, impl_identity_store, session_columns, user_columns,
};
