//! [`IdentityStore`]: users, sessions, API keys, the login throttle and the audit trail.
//!
//! Secrets arrive here already hashed; nothing in these tables can be used to log in or to call
//! the API if the database leaks. Times are passed in by the caller (its clock), never read from
//! the database, so both backends and the tests agree on "now".

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    ApiKeyInfo, AuditEntry, AuditFilter, Credentials, NewApiKey, NewSession, NewUser, Page,
    PageRequest, Session, ThrottlePolicy, ThrottleState, User, UserChanges, UserPatch,
};
use uuid::Uuid;

use crate::Result;

/// What a successful login changes on the user row.
#[derive(Debug, Clone, Default)]
pub struct LoginUpdate {
    /// A new hash of the same password (an imported v1 bcrypt hash upgraded to argon2id).
    pub rehashed_password: Option<String>,
    /// Kiosk settings chosen on the login form (`single_view_mode`, `default_view`), persisted as
    /// v1 did.
    pub kiosk: Option<(bool, Option<String>)>,
}

#[async_trait]
pub trait IdentityStore: crate::SignInStore + Send + Sync + 'static {
    /// Creates a user; a username taken in any letter case is [`crate::StoreError::UsernameTaken`].
    async fn create_user(&self, new: NewUser, at: DateTime<Utc>) -> Result<User>;
    /// Creates an admin only if no active admin exists (browser setup, unattended install);
    /// otherwise [`crate::StoreError::AdminExists`].
    async fn create_first_admin(&self, new: NewUser, at: DateTime<Utc>) -> Result<User>;
    async fn get_user(&self, id: Uuid) -> Result<User>;
    /// All users, newest first.
    async fn list_users(&self) -> Result<Vec<User>>;
    /// The user with this name (any letter case) and their password hash.
    async fn find_credentials(&self, username: &str) -> Result<Option<Credentials>>;
    async fn get_credentials(&self, id: Uuid) -> Result<Credentials>;
    async fn count_active_admins(&self) -> Result<i64>;
    /// Applies `patch`. Refuses ([`crate::StoreError::LastAdmin`]) a change that would leave no
    /// active admin, unless the patch says it may. A change of role or password, or a deactivation, revokes the user's
    /// sessions (all but `keep_session`) in the same transaction.
    async fn update_user(
        &self,
        id: Uuid,
        patch: UserPatch,
        at: DateTime<Utc>,
        keep_session: Option<Uuid>,
    ) -> Result<(User, UserChanges)>;
    /// Deletes the user with their sessions and keys; refuses to delete the last active admin.
    /// Returns the deleted user. Audit entries and `created_by` references survive.
    async fn delete_user(&self, id: Uuid) -> Result<User>;
    /// Records a successful login (`last_login`) and applies `update`.
    async fn record_login(&self, id: Uuid, at: DateTime<Utc>, update: LoginUpdate) -> Result<User>;

    async fn create_session(&self, new: NewSession) -> Result<()>;
    /// The live session with this token hash and its user: not revoked, not expired, user
    /// active. Anything else is `None`.
    async fn session_by_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Session, User)>>;
    /// Slides the expiry of a session forward: records activity at `now`, moves the end to
    /// `expires_at` (the caller's `now + ttl`).
    async fn touch_session(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// The user's live sessions, newest first.
    async fn list_sessions(&self, user_id: Uuid, now: DateTime<Utc>) -> Result<Vec<Session>>;
    /// Revokes one of the user's live sessions; `NotFound` if there is no such live session.
    async fn revoke_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Revokes all the user's live sessions except `except`; returns how many.
    async fn revoke_sessions(
        &self,
        user_id: Uuid,
        except: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<u64>;
    /// Deletes expired and revoked sessions; returns how many.
    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64>;

    async fn create_api_key(&self, new: NewApiKey) -> Result<ApiKeyInfo>;
    /// The live key with this hash and its owner: not revoked, not expired, owner active.
    async fn api_key_by_hash(
        &self,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(ApiKeyInfo, User)>>;
    /// Records that a key was used at `now`.
    async fn touch_api_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<()>;
    /// Keys that are not revoked, newest first: one user's, or everyone's.
    async fn list_api_keys(&self, user_id: Option<Uuid>) -> Result<Vec<ApiKeyInfo>>;
    /// A key that is not revoked.
    async fn get_api_key(&self, id: Uuid) -> Result<ApiKeyInfo>;
    async fn revoke_api_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<ApiKeyInfo>;

    /// The latest lock among `keys` still in force at `now`.
    async fn throttle_locked_until(
        &self,
        keys: &[String],
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>>;
    /// Counts one failed login against `key` (atomically, so replicas share the counter).
    async fn record_login_failure(
        &self,
        key: &str,
        policy: ThrottlePolicy,
        now: DateTime<Utc>,
    ) -> Result<ThrottleState>;
    async fn clear_login_failures(&self, key: &str) -> Result<()>;

    async fn record_audit(&self, entry: AuditEntry) -> Result<()>;
    /// Audit entries matching `filter`, newest first.
    async fn list_audit(&self, filter: &AuditFilter, page: PageRequest)
    -> Result<Page<AuditEntry>>;
}
