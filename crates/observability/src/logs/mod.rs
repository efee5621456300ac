//! Structured logs: the `tracing` layer that records them ([`layer`]), secret redaction
//! ([`redact`]) and the bounded batched writer into `application_logs` ([`sink`]).

pub mod layer;
pub mod redact;
pub mod sink;

pub use layer::{LogLayer, to_json_line};
pub use sink::{LogSettings, LogSink, apply_retention};
