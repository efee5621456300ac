//! Passkeys (WebAuthn): your own passkeys (register, list, rename, remove), a passwordless
//! sign-in, and a passkey as the second step after a password. The ceremonies are the identity
//! service's (`services::identity`, `passkeys.rs`); here are the options the browser passes to
//! `navigator.credentials`, its answers, and who the relying party is.
//!
//! The relying party id is the host name users reach TaylorDash at: `TAYLORDASH_PUBLIC_URL`'s
//! when set (answers must then come from it or `TAYLORDASH_ALLOWED_ORIGINS`), else the
//! request's `Host`. Browsers refuse passkeys for an IP address: use a host name.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use services::identity::{Assertion, Attestation, RelyingParty};
use utoipa::ToSchema;
use uuid::Uuid;

use super::second_factor::SecondFactorLogin;
use super::sessions::{LoginResponse, session_headers};
use super::{AuthConfig, ClientInfo, SignedIn};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, Json};

/// The relying party of this request.
pub struct Rp(pub RelyingParty);

impl Rp {
    fn from_parts(parts: &Parts, config: &AuthConfig) -> Result<Rp, ApiError> {
        if let Some(public) = &config.public_origin {
            let id = host_name(public.split_once("://").map_or(public.as_str(), |(_, a)| a));
            let mut origins = vec![public.clone()];
            origins.extend(config.allowed_origins.iter().cloned());
            return Ok(Rp(RelyingParty { id, origins }));
        }
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "PASSKEY_NO_HOST",
                    "passkeys need the site's host name: send a Host header, or set \
                     TAYLORDASH_PUBLIC_URL",
                )
            })?
            .to_ascii_lowercase();
        Ok(Rp(RelyingParty {
            id: host_name(&host),
            origins: vec![format!("https://{host}"), format!("http://{host}")],
        }))
    }
}

/// The host name of an authority (`host:port`, `[v6]:port`).
fn host_name(authority: &str) -> String {
    let authority = authority.trim_end_matches('/');
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.to_ascii_lowercase()
}

impl axum::extract::FromRequestParts<AppState> for Rp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Rp::from_parts(parts, &state.auth.config)
    }
}

/// The options to pass to `navigator.credentials.create({publicKey})` or
/// `navigator.credentials.get({publicKey})` (binary fields base64url, as
/// `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON` take them).
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyOptions {
    #[schema(value_type = Object)]
    pub public_key: serde_json::Value,
}

/// A registration answer: the `PublicKeyCredential` from `navigator.credentials.create` as
/// `toJSON()` gives it (other fields are ignored).
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegistrationCredential {
    /// The credential id, base64url.
    pub id: String,
    pub response: AttestationResponse,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttestationResponse {
    /// base64url.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// base64url CBOR.
    pub attestation_object: String,
}

/// A sign-in answer: the `PublicKeyCredential` from `navigator.credentials.get` as `toJSON()`
/// gives it (other fields are ignored).
#[derive(Debug, Deserialize, ToSchema)]
pub struct AssertionCredential {
    /// The credential id, base64url.
    pub id: String,
    pub response: AssertionResponse,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssertionResponse {
    /// base64url.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// base64url.
    pub authenticator_data: String,
    /// base64url.
    pub signature: String,
}

impl From<AssertionCredential> for Assertion {
    fn from(c: AssertionCredential) -> Assertion {
        Assertion {
            id: c.id,
            client_data_json: c.response.client_data_json,
            authenticator_data: c.response.authenticator_data,
            signature: c.response.signature,
        }
    }
}

/// One of your passkeys (its public key stays on the server).
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyInfo {
    pub id: Uuid,
    #[schema(example = "Laptop fingerprint")]
    pub name: String,
    /// COSE algorithm: -7 ES256, -8 EdDSA, -257 RS256.
    #[schema(example = -7)]
    pub algorithm: i64,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<domain::Passkey> for PasskeyInfo {
    fn from(p: domain::Passkey) -> Self {
        PasskeyInfo {
            id: p.id,
            name: p.name,
            algorithm: p.algorithm,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyList {
    pub passkeys: Vec<PasskeyInfo>,
    pub count: usize,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewPasskey {
    /// 1 to 64 characters, e.g. the device.
    #[schema(example = "Laptop fingerprint")]
    pub name: String,
    pub credential: RegistrationCredential,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasskeyRename {
    #[schema(example = "Phone")]
    pub name: String,
}

fn no_store() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    h
}

/// Start registering a passkey for your account: the options for
/// `navigator.credentials.create`, with a challenge valid for 5 minutes, once.
#[utoipa::path(post, path = "/auth/me/passkeys/options", tag = "auth",
    responses(
        (status = 200, body = PasskeyOptions),
        (status = 400, description = "No host name to bind passkeys to (PASSKEY_NO_HOST)", body = crate::error::ErrorBody),
    ))]
pub async fn registration_options(
    State(state): State<AppState>,
    me: SignedIn,
    Rp(rp): Rp,
) -> ApiResult<(HeaderMap, axum::Json<PasskeyOptions>)> {
    let public_key = state
        .auth
        .identity
        .passkey_registration_options(&me.user, &rp)
        .await?;
    Ok((no_store(), axum::Json(PasskeyOptions { public_key })))
}

/// Your passkeys, oldest first.
#[utoipa::path(get, path = "/auth/me/passkeys", tag = "auth",
    responses((status = 200, body = PasskeyList)))]
pub async fn list(
    State(state): State<AppState>,
    me: SignedIn,
) -> ApiResult<axum::Json<PasskeyList>> {
    let passkeys: Vec<PasskeyInfo> = state
        .auth
        .identity
        .passkeys(me.user.id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(PasskeyList {
        count: passkeys.len(),
        passkeys,
    }))
}

/// Register a passkey: the answer of `navigator.credentials.create` to the options from
/// `POST /auth/me/passkeys/options`. From then on it signs you in without a password, and
/// after a password it is asked for as the second step.
#[utoipa::path(post, path = "/auth/me/passkeys", tag = "auth",
    request_body = NewPasskey,
    responses(
        (status = 201, body = PasskeyInfo),
        (status = 400, description = "A malformed answer (PASSKEY_MALFORMED), a key type not supported (PASSKEY_ALGORITHM_UNSUPPORTED), the wrong ceremony (PASSKEY_WRONG_TYPE)", body = crate::error::ErrorBody),
        (status = 401, description = "Unknown, expired or used challenge (SIGN_IN_EXPIRED), another site's answer (PASSKEY_WRONG_ORIGIN), no user presence (PASSKEY_NOT_VERIFIED)", body = crate::error::ErrorBody),
        (status = 409, description = "Already registered (PASSKEY_EXISTS)", body = crate::error::ErrorBody),
        (status = 422, description = "A name of 1 to 64 characters is needed (VALIDATION_FAILED)", body = crate::error::ErrorBody),
    ))]
pub async fn register(
    State(state): State<AppState>,
    me: SignedIn,
    client: ClientInfo,
    Rp(rp): Rp,
    Json(body): Json<NewPasskey>,
) -> ApiResult<(StatusCode, axum::Json<PasskeyInfo>)> {
    let answer = Attestation {
        id: body.credential.id,
        client_data_json: body.credential.response.client_data_json,
        attestation_object: body.credential.response.attestation_object,
    };
    let passkey = state
        .auth
        .identity
        .register_passkey(&me.user, &body.name, &answer, &rp, &client.meta())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(passkey.into())))
}

/// Rename one of your passkeys.
#[utoipa::path(put, path = "/auth/me/passkeys/{passkey_id}", tag = "auth",
    params(("passkey_id" = Uuid, Path)),
    request_body = PasskeyRename,
    responses(
        (status = 200, body = PasskeyInfo),
        (status = 404, description = "Not one of your passkeys (NOT_FOUND)", body = crate::error::ErrorBody),
        (status = 422, description = "A name of 1 to 64 characters is needed (VALIDATION_FAILED)", body = crate::error::ErrorBody),
    ))]
pub async fn rename(
    State(state): State<AppState>,
    me: SignedIn,
    client: ClientInfo,
    Id(id): Id,
    Json(body): Json<PasskeyRename>,
) -> ApiResult<axum::Json<PasskeyInfo>> {
    let passkey = state
        .auth
        .identity
        .rename_passkey(&me.user, id, &body.name, &client.meta())
        .await?;
    Ok(axum::Json(passkey.into()))
}

/// Remove one of your passkeys.
#[utoipa::path(delete, path = "/auth/me/passkeys/{passkey_id}", tag = "auth",
    params(("passkey_id" = Uuid, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "Not one of your passkeys (NOT_FOUND)", body = crate::error::ErrorBody),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    me: SignedIn,
    client: ClientInfo,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    state
        .auth
        .identity
        .delete_passkey(&me.user, id, &client.meta())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start a passwordless sign-in: the options for `navigator.credentials.get` (any passkey of
/// this site; the authenticator must verify the person).
#[utoipa::path(post, path = "/auth/login/passkey/options", tag = "auth",
    responses(
        (status = 200, body = PasskeyOptions),
        (status = 400, description = "No host name to bind passkeys to (PASSKEY_NO_HOST)", body = crate::error::ErrorBody),
    ))]
pub async fn login_options(
    State(state): State<AppState>,
    Rp(rp): Rp,
) -> ApiResult<(HeaderMap, axum::Json<PasskeyOptions>)> {
    let public_key = state.auth.identity.passkey_login_options(&rp).await?;
    Ok((no_store(), axum::Json(PasskeyOptions { public_key })))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasskeyLogin {
    pub credential: AssertionCredential,
    /// Keep the session for 30 days of inactivity instead of 24 hours.
    #[serde(default)]
    pub remember_me: bool,
}

/// Sign in with a passkey alone: the answer of `navigator.credentials.get` to the options from
/// `POST /auth/login/passkey/options`. A session as a password sign-in's (and its second step)
/// gives; `GET /auth/me` says `signed_in_by: passkey`.
#[utoipa::path(post, path = "/auth/login/passkey", tag = "auth",
    request_body = PasskeyLogin,
    responses(
        (status = 200, body = LoginResponse, headers(("Set-Cookie" = String))),
        (status = 400, description = "A malformed answer (PASSKEY_MALFORMED) or the wrong ceremony (PASSKEY_WRONG_TYPE)", body = crate::error::ErrorBody),
        (status = 401, description = "Unknown, expired or used challenge (SIGN_IN_EXPIRED), unknown passkey (PASSKEY_UNKNOWN), wrong signature (PASSKEY_INVALID), another site's answer (PASSKEY_WRONG_ORIGIN), the person not verified (PASSKEY_NOT_VERIFIED), a counter that did not grow (PASSKEY_CLONED)", body = crate::error::ErrorBody),
        (status = 403, description = "The account is disabled (ACCOUNT_DISABLED)", body = crate::error::ErrorBody),
        (status = 429, description = "Too many failed sign-ins from this address (TOO_MANY_ATTEMPTS)", body = crate::error::ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    Rp(rp): Rp,
    Json(body): Json<PasskeyLogin>,
) -> ApiResult<(HeaderMap, axum::Json<LoginResponse>)> {
    let login = state
        .auth
        .identity
        .passkey_login(
            &body.credential.into(),
            body.remember_me,
            &rp,
            &client.meta(),
        )
        .await?;
    let headers = session_headers(&login.token, login.keep_for(), &client);
    Ok((headers, axum::Json(login.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SecondFactorPasskeyOptions {
    pub challenge_token: String,
}

/// During a sign-in that needs a second step (`passkey: true` in its challenge): the options
/// for `navigator.credentials.get` with your passkeys.
#[utoipa::path(post, path = "/auth/login/second-factor/passkey/options", tag = "auth",
    request_body = SecondFactorPasskeyOptions,
    responses(
        (status = 200, body = PasskeyOptions),
        (status = 400, description = "No host name to bind passkeys to (PASSKEY_NO_HOST)", body = crate::error::ErrorBody),
        (status = 401, description = "The challenge expired or was used (SIGN_IN_EXPIRED), or the account has no passkey (PASSKEY_UNKNOWN)", body = crate::error::ErrorBody),
    ))]
pub async fn second_factor_options(
    State(state): State<AppState>,
    Rp(rp): Rp,
    Json(body): Json<SecondFactorPasskeyOptions>,
) -> ApiResult<(HeaderMap, axum::Json<PasskeyOptions>)> {
    let public_key = state
        .auth
        .identity
        .passkey_second_factor_options(&body.challenge_token, &rp)
        .await?;
    Ok((no_store(), axum::Json(PasskeyOptions { public_key })))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SecondFactorPasskey {
    pub challenge_token: String,
    pub credential: AssertionCredential,
}

/// Finish a sign-in with a passkey as the second step. Refusals count against the username and
/// the address like wrong codes.
#[utoipa::path(post, path = "/auth/login/second-factor/passkey", tag = "auth",
    request_body = SecondFactorPasskey,
    responses(
        (status = 200, body = SecondFactorLogin, headers(("Set-Cookie" = String))),
        (status = 400, description = "A malformed answer (PASSKEY_MALFORMED) or the wrong ceremony (PASSKEY_WRONG_TYPE)", body = crate::error::ErrorBody),
        (status = 401, description = "The challenge expired or was used (SIGN_IN_EXPIRED), not this account's passkey (PASSKEY_UNKNOWN), wrong signature (PASSKEY_INVALID), another site's answer (PASSKEY_WRONG_ORIGIN), a counter that did not grow (PASSKEY_CLONED)", body = crate::error::ErrorBody),
        (status = 429, description = "Too many failed attempts (TOO_MANY_ATTEMPTS)", body = crate::error::ErrorBody),
    ))]
pub async fn second_factor(
    State(state): State<AppState>,
    client: ClientInfo,
    Rp(rp): Rp,
    Json(body): Json<SecondFactorPasskey>,
) -> ApiResult<(HeaderMap, axum::Json<SecondFactorLogin>)> {
    let done = state
        .auth
        .identity
        .complete_login_with_passkey(
            &body.challenge_token,
            &body.credential.into(),
            &rp,
            &client.meta(),
        )
        .await?;
    let headers = session_headers(&done.login.token, done.login.keep_for(), &client);
    Ok((
        headers,
        axum::Json(SecondFactorLogin {
            login: done.login.into(),
            recovery_codes: done.recovery_codes,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::host_name;

    #[test]
    fn the_relying_party_id_is_the_host_name() {
        assert_eq!(host_name("dash.example.net"), "dash.example.net");
        assert_eq!(host_name("Dash.Example.net:8443/"), "dash.example.net");
        assert_eq!(host_name("localhost:8000"), "localhost");
        assert_eq!(host_name("[::1]:8000"), "::1");
    }
}
