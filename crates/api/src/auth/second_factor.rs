//! Two-factor sign-in (TOTP) and the sign-in settings: the second login step, enrolment and
//! recovery codes for your own account, an admin's reset of someone's second factor, and what
//! the login page may offer. The work is the identity service's (`services::identity`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use services::identity::{Enrolment, SignInSettings, SignInSettingsPatch};
use utoipa::ToSchema;

use super::sessions::{LoginResponse, session_headers};
use super::users::Message;
use super::{ClientInfo, Principal, SignedIn};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, Json};
use axum::Extension;

/// A correct password for an account that needs a second step: send a code with the token to
/// `POST /auth/login/second-factor` within `expires_at`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecondFactorChallenge {
    /// Shown once; proves the password step. Not a session.
    pub challenge_token: String,
    pub expires_at: DateTime<Utc>,
    /// `totp`: send the authenticator app's code or a recovery code (or use a passkey when
    /// `passkey`). `passkey`: use a passkey (`POST /auth/login/second-factor/passkey/options`,
    /// then `POST /auth/login/second-factor/passkey`). `enrol`: admins must use two-factor
    /// sign-in; get a secret from `POST /auth/login/enrol` first, then send its first code.
    #[schema(example = "totp")]
    pub second_factor: String,
    /// The account has passkeys: one may answer instead of a code.
    pub passkey: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SecondFactorRequest {
    pub challenge_token: String,
    /// The 6-digit TOTP code, or a recovery code (`abcd-efgh-ijkl-mnop`).
    pub code: String,
}

/// The login response, with the recovery codes when this step also turned two-factor sign-in
/// on (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub struct SecondFactorLogin {
    #[serde(flatten)]
    pub login: LoginResponse,
    pub recovery_codes: Option<Vec<String>>,
}

/// Finish a sign-in with the second factor: a TOTP code or a recovery code.
///
/// Wrong codes count against the username and the address like wrong passwords (429 when
/// locked); after 5 the challenge is gone and the sign-in starts again.
#[utoipa::path(post, path = "/auth/login/second-factor", tag = "auth",
    request_body = SecondFactorRequest,
    responses(
        (status = 200, body = SecondFactorLogin, headers(("Set-Cookie" = String))),
        (status = 401, description = "Wrong code (INVALID_CODE), or the challenge expired or was used (SIGN_IN_EXPIRED)", body = crate::error::ErrorBody),
        (status = 429, description = "Too many failed attempts (TOO_MANY_ATTEMPTS)", body = crate::error::ErrorBody),
    ))]
pub async fn complete(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<SecondFactorRequest>,
) -> ApiResult<(HeaderMap, axum::Json<SecondFactorLogin>)> {
    let done = state
        .auth
        .identity
        .complete_login(&body.challenge_token, &body.code, &client.meta())
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

#[derive(Debug, Deserialize, ToSchema)]
pub struct EnrolAtLogin {
    pub challenge_token: String,
}

/// A TOTP secret for an authenticator app: as text, and as the `otpauth://` URI to show as a QR
/// code. Shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSecret {
    #[schema(example = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")]
    pub secret: String,
    pub otpauth_uri: String,
}

impl From<Enrolment> for TotpSecret {
    fn from(e: Enrolment) -> Self {
        TotpSecret {
            secret: e.secret,
            otpauth_uri: e.otpauth_uri,
        }
    }
}

/// During a sign-in that must enrol (`second_factor: enrol`): the secret to set up. Then send
/// its first code to `POST /auth/login/second-factor`.
#[utoipa::path(post, path = "/auth/login/enrol", tag = "auth",
    request_body = EnrolAtLogin,
    responses(
        (status = 200, body = TotpSecret, headers(("Cache-Control" = String))),
        (status = 401, description = "The challenge expired, was used, or is not an enrolment (SIGN_IN_EXPIRED)", body = crate::error::ErrorBody),
    ))]
pub async fn enrol_at_login(
    State(state): State<AppState>,
    Json(body): Json<EnrolAtLogin>,
) -> ApiResult<(HeaderMap, axum::Json<TotpSecret>)> {
    let e = state
        .auth
        .identity
        .enrol_at_login(&body.challenge_token)
        .await?;
    Ok((no_store(), axum::Json(e.into())))
}

fn no_store() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    h
}

/// Where your two-factor sign-in stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpStatusResponse {
    pub enabled: bool,
    /// An enrolment was started and awaits its first code.
    pub pending: bool,
    pub recovery_codes_left: i64,
    /// The sign-in settings require it of you (you are an admin).
    pub required: bool,
}

/// Your two-factor sign-in: on or off, recovery codes left.
#[utoipa::path(get, path = "/auth/me/totp", tag = "auth",
    responses((status = 200, body = TotpStatusResponse)))]
pub async fn status(
    State(state): State<AppState>,
    me: SignedIn,
) -> ApiResult<axum::Json<TotpStatusResponse>> {
    let s = state.auth.identity.totp_status(&me.user).await?;
    let settings = state.auth.identity.sign_in_settings().await?;
    Ok(axum::Json(TotpStatusResponse {
        enabled: s.enabled,
        pending: s.pending,
        recovery_codes_left: s.recovery_codes_left,
        required: settings.second_factor_for_admins && me.user.role == domain::Role::Admin,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordCheck {
    /// Your current password.
    pub password: String,
}

/// Set up two-factor sign-in: a new secret (your password checked). It is on once
/// `POST /auth/me/totp/confirm` gets its first code.
#[utoipa::path(post, path = "/auth/me/totp", tag = "auth",
    request_body = PasswordCheck,
    responses(
        (status = 200, body = TotpSecret),
        (status = 400, description = "Wrong password (INVALID_CURRENT_PASSWORD)", body = crate::error::ErrorBody),
        (status = 409, description = "Already on (TOTP_ALREADY_ON)", body = crate::error::ErrorBody),
        (status = 429, description = "Too many wrong passwords or codes for this account (TOO_MANY_ATTEMPTS)", body = crate::error::ErrorBody),
    ))]
pub async fn start(
    State(state): State<AppState>,
    me: SignedIn,
    Json(body): Json<PasswordCheck>,
) -> ApiResult<(HeaderMap, axum::Json<TotpSecret>)> {
    let e = state
        .auth
        .identity
        .start_totp(&me.user, body.password)
        .await?;
    Ok((no_store(), axum::Json(e.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeCheck {
    /// The authenticator app's current 6-digit code.
    pub code: String,
}

/// Recovery codes: each signs in once instead of a TOTP code. Shown once; keep them safe.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// Turn two-factor sign-in on with the first code of the new secret; returns the recovery
/// codes (shown once).
#[utoipa::path(post, path = "/auth/me/totp/confirm", tag = "auth",
    request_body = CodeCheck,
    responses(
        (status = 200, body = RecoveryCodes),
        (status = 401, description = "Wrong code (INVALID_CODE)", body = crate::error::ErrorBody),
        (status = 409, description = "No enrolment started (NO_TOTP), or already on (TOTP_ALREADY_ON)", body = crate::error::ErrorBody),
        (status = 429, description = "Too many wrong passwords or codes for this account (TOO_MANY_ATTEMPTS)", body = crate::error::ErrorBody),
    ))]
pub async fn confirm(
    State(state): State<AppState>,
    me: SignedIn,
    client: ClientInfo,
    Json(body): Json<CodeCheck>,
) -> ApiResult<(HeaderMap, axum::Json<RecoveryCodes>)> {
    let recovery_codes = state
        .auth
        .identity
        .confirm_totp(&me.user, &body.code, &client.meta())
        .await?;
    Ok((no_store(), axum::Json(RecoveryCodes { recovery_codes })))
}

/// New recovery codes (your password checked); the old ones stop working.
#[utoipa::path(post, path = "/auth/me/totp/recovery-codes", tag = "auth",
    request_body = PasswordCheck,
    responses(
        (status = 200, body = RecoveryCodes),
        (status = 400, description = "Wrong password (INVALID_CURRENT_PASSWORD)", body = crate::error::ErrorBody),
        (status = 409, description = "Two-factor sign-in is off (NO_TOTP)", body = crate::error::ErrorBody),
        (status = 429, description = "Too many wrong passwords or codes for this account (TOO_MANY_ATTEMPTS)", body = crate::error::ErrorBody),
    ))]
pub async fn renew_recovery_codes(
    State(state): State<AppState>,
    me: SignedIn,
    client: ClientInfo,
    Json(body): Json<PasswordCheck>,
) -> ApiResult<(HeaderMap, axum::Json<RecoveryCodes>)> {
    let recovery_codes = state
        .auth
        .identity
        .renew_recovery_codes(&me.user, body.password, &client.meta())
        .await?;
    Ok((no_store(), axum::Json(RecoveryCodes { recovery_codes })))
}

/// Turn two-factor sign-in off (your password checked). Admins may not while the sign-in
/// settings require it.
#[utoipa::path(post, path = "/auth/me/totp/disable", tag = "auth",
    request_body = PasswordCheck,
    responses(
        (status = 200, body = Message),
        (status = 400, description = "Wrong password (INVALID_CURRENT_PASSWORD)", body = crate::error::ErrorBody),
        (status = 409, description = "Off already (NO_TOTP), or required of admins (SECOND_FACTOR_REQUIRED)", body = crate::error::ErrorBody),
        (status = 429, description = "Too many wrong passwords or codes for this account (TOO_MANY_ATTEMPTS)", body = crate::error::ErrorBody),
    ))]
pub async fn disable(
    State(state): State<AppState>,
    me: SignedIn,
    client: ClientInfo,
    Json(body): Json<PasswordCheck>,
) -> ApiResult<axum::Json<Message>> {
    state
        .auth
        .identity
        .disable_totp(&me.user, body.password, &client.meta())
        .await?;
    Ok(axum::Json(Message {
        message: "Two-factor sign-in is off".into(),
    }))
}

/// Reset a user's two-factor sign-in (a lost phone): they sign in with their password alone,
/// or must enrol again where the settings require it (admin).
#[utoipa::path(delete, path = "/auth/users/{user_id}/totp", tag = "auth",
    params(("user_id" = uuid::Uuid, Path)),
    responses(
        (status = 204, description = "Reset"),
        (status = 404, description = "No such user (NOT_FOUND)", body = crate::error::ErrorBody),
        (status = 409, description = "The user has no second factor (NO_TOTP)", body = crate::error::ErrorBody),
    ))]
pub async fn reset(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    client: ClientInfo,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    state
        .auth
        .identity
        .reset_totp(&principal.actor(), id, &client.meta())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The sign-in settings an admin changes at run time.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignInSettingsResponse {
    /// Local passwords sign in (break-glass accounts always may).
    pub password_sign_in: bool,
    /// Admins need two-factor sign-in to use a password; those without set it up at their
    /// next sign-in.
    pub second_factor_for_admins: bool,
    /// Forward-auth is configured (`TAYLORDASH_FORWARD_AUTH`).
    pub forward_auth: bool,
    /// The OpenID provider's name, if single sign-on with one is configured
    /// (`TAYLORDASH_OIDC_ISSUER`).
    pub oidc_provider: Option<String>,
    /// Accounts whose password always signs in (`TAYLORDASH_BREAK_GLASS_USERS`).
    pub break_glass_users: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SignInSettingsUpdate {
    pub password_sign_in: Option<bool>,
    pub second_factor_for_admins: Option<bool>,
}

fn settings_response(state: &AppState, s: SignInSettings) -> SignInSettingsResponse {
    SignInSettingsResponse {
        password_sign_in: s.password_sign_in,
        second_factor_for_admins: s.second_factor_for_admins,
        forward_auth: state.auth.config.forward_auth.is_some(),
        oidc_provider: state.auth.config.oidc.as_ref().map(|o| o.name.clone()),
        break_glass_users: state.auth.config.break_glass.clone(),
    }
}

/// The sign-in settings (admin).
#[utoipa::path(get, path = "/auth/settings", tag = "auth",
    responses((status = 200, body = SignInSettingsResponse)))]
pub async fn get_settings(
    State(state): State<AppState>,
) -> ApiResult<axum::Json<SignInSettingsResponse>> {
    let s = state.auth.identity.sign_in_settings().await?;
    Ok(axum::Json(settings_response(&state, s)))
}

/// Change the sign-in settings (admin). Password sign-in can be turned off only where single
/// sign-on is configured and a break-glass account is named, so nobody is locked out.
#[utoipa::path(put, path = "/auth/settings", tag = "auth",
    request_body = SignInSettingsUpdate,
    responses(
        (status = 200, body = SignInSettingsResponse),
        (status = 400, description = "Nothing to change (NO_UPDATES)", body = crate::error::ErrorBody),
        (status = 409, description = "Password sign-in cannot be turned off here (NO_SINGLE_SIGN_ON)", body = crate::error::ErrorBody),
    ))]
pub async fn put_settings(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    client: ClientInfo,
    Json(body): Json<SignInSettingsUpdate>,
) -> ApiResult<axum::Json<SignInSettingsResponse>> {
    if body.password_sign_in == Some(false)
        && let Some(why) = state.auth.config.password_sign_in_must_stay()
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "NO_SINGLE_SIGN_ON",
            why,
        ));
    }
    let s = state
        .auth
        .identity
        .update_sign_in_settings(
            SignInSettingsPatch {
                password_sign_in: body.password_sign_in,
                second_factor_for_admins: body.second_factor_for_admins,
            },
            &principal.actor(),
            &client.meta(),
        )
        .await?;
    Ok(axum::Json(settings_response(&state, s)))
}

/// What the login page may offer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignInOptions {
    /// Username and password (off: only break-glass accounts may use one).
    pub password: bool,
    /// A forward-auth proxy signs users in before they reach TaylorDash.
    pub forward_auth: bool,
    /// Single sign-on with an OpenID provider: the button to show.
    pub oidc: Option<OidcOption>,
}

/// The "Sign in with <provider>" button.
#[derive(Debug, Serialize, ToSchema)]
pub struct OidcOption {
    /// The provider's name (`TAYLORDASH_OIDC_NAME`).
    #[schema(example = "Authelia")]
    pub name: String,
    /// Where the button goes (a browser navigation, not a fetch).
    #[schema(example = "/api/v1/auth/oidc/login")]
    pub login_url: String,
}

/// What the login page may offer (public).
#[utoipa::path(get, path = "/auth/sign-in-options", tag = "auth",
    responses((status = 200, body = SignInOptions)))]
pub async fn options(State(state): State<AppState>) -> ApiResult<axum::Json<SignInOptions>> {
    let s = state.auth.identity.sign_in_settings().await?;
    Ok(axum::Json(SignInOptions {
        password: s.password_sign_in,
        forward_auth: state.auth.config.forward_auth.is_some(),
        oidc: state.auth.config.oidc.as_ref().map(|o| OidcOption {
            name: o.name.clone(),
            login_url: "/api/v1/auth/oidc/login".to_owned(),
        }),
    }))
}
