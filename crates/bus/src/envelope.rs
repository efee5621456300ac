//! Decoding and validating an incoming message into an event — or into a dead letter that says
//! exactly why not. Every check the database would otherwise make is made here first, so a
//! message can never poison an ingest batch.

use chrono::{DateTime, Utc};
use domain::{
    ComponentStatus, DeadReason, EventSource, JsonObject, NewDeadLetter, NewEvent, ProjectStatus,
    TaskStatus,
};
use serde_json::Value;
use uuid::Uuid;

/// Longest topic, kind and idempotency key accepted (the database columns' sizes).
pub const MAX_TOPIC: usize = 255;
pub const MAX_KIND: usize = 128;
pub const MAX_KEY: usize = 255;
/// How much of an oversized or undecodable message a dead letter keeps.
const PREVIEW_BYTES: usize = 1024;

/// A message as it arrived.
pub struct RawMessage<'a> {
    pub topic: &'a str,
    pub bytes: &'a [u8],
    pub received_at: DateTime<Utc>,
    pub source: EventSource,
}

/// Decodes `msg` into an event, or explains why it is a dead letter.
pub fn decode(msg: &RawMessage<'_>, max_bytes: usize) -> Result<NewEvent, NewDeadLetter> {
    let dead = |reason: DeadReason, detail: String, payload: Value| NewDeadLetter {
        original_topic: truncate(msg.topic, MAX_TOPIC),
        reason,
        detail,
        idempotency_key: settling_key(&payload),
        payload,
        received_at: msg.received_at,
    };
    if msg.bytes.len() > max_bytes {
        return Err(dead(
            DeadReason::Oversized,
            format!(
                "message is {} bytes; the limit is {max_bytes}",
                msg.bytes.len()
            ),
            preview(msg.bytes),
        ));
    }
    let text = match std::str::from_utf8(msg.bytes) {
        Ok(t) => t,
        Err(e) => {
            return Err(dead(
                DeadReason::NotUtf8,
                format!("message is not UTF-8: {e}"),
                preview(msg.bytes),
            ));
        }
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Err(dead(
                DeadReason::InvalidJson,
                format!("message is not JSON: {e}"),
                preview(msg.bytes),
            ));
        }
    };
    // PostgreSQL cannot store U+0000 in JSON text; refuse it here rather than in the database.
    // The dead letter keeps the message as text, and the key so an outbox row is settled by it.
    if domain::json_text_has_nul(msg.bytes) {
        return Err(NewDeadLetter {
            idempotency_key: settling_key(&value),
            ..dead(
                DeadReason::InvalidField,
                "message contains a NUL character (\\u0000), which cannot be stored".into(),
                preview(msg.bytes),
            )
        });
    }
    let Value::Object(mut envelope) = value else {
        return Err(dead(
            DeadReason::NotAnObject,
            "the envelope must be a JSON object".into(),
            value,
        ));
    };
    match fields(msg, &mut envelope) {
        Ok(event) => Ok(event),
        Err((reason, detail)) => Err(dead(reason, detail, Value::Object(envelope))),
    }
}

type Invalid = (DeadReason, String);

fn fields(msg: &RawMessage<'_>, envelope: &mut JsonObject) -> Result<NewEvent, Invalid> {
    let missing: Vec<&str> = ["trace_id", "ts", "kind", "idempotency_key"]
        .into_iter()
        .filter(|f| !envelope.contains_key(*f))
        .collect();
    if !missing.is_empty() {
        return Err((
            DeadReason::MissingField,
            format!("missing fields: {}", missing.join(", ")),
        ));
    }
    let trace_id = string(envelope, "trace_id")?
        .parse::<Uuid>()
        .map_err(|e| invalid("trace_id", format!("not a UUID: {e}")))?;
    let ts = DateTime::parse_from_rfc3339(string(envelope, "ts")?)
        .map_err(|e| invalid("ts", format!("not an RFC 3339 timestamp: {e}")))?
        .to_utc();
    let kind = string(envelope, "kind")?.to_owned();
    if kind.is_empty() || kind.chars().count() > MAX_KIND {
        return Err(invalid("kind", format!("must be 1-{MAX_KIND} characters")));
    }
    if !kind
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))
    {
        return Err(invalid(
            "kind",
            "may contain only letters, digits and . _ - :".into(),
        ));
    }
    let key = string(envelope, "idempotency_key")?.to_owned();
    if key.is_empty() || key.chars().count() > MAX_KEY {
        return Err(invalid(
            "idempotency_key",
            format!("must be 1-{MAX_KEY} characters"),
        ));
    }
    if msg.topic.is_empty() || msg.topic.chars().count() > MAX_TOPIC {
        return Err(invalid(
            "topic",
            format!("must be 1-{MAX_TOPIC} characters"),
        ));
    }
    let payload = match envelope.get("payload") {
        None | Some(Value::Null) => JsonObject::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(_) => return Err(invalid("payload", "must be a JSON object".into())),
    };
    check_schema(&kind, &payload).map_err(|detail| (DeadReason::SchemaMismatch, detail))?;
    Ok(NewEvent {
        topic: msg.topic.to_owned(),
        kind,
        trace_id,
        idempotency_key: key,
        source: msg.source,
        payload,
        ts: domain::truncate_to_micros(ts),
        received_at: msg.received_at,
    })
}

/// The envelope's `idempotency_key` if it can be stored (a non-empty string of at most
/// [`MAX_KEY`] characters without NUL); it lets the outbox settle a row that was dead-lettered.
fn settling_key(envelope: &Value) -> Option<String> {
    let key = envelope.get("idempotency_key")?.as_str()?;
    (!key.is_empty() && key.chars().count() <= MAX_KEY && !key.contains('\0'))
        .then(|| key.to_owned())
}

fn invalid(field: &str, why: String) -> Invalid {
    (DeadReason::InvalidField, format!("{field}: {why}"))
}

fn string<'a>(envelope: &'a JsonObject, field: &str) -> Result<&'a str, Invalid> {
    envelope
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(field, "must be a string".into()))
}

/// The payload rules of the known event families (v1's schema registry): `project.*`,
/// `component.*`, `task.*` and `metric.*`. Other kinds are accepted with any payload object.
pub fn check_schema(kind: &str, payload: &JsonObject) -> Result<(), String> {
    let family = kind.split('.').next().unwrap_or_default();
    let has_family = kind.contains('.');
    match family {
        "project" if has_family => {
            require_uuid(payload, "project_id")?;
            require_string(payload, "name")?;
            optional_status::<ProjectStatus>(payload)
        }
        "component" if has_family => {
            require_uuid(payload, "component_id")?;
            require_uuid(payload, "project_id")?;
            optional_status::<ComponentStatus>(payload)?;
            if let Some(p) = payload.get("progress").filter(|v| !v.is_null()) {
                match p.as_i64() {
                    Some(0..=100) => {}
                    _ => return Err("payload.progress must be an integer 0-100".into()),
                }
            }
            if let Some(pos) = payload.get("position").filter(|v| !v.is_null()) {
                let ok = pos.get("x").is_some_and(Value::is_number)
                    && pos.get("y").is_some_and(Value::is_number);
                if !ok {
                    return Err("payload.position must be {\"x\": number, \"y\": number}".into());
                }
            }
            if let Some(d) = payload.get("dependencies").filter(|v| !v.is_null())
                && !d.is_array()
            {
                return Err("payload.dependencies must be an array".into());
            }
            Ok(())
        }
        "task" if has_family => {
            require_uuid(payload, "task_id")?;
            require_uuid(payload, "component_id")?;
            optional_status::<TaskStatus>(payload)
        }
        "metric" if has_family => {
            require_string(payload, "metric_name")?;
            if !payload.get("value").is_some_and(Value::is_number) {
                return Err("payload.value must be a number".into());
            }
            if let Some(l) = payload.get("labels").filter(|v| !v.is_null())
                && !l.is_object()
            {
                return Err("payload.labels must be an object".into());
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn require_string(payload: &JsonObject, field: &str) -> Result<(), String> {
    match payload.get(field) {
        Some(Value::String(_)) => Ok(()),
        Some(_) => Err(format!("payload.{field} must be a string")),
        None => Err(format!("payload.{field} is required")),
    }
}

fn require_uuid(payload: &JsonObject, field: &str) -> Result<(), String> {
    require_string(payload, field)?;
    payload
        .get(field)
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Uuid>().ok())
        .map(|_| ())
        .ok_or_else(|| format!("payload.{field} must be a UUID"))
}

fn optional_status<S>(payload: &JsonObject) -> Result<(), String>
where
    S: std::str::FromStr,
    S::Err: std::fmt::Display,
{
    match payload.get("status") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) => s
            .parse::<S>()
            .map(|_| ())
            .map_err(|e| format!("payload.status: {e}")),
        Some(_) => Err("payload.status must be a string".into()),
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// What a dead letter keeps of a message that is not usable JSON: its text (lossy), at most
/// [`PREVIEW_BYTES`], without NUL characters.
fn preview(bytes: &[u8]) -> Value {
    let head = &bytes[..bytes.len().min(PREVIEW_BYTES)];
    let text = String::from_utf8_lossy(head).replace('\0', "\u{fffd}");
    Value::String(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg<'a>(topic: &'a str, bytes: &'a [u8]) -> RawMessage<'a> {
        RawMessage {
            topic,
            bytes,
            received_at: domain::now(),
            source: EventSource::Mqtt,
        }
    }

    fn envelope(kind: &str, payload: Value) -> Vec<u8> {
        json!({
            "trace_id": Uuid::new_v4(),
            "ts": "2026-11-29T10:00:00+01:00",
            "kind": kind,
            "idempotency_key": Uuid::new_v4().to_string(),
            "payload": payload,
        })
        .to_string()
        .into_bytes()
    }

    fn reason(topic: &str, bytes: &[u8]) -> DeadReason {
        decode(&msg(topic, bytes), 1 << 20).unwrap_err().reason
    }

    #[test]
    fn accepts_a_valid_envelope_and_keeps_its_fields() {
        let bytes = envelope("custom.thing", json!({"a": 1}));
        let e = decode(&msg("tracker/events/x/y", &bytes), 1 << 20).unwrap();
        assert_eq!(e.kind, "custom.thing");
        assert_eq!(e.payload["a"], 1);
        assert_eq!(e.ts.to_rfc3339(), "2026-11-29T09:00:00+00:00");
    }

    #[test]
    fn classifies_bad_messages() {
        assert_eq!(reason("t", b"\xff\xfe"), DeadReason::NotUtf8);
        assert_eq!(reason("t", b"{\"trace_id\": "), DeadReason::InvalidJson);
        assert_eq!(reason("t", b"[1,2]"), DeadReason::NotAnObject);
        assert_eq!(reason("t", b"{}"), DeadReason::MissingField);
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        assert_eq!(reason("t", deep.as_bytes()), DeadReason::InvalidJson);
        let mut bad_uuid: Value = serde_json::from_slice(&envelope("x.y", json!({}))).unwrap();
        bad_uuid["trace_id"] = json!("test-123");
        assert_eq!(
            reason("t", bad_uuid.to_string().as_bytes()),
            DeadReason::InvalidField
        );
        bad_uuid["trace_id"] = json!(42);
        assert_eq!(
            reason("t", bad_uuid.to_string().as_bytes()),
            DeadReason::InvalidField
        );
        let nul = envelope("x.y", json!({"s": "a\u{0}b"}));
        assert_eq!(reason("t", &nul), DeadReason::InvalidField);
        let big = envelope("x.y", json!({"s": "x".repeat(2 << 20)}));
        let dl = decode(&msg("t", &big), 1 << 20).unwrap_err();
        assert_eq!(dl.reason, DeadReason::Oversized);
        assert!(dl.payload.as_str().unwrap().len() <= PREVIEW_BYTES);
    }

    #[test]
    fn known_kinds_are_checked_against_their_schema() {
        let good = envelope(
            "project.created",
            json!({"project_id": Uuid::new_v4(), "name": "lab", "status": "active"}),
        );
        assert!(decode(&msg("t", &good), 1 << 20).is_ok());
        let bad_status = envelope(
            "project.updated",
            json!({"project_id": Uuid::new_v4(), "name": "lab", "status": "inactive"}),
        );
        assert_eq!(reason("t", &bad_status), DeadReason::SchemaMismatch);
        let no_id = envelope("task.created", json!({"component_id": Uuid::new_v4()}));
        assert_eq!(reason("t", &no_id), DeadReason::SchemaMismatch);
        let metric = envelope(
            "metric.gauge",
            json!({"metric_name": "cpu", "value": "high"}),
        );
        assert_eq!(reason("t", &metric), DeadReason::SchemaMismatch);
        let progress = envelope(
            "component.updated",
            json!({"component_id": Uuid::new_v4(), "project_id": Uuid::new_v4(), "progress": 140}),
        );
        assert_eq!(reason("t", &progress), DeadReason::SchemaMismatch);
    }
}
