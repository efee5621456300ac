//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): HMAC-SHA1, 30-second steps,
//! six digits — what every authenticator app does by default — and the base32 text secrets
//! travel in.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// Seconds per time step.
pub const STEP_SECS: i64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Random bytes per secret (160 bits, RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;

/// The HOTP value of `secret` at `counter` (RFC 4226 §5.3), `DIGITS` long with leading zeros.
pub fn hotp(secret: &[u8], counter: u64) -> String {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!(
        "{:0width$}",
        binary % 10u32.pow(DIGITS as u32),
        width = DIGITS
    )
}

/// The time step a Unix time falls in.
pub fn step_at(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// The step whose code `code` is, among the step at `unix_secs` and one either side (clock
/// drift), if it is later than `after` (a code is never accepted twice). Compared in constant
/// time per candidate.
pub fn verify(secret: &[u8], code: &str, unix_secs: i64, after: Option<i64>) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_secs);
    let mut found = None;
    for step in [now - 1, now, now + 1] {
        let Ok(counter) = u64::try_from(step) else {
            continue;
        };
        let expected = hotp(secret, counter);
        let same: bool = subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.as_bytes()).into();
        if same && after.is_none_or(|a| step > a) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding (what `otpauth://` URIs carry).
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes base32 (any case, padding and spaces ignored); `None` for another character.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let c = c.to_ascii_uppercase();
        let value = ALPHABET.iter().position(|&a| char::from(a) == c)?;
        buffer = (buffer << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// The `otpauth://` URI an authenticator app reads from the QR code.
pub fn otpauth_uri(issuer: &str, account: &str, secret_base32: &str) -> String {
    let label = format!("{issuer}:{account}");
    format!(
        "otpauth://totp/{}?secret={secret_base32}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        percent(&label),
        percent(issuer)
    )
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (8 digits there; the last 6 here).
    #[test]
    fn matches_the_rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            let step = u64::try_from(step_at(time)).unwrap();
            assert_eq!(hotp(secret, step), &eight[2..], "t={time}");
        }
    }

    /// RFC 4226 appendix D.
    #[test]
    fn matches_the_rfc_4226_hotp_values() {
        let expect = ["755224", "287082", "359152", "969429", "338314"];
        for (counter, code) in expect.iter().enumerate() {
            assert_eq!(hotp(b"12345678901234567890", counter as u64), *code);
        }
    }

    #[test]
    fn a_code_is_accepted_once_within_one_step_of_drift() {
        let secret = b"12345678901234567890";
        let t = 1_111_111_111;
        let code = hotp(secret, step_at(t) as u64);
        assert_eq!(verify(secret, &code, t, None), Some(step_at(t)));
        assert_eq!(
            verify(secret, &code, t + 30, None),
            Some(step_at(t)),
            "late"
        );
        assert_eq!(
            verify(secret, &code, t - 30, None),
            Some(step_at(t)),
            "early"
        );
        assert_eq!(verify(secret, &code, t + 90, None), None, "too late");
        assert_eq!(verify(secret, &code, t, Some(step_at(t))), None, "replayed");
        assert_eq!(verify(secret, "12345", t, None), None);
        assert_eq!(verify(secret, "abcdef", t, None), None);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(verify(secret, &spaced, t, None), Some(step_at(t)));
    }

    #[test]
    fn base32_round_trips_rfc_4648_vectors() {
        for (raw, text) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(raw.as_bytes()), text);
            assert_eq!(base32_decode(text).unwrap(), raw.as_bytes());
        }
        assert_eq!(base32_decode("mzxw 6ytb oi==").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZ1"), None);
    }

    #[test]
    fn otpauth_uri_names_issuer_and_account() {
        let uri = otpauth_uri("TaylorDash", "ada lovelace", "JBSWY3DPEHPK3PXP");
        assert_eq!(
            uri,
            "otpauth://totp/TaylorDash%3Aada%20lovelace?secret=JBSWY3DPEHPK3PXP&issuer=TaylorDash&algorithm=SHA1&digits=6&period=30"
        );
    }
}
