//! [`SignInStore`]: sign-in beyond a local password — accounts linked to identities at a
//! provider (forward-auth proxy, OpenID provider), TOTP second factors and recovery codes,
//! half-done sign-ins (challenges), and the run-time sign-in settings.
//!
//! A part of [`crate::IdentityStore`] (its supertrait), kept in its own file; times are the
//! caller's.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    ChallengeKind, ExternalIdentity, JsonObject, LoginChallenge, NewUser, Passkey, TotpFactor, User,
};
use uuid::Uuid;

use crate::Result;

#[async_trait]
pub trait SignInStore: Send + Sync + 'static {
    /// The link for `subject` at `provider` and its account (active or not).
    async fn find_external_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<(ExternalIdentity, User)>>;
    /// Links an existing account. `false` if the subject was already linked (to any account):
    /// the first link stays.
    async fn link_external_identity(&self, link: &ExternalIdentity) -> Result<bool>;
    /// Creates an account and its link in one transaction; a taken username is
    /// [`crate::StoreError::UsernameTaken`], and a subject linked meanwhile `None`: either
    /// creates nothing.
    async fn create_external_user(
        &self,
        new: NewUser,
        link: &ExternalIdentity,
        at: DateTime<Utc>,
    ) -> Result<Option<User>>;
    /// Records a sign-in through a link at `at` (and the e-mail the provider now reports).
    async fn touch_external_identity(
        &self,
        provider: &str,
        subject: &str,
        email: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()>;
    /// An account's links, oldest first.
    async fn list_external_identities(&self, user_id: Uuid) -> Result<Vec<ExternalIdentity>>;

    /// The user's TOTP factor, confirmed or pending.
    async fn totp(&self, user_id: Uuid) -> Result<Option<TotpFactor>>;
    /// Starts (or restarts) an enrolment with a new secret. `false`, changing nothing, when a
    /// confirmed factor exists.
    async fn start_totp(&self, factor: &TotpFactor) -> Result<bool>;
    /// Confirms a pending factor with the step of its first code, and replaces the user's
    /// recovery codes, in one transaction. `false` if there was no pending factor.
    async fn confirm_totp(
        &self,
        user_id: Uuid,
        step: i64,
        recovery_hashes: &[String],
        at: DateTime<Utc>,
    ) -> Result<bool>;
    /// Takes the code of `step` for a confirmed factor: `false` if that step (or a later one)
    /// was already used — atomically, so a code works once even when sent twice at once.
    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool>;
    /// Removes the factor and the recovery codes; `false` if there was no factor.
    async fn delete_totp(&self, user_id: Uuid) -> Result<bool>;
    /// Replaces the user's recovery codes.
    async fn replace_recovery_codes(
        &self,
        user_id: Uuid,
        hashes: &[String],
        at: DateTime<Utc>,
    ) -> Result<()>;
    /// Uses up an unused recovery code; `false` if there is none with this hash.
    async fn use_recovery_code(&self, user_id: Uuid, hash: &str, at: DateTime<Utc>)
    -> Result<bool>;
    /// Unused recovery codes left.
    async fn recovery_codes_left(&self, user_id: Uuid) -> Result<i64>;

    async fn create_challenge(&self, challenge: &LoginChallenge) -> Result<()>;
    /// The live challenge of this kind with this token hash.
    async fn challenge(
        &self,
        token_hash: &str,
        kind: ChallengeKind,
        now: DateTime<Utc>,
    ) -> Result<Option<LoginChallenge>>;
    /// Counts a wrong answer; returns the failures so far.
    async fn challenge_failed(&self, token_hash: &str) -> Result<i64>;
    /// Changes what a challenge carries (an enrolment's secret).
    async fn update_challenge(&self, token_hash: &str, details: &JsonObject) -> Result<()>;
    /// Uses a challenge up: `true` for the one caller that deleted it.
    async fn take_challenge(&self, token_hash: &str) -> Result<bool>;
    /// Deletes expired challenges; returns how many.
    async fn delete_expired_challenges(&self, now: DateTime<Utc>) -> Result<u64>;

    /// Registers a passkey; `false`, storing nothing, if its credential id is registered
    /// already (to anyone).
    async fn create_passkey(&self, passkey: &Passkey) -> Result<bool>;
    /// The user's passkeys, oldest first.
    async fn list_passkeys(&self, user_id: Uuid) -> Result<Vec<Passkey>>;
    /// The passkey with this credential id and its account (active or not).
    async fn passkey_by_credential(&self, credential_id: &str) -> Result<Option<(Passkey, User)>>;
    /// Renames one of the user's passkeys; `NotFound` if the user has no such passkey.
    async fn rename_passkey(&self, user_id: Uuid, id: Uuid, name: &str) -> Result<Passkey>;
    /// Deletes one of the user's passkeys; `NotFound` if the user has no such passkey.
    async fn delete_passkey(&self, user_id: Uuid, id: Uuid) -> Result<Passkey>;
    /// Deletes all the user's passkeys; returns how many.
    async fn delete_passkeys(&self, user_id: Uuid) -> Result<u64>;
    /// Records a use: the counter moves from `seen` to `count`, atomically, so of two
    /// assertions racing with the same counter only one passes (`false` for the other).
    async fn use_passkey(&self, id: Uuid, seen: i64, count: i64, at: DateTime<Utc>)
    -> Result<bool>;

    /// A group of run-time settings (`sign_in`), empty if never set.
    async fn auth_settings(&self, key: &str) -> Result<JsonObject>;
    /// Replaces a group of run-time settings.
    async fn put_auth_settings(
        &self,
        key: &str,
        value: &JsonObject,
        at: DateTime<Utc>,
    ) -> Result<()>;
}
