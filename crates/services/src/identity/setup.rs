//! First run without default credentials: while no admin exists, the service holds a one-time
//! random setup token (the server prints it in its log as a URL); presenting it creates the
//! first admin and logs them in. The token then stops working, and setup is refused once any
//! admin exists (however it was created).

use domain::{AuditAction, Role};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::token::{hash_token, random_token};
use super::{ClientMeta, Error, Identity, NewLogin, NewUserRequest, Party, Result};

impl Identity {
    /// Creates a new setup token (replacing any earlier one) and returns it; only its hash is
    /// kept.
    pub async fn issue_setup_token(&self) -> Result<String, getrandom::Error> {
        let token = random_token()?;
        *self.setup_token.lock().await = Some(hash_token(&token));
        Ok(token)
    }

    pub async fn setup_pending(&self) -> bool {
        self.setup_token.lock().await.is_some()
    }

    /// Whether first-run setup is needed: no active admin exists.
    pub async fn setup_required(&self) -> Result<bool> {
        Ok(self.store.count_active_admins().await? == 0)
    }

    /// Creates the first admin with the setup token `token`, and starts their session.
    pub async fn complete_setup(
        &self,
        token: &str,
        username: String,
        password: String,
        client: &ClientMeta,
    ) -> Result<NewLogin> {
        // Held until the admin exists, so two attempts with the token cannot both succeed.
        let mut pending = self.setup_token.lock().await;
        let valid = pending
            .as_deref()
            .is_some_and(|h| bool::from(h.as_bytes().ct_eq(hash_token(token).as_bytes())));
        if !valid {
            return Err(Error::InvalidSetupToken);
        }
        let new = self
            .new_user(NewUserRequest::plain(username, password, Role::Admin), None)
            .await?;
        let created = self.store.create_first_admin(new, self.now()).await;
        let user = match created {
            Ok(user) => user,
            Err(e) => {
                if matches!(e, storage::StoreError::AdminExists) {
                    *pending = None;
                }
                return Err(e.into());
            }
        };
        *pending = None;
        drop(pending);
        let admin = Party::from(&user);
        self.audit(
            AuditAction::SetupTokenUsed,
            &admin,
            &admin,
            client,
            json!({}),
        )
        .await;
        self.audit(
            AuditAction::UserCreated,
            &admin,
            &admin,
            client,
            json!({"role": user.role, "via": "setup"}),
        )
        .await;
        self.start_session(user, false, domain::SignInMethod::Password, client)
            .await
    }
}
