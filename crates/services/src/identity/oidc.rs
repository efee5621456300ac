//! Sign-in with an OpenID provider (Authelia, Authentik, Keycloak, Pocket ID, Kanidm): the
//! authorization code flow with PKCE (S256).
//!
//! 1. [`Identity::oidc_begin`]: the provider's endpoints from its discovery document
//!    (`<issuer>/.well-known/openid-configuration`, cached for an hour); a fresh `state`, `nonce`
//!    and PKCE verifier, kept server-side as a sign-in challenge (stored under the SHA-256 of the
//!    state, ten minutes, used once); the browser is sent to the authorization endpoint and gets
//!    the state in a cookie too, so a callback from another browser is refused.
//! 2. [`Identity::oidc_finish`]: the callback's state takes its challenge (a replayed state
//!    finds none); the code is exchanged at the token endpoint with the verifier and the client
//!    secret; the ID token's signature is checked against the provider's keys (JWKS, cached,
//!    fetched again when a token names a key id not in the cache) and its claims (issuer,
//!    audience, expiry, nonce); then the account linked to (issuer, subject) signs in as
//!    forward-auth users do ([`Identity::external_user`]: linked, created just in time, role
//!    from the groups claim), and gets a session exactly like a password sign-in.
//!
//! Every refusal is a [`OidcError`] with a stable code; none creates anything, and each is in
//! the audit trail as a failed sign-in.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use domain::{AuditAction, ChallengeKind, JsonObject, LoginChallenge};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use super::jwt::{self, Jwk, TokenError};
use super::token::{hash_token, random_token};
use super::{ClientMeta, Error, ExternalLogin, ExternalPolicy, Identity, NewLogin, Party, Result};

/// How long the provider may take to send the browser back.
pub const OIDC_CHALLENGE_TTL: chrono::Duration = chrono::Duration::minutes(10);
/// How long a discovery document is used before it is fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// Timeout of each request to the provider.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest document read from the provider.
const MAX_BODY: usize = 1024 * 1024;

/// The configured provider.
#[derive(Clone)]
pub struct OidcSettings {
    /// Shown on the sign-in button ("Sign in with Authelia").
    pub name: String,
    /// The issuer identifier, exactly as the provider's tokens carry it.
    pub issuer: String,
    pub client_id: String,
    /// `None`: a public client (PKCE only).
    pub client_secret: Option<String>,
    /// `<public url>/api/v1/auth/oidc/callback`, registered at the provider.
    pub redirect_uri: String,
    /// Where the provider sends the browser after signing out (registered there too).
    pub post_logout_redirect_uri: Option<String>,
    pub scopes: Vec<String>,
    /// The claim naming the account (`preferred_username`).
    pub username_claim: String,
    /// The claim listing the groups (`groups`; a dotted path such as `realm_access.roles`).
    pub groups_claim: String,
    /// CA certificates trusted for the provider besides the system's (the stack's CA file, for a
    /// provider whose certificate comes from the home lab's private CA).
    pub extra_ca: Vec<reqwest::Certificate>,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .field("username_claim", &self.username_claim)
            .field("groups_claim", &self.groups_claim)
            .field("extra_ca", &self.extra_ca.len())
            .finish()
    }
}

/// Why an OpenID sign-in was refused. [`OidcError::code`] is stable.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("single sign-on is not configured on this server")]
    NotConfigured,
    /// The callback's state is unknown, expired, already used, or not this browser's.
    #[error(
        "this sign-in is unknown, expired or was already used (a replayed or foreign callback); \
         start again from the sign-in page"
    )]
    StateInvalid,
    /// The provider answered the authorization request with an error.
    #[error("the sign-in provider refused: {0}")]
    ProviderRefused(String),
    #[error("the sign-in provider cannot be reached: {0}")]
    Unreachable(String),
    /// The provider answered, but not as OpenID Connect says it must.
    #[error("the sign-in provider's answer is unusable: {0}")]
    BadProvider(String),
    /// The token endpoint refused the code (used twice, expired, wrong client secret).
    #[error("the sign-in provider did not accept the sign-in code: {0}")]
    CodeRejected(String),
    #[error(transparent)]
    Token(#[from] TokenError),
}

impl OidcError {
    /// The stable code the API answers with.
    pub fn code(&self) -> &'static str {
        match self {
            OidcError::NotConfigured => "OIDC_NOT_CONFIGURED",
            OidcError::StateInvalid => "OIDC_STATE_INVALID",
            OidcError::ProviderRefused(_) => "OIDC_PROVIDER_REFUSED",
            OidcError::Unreachable(_) => "OIDC_PROVIDER_UNREACHABLE",
            OidcError::BadProvider(_) => "OIDC_PROVIDER_INVALID",
            OidcError::CodeRejected(_) => "OIDC_CODE_REJECTED",
            OidcError::Token(t) => match t {
                TokenError::Invalid(_) | TokenError::UnknownKey(_) => "OIDC_TOKEN_INVALID",
                TokenError::WrongIssuer(_) => "OIDC_WRONG_ISSUER",
                TokenError::WrongAudience(_) => "OIDC_WRONG_AUDIENCE",
                TokenError::Expired => "OIDC_TOKEN_EXPIRED",
                TokenError::NonceMismatch => "OIDC_NONCE_MISMATCH",
                TokenError::MissingClaim(_) => "OIDC_TOKEN_INVALID",
            },
        }
    }
}

/// The provider's endpoints.
#[derive(Debug, Clone)]
struct Discovery {
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    end_session_endpoint: Option<String>,
    /// `client_secret_basic` unless the provider offers only `client_secret_post`.
    secret_in_body: bool,
}

/// The provider client: settings, HTTP client, and the cached discovery document and keys.
pub struct Oidc {
    settings: OidcSettings,
    http: reqwest::Client,
    discovery: Mutex<Option<(Discovery, Instant)>>,
    keys: Mutex<Vec<Jwk>>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A sign-in begun: send the browser to `url`; give it `state` in a cookie.
#[derive(Debug, Clone)]
pub struct OidcStart {
    pub url: String,
    pub state: String,
    pub expires_at: DateTime<Utc>,
}

/// A sign-in finished: the session, where to send the browser, and the ID token (the hint for
/// signing out at the provider).
#[derive(Debug, Clone)]
pub struct OidcLogin {
    pub login: NewLogin,
    pub return_to: String,
    pub id_token: String,
}

/// The callback's query.
#[derive(Debug, Clone, Default)]
pub struct OidcCallback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The issuer the provider says answered (RFC 9207), checked when present.
    pub iss: Option<String>,
}

/// A path on this server to return to after signing in (`/` for anything else).
fn local_path(path: Option<&str>) -> String {
    match path {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && !p.chars().any(char::is_control) =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// An error with its causes: reqwest's own text does not say why (an unknown certificate
/// authority, a refused connection).
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// PKCE S256: base64url(SHA-256(verifier)).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Oidc {
    pub fn new(settings: OidcSettings) -> Oidc {
        // reqwest is built without a default TLS provider; ring, as everywhere else.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(HTTP_TIMEOUT)
            .tls_certs_merge(settings.extra_ca.clone())
            .build()
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "OpenID client: using only the system's CAs");
                reqwest::Client::new()
            });
        Oidc {
            settings,
            http,
            discovery: Mutex::new(None),
            keys: Mutex::new(Vec::new()),
        }
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    async fn get_json(&self, url: &str, what: &str) -> Result<Value, OidcError> {
        let response = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| OidcError::Unreachable(format!("{what} at {url}: {}", causes(&e))))?;
        let status = response.status();
        let body = read_body(response, what).await?;
        if !status.is_success() {
            return Err(OidcError::Unreachable(format!(
                "{what} at {url} answered {status}"
            )));
        }
        serde_json::from_slice(&body)
            .map_err(|e| OidcError::BadProvider(format!("{what} at {url} is not JSON: {e}")))
    }

    async fn discovery(&self) -> Result<Discovery, OidcError> {
        let mut cached = self.discovery.lock().await;
        if let Some((d, at)) = cached.as_ref()
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(d.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        );
        let doc = self.get_json(&url, "the discovery document").await?;
        let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
        let need = |k: &'static str| {
            text(k)
                .ok_or_else(|| OidcError::BadProvider(format!("the discovery document lacks {k}")))
        };
        if need("issuer")? != self.settings.issuer {
            return Err(OidcError::BadProvider(format!(
                "the discovery document names the issuer '{}', not '{}' as configured",
                need("issuer")?,
                self.settings.issuer
            )));
        }
        let methods: Vec<&str> = doc
            .get("token_endpoint_auth_methods_supported")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let d = Discovery {
            authorization_endpoint: need("authorization_endpoint")?,
            token_endpoint: need("token_endpoint")?,
            jwks_uri: need("jwks_uri")?,
            end_session_endpoint: text("end_session_endpoint"),
            secret_in_body: !methods.is_empty()
                && !methods.contains(&"client_secret_basic")
                && methods.contains(&"client_secret_post"),
        };
        *cached = Some((d.clone(), Instant::now()));
        Ok(d)
    }

    /// The provider's key for `token`: from the cache, or the key set fetched again when the
    /// cache has no key with the token's id (the provider rotated its keys).
    async fn key_for(&self, d: &Discovery, token: &jwt::Unverified<'_>) -> Result<Jwk, OidcError> {
        let mut keys = self.keys.lock().await;
        if let Some(k) = token.key(&keys) {
            return Ok(k.clone());
        }
        let doc = self.get_json(&d.jwks_uri, "the key set (JWKS)").await?;
        *keys = jwt::parse_jwks(&doc).map_err(OidcError::BadProvider)?;
        token.key(&keys).cloned().ok_or_else(|| {
            OidcError::Token(TokenError::UnknownKey(
                token.kid.clone().unwrap_or_else(|| "no key id".into()),
            ))
        })
    }

    /// Exchanges the code for tokens; the ID token.
    async fn redeem(&self, d: &Discovery, code: &str, verifier: &str) -> Result<String, OidcError> {
        let s = &self.settings;
        let mut authorization = None;
        // Built apart: the serializer is not `Send`, so it must not live across an await.
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "authorization_code")
                .append_pair("code", code)
                .append_pair("redirect_uri", &s.redirect_uri)
                .append_pair("code_verifier", verifier);
            match &s.client_secret {
                Some(secret) if !d.secret_in_body => {
                    // RFC 6749 2.3.1: both form-encoded before Basic.
                    let enc =
                        |v: &str| form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
                    let basic = STANDARD.encode(format!("{}:{}", enc(&s.client_id), enc(secret)));
                    authorization = Some(format!("Basic {basic}"));
                }
                Some(secret) => {
                    form.append_pair("client_id", &s.client_id)
                        .append_pair("client_secret", secret);
                }
                None => {
                    form.append_pair("client_id", &s.client_id);
                }
            }
            form.finish()
        };
        let mut request = self
            .http
            .post(&d.token_endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json");
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.body(body).send().await.map_err(|e| {
            OidcError::Unreachable(format!(
                "the token endpoint {}: {}",
                d.token_endpoint,
                causes(&e)
            ))
        })?;
        let status = response.status();
        let body = read_body(response, "the token response").await?;
        let doc: Value = serde_json::from_slice(&body).map_err(|_| {
            OidcError::BadProvider(format!("the token endpoint answered {status}, not JSON"))
        })?;
        if !status.is_success() {
            let error = doc.get("error").and_then(Value::as_str).unwrap_or("error");
            let description = doc
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("");
            return Err(if status.is_server_error() {
                OidcError::Unreachable(format!("the token endpoint answered {status}"))
            } else {
                OidcError::CodeRejected(format!("{error} {description}").trim().to_owned())
            });
        }
        doc.get("id_token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                OidcError::BadProvider(
                    "the token response has no id_token (is the 'openid' scope requested?)".into(),
                )
            })
    }

    /// Where "sign out" sends the browser to end the provider's session too: its
    /// `end_session_endpoint` with the ID token as hint, if the provider has one.
    pub async fn logout_url(&self, id_token: Option<&str>) -> Option<String> {
        let d = self.discovery().await.ok()?;
        let mut url = url::Url::parse(d.end_session_endpoint.as_deref()?).ok()?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(hint) = id_token {
                q.append_pair("id_token_hint", hint);
            }
            q.append_pair("client_id", &self.settings.client_id);
            if let Some(back) = &self.settings.post_logout_redirect_uri {
                q.append_pair("post_logout_redirect_uri", back);
            }
        }
        Some(url.into())
    }
}

async fn read_body(response: reqwest::Response, what: &str) -> Result<bytes::Bytes, OidcError> {
    if response
        .content_length()
        .is_some_and(|l| l > MAX_BODY as u64)
    {
        return Err(OidcError::BadProvider(format!("{what} is too large")));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| OidcError::Unreachable(format!("{what}: {e}")))?;
    if body.len() > MAX_BODY {
        return Err(OidcError::BadProvider(format!("{what} is too large")));
    }
    Ok(body)
}

/// A claim by dotted path (`realm_access.roles`).
fn claim<'a>(claims: &'a serde_json::Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut value = claims.get(parts.next()?)?;
    for p in parts {
        value = value.get(p)?;
    }
    Some(value)
}

/// The groups a claim lists: an array of strings, or one string of groups separated by commas
/// or `|`.
fn groups(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) => domain::split_groups(s),
        _ => Vec::new(),
    }
}

impl Identity {
    /// Begins a sign-in at the provider.
    pub async fn oidc_begin(&self, oidc: &Oidc, return_to: Option<&str>) -> Result<OidcStart> {
        let d = oidc.discovery().await.map_err(Error::Oidc)?;
        let state = random_token().map_err(Error::internal)?;
        let nonce = random_token().map_err(Error::internal)?;
        let verifier = random_token().map_err(Error::internal)?;
        let now = self.now();
        let mut details = JsonObject::new();
        details.insert("nonce".into(), json!(nonce));
        details.insert("verifier".into(), json!(verifier));
        details.insert("return_to".into(), json!(local_path(return_to)));
        let challenge = LoginChallenge {
            token_hash: hash_token(&state),
            kind: ChallengeKind::Oidc,
            user_id: None,
            details,
            failures: 0,
            created_at: now,
            expires_at: now + OIDC_CHALLENGE_TTL,
        };
        self.store.create_challenge(&challenge).await?;
        if let Err(e) = self.store.delete_expired_challenges(now).await {
            tracing::warn!(error = %e, "could not delete expired sign-in challenges");
        }
        let s = oidc.settings();
        let mut url = url::Url::parse(&d.authorization_endpoint).map_err(|e| {
            Error::Oidc(OidcError::BadProvider(format!(
                "the authorization endpoint is not a URL: {e}"
            )))
        })?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &s.client_id)
            .append_pair("redirect_uri", &s.redirect_uri)
            .append_pair("scope", &s.scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &pkce_challenge(&verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(OidcStart {
            url: url.into(),
            state,
            expires_at: challenge.expires_at,
        })
    }

    /// Finishes a sign-in: the provider's callback (`browser_state`: the state cookie this
    /// browser got at the start). A session, or an error with nothing created.
    pub async fn oidc_finish(
        &self,
        oidc: &Oidc,
        policy: &ExternalPolicy,
        callback: OidcCallback,
        browser_state: Option<&str>,
        client: &ClientMeta,
    ) -> Result<OidcLogin> {
        match self.oidc_verify(oidc, callback, browser_state).await {
            Ok((claims, return_to, id_token)) => {
                let login = self.oidc_login(oidc, &claims);
                let user = self.external_user(login, policy, client).await?;
                let login = self
                    .signed_in(
                        user.user,
                        false,
                        domain::SignInMethod::Oidc,
                        client,
                        json!({"method": "oidc", "provider": oidc.settings().issuer}),
                    )
                    .await?;
                Ok(OidcLogin {
                    login,
                    return_to,
                    id_token,
                })
            }
            Err(e) => {
                self.audit(
                    AuditAction::LoginFailed,
                    &Party::named(format!("{} sign-in", oidc.settings().name)),
                    &Party::named(format!("{} sign-in", oidc.settings().name)),
                    client,
                    json!({"method": "oidc", "provider": oidc.settings().issuer,
                        "reason": e.code(), "detail": e.to_string()}),
                )
                .await;
                Err(Error::Oidc(e))
            }
        }
    }

    /// The callback checked: the ID token's claims, where to return, the ID token.
    async fn oidc_verify(
        &self,
        oidc: &Oidc,
        callback: OidcCallback,
        browser_state: Option<&str>,
    ) -> Result<(serde_json::Map<String, Value>, String, String), OidcError> {
        let state = callback.state.as_deref().unwrap_or_default();
        let same_browser = browser_state
            .is_some_and(|b| subtle::ConstantTimeEq::ct_eq(b.as_bytes(), state.as_bytes()).into());
        if state.is_empty() || !same_browser {
            return Err(OidcError::StateInvalid);
        }
        let hash = hash_token(state);
        let challenge = match self
            .store
            .challenge(&hash, ChallengeKind::Oidc, self.now())
            .await
        {
            Ok(Some(c)) => c,
            Ok(None) => return Err(OidcError::StateInvalid),
            Err(e) => {
                return Err(OidcError::BadProvider(format!(
                    "cannot read the sign-in: {e}"
                )));
            }
        };
        // Used once, whatever follows: a replayed state finds nothing.
        match self.store.take_challenge(&hash).await {
            Ok(true) => {}
            Ok(false) => return Err(OidcError::StateInvalid),
            Err(e) => {
                return Err(OidcError::BadProvider(format!(
                    "cannot use the sign-in: {e}"
                )));
            }
        }
        if let Some(iss) = callback.iss.as_deref()
            && iss != oidc.settings().issuer
        {
            return Err(OidcError::Token(TokenError::WrongIssuer(iss.to_owned())));
        }
        if let Some(error) = callback.error {
            let description = callback.error_description.unwrap_or_default();
            return Err(OidcError::ProviderRefused(
                format!("{error} {description}").trim().to_owned(),
            ));
        }
        let detail = |k: &str| {
            challenge
                .details
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let code = callback
            .code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| OidcError::BadProvider("the callback has no code".into()))?;
        let d = oidc.discovery().await?;
        let id_token = oidc.redeem(&d, &code, &detail("verifier")).await?;
        let unverified = jwt::split(&id_token)?;
        let key = oidc.key_for(&d, &unverified).await?;
        let claims = unverified.verify(&key)?;
        let nonce = detail("nonce");
        jwt::check_claims(
            &claims,
            &jwt::Expected {
                issuer: &oidc.settings().issuer,
                client_id: &oidc.settings().client_id,
                nonce: &nonce,
                now: self.now(),
            },
        )?;
        Ok((claims, local_path(Some(&detail("return_to"))), id_token))
    }

    /// Who the verified claims name.
    fn oidc_login(&self, oidc: &Oidc, claims: &serde_json::Map<String, Value>) -> ExternalLogin {
        let s = oidc.settings();
        let text = |k: &str| {
            claim(claims, k)
                .and_then(Value::as_str)
                .filter(|v| !v.trim().is_empty())
                .map(str::to_owned)
        };
        let subject = text("sub").unwrap_or_default();
        let email = text("email")
            .filter(|_| claims.get("email_verified").and_then(Value::as_bool) != Some(false));
        let username = text(&s.username_claim)
            .or_else(|| text("preferred_username"))
            .or_else(|| email.clone())
            .unwrap_or_else(|| subject.clone());
        ExternalLogin {
            provider: s.issuer.clone(),
            subject,
            username,
            email,
            groups: groups(claim(claims, &s.groups_claim)),
            method: "oidc",
            interactive: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(local_path(Some("/projects/1?x=y")), "/projects/1?x=y");
        for bad in ["//evil.example", "https://evil.example", "/\\evil", "", "x"] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn groups_come_from_arrays_strings_and_nested_claims() {
        let claims = json!({"groups": ["a", "b", 3], "flat": "x, y|z",
            "realm_access": {"roles": ["admin"]}});
        let claims = claims.as_object().unwrap();
        assert_eq!(groups(claim(claims, "groups")), vec!["a", "b"]);
        assert_eq!(groups(claim(claims, "flat")), vec!["x", "y", "z"]);
        assert_eq!(groups(claim(claims, "realm_access.roles")), vec!["admin"]);
        assert!(groups(claim(claims, "missing.path")).is_empty());
    }
}
