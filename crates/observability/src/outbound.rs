//! Outbound HTTP for the services beside TaylorDash (VictoriaMetrics, Prometheus, Grafana, the
//! object store, the OTLP collector), through `reqwest` over rustls: `http://` or `https://`, a
//! deadline on the whole exchange, a cap on the response size, no redirects followed.
//!
//! HTTPS trusts the system's CA certificates (`SSL_CERT_FILE` / `SSL_CERT_DIR` are honoured)
//! plus, when configured, extra PEM CA certificates ([`trust_extra_ca`], the `stack.ca_file`
//! setting) — for a home lab whose services carry certificates of a private CA. The standard
//! `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` variables apply.
//!
//! The shared client keeps no idle connections (one connection per request, as the services are
//! asked rarely): a pooled connection belongs to the runtime that opened it, and the app, its
//! OTLP exporter thread and tests run several. A [`Client`] made with [`Client::pooled`] keeps
//! them (the OTLP exporter, which only ever runs on its own thread).

use std::sync::OnceLock;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};

/// Largest response body read.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Percent-encodes a query-string value (everything but RFC 3986's unreserved characters).
pub fn encode_query_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A base URL such as `http://victoriametrics:8428` or `https://vm.lab:8428/prefix` (a path
/// prefix is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    https: bool,
    host: String,
    port: u16,
    prefix: String,
}

impl BaseUrl {
    /// Parses `http[s]://host[:port][/prefix]`; anything else is refused with a reason.
    pub fn parse(url: &str) -> Result<BaseUrl, String> {
        let uri: Uri = url
            .trim()
            .parse()
            .map_err(|e| format!("'{url}' is not a URL: {e}"))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => {
                return Err(format!(
                    "'{url}': only http:// and https:// are supported for stack services, not {other}://"
                ));
            }
            None => return Err(format!("'{url}' has no scheme; use http://host:port")),
        };
        if uri.query().is_some() {
            return Err(format!("'{url}': a base URL takes no query"));
        }
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(format!(
                "'{url}': credentials in the URL are not supported (use headers or a proxy)"
            ));
        }
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("'{url}' has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        Ok(BaseUrl {
            https,
            host,
            port: uri.port_u16().unwrap_or(if https { 443 } else { 80 }),
            prefix: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// Whether requests go over TLS.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// `host:port`, an IPv6 address in brackets.
    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL of `path_and_query` under this base.
    pub fn join(&self, path_and_query: &str) -> String {
        format!("{self}{path_and_query}")
    }
}

impl std::fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.authority(), self.prefix)
    }
}

/// A response: status, `Content-Type` and body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    pub body: Bytes,
}

/// Extra CA certificates (PEM) trusted besides the system's; set once, before the first request.
static EXTRA_CA: OnceLock<Vec<reqwest::Certificate>> = OnceLock::new();

/// Reads the PEM certificates in `pem`: at least one, all valid.
pub fn parse_ca_pem(pem: &[u8]) -> Result<Vec<reqwest::Certificate>, String> {
    let certs = reqwest::Certificate::from_pem_bundle(pem)
        .map_err(|e| format!("not PEM CA certificates: {e}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate in it".into());
    }
    Ok(certs)
}

/// Trusts the CA certificates in `pem` (besides the system's) for every outbound request. Call it
/// once at startup, before the first request; later calls fail.
pub fn trust_extra_ca(pem: &[u8]) -> Result<(), String> {
    let certs = parse_ca_pem(pem)?;
    EXTRA_CA
        .set(certs)
        .map_err(|_| "extra CA certificates were already set".to_owned())
}

/// A client for the stack services; cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    inner: reqwest::Client,
    /// Why HTTPS cannot work (no CA certificate at all), reported on `https://` requests.
    tls_problem: Option<String>,
}

impl Client {
    /// The process-wide client: no idle connections kept (see the module documentation).
    pub fn shared() -> &'static Client {
        static SHARED: OnceLock<Client> = OnceLock::new();
        SHARED.get_or_init(|| Client::build(false, &[]))
    }

    /// A client that keeps idle connections, trusting `extra_ca` too (besides the system's and
    /// those given to [`trust_extra_ca`]). Use it from one runtime only.
    pub fn pooled(extra_ca: &[reqwest::Certificate]) -> Client {
        Client::build(true, extra_ca)
    }

    fn build(pooled: bool, extra_ca: &[reqwest::Certificate]) -> Client {
        // reqwest is built without a default crypto provider: use ring, as the MQTT client and
        // the object store do.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let roots: Vec<reqwest::Certificate> = EXTRA_CA
            .get()
            .into_iter()
            .flatten()
            .chain(extra_ca)
            .cloned()
            .collect();
        let builder = || {
            let b = reqwest::Client::builder()
                .user_agent(concat!("taylordash/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(10))
                .tcp_nodelay(true);
            if pooled {
                b.pool_idle_timeout(Duration::from_secs(60))
            } else {
                b.pool_max_idle_per_host(0)
            }
        };
        match builder().tls_certs_merge(roots.clone()).build() {
            Ok(inner) => Client {
                inner,
                tls_problem: None,
            },
            // No CA certificate at all (system store empty, nothing extra): plain HTTP still
            // works, HTTPS says why it cannot.
            Err(e) => Client {
                inner: builder()
                    .tls_certs_only(roots)
                    .build()
                    .unwrap_or_else(|_| reqwest::Client::new()),
                tls_problem: Some(format!(
                    "HTTPS is unavailable: {e} (install CA certificates, or set stack.ca_file)"
                )),
            },
        }
    }

    /// Sends one request to `base` + `path_and_query` and reads the whole answer within
    /// `timeout`.
    pub async fn send(
        &self,
        base: &BaseUrl,
        request: Outgoing<'_>,
        timeout: Duration,
    ) -> Result<Reply, String> {
        if base.https
            && let Some(problem) = &self.tls_problem
        {
            return Err(format!("cannot reach {base}: {problem}"));
        }
        tokio::time::timeout(timeout, self.exchange(base, request))
            .await
            .map_err(|_| format!("no answer from {base} within {} ms", timeout.as_millis()))?
    }

    async fn exchange(&self, base: &BaseUrl, request: Outgoing<'_>) -> Result<Reply, String> {
        let mut builder = self
            .inner
            .request(request.method, base.join(request.path_and_query))
            .headers(request.headers)
            .body(request.body);
        if let Some(ct) = request.content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        let mut res = builder.send().await.map_err(|e| {
            if e.is_connect() {
                // The innermost cause says it: refused, unknown host, certificate.
                format!("cannot connect to {base}: {}", innermost(e))
            } else {
                format!("request to {base} failed: {}", error_chain(e))
            }
        })?;
        let status = res.status();
        let content_type = res.headers().get(header::CONTENT_TYPE).cloned();
        if res
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(too_large(base));
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = res
            .chunk()
            .await
            .map_err(|e| format!("reading the answer of {base} failed: {}", error_chain(e)))?
        {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(too_large(base));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply {
            status,
            content_type,
            body: body.freeze(),
        })
    }
}

fn too_large(base: &BaseUrl) -> String {
    format!("the answer of {base} is larger than {MAX_RESPONSE_BYTES} bytes")
}

/// The deepest cause of `e` (or `e` itself).
fn innermost(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut last: &dyn std::error::Error = &e;
    while let Some(s) = last.source() {
        last = s;
    }
    last.to_string()
}

/// The error and its causes (reqwest's own message alone says little, e.g. "error sending
/// request"), without the URL (the caller names the service).
fn error_chain(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut out = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// One request: method, path (and query) under the base URL, extra headers, body.
#[derive(Debug)]
pub struct Outgoing<'a> {
    pub method: Method,
    pub path_and_query: &'a str,
    pub content_type: Option<&'a str>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl<'a> Outgoing<'a> {
    pub fn get(path_and_query: &'a str) -> Outgoing<'a> {
        Outgoing {
            method: Method::GET,
            path_and_query,
            content_type: None,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    pub fn post(path_and_query: &'a str, content_type: &'a str, body: Bytes) -> Outgoing<'a> {
        Outgoing {
            method: Method::POST,
            path_and_query,
            content_type: Some(content_type),
            headers: HeaderMap::new(),
            body,
        }
    }
}

/// Sends one request with the shared client (see [`Client::send`]).
pub async fn send(
    base: &BaseUrl,
    method: Method,
    path_and_query: &str,
    content_type: Option<&str>,
    body: Bytes,
    timeout: Duration,
) -> Result<Reply, String> {
    let request = Outgoing {
        method,
        path_and_query,
        content_type,
        headers: HeaderMap::new(),
        body,
    };
    Client::shared().send(base, request, timeout).await
}

/// `GET` with an empty body, with the shared client.
pub async fn get(base: &BaseUrl, path: &str, timeout: Duration) -> Result<Reply, String> {
    Client::shared()
        .send(base, Outgoing::get(path), timeout)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let b = BaseUrl::parse("http://victoriametrics:8428/").unwrap();
        assert_eq!(b.to_string(), "http://victoriametrics:8428");
        let b = BaseUrl::parse("http://127.0.0.1/prefix/").unwrap();
        assert_eq!((b.port, b.prefix.as_str()), (80, "/prefix"));
        let b = BaseUrl::parse("http://[::1]:9090").unwrap();
        assert_eq!(b.authority(), "[::1]:9090");
        let b = BaseUrl::parse("https://vm.lab").unwrap();
        assert!(b.is_https());
        assert_eq!(b.to_string(), "https://vm.lab:443");
        assert_eq!(b.join("/api/v1/import"), "https://vm.lab:443/api/v1/import");
        assert!(
            BaseUrl::parse("ftp://x")
                .unwrap_err()
                .contains("only http:// and https://")
        );
        assert!(BaseUrl::parse("http://user:pw@x").is_err());
        assert!(BaseUrl::parse("http://x/?a=1").is_err());
        assert!(BaseUrl::parse("victoriametrics:8428").is_err());
        assert!(BaseUrl::parse("not a url").is_err());
    }

    #[test]
    fn ca_files_must_hold_certificates() {
        assert!(parse_ca_pem(b"").is_err());
        assert!(parse_ca_pem(b"not a certificate").is_err());
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            encode_query_value("sum(x{a=\"b c\"})"),
            "sum%28x%7Ba%3D%22b%20c%22%7D%29"
        );
        assert_eq!(encode_query_value("a-b.c_d~9"), "a-b.c_d~9");
    }
}
