//! A private S3-compatible server for one test suite: `s3s-fs` (the file-system S3 server of the
//! `s3s` project, installed with `cargo install s3s-fs --features binary`), on a loopback port,
//! with its own directory and one account whose signatures it checks (AWS Signature Version 4):
//! a request signed with another secret is refused, as a real server refuses it.

use std::io::{Read as _, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set to `1` to fail instead of skipping tests that need an S3 server.
pub const REQUIRE_S3_ENV: &str = "TAYLORDASH_REQUIRE_S3";
/// The server's executable (default `s3s-fs` on `PATH`).
pub const S3_SERVER_ENV: &str = "TAYLORDASH_S3S_FS";

/// A running S3 server; stopped when dropped.
pub struct S3Server {
    child: Child,
    pub endpoint: String,
    /// The one account the server accepts.
    pub access_key: String,
    pub secret_key: String,
    _root: tempfile::TempDir,
}

impl S3Server {
    /// Starts a server, or returns `None` (loudly) when `s3s-fs` is not installed.
    pub fn start() -> Option<S3Server> {
        let exe = std::env::var(S3_SERVER_ENV).unwrap_or_else(|_| "s3s-fs".into());
        let root = tempfile::tempdir().expect("temporary directory for the S3 server");
        let port = crate::free_port();
        let access_key = format!("test-{}", uuid::Uuid::new_v4().simple());
        let secret_key = format!("secret-{}", uuid::Uuid::new_v4().simple());
        let spawned = Command::new(&exe)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", &access_key, "--secret-key", &secret_key])
            .arg(root.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) => {
                if std::env::var(REQUIRE_S3_ENV).as_deref() == Ok("1") {
                    panic!("{REQUIRE_S3_ENV}=1 but {exe} cannot be started: {e}");
                }
                eprintln!(
                    "SKIPPED: S3 test (install the server with \
                     `cargo install --locked s3s-fs@0.14.1 --features binary` to run it)"
                );
                return None;
            }
        };
        let mut server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            access_key,
            secret_key,
            _root: root,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !answers(port) {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("{exe} exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "{exe} did not start in 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }
}

/// Whether an HTTP request to the port gets a response (an unsigned one is refused, with a
/// response).
fn answers(port: u16) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.")
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
