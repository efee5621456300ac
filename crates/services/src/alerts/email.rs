//! E-mail over SMTP, written small (the binary has a size budget): STARTTLS required on the
//! submission port, TLS from the first byte (SMTPS), or plain for a local relay; `AUTH PLAIN`
//! when the channel has a username (never in the clear: only after TLS, or on `none`, which the
//! admin chose for a relay on the same machine). TLS is tokio-rustls with the system's roots,
//! as HTTPS checks use. The message is plain text (UTF-8, base64 body), its `Message-ID` the
//! notification's idempotency key, so a mail client shows a resend after a crash as the same
//! message.

use std::time::Duration;

use domain::{ChannelConfig, Notification, SmtpSecurity};
use storage::StoredChannel;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub(super) fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A header value: as is when printable ASCII, else an RFC 2047 encoded word.
fn header_text(s: &str) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control()).collect();
    if clean.is_ascii() {
        clean
    } else {
        format!("=?UTF-8?B?{}?=", base64(clean.as_bytes()))
    }
}

/// The message as sent after `DATA` (CRLF line ends, the body base64 in 76-column lines).
pub(super) fn message(from: &str, to: &[String], n: &Notification, date: &str) -> String {
    let body = format!(
        "{}\n\n--\nTaylorDash · {} · {}\n",
        n.message.body, n.message.severity, n.idempotency_key
    )
    .replace('\n', "\r\n");
    let encoded = base64(body.as_bytes());
    let mut out = format!(
        "From: {from}\r\nTo: {}\r\nSubject: {}\r\nDate: {date}\r\nMessage-ID: <{}@taylordash>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n",
        to.join(", "),
        header_text(&n.message.title),
        n.idempotency_key
    );
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

struct Conn<S> {
    io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    fn new(s: S) -> Conn<S> {
        Conn {
            io: BufReader::new(s),
        }
    }

    /// One (possibly multi-line) reply: its code and text lines.
    async fn reply(&mut self) -> Result<(u16, Vec<String>), String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self
                .io
                .read_line(&mut line)
                .await
                .map_err(|e| format!("SMTP: {e}"))?;
            if n == 0 {
                return Err("SMTP: the server closed the connection".into());
            }
            let line = line.trim_end_matches(['\r', '\n']);
            let code: u16 = line.get(..3).and_then(|c| c.parse().ok()).ok_or_else(|| {
                format!(
                    "SMTP: not a reply: {:?}",
                    line.chars().take(80).collect::<String>()
                )
            })?;
            lines.push(line.get(4..).unwrap_or_default().to_owned());
            if line.as_bytes().get(3) != Some(&b'-') || lines.len() > 100 {
                return Ok((code, lines));
            }
        }
    }

    /// Sends a command and expects a reply of `expect`'s class (2xx, 3xx). `shown` names it
    /// in an error (never the command itself: AUTH carries the password).
    async fn cmd(&mut self, text: &str, expect: u16, shown: &str) -> Result<Vec<String>, String> {
        let w = self.io.get_mut();
        w.write_all(text.as_bytes())
            .await
            .and(w.write_all(b"\r\n").await)
            .and(w.flush().await)
            .map_err(|e| format!("SMTP {shown}: {e}"))?;
        self.expect(expect, shown).await
    }

    async fn expect(&mut self, expect: u16, shown: &str) -> Result<Vec<String>, String> {
        let (code, lines) = self.reply().await?;
        if code / 100 != expect / 100 {
            return Err(format!(
                "SMTP {shown}: the server answered {code} {}",
                lines.join(" ")
            ));
        }
        Ok(lines)
    }

    /// After the greeting/EHLO: authenticate if asked, then send the message.
    async fn deliver(
        mut self,
        auth: Option<(&str, &str)>,
        from: &str,
        to: &[String],
        data: &str,
    ) -> Result<(), String> {
        if let Some((user, password)) = auth {
            let token = base64(format!("\0{user}\0{password}").as_bytes());
            self.cmd(&format!("AUTH PLAIN {token}"), 235, "AUTH")
                .await?;
        }
        self.cmd(&format!("MAIL FROM:<{from}>"), 250, "MAIL FROM")
            .await?;
        for r in to {
            self.cmd(&format!("RCPT TO:<{r}>"), 250, "RCPT TO").await?;
        }
        self.cmd("DATA", 354, "DATA").await?;
        // Dot-stuffing: a line starting with "." gets another.
        let mut stuffed = String::with_capacity(data.len() + 8);
        for line in data.split_inclusive("\r\n") {
            if line.starts_with('.') {
                stuffed.push('.');
            }
            stuffed.push_str(line);
        }
        stuffed.push('.');
        self.cmd(&stuffed, 250, "DATA (message)").await?;
        let _ = self.cmd("QUIT", 221, "QUIT").await;
        Ok(())
    }
}

/// Verifying with the system's roots, or (the channel allows it) accepting any certificate.
fn tls_connector(allow_self_signed: bool) -> tokio_rustls::TlsConnector {
    let mut config = (*crate::checks::tls::client_config(allow_self_signed)).clone();
    config.alpn_protocols.clear();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
}

pub(super) async fn send(
    c: &StoredChannel,
    n: &Notification,
    timeout: Duration,
) -> Result<(), String> {
    match tokio::time::timeout(timeout, send_inner(c, n)).await {
        Ok(r) => r,
        Err(_) => Err("SMTP: timed out".into()),
    }
}

async fn send_inner(c: &StoredChannel, n: &Notification) -> Result<(), String> {
    let ChannelConfig::Email {
        host,
        port,
        security,
        allow_self_signed,
        username,
        from,
        to,
    } = &c.channel.config
    else {
        return Err("not an e-mail channel".into());
    };
    let password = c.secrets.get("password").unwrap_or_default();
    let auth = username.as_deref().map(|u| (u, password));
    let data = message(from, to, n, &chrono::Utc::now().to_rfc2822());
    let tcp = TcpStream::connect((host.as_str(), *port))
        .await
        .map_err(|e| format!("SMTP: could not connect to {host}:{port}: {e}"))?;
    let name = rustls::pki_types::ServerName::try_from(host.clone())
        .map_err(|e| format!("SMTP: {host} is no TLS server name: {e}"))?;
    match security {
        SmtpSecurity::Tls => {
            let tls = tls_connector(*allow_self_signed)
                .connect(name, tcp)
                .await
                .map_err(|e| format!("SMTP TLS: {e}"))?;
            let mut conn = Conn::new(tls);
            conn.expect(220, "greeting").await?;
            conn.cmd("EHLO localhost", 250, "EHLO").await?;
            conn.deliver(auth, from, to, &data).await
        }
        SmtpSecurity::StartTls => {
            let mut conn = Conn::new(tcp);
            conn.expect(220, "greeting").await?;
            let ehlo = conn.cmd("EHLO localhost", 250, "EHLO").await?;
            if !ehlo.iter().any(|l| {
                l.eq_ignore_ascii_case("STARTTLS")
                    || l.to_ascii_uppercase().starts_with("STARTTLS ")
            }) {
                return Err("SMTP: the server does not offer STARTTLS (use security \"tls\", or \"none\" for a local relay)".into());
            }
            conn.cmd("STARTTLS", 220, "STARTTLS").await?;
            let tcp = conn.io.into_inner();
            let tls = tls_connector(*allow_self_signed)
                .connect(name, tcp)
                .await
                .map_err(|e| format!("SMTP STARTTLS: {e}"))?;
            let mut conn = Conn::new(tls);
            conn.cmd("EHLO localhost", 250, "EHLO").await?;
            conn.deliver(auth, from, to, &data).await
        }
        SmtpSecurity::None => {
            let mut conn = Conn::new(tcp);
            conn.expect(220, "greeting").await?;
            conn.cmd("EHLO localhost", 250, "EHLO").await?;
            conn.deliver(auth, from, to, &data).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_examples() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
        assert_eq!(header_text("Disk full"), "Disk full");
        assert_eq!(
            header_text("Plätte"),
            format!("=?UTF-8?B?{}?=", base64("Plätte".as_bytes()))
        );
    }
}
