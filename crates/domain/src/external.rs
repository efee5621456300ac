//! Sign-in through another system (a forward-auth proxy, an OpenID provider): which TaylorDash
//! account an outside identity is, and which role its groups give it.
//!
//! An outside identity is linked to an account by the provider's name for it (`subject`: the
//! proxy's user header, the OpenID `sub` claim), never by e-mail alone. The role comes from the
//! groups the provider reports, at every sign-in, so a user taken out of the admin group stops
//! being an admin the next time they arrive.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::JsonObject;
use crate::Role;
use crate::status::status_enum;
use crate::validate::ValidationError;

/// The provider name forward-auth identities are linked under.
pub const FORWARD_AUTH_PROVIDER: &str = "forward-auth";
/// Longest provider subject kept (OpenID allows 255 ASCII characters).
pub const SUBJECT_MAX: usize = 255;
/// Longest e-mail address kept.
pub const EMAIL_MAX: usize = 320;

/// An account's link to an identity at a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// `forward-auth`, or the configured name of an OpenID provider.
    pub provider: String,
    /// The provider's stable name for the person.
    pub subject: String,
    pub user_id: Uuid,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The last sign-in through this link (written at most once a minute).
    pub last_seen_at: DateTime<Utc>,
}

/// A TOTP second factor. The secret (base32) is needed in clear to compute codes; its `Debug`
/// output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpFactor {
    pub user_id: Uuid,
    pub secret: String,
    /// `None` while enrolment waits for the first code.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The time step of the last accepted code (a code never works twice).
    pub last_step: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for TotpFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpFactor")
            .field("user_id", &self.user_id)
            .field("secret", &"[redacted]")
            .field("confirmed_at", &self.confirmed_at)
            .field("last_step", &self.last_step)
            .finish()
    }
}

/// Recovery codes made at a time.
pub const RECOVERY_CODES: usize = 10;

status_enum!(
    /// What a half-done sign-in waits for.
    ChallengeKind {
        /// A password was right; a second-factor code (or enrolment) is awaited.
        #[default]
        SecondFactor => "second_factor",
        /// An OpenID authorization request awaits the provider's answer.
        Oidc => "oidc",
        /// A WebAuthn ceremony (passkey registration or sign-in) awaits the authenticator's
        /// answer to its random challenge.
        Passkey => "passkey",
    }
);

status_enum!(
    /// How a session began.
    SignInMethod {
        /// A local password (with a second factor if the account has one).
        #[default]
        Password => "password",
        /// An OpenID provider (authorization code flow).
        Oidc => "oidc",
        /// A passkey alone (passwordless WebAuthn).
        Passkey => "passkey",
    }
);

/// A passkey (WebAuthn credential) of an account: its public key only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passkey {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The credential id, base64url.
    pub credential_id: String,
    /// The COSE public key from registration, base64url.
    pub public_key: String,
    /// COSE algorithm (-7 ES256, -8 EdDSA, -257 RS256).
    pub algorithm: i64,
    /// The authenticator's signature counter last seen (0: it keeps none).
    pub sign_count: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Longest passkey name.
pub const PASSKEY_NAME_MAX: usize = 64;

/// Validates a passkey's name: as any display name (trimmed, 1-64 characters, no control or
/// text-direction characters).
pub fn validate_passkey_name(name: &str) -> Result<String, ValidationError> {
    crate::validate::name("name", name, PASSKEY_NAME_MAX)
}

/// A sign-in half done, known to the client by a token stored as SHA-256 only; used once.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginChallenge {
    pub token_hash: String,
    pub kind: ChallengeKind,
    pub user_id: Option<Uuid>,
    pub details: JsonObject,
    /// Wrong codes sent against it so far.
    pub failures: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Validates a provider subject: 1-255 characters, no control characters.
pub fn validate_subject(subject: &str) -> Result<String, ValidationError> {
    let subject = subject.trim();
    if subject.is_empty() || subject.chars().count() > SUBJECT_MAX {
        return Err(ValidationError::new(
            "subject",
            format!("must be 1 to {SUBJECT_MAX} characters"),
        ));
    }
    if subject.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "subject",
            "must not contain control characters",
        ));
    }
    Ok(subject.to_owned())
}

/// Which role a provider's groups give: the first listed group set the user is in decides,
/// admin before editor before viewer. With `viewer_groups` unset every other user gets
/// `default_role` (a viewer unless configured); set, a user in none of the three is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMapping {
    pub admin_groups: Vec<String>,
    pub editor_groups: Vec<String>,
    /// `None`: everyone else gets `default_role`. `Some`: only these groups (and the two above)
    /// may sign in.
    pub viewer_groups: Option<Vec<String>>,
    /// The role of a user in none of the groups above, while `viewer_groups` is unset.
    pub default_role: Role,
}

impl Default for RoleMapping {
    fn default() -> Self {
        RoleMapping {
            admin_groups: vec!["taylordash-admins".to_owned()],
            editor_groups: vec!["taylordash-editors".to_owned()],
            viewer_groups: None,
            default_role: Role::Viewer,
        }
    }
}

impl RoleMapping {
    /// The role for a user in `groups` (compared exactly), or `None` if they may not sign in.
    pub fn role_for<S: AsRef<str>>(&self, groups: &[S]) -> Option<Role> {
        let member = |set: &[String]| {
            groups
                .iter()
                .any(|g| set.iter().any(|s| s.as_str() == g.as_ref()))
        };
        if member(&self.admin_groups) {
            Some(Role::Admin)
        } else if member(&self.editor_groups) {
            Some(Role::Editor)
        } else {
            match &self.viewer_groups {
                None => Some(self.default_role),
                Some(viewers) => member(viewers).then_some(Role::Viewer),
            }
        }
    }
}

/// Splits a groups header or claim value: groups separated by commas (Authelia) or `|`
/// (Authentik), trimmed, empty ones dropped.
pub fn split_groups(value: &str) -> Vec<String> {
    value
        .split([',', '|'])
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_map_to_the_highest_listed_role() {
        let m = RoleMapping::default();
        assert_eq!(m.role_for(&["taylordash-admins"]), Some(Role::Admin));
        assert_eq!(
            m.role_for(&["users", "taylordash-editors", "taylordash-admins"]),
            Some(Role::Admin)
        );
        assert_eq!(m.role_for(&["taylordash-editors"]), Some(Role::Editor));
        assert_eq!(m.role_for::<&str>(&[]), Some(Role::Viewer));
        assert_eq!(
            m.role_for(&["TAYLORDASH-ADMINS"]),
            Some(Role::Viewer),
            "exact"
        );
        let closed = RoleMapping {
            viewer_groups: Some(vec!["family".into()]),
            ..RoleMapping::default()
        };
        assert_eq!(closed.role_for(&["family"]), Some(Role::Viewer));
        assert_eq!(closed.role_for(&["guests"]), None);
        assert_eq!(closed.role_for(&["taylordash-editors"]), Some(Role::Editor));
        let open = RoleMapping {
            default_role: Role::Editor,
            ..RoleMapping::default()
        };
        assert_eq!(open.role_for(&["family"]), Some(Role::Editor));
        assert_eq!(open.role_for(&["taylordash-admins"]), Some(Role::Admin));
    }

    #[test]
    fn group_lists_split_on_commas_and_bars() {
        assert_eq!(
            split_groups(" admins, dev ||ops "),
            vec!["admins", "dev", "ops"]
        );
        assert!(split_groups(" , ").is_empty());
    }

    #[test]
    fn subjects_are_bounded() {
        assert_eq!(validate_subject(" alice ").unwrap(), "alice");
        assert!(validate_subject("").is_err());
        assert!(validate_subject("a\u{7}b").is_err());
        assert!(validate_subject(&"x".repeat(256)).is_err());
    }
}
