//! A private S3-compatible server for one test suite: moto's standalone server
//! (`pip install 'moto[server]'`) on a loopback port, with its own in-memory state.

use std::io::{Read as _, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set to `1` to fail instead of skipping tests that need an S3 server.
pub const REQUIRE_S3_ENV: &str = "TAYLORDASH_REQUIRE_S3";

/// A running S3 server; stopped when dropped.
pub struct S3Server {
    child: Child,
    pub endpoint: String,
}

impl S3Server {
    /// Starts a server, or returns `None` (loudly) when `moto_server` is not installed.
    pub fn start() -> Option<S3Server> {
        let exe = std::env::var("TAYLORDASH_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
        let port = crate::free_port();
        let spawned = Command::new(&exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
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
                    "SKIPPED: S3 test (install the server with `pip install 'moto[server]'` to run it)"
                );
                return None;
            }
        };
        let mut server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !answers(port) {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("moto_server exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not start in 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(server)
    }
}

/// Whether an HTTP request to the port gets a response.
fn answers(port: u16) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
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
