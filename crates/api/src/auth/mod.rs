//! Identity and access at the HTTP edge.
//!
//! - `middleware.rs`: every `/api/v1` request goes through [`middleware::authorize`]: it finds
//!   the route's rule in `policy.rs` (deny by default), authenticates the caller (service key,
//!   personal API key, session bearer token or session cookie), checks CSRF for cookie
//!   sessions, checks the role, and records the caller as a [`Principal`] in the request
//!   extensions — the single source of "who is calling" for handlers.
//! - `policy.rs`: the route → required role table.
//! - `password.rs`, `token.rs`: argon2id (and v1 bcrypt) passwords; random tokens stored hashed.
//! - `client.rs`: client address (trusted proxies), user agent, TLS detection, Origin check.
//! - `sessions.rs`, `users.rs`, `api_keys.rs`, `setup.rs`, `audit.rs`: the `/auth/*` and
//!   `/audit` handlers.

pub(crate) mod api_keys;
pub(crate) mod audit;
pub(crate) mod client;
pub mod middleware;
pub mod password;
pub mod policy;
pub(crate) mod sessions;
pub(crate) mod setup;
pub mod token;
pub mod users;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::{Role, Scope, ThrottlePolicy, User};
use subtle::ConstantTimeEq;
use uuid::Uuid;

pub use client::ClientInfo;
pub use password::PasswordCost;

pub const API_KEY_HEADER: &str = "x-api-key";
/// The browser's session cookie (HttpOnly, SameSite=Strict).
pub const SESSION_COOKIE: &str = "taylordash_session";

/// The installation's service key (`API_KEY`): admin scope, as in v1. Its `Debug` output is
/// redacted so it cannot leak into logs.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// Constant-time comparison: the time taken does not depend on how much of `candidate`
    /// matches.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(candidate).into()
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The installation's `API_KEY`.
    ServiceKey,
    /// A login session, sent as a bearer token or (`via_cookie`) as the session cookie.
    Session { id: Uuid, via_cookie: bool },
    /// A personal API key.
    ApiKey { id: Uuid, scope: Scope },
}

/// Who is making the request, and with which effective role.
#[derive(Debug, Clone)]
pub struct Principal {
    pub credential: Credential,
    /// The user behind the credential; `None` for the service key.
    pub user: Option<User>,
    /// What the caller may do: the user's role, capped by an API key's scope; admin for the
    /// service key.
    pub role: Role,
}

impl Principal {
    pub fn service() -> Principal {
        Principal {
            credential: Credential::ServiceKey,
            user: None,
            role: Role::Admin,
        }
    }

    pub fn user_id(&self) -> Option<Uuid> {
        self.user.as_ref().map(|u| u.id)
    }

    /// The id of the session making the request, if it is one.
    pub fn session_id(&self) -> Option<Uuid> {
        match self.credential {
            Credential::Session { id, .. } => Some(id),
            _ => None,
        }
    }

    /// How the caller appears in the audit trail.
    pub fn display_name(&self) -> String {
        match &self.user {
            Some(u) => u.username.clone(),
            None => "service key".to_owned(),
        }
    }
}

/// The time source; replaceable in tests to move past expiries and lockouts.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    pub fn system() -> Clock {
        Clock(Arc::new(domain::now))
    }

    pub fn new(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// Now, truncated to microseconds (see [`domain::now`]).
    pub fn now(&self) -> DateTime<Utc> {
        domain::truncate_to_micros((self.0)())
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// Deployment-dependent settings of authentication.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Peers whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The origin users reach TaylorDash at (`https://dash.example.net`), if configured: the
    /// allowed `Origin` of cookie-authenticated writes besides the request's own host, and —
    /// when https — Secure cookies and HSTS on every response.
    pub public_origin: Option<String>,
    pub password_cost: PasswordCost,
    pub per_username: ThrottlePolicy,
    pub per_address: ThrottlePolicy,
    pub clock: Clock,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            trusted_proxies: Vec::new(),
            public_origin: None,
            password_cost: PasswordCost::Standard,
            per_username: ThrottlePolicy::PER_USERNAME,
            per_address: ThrottlePolicy::PER_ADDRESS,
            clock: Clock::system(),
        }
    }
}

impl AuthConfig {
    /// Is TaylorDash served over TLS by configuration (an `https://` public URL)?
    pub fn tls(&self) -> bool {
        self.public_origin
            .as_deref()
            .is_some_and(|o| o.starts_with("https://"))
    }
}

/// Authentication state shared by all requests.
pub struct AuthState {
    pub config: AuthConfig,
    /// The hash of the pending first-run setup token, while no admin exists.
    setup_token: tokio::sync::Mutex<Option<String>>,
    /// A hash verified for unknown usernames so that a login takes as long whether or not the
    /// user exists.
    dummy_hash: tokio::sync::OnceCell<String>,
}

impl AuthState {
    pub fn new(config: AuthConfig) -> AuthState {
        AuthState {
            config,
            setup_token: tokio::sync::Mutex::new(None),
            dummy_hash: tokio::sync::OnceCell::new(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.config.clock.now()
    }
}
