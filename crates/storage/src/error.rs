use std::fmt;

use domain::ValidationError;
use uuid::Uuid;

/// The kind of record an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Project,
    Component,
    Task,
    Dependency,
    Event,
    DeadLetter,
    User,
    Session,
    ApiKey,
    LogRecord,
    Artifact,
    Check,
    Alert,
    AlertRule,
    AlertChannel,
    Notification,
    Passkey,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::Project => "project",
            Entity::Component => "component",
            Entity::Task => "task",
            Entity::Dependency => "dependency",
            Entity::Event => "event",
            Entity::DeadLetter => "dead letter",
            Entity::User => "user",
            Entity::Session => "session",
            Entity::ApiKey => "API key",
            Entity::LogRecord => "log entry",
            Entity::Artifact => "artifact",
            Entity::Check => "check",
            Entity::Alert => "alert",
            Entity::AlertRule => "alert rule",
            Entity::AlertChannel => "alert channel",
            Entity::Notification => "notification",
            Entity::Passkey => "passkey",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} {id} not found")]
    NotFound { entity: Entity, id: String },

    #[error(
        "{entity} {id} was changed elsewhere: you sent version {expected}, \
         the current version is {actual}; reload it and apply your change again"
    )]
    VersionConflict {
        entity: Entity,
        id: Uuid,
        expected: i64,
        actual: i64,
    },

    /// The component names along the cycle, first and last being the same.
    #[error("this dependency would create a cycle: {}", .0.join(" → "))]
    DependencyCycle(Vec<String>),

    #[error("component {component_id} already depends on {depends_on_id}")]
    DependencyExists {
        component_id: Uuid,
        depends_on_id: Uuid,
    },

    #[error(
        "components {0} and {1} belong to different projects; dependencies stay within a project"
    )]
    CrossProject(Uuid, Uuid),

    #[error(transparent)]
    Invalid(#[from] ValidationError),

    /// v1's message, kept for clients that show it.
    #[error("Username already exists: {0}")]
    UsernameTaken(String),

    #[error("this would leave no active admin; make another user an admin first")]
    LastAdmin,

    #[error("an admin already exists; log in as that admin to add users")]
    AdminExists,

    /// The database cannot be reached or has no free connection; retrying later may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(String),

    #[error("stored data could not be read: {0}")]
    Corrupt(String),

    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),

    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::Tls(_) => StoreError::Unavailable(e.to_string()),
            other => StoreError::Database(other),
        }
    }
}

impl StoreError {
    pub(crate) fn not_found(entity: Entity, id: impl fmt::Display) -> Self {
        StoreError::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    pub(crate) fn corrupt(what: impl fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }

    /// Is this the database reporting a unique-constraint violation?
    pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
        matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
    }

    /// Is this the database reporting a foreign-key violation?
    pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
        matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
    }
}

/// Fails with a conflict when the client's expected version is not the stored one.
pub(crate) fn check_version(
    entity: Entity,
    id: Uuid,
    expected: Option<i64>,
    actual: i64,
) -> Result<(), StoreError> {
    match expected {
        Some(expected) if expected != actual => Err(StoreError::VersionConflict {
            entity,
            id,
            expected,
            actual,
        }),
        _ => Ok(()),
    }
}
