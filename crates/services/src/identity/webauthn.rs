//! WebAuthn (passkeys) verification, the relying party's side: the client data, the
//! authenticator data, the credential's COSE public key and assertion signatures (ES256, RS256,
//! EdDSA with ring), and the little CBOR it takes to read them.
//!
//! Attestation is not verified: registration asks for none (`attestation: "none"`), as sites
//! without a list of approved authenticator models do; the public key is trusted because the
//! signed-in user registered it. Everything else the specification asks of a relying party is
//! checked here or by the caller (the challenge, stored server-side and used once).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// COSE algorithm identifiers offered at registration, most preferred first.
pub const ES256: i64 = -7;
pub const EDDSA: i64 = -8;
pub const RS256: i64 = -257;
pub const ALGORITHMS: [i64; 3] = [ES256, EDDSA, RS256];

/// Authenticator data flags.
const USER_PRESENT: u8 = 0x01;
const USER_VERIFIED: u8 = 0x04;
const ATTESTED_CREDENTIAL: u8 = 0x40;

/// Why a WebAuthn answer was refused. The text is for the person (the API's `detail`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebAuthnError {
    #[error("the passkey answer is malformed: {0}")]
    Malformed(String),
    #[error("the passkey answer is for another page ({0}), not this site")]
    WrongOrigin(String),
    #[error("the passkey answer is for another site (relying party id)")]
    WrongRelyingParty,
    #[error("the passkey answer is not of the expected kind ({0})")]
    WrongType(String),
    #[error("the authenticator did not confirm that a person was present")]
    NotPresent,
    #[error("the authenticator did not verify the person (PIN or biometrics)")]
    NotVerified,
    #[error(
        "this kind of passkey key (COSE algorithm {0}) is not supported; use ES256, EdDSA or RS256"
    )]
    UnsupportedAlgorithm(i64),
    #[error("the passkey's signature is wrong")]
    BadSignature,
}

fn malformed(what: impl Into<String>) -> WebAuthnError {
    WebAuthnError::Malformed(what.into())
}

/// base64url without padding (padding tolerated), as WebAuthn JSON carries binary.
pub fn b64(text: &str) -> Result<Vec<u8>, WebAuthnError> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| malformed("a field is not base64url"))
}

pub fn b64_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the browser says it signed (`clientDataJSON`), checked.
#[derive(Debug, Clone)]
pub struct ClientData {
    /// The challenge, base64url as the browser sent it.
    pub challenge: String,
    pub origin: String,
    /// SHA-256 of the raw JSON (what the assertion signs, after the authenticator data).
    pub hash: [u8; 32],
}

/// Parses `clientDataJSON` (base64url) and checks its type (`webauthn.create` or
/// `webauthn.get`) and origin (one of `origins`). The challenge is the caller's to look up.
pub fn client_data(
    encoded: &str,
    expected_type: &str,
    origins: &[String],
) -> Result<ClientData, WebAuthnError> {
    let raw = b64(encoded)?;
    let json: Value =
        serde_json::from_slice(&raw).map_err(|_| malformed("clientDataJSON is not JSON"))?;
    let text = |k: &str| json.get(k).and_then(Value::as_str);
    let kind = text("type").ok_or_else(|| malformed("clientDataJSON has no type"))?;
    if kind != expected_type {
        return Err(WebAuthnError::WrongType(kind.chars().take(40).collect()));
    }
    let challenge = text("challenge")
        .ok_or_else(|| malformed("clientDataJSON has no challenge"))?
        .to_owned();
    let origin = text("origin")
        .ok_or_else(|| malformed("clientDataJSON has no origin"))?
        .to_owned();
    if !origins.iter().any(|o| o.eq_ignore_ascii_case(&origin)) {
        return Err(WebAuthnError::WrongOrigin(
            origin.chars().take(200).collect(),
        ));
    }
    if json.get("crossOrigin").and_then(Value::as_bool) == Some(true) {
        return Err(WebAuthnError::WrongOrigin("a cross-origin frame".into()));
    }
    Ok(ClientData {
        challenge,
        origin,
        hash: Sha256::digest(&raw).into(),
    })
}

/// The authenticator data, parsed.
#[derive(Debug, Clone)]
pub struct AuthData {
    pub flags: u8,
    pub sign_count: u32,
    /// Registration only: the new credential's id and COSE public key (raw CBOR).
    pub credential: Option<(Vec<u8>, Vec<u8>)>,
}

impl AuthData {
    pub fn user_verified(&self) -> bool {
        self.flags & USER_VERIFIED != 0
    }
}

/// Parses authenticator data and checks the relying party id's hash and user presence (and
/// user verification when `need_uv`).
pub fn auth_data(raw: &[u8], rp_id: &str, need_uv: bool) -> Result<AuthData, WebAuthnError> {
    if raw.len() < 37 {
        return Err(malformed("authenticator data is too short"));
    }
    let rp_hash: [u8; 32] = Sha256::digest(rp_id.as_bytes()).into();
    if raw[..32] != rp_hash {
        return Err(WebAuthnError::WrongRelyingParty);
    }
    let flags = raw[32];
    if flags & USER_PRESENT == 0 {
        return Err(WebAuthnError::NotPresent);
    }
    if need_uv && flags & USER_VERIFIED == 0 {
        return Err(WebAuthnError::NotVerified);
    }
    let sign_count = u32::from_be_bytes([raw[33], raw[34], raw[35], raw[36]]);
    let credential = if flags & ATTESTED_CREDENTIAL != 0 {
        // aaguid (16), credential id length (2), credential id, COSE key (CBOR).
        let rest = &raw[37..];
        if rest.len() < 18 {
            return Err(malformed("attested credential data is too short"));
        }
        let len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
        let id = rest
            .get(18..18 + len)
            .ok_or_else(|| malformed("the credential id is cut short"))?;
        let key_bytes = &rest[18 + len..];
        let mut reader = cbor::Reader::new(key_bytes);
        reader.skip()?;
        let used = reader.position();
        Some((id.to_vec(), key_bytes[..used].to_vec()))
    } else {
        None
    };
    Ok(AuthData {
        flags,
        sign_count,
        credential,
    })
}

/// The authenticator data inside an `attestationObject` (base64url CBOR: `fmt`, `attStmt`,
/// `authData`). The statement is not verified (none is requested).
pub fn attestation_auth_data(encoded: &str) -> Result<Vec<u8>, WebAuthnError> {
    let raw = b64(encoded)?;
    let mut reader = cbor::Reader::new(&raw);
    let entries = reader.map_len()?;
    let mut auth = None;
    for _ in 0..entries {
        let key = reader.text()?;
        if key == "authData" {
            auth = Some(reader.bytes()?.to_vec());
        } else {
            reader.skip()?;
        }
    }
    auth.ok_or_else(|| malformed("attestationObject has no authData"))
}

/// A credential's public key, from its COSE form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// P-256, the uncompressed point (0x04 || x || y).
    Es256(Vec<u8>),
    Ed25519(Vec<u8>),
    Rs256 {
        n: Vec<u8>,
        e: Vec<u8>,
    },
}

impl PublicKey {
    /// Reads a COSE_Key (RFC 9053): EC2 P-256 with ES256, OKP Ed25519 with EdDSA, RSA with RS256.
    pub fn from_cose(raw: &[u8]) -> Result<(PublicKey, i64), WebAuthnError> {
        let mut reader = cbor::Reader::new(raw);
        let entries = reader.map_len()?;
        let (mut kty, mut alg, mut crv) = (None, None, None);
        let (mut x, mut y, mut n, mut e) = (None, None, None, None);
        for _ in 0..entries {
            let label = reader.int()?;
            match label {
                1 => kty = Some(reader.int()?),
                3 => alg = Some(reader.int()?),
                // -1 is the curve for EC2 and OKP keys, the modulus for RSA ones.
                -1 if kty == Some(3) => n = Some(reader.bytes()?.to_vec()),
                -1 => crv = Some(reader.int()?),
                -2 if kty == Some(3) => e = Some(reader.bytes()?.to_vec()),
                -2 => x = Some(reader.bytes()?.to_vec()),
                -3 => y = Some(reader.bytes()?.to_vec()),
                _ => reader.skip()?,
            }
        }
        let alg = alg.ok_or_else(|| malformed("the public key names no algorithm"))?;
        let key = match (kty, alg) {
            (Some(2), ES256) if crv == Some(1) => match (x, y) {
                (Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => {
                    let mut point = vec![0x04];
                    point.extend_from_slice(&x);
                    point.extend_from_slice(&y);
                    PublicKey::Es256(point)
                }
                _ => return Err(malformed("the P-256 key's coordinates are wrong")),
            },
            (Some(1), EDDSA) if crv == Some(6) => match x {
                Some(x) if x.len() == 32 => PublicKey::Ed25519(x),
                _ => return Err(malformed("the Ed25519 key is wrong")),
            },
            (Some(3), RS256) => match (n, e) {
                (Some(n), Some(e)) if n.len() >= 256 && !e.is_empty() => PublicKey::Rs256 { n, e },
                _ => return Err(malformed("the RSA key is wrong or shorter than 2048 bits")),
            },
            _ => return Err(WebAuthnError::UnsupportedAlgorithm(alg)),
        };
        Ok((key, alg))
    }

    /// Checks an assertion's signature over `auth_data || client_data_hash`.
    pub fn verify(
        &self,
        auth_data: &[u8],
        client_data_hash: &[u8; 32],
        signature: &[u8],
    ) -> Result<(), WebAuthnError> {
        use ring::signature as sig;
        let mut message = Vec::with_capacity(auth_data.len() + 32);
        message.extend_from_slice(auth_data);
        message.extend_from_slice(client_data_hash);
        let ok = match self {
            // WebAuthn's ECDSA signatures are ASN.1 DER (unlike JOSE's fixed form).
            PublicKey::Es256(point) => {
                sig::UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_ASN1, point)
                    .verify(&message, signature)
                    .is_ok()
            }
            PublicKey::Ed25519(x) => sig::UnparsedPublicKey::new(&sig::ED25519, x)
                .verify(&message, signature)
                .is_ok(),
            PublicKey::Rs256 { n, e } => sig::RsaPublicKeyComponents { n, e }
                .verify(&sig::RSA_PKCS1_2048_8192_SHA256, &message, signature)
                .is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(WebAuthnError::BadSignature)
        }
    }
}

/// A strict reader of the CBOR (RFC 8949) WebAuthn uses: definite lengths only, nesting and
/// sizes bounded by the input, never a panic on hostile bytes.
pub mod cbor {
    use super::{WebAuthnError, malformed};

    /// Deepest nesting accepted (WebAuthn's structures nest three levels).
    const MAX_DEPTH: usize = 16;

    pub struct Reader<'a> {
        data: &'a [u8],
        pos: usize,
    }

    impl<'a> Reader<'a> {
        pub fn new(data: &'a [u8]) -> Reader<'a> {
            Reader { data, pos: 0 }
        }

        /// Bytes consumed so far.
        pub fn position(&self) -> usize {
            self.pos
        }

        fn byte(&mut self) -> Result<u8, WebAuthnError> {
            let b = *self
                .data
                .get(self.pos)
                .ok_or_else(|| malformed("CBOR cut short"))?;
            self.pos += 1;
            Ok(b)
        }

        fn take(&mut self, n: u64) -> Result<&'a [u8], WebAuthnError> {
            let n = usize::try_from(n).map_err(|_| malformed("CBOR length too large"))?;
            let end = self
                .pos
                .checked_add(n)
                .filter(|&end| end <= self.data.len())
                .ok_or_else(|| malformed("CBOR cut short"))?;
            let out = &self.data[self.pos..end];
            self.pos = end;
            Ok(out)
        }

        /// A data item's major type and argument.
        fn head(&mut self) -> Result<(u8, u64), WebAuthnError> {
            let initial = self.byte()?;
            let major = initial >> 5;
            let info = initial & 0x1f;
            let arg = match info {
                0..=23 => u64::from(info),
                24 => u64::from(self.byte()?),
                25 => u64::from(u16::from_be_bytes(
                    self.take(2)?.try_into().unwrap_or([0; 2]),
                )),
                26 => u64::from(u32::from_be_bytes(
                    self.take(4)?.try_into().unwrap_or([0; 4]),
                )),
                27 => u64::from_be_bytes(self.take(8)?.try_into().unwrap_or([0; 8])),
                _ => {
                    return Err(malformed(
                        "indefinite or reserved CBOR lengths are not accepted",
                    ));
                }
            };
            Ok((major, arg))
        }

        pub fn map_len(&mut self) -> Result<u64, WebAuthnError> {
            match self.head()? {
                (5, n) => Ok(n),
                _ => Err(malformed("expected a CBOR map")),
            }
        }

        pub fn text(&mut self) -> Result<&'a str, WebAuthnError> {
            match self.head()? {
                (3, n) => std::str::from_utf8(self.take(n)?)
                    .map_err(|_| malformed("CBOR text is not UTF-8")),
                _ => Err(malformed("expected CBOR text")),
            }
        }

        pub fn bytes(&mut self) -> Result<&'a [u8], WebAuthnError> {
            match self.head()? {
                (2, n) => self.take(n),
                _ => Err(malformed("expected CBOR bytes")),
            }
        }

        pub fn int(&mut self) -> Result<i64, WebAuthnError> {
            match self.head()? {
                (0, n) => i64::try_from(n).map_err(|_| malformed("CBOR integer too large")),
                (1, n) => i64::try_from(n)
                    .map(|n| -1 - n)
                    .map_err(|_| malformed("CBOR integer too large")),
                _ => Err(malformed("expected a CBOR integer")),
            }
        }

        /// Skips one data item (with everything inside it).
        pub fn skip(&mut self) -> Result<(), WebAuthnError> {
            self.skip_at(0)
        }

        fn skip_at(&mut self, depth: usize) -> Result<(), WebAuthnError> {
            if depth > MAX_DEPTH {
                return Err(malformed("CBOR nested too deeply"));
            }
            let (major, arg) = self.head()?;
            match major {
                0 | 1 | 7 => Ok(()),
                2 | 3 => self.take(arg).map(|_| ()),
                4 | 5 => {
                    let items = if major == 5 {
                        arg.saturating_mul(2)
                    } else {
                        arg
                    };
                    // Each item takes at least a byte: a count beyond the input is a lie.
                    if items > (self.data.len() - self.pos) as u64 {
                        return Err(malformed("CBOR cut short"));
                    }
                    for _ in 0..items {
                        self.skip_at(depth + 1)?;
                    }
                    Ok(())
                }
                6 => self.skip_at(depth + 1),
                _ => Err(malformed("unknown CBOR type")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbor_reads_what_webauthn_sends_and_refuses_hostile_bytes() {
        // {"fmt": "none", "attStmt": {}, "authData": h'0102'}
        let mut doc = vec![0xa3, 0x63];
        doc.extend_from_slice(b"fmt");
        doc.extend_from_slice(&[0x64]);
        doc.extend_from_slice(b"none");
        doc.push(0x67);
        doc.extend_from_slice(b"attStmt");
        doc.push(0xa0);
        doc.push(0x68);
        doc.extend_from_slice(b"authData");
        doc.extend_from_slice(&[0x42, 1, 2]);
        assert_eq!(
            attestation_auth_data(&b64_encode(&doc)).expect("parsed"),
            vec![1, 2]
        );
        let mut r = cbor::Reader::new(&[0x38, 0x18]);
        assert_eq!(r.int().expect("int"), -25);
        for hostile in [
            &[0x5f][..],                                             // indefinite byte string
            &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // huge array
            &[0x59, 0xff],                                           // cut short
            &[0x81; 64],                                             // nested too deeply
        ] {
            assert!(cbor::Reader::new(hostile).skip().is_err(), "{hostile:?}");
        }
    }

    #[test]
    fn es256_assertions_are_verified_and_tampering_is_refused() {
        use ring::rand::SystemRandom;
        use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .expect("pair");
        let point = pair.public_key().as_ref();
        // The COSE form: {1: 2, 3: -7, -1: 1, -2: x, -3: y}
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20];
        cose.extend_from_slice(&point[1..33]);
        cose.extend_from_slice(&[0x22, 0x58, 0x20]);
        cose.extend_from_slice(&point[33..65]);
        let (key, alg) = PublicKey::from_cose(&cose).expect("COSE key");
        assert_eq!(alg, ES256);
        let mut auth = Sha256::digest(b"dash.example").to_vec();
        auth.push(USER_PRESENT | USER_VERIFIED);
        auth.extend_from_slice(&7u32.to_be_bytes());
        let parsed = auth_data(&auth, "dash.example", true).expect("auth data");
        assert_eq!(parsed.sign_count, 7);
        assert!(matches!(
            auth_data(&auth, "evil.example", false),
            Err(WebAuthnError::WrongRelyingParty)
        ));
        let hash: [u8; 32] = Sha256::digest(b"client data").into();
        let mut message = auth.clone();
        message.extend_from_slice(&hash);
        let signature = pair.sign(&rng, &message).expect("sign");
        key.verify(&auth, &hash, signature.as_ref()).expect("valid");
        let mut tampered = auth.clone();
        tampered[36] = 8;
        assert_eq!(
            key.verify(&tampered, &hash, signature.as_ref()),
            Err(WebAuthnError::BadSignature)
        );
    }

    #[test]
    fn client_data_type_and_origin_are_checked() {
        let origins = vec!["https://dash.example".to_owned()];
        let data = |t: &str, o: &str| {
            b64_encode(
                serde_json::json!({"type": t, "challenge": "abc", "origin": o})
                    .to_string()
                    .as_bytes(),
            )
        };
        let ok = client_data(
            &data("webauthn.get", "https://dash.example"),
            "webauthn.get",
            &origins,
        )
        .expect("valid");
        assert_eq!(ok.challenge, "abc");
        assert!(matches!(
            client_data(
                &data("webauthn.create", "https://dash.example"),
                "webauthn.get",
                &origins
            ),
            Err(WebAuthnError::WrongType(_))
        ));
        assert!(matches!(
            client_data(
                &data("webauthn.get", "https://evil.example"),
                "webauthn.get",
                &origins
            ),
            Err(WebAuthnError::WrongOrigin(_))
        ));
    }
}
