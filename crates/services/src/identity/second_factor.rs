//! Second factors (TOTP) for local accounts, the two-step login, and the run-time sign-in
//! settings.
//!
//! A password accepted for an account with a confirmed TOTP factor does not start a session:
//! it starts a short-lived challenge (token given to the client once, stored as SHA-256), and
//! the session starts when a code for it arrives — a TOTP code (each time step once) or one of
//! the recovery codes (each once, stored as SHA-256). Wrong codes count against the username and
//! the address like wrong passwords, and a challenge dies after a few. When the settings
//! require a second factor of admins, an admin without one gets an enrolment challenge instead:
//! they set TOTP up before any session exists.

use chrono::Duration;
use domain::{
    AuditAction, ChallengeKind, JsonObject, LoginChallenge, RECOVERY_CODES, Role, TotpFactor, User,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::token::{hash_token, random_token};
use super::totp_code::{self, SECRET_BYTES};
use super::{ClientMeta, Error, Identity, NewLogin, Party, Result, Verified, throttle};

/// How long a half-done sign-in waits for its second step.
pub const CHALLENGE_TTL: Duration = Duration::minutes(5);
/// Wrong codes a challenge takes before it is dropped (the throttle counts them too).
pub const CHALLENGE_MAX_FAILURES: i64 = 5;
/// The issuer authenticator apps show.
pub const ISSUER: &str = "TaylorDash";

/// The settings row: one JSON object.
const SETTINGS_KEY: &str = "sign_in";
const PASSWORD_SIGN_IN: &str = "password_sign_in";
const SECOND_FACTOR_FOR_ADMINS: &str = "second_factor_for_admins";

/// What a correct password led to.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    /// Signed in.
    SignedIn(Box<NewLogin>),
    /// A second step is needed first.
    SecondFactor(PendingLogin),
}

/// A sign-in waiting for its second step.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    /// Given to the client once; sent back with the code.
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// `totp` (send a code or a recovery code, or use a passkey), `passkey` (use a passkey:
    /// the account has passkeys and no TOTP) or `enrol` (set TOTP up first: the account is an
    /// admin's and the settings require a second factor of admins).
    pub step: &'static str,
    /// The account has passkeys: one may answer instead of a code.
    pub passkey: bool,
}

/// A TOTP secret to put into an authenticator app: as text and as the `otpauth://` URI its QR
/// code carries. Shown once.
#[derive(Clone)]
pub struct Enrolment {
    pub secret: String,
    pub otpauth_uri: String,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrolment([redacted])")
    }
}

/// A second step done: the session, and the recovery codes if this step also enrolled TOTP.
#[derive(Debug, Clone)]
pub struct CompletedLogin {
    pub login: NewLogin,
    pub recovery_codes: Option<Vec<String>>,
}

/// Where an account's second factor stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotpStatus {
    pub enabled: bool,
    /// An enrolment was started and awaits its first code.
    pub pending: bool,
    pub recovery_codes_left: i64,
}

/// The sign-in settings an admin changes at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInSettings {
    /// Local passwords may sign in (break-glass accounts always may).
    pub password_sign_in: bool,
    /// Admins need a second factor to sign in with a password.
    pub second_factor_for_admins: bool,
}

impl Default for SignInSettings {
    fn default() -> Self {
        SignInSettings {
            password_sign_in: true,
            second_factor_for_admins: false,
        }
    }
}

/// A partial change of the settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct SignInSettingsPatch {
    pub password_sign_in: Option<bool>,
    pub second_factor_for_admins: Option<bool>,
}

/// A new recovery code: 80 random bits as four groups of four base32 characters.
fn new_recovery_code() -> Result<String> {
    let mut bytes = [0u8; 10];
    getrandom::fill(&mut bytes).map_err(Error::internal)?;
    let text = totp_code::base32_encode(&bytes).to_ascii_lowercase();
    Ok(text
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-"))
}

/// The stored form of a recovery code: SHA-256 of its letters, without dashes, spaces or case.
fn recovery_hash(code: &str) -> String {
    let plain: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    hash_token(&plain)
}

/// A fresh set of recovery codes and their hashes.
fn recovery_codes() -> Result<(Vec<String>, Vec<String>)> {
    let codes = (0..RECOVERY_CODES)
        .map(|_| new_recovery_code())
        .collect::<Result<Vec<_>>>()?;
    let hashes = codes.iter().map(|c| recovery_hash(c)).collect();
    Ok((codes, hashes))
}

fn new_secret() -> Result<String> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(Error::internal)?;
    Ok(totp_code::base32_encode(&bytes))
}

fn enrolment(user: &User, secret: String) -> Enrolment {
    Enrolment {
        otpauth_uri: totp_code::otpauth_uri(ISSUER, &user.username, &secret),
        secret,
    }
}

impl Identity {
    /// The sign-in settings (defaults for what was never set).
    pub async fn sign_in_settings(&self) -> Result<SignInSettings> {
        let stored = self.store.auth_settings(SETTINGS_KEY).await?;
        let flag =
            |key: &str, default: bool| stored.get(key).and_then(Value::as_bool).unwrap_or(default);
        let d = SignInSettings::default();
        Ok(SignInSettings {
            password_sign_in: flag(PASSWORD_SIGN_IN, d.password_sign_in),
            second_factor_for_admins: flag(SECOND_FACTOR_FOR_ADMINS, d.second_factor_for_admins),
        })
    }

    /// Changes the sign-in settings; audited with what changed.
    pub async fn update_sign_in_settings(
        &self,
        patch: SignInSettingsPatch,
        actor: &Party,
        client: &ClientMeta,
    ) -> Result<SignInSettings> {
        let mut stored = self.store.auth_settings(SETTINGS_KEY).await?;
        let mut changed = JsonObject::new();
        for (key, value) in [
            (PASSWORD_SIGN_IN, patch.password_sign_in),
            (SECOND_FACTOR_FOR_ADMINS, patch.second_factor_for_admins),
        ] {
            if let Some(v) = value {
                stored.insert(key.to_owned(), json!(v));
                changed.insert(key.to_owned(), json!(v));
            }
        }
        if changed.is_empty() {
            return Err(Error::NoUpdates);
        }
        self.store
            .put_auth_settings(SETTINGS_KEY, &stored, self.now())
            .await?;
        self.audit(
            AuditAction::SignInSettingsChanged,
            actor,
            actor,
            client,
            Value::Object(changed),
        )
        .await;
        self.sign_in_settings().await
    }

    /// After a correct password: a session, or a challenge for the second step.
    pub(crate) async fn after_password(
        &self,
        user: User,
        remember_me: bool,
        kiosk: Option<(bool, Option<String>)>,
        settings: SignInSettings,
    ) -> Result<Option<PendingLogin>> {
        let factor = self.store.totp(user.id).await?;
        // A registered passkey is a second factor too.
        let passkey = !self.store.list_passkeys(user.id).await?.is_empty();
        let step = match factor {
            Some(f) if f.confirmed_at.is_some() => "totp",
            _ if passkey => "passkey",
            _ if user.role == Role::Admin && settings.second_factor_for_admins => "enrol",
            _ => return Ok(None),
        };
        let token = random_token().map_err(Error::internal)?;
        let now = self.now();
        let mut details = JsonObject::new();
        details.insert("step".into(), json!(step));
        details.insert("remember_me".into(), json!(remember_me));
        if let Some((single_view_mode, default_view)) = kiosk {
            details.insert("kiosk".into(), json!([single_view_mode, default_view]));
        }
        let challenge = LoginChallenge {
            token_hash: hash_token(&token),
            kind: ChallengeKind::SecondFactor,
            user_id: Some(user.id),
            details,
            failures: 0,
            created_at: now,
            expires_at: now + CHALLENGE_TTL,
        };
        self.store.create_challenge(&challenge).await?;
        if let Err(e) = self.store.delete_expired_challenges(now).await {
            tracing::warn!(error = %e, "could not delete expired sign-in challenges");
        }
        Ok(Some(PendingLogin {
            token,
            expires_at: challenge.expires_at,
            step,
            passkey,
        }))
    }

    /// The live second-step challenge behind `token`, and its user (active).
    pub(crate) async fn pending(&self, token: &str) -> Result<(LoginChallenge, User)> {
        let now = self.now();
        let challenge = self
            .store
            .challenge(&hash_token(token), ChallengeKind::SecondFactor, now)
            .await?
            .ok_or(Error::InvalidChallenge)?;
        let user_id = challenge.user_id.ok_or(Error::InvalidChallenge)?;
        let user = match self.store.get_user(user_id).await {
            Ok(u) if u.is_active => u,
            Ok(_) | Err(storage::StoreError::NotFound { .. }) => {
                return Err(Error::InvalidChallenge);
            }
            Err(e) => return Err(e.into()),
        };
        Ok((challenge, user))
    }

    /// The TOTP secret an admin sets up during a sign-in that requires it (an `enrol`
    /// challenge). Asking again gives the same secret.
    pub async fn enrol_at_login(&self, token: &str) -> Result<Enrolment> {
        let (challenge, user) = self.pending(token).await?;
        if challenge.details.get("step").and_then(Value::as_str) != Some("enrol") {
            return Err(Error::InvalidChallenge);
        }
        if let Some(secret) = challenge.details.get("secret").and_then(Value::as_str) {
            return Ok(enrolment(&user, secret.to_owned()));
        }
        let secret = new_secret()?;
        let mut details = challenge.details.clone();
        details.insert("secret".into(), json!(secret));
        self.store
            .update_challenge(&challenge.token_hash, &details)
            .await?;
        Ok(enrolment(&user, secret))
    }

    /// The second step: a TOTP code or a recovery code for the challenge behind `token` (for
    /// an enrolment, the first code of the new secret). Starts the session.
    pub async fn complete_login(
        &self,
        token: &str,
        code: &str,
        client: &ClientMeta,
    ) -> Result<CompletedLogin> {
        let (challenge, user) = self.pending(token).await?;
        let keys = throttle::keys(&user.username, client);
        let who = Party::from(&user);
        if let Err(e) = self.check_throttle(&keys).await {
            self.audit(
                AuditAction::LoginLocked,
                &who,
                &who,
                client,
                json!({"second_factor": true}),
            )
            .await;
            return Err(e);
        }
        let step = challenge.details.get("step").and_then(Value::as_str);
        let now = self.now();
        let (method, recovery) = match step {
            Some("totp") => match self.check_code(&user, code).await? {
                Some(method) => (method, None),
                None => return Err(self.wrong_code(&challenge, &user, &keys, client).await),
            },
            Some("enrol") => {
                let Some(secret) = challenge.details.get("secret").and_then(Value::as_str) else {
                    return Err(Error::InvalidChallenge);
                };
                let bytes = totp_code::base32_decode(secret).ok_or(Error::InvalidChallenge)?;
                let Some(step) = totp_code::verify(&bytes, code, now.timestamp(), None) else {
                    return Err(self.wrong_code(&challenge, &user, &keys, client).await);
                };
                let factor = TotpFactor {
                    user_id: user.id,
                    secret: secret.to_owned(),
                    confirmed_at: None,
                    last_step: None,
                    created_at: now,
                };
                if !self.store.start_totp(&factor).await? {
                    return Err(Error::InvalidChallenge);
                }
                let (codes, hashes) = recovery_codes()?;
                if !self.store.confirm_totp(user.id, step, &hashes, now).await? {
                    return Err(Error::InvalidChallenge);
                }
                self.audit(
                    AuditAction::TotpEnabled,
                    &who,
                    &who,
                    client,
                    json!({"at_sign_in": true}),
                )
                .await;
                ("totp", Some(codes))
            }
            Some("passkey") => return Err(Error::PasskeyNeeded),
            _ => return Err(Error::InvalidChallenge),
        };
        self.finish_second_step(challenge, user, method, recovery, client)
            .await
    }

    /// The second step was right: uses the challenge up and starts the session.
    pub(crate) async fn finish_second_step(
        &self,
        challenge: LoginChallenge,
        user: User,
        method: &'static str,
        recovery: Option<Vec<String>>,
        client: &ClientMeta,
    ) -> Result<CompletedLogin> {
        let now = self.now();
        // Used once: of two requests racing with the same challenge, one signs in.
        if !self.store.take_challenge(&challenge.token_hash).await? {
            return Err(Error::InvalidChallenge);
        }
        if let Err(e) = self
            .store
            .clear_login_failures(&domain::throttle_key_for_username(&user.username))
            .await
        {
            tracing::warn!(error = %e, "could not reset the login throttle");
        }
        let remember_me = challenge
            .details
            .get("remember_me")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let kiosk = challenge.details.get("kiosk").and_then(|k| {
            let single = k.get(0)?.as_bool()?;
            let view = k.get(1)?.as_str().map(str::to_owned);
            Some((single, view))
        });
        let user = self
            .store
            .record_login(
                user.id,
                now,
                storage::LoginUpdate {
                    rehashed_password: None,
                    kiosk,
                },
            )
            .await?;
        let login = self
            .signed_in(
                user,
                remember_me,
                domain::SignInMethod::Password,
                client,
                json!({"second_factor": method}),
            )
            .await?;
        Ok(CompletedLogin {
            login,
            recovery_codes: recovery,
        })
    }

    /// Checks a second-factor code for `user`'s confirmed factor: `totp` or `recovery_code`
    /// when it is right (and now used up), `None` when not.
    async fn check_code(&self, user: &User, code: &str) -> Result<Option<&'static str>> {
        let Some(factor) = self.store.totp(user.id).await? else {
            return Ok(None);
        };
        let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() == totp_code::DIGITS && digits.bytes().all(|b| b.is_ascii_digit()) {
            let bytes = totp_code::base32_decode(&factor.secret)
                .ok_or_else(|| Error::Internal("a stored TOTP secret is not base32".into()))?;
            let Some(step) =
                totp_code::verify(&bytes, &digits, self.now().timestamp(), factor.last_step)
            else {
                return Ok(None);
            };
            return Ok(self
                .store
                .use_totp_step(user.id, step)
                .await?
                .then_some("totp"));
        }
        let used = self
            .store
            .use_recovery_code(user.id, &recovery_hash(code), self.now())
            .await?;
        Ok(used.then_some("recovery_code"))
    }

    /// Counts a wrong code (throttle, challenge), audits it, and gives the error to return.
    pub(crate) async fn wrong_code(
        &self,
        challenge: &LoginChallenge,
        user: &User,
        keys: &[String],
        client: &ClientMeta,
    ) -> Error {
        self.record_failure(keys).await;
        let who = Party::from(user);
        self.audit(
            AuditAction::SecondFactorFailed,
            &who,
            &who,
            client,
            json!({}),
        )
        .await;
        match self.store.challenge_failed(&challenge.token_hash).await {
            Ok(n) if n >= CHALLENGE_MAX_FAILURES => {
                let _ = self.store.take_challenge(&challenge.token_hash).await;
                Error::InvalidChallenge
            }
            Ok(_) => Error::InvalidCode,
            Err(e) => e.into(),
        }
    }

    /// Where `user`'s second factor stands.
    pub async fn totp_status(&self, user: &User) -> Result<TotpStatus> {
        let factor = self.store.totp(user.id).await?;
        let enabled = factor.as_ref().is_some_and(|f| f.confirmed_at.is_some());
        Ok(TotpStatus {
            enabled,
            pending: factor.is_some() && !enabled,
            recovery_codes_left: if enabled {
                self.store.recovery_codes_left(user.id).await?
            } else {
                0
            },
        })
    }

    /// Checks `me`'s password before a change to their second factor (throttled like a
    /// login, against their name only, as a password change is).
    async fn recheck_password(&self, me: &User, password: String) -> Result<()> {
        let keys = throttle::keys(&me.username, &ClientMeta::default());
        self.check_throttle(&keys).await?;
        let creds = self.store.get_credentials(me.id).await?;
        if self.passwords.verify(password, creds.password_hash).await == Verified::No {
            self.record_failure(&keys).await;
            return Err(Error::InvalidCurrentPassword);
        }
        Ok(())
    }

    /// Starts TOTP enrolment for `me` (password checked): a new secret, pending until
    /// [`Identity::confirm_totp`].
    pub async fn start_totp(&self, me: &User, password: String) -> Result<Enrolment> {
        self.recheck_password(me, password).await?;
        let secret = new_secret()?;
        let factor = TotpFactor {
            user_id: me.id,
            secret: secret.clone(),
            confirmed_at: None,
            last_step: None,
            created_at: self.now(),
        };
        if !self.store.start_totp(&factor).await? {
            return Err(Error::TotpAlreadyOn);
        }
        Ok(enrolment(me, secret))
    }

    /// Confirms `me`'s pending enrolment with a first code; returns the recovery codes (shown
    /// once).
    pub async fn confirm_totp(
        &self,
        me: &User,
        code: &str,
        client: &ClientMeta,
    ) -> Result<Vec<String>> {
        let keys = throttle::keys(&me.username, &ClientMeta::default());
        self.check_throttle(&keys).await?;
        let factor = match self.store.totp(me.id).await? {
            Some(f) if f.confirmed_at.is_none() => f,
            Some(_) => return Err(Error::TotpAlreadyOn),
            None => return Err(Error::NoTotpEnrolment),
        };
        let bytes = totp_code::base32_decode(&factor.secret)
            .ok_or_else(|| Error::Internal("a stored TOTP secret is not base32".into()))?;
        let Some(step) = totp_code::verify(&bytes, code, self.now().timestamp(), None) else {
            self.record_failure(&keys).await;
            return Err(Error::InvalidCode);
        };
        let (codes, hashes) = recovery_codes()?;
        if !self
            .store
            .confirm_totp(me.id, step, &hashes, self.now())
            .await?
        {
            return Err(Error::NoTotpEnrolment);
        }
        let who = Party::from(me);
        self.audit(AuditAction::TotpEnabled, &who, &who, client, json!({}))
            .await;
        Ok(codes)
    }

    /// New recovery codes for `me` (password checked); the old ones stop working.
    pub async fn renew_recovery_codes(
        &self,
        me: &User,
        password: String,
        client: &ClientMeta,
    ) -> Result<Vec<String>> {
        self.recheck_password(me, password).await?;
        if !self.totp_status(me).await?.enabled {
            return Err(Error::NoTotpEnrolment);
        }
        let (codes, hashes) = recovery_codes()?;
        self.store
            .replace_recovery_codes(me.id, &hashes, self.now())
            .await?;
        let who = Party::from(me);
        self.audit(
            AuditAction::RecoveryCodesRenewed,
            &who,
            &who,
            client,
            json!({}),
        )
        .await;
        Ok(codes)
    }

    /// Turns `me`'s second factor off (password checked). Refused for an admin while the
    /// settings require a second factor of admins.
    pub async fn disable_totp(
        &self,
        me: &User,
        password: String,
        client: &ClientMeta,
    ) -> Result<()> {
        self.recheck_password(me, password).await?;
        if me.role == Role::Admin && self.sign_in_settings().await?.second_factor_for_admins {
            return Err(Error::SecondFactorRequired);
        }
        if !self.store.delete_totp(me.id).await? {
            return Err(Error::NoTotpEnrolment);
        }
        let who = Party::from(me);
        self.audit(
            AuditAction::TotpDisabled,
            &who,
            &who,
            client,
            json!({"self": true}),
        )
        .await;
        Ok(())
    }

    /// An admin resets `user_id`'s second factor (a lost phone): the factor and its recovery
    /// codes are gone; the user signs in with their password alone, or enrols again.
    pub async fn reset_totp(
        &self,
        actor: &Party,
        user_id: Uuid,
        client: &ClientMeta,
    ) -> Result<()> {
        let user = self.store.get_user(user_id).await?;
        // A lost phone is often a lost passkey too: the reset removes both second factors.
        let had_totp = self.store.delete_totp(user.id).await?;
        let passkeys = self.store.delete_passkeys(user.id).await?;
        if !had_totp && passkeys == 0 {
            return Err(Error::NoTotpEnrolment);
        }
        if had_totp {
            self.audit(
                AuditAction::TotpDisabled,
                actor,
                &Party::from(&user),
                client,
                json!({"reset": true}),
            )
            .await;
        }
        if passkeys > 0 {
            self.audit(
                AuditAction::PasskeyRemoved,
                actor,
                &Party::from(&user),
                client,
                json!({"reset": true, "count": passkeys}),
            )
            .await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_carry_80_bits_and_hash_without_format() {
        let code = new_recovery_code().unwrap();
        assert_eq!(code.len(), 19, "{code}");
        assert_eq!(code.matches('-').count(), 3);
        assert_eq!(
            recovery_hash(&code),
            recovery_hash(&code.to_uppercase().replace('-', " "))
        );
        assert_ne!(
            recovery_hash(&code),
            recovery_hash(&new_recovery_code().unwrap())
        );
        let (codes, hashes) = recovery_codes().unwrap();
        assert_eq!(
            (codes.len(), hashes.len()),
            (RECOVERY_CODES, RECOVERY_CODES)
        );
    }
}
