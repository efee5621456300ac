//! Identity and access at the HTTP edge.
//!
//! - `middleware.rs`: every `/api/v1` request goes through [`middleware::authorize`]: it finds
//!   the route's rule in `policy.rs` (deny by default), authenticates the caller (service key,
//!   Alertmanager's token, personal API key, session bearer token or session cookie), checks
//!   CSRF for cookie
//!   sessions, checks the role, and records the caller as a [`Principal`] in the request
//!   extensions — the single source of "who is calling" for handlers.
//! - `policy.rs`: the route → required role table.
//! - `client.rs`: client address (trusted proxies), user agent, TLS detection, Origin check.
//! - `oidc.rs`: sign-in with an OpenID provider (the redirect out, the callback, the refusal
//!   page, the provider's logout URL).
//! - `passkeys.rs`: WebAuthn passkeys — your own (register, list, rename, remove), the
//!   passwordless sign-in, a passkey as the second login step; the relying party of a request.
//! - `second_factor.rs`: the second login step, TOTP enrolment and recovery codes, the
//!   sign-in settings and options.
//! - `sessions.rs`, `users.rs`, `api_keys.rs`, `setup.rs`, `audit.rs`: the `/auth/*` and
//!   `/audit` handlers: extract, call the identity service ([`services::identity`]), map the
//!   result (wire types, status, cookie).
//!
//! Handlers about "me" take a [`SignedIn`], which always has a user; others take the
//! [`Principal`].

pub(crate) mod api_keys;
pub(crate) mod audit;
pub(crate) mod client;
pub mod middleware;
pub(crate) mod oidc;
pub(crate) mod passkeys;
pub mod policy;
pub(crate) mod second_factor;
pub(crate) mod sessions;
pub(crate) mod setup;
pub mod users;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderName;
use axum::http::request::Parts;
use domain::{Role, Scope, ThrottlePolicy, User};
use services::identity::{self, ExternalPolicy, Identity, Party};
use storage::IdentityStore;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::error::ApiError;

pub use client::ClientInfo;
pub use services::Clock;
pub use services::identity::PasswordCost;

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

/// Alertmanager's token (`TAYLORDASH_ALERTMANAGER_TOKEN`): the one credential its webhook
/// receiver (`POST /api/v1/alerts/alertmanager`) takes besides an editor's, refused by every
/// other route (see `policy.rs`). Only its SHA-256 is kept; a candidate is hashed and the
/// digests are compared in constant time. Its `Debug` output shows nothing of it.
#[derive(Clone)]
pub struct AlertmanagerToken(String);

impl AlertmanagerToken {
    pub fn new(token: &str) -> AlertmanagerToken {
        AlertmanagerToken(identity::token::hash_token(token))
    }

    /// Whether `candidate` is the token (constant time in the digests).
    pub fn matches(&self, candidate: &str) -> bool {
        let digest = identity::token::hash_token(candidate);
        self.0.as_bytes().ct_eq(digest.as_bytes()).into()
    }
}

impl std::fmt::Debug for AlertmanagerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AlertmanagerToken([redacted])")
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
    /// The identity headers of a trusted forward-auth proxy (Authelia, Authentik behind
    /// Traefik): the browser's sign-in at the proxy, sent with every request like a cookie.
    ForwardAuth,
    /// Alertmanager's token: good for its webhook receiver only.
    Alertmanager,
}

impl Credential {
    /// The session's id, if this is one.
    pub fn session_id(&self) -> Option<Uuid> {
        match self {
            Credential::Session { id, .. } => Some(*id),
            _ => None,
        }
    }
}

/// Who is making the request, and with which effective role.
#[derive(Debug, Clone)]
pub struct Principal {
    pub credential: Credential,
    /// The user behind the credential; `None` for the service key and Alertmanager's token.
    pub user: Option<User>,
    /// What the caller may do: the user's role, capped by an API key's scope; admin for the
    /// service key; viewer for Alertmanager's token, which the authorization layer lets through
    /// to its webhook receiver only.
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

    /// Alertmanager, posting with its token.
    pub fn alertmanager() -> Principal {
        Principal {
            credential: Credential::Alertmanager,
            user: None,
            role: Role::Viewer,
        }
    }

    pub fn user_id(&self) -> Option<Uuid> {
        self.user.as_ref().map(|u| u.id)
    }

    /// The id of the session making the request, if it is one.
    pub fn session_id(&self) -> Option<Uuid> {
        self.credential.session_id()
    }

    /// How the caller appears in the audit trail.
    pub fn display_name(&self) -> String {
        match (&self.user, &self.credential) {
            (Some(u), _) => u.username.clone(),
            (None, Credential::Alertmanager) => "alertmanager token".to_owned(),
            (None, _) => "service key".to_owned(),
        }
    }

    /// The caller as the actor of an audit entry.
    pub fn actor(&self) -> Party {
        Party {
            id: self.user_id(),
            name: Some(self.display_name()),
        }
    }
}

/// A caller that is a user (a session or a personal API key, not the service key): the
/// checked result always has the user, so handlers about "me" have nothing to re-check.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub credential: Credential,
    /// The user's role, capped by an API key's scope.
    pub role: Role,
}

impl SignedIn {
    /// The id of the session making the request, if it is one.
    pub fn session_id(&self) -> Option<Uuid> {
        self.credential.session_id()
    }

    /// The caller as the actor of an audit entry.
    pub fn actor(&self) -> Party {
        Party::from(&self.user)
    }
}

/// 403 `USER_REQUIRED`: the route is about the caller's own account.
pub(crate) fn user_required() -> ApiError {
    ApiError::forbidden(
        "USER_REQUIRED",
        "this route is about your own account: log in, or use a personal API key \
         instead of the service key",
    )
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(principal) = parts.extensions.get::<Principal>() else {
            return Err(ApiError::internal(
                "a handler needs the caller, but the authorization layer did not run",
            ));
        };
        let Some(user) = principal.user.clone() else {
            return Err(user_required());
        };
        Ok(SignedIn {
            user,
            credential: principal.credential.clone(),
            role: principal.role,
        })
    }
}

/// Forward-auth: a reverse proxy (Traefik with Authelia or Authentik) signs users in and names
/// them in request headers. Believed only from [`AuthConfig::trusted_proxies`].
#[derive(Debug, Clone)]
pub struct ForwardAuth {
    /// The username (`Remote-User`); also the identity's subject.
    pub user_header: HeaderName,
    /// Groups, separated by commas or `|` (`Remote-Groups`).
    pub groups_header: HeaderName,
    /// E-mail address (`Remote-Email`).
    pub email_header: HeaderName,
    /// Where "sign out" sends the browser (the proxy's logout page), if set.
    pub logout_url: Option<String>,
}

impl Default for ForwardAuth {
    fn default() -> Self {
        ForwardAuth {
            user_header: HeaderName::from_static("remote-user"),
            groups_header: HeaderName::from_static("remote-groups"),
            email_header: HeaderName::from_static("remote-email"),
            logout_url: None,
        }
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
    /// Further origins (lower case, no trailing slash) whose pages may sign in and use the
    /// session cookie: a development proxy, another host name (`TAYLORDASH_ALLOWED_ORIGINS`).
    pub allowed_origins: Vec<String>,
    /// Sign-in by a trusted proxy's headers; `None`: such headers are ignored.
    pub forward_auth: Option<ForwardAuth>,
    /// Roles from provider groups, and whether accounts are linked or created on first sight
    /// (forward-auth and OpenID Connect alike).
    pub external: ExternalPolicy,
    /// Accounts whose password always signs in, even with password sign-in off.
    pub break_glass: Vec<String>,
    /// Sign-in with an OpenID provider; `None`: not offered.
    pub oidc: Option<identity::OidcSettings>,
    /// The token Alertmanager posts its webhook with; `None`: only editors may post there.
    pub alertmanager_token: Option<AlertmanagerToken>,
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
            allowed_origins: Vec::new(),
            forward_auth: None,
            external: ExternalPolicy::default(),
            break_glass: Vec::new(),
            oidc: None,
            alertmanager_token: None,
            password_cost: PasswordCost::Standard,
            per_username: ThrottlePolicy::PER_USERNAME,
            per_address: ThrottlePolicy::PER_ADDRESS,
            clock: Clock::system(),
        }
    }
}

impl AuthConfig {
    /// Is `ip` one of the trusted reverse proxies?
    pub fn is_trusted_proxy(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
            v4 => v4,
        };
        self.trusted_proxies.iter().any(|n| n.contains(&ip))
    }

    /// Why password sign-in may not be turned off here, if it may not: without single sign-on
    /// configured and a break-glass account named, nobody could sign in (or get back in).
    pub fn password_sign_in_must_stay(&self) -> Option<&'static str> {
        ((self.forward_auth.is_none() && self.oidc.is_none()) || self.break_glass.is_empty())
            .then_some(
                "password sign-in can be turned off only with single sign-on configured \
             (TAYLORDASH_OIDC_ISSUER or TAYLORDASH_FORWARD_AUTH) and a break-glass account named \
             (TAYLORDASH_BREAK_GLASS_USERS), so nobody is locked out",
            )
    }

    /// Is TaylorDash served over TLS by configuration (an `https://` public URL)?
    pub fn tls(&self) -> bool {
        self.public_origin
            .as_deref()
            .is_some_and(|o| o.starts_with("https://"))
    }
}

impl AuthConfig {
    /// The identity service's part of the settings.
    pub fn identity_settings(&self) -> identity::Settings {
        identity::Settings {
            password_cost: self.password_cost,
            per_username: self.per_username,
            per_address: self.per_address,
            clock: self.clock.clone(),
            break_glass: self.break_glass.clone(),
        }
    }
}

/// Authentication state shared by all requests: the HTTP settings and the identity service.
pub struct AuthState {
    pub config: AuthConfig,
    pub identity: Identity,
    /// The OpenID provider's client (its discovery document and keys cached), if configured.
    pub oidc: Option<identity::Oidc>,
}

impl AuthState {
    pub fn new(config: AuthConfig, store: Arc<dyn IdentityStore>) -> AuthState {
        AuthState {
            identity: Identity::new(store, config.identity_settings()),
            oidc: config.oidc.clone().map(identity::Oidc::new),
            config,
        }
    }
}
