//! Login, logout, the caller's sessions, and the session or API key behind a token.
//!
//! A session token is 256 random bits, given to the client once and stored only as its
//! SHA-256. Sessions slide: each use moves the end to `ttl` after now (24 h, or 30 days with
//! "remember me").

use chrono::Duration;
use domain::{ApiKeyInfo, AuditAction, NewSession, Role, Session, SignInMethod, User};
use serde_json::json;
use storage::LoginUpdate;
use uuid::Uuid;

use super::token::{hash_token, random_token};
use super::{ClientMeta, Error, Identity, LoginOutcome, Party, Result, Verified, throttle};

pub const SESSION_TTL: Duration = Duration::hours(24);
pub const REMEMBER_ME_TTL: Duration = Duration::days(30);
/// Session activity and key use are written at most this often per session/key.
pub const TOUCH_INTERVAL: Duration = Duration::seconds(60);

/// A login attempt (v1's login form).
#[derive(Debug, Clone, Default)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// Keep the session for 30 days of inactivity instead of 24 hours.
    pub remember_me: bool,
    /// Kiosk mode for this (non-admin) user, remembered on the account as in v1.
    pub single_view_mode: bool,
    pub default_view: Option<String>,
}

/// A session just started: the token (given to the client once, never stored), the session and
/// its user.
#[derive(Debug, Clone)]
pub struct NewLogin {
    pub user: User,
    pub token: String,
    pub session: Session,
    pub remember_me: bool,
}

impl NewLogin {
    /// How long a client should keep the token without using it: `None` for a session that
    /// should end with the browser, the "remember me" lifetime otherwise.
    pub fn keep_for(&self) -> Option<Duration> {
        self.remember_me.then_some(REMEMBER_ME_TTL)
    }
}

/// The live session behind a token, and its user.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub session: Session,
    pub user: User,
    /// The session's end just slid forward (its activity is written at most once a minute).
    pub extended: bool,
}

impl Identity {
    /// Logs in with a username and password.
    ///
    /// Wrong credentials are [`Error::InvalidCredentials`] whether or not the user exists, and
    /// cost a password check either way. After repeated failures for a username or from an
    /// address, attempts are [`Error::TooManyAttempts`] until the lock ends. An imported v1
    /// bcrypt hash (or one made with older parameters) is replaced while the password is at
    /// hand.
    ///
    /// With password sign-in turned off (the run-time settings), only break-glass accounts may
    /// use a password. An account with a second factor (or an admin who must enrol one) gets
    /// [`LoginOutcome::SecondFactor`]: the session starts at [`Identity::complete_login`].
    pub async fn login(&self, req: LoginRequest, client: &ClientMeta) -> Result<LoginOutcome> {
        let settings = self.sign_in_settings().await?;
        if !settings.password_sign_in
            && !self
                .break_glass
                .contains(&domain::username_key(&req.username))
        {
            return Err(Error::PasswordSignInDisabled);
        }
        let keys = throttle::keys(&req.username, client);
        let attempted = Party::named(
            req.username
                .chars()
                .take(domain::USERNAME_MAX)
                .collect::<String>(),
        );
        if let Err(e) = self.check_throttle(&keys).await {
            self.audit(
                AuditAction::LoginLocked,
                &attempted,
                &attempted,
                client,
                json!({}),
            )
            .await;
            return Err(e);
        }
        let found = self.store.find_credentials(&req.username).await?;
        // Unknown users cost the same hash verification as known ones, so the answer's timing
        // does not tell whether the name exists.
        let (user, verified) = match found {
            Some(c) => {
                let v = self
                    .passwords
                    .verify(req.password.clone(), c.password_hash)
                    .await;
                (Some(c.user), v)
            }
            None => {
                self.passwords.verify_nobody(req.password.clone()).await?;
                (None, Verified::No)
            }
        };
        let user = match user {
            Some(user) if verified.ok() && user.is_active => user,
            user => {
                self.record_failure(&keys).await;
                let target = user.as_ref().map_or(attempted.clone(), Party::from);
                self.audit(
                    AuditAction::LoginFailed,
                    &attempted,
                    &target,
                    client,
                    json!({}),
                )
                .await;
                return Err(Error::InvalidCredentials);
            }
        };
        if let Err(e) = self
            .store
            .clear_login_failures(&domain::throttle_key_for_username(&user.username))
            .await
        {
            tracing::warn!(error = %e, "could not reset the login throttle");
        }
        let rehashed_password = match verified {
            Verified::YesNeedsRehash => Some(self.passwords.hash(req.password).await?),
            _ => None,
        };
        // v1: kiosk settings chosen at login are remembered for non-admins; admins never kiosk.
        let kiosk = (user.role != Role::Admin
            && (req.single_view_mode || req.default_view.is_some()))
        .then_some((req.single_view_mode, req.default_view));
        if rehashed_password.is_some() {
            // Kept now, while the password is at hand, even if a second step follows.
            self.store
                .record_login(
                    user.id,
                    self.now(),
                    LoginUpdate {
                        rehashed_password: rehashed_password.clone(),
                        kiosk: None,
                    },
                )
                .await?;
        }
        if let Some(pending) = self
            .after_password(user.clone(), req.remember_me, kiosk.clone(), settings)
            .await?
        {
            return Ok(LoginOutcome::SecondFactor(pending));
        }
        let user = self
            .store
            .record_login(
                user.id,
                self.now(),
                LoginUpdate {
                    rehashed_password: None,
                    kiosk,
                },
            )
            .await?;
        let login = self
            .signed_in(
                user,
                req.remember_me,
                SignInMethod::Password,
                client,
                json!({}),
            )
            .await?;
        Ok(LoginOutcome::SignedIn(Box::new(login)))
    }

    /// Ends a sign-in that succeeded, however it was made: starts the session and writes the
    /// `login_success` entry, whose `details` (how the user signed in) get the session's id
    /// and `remember_me` added.
    pub(crate) async fn signed_in(
        &self,
        user: User,
        remember_me: bool,
        method: SignInMethod,
        client: &ClientMeta,
        mut details: serde_json::Value,
    ) -> Result<NewLogin> {
        let login = self
            .start_session(user, remember_me, method, client)
            .await?;
        if let Some(d) = details.as_object_mut() {
            d.insert("session_id".into(), json!(login.session.id));
            d.insert("remember_me".into(), json!(remember_me));
        }
        let who = Party::from(&login.user);
        self.audit(AuditAction::LoginSuccess, &who, &who, client, details)
            .await;
        Ok(login)
    }

    /// Creates a session for `user`, remembering how they signed in.
    pub(crate) async fn start_session(
        &self,
        user: User,
        remember_me: bool,
        method: SignInMethod,
        client: &ClientMeta,
    ) -> Result<NewLogin> {
        let token = random_token().map_err(Error::internal)?;
        let now = self.now();
        let ttl = if remember_me {
            REMEMBER_ME_TTL
        } else {
            SESSION_TTL
        };
        let session = Session {
            id: Uuid::new_v4(),
            user_id: user.id,
            created_at: now,
            last_activity: now,
            expires_at: now + ttl,
            ttl_seconds: ttl.num_seconds(),
            ip_address: client.ip_string(),
            user_agent: client.user_agent.clone(),
            sign_in_method: Some(method),
        };
        self.store
            .create_session(NewSession {
                session: session.clone(),
                token_hash: hash_token(&token),
            })
            .await?;
        Ok(NewLogin {
            user,
            token,
            session,
            remember_me,
        })
    }

    /// Ends `user`'s session `session_id` (a logout).
    pub async fn logout(
        &self,
        actor: &Party,
        user: &User,
        session_id: Uuid,
        client: &ClientMeta,
    ) -> Result<()> {
        self.end_session(AuditAction::Logout, actor, user, session_id, client)
            .await
    }

    /// The user's live sessions, newest first.
    pub async fn sessions(&self, user_id: Uuid) -> Result<Vec<Session>> {
        Ok(self.store.list_sessions(user_id, self.now()).await?)
    }

    /// Ends all of `user`'s sessions except `keep`; returns how many ended.
    pub async fn revoke_other_sessions(
        &self,
        actor: &Party,
        user: &User,
        keep: Option<Uuid>,
        client: &ClientMeta,
    ) -> Result<u64> {
        let revoked = self
            .store
            .revoke_sessions(user.id, keep, self.now())
            .await?;
        self.audit(
            AuditAction::SessionRevoked,
            actor,
            &Party::from(user),
            client,
            json!({"count": revoked, "kept": keep}),
        )
        .await;
        Ok(revoked)
    }

    /// Ends one of `user`'s sessions.
    pub async fn revoke_session(
        &self,
        actor: &Party,
        user: &User,
        session_id: Uuid,
        client: &ClientMeta,
    ) -> Result<()> {
        self.end_session(AuditAction::SessionRevoked, actor, user, session_id, client)
            .await
    }

    async fn end_session(
        &self,
        action: AuditAction,
        actor: &Party,
        user: &User,
        session_id: Uuid,
        client: &ClientMeta,
    ) -> Result<()> {
        self.store
            .revoke_session(user.id, session_id, self.now())
            .await?;
        let details = json!({"session_id": session_id});
        self.audit(action, actor, &Party::from(user), client, details)
            .await;
        Ok(())
    }

    /// Deletes expired and revoked sessions; returns how many.
    pub async fn delete_expired_sessions(&self) -> Result<u64> {
        Ok(self.store.delete_expired_sessions(self.now()).await?)
    }

    /// The live session with this token, and its user; slides the session's end forward (at
    /// most once per [`TOUCH_INTERVAL`]). `None` for an unknown, revoked or expired token.
    pub async fn session_by_token(&self, token: &str) -> Result<Option<Authenticated>> {
        let now = self.now();
        let Some((session, user)) = self.store.session_by_token(&hash_token(token), now).await?
        else {
            return Ok(None);
        };
        let mut extended = false;
        if now - session.last_activity >= TOUCH_INTERVAL {
            let ttl = Duration::seconds(session.ttl_seconds);
            match self.store.touch_session(session.id, now, now + ttl).await {
                Ok(()) => extended = true,
                Err(e) => tracing::warn!(error = %e, "could not extend the session"),
            }
        }
        Ok(Some(Authenticated {
            session,
            user,
            extended,
        }))
    }

    /// The live personal API key `key` and its owner, recording its use (at most once per
    /// [`TOUCH_INTERVAL`]). `None` for an unknown, revoked or expired key.
    pub async fn api_key_by_secret(&self, key: &str) -> Result<Option<(ApiKeyInfo, User)>> {
        let now = self.now();
        let Some((info, user)) = self.store.api_key_by_hash(&hash_token(key), now).await? else {
            return Ok(None);
        };
        if info.last_used_at.is_none_or(|t| now - t >= TOUCH_INTERVAL)
            && let Err(e) = self.store.touch_api_key(info.id, now).await
        {
            tracing::warn!(error = %e, "could not record API key use");
        }
        Ok(Some((info, user)))
    }
}
