//! ID tokens (signed JWTs, RFC 7515/7519): the signature checked against the provider's keys
//! (JWKS, RFC 7517) with ring — RS256 and ES256 — and the claims an OpenID relying party must
//! check: issuer, audience (and authorized party), expiry and issue time with a small leeway,
//! and the nonce of the sign-in that asked for the token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Clock difference tolerated between the provider and this server.
pub const LEEWAY_SECONDS: i64 = 60;

/// Why an ID token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWS, a signature that does not match, an algorithm we do not accept.
    #[error("the sign-in provider's ID token is malformed or its signature is wrong ({0})")]
    Invalid(String),
    /// No key of the provider has the token's key id, even after fetching the keys again.
    #[error("the ID token is signed with a key the provider does not publish ({0})")]
    UnknownKey(String),
    #[error("the ID token was issued by '{0}', not by the configured provider")]
    WrongIssuer(String),
    #[error("the ID token is meant for another client (audience {0}), not for TaylorDash")]
    WrongAudience(String),
    #[error("the ID token has expired (or was issued in the future); check the clocks")]
    Expired,
    #[error("the ID token does not answer this sign-in (nonce mismatch): it was replayed")]
    NonceMismatch,
    #[error("the ID token lacks the claim '{0}'")]
    MissingClaim(&'static str),
}

/// A public key of the provider, as its JWKS lists it.
#[derive(Debug, Clone)]
pub struct Jwk {
    pub kid: Option<String>,
    pub key: PublicKey,
}

#[derive(Debug, Clone)]
pub enum PublicKey {
    /// RSA modulus and exponent (big-endian bytes).
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// P-256 point, uncompressed (`04 || x || y`).
    P256(Vec<u8>),
}

impl PublicKey {
    fn fits(&self, alg: &str) -> bool {
        matches!(
            (self, alg),
            (PublicKey::Rsa { .. }, "RS256") | (PublicKey::P256(_), "ES256")
        )
    }
}

/// Parses a JWKS document, keeping the RSA and P-256 signing keys it has (others are skipped).
pub fn parse_jwks(doc: &Value) -> Result<Vec<Jwk>, String> {
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("the key set has no 'keys' list")?;
    let mut out = Vec::new();
    for k in keys {
        if k.get("use")
            .and_then(Value::as_str)
            .is_some_and(|u| u != "sig")
        {
            continue;
        }
        let field = |name: &str| -> Option<Vec<u8>> {
            k.get(name)
                .and_then(Value::as_str)
                .and_then(|s| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
        };
        let key = match k.get("kty").and_then(Value::as_str) {
            Some("RSA") => match (field("n"), field("e")) {
                (Some(n), Some(e)) => PublicKey::Rsa { n, e },
                _ => continue,
            },
            Some("EC") if k.get("crv").and_then(Value::as_str) == Some("P-256") => {
                match (field("x"), field("y")) {
                    (Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => {
                        let mut point = Vec::with_capacity(65);
                        point.push(4);
                        point.extend_from_slice(&x);
                        point.extend_from_slice(&y);
                        PublicKey::P256(point)
                    }
                    _ => continue,
                }
            }
            _ => continue,
        };
        out.push(Jwk {
            kid: k.get("kid").and_then(Value::as_str).map(str::to_owned),
            key,
        });
    }
    Ok(out)
}

/// A JWS split into its parts, not yet verified.
#[derive(Debug)]
pub struct Unverified<'a> {
    pub alg: String,
    pub kid: Option<String>,
    signed: &'a str,
    signature: Vec<u8>,
    payload: Vec<u8>,
}

/// Splits a compact JWS and reads its header.
pub fn split(token: &str) -> Result<Unverified<'_>, TokenError> {
    let bad = |why: &str| TokenError::Invalid(why.to_owned());
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("not three dot-separated parts"));
    };
    let header: Value = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| bad("unreadable header"))?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no algorithm"))?
        .to_owned();
    if alg != "RS256" && alg != "ES256" {
        return Err(TokenError::Invalid(format!(
            "algorithm {alg} is not accepted"
        )));
    }
    Ok(Unverified {
        alg,
        kid: header.get("kid").and_then(Value::as_str).map(str::to_owned),
        signed: &token[..h.len() + 1 + p.len()],
        signature: URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| bad("unreadable signature"))?,
        payload: URL_SAFE_NO_PAD
            .decode(p)
            .map_err(|_| bad("unreadable payload"))?,
    })
}

impl Unverified<'_> {
    /// The key among `keys` this token names (by kid, or the only key of its type), if any.
    pub fn key<'k>(&self, keys: &'k [Jwk]) -> Option<&'k Jwk> {
        let fitting = keys.iter().filter(|k| k.key.fits(&self.alg));
        match &self.kid {
            Some(kid) => fitting.into_iter().find(|k| k.kid.as_deref() == Some(kid)),
            None => {
                let all: Vec<_> = fitting.collect();
                (all.len() == 1).then(|| all[0])
            }
        }
    }

    /// Checks the signature with `key`; the claims on success.
    pub fn verify(self, key: &Jwk) -> Result<Map<String, Value>, TokenError> {
        use ring::signature;
        let msg = self.signed.as_bytes();
        let ok = match &key.key {
            PublicKey::Rsa { n, e } if self.alg == "RS256" => signature::RsaPublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            }
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, &self.signature)
            .is_ok(),
            PublicKey::P256(point) if self.alg == "ES256" => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(msg, &self.signature)
                    .is_ok()
            }
            _ => false,
        };
        if !ok {
            return Err(TokenError::Invalid("the signature does not match".into()));
        }
        match serde_json::from_slice(&self.payload) {
            Ok(Value::Object(claims)) => Ok(claims),
            _ => Err(TokenError::Invalid(
                "the payload is not a JSON object".into(),
            )),
        }
    }
}

/// What the claims must say.
#[derive(Debug)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now: DateTime<Utc>,
}

/// Checks issuer, audience, authorized party, expiry, issue time and nonce.
pub fn check_claims(claims: &Map<String, Value>, want: &Expected<'_>) -> Result<(), TokenError> {
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or(TokenError::MissingClaim("iss"))?;
    if iss != want.issuer {
        return Err(TokenError::WrongIssuer(iss.to_owned()));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => return Err(TokenError::MissingClaim("aud")),
    };
    if !audiences.contains(&want.client_id) {
        return Err(TokenError::WrongAudience(audiences.join(", ")));
    }
    if let Some(azp) = claims.get("azp").and_then(Value::as_str)
        && azp != want.client_id
    {
        return Err(TokenError::WrongAudience(format!("authorized party {azp}")));
    }
    let now = want.now.timestamp();
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(TokenError::MissingClaim("exp"))?;
    if exp + LEEWAY_SECONDS <= now {
        return Err(TokenError::Expired);
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(TokenError::MissingClaim("iat"))?;
    if iat - LEEWAY_SECONDS > now {
        return Err(TokenError::Expired);
    }
    let nonce = claims.get("nonce").and_then(Value::as_str);
    let same = nonce
        .is_some_and(|n| subtle::ConstantTimeEq::ct_eq(n.as_bytes(), want.nonce.as_bytes()).into());
    if !same {
        return Err(TokenError::NonceMismatch);
    }
    match claims.get("sub").and_then(Value::as_str) {
        Some(s) if !s.is_empty() => Ok(()),
        _ => Err(TokenError::MissingClaim("sub")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn claims_are_checked_in_turn() {
        let now = Utc::now();
        let t = now.timestamp();
        let want = Expected {
            issuer: "https://op",
            client_id: "td",
            nonce: "n1",
            now,
        };
        let good = json!({"iss": "https://op", "aud": ["td", "x"], "azp": "td", "exp": t + 60,
            "iat": t, "nonce": "n1", "sub": "s"});
        assert_eq!(check_claims(&claims(good.clone()), &want), Ok(()));
        let with = |k: &str, v: Value| {
            let mut c = claims(good.clone());
            c.insert(k.into(), v);
            check_claims(&c, &want)
        };
        assert!(matches!(
            with("iss", json!("https://evil")),
            Err(TokenError::WrongIssuer(_))
        ));
        assert!(matches!(
            with("aud", json!("other")),
            Err(TokenError::WrongAudience(_))
        ));
        assert!(matches!(
            with("azp", json!("other")),
            Err(TokenError::WrongAudience(_))
        ));
        assert_eq!(with("exp", json!(t - 61)), Err(TokenError::Expired));
        assert_eq!(with("exp", json!(t - 30)), Ok(()), "within the leeway");
        assert_eq!(with("iat", json!(t + 120)), Err(TokenError::Expired));
        assert_eq!(with("nonce", json!("n2")), Err(TokenError::NonceMismatch));
        assert_eq!(with("sub", json!("")), Err(TokenError::MissingClaim("sub")));
    }

    #[test]
    fn only_rs256_and_es256_are_accepted() {
        let enc = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        for alg in ["none", "HS256", "RS512"] {
            let token = format!("{}.{}.", enc(json!({"alg": alg})), enc(json!({})));
            assert!(
                matches!(split(&token), Err(TokenError::Invalid(_))),
                "{alg}"
            );
        }
        assert!(split("a.b").is_err());
    }
}
