//! Passkeys (WebAuthn): registered by a signed-in user, then used to sign in without a password
//! (the authenticator verifies the person: PIN or biometrics) or as the second step after one.
//!
//! Every ceremony starts with a random 256-bit challenge kept server-side (as SHA-256, as a
//! sign-in challenge of kind `passkey`, five minutes, used once; for a second step, inside the
//! half-done sign-in's own challenge). The answer must carry that challenge, come from this
//! site's origin, be for this relying party id, and — for a sign-in — be signed by the
//! registered key with a signature counter that grew (when the authenticator keeps one).

use chrono::Duration;
use domain::{AuditAction, ChallengeKind, JsonObject, LoginChallenge, Passkey, User};
use serde_json::{Value, json};
use uuid::Uuid;

use super::token::hash_token;
use super::webauthn::{self, PublicKey, WebAuthnError};
use super::{ClientMeta, CompletedLogin, Error, Identity, NewLogin, Party, Result, throttle};

/// How long a browser may take to answer a passkey ceremony.
pub const PASSKEY_CHALLENGE_TTL: Duration = Duration::minutes(5);
/// The timeout the browser is told (milliseconds), a little under the challenge's lifetime.
const CEREMONY_TIMEOUT_MS: i64 = 240_000;
/// Passkeys one account may have.
pub const MAX_PASSKEYS: usize = 20;

/// Who the passkeys are for: the relying party id (the site's host name, without port) and
/// the origins its pages are served from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    pub id: String,
    pub origins: Vec<String>,
}

/// A registration answer (`navigator.credentials.create`), fields base64url.
#[derive(Debug, Clone)]
pub struct Attestation {
    pub id: String,
    pub client_data_json: String,
    pub attestation_object: String,
}

/// A sign-in answer (`navigator.credentials.get`), fields base64url.
#[derive(Debug, Clone)]
pub struct Assertion {
    pub id: String,
    pub client_data_json: String,
    pub authenticator_data: String,
    pub signature: String,
}

/// A fresh challenge, base64url.
fn new_challenge() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(Error::internal)?;
    Ok(webauthn::b64_encode(&bytes))
}

const PURPOSE: &str = "purpose";

impl Identity {
    async fn passkey_challenge(&self, user_id: Option<Uuid>, purpose: &str) -> Result<String> {
        let challenge = new_challenge()?;
        let now = self.now();
        let mut details = JsonObject::new();
        details.insert(PURPOSE.into(), json!(purpose));
        self.store
            .create_challenge(&LoginChallenge {
                token_hash: hash_token(&challenge),
                kind: ChallengeKind::Passkey,
                user_id,
                details,
                failures: 0,
                created_at: now,
                expires_at: now + PASSKEY_CHALLENGE_TTL,
            })
            .await?;
        if let Err(e) = self.store.delete_expired_challenges(now).await {
            tracing::warn!(error = %e, "could not delete expired sign-in challenges");
        }
        Ok(challenge)
    }

    /// Uses up the stored challenge the answer carries: it must exist, be live, be for
    /// `purpose` and (for a registration) for `user_id`.
    async fn take_passkey_challenge(
        &self,
        challenge: &str,
        purpose: &str,
        user_id: Option<Uuid>,
    ) -> Result<()> {
        let hash = hash_token(challenge);
        let stored = self
            .store
            .challenge(&hash, ChallengeKind::Passkey, self.now())
            .await?
            .ok_or(Error::InvalidChallenge)?;
        if stored.details.get(PURPOSE).and_then(Value::as_str) != Some(purpose)
            || stored.user_id != user_id
        {
            return Err(Error::InvalidChallenge);
        }
        if !self.store.take_challenge(&hash).await? {
            return Err(Error::InvalidChallenge);
        }
        Ok(())
    }

    /// The options for `navigator.credentials.create` (`publicKey`), with a new challenge.
    pub async fn passkey_registration_options(
        &self,
        user: &User,
        rp: &RelyingParty,
    ) -> Result<Value> {
        let challenge = self.passkey_challenge(Some(user.id), "register").await?;
        let exclude: Vec<Value> = self
            .store
            .list_passkeys(user.id)
            .await?
            .into_iter()
            .map(|p| json!({"type": "public-key", "id": p.credential_id}))
            .collect();
        Ok(json!({
            "challenge": challenge,
            "rp": {"id": rp.id, "name": "TaylorDash"},
            "user": {
                "id": webauthn::b64_encode(user.id.as_bytes()),
                "name": user.username,
                "displayName": user.username,
            },
            "pubKeyCredParams": webauthn::ALGORITHMS
                .iter()
                .map(|alg| json!({"type": "public-key", "alg": alg}))
                .collect::<Vec<_>>(),
            "timeout": CEREMONY_TIMEOUT_MS,
            "attestation": "none",
            "excludeCredentials": exclude,
            "authenticatorSelection": {
                "residentKey": "preferred",
                "requireResidentKey": false,
                "userVerification": "preferred",
            },
        }))
    }

    /// Registers the passkey in a registration answer (its challenge used once).
    pub async fn register_passkey(
        &self,
        user: &User,
        name: &str,
        answer: &Attestation,
        rp: &RelyingParty,
        client: &ClientMeta,
    ) -> Result<Passkey> {
        let name = domain::validate_passkey_name(name)?;
        let data = webauthn::client_data(&answer.client_data_json, "webauthn.create", &rp.origins)?;
        self.take_passkey_challenge(&data.challenge, "register", Some(user.id))
            .await?;
        let raw = webauthn::attestation_auth_data(&answer.attestation_object)?;
        let auth = webauthn::auth_data(&raw, &rp.id, false)?;
        let Some((credential_id, cose)) = auth.credential else {
            return Err(
                WebAuthnError::Malformed("no credential in the registration".into()).into(),
            );
        };
        if webauthn::b64(&answer.id)? != credential_id {
            return Err(WebAuthnError::Malformed("the credential id does not match".into()).into());
        }
        let (_, algorithm) = PublicKey::from_cose(&cose)?;
        if self.store.list_passkeys(user.id).await?.len() >= MAX_PASSKEYS {
            return Err(domain::ValidationError::new(
                "passkey",
                format!("an account may have at most {MAX_PASSKEYS} passkeys; remove one first"),
            )
            .into());
        }
        let passkey = Passkey {
            id: Uuid::new_v4(),
            user_id: user.id,
            credential_id: webauthn::b64_encode(&credential_id),
            public_key: webauthn::b64_encode(&cose),
            algorithm,
            sign_count: i64::from(auth.sign_count),
            name,
            created_at: self.now(),
            last_used_at: None,
        };
        if !self.store.create_passkey(&passkey).await? {
            return Err(Error::PasskeyExists);
        }
        let who = Party::from(user);
        self.audit(
            AuditAction::PasskeyAdded,
            &who,
            &who,
            client,
            json!({"passkey_id": passkey.id, "name": passkey.name, "algorithm": algorithm}),
        )
        .await;
        Ok(passkey)
    }

    /// The user's passkeys, oldest first.
    pub async fn passkeys(&self, user_id: Uuid) -> Result<Vec<Passkey>> {
        Ok(self.store.list_passkeys(user_id).await?)
    }

    pub async fn rename_passkey(
        &self,
        user: &User,
        id: Uuid,
        name: &str,
        client: &ClientMeta,
    ) -> Result<Passkey> {
        let name = domain::validate_passkey_name(name)?;
        let passkey = self.store.rename_passkey(user.id, id, &name).await?;
        let who = Party::from(user);
        self.audit(
            AuditAction::PasskeyRenamed,
            &who,
            &who,
            client,
            json!({"passkey_id": id, "name": name}),
        )
        .await;
        Ok(passkey)
    }

    pub async fn delete_passkey(&self, user: &User, id: Uuid, client: &ClientMeta) -> Result<()> {
        let gone = self.store.delete_passkey(user.id, id).await?;
        let who = Party::from(user);
        self.audit(
            AuditAction::PasskeyRemoved,
            &who,
            &who,
            client,
            json!({"passkey_id": id, "name": gone.name}),
        )
        .await;
        Ok(())
    }

    /// The options for `navigator.credentials.get` for a passwordless sign-in: any passkey
    /// of this site (discoverable), the person verified.
    pub async fn passkey_login_options(&self, rp: &RelyingParty) -> Result<Value> {
        let challenge = self.passkey_challenge(None, "login").await?;
        Ok(json!({
            "challenge": challenge,
            "rpId": rp.id,
            "timeout": CEREMONY_TIMEOUT_MS,
            "userVerification": "required",
            "allowCredentials": [],
        }))
    }

    /// Checks an assertion against the registered passkey it names (of `owner`, when given)
    /// and records its use; returns the passkey and its account.
    async fn check_assertion(
        &self,
        answer: &Assertion,
        data: &webauthn::ClientData,
        rp: &RelyingParty,
        need_uv: bool,
        owner: Option<Uuid>,
    ) -> Result<(Passkey, User)> {
        let credential_id = webauthn::b64_encode(&webauthn::b64(&answer.id)?);
        let (passkey, user) = self
            .store
            .passkey_by_credential(&credential_id)
            .await?
            .filter(|(_, u)| owner.is_none_or(|o| o == u.id))
            .ok_or(Error::UnknownPasskey)?;
        let raw = webauthn::b64(&answer.authenticator_data)?;
        let auth = webauthn::auth_data(&raw, &rp.id, need_uv)?;
        let key_bytes = webauthn::b64(&passkey.public_key)
            .map_err(|_| Error::Internal("a stored passkey key is not base64url".into()))?;
        let (key, _) = PublicKey::from_cose(&key_bytes)
            .map_err(|e| Error::Internal(format!("a stored passkey key: {e}")))?;
        key.verify(&raw, &data.hash, &webauthn::b64(&answer.signature)?)?;
        // A counter that does not grow (when either side has one) means a copied key.
        let count = i64::from(auth.sign_count);
        if (count != 0 || passkey.sign_count != 0) && count <= passkey.sign_count {
            let who = Party::from(&user);
            self.audit(
                AuditAction::LoginFailed,
                &who,
                &who,
                &ClientMeta::default(),
                json!({"method": "passkey", "reason": "signature counter did not grow",
                    "passkey_id": passkey.id, "stored": passkey.sign_count, "sent": count}),
            )
            .await;
            return Err(Error::PasskeyCounter);
        }
        if !self
            .store
            .use_passkey(passkey.id, passkey.sign_count, count, self.now())
            .await?
        {
            // Another assertion with the same counter got there first.
            return Err(Error::PasskeyCounter);
        }
        Ok((passkey, user))
    }

    /// A passwordless sign-in with a passkey (its challenge used once; the person verified by
    /// the authenticator). Refusals are audited and counted against the address.
    pub async fn passkey_login(
        &self,
        answer: &Assertion,
        remember_me: bool,
        rp: &RelyingParty,
        client: &ClientMeta,
    ) -> Result<NewLogin> {
        let address_keys: Vec<String> = client
            .ip
            .map(domain::throttle_key_for_address)
            .into_iter()
            .collect();
        self.check_throttle(&address_keys).await?;
        let data = webauthn::client_data(&answer.client_data_json, "webauthn.get", &rp.origins)?;
        self.take_passkey_challenge(&data.challenge, "login", None)
            .await?;
        let (passkey, user) = match self.check_assertion(answer, &data, rp, true, None).await {
            Ok(found) => found,
            Err(e) => {
                self.record_failure(&address_keys).await;
                let who = Party::named("passkey");
                self.audit(
                    AuditAction::LoginFailed,
                    &who,
                    &who,
                    client,
                    json!({"method": "passkey", "reason": e.to_string()}),
                )
                .await;
                return Err(e);
            }
        };
        if !user.is_active {
            return Err(Error::AccountDisabled);
        }
        let user = self
            .store
            .record_login(user.id, self.now(), storage::LoginUpdate::default())
            .await?;
        self.signed_in(
            user,
            remember_me,
            domain::SignInMethod::Passkey,
            client,
            json!({"method": "passkey", "passkey_id": passkey.id}),
        )
        .await
    }

    /// The options for `navigator.credentials.get` as the second step of the half-done
    /// sign-in behind `token`: the account's passkeys; the challenge kept in that sign-in.
    pub async fn passkey_second_factor_options(
        &self,
        token: &str,
        rp: &RelyingParty,
    ) -> Result<Value> {
        let (challenge, user) = self.pending(token).await?;
        if !matches!(
            challenge.details.get("step").and_then(Value::as_str),
            Some("totp" | "passkey")
        ) {
            return Err(Error::InvalidChallenge);
        }
        let allow: Vec<Value> = self
            .store
            .list_passkeys(user.id)
            .await?
            .into_iter()
            .map(|p| json!({"type": "public-key", "id": p.credential_id}))
            .collect();
        if allow.is_empty() {
            return Err(Error::UnknownPasskey);
        }
        let webauthn_challenge = new_challenge()?;
        let mut details = challenge.details.clone();
        details.insert("passkey_challenge".into(), json!(webauthn_challenge));
        self.store
            .update_challenge(&challenge.token_hash, &details)
            .await?;
        Ok(json!({
            "challenge": webauthn_challenge,
            "rpId": rp.id,
            "timeout": CEREMONY_TIMEOUT_MS,
            "userVerification": "discouraged",
            "allowCredentials": allow,
        }))
    }

    /// The second step with a passkey of the account: starts the session.
    pub async fn complete_login_with_passkey(
        &self,
        token: &str,
        answer: &Assertion,
        rp: &RelyingParty,
        client: &ClientMeta,
    ) -> Result<CompletedLogin> {
        let (challenge, user) = self.pending(token).await?;
        let keys = throttle::keys(&user.username, client);
        self.check_throttle(&keys).await?;
        let expected = challenge
            .details
            .get("passkey_challenge")
            .and_then(Value::as_str)
            .ok_or(Error::InvalidChallenge)?
            .to_owned();
        let checked = async {
            let data =
                webauthn::client_data(&answer.client_data_json, "webauthn.get", &rp.origins)?;
            if data.challenge != expected {
                return Err(Error::InvalidChallenge);
            }
            self.check_assertion(answer, &data, rp, false, Some(user.id))
                .await
        }
        .await;
        if let Err(e) = checked {
            let counted = self.wrong_code(&challenge, &user, &keys, client).await;
            return Err(match counted {
                Error::InvalidCode => e,
                other => other,
            });
        }
        self.finish_second_step(challenge, user, "passkey", None, client)
            .await
    }
}
