//! Running one check once: HTTP(S), TCP, ping and DNS probes, each within the check's timeout.
//! Heartbeat kinds (push, MQTT) are not probed: when one is due, nothing arrived in time.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use domain::{
    Check, CheckSecrets, CheckStatus, CheckTarget, DnsTarget, HttpTarget, Outcome, status_ranges,
};
use http::{HeaderName, HeaderValue, Method, Request, header};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::{dns, ping, tls};

/// Most of a response body read when looking for a keyword.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most redirects followed.
pub const MAX_REDIRECTS: usize = 10;

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

/// Runs `check` once (heartbeat kinds: the "nothing arrived" outcome) at `now`.
pub async fn run(check: &Check, secrets: &CheckSecrets, now: DateTime<Utc>) -> Outcome {
    let timeout = Duration::from_secs(check.timeout_secs.max(1).unsigned_abs().into());
    let probe = async {
        match &check.target {
            CheckTarget::Http(t) => http(t, secrets, now).await,
            CheckTarget::Tcp(t) => tcp(&t.host, t.port).await,
            CheckTarget::Ping(t) => icmp(&t.host).await,
            CheckTarget::Dns(t) => dns_check(t).await,
            CheckTarget::Mqtt(t) => Outcome::down(format!(
                "no message on {} within {} s (+{} s grace)",
                t.topic_filter, check.interval_secs, t.grace_secs
            )),
            CheckTarget::Push(t) => Outcome::down(format!(
                "no push within {} s (+{} s grace)",
                check.interval_secs, t.grace_secs
            )),
        }
    };
    match tokio::time::timeout(timeout, probe).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::down(format!("timed out after {} s", check.timeout_secs)),
    }
}

async fn addresses(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    if found.is_empty() {
        return Err(format!("{host} has no address"));
    }
    Ok(found)
}

async fn connect(host: &str, port: u16) -> Result<TcpStream, String> {
    let mut last = String::new();
    for addr in addresses(host, port).await? {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

async fn tcp(host: &str, port: u16) -> Outcome {
    let started = Instant::now();
    match connect(host, port).await {
        Ok(_) => Outcome::up(ms(started)),
        Err(e) => Outcome::down(e),
    }
}

async fn icmp(host: &str) -> Outcome {
    let ip = match addresses(host, 0).await {
        Ok(a) => a[0].ip(),
        Err(e) => return Outcome::down(e),
    };
    match ping::echo(ip).await {
        Ok(rtt) => Outcome::up(rtt),
        Err(e) => Outcome::down(e),
    }
}

async fn dns_check(t: &DnsTarget) -> Outcome {
    let started = Instant::now();
    let qtype = if t.record_type == "AAAA" {
        dns::AAAA
    } else {
        dns::A
    };
    let found = match &t.server {
        Some(server) => match domain::dns_server(server) {
            Ok(addr) => dns::resolve(addr, &t.name, qtype).await,
            Err(e) => Err(e.message),
        },
        None => addresses(&t.name, 0).await.map(|a| {
            a.into_iter()
                .map(|s| s.ip())
                .filter(|ip| ip.is_ipv6() == (qtype == dns::AAAA))
                .collect()
        }),
    };
    let latency = ms(started);
    match found {
        Err(e) => Outcome::down(e),
        Ok(addrs) if addrs.is_empty() => {
            Outcome::down(format!("{} has no {} record", t.name, t.record_type))
        }
        Ok(addrs) if !t.expected.is_empty() && !addrs.iter().any(|a| t.expected.contains(a)) => {
            let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
            let mut o = Outcome::down(format!(
                "{} resolves to {}, none of the expected addresses",
                t.name,
                list.join(", ")
            ));
            o.latency_ms = Some(latency);
            o
        }
        Ok(_) => Outcome::up(latency),
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What one HTTP exchange gave.
struct Exchange {
    status: http::StatusCode,
    location: Option<String>,
    body: Bytes,
    cert_expires_at: Option<DateTime<Utc>>,
}

async fn exchange(
    url: &url::Url,
    t: &HttpTarget,
    secrets: &CheckSecrets,
    method: &Method,
) -> Result<Exchange, String> {
    let host = url.host_str().ok_or("the URL has no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(80);
    let tcp = connect(host, port).await?;
    let mut cert_expires_at = None;
    let stream: Box<dyn Io> = if url.scheme() == "https" {
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| format!("{host} cannot be a TLS server name: {e}"))?;
        let connector = tokio_rustls::TlsConnector::from(tls::client_config(t.allow_self_signed));
        let stream = connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake failed: {e}"))?;
        cert_expires_at = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|c| tls::not_after(c));
        Box::new(stream)
    } else {
        Box::new(tcp)
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    // Drives this one connection; it ends with the exchange (or the check's timeout).
    tokio::spawn(conn);
    let authority = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or(host)),
        None => url.host_str().unwrap_or(host).to_owned(),
    };
    let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let mut req = Request::builder()
        .method(method.clone())
        .uri(if path.is_empty() { "/" } else { path })
        .header(header::HOST, authority)
        .header(
            header::USER_AGENT,
            concat!("TaylorDash/", env!("CARGO_PKG_VERSION"), " (service check)"),
        );
    for h in &t.headers {
        let value = match (&h.value, h.secret) {
            (Some(v), _) => v.as_str(),
            (None, _) => secrets
                .0
                .get(&h.name)
                .map(String::as_str)
                .unwrap_or_default(),
        };
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| format!("header {} has an invalid name", h.name))?;
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| format!("header {} has an invalid value", h.name))?;
        value.set_sensitive(h.secret);
        req = req.header(name, value);
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("cannot build the request: {e}"))?;
    let res = sender
        .send_request(req)
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = res.status();
    let location = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = if t.keyword.is_some() && *method != Method::HEAD {
        match Limited::new(res.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                // A body over the cap is searched in what was read.
                if e.to_string().contains("length limit") {
                    Bytes::new()
                } else {
                    return Err(format!("reading the body failed: {e}"));
                }
            }
        }
    } else {
        Bytes::new()
    };
    Ok(Exchange {
        status,
        location,
        body,
        cert_expires_at,
    })
}

async fn http(t: &HttpTarget, secrets: &CheckSecrets, now: DateTime<Utc>) -> Outcome {
    let started = Instant::now();
    let mut url = match url::Url::parse(&t.url) {
        Ok(u) => u,
        Err(e) => return Outcome::down(format!("invalid URL: {e}")),
    };
    let mut method = Method::from_bytes(t.method.as_bytes()).unwrap_or(Method::GET);
    let mut first_cert = None;
    let mut hops = 0;
    let reply = loop {
        let reply = match exchange(&url, t, secrets, &method).await {
            Ok(r) => r,
            Err(e) => return Outcome::down(e),
        };
        if hops == 0 {
            first_cert = reply.cert_expires_at;
        }
        let redirect = reply.status.is_redirection() && t.follow_redirects;
        match (redirect, &reply.location) {
            (true, Some(location)) if hops < MAX_REDIRECTS => {
                url = match url.join(location) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => u,
                    _ => return Outcome::down(format!("redirect to an unusable URL: {location}")),
                };
                if reply.status == http::StatusCode::SEE_OTHER
                    || (method == Method::POST && reply.status.as_u16() <= 302)
                {
                    method = Method::GET;
                }
                hops += 1;
            }
            (true, Some(_)) => {
                return Outcome::down(format!("more than {MAX_REDIRECTS} redirects"));
            }
            _ => break reply,
        }
    };
    let latency = ms(started);
    let mut outcome = Outcome {
        status: CheckStatus::Up,
        latency_ms: Some(latency),
        error: None,
        cert_expires_at: first_cert,
    };
    let code = reply.status.as_u16();
    let accepted = status_ranges(&t.expected_status)
        .map(|r| r.iter().any(|(a, b)| (*a..=*b).contains(&code)))
        .unwrap_or(false);
    if !accepted {
        outcome.status = CheckStatus::Down;
        outcome.error = Some(format!("HTTP {code} (expected {})", t.expected_status));
        return outcome;
    }
    if let Some(keyword) = &t.keyword {
        let found = memchr_find(&reply.body, keyword.as_bytes());
        if found == t.keyword_absent {
            outcome.status = CheckStatus::Down;
            outcome.error = Some(if t.keyword_absent {
                format!("the body contains \"{keyword}\"")
            } else {
                format!("the body does not contain \"{keyword}\"")
            });
            return outcome;
        }
    }
    if let Some(expires) = first_cert.filter(|_| t.cert_expiry_warn_days > 0) {
        let left = expires - now;
        if left <= chrono::Duration::zero() {
            outcome.status = CheckStatus::Down;
            outcome.error = Some(format!(
                "the TLS certificate expired on {}",
                expires.date_naive()
            ));
        } else if left <= chrono::Duration::days(i64::from(t.cert_expiry_warn_days)) {
            outcome.status = CheckStatus::Degraded;
            outcome.error = Some(format!(
                "the TLS certificate expires in {} days ({})",
                left.num_days(),
                expires.date_naive()
            ));
        }
    }
    outcome
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
