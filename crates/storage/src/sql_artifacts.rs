//! The queries behind [`crate::ArtifactStore`], written once for both databases over
//! [`SqlBackend`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Artifact, DomainEvent, JsonObject, Page, PageRequest, ValidationError};
use sqlx::types::Json;
use sqlx::{ColumnIndex, Executor};
use sqlx_macros::FromRow;
use uuid::Uuid;

use crate::artifacts::{ArtifactStore, ObjectDeletion};
use crate::backend::{Column, Conn, Param, Row, SqlBackend};
use crate::sql_store::{parent_missing, require_project, write_outbox};
use crate::{Entity, Result, StoreError};

#[derive(FromRow)]
pub(crate) struct ArtifactRow {
    id: Uuid,
    project_id: Uuid,
    component_id: Option<Uuid>,
    name: String,
    content_type: String,
    size: i64,
    sha256: String,
    object_key: String,
    uploaded_by: Option<Uuid>,
    created_at: DateTime<Utc>,
}

impl From<ArtifactRow> for Artifact {
    fn from(r: ArtifactRow) -> Artifact {
        Artifact {
            id: r.id,
            project_id: r.project_id,
            component_id: r.component_id,
            name: r.name,
            content_type: r.content_type,
            size: r.size,
            sha256: r.sha256,
            object_key: r.object_key,
            uploaded_by: r.uploaded_by,
            created_at: r.created_at,
        }
    }
}

#[derive(FromRow)]
struct ObjectDeletionRow {
    id: i64,
    object_key: String,
    attempts: i32,
}

impl From<ObjectDeletionRow> for ObjectDeletion {
    fn from(r: ObjectDeletionRow) -> ObjectDeletion {
        ObjectDeletion {
            id: r.id,
            object_key: r.object_key,
            attempts: r.attempts,
        }
    }
}

#[async_trait]
impl<B> ArtifactStore for B
where
    B: SqlBackend,
    for<'c> &'c mut Conn<B>: Executor<'c, Database = B::Db>,
    for<'a> &'a str: Param<'a, B::Db> + ColumnIndex<Row<B>>,
    for<'a> Json<&'a JsonObject>: Param<'a, B::Db>,
    usize: ColumnIndex<Row<B>>,
    for<'q> String: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Uuid: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Option<Uuid>: Param<'q, B::Db>,
    for<'q> i64: Param<'q, B::Db> + Column<B::Db>,
    i32: Column<B::Db>,
    for<'q> DateTime<Utc>: Param<'q, B::Db> + Column<B::Db>,
{
    async fn create_artifact(&self, a: &Artifact) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        require_project(&mut *tx, a.project_id).await?;
        if let Some(component_id) = a.component_id {
            let owner: Option<Uuid> =
                sqlx::query_scalar("SELECT project_id FROM components WHERE id = $1")
                    .bind(component_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if owner != Some(a.project_id) {
                return Err(ValidationError::new(
                    "component_id",
                    format!(
                        "component {component_id} is not part of project {}",
                        a.project_id
                    ),
                )
                .into());
            }
        }
        sqlx::query(
            "INSERT INTO artifacts (id, project_id, component_id, name, content_type, size, \
             sha256, object_key, uploaded_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(a.id)
        .bind(a.project_id)
        .bind(a.component_id)
        .bind(&a.name)
        .bind(&a.content_type)
        .bind(a.size)
        .bind(&a.sha256)
        .bind(&a.object_key)
        .bind(a.uploaded_by)
        .bind(a.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| parent_missing(e, Entity::Project, a.project_id))?;
        write_outbox(&mut *tx, &DomainEvent::artifact_created(a)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_artifact(&self, id: Uuid) -> Result<Artifact> {
        let row: ArtifactRow = sqlx::query_as(
            "SELECT id, project_id, component_id, name, content_type, size, sha256, object_key, \
             uploaded_by, created_at FROM artifacts WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.reader())
        .await?
        .ok_or(StoreError::not_found(Entity::Artifact, id))?;
        Ok(row.into())
    }

    async fn list_artifacts(
        &self,
        project_id: Uuid,
        component_id: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<Artifact>> {
        let mut conn = self.reader().acquire().await?;
        require_project(&mut *conn, project_id).await?;
        let rows: Vec<ArtifactRow> = sqlx::query_as(
            "SELECT id, project_id, component_id, name, content_type, size, sha256, object_key, \
             uploaded_by, created_at FROM artifacts WHERE project_id = $1 \
             AND ($2 IS NULL OR component_id = $2) \
             ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4",
        )
        .bind(project_id)
        .bind(component_id)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&mut *conn)
        .await?;
        let total = sqlx::query_scalar(
            "SELECT count(*) FROM artifacts WHERE project_id = $1 \
             AND ($2 IS NULL OR component_id = $2)",
        )
        .bind(project_id)
        .bind(component_id)
        .fetch_one(&mut *conn)
        .await?;
        Ok(Page {
            items: rows.into_iter().map(Artifact::from).collect(),
            total,
        })
    }

    async fn delete_artifact(&self, id: Uuid) -> Result<Artifact> {
        let mut tx = self.writer().begin().await?;
        let a: Artifact = sqlx::query_as::<_, ArtifactRow>(
            "DELETE FROM artifacts WHERE id = $1 RETURNING id, project_id, component_id, name, \
             content_type, size, sha256, object_key, uploaded_by, created_at",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::not_found(Entity::Artifact, id))?
        .into();
        write_outbox(&mut *tx, &DomainEvent::artifact_deleted(&a)).await?;
        tx.commit().await?;
        Ok(a)
    }

    async fn due_object_deletions(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ObjectDeletion>> {
        let rows: Vec<ObjectDeletionRow> = sqlx::query_as(
            "SELECT id, object_key, attempts FROM object_deletions \
             WHERE next_attempt_at <= $1 ORDER BY id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(ObjectDeletion::from).collect())
    }

    async fn finish_object_deletion(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM object_deletions WHERE id = $1")
            .bind(id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn retry_object_deletion(
        &self,
        id: i64,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> Result<()> {
        let error: String = error.chars().take(1000).collect();
        sqlx::query(
            "UPDATE object_deletions SET attempts = attempts + 1, \
             next_attempt_at = $2, last_error = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(next_attempt_at)
        .bind(error)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn queue_object_deletion(&self, object_key: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO object_deletions (object_key, next_attempt_at, created_at) \
             VALUES ($1, $2, $2)",
        )
        .bind(object_key)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn artifact_object_keys(&self) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT object_key FROM artifacts ORDER BY object_key")
                .fetch_all(self.reader())
                .await?,
        )
    }
}
