//! Identity and access: users and their roles, sessions, personal API keys with scopes, the audit
//! trail, the password policy and the login-throttling rule.
//!
//! Secrets never appear here in clear: users carry a password *hash*, sessions and API keys are
//! identified by the hash of their token. Hashing itself happens at the edge (the HTTP layer).

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::JsonObject;
use crate::status::status_enum;
use crate::validate::{self, ValidationError};

status_enum!(
    /// What a user may do. Ordered: each role includes everything the ones before it may do.
    /// v1's `admin | viewer` values keep their meaning.
    Role {
        /// Reads everything that is not administrative.
        #[default]
        Viewer => "viewer",
        /// Also creates, changes and deletes projects, components, tasks and events.
        Editor => "editor",
        /// Also manages users, other people's API keys, settings, plugins and the DLQ.
        Admin => "admin",
    }
);

status_enum!(
    /// What an API key may do; never more than its owner's role.
    Scope {
        /// Like a viewer.
        #[default]
        Read => "read",
        /// Like an editor.
        Write => "write",
        /// Like an admin.
        Admin => "admin",
    }
);

impl Scope {
    /// The role a key with this scope acts with (before its owner's ceiling is applied).
    pub fn role(self) -> Role {
        match self {
            Scope::Read => Role::Viewer,
            Scope::Write => Role::Editor,
            Scope::Admin => Role::Admin,
        }
    }

    /// The widest scope a holder of `role` may give a key.
    pub fn ceiling(role: Role) -> Scope {
        match role {
            Role::Viewer => Scope::Read,
            Role::Editor => Scope::Write,
            Role::Admin => Scope::Admin,
        }
    }
}

status_enum!(
    /// What an audit entry records.
    AuditAction {
        #[default]
        LoginSuccess => "login_success",
        LoginFailed => "login_failed",
        LoginLocked => "login_locked",
        Logout => "logout",
        SessionRevoked => "session_revoked",
        UserCreated => "user_created",
        UserUpdated => "user_updated",
        UserDeleted => "user_deleted",
        RoleChanged => "role_changed",
        PasswordChanged => "password_changed",
        ApiKeyCreated => "api_key_created",
        ApiKeyRevoked => "api_key_revoked",
        SetupTokenUsed => "setup_token_used",
        /// An account was linked to an identity at a provider (forward-auth, OpenID Connect).
        IdentityLinked => "identity_linked",
        /// A TOTP second factor was confirmed (turned on).
        TotpEnabled => "totp_enabled",
        /// A TOTP second factor was turned off (by its user, or reset by an admin).
        TotpDisabled => "totp_disabled",
        /// A wrong second-factor code at sign-in.
        SecondFactorFailed => "second_factor_failed",
        /// New recovery codes replaced the old ones.
        RecoveryCodesRenewed => "recovery_codes_renewed",
        /// An admin changed the sign-in settings.
        SignInSettingsChanged => "sign_in_settings_changed",
        /// A passkey was registered.
        PasskeyAdded => "passkey_added",
        PasskeyRenamed => "passkey_renamed",
        /// A passkey was removed (by its user, or with the second factors an admin reset).
        PasskeyRemoved => "passkey_removed",
        AlertAcknowledged => "alert_acknowledged",
        AlertSilenced => "alert_silenced",
    }
);

pub const USERNAME_MAX: usize = 64;
pub const DEFAULT_VIEW_MAX: usize = 255;
pub const API_KEY_NAME_MAX: usize = 100;
pub const PASSWORD_MIN: usize = 12;
pub const PASSWORD_MAX: usize = 1024;

/// A person who can log in. The password hash is kept apart ([`Credentials`]) so it is not
/// carried around, or serialized, by accident.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub role: Role,
    pub is_active: bool,
    /// Where the UI opens (kiosk mode), e.g. `dashboard` or `plugin:<id>`.
    pub default_view: Option<String>,
    /// Kiosk mode: the UI shows only `default_view`.
    pub single_view_mode: bool,
    /// Who created the account; `None` for the first admin or once the creator is deleted.
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
}

/// A user together with the stored password hash (argon2id PHC string, or a v1 bcrypt hash).
#[derive(Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password_hash", &"[redacted]")
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    /// Already hashed (see the HTTP layer's password module).
    pub password_hash: String,
    pub role: Role,
    pub default_view: Option<String>,
    pub single_view_mode: bool,
    pub created_by: Option<Uuid>,
}

impl User {
    /// Validates `new` and builds the user it describes.
    pub fn create(new: &NewUser, at: DateTime<Utc>) -> Result<User, ValidationError> {
        Ok(User {
            id: Uuid::new_v4(),
            username: validate_username(&new.username)?,
            role: new.role,
            is_active: true,
            default_view: validate_default_view(new.default_view.clone())?,
            single_view_mode: new.single_view_mode,
            created_by: new.created_by,
            created_at: at,
            updated_at: at,
            last_login: None,
        })
    }

    /// Applies `patch` (validated); returns what changed, for the audit trail and to decide
    /// whether the user's sessions must end.
    pub fn apply(
        &mut self,
        patch: &UserPatch,
        at: DateTime<Utc>,
    ) -> Result<UserChanges, ValidationError> {
        let mut changes = UserChanges::default();
        if let Some(role) = patch.role
            && role != self.role
        {
            changes.role = Some((self.role, role));
            self.role = role;
        }
        if let Some(view) = &patch.default_view {
            let view = validate_default_view(view.clone())?;
            if view != self.default_view {
                changes.fields.push("default_view");
                self.default_view = view;
            }
        }
        if let Some(kiosk) = patch.single_view_mode
            && kiosk != self.single_view_mode
        {
            changes.fields.push("single_view_mode");
            self.single_view_mode = kiosk;
        }
        if let Some(active) = patch.is_active
            && active != self.is_active
        {
            changes.fields.push("is_active");
            changes.deactivated = !active;
            self.is_active = active;
        }
        if patch.password_hash.is_some() {
            changes.password = true;
        }
        if changes.any() {
            self.updated_at = at;
        }
        Ok(changes)
    }

    /// Is this an active admin?
    pub fn is_active_admin(&self) -> bool {
        self.is_active && self.role == Role::Admin
    }
}

/// A partial update of a user; `None` leaves a field unchanged. `default_view: Some(None)`
/// clears it.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub role: Option<Role>,
    pub default_view: Option<Option<String>>,
    pub single_view_mode: Option<bool>,
    pub is_active: Option<bool>,
    /// A new, already hashed password.
    pub password_hash: Option<String>,
    /// The change may leave no active admin. Only for a role that a sign-in provider's groups
    /// decide (someone taken out of the admin group is no admin at their next sign-in, even
    /// the last one); the way back in is the break-glass local admin or the command line.
    pub may_remove_last_admin: bool,
}

impl UserPatch {
    pub fn is_empty(&self) -> bool {
        self.role.is_none()
            && self.default_view.is_none()
            && self.single_view_mode.is_none()
            && self.is_active.is_none()
            && self.password_hash.is_none()
    }
}

/// What a [`UserPatch`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    /// (old, new)
    pub role: Option<(Role, Role)>,
    pub password: bool,
    pub deactivated: bool,
    /// Other changed fields, by name.
    pub fields: Vec<&'static str>,
}

impl UserChanges {
    pub fn any(&self) -> bool {
        self.role.is_some() || self.password || !self.fields.is_empty()
    }

    /// A change of role, password or deactivation ends the user's sessions.
    pub fn revokes_sessions(&self) -> bool {
        self.role.is_some() || self.password || self.deactivated
    }
}

/// Trimmed; 1-64 characters; no spaces or control characters.
pub fn validate_username(name: &str) -> Result<String, ValidationError> {
    let name = validate::name("username", name, USERNAME_MAX)?;
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ValidationError::new(
            "username",
            "must not contain spaces or control characters",
        ));
    }
    Ok(name)
}

/// At most 255 characters; empty means none.
pub fn validate_default_view(view: Option<String>) -> Result<Option<String>, ValidationError> {
    let view = view.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    validate::optional_text("default_view", view, DEFAULT_VIEW_MAX)
}

/// The form of a username that must be unique: case-insensitive (`Alice` and `alice` are one
/// user).
pub fn username_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Passwords everyone tries first that the breached-password list
/// ([`crate::common_passwords`]) lacks, some of them this project's own. Shorter ones are refused
/// by the length rule anyway; the comparison ignores case.
const COMMON_PASSWORDS: &[&str] = &[
    "12345678901234",
    "1234567890123456",
    "password123456",
    "password1234567",
    "password!234",
    "passw0rd1234",
    "p@ssw0rd1234",
    "p@ssword1234",
    "mypassword123",
    "password123!",
    "administrator123",
    "admin1234567",
    "admin123admin",
    "adminpassword",
    "letmein12345",
    "welcome12345",
    "welcome123456",
    "changeme1234",
    "changeme123!",
    "trustno11234",
    "sunshine1234",
    "football1234",
    "superman1234",
    "monkey123456",
    "dragon123456",
    "homelab12345",
    "taylordash123",
    "taylordash1234",
    "taylordash-dev-key",
    "correcthorsebatterystaple",
];

/// The password policy: 12-1024 characters, not on the breached-password list or a well-known
/// password, not the username.
pub fn check_password_policy(password: &str, username: &str) -> Result<(), ValidationError> {
    let length = password.chars().count();
    if length < PASSWORD_MIN {
        return Err(ValidationError::new(
            "password",
            format!("must be at least {PASSWORD_MIN} characters; a few random words work well"),
        ));
    }
    if length > PASSWORD_MAX {
        return Err(ValidationError::new(
            "password",
            format!("must be at most {PASSWORD_MAX} characters"),
        ));
    }
    let lowered = password.to_lowercase();
    if COMMON_PASSWORDS.contains(&lowered.as_str())
        || crate::common_passwords::is_breached(&lowered)
    {
        return Err(ValidationError::new(
            "password",
            "is on a list of passwords leaked in breaches, which attackers try first; choose another",
        ));
    }
    if lowered.trim() == username_key(username) {
        return Err(ValidationError::new("password", "must not be the username"));
    }
    Ok(())
}

/// A login session. Identified by the hash of its token; the token itself is only ever known to
/// the client.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_activity: DateTime<Utc>,
    /// Moves forward with use (sliding expiry): `last_activity + ttl`.
    pub expires_at: DateTime<Utc>,
    /// The idle lifetime: 24 h, or 30 days with "remember me".
    pub ttl_seconds: i64,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// How it began; `None` for sessions from before this was recorded.
    pub sign_in_method: Option<crate::SignInMethod>,
}

/// A new session, with the hash of its token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub session: Session,
    pub token_hash: String,
}

/// A personal API key (without its secret).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyInfo {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// The first characters of the key, to recognize it in lists.
    pub prefix: String,
    pub scope: Scope,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub key: ApiKeyInfo,
    pub key_hash: String,
}

/// Validates an API key's name: 1-100 characters.
pub fn validate_api_key_name(name: &str) -> Result<String, ValidationError> {
    validate::name("name", name, API_KEY_NAME_MAX)
}

/// One line of the audit trail. Actor and target are kept by id *and* name, without foreign
/// keys, so the trail survives the deletion of the users it mentions.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub action: AuditAction,
    pub actor_id: Option<Uuid>,
    pub actor_name: Option<String>,
    pub target_id: Option<Uuid>,
    pub target_name: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub details: JsonObject,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<AuditAction>,
    pub actor_id: Option<Uuid>,
    pub target_id: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// What the throttle remembers about one key (a client address or a username).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleState {
    /// Failed attempts since the counter was last reset.
    pub failures: i64,
    pub last_failure: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
}

/// The brute-force rule: `max_failures` failed logins per `window`, then a lockout of one
/// `window`, doubling with each further failure up to `max_lockout`. A key is forgotten after
/// a quiet `window` (no failure and no lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    pub max_failures: i64,
    pub window: Duration,
    pub max_lockout: Duration,
}

impl ThrottlePolicy {
    /// 5 failures per 15 minutes.
    pub const PER_USERNAME: ThrottlePolicy = ThrottlePolicy {
        max_failures: 5,
        window: Duration::minutes(15),
        max_lockout: Duration::hours(24),
    };

    /// A client address may try several accounts (a household behind one router), but not
    /// spray passwords across all of them.
    pub const PER_ADDRESS: ThrottlePolicy = ThrottlePolicy {
        max_failures: 20,
        window: Duration::minutes(15),
        max_lockout: Duration::hours(24),
    };

    /// The state after one more failure at `now`.
    pub fn after_failure(
        &self,
        previous: Option<ThrottleState>,
        now: DateTime<Utc>,
    ) -> ThrottleState {
        let failures = match previous {
            Some(p) if !self.expired(&p, now) => p.failures + 1,
            _ => 1,
        };
        let locked_until = (failures >= self.max_failures).then(|| {
            let doublings = u32::try_from(failures - self.max_failures)
                .unwrap_or(u32::MAX)
                .min(20);
            let lockout = self
                .window
                .checked_mul(1 << doublings)
                .unwrap_or(self.max_lockout)
                .min(self.max_lockout);
            now + lockout
        });
        ThrottleState {
            failures,
            last_failure: now,
            locked_until,
        }
    }

    /// Has this state been quiet long enough to be forgotten?
    pub fn expired(&self, state: &ThrottleState, now: DateTime<Utc>) -> bool {
        let quiet_since = state
            .locked_until
            .map_or(state.last_failure, |l| l.max(state.last_failure));
        now >= quiet_since + self.window
    }
}

/// The key a login throttle counter is stored under.
pub fn throttle_key_for_username(username: &str) -> String {
    format!("user:{}", username_key(username))
}

pub fn throttle_key_for_address(ip: IpAddr) -> String {
    format!("ip:{ip}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_v1_values_parse() {
        assert!(Role::Viewer < Role::Editor && Role::Editor < Role::Admin);
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
        assert_eq!("viewer".parse::<Role>(), Ok(Role::Viewer));
        assert!("root".parse::<Role>().is_err());
        for role in Role::ALL {
            assert_eq!(Scope::ceiling(*role).role(), *role);
        }
    }

    #[test]
    fn password_policy() {
        assert!(check_password_policy("short", "bob").is_err());
        assert!(check_password_policy(&"x".repeat(1025), "bob").is_err());
        assert!(check_password_policy(&"x".repeat(1024), "bob").is_ok());
        assert!(
            check_password_policy("Password1234", "bob").is_err(),
            "common"
        );
        assert!(
            check_password_policy("ManchesterUnited", "bob").is_err(),
            "on the breached-password list, in any case"
        );
        assert!(check_password_policy("alice.smith.1", "Alice.Smith.1").is_err());
        assert!(check_password_policy("plinth-otter-harbour", "bob").is_ok());
    }

    #[test]
    fn usernames_are_validated_and_compared_without_case() {
        assert_eq!(validate_username("  Alice ").unwrap(), "Alice");
        assert!(validate_username("al ice").is_err());
        assert!(validate_username("").is_err());
        assert!(validate_username(&"a".repeat(65)).is_err());
        assert_eq!(username_key("Alice"), username_key("aLICE"));
    }

    #[test]
    fn throttle_locks_after_five_failures_then_backs_off() {
        let p = ThrottlePolicy::PER_USERNAME;
        let t0 = crate::now();
        let mut state = None;
        for i in 1..=4 {
            let s = p.after_failure(state, t0 + Duration::seconds(i));
            assert_eq!(s.locked_until, None, "failure {i} does not lock");
            state = Some(s);
        }
        let fifth = p.after_failure(state, t0 + Duration::seconds(5));
        assert_eq!(
            fifth.locked_until,
            Some(t0 + Duration::seconds(5) + p.window)
        );
        // After the lock ends, the next failure locks for twice as long.
        let later = fifth.locked_until.unwrap() + Duration::seconds(1);
        let sixth = p.after_failure(Some(fifth), later);
        assert_eq!(sixth.failures, 6);
        assert_eq!(sixth.locked_until, Some(later + p.window * 2));
        // A quiet window after the lock forgets everything.
        let much_later = sixth.locked_until.unwrap() + p.window;
        assert!(p.expired(&sixth, much_later));
        assert_eq!(p.after_failure(Some(sixth), much_later).failures, 1);
        // Backoff is capped.
        let many = ThrottleState {
            failures: 60,
            last_failure: t0,
            locked_until: Some(t0),
        };
        let capped = p.after_failure(Some(many), t0 + Duration::seconds(1));
        assert_eq!(
            capped.locked_until,
            Some(t0 + Duration::seconds(1) + p.max_lockout)
        );
    }
}
