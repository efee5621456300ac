//! A minimal DNS client for DNS checks: one A or AAAA question over UDP to a given server,
//! and the addresses in the answer (CNAME chains are followed by the server, as recursive
//! servers do; the records themselves are skipped).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::UdpSocket;

pub const A: u16 = 1;
pub const AAAA: u16 = 28;

fn query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, String> {
    let mut q = Vec::with_capacity(name.len() + 18);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD; one question
    for label in name.trim_end_matches('.').split('.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|l| (1..=63).contains(l))
            .ok_or_else(|| format!("'{name}' is not a valid DNS name"))?;
        q.push(len);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes()); // IN
    Ok(q)
}

/// Skips a (possibly compressed) name starting at `at`; returns the offset after it.
fn skip_name(msg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *msg.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return Some(at + 2),
            l => at += 1 + usize::from(l),
        }
    }
}

fn u16_at(msg: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]))
}

/// The addresses of type `qtype` in a response to question `id`.
pub fn parse_answer(msg: &[u8], id: u16, qtype: u16) -> Result<Vec<IpAddr>, String> {
    let bad = || "the DNS server sent a malformed answer".to_owned();
    if u16_at(msg, 0) != Some(id) {
        return Err(bad());
    }
    let flags = u16_at(msg, 2).ok_or_else(bad)?;
    if flags & 0x0200 != 0 {
        return Err("the DNS answer was truncated".into());
    }
    match flags & 0x000f {
        0 => {}
        3 => return Err("the name does not exist (NXDOMAIN)".into()),
        2 => return Err("the DNS server failed (SERVFAIL)".into()),
        5 => return Err("the DNS server refused the query (REFUSED)".into()),
        code => return Err(format!("the DNS server answered with error code {code}")),
    }
    let questions = u16_at(msg, 4).ok_or_else(bad)?;
    let answers = u16_at(msg, 6).ok_or_else(bad)?;
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(msg, at).ok_or_else(bad)? + 4;
    }
    let mut found = Vec::new();
    for _ in 0..answers {
        at = skip_name(msg, at).ok_or_else(bad)?;
        let rtype = u16_at(msg, at).ok_or_else(bad)?;
        let len = usize::from(u16_at(msg, at + 8).ok_or_else(bad)?);
        let data = msg.get(at + 10..at + 10 + len).ok_or_else(bad)?;
        at += 10 + len;
        match (rtype, qtype, data.len()) {
            (A, A, 4) => found.push(IpAddr::V4(Ipv4Addr::new(
                data[0], data[1], data[2], data[3],
            ))),
            (AAAA, AAAA, 16) => {
                let mut b = [0u8; 16];
                b.copy_from_slice(data);
                found.push(IpAddr::V6(Ipv6Addr::from(b)));
            }
            _ => {}
        }
    }
    Ok(found)
}

/// Asks `server` for the `qtype` records of `name`.
pub async fn resolve(server: SocketAddr, name: &str, qtype: u16) -> Result<Vec<IpAddr>, String> {
    let mut id = [0u8; 2];
    getrandom::fill(&mut id).map_err(|e| e.to_string())?;
    let id = u16::from_be_bytes(id);
    let bind: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(bind)
        .await
        .map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    socket
        .connect(server)
        .await
        .map_err(|e| format!("cannot reach the DNS server {server}: {e}"))?;
    socket
        .send(&query(id, name, qtype)?)
        .await
        .map_err(|e| format!("cannot send to the DNS server {server}: {e}"))?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = socket
            .recv(&mut buf)
            .await
            .map_err(|e| format!("no answer from the DNS server {server}: {e}"))?;
        // An answer to another question (a late one) is not ours: keep waiting.
        if u16_at(&buf[..n], 0) == Some(id) {
            return parse_answer(&buf[..n], id, qtype);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_with_compressed_names_are_read() {
        let mut msg = query(7, "nas.lan", A).unwrap();
        msg[2] = 0x81;
        msg[3] = 0x80;
        msg[7] = 2; // two answers
        // CNAME (skipped), then A 10.0.0.2, both named by a pointer to the question.
        msg.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12]);
        msg.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 2]);
        assert_eq!(
            parse_answer(&msg, 7, A).unwrap(),
            vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))]
        );
        msg[3] = 0x83;
        assert!(parse_answer(&msg, 7, A).unwrap_err().contains("NXDOMAIN"));
        assert!(parse_answer(&msg[..5], 7, A).is_err());
    }
}
