//! A small HTTP/1.1 client for the services beside TaylorDash (VictoriaMetrics, Prometheus,
//! Grafana, the object store, the OTLP collector): one connection per request, plain `http://`
//! (these run on the stack's private network), a deadline on the whole exchange, and a cap on
//! the response size.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Largest response body read.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// A base URL such as `http://victoriametrics:8428` (a path prefix is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    host: String,
    port: u16,
    prefix: String,
}

impl BaseUrl {
    /// Parses `http://host[:port][/prefix]`; anything else is refused with a reason.
    pub fn parse(url: &str) -> Result<BaseUrl, String> {
        let uri: Uri = url
            .trim()
            .parse()
            .map_err(|e| format!("'{url}' is not a URL: {e}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(format!(
                    "'{url}': only http:// is supported for stack services, not {other}://"
                ));
            }
            None => return Err(format!("'{url}' has no scheme; use http://host:port")),
        }
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("'{url}' has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        Ok(BaseUrl {
            host,
            port: uri.port_u16().unwrap_or(80),
            prefix: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// `host:port` as written in the `Host` header.
    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl std::fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.authority(), self.prefix)
    }
}

/// A response: status, `Content-Type` and body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    pub body: Bytes,
}

/// Sends one request to `base` + `path_and_query` and reads the whole answer within `timeout`.
pub async fn send(
    base: &BaseUrl,
    method: Method,
    path_and_query: &str,
    content_type: Option<&str>,
    body: Bytes,
    timeout: Duration,
) -> Result<Reply, String> {
    tokio::time::timeout(
        timeout,
        exchange(base, method, path_and_query, content_type, body),
    )
    .await
    .map_err(|_| format!("no answer from {base} within {} ms", timeout.as_millis()))?
}

async fn exchange(
    base: &BaseUrl,
    method: Method,
    path_and_query: &str,
    content_type: Option<&str>,
    body: Bytes,
) -> Result<Reply, String> {
    let stream = TcpStream::connect((base.host.as_str(), base.port))
        .await
        .map_err(|e| format!("cannot connect to {base}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake with {base} failed: {e}"))?;
    // Short-lived, per request: drives this one connection and ends when the exchange does
    // (the sender is dropped on return, or at the deadline).
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(format!("{}{path_and_query}", base.prefix))
        .header(header::HOST, base.authority())
        .header(
            header::USER_AGENT,
            concat!("taylordash/", env!("CARGO_PKG_VERSION")),
        );
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
    let res = sender
        .send_request(req)
        .await
        .map_err(|e| format!("request to {base} failed: {e}"))?;
    let status = res.status();
    let content_type = res.headers().get(header::CONTENT_TYPE).cloned();
    let body = Limited::new(res.into_body(), MAX_RESPONSE_BYTES)
        .collect()
        .await
        .map_err(|e| format!("reading the answer of {base} failed: {e}"))?
        .to_bytes();
    Ok(Reply {
        status,
        content_type,
        body,
    })
}

/// `GET` with an empty body.
pub async fn get(base: &BaseUrl, path: &str, timeout: Duration) -> Result<Reply, String> {
    send(base, Method::GET, path, None, Bytes::new(), timeout).await
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
        assert!(
            BaseUrl::parse("https://x")
                .unwrap_err()
                .contains("only http://")
        );
        assert!(BaseUrl::parse("victoriametrics:8428").is_err());
        assert!(BaseUrl::parse("not a url").is_err());
    }
}
