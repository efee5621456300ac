//! The queries behind [`crate::SignInStore`], written once for both databases over
//! [`SqlBackend`]. Joins name the user's columns with the `u_` prefix, as `sql_identity.rs`
//! does, so one row decodes into the link and the user.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    ChallengeKind, ExternalIdentity, JsonObject, LoginChallenge, NewUser, Passkey, TotpFactor, User,
};
use sqlx::types::Json;
use sqlx::{ColumnIndex, Executor};
use sqlx_macros::FromRow;
use uuid::Uuid;

use crate::backend::{Column, Conn, Param, Row, Sql, SqlBackend};
use crate::sql_identity::{UserRow, insert_user};
use crate::sql_store::{parent_missing, parse};
use crate::{Entity, Result, SignInStore, StoreError};

#[derive(FromRow)]
struct LinkRow {
    provider: String,
    subject: String,
    user_id: Uuid,
    email: Option<String>,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
}

impl From<LinkRow> for ExternalIdentity {
    fn from(r: LinkRow) -> ExternalIdentity {
        ExternalIdentity {
            provider: r.provider,
            subject: r.subject,
            user_id: r.user_id,
            email: r.email,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
        }
    }
}

#[derive(FromRow)]
struct LinkUserRow {
    #[sqlx(flatten)]
    link: LinkRow,
    #[sqlx(flatten)]
    user: UserRow,
}

const INSERT_LINK: &str = "INSERT INTO external_identities (provider, subject, user_id, email, \
     created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (provider, subject) DO NOTHING";

async fn insert_link<'c, DB: Sql>(
    conn: impl Executor<'c, Database = DB>,
    link: &ExternalIdentity,
) -> Result<bool>
where
    for<'a> &'a str: Param<'a, DB>,
    for<'a> Option<&'a str>: Param<'a, DB>,
    for<'q> Uuid: Param<'q, DB>,
    for<'q> DateTime<Utc>: Param<'q, DB>,
{
    let done = sqlx::query(INSERT_LINK)
        .bind(link.provider.as_str())
        .bind(link.subject.as_str())
        .bind(link.user_id)
        .bind(link.email.as_deref())
        .bind(link.created_at)
        .bind(link.last_seen_at)
        .execute(conn)
        .await;
    let r = done.map_err(|e| parent_missing(e, Entity::User, link.user_id))?;
    Ok(DB::rows_affected(&r) == 1)
}

#[derive(FromRow)]
struct TotpRow {
    user_id: Uuid,
    secret: String,
    confirmed_at: Option<DateTime<Utc>>,
    last_step: Option<i64>,
    created_at: DateTime<Utc>,
}

impl From<TotpRow> for TotpFactor {
    fn from(r: TotpRow) -> TotpFactor {
        TotpFactor {
            user_id: r.user_id,
            secret: r.secret,
            confirmed_at: r.confirmed_at,
            last_step: r.last_step,
            created_at: r.created_at,
        }
    }
}

#[derive(FromRow)]
struct ChallengeRow {
    token_hash: String,
    kind: String,
    user_id: Option<Uuid>,
    details: Json<JsonObject>,
    failures: i64,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl TryFrom<ChallengeRow> for LoginChallenge {
    type Error = StoreError;

    fn try_from(r: ChallengeRow) -> Result<LoginChallenge> {
        Ok(LoginChallenge {
            token_hash: r.token_hash,
            kind: parse(r.kind)?,
            user_id: r.user_id,
            details: r.details.0,
            failures: r.failures,
            created_at: r.created_at,
            expires_at: r.expires_at,
        })
    }
}

#[derive(FromRow)]
struct PasskeyRow {
    #[sqlx(rename = "p_id")]
    id: Uuid,
    #[sqlx(rename = "p_user_id")]
    user_id: Uuid,
    #[sqlx(rename = "p_credential_id")]
    credential_id: String,
    #[sqlx(rename = "p_public_key")]
    public_key: String,
    #[sqlx(rename = "p_algorithm")]
    algorithm: i64,
    #[sqlx(rename = "p_sign_count")]
    sign_count: i64,
    #[sqlx(rename = "p_name")]
    name: String,
    #[sqlx(rename = "p_created_at")]
    created_at: DateTime<Utc>,
    #[sqlx(rename = "p_last_used_at")]
    last_used_at: Option<DateTime<Utc>>,
}

impl From<PasskeyRow> for Passkey {
    fn from(r: PasskeyRow) -> Passkey {
        Passkey {
            id: r.id,
            user_id: r.user_id,
            credential_id: r.credential_id,
            public_key: r.public_key,
            algorithm: r.algorithm,
            sign_count: r.sign_count,
            name: r.name,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

#[derive(FromRow)]
struct PasskeyUserRow {
    #[sqlx(flatten)]
    passkey: PasskeyRow,
    #[sqlx(flatten)]
    user: UserRow,
}

/// A passkey's columns, named for [`PasskeyRow`] (a macro, so queries stay static text).
macro_rules! passkey_columns {
    () => {
        "p.id AS p_id, p.user_id AS p_user_id, p.credential_id AS p_credential_id, \
         p.public_key AS p_public_key, p.algorithm AS p_algorithm, \
         p.sign_count AS p_sign_count, p.name AS p_name, p.created_at AS p_created_at, \
         p.last_used_at AS p_last_used_at"
    };
}

/// A pending enrolment is replaced; a confirmed factor stays (the `WHERE` of the update).
const START_TOTP: &str = "INSERT INTO user_totp (user_id, secret, confirmed_at, last_step, \
     created_at) VALUES ($1, $2, NULL, NULL, $3) ON CONFLICT (user_id) DO UPDATE \
     SET secret = excluded.secret, created_at = excluded.created_at \
     WHERE user_totp.confirmed_at IS NULL";

async fn insert_recovery_codes<B: SqlBackend>(
    conn: &mut Conn<B>,
    user_id: Uuid,
    hashes: &[String],
    at: DateTime<Utc>,
) -> Result<()>
where
    for<'c> &'c mut Conn<B>: Executor<'c, Database = B::Db>,
    for<'a> &'a str: Param<'a, B::Db>,
    for<'q> Uuid: Param<'q, B::Db>,
    for<'q> DateTime<Utc>: Param<'q, B::Db>,
{
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    for hash in hashes {
        sqlx::query(
            "INSERT INTO recovery_codes (user_id, code_hash, created_at, used_at) \
             VALUES ($1, $2, $3, NULL)",
        )
        .bind(user_id)
        .bind(hash.as_str())
        .bind(at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl<B> SignInStore for B
where
    B: SqlBackend,
    for<'c> &'c mut Conn<B>: Executor<'c, Database = B::Db>,
    for<'a> &'a str: Param<'a, B::Db> + ColumnIndex<Row<B>>,
    for<'a> Option<&'a str>: Param<'a, B::Db>,
    for<'q> String: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Option<String>: Param<'q, B::Db>,
    for<'q> Uuid: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Option<Uuid>: Param<'q, B::Db>,
    for<'q> bool: Param<'q, B::Db> + Column<B::Db>,
    for<'q> DateTime<Utc>: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Option<DateTime<Utc>>: Param<'q, B::Db>,
    for<'q> i64: Param<'q, B::Db> + Column<B::Db>,
    for<'a> Json<&'a JsonObject>: Param<'a, B::Db>,
    Json<JsonObject>: Column<B::Db>,
    usize: ColumnIndex<Row<B>>,
{
    async fn find_external_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<(ExternalIdentity, User)>> {
        let row: Option<LinkUserRow> = sqlx::query_as(
            "SELECT e.provider, e.subject, e.user_id, e.email, e.created_at, e.last_seen_at, \
             u.id AS u_id, u.username AS u_username, u.role AS u_role, \
             u.is_active AS u_is_active, u.default_view AS u_default_view, \
             u.single_view_mode AS u_single_view_mode, u.created_by AS u_created_by, \
             u.created_at AS u_created_at, u.updated_at AS u_updated_at, \
             u.last_login AS u_last_login \
             FROM external_identities e JOIN users u ON u.id = e.user_id \
             WHERE e.provider = $1 AND e.subject = $2",
        )
        .bind(provider)
        .bind(subject)
        .fetch_optional(self.reader())
        .await?;
        row.map(|r| Ok((r.link.into(), r.user.try_into()?)))
            .transpose()
    }

    async fn link_external_identity(&self, link: &ExternalIdentity) -> Result<bool> {
        let mut conn = self.writer().acquire().await?;
        insert_link(&mut *conn, link).await
    }

    async fn create_external_user(
        &self,
        new: NewUser,
        link: &ExternalIdentity,
        at: DateTime<Utc>,
    ) -> Result<Option<User>> {
        let mut tx = self.writer().begin().await?;
        let user = insert_user(&mut *tx, &new, at).await?;
        let link = ExternalIdentity {
            user_id: user.id,
            ..link.clone()
        };
        if !insert_link(&mut *tx, &link).await? {
            // Someone linked the subject meanwhile: theirs stands, this account is not made.
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(user))
    }

    async fn touch_external_identity(
        &self,
        provider: &str,
        subject: &str,
        email: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE external_identities SET last_seen_at = $3, email = coalesce($4, email) \
             WHERE provider = $1 AND subject = $2",
        )
        .bind(provider)
        .bind(subject)
        .bind(at)
        .bind(email)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn list_external_identities(&self, user_id: Uuid) -> Result<Vec<ExternalIdentity>> {
        let rows: Vec<LinkRow> = sqlx::query_as(
            "SELECT provider, subject, user_id, email, created_at, last_seen_at \
             FROM external_identities WHERE user_id = $1 ORDER BY created_at, provider",
        )
        .bind(user_id)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn totp(&self, user_id: Uuid) -> Result<Option<TotpFactor>> {
        let row: Option<TotpRow> = sqlx::query_as(
            "SELECT user_id, secret, confirmed_at, last_step, created_at \
             FROM user_totp WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.map(Into::into))
    }

    async fn start_totp(&self, factor: &TotpFactor) -> Result<bool> {
        let done = sqlx::query(START_TOTP)
            .bind(factor.user_id)
            .bind(factor.secret.as_str())
            .bind(factor.created_at)
            .execute(self.writer())
            .await;
        let r = done.map_err(|e| parent_missing(e, Entity::User, factor.user_id))?;
        Ok(B::Db::rows_affected(&r) == 1)
    }

    async fn confirm_totp(
        &self,
        user_id: Uuid,
        step: i64,
        recovery_hashes: &[String],
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.writer().begin().await?;
        let done = sqlx::query(
            "UPDATE user_totp SET confirmed_at = $2, last_step = $3 \
             WHERE user_id = $1 AND confirmed_at IS NULL",
        )
        .bind(user_id)
        .bind(at)
        .bind(step)
        .execute(&mut *tx)
        .await?;
        if B::Db::rows_affected(&done) != 1 {
            return Ok(false);
        }
        insert_recovery_codes::<B>(&mut *tx, user_id, recovery_hashes, at).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE user_totp SET last_step = $2 WHERE user_id = $1 \
             AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < $2)",
        )
        .bind(user_id)
        .bind(step)
        .execute(self.writer())
        .await?;
        Ok(B::Db::rows_affected(&done) == 1)
    }

    async fn delete_totp(&self, user_id: Uuid) -> Result<bool> {
        let mut tx = self.writer().begin().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM user_totp WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(B::Db::rows_affected(&done) == 1)
    }

    async fn replace_recovery_codes(
        &self,
        user_id: Uuid,
        hashes: &[String],
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        insert_recovery_codes::<B>(&mut *tx, user_id, hashes, at).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn use_recovery_code(
        &self,
        user_id: Uuid,
        hash: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $3 \
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(user_id)
        .bind(hash)
        .bind(at)
        .execute(self.writer())
        .await?;
        Ok(B::Db::rows_affected(&done) == 1)
    }

    async fn recovery_codes_left(&self, user_id: Uuid) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(self.reader())
        .await?)
    }

    async fn create_challenge(&self, c: &LoginChallenge) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO login_challenges (token_hash, kind, user_id, details, failures, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(c.token_hash.as_str())
        .bind(c.kind.as_str())
        .bind(c.user_id)
        .bind(Json(&c.details))
        .bind(c.failures)
        .bind(c.created_at)
        .bind(c.expires_at)
        .execute(self.writer())
        .await;
        done.map_err(|e| parent_missing(e, Entity::User, c.user_id.unwrap_or_default()))?;
        Ok(())
    }

    async fn challenge(
        &self,
        token_hash: &str,
        kind: ChallengeKind,
        now: DateTime<Utc>,
    ) -> Result<Option<LoginChallenge>> {
        let row: Option<ChallengeRow> = sqlx::query_as(
            "SELECT token_hash, kind, user_id, details, failures, created_at, expires_at \
             FROM login_challenges WHERE token_hash = $1 AND kind = $2 AND expires_at > $3",
        )
        .bind(token_hash)
        .bind(kind.as_str())
        .bind(now)
        .fetch_optional(self.writer())
        .await?;
        row.map(LoginChallenge::try_from).transpose()
    }

    async fn challenge_failed(&self, token_hash: &str) -> Result<i64> {
        let failures: Option<i64> = sqlx::query_scalar(
            "UPDATE login_challenges SET failures = failures + 1 WHERE token_hash = $1 \
             RETURNING failures",
        )
        .bind(token_hash)
        .fetch_optional(self.writer())
        .await?;
        Ok(failures.unwrap_or(i64::MAX))
    }

    async fn update_challenge(&self, token_hash: &str, details: &JsonObject) -> Result<()> {
        sqlx::query("UPDATE login_challenges SET details = $2 WHERE token_hash = $1")
            .bind(token_hash)
            .bind(Json(details))
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn take_challenge(&self, token_hash: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM login_challenges WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.writer())
            .await?;
        Ok(B::Db::rows_affected(&done) == 1)
    }

    async fn delete_expired_challenges(&self, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM login_challenges WHERE expires_at <= $1")
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(B::Db::rows_affected(&done))
    }

    async fn create_passkey(&self, p: &Passkey) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, public_key, algorithm, \
             sign_count, name, created_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (credential_id) DO NOTHING",
        )
        .bind(p.id)
        .bind(p.user_id)
        .bind(p.credential_id.as_str())
        .bind(p.public_key.as_str())
        .bind(p.algorithm)
        .bind(p.sign_count)
        .bind(p.name.as_str())
        .bind(p.created_at)
        .bind(p.last_used_at)
        .execute(self.writer())
        .await;
        let r = done.map_err(|e| parent_missing(e, Entity::User, p.user_id))?;
        Ok(B::Db::rows_affected(&r) == 1)
    }

    async fn list_passkeys(&self, user_id: Uuid) -> Result<Vec<Passkey>> {
        let rows: Vec<PasskeyRow> = sqlx::query_as(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys p WHERE p.user_id = $1 ORDER BY p.created_at, p.id"
        ))
        .bind(user_id)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn passkey_by_credential(&self, credential_id: &str) -> Result<Option<(Passkey, User)>> {
        let row: Option<PasskeyUserRow> = sqlx::query_as(concat!(
            "SELECT ",
            passkey_columns!(),
            ", u.id AS u_id, u.username AS u_username, u.role AS u_role, \
             u.is_active AS u_is_active, u.default_view AS u_default_view, \
             u.single_view_mode AS u_single_view_mode, u.created_by AS u_created_by, \
             u.created_at AS u_created_at, u.updated_at AS u_updated_at, \
             u.last_login AS u_last_login \
             FROM passkeys p JOIN users u ON u.id = p.user_id WHERE p.credential_id = $1"
        ))
        .bind(credential_id)
        .fetch_optional(self.reader())
        .await?;
        row.map(|r| Ok((r.passkey.into(), r.user.try_into()?)))
            .transpose()
    }

    async fn rename_passkey(&self, user_id: Uuid, id: Uuid, name: &str) -> Result<Passkey> {
        sqlx::query("UPDATE passkeys SET name = $3 WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .bind(name)
            .execute(self.writer())
            .await?;
        let row: Option<PasskeyRow> = sqlx::query_as(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys p WHERE p.id = $1 AND p.user_id = $2"
        ))
        .bind(id)
        .bind(user_id)
        .fetch_optional(self.writer())
        .await?;
        row.map(Into::into)
            .ok_or(StoreError::not_found(Entity::Passkey, id))
    }

    async fn delete_passkey(&self, user_id: Uuid, id: Uuid) -> Result<Passkey> {
        let row: Option<PasskeyRow> = sqlx::query_as(
            "DELETE FROM passkeys WHERE id = $1 AND user_id = $2 RETURNING id AS p_id, \
             user_id AS p_user_id, credential_id AS p_credential_id, public_key AS p_public_key, \
             algorithm AS p_algorithm, sign_count AS p_sign_count, name AS p_name, \
             created_at AS p_created_at, last_used_at AS p_last_used_at",
        )
        .bind(id)
        .bind(user_id)
        .fetch_optional(self.writer())
        .await?;
        row.map(Into::into)
            .ok_or(StoreError::not_found(Entity::Passkey, id))
    }

    async fn delete_passkeys(&self, user_id: Uuid) -> Result<u64> {
        let done = sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
            .bind(user_id)
            .execute(self.writer())
            .await?;
        Ok(B::Db::rows_affected(&done))
    }

    async fn use_passkey(
        &self,
        id: Uuid,
        seen: i64,
        count: i64,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE passkeys SET sign_count = $3, last_used_at = $4 \
             WHERE id = $1 AND sign_count = $2",
        )
        .bind(id)
        .bind(seen)
        .bind(count)
        .bind(at)
        .execute(self.writer())
        .await?;
        Ok(B::Db::rows_affected(&done) == 1)
    }

    async fn auth_settings(&self, key: &str) -> Result<JsonObject> {
        let value: Option<Json<JsonObject>> =
            sqlx::query_scalar("SELECT value FROM auth_settings WHERE key = $1")
                .bind(key)
                .fetch_optional(self.reader())
                .await?;
        Ok(value.map(|v| v.0).unwrap_or_default())
    }

    async fn put_auth_settings(
        &self,
        key: &str,
        value: &JsonObject,
        at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO auth_settings (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
             updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(Json(value))
        .bind(at)
        .execute(self.writer())
        .await?;
        Ok(())
    }
}
