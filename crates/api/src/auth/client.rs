//! Facts about the client: its address (from `X-Forwarded-For` only when the peer is a trusted
//! proxy), its user agent, whether it reached us over TLS, and whether a request's `Origin` is
//! our own.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use services::identity::ClientMeta;

use super::AuthConfig;
use crate::AppState;
use crate::error::ApiError;

const USER_AGENT_MAX: usize = 512;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address; `None` when unknown (in-process tests).
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    /// Did the client use https (directly or via a trusted TLS-terminating proxy)?
    pub https: bool,
}

impl ClientInfo {
    pub fn from_parts(parts: &Parts, config: &AuthConfig) -> ClientInfo {
        Self::from_request(&parts.headers, &parts.extensions, config)
    }

    pub fn from_request(
        headers: &HeaderMap,
        extensions: &axum::http::Extensions,
        config: &AuthConfig,
    ) -> ClientInfo {
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let trusted = |ip: &IpAddr| config.trusted_proxies.iter().any(|n| n.contains(ip));
        let via_proxy = peer.is_some_and(|p| trusted(&p));
        let ip = if via_proxy {
            forwarded_client(headers, &trusted).or(peer)
        } else {
            peer
        };
        let forwarded_https = via_proxy
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').next().map(str::trim) == Some("https"));
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(USER_AGENT_MAX).collect());
        ClientInfo {
            ip: ip.map(canonical),
            user_agent,
            https: forwarded_https || config.tls(),
        }
    }

    /// What the identity service records of the client (address and user agent).
    pub fn meta(&self) -> ClientMeta {
        ClientMeta {
            ip: self.ip,
            user_agent: self.user_agent.clone(),
        }
    }
}

/// The right-most address in `X-Forwarded-For` that is not itself a trusted proxy: each proxy
/// appends the address it received from, so everything left of that could be forged by the
/// client.
fn forwarded_client(headers: &HeaderMap, trusted: &impl Fn(&IpAddr) -> bool) -> Option<IpAddr> {
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .find(|ip| !trusted(ip))
        .or(hops.first())
        .copied()
}

/// IPv4-mapped IPv6 addresses count as the IPv4 address (one throttle counter per client).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(ClientInfo::from_parts(parts, &state.auth.config))
    }
}

/// Is the request's `Origin` (or, lacking it, `Referer`) this server? `require` decides what
/// a request with neither header gets: browsers send `Origin` on every cross-site write, so
/// its absence is only suspicious where a cookie authenticates the request.
pub fn same_origin(headers: &HeaderMap, config: &AuthConfig, require: bool) -> bool {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            headers
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .and_then(origin_of)
        });
    let Some(origin) = origin else {
        return !require;
    };
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    if config
        .public_origin
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case(&origin))
        || config.allowed_origins.contains(&origin)
    {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    match (origin.split_once("://"), host) {
        (Some((scheme, authority)), Some(host)) => {
            matches!(scheme, "http" | "https") && authority == host
        }
        _ => false,
    }
}

/// `scheme://authority` of a URL.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn parts(peer: &str, headers: &[(&str, &str)]) -> Parts {
        let mut req = Request::builder();
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut req = req.body(()).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        req.into_parts().0
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let config = AuthConfig {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            ..AuthConfig::default()
        };
        let direct = ClientInfo::from_parts(
            &parts("203.0.113.9:5000", &[("x-forwarded-for", "1.2.3.4")]),
            &config,
        );
        assert_eq!(direct.ip, Some("203.0.113.9".parse().unwrap()), "spoofed");
        let proxied = ClientInfo::from_parts(
            &parts(
                "10.0.0.2:5000",
                &[
                    ("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.3"),
                    ("x-forwarded-proto", "https"),
                ],
            ),
            &config,
        );
        assert_eq!(proxied.ip, Some("198.51.100.7".parse().unwrap()));
        assert!(proxied.https);
        let mapped = ClientInfo::from_parts(&parts("[::ffff:192.0.2.1]:1", &[]), &config);
        assert_eq!(mapped.ip, Some("192.0.2.1".parse().unwrap()));
        assert!(!mapped.https);
    }

    #[test]
    fn origin_must_match_host_or_public_url() {
        let config = AuthConfig {
            public_origin: Some("https://dash.example.net".into()),
            ..AuthConfig::default()
        };
        let h = |pairs: &[(&str, &str)]| {
            let mut map = HeaderMap::new();
            for (k, v) in pairs {
                map.insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            map
        };
        let ok = h(&[
            ("origin", "http://localhost:8000"),
            ("host", "localhost:8000"),
        ]);
        assert!(same_origin(&ok, &config, true));
        let public = h(&[("origin", "https://dash.example.net"), ("host", "10.0.0.5")]);
        assert!(same_origin(&public, &config, true));
        let evil = h(&[
            ("origin", "https://evil.example"),
            ("host", "localhost:8000"),
        ]);
        assert!(!same_origin(&evil, &config, true));
        assert!(!same_origin(&evil, &config, false));
        let referer = h(&[
            ("referer", "http://localhost:8000/projects"),
            ("host", "localhost:8000"),
        ]);
        assert!(same_origin(&referer, &config, true));
        let none = h(&[("host", "localhost:8000")]);
        assert!(!same_origin(&none, &config, true));
        assert!(same_origin(&none, &config, false));
        let null = h(&[("origin", "null"), ("host", "localhost:8000")]);
        assert!(!same_origin(&null, &config, true));
    }
}
