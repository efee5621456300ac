//! Artifact metadata and the queue of objects to delete from the object store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Artifact, Page, PageRequest};
use uuid::Uuid;

use crate::Result;

/// An object waiting to be deleted from the object store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectDeletion {
    pub id: i64,
    pub object_key: String,
    pub attempts: i32,
}

#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// Records an uploaded artifact (its object is already stored) with its
    /// `artifact.created` event. A missing project is `NotFound`; a component that is not the
    /// project's is invalid.
    async fn create_artifact(&self, artifact: &Artifact) -> Result<()>;
    async fn get_artifact(&self, id: Uuid) -> Result<Artifact>;
    /// The project's artifacts (only those of `component_id` when given), newest first.
    async fn list_artifacts(
        &self,
        project_id: Uuid,
        component_id: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<Artifact>>;
    /// Deletes the record (with its `artifact.deleted` event) and queues its object for
    /// deletion, all in one transaction.
    async fn delete_artifact(&self, id: Uuid) -> Result<Artifact>;

    /// Queued object deletions due at `now`, oldest first.
    async fn due_object_deletions(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ObjectDeletion>>;
    /// The object is gone: forget the queue entry.
    async fn finish_object_deletion(&self, id: i64) -> Result<()>;
    /// Deleting failed: try again at `next_attempt_at`.
    async fn retry_object_deletion(
        &self,
        id: i64,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> Result<()>;
    /// Queues an object found in the store without a record (reconciliation).
    async fn queue_object_deletion(&self, object_key: &str, now: DateTime<Utc>) -> Result<()>;
    /// Every object key some artifact record refers to.
    async fn artifact_object_keys(&self) -> Result<Vec<String>>;
}
