//! The login throttle: failed attempts count against the username and the client address;
//! while either counter is locked, logins (and checks of your current password) are refused.

use domain::{throttle_key_for_address, throttle_key_for_username};

use super::{ClientMeta, Error, Identity, Result};

/// The throttle counters an attempt counts against: the username, and the client address when
/// known.
pub(crate) fn keys(username: &str, client: &ClientMeta) -> Vec<String> {
    // Normalised exactly as the account lookup does (trimmed, case-folded) before anything
    // else: capping first let padded spellings of one name count as different names. Longer
    // names cannot exist; capping keeps the key short whatever a client sends.
    let name: String = domain::username_key(username)
        .chars()
        .take(domain::USERNAME_MAX + 1)
        .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_and_recased_names_share_one_throttle_key() {
        let client = ClientMeta::default();
        let plain = keys("vic", &client);
        for padded in [
            format!("{}vic", " ".repeat(60)),
            format!("{}VIC\t", "\t".repeat(64)),
            format!("vic{}", " ".repeat(100)),
        ] {
            assert_eq!(keys(&padded, &client), plain, "{padded:?}");
        }
        assert_ne!(keys("vicky", &client), plain);
    }
}
