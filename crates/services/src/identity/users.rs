//! Users: provisioning (API, command line, unattended install), updates, deletion, and
//! changing your own password.

use domain::{AuditAction, NewUser, Role, User, UserPatch, check_password_policy};
use serde_json::json;
use uuid::Uuid;

use super::{ClientMeta, Error, Identity, Party, Result, Verified, throttle};

/// A new user as asked for: validated and hashed by the service.
#[derive(Debug, Clone)]
pub struct NewUserRequest {
    pub username: String,
    pub password: String,
    pub role: Role,
    pub default_view: Option<String>,
    pub single_view_mode: bool,
}

impl NewUserRequest {
    /// A user with no kiosk settings.
    pub fn plain(username: impl Into<String>, password: String, role: Role) -> NewUserRequest {
        NewUserRequest {
            username: username.into(),
            password,
            role,
            default_view: None,
            single_view_mode: false,
        }
    }
}

/// A partial update of a user: `None` keeps a field; `default_view: Some("")` clears it.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub role: Option<Role>,
    pub default_view: Option<String>,
    pub single_view_mode: Option<bool>,
    pub is_active: Option<bool>,
    /// A new password (the policy applies); ends the user's sessions.
    pub password: Option<String>,
}

impl Identity {
    /// Validates, hashes and stores a new user created by `actor` (whose id, if any, becomes
    /// `created_by`), and audits it.
    pub async fn create_user(
        &self,
        req: NewUserRequest,
        actor: &Party,
        client: &ClientMeta,
    ) -> Result<User> {
        self.add_user(req, actor, client, None).await
    }

    /// Creates a user outside any request — from the command line or the unattended-install
    /// settings — with the same policy, hashing and audit entry as the API. `via` names the
    /// origin in the audit trail (e.g. "command line").
    pub async fn provision(
        &self,
        username: &str,
        password: String,
        role: Role,
        via: &str,
    ) -> Result<User> {
        let req = NewUserRequest::plain(username, password, role);
        let client = ClientMeta::default();
        self.add_user(req, &Party::named(via), &client, Some(via))
            .await
    }

    async fn add_user(
        &self,
        req: NewUserRequest,
        actor: &Party,
        client: &ClientMeta,
        via: Option<&str>,
    ) -> Result<User> {
        let new = self.new_user(req, actor.id).await?;
        let user = self.store.create_user(new, self.now()).await?;
        let details = match via {
            Some(via) => json!({"role": user.role, "via": via}),
            None => json!({"role": user.role}),
        };
        let target = Party::from(&user);
        self.audit(AuditAction::UserCreated, actor, &target, client, details)
            .await;
        Ok(user)
    }

    /// The user with this name (any letter case), if there is one.
    pub async fn find_user(&self, username: &str) -> Result<Option<User>> {
        Ok(self.store.find_credentials(username).await?.map(|c| c.user))
    }

    /// The validated, hashed form of a new-user request.
    pub(crate) async fn new_user(
        &self,
        req: NewUserRequest,
        created_by: Option<Uuid>,
    ) -> Result<NewUser> {
        let username = domain::validate_username(&req.username)?;
        check_password_policy(&req.password, &username)?;
        let password_hash = self.passwords.hash(req.password).await?;
        // Kiosk mode is for shared screens, not for administration (v1's rule).
        let single_view_mode = req.single_view_mode && req.role != Role::Admin;
        Ok(NewUser {
            username,
            password_hash,
            role: req.role,
            default_view: req.default_view,
            single_view_mode,
            created_by,
        })
    }

    /// Updates user `id`. Changing the role or password, or deactivating, ends the user's
    /// sessions; no change may leave the installation without an active admin.
    pub async fn update_user(
        &self,
        id: Uuid,
        update: UserUpdate,
        actor: &Party,
        client: &ClientMeta,
    ) -> Result<User> {
        let password_hash = match update.password {
            Some(pw) => {
                let target = self.store.get_user(id).await?;
                check_password_policy(&pw, &target.username)?;
                Some(self.passwords.hash(pw).await?)
            }
            None => None,
        };
        let patch = UserPatch {
            role: update.role,
            default_view: update
                .default_view
                .map(|v| Some(v).filter(|v| !v.is_empty())),
            single_view_mode: update.single_view_mode,
            is_active: update.is_active,
            password_hash,
            may_remove_last_admin: false,
        };
        if patch.is_empty() {
            return Err(Error::NoUpdates);
        }
        let (user, changes) = self.store.update_user(id, patch, self.now(), None).await?;
        let target = Party::from(&user);
        if let Some((old, new)) = changes.role {
            let details = json!({"old_role": old, "new_role": new});
            self.audit(AuditAction::RoleChanged, actor, &target, client, details)
                .await;
        }
        if changes.password {
            self.audit(
                AuditAction::PasswordChanged,
                actor,
                &target,
                client,
                json!({}),
            )
            .await;
        }
        if !changes.fields.is_empty() {
            let details =
                json!({"fields": changes.fields, "sessions_revoked": changes.revokes_sessions()});
            self.audit(AuditAction::UserUpdated, actor, &target, client, details)
                .await;
        }
        Ok(user)
    }

    /// Deletes user `id` with their sessions and API keys; the audit trail stays. Nobody deletes
    /// their own account.
    pub async fn delete_user(&self, id: Uuid, actor: &Party, client: &ClientMeta) -> Result<User> {
        if actor.id == Some(id) {
            return Err(Error::CannotDeleteSelf);
        }
        let user = self.store.delete_user(id).await?;
        self.audit(
            AuditAction::UserDeleted,
            actor,
            &Party::from(&user),
            client,
            json!({"role": user.role}),
        )
        .await;
        Ok(user)
    }

    /// Changes `me`'s own password after checking the current one (throttled like logins, so a
    /// stolen session cannot guess it). `me`'s other sessions end; `keep_session` stays.
    pub async fn change_password(
        &self,
        me: &User,
        current_password: String,
        new_password: String,
        keep_session: Option<Uuid>,
        client: &ClientMeta,
    ) -> Result<()> {
        // Signed in, the caller is who the session says: failures count against their name
        // only. An address locked by someone else's login attempts (a shared NAT, say) must
        // not stop them from changing their password.
        let keys = throttle::keys(&me.username, &ClientMeta::default());
        self.check_throttle(&keys).await?;
        let creds = self.store.get_credentials(me.id).await?;
        if self
            .passwords
            .verify(current_password, creds.password_hash)
            .await
            == Verified::No
        {
            self.record_failure(&keys).await;
            return Err(Error::InvalidCurrentPassword);
        }
        check_password_policy(&new_password, &me.username)?;
        let hash = self.passwords.hash(new_password).await?;
        let patch = UserPatch {
            password_hash: Some(hash),
            ..UserPatch::default()
        };
        self.store
            .update_user(me.id, patch, self.now(), keep_session)
            .await?;
        let me_party = Party::from(me);
        self.audit(
            AuditAction::PasswordChanged,
            &me_party,
            &me_party,
            client,
            json!({"self": true}),
        )
        .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use domain::{AuditFilter, PageRequest};

    use super::*;
    use crate::identity::{LoginRequest, PasswordCost, Settings};

    const PASSWORD: &str = "correct-stapler-orbit-42";

    fn identity(db: &testsupport::TestDb) -> Identity {
        let settings = Settings {
            password_cost: PasswordCost::Fast,
            ..Settings::default()
        };
        Identity::new(db.store.clone(), settings)
    }

    /// What the command line does: no HTTP state and no event bus, yet the audit entry is
    /// written with its bus event in the outbox, for a running server's relay to publish.
    #[tokio::test]
    async fn provisioning_is_audited_through_the_outbox_without_a_bus() {
        let db = testsupport::TestDb::sqlite().await;
        let identity = identity(&db);
        let backlog = db.store.outbox_backlog().await.expect("backlog");
        let user = identity
            .provision("carol", PASSWORD.into(), Role::Editor, "command line")
            .await
            .expect("provision");
        assert_eq!((user.role, user.created_by), (Role::Editor, None));
        let page = PageRequest::new(None, None).expect("page");
        let trail = db
            .store
            .list_audit(&AuditFilter::default(), page)
            .await
            .expect("audit");
        let entry = &trail.items[0];
        assert_eq!(entry.action, AuditAction::UserCreated);
        assert_eq!(entry.actor_name.as_deref(), Some("command line"));
        assert_eq!(entry.target_id, Some(user.id));
        assert_eq!(entry.details["via"], "command line");
        assert_eq!(
            db.store.outbox_backlog().await.expect("backlog"),
            backlog + 1
        );

        let weak = identity
            .provision("dave", "admin123".into(), Role::Admin, "command line")
            .await;
        assert!(matches!(weak, Err(Error::Invalid(e)) if e.field == "password"));
        let taken = identity
            .provision("CAROL", PASSWORD.into(), Role::Viewer, "command line")
            .await;
        assert!(matches!(
            taken,
            Err(Error::Store(storage::StoreError::UsernameTaken(_)))
        ));
    }

    #[tokio::test]
    async fn a_login_starts_a_session_its_token_finds() {
        let db = testsupport::TestDb::sqlite().await;
        let identity = identity(&db);
        identity
            .provision("erin", PASSWORD.into(), Role::Viewer, "test")
            .await
            .expect("provision");
        let attempt = |password: &str, remember_me| LoginRequest {
            username: "ERIN".into(),
            password: password.into(),
            remember_me,
            ..LoginRequest::default()
        };
        let client = ClientMeta::default();
        let wrong = identity
            .login(attempt("wrong-password-1", false), &client)
            .await;
        assert!(matches!(wrong, Err(Error::InvalidCredentials)));
        let crate::identity::LoginOutcome::SignedIn(login) = identity
            .login(attempt(PASSWORD, true), &client)
            .await
            .expect("login")
        else {
            panic!("no second factor set up");
        };
        assert_eq!(login.user.username, "erin");
        assert_eq!(login.keep_for(), Some(crate::identity::REMEMBER_ME_TTL));
        let found = identity
            .session_by_token(&login.token)
            .await
            .expect("lookup")
            .expect("live session");
        assert_eq!(found.session.id, login.session.id);
        assert!(!found.extended, "just created: nothing to slide yet");
        assert!(
            identity
                .session_by_token("not-a-token")
                .await
                .expect("lookup")
                .is_none()
        );
    }
}
