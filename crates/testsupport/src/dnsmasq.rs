//! A private dnsmasq for one test: answers the given names on a loopback UDP port, nothing
//! else (no upstream servers, no hosts file, no DHCP).

use std::time::{Duration, Instant};

/// Set to `1` to fail instead of skipping tests that need dnsmasq.
pub const REQUIRE_DNSMASQ_ENV: &str = "TAYLORDASH_REQUIRE_DNSMASQ";

const EXE: &str = "/usr/sbin/dnsmasq";

/// A running `dnsmasq` (Debian package `dnsmasq-base`); killed when dropped.
pub struct Dnsmasq {
    pub port: u16,
    child: std::process::Child,
}

impl Dnsmasq {
    /// Starts one answering each `(name, address)` (A or AAAA by the address), or returns
    /// `None` (loudly) when dnsmasq is not installed.
    pub fn start(records: &[(&str, &str)]) -> Option<Dnsmasq> {
        if !std::path::Path::new(EXE).exists() {
            if std::env::var(REQUIRE_DNSMASQ_ENV).as_deref() == Ok("1") {
                panic!("{REQUIRE_DNSMASQ_ENV}=1 but {EXE} is not installed");
            }
            eprintln!("SKIPPED: DNS check test (apt-get install dnsmasq-base to run it)");
            return None;
        }
        // A port free a moment ago can be taken before dnsmasq binds it (it binds UDP and TCP),
        // by any other test or program on the machine: dnsmasq then exits at once, and another
        // port is tried.
        let mut last_error = String::new();
        for _ in 0..5 {
            match Self::spawn(free_port(), records) {
                Ok(d) => return Some(d),
                Err(e) => last_error = e,
            }
        }
        panic!("dnsmasq did not start on any of 5 ports; last: {last_error}");
    }

    fn spawn(port: u16, records: &[(&str, &str)]) -> Result<Dnsmasq, String> {
        let mut cmd = std::process::Command::new(EXE);
        cmd.arg("--keep-in-foreground")
            .arg("--conf-file=/dev/null")
            .arg("--no-resolv")
            .arg("--no-hosts")
            .arg("--no-poll")
            .arg("--bind-interfaces")
            .arg("--listen-address=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg("--user=root")
            .arg("--pid-file=")
            .arg("--log-facility=-")
            .stdout(std::process::Stdio::null());
        // Its log, read when it fails to start (a file, so it never blocks on a full pipe).
        let log = tempfile::tempfile().expect("dnsmasq log file");
        cmd.stderr(log.try_clone().expect("dnsmasq log file"));
        for (name, addr) in records {
            cmd.arg(format!("--host-record={name},{addr}"));
        }
        let child = cmd.spawn().expect("start dnsmasq");
        let mut d = Dnsmasq { port, child };
        // Ready when it answers: a query for a name it knows gets a reply.
        let deadline = Instant::now() + Duration::from_secs(10);
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let probe = [
            0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 4, b'p', b'r', b'o', b'b', 0, 0, 1, 0, 1,
        ];
        loop {
            let _ = socket.send_to(&probe, ("127.0.0.1", port));
            let mut buf = [0u8; 512];
            if socket.recv_from(&mut buf).is_ok() {
                return Ok(d);
            }
            if let Ok(Some(status)) = d.child.try_wait() {
                let mut why = String::new();
                let mut log = log;
                let _ = std::io::Seek::rewind(&mut log);
                let _ = std::io::Read::read_to_string(&mut log, &mut why);
                return Err(format!(
                    "port {port}: dnsmasq exited ({status}): {}",
                    why.trim()
                ));
            }
            assert!(
                Instant::now() < deadline,
                "dnsmasq did not answer on port {port}"
            );
        }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago for both UDP and TCP (dnsmasq binds both).
fn free_port() -> u16 {
    loop {
        let port = free_udp_port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A loopback UDP port that was free a moment ago.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("free udp port")
}
