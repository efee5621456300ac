//! What the binary's test files share: a clean `taylordash` command, a running server with its
//! output collected, and a minimal HTTP/1.1 client. Each test file uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_taylordash");

/// A `taylordash` command with a clean environment (no stray DATABASE_URL or API_KEY).
pub fn taylordash(data_dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TAYLORDASH_DATA_DIR", data_dir)
        .env("TAYLORDASH_BIND", "127.0.0.1:0")
        .env("TAYLORDASH_LOG_FORMAT", "json");
    cmd
}

/// Runs a command to completion with no input.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run taylordash")
}

/// A server process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
    /// Stderr up to the "listening" line (the first-start banner).
    pub early_stderr: Vec<String>,
    /// The structured log (stdout), collected as it is written.
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `cmd` and waits for its "listening" line.
    // The child is reaped by `Drop`; on a panic before that, the test process exits anyway.
    #[allow(clippy::zombie_processes)]
    pub fn start(mut cmd: Command) -> Server {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn taylordash");
        let log = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().expect("stdout");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(mut log) = sink.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut early = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("server did not start; stderr: {early:#?}"));
            if let Some(rest) = line.strip_prefix("TaylorDash is listening on http://") {
                let addr = rest.split_whitespace().next().expect("address");
                return Server {
                    child,
                    addr: addr.parse().expect("socket address"),
                    stderr: rx,
                    early_stderr: early,
                    log,
                };
            }
            early.push(line);
        }
    }

    /// Sends SIGTERM.
    pub fn terminate(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    pub fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything written so far: the rest of stderr, then the log.
    pub fn output(&self) -> String {
        let mut out = String::new();
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(200)) {
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(&self.log.lock().map(|l| l.clone()).unwrap_or_default());
        out
    }

    /// Peak resident memory of the server so far, in KiB (Linux `VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Minimal HTTP/1.1 exchange with an optional header line (`auth`, e.g. `X-API-Key: …`) and an
/// optional JSON body; returns (status, body).
pub fn http_as(
    addr: SocketAddr,
    auth: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(line) = auth {
        req.push_str(line);
        req.push_str("\r\n");
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or_default());
    stream.write_all(req.as_bytes()).expect("write");
    read_response(&mut stream)
}

/// Reads a whole `Connection: close` response: (status, body as text).
pub fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {raw:?}"));
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A PostgreSQL database of one test's own on the test server, dropped again when this is
/// dropped (also when the test fails).
pub struct ScratchPostgres {
    admin_url: String,
    name: String,
    /// The database's URL, for `DATABASE_URL`.
    pub url: String,
}

impl ScratchPostgres {
    /// Creates `<prefix>_<pid>` on `TAYLORDASH_TEST_DATABASE_URL`; `None` (after printing
    /// SKIPPED with `what`) when that is unset, which fails if `TAYLORDASH_REQUIRE_POSTGRES=1`.
    pub fn create(prefix: &str, what: &str) -> Option<Self> {
        let Some(admin_url) = std::env::var("TAYLORDASH_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            assert!(
                std::env::var("TAYLORDASH_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "TAYLORDASH_REQUIRE_POSTGRES=1 but TAYLORDASH_TEST_DATABASE_URL is unset"
            );
            eprintln!("SKIPPED: PostgreSQL {what} (set TAYLORDASH_TEST_DATABASE_URL)");
            return None;
        };
        let name = format!("{prefix}_{}", std::process::id());
        let url = match admin_url.rsplit_once('/') {
            Some((base, _)) if base.contains("://") && !base.ends_with('/') => {
                format!("{base}/{name}")
            }
            _ => format!("{admin_url}/{name}"),
        };
        let db = Self {
            admin_url,
            name,
            url,
        };
        db.psql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name));
        assert!(
            db.psql(&format!("CREATE DATABASE {}", db.name)),
            "CREATE DATABASE {}",
            db.name
        );
        Some(db)
    }

    /// Runs one statement on the server's admin database; whether it succeeded.
    fn psql(&self, sql: &str) -> bool {
        Command::new("psql")
            .args([self.admin_url.as_str(), "-qAtc", sql])
            .status()
            .expect("psql")
            .success()
    }
}

impl Drop for ScratchPostgres {
    fn drop(&mut self) {
        self.psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}
