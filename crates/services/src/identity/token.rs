//! Random secrets (session tokens, API keys, the setup token) and their stored form.
//!
//! Tokens are 256 random bits; the database keeps only their SHA-256 (hex). A fast hash is
//! enough here — unlike passwords, a 256-bit random value cannot be guessed from its hash.

use sha2::{Digest, Sha256};

/// Personal API keys start with this, so a key is recognizable (in a secret scanner, or when
/// deciding how to look up a bearer token).
pub const API_KEY_PREFIX: &str = "tdk_";

/// 256 random bits from the operating system, hex encoded (64 characters).
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// A new personal API key: `tdk_` + 64 hex characters.
pub fn new_api_key() -> Result<String, getrandom::Error> {
    Ok(format!("{API_KEY_PREFIX}{}", random_token()?))
}

/// The stored form of a token: SHA-256, hex encoded.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The part of an API key shown in lists to recognize it (`tdk_1a2b3c4d`).
pub fn display_prefix(key: &str) -> String {
    key.chars().take(API_KEY_PREFIX.len() + 8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        let h = hash_token(&a);
        assert_eq!(h.len(), 64);
        assert_ne!(h, a);
        assert_eq!(h, hash_token(&a));
        let key = new_api_key().unwrap();
        assert!(key.starts_with("tdk_"));
        assert_eq!(display_prefix(&key).len(), 12);
    }
}
