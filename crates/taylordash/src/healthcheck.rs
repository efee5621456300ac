//! `taylordash healthcheck`: asks a running server whether it is ready. Used as the container
//! health check, so it needs no curl in the image.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Empty;
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The address to probe for a server bound to `bind`: a wildcard bind is reached on loopback.
pub fn probe_address(bind: SocketAddr) -> SocketAddr {
    let mut addr = bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// `GET /health/ready` on `addr`; Ok when the server answers 200 within `timeout`.
pub async fn check(addr: SocketAddr, timeout: Duration) -> Result<(), String> {
    tokio::time::timeout(timeout, request(addr))
        .await
        .map_err(|_| format!("no answer from {addr} within {} s", timeout.as_secs_f32()))?
}

async fn request(addr: SocketAddr) -> Result<(), String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake with {addr} failed: {e}"))?;
    // Short-lived: drives this one probe's connection in the `healthcheck` command, which exits
    // right after it (no server, no task tracker).
    tokio::spawn(conn);
    let req = Request::get("/health/ready")
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let res = sender
        .send_request(req)
        .await
        .map_err(|e| format!("request to {addr} failed: {e}"))?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(format!("{addr} is not ready: HTTP {}", res.status()))
    }
}
