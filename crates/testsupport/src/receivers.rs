//! Receivers of notifications for the alert tests, as real processes on loopback ports: an SMTP
//! server (aiosmtpd, `pip install aiosmtpd`; required in CI through
//! `TAYLORDASH_REQUIRE_SMTP=1`) and the webhook receiver that verifies TaylorDash's signature
//! (`scripts/webhook_receiver.py`, Python's standard library only).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Set to `1` to fail instead of skipping tests that need the SMTP server.
pub const REQUIRE_SMTP_ENV: &str = "TAYLORDASH_REQUIRE_SMTP";

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

/// Starts `python3 script args...` and waits for its `ready` line.
fn spawn_ready(name: &str, args: &[&str]) -> std::io::Result<Child> {
    let mut child = Command::new("python3")
        .arg(script(name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    if line.trim() != "ready" {
        let _ = child.kill();
        let status = child.wait()?;
        return Err(std::io::Error::other(format!(
            "{name} did not start ({status}); is its Python module installed?"
        )));
    }
    Ok(child)
}

/// A real SMTP server requiring AUTH; messages land in a directory as JSON files.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Plain SMTP with AUTH (a local relay), or STARTTLS required when `tls` names a
    /// certificate and key (PEM files). `None` (loudly) when aiosmtpd is missing, unless CI
    /// requires it.
    pub fn start(user: &str, password: &str, tls: Option<(&Path, &Path)>) -> Option<SmtpServer> {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = crate::free_port();
        let port_s = port.to_string();
        let mut args = vec![
            port_s.as_str(),
            dir.path().to_str().expect("utf-8 path"),
            user,
            password,
        ];
        if let Some((cert, key)) = tls {
            args.push(cert.to_str().expect("utf-8 path"));
            args.push(key.to_str().expect("utf-8 path"));
        }
        match spawn_ready("smtp_server.py", &args) {
            Ok(child) => Some(SmtpServer { child, port, dir }),
            Err(e) => {
                if std::env::var(REQUIRE_SMTP_ENV).as_deref() == Ok("1") {
                    panic!("{REQUIRE_SMTP_ENV}=1 but the SMTP server cannot start: {e}");
                }
                eprintln!("SKIPPED: SMTP test (pip install aiosmtpd to run it): {e}");
                None
            }
        }
    }

    /// The messages received so far, oldest first.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(self.dir.path())
            .expect("mail dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| {
                let n = p.file_stem()?.to_str()?.parse().ok()?;
                (p.extension()? == "json").then_some((n, p))
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, p)| {
                serde_json::from_slice(&std::fs::read(p).expect("message")).expect("message JSON")
            })
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The webhook receiver process: verifies the signature, replay window and idempotency key,
/// and appends each accepted delivery to a log that outlives it (stop and start it on the same
/// port and log to play a receiver outage).
pub struct WebhookReceiver {
    child: Child,
}

impl WebhookReceiver {
    pub fn start(signing_key: &str, port: u16, log: &Path) -> WebhookReceiver {
        let child = spawn_ready(
            "webhook_receiver.py",
            &[
                signing_key,
                &port.to_string(),
                log.to_str().expect("utf-8 path"),
            ],
        )
        .expect("webhook receiver (python3)");
        WebhookReceiver { child }
    }

    /// Every accepted delivery in `log`, in arrival order: `{"key", "duplicate", "body"}`.
    pub fn deliveries(log: &Path) -> Vec<serde_json::Value> {
        match std::fs::read_to_string(log) {
            Ok(text) => text
                .lines()
                .map(|l| serde_json::from_str(l).expect("log line"))
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
