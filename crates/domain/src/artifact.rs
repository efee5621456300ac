//! Artifacts: files attached to a project (optionally to one of its components). The bytes live
//! in the object store under [`Artifact::object_key`]; the database holds what describes them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::{DomainEvent, ValidationError};

/// Longest file name kept, in characters.
pub const MAX_ARTIFACT_NAME: usize = 255;
/// Longest media type kept, in characters.
pub const MAX_CONTENT_TYPE: usize = 127;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Artifact {
    pub id: Uuid,
    pub project_id: Uuid,
    pub component_id: Option<Uuid>,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    pub object_key: String,
    pub uploaded_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl Artifact {
    /// Where the bytes of artifact `id` of `project_id` are stored.
    pub fn object_key(project_id: Uuid, id: Uuid) -> String {
        format!("artifacts/{project_id}/{id}")
    }

    /// A file name safe to store and to send back in `Content-Disposition`: the last path
    /// segment, trimmed, without control characters or quotes, non-empty, at most 255 chars.
    pub fn clean_name(raw: &str) -> Result<String, ValidationError> {
        let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
        let cleaned: String = last
            .chars()
            .filter(|c| !c.is_control() && *c != '"')
            .collect();
        let cleaned = cleaned.trim();
        if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
            return Err(ValidationError::new("name", "must be a file name"));
        }
        crate::validate::max_chars("name", cleaned, MAX_ARTIFACT_NAME)?;
        Ok(cleaned.to_owned())
    }

    /// A media type such as `image/png`; anything else becomes `application/octet-stream`.
    pub fn clean_content_type(raw: Option<&str>) -> String {
        let fallback = "application/octet-stream".to_owned();
        let Some(raw) = raw else { return fallback };
        let essence = raw
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let token = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
        };
        match essence.split_once('/') {
            Some((t, s)) if token(t) && token(s) && essence.len() <= MAX_CONTENT_TYPE => essence,
            _ => fallback,
        }
    }
}

impl DomainEvent {
    fn artifact(kind: &'static str, action: &str, a: &Artifact) -> Self {
        let payload = json!({
            "artifact_id": a.id,
            "project_id": a.project_id,
            "component_id": a.component_id,
            "name": a.name,
            "content_type": a.content_type,
            "size": a.size,
            "sha256": a.sha256,
            "uploaded_by": a.uploaded_by,
            "timestamp": a.created_at,
        });
        let key = format!("{kind}:{}", a.id);
        DomainEvent::new("artifacts", action, kind, key, payload)
    }

    pub fn artifact_created(a: &Artifact) -> Self {
        Self::artifact("artifact.created", "created", a)
    }

    pub fn artifact_deleted(a: &Artifact) -> Self {
        Self::artifact("artifact.deleted", "deleted", a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_quotes_and_control_characters() {
        assert_eq!(Artifact::clean_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(
            Artifact::clean_name("C:\\x\\report.pdf").unwrap(),
            "report.pdf"
        );
        assert_eq!(Artifact::clean_name("a\"b\r\n.txt").unwrap(), "ab.txt");
        assert!(Artifact::clean_name("dir/").is_err());
        assert!(Artifact::clean_name("..").is_err());
        assert!(Artifact::clean_name(&"x".repeat(256)).is_err());
    }

    #[test]
    fn content_types_are_media_types_or_octet_stream() {
        assert_eq!(Artifact::clean_content_type(Some("Image/PNG")), "image/png");
        assert_eq!(
            Artifact::clean_content_type(Some("text/plain; charset=utf-8")),
            "text/plain"
        );
        for bad in [
            None,
            Some("nonsense"),
            Some("text/html\r\nX: y"),
            Some("/x"),
        ] {
            assert_eq!(
                Artifact::clean_content_type(bad),
                "application/octet-stream"
            );
        }
    }

    #[test]
    fn events_name_the_artifact() {
        let a = Artifact {
            id: Uuid::new_v4(),
            project_id: Uuid::new_v4(),
            component_id: None,
            name: "a.txt".into(),
            content_type: "text/plain".into(),
            size: 3,
            sha256: "0".repeat(64),
            object_key: "k".into(),
            uploaded_by: None,
            created_at: crate::now(),
        };
        let e = DomainEvent::artifact_created(&a);
        assert_eq!(e.kind, "artifact.created");
        assert_eq!(e.topic, "tracker/events/artifacts/created");
        assert_eq!(e.payload["artifact_id"], json!(a.id));
        assert_eq!(DomainEvent::artifact_deleted(&a).kind, "artifact.deleted");
    }
}
