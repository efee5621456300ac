//! Events: what the bus stores, what it dead-letters, and the domain events every change of a
//! project, component, task or dependency emits (v1's topics, with the dotted kinds of v1's
//! schema registry).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{Component, JsonObject, Project, Task};

/// How an event entered the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSource {
    /// Received from the MQTT broker.
    Mqtt,
    /// Posted to the HTTP API.
    Http,
    /// Published by this application from its outbox.
    Outbox,
    /// Re-run from the dead-letter queue.
    Replay,
    /// Published on the in-process bus.
    Local,
}

impl EventSource {
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Mqtt => "mqtt",
            EventSource::Http => "http",
            EventSource::Outbox => "outbox",
            EventSource::Replay => "replay",
            EventSource::Local => "local",
        }
    }
}

/// A validated event about to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub topic: String,
    pub kind: String,
    pub trace_id: Uuid,
    pub idempotency_key: String,
    pub source: EventSource,
    pub payload: JsonObject,
    /// When the producer says it happened (envelope `ts`).
    pub ts: DateTime<Utc>,
    /// When this system received it.
    pub received_at: DateTime<Utc>,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: i64,
    pub topic: String,
    pub kind: String,
    pub trace_id: Uuid,
    pub idempotency_key: String,
    /// `mqtt`, `http`, `outbox`, `replay` or `local`.
    pub source: String,
    pub payload: JsonObject,
    pub ts: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

impl Event {
    /// The envelope as published on the bus: `{trace_id, ts, kind, idempotency_key, payload}`.
    pub fn envelope(&self) -> Value {
        envelope(
            self.trace_id,
            self.ts,
            &self.kind,
            &self.idempotency_key,
            &self.payload,
        )
    }
}

/// The wire envelope of an event.
pub fn envelope(
    trace_id: Uuid,
    ts: DateTime<Utc>,
    kind: &str,
    idempotency_key: &str,
    payload: &JsonObject,
) -> Value {
    json!({
        "trace_id": trace_id,
        "ts": ts,
        "kind": kind,
        "idempotency_key": idempotency_key,
        "payload": payload,
    })
}

/// Why a message was dead-lettered: a fixed set, so it can label metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadReason {
    NotUtf8,
    InvalidJson,
    NotAnObject,
    MissingField,
    InvalidField,
    Oversized,
    SchemaMismatch,
    /// Valid by every check here, yet refused by the database.
    StorageRejected,
}

impl DeadReason {
    pub const ALL: &'static [DeadReason] = &[
        DeadReason::NotUtf8,
        DeadReason::InvalidJson,
        DeadReason::NotAnObject,
        DeadReason::MissingField,
        DeadReason::InvalidField,
        DeadReason::Oversized,
        DeadReason::SchemaMismatch,
        DeadReason::StorageRejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeadReason::NotUtf8 => "not_utf8",
            DeadReason::InvalidJson => "invalid_json",
            DeadReason::NotAnObject => "not_an_object",
            DeadReason::MissingField => "missing_field",
            DeadReason::InvalidField => "invalid_field",
            DeadReason::Oversized => "oversized",
            DeadReason::SchemaMismatch => "schema_mismatch",
            DeadReason::StorageRejected => "storage_rejected",
        }
    }

    pub fn parse(s: &str) -> Option<DeadReason> {
        Self::ALL.iter().copied().find(|r| r.as_str() == s)
    }
}

/// A message that could not be accepted, kept for inspection and replay.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDeadLetter {
    pub original_topic: String,
    pub reason: DeadReason,
    /// Human-readable detail, e.g. which field is wrong.
    pub detail: String,
    /// The original message: the JSON value if it parsed, else its text (lossy for non-UTF-8).
    pub payload: Value,
    pub received_at: DateTime<Utc>,
    /// The envelope's idempotency key, when the message parsed and had a storable one: an
    /// outbox row with this key is settled by the dead letter instead of being published again.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub id: i64,
    pub original_topic: String,
    /// Category (`not_utf8`, `invalid_json`, ...).
    pub reason: String,
    pub detail: String,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
    pub replayed_at: Option<DateTime<Utc>>,
    pub replayed_event_id: Option<i64>,
    /// Set when it was replayed as an edited copy: the copy (and who edited it). The original
    /// message stays in `payload`.
    pub edit: Option<DeadLetterEdit>,
}

/// An edited copy of a dead letter's message, replayed in its place.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetterEdit {
    /// The message as edited (its JSON).
    pub payload: Value,
    /// Who edited it (a username, or "service key").
    pub by: String,
}

/// Which stored events to list. `topic` may use MQTT wildcards (`+`, `#`).
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub topic: Option<String>,
    pub kind: Option<String>,
    pub trace_id: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Cursor: only events with a smaller id (the list runs newest first).
    pub before_id: Option<i64>,
    /// Leave out the admin-only topic family (`topics::admin_only`): set for every caller below
    /// admin.
    pub hide_admin_only: bool,
}

/// An event written to the outbox in the same transaction as the change it describes.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainEvent {
    pub topic: String,
    pub kind: String,
    pub trace_id: Uuid,
    /// Deterministic where possible (`project.updated:<id>:3`), so a replayed outbox row or a
    /// redelivery is recognised as the same event.
    pub idempotency_key: String,
    pub payload: JsonObject,
}

/// An outbox row waiting to be published.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub id: i64,
    pub topic: String,
    pub kind: String,
    pub trace_id: Uuid,
    pub idempotency_key: String,
    pub payload: JsonObject,
    pub created_at: DateTime<Utc>,
}

fn without_session_id(details: &JsonObject) -> JsonObject {
    details
        .iter()
        .filter(|(k, _)| k.as_str() != "session_id")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

impl DomainEvent {
    pub(crate) fn new(
        domain: &str,
        action: &str,
        kind: &'static str,
        key: String,
        payload: Value,
    ) -> Self {
        DomainEvent {
            topic: format!("tracker/events/{domain}/{action}"),
            kind: kind.to_owned(),
            trace_id: Uuid::new_v4(),
            idempotency_key: key,
            payload: object(payload),
        }
    }

    fn project(kind: &'static str, action: &str, p: &Project, extra: Value) -> Self {
        let mut payload = object(json!({
            "project_id": p.id,
            "name": p.name,
            "status": p.status,
            "owner_id": p.owner_id,
            "version": p.version,
            "timestamp": p.updated_at,
        }));
        payload.extend(object(extra));
        let key = format!("{kind}:{}:{}", p.id, p.version);
        Self::new("projects", action, kind, key, Value::Object(payload))
    }

    pub fn project_created(p: &Project) -> Self {
        Self::project(
            "project.created",
            "created",
            p,
            json!({"description": p.description}),
        )
    }

    pub fn project_updated(p: &Project, changed: &[&str]) -> Self {
        Self::project(
            "project.updated",
            "updated",
            p,
            json!({"updated_fields": changed}),
        )
    }

    pub fn project_deleted(p: &Project) -> Self {
        Self::project("project.deleted", "deleted", p, json!({}))
    }

    fn component(kind: &'static str, action: &str, c: &Component, extra: Value) -> Self {
        let mut payload = object(json!({
            "component_id": c.id,
            "project_id": c.project_id,
            "name": c.name,
            "type": c.kind,
            "status": c.status,
            "progress": c.progress,
            "position": c.position,
            "url": c.url,
            "host": c.host,
            "icon": c.icon.as_ref().map(ToString::to_string),
            "version": c.version,
            "timestamp": c.updated_at,
        }));
        payload.extend(object(extra));
        let key = format!("{kind}:{}:{}", c.id, c.version);
        Self::new("components", action, kind, key, Value::Object(payload))
    }

    pub fn component_created(c: &Component) -> Self {
        Self::component("component.created", "created", c, json!({}))
    }

    pub fn component_updated(c: &Component, changed: &[&str]) -> Self {
        Self::component(
            "component.updated",
            "updated",
            c,
            json!({"updated_fields": changed}),
        )
    }

    pub fn component_deleted(c: &Component) -> Self {
        Self::component("component.deleted", "deleted", c, json!({}))
    }

    /// A dependency added (`linked`) or removed (`unlinked`) between two components.
    pub fn dependency(
        linked: bool,
        project_id: Uuid,
        component_id: Uuid,
        depends_on_id: Uuid,
    ) -> Self {
        let (kind, action) = if linked {
            ("component.linked", "linked")
        } else {
            ("component.unlinked", "unlinked")
        };
        // The same edge can be added and removed many times: each change is its own event.
        let key = format!("{kind}:{component_id}:{depends_on_id}:{}", Uuid::new_v4());
        Self::new(
            "components",
            action,
            kind,
            key,
            json!({
                "component_id": component_id,
                "project_id": project_id,
                "depends_on_id": depends_on_id,
                "timestamp": crate::now(),
            }),
        )
    }

    fn task(kind: &'static str, action: &str, t: &Task, extra: Value) -> Self {
        let mut payload = object(json!({
            "task_id": t.id,
            "component_id": t.component_id,
            "name": t.name,
            "status": t.status,
            "assignee_id": t.assignee_id,
            "due_date": t.due_date,
            "completed_at": t.completed_at,
            "version": t.version,
            "timestamp": t.updated_at,
        }));
        payload.extend(object(extra));
        let key = format!("{kind}:{}:{}", t.id, t.version);
        Self::new("tasks", action, kind, key, Value::Object(payload))
    }

    pub fn task_created(t: &Task) -> Self {
        Self::task("task.created", "created", t, json!({}))
    }

    pub fn task_updated(t: &Task, changed: &[&str]) -> Self {
        Self::task(
            "task.updated",
            "updated",
            t,
            json!({"updated_fields": changed}),
        )
    }

    pub fn task_deleted(t: &Task) -> Self {
        Self::task("task.deleted", "deleted", t, json!({}))
    }

    /// An audit-trail entry (`tracker/events/auth/<action>`, kind `auth.<action>`).
    pub fn audit(e: &crate::AuditEntry) -> Self {
        let action = e.action.as_str();
        DomainEvent {
            topic: format!("tracker/events/auth/{action}"),
            kind: format!("auth.{action}"),
            trace_id: Uuid::new_v4(),
            idempotency_key: format!("audit:{}", e.id),
            payload: object(json!({
                "audit_id": e.id,
                "action": action,
                "actor_id": e.actor_id,
                "actor_name": e.actor_name,
                "target_id": e.target_id,
                "target_name": e.target_name,
                "ip_address": e.ip_address,
                "user_agent": e.user_agent,
                // A session id is a handle on someone's session: it stays in the audit log
                // (admins) and never travels in an event.
                "details": without_session_id(&e.details),
                "timestamp": e.at,
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewProject;

    #[test]
    fn project_events_use_v1_topics_and_stable_keys() {
        let p = Project::create(NewProject {
            name: "lab".into(),
            ..Default::default()
        })
        .unwrap();
        let e = DomainEvent::project_created(&p);
        assert_eq!(e.topic, "tracker/events/projects/created");
        assert_eq!(e.kind, "project.created");
        assert_eq!(e.idempotency_key, format!("project.created:{}:1", p.id));
        assert_eq!(e.payload["project_id"], json!(p.id));
        assert_eq!(e.payload["name"], "lab");
        let u = DomainEvent::project_updated(&p, &["status"]);
        assert_eq!(u.payload["updated_fields"], json!(["status"]));
    }

    #[test]
    fn dead_reasons_round_trip() {
        for r in DeadReason::ALL {
            assert_eq!(DeadReason::parse(r.as_str()), Some(*r));
        }
    }
}
