//! Password hashing: argon2id for every new hash; v1's bcrypt hashes still verify (and are
//! replaced by argon2id at the next successful login). Hashing is CPU-heavy by design, so it
//! runs on the blocking thread pool, never on the async workers.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier, Version};

use super::{Error, Result};

/// How expensive new hashes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCost {
    /// argon2id, 19 MiB, 2 passes, 1 lane (OWASP's recommendation).
    Standard,
    /// The cheapest argon2id parameters: for tests only.
    Fast,
}

impl PasswordCost {
    fn params(self) -> Params {
        match self {
            PasswordCost::Standard => Params::DEFAULT,
            PasswordCost::Fast => {
                Params::new(Params::MIN_M_COST, 1, 1, None).unwrap_or(Params::DEFAULT)
            }
        }
    }

    fn hasher(self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params())
    }
}

/// The outcome of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but stored as bcrypt or with other argon2 parameters: store a fresh hash.
    YesNeedsRehash,
}

impl Verified {
    pub fn ok(self) -> bool {
        self != Verified::No
    }
}

/// The password hasher of a service: new hashes at one cost, and the hash verified for
/// unknown usernames so that a login takes as long whether or not the user exists.
#[derive(Debug)]
pub struct PasswordHasher {
    cost: PasswordCost,
    /// Made once, with the current parameters, on the first login for an unknown name.
    dummy_hash: tokio::sync::OnceCell<String>,
}

impl PasswordHasher {
    pub fn new(cost: PasswordCost) -> PasswordHasher {
        PasswordHasher {
            cost,
            dummy_hash: tokio::sync::OnceCell::new(),
        }
    }

    /// Hashes `password` with argon2id on the blocking pool.
    pub async fn hash(&self, password: String) -> Result<String> {
        let cost = self.cost;
        tokio::task::spawn_blocking(move || hash_blocking(&password, cost))
            .await
            .map_err(Error::internal)?
    }

    /// Checks `password` against a stored argon2id or bcrypt hash on the blocking pool. A hash
    /// that cannot be parsed never verifies.
    pub async fn verify(&self, password: String, stored: String) -> Verified {
        let cost = self.cost;
        tokio::task::spawn_blocking(move || verify_blocking(&password, &stored, cost))
            .await
            .unwrap_or(Verified::No)
    }

    /// Spends the time of a real check on a password for a user that does not exist.
    pub async fn verify_nobody(&self, password: String) -> Result<()> {
        let dummy = self
            .dummy_hash
            .get_or_try_init(|| async {
                let filler = super::token::random_token().map_err(Error::internal)?;
                self.hash(filler).await
            })
            .await?
            .clone();
        self.verify(password, dummy).await;
        Ok(())
    }
}

/// Hashes `password` with argon2id, on the calling thread.
pub fn hash_blocking(password: &str, cost: PasswordCost) -> Result<String> {
    cost.hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
}

/// [`PasswordHasher::verify`] on the calling thread.
pub fn verify_blocking(password: &str, stored: &str, cost: PasswordCost) -> Verified {
    if is_bcrypt(stored) {
        // bcrypt only reads the first 72 bytes; v1 had the same limit, so imported hashes
        // still match what their users type.
        return match bcrypt::verify(password, stored) {
            Ok(true) => Verified::YesNeedsRehash,
            _ => Verified::No,
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verified::No;
    };
    if cost
        .hasher()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Verified::No;
    }
    let current = cost.params();
    let same = parsed.algorithm.as_str() == "argon2id"
        && Params::try_from(&parsed).is_ok_and(|p| {
            p.m_cost() == current.m_cost()
                && p.t_cost() == current.t_cost()
                && p.p_cost() == current.p_cost()
        });
    if same {
        Verified::Yes
    } else {
        Verified::YesNeedsRehash
    }
}

/// v1 stored bcrypt hashes (`$2b$12$...`).
pub fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2x$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let h = hash_blocking("plinth-otter-harbour", PasswordCost::Fast).unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert_eq!(
            verify_blocking("plinth-otter-harbour", &h, PasswordCost::Fast),
            Verified::Yes
        );
        assert_eq!(
            verify_blocking("plinth-otter-harbouR", &h, PasswordCost::Fast),
            Verified::No
        );
        // Stronger parameters are wanted now: the old hash still verifies, and asks for a rehash.
        assert_eq!(
            verify_blocking("plinth-otter-harbour", &h, PasswordCost::Standard),
            Verified::YesNeedsRehash
        );
        assert_eq!(
            verify_blocking("x", "garbage", PasswordCost::Fast),
            Verified::No
        );
    }

    #[test]
    fn v1_bcrypt_hashes_verify_and_ask_for_a_rehash() {
        let v1 = bcrypt::hash("admin123-but-longer", 4).unwrap();
        assert!(is_bcrypt(&v1));
        assert_eq!(
            verify_blocking("admin123-but-longer", &v1, PasswordCost::Fast),
            Verified::YesNeedsRehash
        );
        assert_eq!(
            verify_blocking("admin124-but-longer", &v1, PasswordCost::Fast),
            Verified::No
        );
    }
}
