//! The queries behind [`crate::ArtifactStore`], written once for both databases (see
//! `sql_store.rs` for why a macro).

macro_rules! artifact_columns {
    () => {
        "id, project_id, component_id, name, content_type, size, sha256, object_key, \
         uploaded_by, created_at"
    };
}

macro_rules! impl_artifact_store {
    ($store:ident, $db:ty) => {
        mod artifact_store {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use domain::{Artifact, DomainEvent, Page, PageRequest, ValidationError};
            use sqlx::Row as _;
            use uuid::Uuid;

            use crate::artifacts::{ArtifactStore, ObjectDeletion};
            use crate::{Entity, Result, StoreError};

            type Row = <$db as sqlx::Database>::Row;

            pub(super) fn artifact_from(row: &Row) -> Result<Artifact> {
                Ok(Artifact {
                    id: row.try_get("id")?,
                    project_id: row.try_get("project_id")?,
                    component_id: row.try_get("component_id")?,
                    name: row.try_get("name")?,
                    content_type: row.try_get("content_type")?,
                    size: row.try_get("size")?,
                    sha256: row.try_get("sha256")?,
                    object_key: row.try_get("object_key")?,
                    uploaded_by: row.try_get("uploaded_by")?,
                    created_at: row.try_get("created_at")?,
                })
            }

            #[async_trait]
            impl ArtifactStore for super::$store {
                async fn create_artifact(&self, a: &Artifact) -> Result<()> {
                    let mut tx = self.writer().begin().await?;
                    if !super::exists(
                        &mut tx,
                        "SELECT 1 FROM projects WHERE id = $1",
                        a.project_id,
                    )
                    .await?
                    {
                        return Err(StoreError::not_found(Entity::Project, a.project_id));
                    }
                    if let Some(component_id) = a.component_id {
                        let owner: Option<Uuid> =
                            sqlx::query("SELECT project_id FROM components WHERE id = $1")
                                .bind(component_id)
                                .fetch_optional(&mut *tx)
                                .await?
                                .map(|r| r.try_get(0))
                                .transpose()?;
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
                    sqlx::query(concat!(
                        "INSERT INTO artifacts (",
                        $crate::sql_artifacts::artifact_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                    ))
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
                    .map_err(|e| super::parent_missing(e, Entity::Project, a.project_id))?;
                    super::write_outbox(&mut tx, &DomainEvent::artifact_created(a)).await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn get_artifact(&self, id: Uuid) -> Result<Artifact> {
                    let row = sqlx::query(concat!(
                        "SELECT ",
                        $crate::sql_artifacts::artifact_columns!(),
                        " FROM artifacts WHERE id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?
                    .ok_or(StoreError::not_found(Entity::Artifact, id))?;
                    artifact_from(&row)
                }

                async fn list_artifacts(
                    &self,
                    project_id: Uuid,
                    component_id: Option<Uuid>,
                    page: PageRequest,
                ) -> Result<Page<Artifact>> {
                    let mut conn = self.reader().acquire().await?;
                    super::require_project(&mut conn, project_id).await?;
                    let rows = sqlx::query(concat!(
                        "SELECT ",
                        $crate::sql_artifacts::artifact_columns!(),
                        " FROM artifacts WHERE project_id = $1 \
                         AND ($2 IS NULL OR component_id = $2) \
                         ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
                    ))
                    .bind(project_id)
                    .bind(component_id)
                    .bind(page.limit)
                    .bind(page.offset)
                    .fetch_all(&mut *conn)
                    .await?;
                    let total: i64 = sqlx::query(
                        "SELECT count(*) FROM artifacts WHERE project_id = $1 \
                         AND ($2 IS NULL OR component_id = $2)",
                    )
                    .bind(project_id)
                    .bind(component_id)
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get(0)?;
                    Ok(Page {
                        items: rows.iter().map(artifact_from).collect::<Result<_>>()?,
                        total,
                    })
                }

                async fn delete_artifact(&self, id: Uuid) -> Result<Artifact> {
                    let mut tx = self.writer().begin().await?;
                    let row = sqlx::query(concat!(
                        "DELETE FROM artifacts WHERE id = $1 RETURNING ",
                        $crate::sql_artifacts::artifact_columns!()
                    ))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::not_found(Entity::Artifact, id))?;
                    let a = artifact_from(&row)?;
                    super::write_outbox(&mut tx, &DomainEvent::artifact_deleted(&a)).await?;
                    tx.commit().await?;
                    Ok(a)
                }

                async fn due_object_deletions(
                    &self,
                    now: DateTime<Utc>,
                    limit: i64,
                ) -> Result<Vec<ObjectDeletion>> {
                    let rows = sqlx::query(
                        "SELECT id, object_key, attempts FROM object_deletions \
                         WHERE next_attempt_at <= $1 ORDER BY id LIMIT $2",
                    )
                    .bind(now)
                    .bind(limit)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(ObjectDeletion {
                                id: r.try_get(0)?,
                                object_key: r.try_get(1)?,
                                attempts: r.try_get(2)?,
                            })
                        })
                        .collect()
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

                async fn queue_object_deletion(
                    &self,
                    object_key: &str,
                    now: DateTime<Utc>,
                ) -> Result<()> {
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
                    let rows = sqlx::query("SELECT object_key FROM artifacts ORDER BY object_key")
                        .fetch_all(self.reader())
                        .await?;
                    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
                }
            }
        }
    };
}

pub(crate) use {artifact_columns, impl_artifact_store};
