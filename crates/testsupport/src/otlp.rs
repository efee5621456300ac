//! An OTLP/HTTP trace receiver for tests: listens on a loopback port (plain HTTP, or HTTPS with a
//! certificate of a fresh test CA), keeps every request, answers `200 OK`, and decodes the
//! protobuf bodies with the OpenTelemetry project's generated message types (the same schema a
//! real collector uses). Any path is answered, so it also stands in for a stack service's
//! health endpoint.

use std::io::{BufRead as _, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value};
use prost::Message as _;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// e.g. `POST /v1/traces`.
    pub request_line: String,
    pub content_type: String,
    /// Every header, names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    /// The value of header `name` (lowercase), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A span as decoded from a request, ids in lowercase hex.
#[derive(Debug, Clone)]
pub struct DecodedSpan {
    pub trace_id: String,
    pub span_id: String,
    /// `None` for a root span (empty `parent_span_id`).
    pub parent: Option<String>,
    pub name: String,
    /// `SpanKind` as its protobuf number (1 internal, 2 server).
    pub kind: i32,
    pub start: u64,
    pub end: u64,
    /// Attributes with values rendered as text.
    pub attributes: Vec<(String, String)>,
    /// `Status.code` (2 = error), 0 when unset.
    pub status_code: i32,
}

impl DecodedSpan {
    pub fn has(&self, key: &str, value: &str) -> bool {
        self.attributes.iter().any(|(k, v)| k == key && v == value)
    }
}

/// A receiver running on its own thread until the process ends.
pub struct OtlpReceiver {
    /// `http://127.0.0.1:<port>`, or `https://localhost:<port>` for [`OtlpReceiver::start_tls`].
    pub endpoint: String,
    got: Arc<Mutex<Vec<Received>>>,
    /// The test CA and server certificate of a TLS receiver.
    certs: Option<tempfile::TempDir>,
}

impl OtlpReceiver {
    pub fn start() -> OtlpReceiver {
        Self::start_with(false)
    }

    /// A receiver that only speaks TLS, with a certificate for `localhost` and 127.0.0.1 signed
    /// by a fresh test CA ([`OtlpReceiver::ca_file`]) that no system trusts.
    pub fn start_tls() -> OtlpReceiver {
        Self::start_with(true)
    }

    /// The test CA's certificate (PEM file) of a TLS receiver.
    pub fn ca_file(&self) -> PathBuf {
        self.certs
            .as_ref()
            .expect("a TLS receiver")
            .path()
            .join("ca.pem")
    }

    fn start_with(tls: bool) -> OtlpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the OTLP receiver");
        let port = listener.local_addr().expect("address").port();
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let (endpoint, certs, config) = if tls {
            let dir = tempfile::tempdir().expect("temporary directory");
            crate::make_certificates(dir.path());
            let config = server_config(dir.path());
            (format!("https://localhost:{port}"), Some(dir), Some(config))
        } else {
            (format!("http://127.0.0.1:{port}"), None, None)
        };
        let sink = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let sink = sink.clone();
                let config = config.clone();
                std::thread::spawn(move || match config {
                    Some(config) => {
                        let Ok(conn) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        // One TLS stream, read and written in turn by this thread.
                        let tls = Arc::new(Mutex::new(rustls::StreamOwned::new(conn, stream)));
                        serve(Shared(tls.clone()), Shared(tls), &sink);
                    }
                    None => {
                        let Ok(writer) = stream.try_clone() else {
                            return;
                        };
                        serve(stream, writer, &sink);
                    }
                });
            }
        });
        OtlpReceiver {
            endpoint,
            got,
            certs,
        }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Received> {
        self.got
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// (resource attributes of the last request, every span received so far).
    pub fn spans(&self) -> (Vec<(String, String)>, Vec<DecodedSpan>) {
        let mut resource = Vec::new();
        let mut spans = Vec::new();
        for r in self.requests() {
            let (attrs, s) = decode(&r.body);
            resource = attrs;
            spans.extend(s);
        }
        (resource, spans)
    }
}

type Tls = rustls::StreamOwned<rustls::ServerConnection, std::net::TcpStream>;

/// A TLS stream used as both halves of a connection (requests and answers alternate).
struct Shared(Arc<Mutex<Tls>>);

impl Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .read(buf)
    }
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .flush()
    }
}

fn server_config(dir: &std::path::Path) -> Arc<rustls::ServerConfig> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .expect("server certificate")
        .collect::<Result<_, _>>()
        .expect("server certificate");
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).expect("server key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server certificate and key");
    Arc::new(config)
}

/// Answers HTTP/1.1 requests on one connection (keep-alive) with `200 OK`.
fn serve(stream: impl Read, mut writer: impl Write, sink: &Mutex<Vec<Received>>) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        let mut content_type = String::new();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let name = name.trim().to_ascii_lowercase();
                match name.as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "content-type" => content_type = value.trim().to_owned(),
                    _ => {}
                }
                headers.push((name, value.trim().to_owned()));
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        sink.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Received {
                request_line: request_line.trim_end().to_owned(),
                content_type,
                headers,
                body,
            });
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .and_then(|()| writer.flush())
            .is_err()
        {
            return;
        }
    }
}

fn render(kv: &KeyValue) -> (String, String) {
    let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    };
    (kv.key.clone(), value)
}

/// Decodes an `ExportTraceServiceRequest` body: (resource attributes, spans). Panics on a body
/// that is not valid OTLP protobuf.
pub fn decode(body: &[u8]) -> (Vec<(String, String)>, Vec<DecodedSpan>) {
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf body");
    let mut resource = Vec::new();
    let mut spans = Vec::new();
    for rs in request.resource_spans {
        if let Some(r) = rs.resource {
            resource.extend(r.attributes.iter().map(render));
        }
        for ss in rs.scope_spans {
            for s in ss.spans {
                spans.push(DecodedSpan {
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent: (!s.parent_span_id.is_empty()).then(|| hex(&s.parent_span_id)),
                    name: s.name,
                    kind: s.kind,
                    start: s.start_time_unix_nano,
                    end: s.end_time_unix_nano,
                    attributes: s.attributes.iter().map(render).collect(),
                    status_code: s.status.map_or(0, |st| st.code),
                });
            }
        }
    }
    (resource, spans)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
