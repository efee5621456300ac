//! The audit hook: [`Identity::audit`] is the one place every security event goes through.
//!
//! The store writes the entry and its bus event (`tracker/events/auth/<action>`) in one
//! transaction (the transactional outbox); a running server's relay publishes it. So an entry
//! recorded where no event bus runs (the command line) still reaches the bus.

use domain::{AuditAction, AuditEntry, User};
use serde_json::Value;
use uuid::Uuid;

use super::{ClientMeta, Identity};

/// Who or what an audit entry is about: an id and a name, either possibly unknown (a failed
/// login names a user that may not exist; the command line has no id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Party {
    pub id: Option<Uuid>,
    pub name: Option<String>,
}

impl Party {
    /// A party known only by name: an attempted username, or where a change came from
    /// ("command line").
    pub fn named(name: impl Into<String>) -> Party {
        Party {
            id: None,
            name: Some(name.into()),
        }
    }
}

impl From<&User> for Party {
    fn from(user: &User) -> Party {
        Party {
            id: Some(user.id),
            name: Some(user.username.clone()),
        }
    }
}

impl Identity {
    /// Records a security event. Failures to write are logged, never returned: a login does
    /// not fail because the audit table is briefly unavailable.
    pub async fn audit(
        &self,
        action: AuditAction,
        actor: &Party,
        target: &Party,
        client: &ClientMeta,
        details: Value,
    ) {
        let entry = AuditEntry {
            id: Uuid::new_v4(),
            at: self.now(),
            action,
            actor_id: actor.id,
            actor_name: actor.name.clone(),
            target_id: target.id,
            target_name: target.name.clone(),
            ip_address: client.ip_string(),
            user_agent: client.user_agent.clone(),
            details: match details {
                Value::Object(map) => map,
                Value::Null => Default::default(),
                other => [("value".to_owned(), other)].into_iter().collect(),
            },
        };
        tracing::info!(
            action = entry.action.as_str(),
            actor = entry.actor_name.as_deref().unwrap_or("-"),
            target = entry.target_name.as_deref().unwrap_or("-"),
            ip = entry.ip_address.as_deref().unwrap_or("-"),
            "audit"
        );
        if let Err(e) = self.store.record_audit(entry).await {
            tracing::error!(error = %e, action = action.as_str(), "could not write the audit trail");
        }
    }
}
