//! Identity: who may sign in, and how the program remembers who did what.
//!
//! [`Identity`] is the service: it owns nothing but a narrow store
//! ([`storage::IdentityStore`]), a [`Clock`], a [`PasswordHasher`] and the login-throttle
//! policies, and returns [`Error`]s that say what went wrong in domain terms (the HTTP layer
//! turns them into statuses and codes; the command line prints them).
//!
//! - `sessions.rs`: login (throttle → verify → rehash → session → audit), logout, the caller's
//!   sessions, and finding the session or API key behind a token.
//! - `throttle.rs`: the per-username and per-address counters of failed logins.
//! - `users.rs`: provisioning (API, command line, unattended install), updates, deletion,
//!   changing your own password.
//! - `api_keys.rs`: personal keys (scope never above the owner's role).
//! - `setup.rs`: the one-time first-run token.
//! - `second_factor.rs`: TOTP enrolment, recovery codes, the two-step login (challenges), and
//!   the run-time sign-in settings; `totp_code.rs`: RFC 6238 codes and base32.
//! - `passkeys.rs`: WebAuthn passkeys — registration, passwordless sign-in, a passkey as the
//!   second step after a password; `webauthn.rs`: the relying party's checks (client data,
//!   authenticator data, COSE keys, ES256/EdDSA/RS256 signatures with ring, a strict CBOR reader).
//! - `external.rs`: sign-in through a forward-auth proxy or an OpenID provider: the account
//!   linked to the provider's subject (linked or created on first sight), its role from groups.
//! - `oidc.rs`: OpenID Connect sign-in (authorization code flow with PKCE, discovery, the
//!   provider's keys); `jwt.rs`: ID token signatures (RS256, ES256, with ring) and claims.
//! - `password.rs`: argon2id on the blocking pool, v1 bcrypt verify; `token.rs`: random tokens
//!   and their SHA-256.
//! - `audit.rs`: [`Identity::audit`] is the one place security events go through; the store
//!   writes each entry and its bus event in one transaction (the outbox), so they reach the
//!   event bus whoever recorded them — a server, or the command line with no bus at all.

mod api_keys;
mod audit;
mod external;
pub mod jwt;
pub mod oidc;
mod passkeys;
pub mod password;
mod second_factor;
mod sessions;
mod setup;
mod throttle;
pub mod token;
pub mod totp_code;
mod users;
pub mod webauthn;

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::{Scope, ThrottlePolicy, ValidationError};
use storage::{IdentityStore, StoreError};

use crate::Clock;

pub use api_keys::NewKeyRequest;
pub use audit::Party;
pub use external::{ExternalLogin, ExternalPolicy, ExternalUser, FORWARD_AUTH, NO_PASSWORD};
pub use oidc::{Oidc, OidcCallback, OidcError, OidcLogin, OidcSettings, OidcStart};
pub use passkeys::{Assertion, Attestation, PASSKEY_CHALLENGE_TTL, RelyingParty};
pub use password::{PasswordCost, PasswordHasher, Verified};
pub use second_factor::{
    CHALLENGE_MAX_FAILURES, CHALLENGE_TTL, CompletedLogin, Enrolment, LoginOutcome, PendingLogin,
    SignInSettings, SignInSettingsPatch, TotpStatus,
};
pub use sessions::{
    Authenticated, LoginRequest, NewLogin, REMEMBER_ME_TTL, SESSION_TTL, TOUCH_INTERVAL,
};
pub use users::{NewUserRequest, UserUpdate};

/// How the identity service is tuned.
#[derive(Debug, Clone)]
pub struct Settings {
    pub password_cost: PasswordCost,
    pub per_username: ThrottlePolicy,
    pub per_address: ThrottlePolicy,
    pub clock: Clock,
    /// Accounts whose password always signs in, even with password sign-in turned off (the
    /// break-glass admin); compared without case.
    pub break_glass: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            password_cost: PasswordCost::Standard,
            per_username: ThrottlePolicy::PER_USERNAME,
            per_address: ThrottlePolicy::PER_ADDRESS,
            clock: Clock::system(),
            break_glass: Vec::new(),
        }
    }
}

/// What the service knows of the client behind a call: its address (for the per-address
/// throttle, the session list and the audit trail) and its user agent. Both unknown outside a
/// request (the command line, startup).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientMeta {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientMeta {
    pub fn ip_string(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }
}

/// Why an identity operation did not happen. The `Display` text is meant for the person who
/// asked (it is the API's `detail`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Wrong username or password, or an inactive user — never saying which.
    #[error("Invalid username or password")]
    InvalidCredentials,
    /// A login-throttle counter is locked for this many more seconds (at least 1).
    #[error("Too many failed logins; try again in {} minutes", retry_after.div_ceil(60))]
    TooManyAttempts { retry_after: u64 },
    #[error("the current password is wrong")]
    InvalidCurrentPassword,
    #[error(
        "this setup token is wrong or was already used; an admin can add users, or run \
         `taylordash user add --role admin NAME` on the server"
    )]
    InvalidSetupToken,
    #[error("No updates provided")]
    NoUpdates,
    #[error("Cannot delete your own account")]
    CannotDeleteSelf,
    /// Listing another user's (or everyone's) keys takes an admin.
    #[error("only admins may list other users' API keys")]
    OthersKeys,
    #[error("a key cannot do more than its creator: the widest scope you may give is '{ceiling}'")]
    ScopeAboveRole { ceiling: Scope },
    /// Both `expires_at` and `expires_in_days` were given for a new key.
    #[error("send expires_at or expires_in_days, not both")]
    ExpiryTwice,
    /// A provider signed someone in whose groups give no role here.
    #[error(
        "your account at the sign-in provider is in none of the groups allowed to use \
         TaylorDash; ask an admin to add you to one"
    )]
    NotInAllowedGroup,
    /// A provider signed someone in who has no account here, and none may be made for them.
    #[error(
        "no TaylorDash account is linked to '{username}' and accounts are not created on first \
         sign-in; ask an admin to create the account '{username}'"
    )]
    NoLinkedAccount { username: String },
    /// The account exists but an admin turned it off.
    #[error("this account is disabled; ask an admin")]
    AccountDisabled,
    /// The second step of a sign-in came too late, twice, or after too many wrong codes.
    #[error("this sign-in expired or was already used; sign in again with your password")]
    InvalidChallenge,
    /// A wrong second-factor code.
    #[error(
        "wrong code: enter the 6-digit code your authenticator app shows now, or a recovery code"
    )]
    InvalidCode,
    /// The second step of this sign-in takes a passkey (the account has no TOTP).
    #[error("this account signs in with a passkey as its second factor, not a code")]
    PasskeyNeeded,
    /// A passkey answer was refused (wrong signature, origin, site, counter...).
    #[error(transparent)]
    Passkey(#[from] webauthn::WebAuthnError),
    /// No passkey with that credential is registered (to this account).
    #[error("this passkey is not registered here; sign in another way and add it in Settings")]
    UnknownPasskey,
    /// The signature counter did not grow: the passkey may have been copied.
    #[error(
        "this passkey's signature counter went backwards, a sign of a cloned authenticator; \
         it was refused (remove it in Settings and register it again if this is expected)"
    )]
    PasskeyCounter,
    #[error("this passkey is already registered")]
    PasskeyExists,
    #[error("two-factor sign-in is already on; turn it off first to set it up again")]
    TotpAlreadyOn,
    #[error("two-factor sign-in is not set up for this account")]
    NoTotpEnrolment,
    #[error("admins must keep two-factor sign-in on (the sign-in settings require it)")]
    SecondFactorRequired,
    #[error(
        "password sign-in is turned off; use single sign-on (an admin can turn password \
         sign-in on again, and break-glass accounts always may)"
    )]
    PasswordSignInDisabled,
    /// An OpenID sign-in was refused (a replayed state, a bad token, an unreachable provider).
    #[error(transparent)]
    Oidc(#[from] oidc::OidcError),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something that should not fail did (the OS random source, the hasher, a worker thread).
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub(crate) fn internal(e: impl std::fmt::Display) -> Error {
        Error::Internal(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The identity service: sign-in, setup, users, API keys, and their audit trail.
pub struct Identity {
    store: Arc<dyn IdentityStore>,
    passwords: PasswordHasher,
    clock: Clock,
    per_username: ThrottlePolicy,
    per_address: ThrottlePolicy,
    /// Lower-cased usernames of the break-glass accounts.
    break_glass: Vec<String>,
    /// The hash of the pending first-run setup token, while no admin exists.
    setup_token: tokio::sync::Mutex<Option<String>>,
}

impl Identity {
    pub fn new(store: Arc<dyn IdentityStore>, settings: Settings) -> Identity {
        Identity {
            store,
            passwords: PasswordHasher::new(settings.password_cost),
            clock: settings.clock,
            per_username: settings.per_username,
            per_address: settings.per_address,
            break_glass: settings
                .break_glass
                .iter()
                .map(|n| domain::username_key(n))
                .collect(),
            setup_token: tokio::sync::Mutex::new(None),
        }
    }

    /// Now, by the service's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("passwords", &self.passwords)
            .finish_non_exhaustive()
    }
}
