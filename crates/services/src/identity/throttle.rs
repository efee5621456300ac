//! The login throttle: failed attempts count against the username and the client address;
//! while either counter is locked, logins (and checks of your current password) are refused.

use domain::{throttle_key_for_address, throttle_key_for_username};

use super::{ClientMeta, Error, Identity, Result};

/// The throttle counters an attempt counts against: the username, and the client address when
/// known.
pub(crate) fn keys(username: &str, client: &ClientMeta) -> Vec<String> {
    // Longer names cannot exist; capping keeps the key short whatever a client sends.
    let name: String = username.chars().take(domain::USERNAME_MAX + 1).collect();
    let mut keys = vec![throttle_key_for_username(&name)];
    if let Some(ip) = client.ip {
        keys.push(throttle_key_for_address(ip));
    }
    keys
}

impl Identity {
    /// [`Error::TooManyAttempts`] while any of `keys` is locked.
    pub(crate) async fn check_throttle(&self, keys: &[String]) -> Result<()> {
        let now = self.now();
        if let Some(until) = self.store.throttle_locked_until(keys, now).await? {
            let secs = (until - now).num_seconds().max(1);
            return Err(Error::TooManyAttempts {
                retry_after: u64::try_from(secs).unwrap_or(1),
            });
        }
        Ok(())
    }

    /// Counts a failed attempt against every key.
    pub(crate) async fn record_failure(&self, keys: &[String]) {
        let now = self.now();
        for key in keys {
            let policy = if key.starts_with("ip:") {
                self.per_address
            } else {
                self.per_username
            };
            if let Err(e) = self.store.record_login_failure(key, policy, now).await {
                tracing::error!(error = %e, "could not count a failed login");
            }
        }
    }
}
