//! ICMP echo for ping checks: an unprivileged datagram ICMP socket where the kernel allows one
//! (`net.ipv4.ping_group_range`), else a raw socket (needs `CAP_NET_RAW`); when neither is
//! permitted the error says so.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

/// `SOCK_RAW` (Linux), without socket2's `all` feature.
const SOCK_RAW: i32 = 3;

fn open(ip: IpAddr) -> Result<(UdpSocket, bool), String> {
    let (domain, protocol) = match ip {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
    };
    let denied = |e: &std::io::Error| {
        matches!(e.kind(), ErrorKind::PermissionDenied) || e.raw_os_error() == Some(1)
    };
    let (socket, raw) = match Socket::new(domain, Type::DGRAM, Some(protocol)) {
        Ok(s) => (s, false),
        Err(e) if denied(&e) || e.raw_os_error() == Some(93) => {
            match Socket::new(domain, Type::from(SOCK_RAW), Some(protocol)) {
                Ok(s) => (s, true),
                Err(e) if denied(&e) => {
                    return Err(
                        "ICMP is not permitted here: unprivileged ICMP sockets are off \
                                (sysctl net.ipv4.ping_group_range) and raw sockets need \
                                CAP_NET_RAW"
                            .into(),
                    );
                }
                Err(e) => return Err(format!("cannot open a raw ICMP socket: {e}")),
            }
        }
        Err(e) => return Err(format!("cannot open an ICMP socket: {e}")),
    };
    socket
        .set_nonblocking(true)
        .map_err(|e| format!("ICMP socket: {e}"))?;
    let socket = UdpSocket::from_std(socket.into()).map_err(|e| format!("ICMP socket: {e}"))?;
    Ok((socket, raw))
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Sends one echo request to `ip` and waits for its reply; the round trip in milliseconds.
pub async fn echo(ip: IpAddr) -> Result<f64, String> {
    let (socket, raw) = open(ip)?;
    let v4 = ip.is_ipv4();
    let mut ident = [0u8; 4];
    getrandom::fill(&mut ident).map_err(|e| e.to_string())?;
    let (id, seq) = (
        u16::from_be_bytes([ident[0], ident[1]]),
        u16::from_be_bytes([ident[2], ident[3]]),
    );
    let mut packet = vec![if v4 { 8 } else { 128 }, 0, 0, 0];
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(b"taylordash-check");
    if v4 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    let started = Instant::now();
    socket
        .send_to(&packet, SocketAddr::new(ip, 0))
        .await
        .map_err(|e| format!("cannot send an ICMP echo to {ip}: {e}"))?;
    let mut buf = vec![0u8; 2048];
    loop {
        let (n, from) = socket
            .recv_from(&mut buf)
            .await
            .map_err(|e| format!("ICMP: {e}"))?;
        let mut reply = &buf[..n];
        // A raw IPv4 socket delivers the IP header too.
        if raw && v4 && reply.first().is_some_and(|b| b >> 4 == 4) {
            let header = usize::from(reply[0] & 0x0f) * 4;
            reply = reply.get(header..).unwrap_or_default();
        }
        let echo_reply = if v4 { 0 } else { 129 };
        if from.ip() != ip || reply.len() < 8 || reply[0] != echo_reply {
            continue;
        }
        let same_seq = reply[6..8] == seq.to_be_bytes();
        // A datagram socket's identifier is the kernel's (the socket's port), not ours.
        let same_id = !raw || reply[4..6] == id.to_be_bytes();
        if same_seq && same_id {
            return Ok(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
}
