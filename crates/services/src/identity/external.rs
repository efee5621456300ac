//! Sign-in through another system: a forward-auth proxy's headers or an OpenID provider's
//! tokens name a person; this finds (or links, or creates) their account and sets its role from
//! the groups the provider reports.
//!
//! Accounts are found by the provider's subject. A subject seen for the first time is linked to
//! the local account of the same username when that is allowed (see [`ExternalPolicy`]), else
//! gets a new account when just-in-time creation is on, else is refused. The role follows the
//! groups at every sign-in: out of the admin group, out of admin. Links, new accounts, role
//! changes, refusals and sign-ins (the first request after a day away, for a proxy that signs
//! every request) are audited.

use domain::{AuditAction, ExternalIdentity, NewUser, Role, RoleMapping, User, UserPatch};
use serde_json::json;
use storage::StoreError;

use super::{ClientMeta, Error, Identity, Party, Result, SESSION_TTL, TOUCH_INTERVAL};

/// Stored as the password hash of accounts made for outside identities: not a hash of
/// anything, so no password ever matches it.
pub const NO_PASSWORD: &str = "!external";

/// Who a provider says is signing in.
#[derive(Debug, Clone)]
pub struct ExternalLogin {
    /// `forward-auth`, or the OpenID provider's configured name.
    pub provider: String,
    /// The provider's stable name for the person.
    pub subject: String,
    /// The username a new account gets (and a local account of this name may be linked).
    pub username: String,
    pub email: Option<String>,
    pub groups: Vec<String>,
    /// How they came, for the audit trail: `forward_auth`, `oidc`.
    pub method: &'static str,
    /// The person signed in at the provider just now (OpenID Connect): every arrival is a
    /// sign-in, which the caller audits with the session it starts. `false` for forward-auth,
    /// whose headers come with every request (a sign-in is the first after a day away).
    pub interactive: bool,
}

/// What sign-in through providers may do.
#[derive(Debug, Clone)]
pub struct ExternalPolicy {
    pub roles: RoleMapping,
    /// Create an account for an identity seen for the first time (just in time).
    pub create_users: bool,
    /// Link an identity seen for the first time to the local account of the same username.
    /// Unset: forward-auth does (the proxy's `Remote-User` *is* the name, by design), OpenID
    /// Connect does not (a username claim is not unique, OIDC Core 5.7: anyone may pick
    /// `admin` at the provider).
    pub link_by_username: Option<bool>,
}

impl ExternalPolicy {
    /// Whether a first sight through `method` may be linked to a same-named account.
    fn links_by_name(&self, method: &str) -> bool {
        self.link_by_username.unwrap_or(method == FORWARD_AUTH)
    }
}

impl Default for ExternalPolicy {
    fn default() -> Self {
        ExternalPolicy {
            roles: RoleMapping::default(),
            create_users: true,
            link_by_username: None,
        }
    }
}

/// [`ExternalLogin::method`] of a forward-auth proxy's sign-in.
pub const FORWARD_AUTH: &str = "forward_auth";

/// The account behind an outside identity, with the role its groups give now.
#[derive(Debug, Clone)]
pub struct ExternalUser {
    pub user: User,
    /// This request began a sign-in (a new link, or the first sight after a day away).
    pub signed_in: bool,
}

impl Identity {
    /// The account `login` names, linked or created as `policy` allows, its role set from the
    /// groups. Refusals ([`Error::NotInAllowedGroup`], [`Error::NoLinkedAccount`],
    /// [`Error::AccountDisabled`]) are audited.
    pub async fn external_user(
        &self,
        login: ExternalLogin,
        policy: &ExternalPolicy,
        client: &ClientMeta,
    ) -> Result<ExternalUser> {
        let who = Party::named(
            login
                .username
                .chars()
                .take(domain::USERNAME_MAX)
                .collect::<String>(),
        );
        let subject = domain::validate_subject(&login.subject)?;
        let Some(role) = policy.roles.role_for(&login.groups) else {
            self.refused(&login, &who, client, "not in an allowed group")
                .await;
            return Err(Error::NotInAllowedGroup);
        };
        let now = self.now();
        let (link, mut user, linked) = match self
            .store
            .find_external_identity(&login.provider, &subject)
            .await?
        {
            Some((link, user)) => (link, user, false),
            None => {
                let link = ExternalIdentity {
                    provider: login.provider.clone(),
                    subject: subject.clone(),
                    user_id: uuid::Uuid::nil(),
                    email: login.email.clone(),
                    created_at: now,
                    last_seen_at: now,
                };
                match self
                    .link_or_create(&login, link, role, policy, client)
                    .await?
                {
                    Some((link, user)) => (link, user, true),
                    None => {
                        self.refused(&login, &who, client, "no linked account")
                            .await;
                        return Err(Error::NoLinkedAccount {
                            username: login.username,
                        });
                    }
                }
            }
        };
        if !user.is_active {
            self.refused(&login, &Party::from(&user), client, "account disabled")
                .await;
            return Err(Error::AccountDisabled);
        }
        if user.role != role {
            self.follow_groups(&mut user, role, &login, client).await;
        }
        let away = now - link.last_seen_at;
        let signed_in = login.interactive || linked || away >= SESSION_TTL;
        if !linked && away >= TOUCH_INTERVAL {
            let email = login.email.as_deref();
            if let Err(e) = self
                .store
                .touch_external_identity(&login.provider, &subject, email, now)
                .await
            {
                tracing::warn!(error = %e, "could not record a sign-in through a provider");
            }
        }
        if signed_in {
            match self
                .store
                .record_login(user.id, now, storage::LoginUpdate::default())
                .await
            {
                Ok(stored) => user.last_login = stored.last_login,
                Err(e) => tracing::warn!(error = %e, "could not record a sign-in"),
            }
            if !login.interactive {
                let party = Party::from(&user);
                self.audit(
                    AuditAction::LoginSuccess,
                    &party,
                    &party,
                    client,
                    json!({"method": login.method, "provider": login.provider}),
                )
                .await;
            }
        }
        Ok(ExternalUser { user, signed_in })
    }

    /// A first sight of `link`'s subject: links the same-named local account, or creates one.
    /// `None` when neither is allowed.
    async fn link_or_create(
        &self,
        login: &ExternalLogin,
        link: ExternalIdentity,
        role: Role,
        policy: &ExternalPolicy,
        client: &ClientMeta,
    ) -> Result<Option<(ExternalIdentity, User)>> {
        // Twice at most: a concurrent first request may link or create between our steps.
        let by_name = policy.links_by_name(login.method);
        for _ in 0..2 {
            if let Some(user) = self.find_user(&login.username).await? {
                if !by_name || !self.may_link_by_name(&user, login) {
                    return Ok(None);
                }
                // Checked before linking: a refused sign-in leaves no link behind.
                if !user.is_active {
                    self.refused(login, &Party::from(&user), client, "account disabled")
                        .await;
                    return Err(Error::AccountDisabled);
                }
                let link = ExternalIdentity {
                    user_id: user.id,
                    ..link.clone()
                };
                if self.store.link_external_identity(&link).await? {
                    self.audit_link(&user, login, client).await;
                }
                return self.linked(login, &link.subject).await.map(Some);
            }
            if !policy.create_users {
                return Ok(None);
            }
            let new = NewUser {
                username: domain::validate_username(&login.username)?,
                password_hash: NO_PASSWORD.to_owned(),
                role,
                default_view: None,
                single_view_mode: false,
                created_by: None,
            };
            match self
                .store
                .create_external_user(new, &link, self.now())
                .await
            {
                Ok(Some(user)) => {
                    let party = Party::from(&user);
                    let via = format!("{} sign-in", login.method);
                    self.audit(
                        AuditAction::UserCreated,
                        &party,
                        &party,
                        client,
                        json!({"role": user.role, "via": via, "provider": login.provider}),
                    )
                    .await;
                    self.audit_link(&user, login, client).await;
                    let link = ExternalIdentity {
                        user_id: user.id,
                        ..link
                    };
                    return Ok(Some((link, user)));
                }
                Ok(None) => return self.linked(login, &link.subject).await.map(Some),
                // Made meanwhile under this name: the next pass links it, if allowed.
                Err(StoreError::UsernameTaken(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    /// Linking by name never hands an OpenID provider's user a break-glass account or an admin:
    /// either would let whoever picks that name at the provider set its role. Forward-auth's
    /// proxy names users by design, so it links any account of the name.
    fn may_link_by_name(&self, user: &User, login: &ExternalLogin) -> bool {
        if login.method == FORWARD_AUTH {
            return true;
        }
        let break_glass = self
            .break_glass
            .contains(&domain::username_key(&user.username));
        if break_glass || user.role == Role::Admin {
            tracing::warn!(
                username = %user.username,
                provider = %login.provider,
                "not linking a provider's user to a break-glass or admin account by name"
            );
            return false;
        }
        true
    }

    async fn linked(
        &self,
        login: &ExternalLogin,
        subject: &str,
    ) -> Result<(ExternalIdentity, User)> {
        self.store
            .find_external_identity(&login.provider, subject)
            .await?
            .ok_or_else(|| Error::Internal("a new link to a provider vanished".into()))
    }

    async fn audit_link(&self, user: &User, login: &ExternalLogin, client: &ClientMeta) {
        let party = Party::from(user);
        self.audit(
            AuditAction::IdentityLinked,
            &party,
            &party,
            client,
            json!({"provider": login.provider, "subject": login.subject, "method": login.method}),
        )
        .await;
    }

    /// Sets the account's role to what its groups give now — even for the last active admin:
    /// the provider decides who is an admin, and the break-glass local admin (or
    /// `taylordash user` on the server) is the way back. That case is audited as such. Should
    /// the store fail, this request still gets only the groups' role.
    async fn follow_groups(
        &self,
        user: &mut User,
        role: Role,
        login: &ExternalLogin,
        client: &ClientMeta,
    ) {
        let from = user.role;
        let patch = UserPatch {
            role: Some(role),
            may_remove_last_admin: true,
            ..UserPatch::default()
        };
        let was_last_admin = from == Role::Admin
            && user.is_active
            && matches!(self.store.count_active_admins().await, Ok(1));
        match self
            .store
            .update_user(user.id, patch, self.now(), None)
            .await
        {
            Ok((stored, _)) => {
                *user = stored;
                let party = Party::from(&*user);
                let mut details = json!({
                    "from": from, "to": role, "via": login.method, "groups": login.groups,
                });
                if was_last_admin && role != Role::Admin {
                    tracing::warn!(
                        user = %user.username,
                        "the last admin left the provider's admin group: no admin remains \
                         (sign in with the break-glass admin, or `taylordash user` on the server)"
                    );
                    details["last_admin"] = json!(true);
                }
                self.audit(
                    AuditAction::RoleChanged,
                    &Party::named(format!("{} groups", login.provider)),
                    &party,
                    client,
                    details,
                )
                .await;
            }
            Err(e) => {
                tracing::warn!(error = %e, user = %user.username, "could not follow a provider's groups");
                user.role = role;
            }
        }
    }

    async fn refused(&self, login: &ExternalLogin, target: &Party, client: &ClientMeta, why: &str) {
        self.audit(
            AuditAction::LoginFailed,
            &Party::named(
                login
                    .username
                    .chars()
                    .take(domain::USERNAME_MAX)
                    .collect::<String>(),
            ),
            target,
            client,
            json!({"method": login.method, "provider": login.provider, "reason": why}),
        )
        .await;
    }
}
