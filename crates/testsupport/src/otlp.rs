//! An OTLP/HTTP trace receiver for tests: listens on a loopback port, keeps every
//! `POST /v1/traces` request, and decodes the protobuf bodies with the OpenTelemetry project's
//! generated message types (the same schema a real collector uses).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
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
    pub body: Vec<u8>,
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
    pub endpoint: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl OtlpReceiver {
    pub fn start() -> OtlpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the OTLP receiver");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let sink = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let sink = sink.clone();
                std::thread::spawn(move || serve(stream, &sink));
            }
        });
        OtlpReceiver { endpoint, got }
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

/// Answers HTTP/1.1 requests on one connection (keep-alive) with `200 OK`.
fn serve(stream: std::net::TcpStream, sink: &Mutex<Vec<Received>>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        let mut content_type = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                match name.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "content-type" => content_type = value.trim().to_owned(),
                    _ => {}
                }
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
                body,
            });
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
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
