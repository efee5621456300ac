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
        let port = free_udp_port();
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
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        for (name, addr) in records {
            cmd.arg(format!("--host-record={name},{addr}"));
        }
        let child = cmd.spawn().expect("start dnsmasq");
        let d = Dnsmasq { port, child };
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
                break;
            }
            assert!(Instant::now() < deadline, "dnsmasq did not start");
        }
        Some(d)
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback UDP port that was free a moment ago.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("free udp port")
}
