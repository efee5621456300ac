//! TLS for HTTPS checks: the system's trust store, or — for a check that allows self-signed
//! certificates — a verifier that accepts any certificate but still checks the handshake's
//! signatures; and the expiry date read from the server's certificate.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, NaiveDateTime, Utc};
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration for a check: verifying (system roots) or accepting self-signed.
pub fn client_config(allow_self_signed: bool) -> Arc<rustls::ClientConfig> {
    static VERIFYING: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    static ANY: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let make = |any: bool| {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|_| unreachable!("ring supports the default versions"));
        let mut config = if any {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny(
                    provider().signature_verification_algorithms,
                )))
                .with_no_client_auth()
        } else {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    };
    if allow_self_signed {
        ANY.get_or_init(|| make(true)).clone()
    } else {
        VERIFYING.get_or_init(|| make(false)).clone()
    }
}

/// Accepts whatever certificate the server shows (the check said a self-signed one is fine);
/// the handshake signatures are still verified, so the server holds the certificate's key.
#[derive(Debug)]
struct AcceptAny(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// One DER element with tag `tag` at the start of `buf`: its content and what follows.
fn element(buf: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = buf.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, b| (a << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

fn time(buf: &[u8]) -> Option<(DateTime<Utc>, &[u8])> {
    let (text, rest, format) = if let Some((t, r)) = element(buf, 0x17) {
        // UTCTime: two-digit years, 50-99 meaning 19xx.
        let s = std::str::from_utf8(t).ok()?;
        let century = if s.get(..2)?.parse::<u8>().ok()? >= 50 {
            "19"
        } else {
            "20"
        };
        (format!("{century}{s}"), r, "%Y%m%d%H%M%SZ")
    } else {
        let (t, r) = element(buf, 0x18)?;
        (std::str::from_utf8(t).ok()?.to_owned(), r, "%Y%m%d%H%M%SZ")
    };
    let at = NaiveDateTime::parse_from_str(&text, format).ok()?.and_utc();
    Some((at, rest))
}

/// The `notAfter` of an X.509 certificate (DER).
pub fn not_after(der: &[u8]) -> Option<DateTime<Utc>> {
    let (cert, _) = element(der, 0x30)?;
    let (tbs, _) = element(cert, 0x30)?;
    let rest = match element(tbs, 0xa0) {
        Some((_, r)) => r,
        None => tbs,
    };
    let (_, rest) = element(rest, 0x02)?; // serial number
    let (_, rest) = element(rest, 0x30)?; // signature algorithm
    let (_, rest) = element(rest, 0x30)?; // issuer
    let (validity, _) = element(rest, 0x30)?;
    let (_, after) = time(validity)?;
    time(after).map(|(t, _)| t)
}
