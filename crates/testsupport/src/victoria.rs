//! A private VictoriaMetrics for one test: its own data directory and loopback port.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// Set to `1` to fail instead of skipping tests that need VictoriaMetrics.
pub const REQUIRE_VICTORIAMETRICS_ENV: &str = "TAYLORDASH_REQUIRE_VICTORIAMETRICS";

const EXE: &str = "/usr/bin/victoria-metrics";

/// A running `victoria-metrics` (Debian package `victoria-metrics`); killed when dropped.
pub struct VictoriaMetrics {
    pub port: u16,
    _dir: tempfile::TempDir,
    child: std::process::Child,
}

impl VictoriaMetrics {
    /// Starts one, or returns `None` (loudly) when it is not installed.
    pub fn start() -> Option<VictoriaMetrics> {
        if !std::path::Path::new(EXE).exists() {
            if std::env::var(REQUIRE_VICTORIAMETRICS_ENV).as_deref() == Ok("1") {
                panic!("{REQUIRE_VICTORIAMETRICS_ENV}=1 but {EXE} is not installed");
            }
            eprintln!("SKIPPED: VictoriaMetrics test (apt-get install victoria-metrics to run it)");
            return None;
        }
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = crate::free_port();
        let child = std::process::Command::new(EXE)
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg(format!("-storageDataPath={}", dir.path().display()))
            // Answer queries up to now (the default hides the last 30 s).
            .arg("-search.latencyOffset=0s")
            .arg("-search.disableCache")
            .arg("-retentionPeriod=1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start victoria-metrics");
        let vm = VictoriaMetrics {
            port,
            _dir: dir,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while vm.get("/health").is_none_or(|(status, _)| status != 200) {
            assert!(Instant::now() < deadline, "victoria-metrics did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(vm)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Makes everything imported so far searchable.
    pub fn force_flush(&self) {
        let (status, body) = self.get("/internal/force_flush").expect("force_flush");
        assert!(status < 300, "force_flush: {status} {body}");
    }

    /// A plain HTTP GET: (status, body), or `None` when nothing answers.
    pub fn get(&self, path_and_query: &str) -> Option<(u16, String)> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(
            s,
            "GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut raw = String::new();
        s.read_to_string(&mut raw).ok()?;
        let status = raw.split_whitespace().nth(1)?.parse().ok()?;
        let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
        Some((status, body))
    }
}

impl Drop for VictoriaMetrics {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
