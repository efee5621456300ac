//! A real OpenID provider for one test: the `oidc-provider` npm package (certified by the
//! OpenID Foundation) run by Node from `crates/testsupport/oidc-op` on a loopback port.
//! `npm ci` in that directory installs it (CI does).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// Set to `1` to fail instead of skipping tests that need the OpenID provider.
pub const REQUIRE_OIDC_PROVIDER_ENV: &str = "TAYLORDASH_REQUIRE_OIDC_PROVIDER";

/// A running provider; killed when dropped.
pub struct OpenIdProvider {
    /// The issuer URL (`http://127.0.0.1:<port>`, or `https://localhost:<port>` over TLS).
    pub issuer: String,
    /// The test CA and the server certificate of a provider served over TLS.
    certs: Option<tempfile::TempDir>,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc-op")
}

impl OpenIdProvider {
    /// Starts one knowing `clients` (OpenID client metadata), or returns `None` (loudly) when
    /// Node or the package is not installed.
    pub fn start(clients: &serde_json::Value) -> Option<OpenIdProvider> {
        Self::start_with(clients, false)
    }

    /// Starts one serving HTTPS only, with a certificate for `localhost` signed by a fresh
    /// test CA ([`OpenIdProvider::ca_file`]) that no system trusts.
    pub fn start_tls(clients: &serde_json::Value) -> Option<OpenIdProvider> {
        Self::start_with(clients, true)
    }

    /// The test CA's certificate (PEM file) of a provider served over TLS.
    pub fn ca_file(&self) -> PathBuf {
        self.certs
            .as_ref()
            .expect("a provider served over TLS")
            .path()
            .join("ca.pem")
    }

    fn start_with(clients: &serde_json::Value, tls: bool) -> Option<OpenIdProvider> {
        let installed = dir()
            .join("node_modules/oidc-provider/package.json")
            .exists()
            && Command::new("node")
                .arg("--version")
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        if !installed {
            if std::env::var(REQUIRE_OIDC_PROVIDER_ENV).as_deref() == Ok("1") {
                panic!(
                    "{REQUIRE_OIDC_PROVIDER_ENV}=1 but the OpenID provider is not installed \
                     (node, and `npm ci` in {})",
                    dir().display()
                );
            }
            eprintln!(
                "SKIPPED: OpenID Connect test (install node and run `npm ci` in {})",
                dir().display()
            );
            return None;
        }
        let certs = tls.then(|| {
            let certs = tempfile::tempdir().expect("temporary directory");
            crate::make_certificates(certs.path());
            certs
        });
        let mut command = Command::new("node");
        if let Some(certs) = &certs {
            command.env("OP_TLS_DIR", certs.path());
        }
        let mut child = command
            .arg("op.mjs")
            .current_dir(dir())
            .env("OP_CLIENTS", clients.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the OpenID provider");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("read the provider's first line");
        let issuer = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("the OpenID provider did not start: {line:?}"))
            .to_owned();
        Some(OpenIdProvider {
            issuer,
            certs,
            child,
            stdin,
            stdout,
        })
    }

    fn command(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to the provider");
        self.stdin.flush().expect("flush");
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).expect("provider answer");
        assert_eq!(answer.trim(), "ok", "provider refused {line:?}");
    }

    /// Sets the groups claim of `user`.
    pub fn set_groups(&mut self, user: &str, groups: &[&str]) {
        self.command(&format!("groups {user} {}", groups.join(",")));
    }

    /// Alters the next ID token (`tamper`, `audience`, `expired`, `replay`, `rotate`,
    /// `unknown_key`); see `oidc-op/op.mjs`.
    pub fn next_token(&mut self, mode: &str) {
        self.command(&format!("mode {mode}"));
    }

    /// Stops the provider (to test an unreachable one).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OpenIdProvider {
    fn drop(&mut self) {
        self.stop();
    }
}
