//! The queries behind [`crate::Store`], written once for both databases.
//!
//! `impl_store!` expands to the trait implementation for one backend. Both schemas have the same
//! tables and columns, sqlx encodes UUIDs, timestamps and JSON natively for each, and both accept
//! `$n` placeholders, so the SQL text is shared. The macro parameters are the only differences:
//! the database type and the row-lock clause (PostgreSQL locks the row it is about to change;
//! SQLite needs none because all writes go through a single connection).
//!
//! The store type must provide `reader()` and `writer()` pools and the `infra_*` methods.

macro_rules! project_columns {
    () => {
        "id, name, description, status, owner_id, metadata, version, created_at, updated_at"
    };
}

macro_rules! component_columns {
    () => {
        "id, project_id, name, type, status, progress, position, metadata, version, \
         created_at, updated_at"
    };
}

macro_rules! task_columns {
    () => {
        "id, component_id, name, description, status, assignee_id, due_date, completed_at, \
         version, created_at, updated_at"
    };
}

/// `$1`: status or NULL; `$2`: lower-cased LIKE pattern or NULL.
macro_rules! project_filter {
    () => {
        "($1 IS NULL OR status = $1) AND ($2 IS NULL OR lower(name) LIKE $2 ESCAPE '\\' \
         OR lower(coalesce(description, '')) LIKE $2 ESCAPE '\\')"
    };
}

macro_rules! impl_store {
    ($store:ty, $db:ty, lock = $lock:literal) => {
        use std::collections::HashMap;

        use async_trait::async_trait;
        use domain::{
            Component, ComponentPatch, Dependency, DomainEvent, GraphNode, JsonObject, NewComponent,
            NewProject, NewTask, Page, PageRequest, Position, Project, ProjectFilter,
            ProjectGraph, ProjectPatch, ProjectProgress, Task, TaskPatch, ValidationError, find_cycle,
        };
        use sqlx::Row as _;
        use sqlx::types::Json;
        use uuid::Uuid;

        use crate::error::check_version;
        use crate::{Backend, Entity, ExpectedVersion, PoolStats, Result, Store, StoreError};

        type Row = <$db as sqlx::Database>::Row;
        type Conn = <$db as sqlx::Database>::Connection;

        fn parse<T: std::str::FromStr>(value: String) -> Result<T>
        where
            T::Err: std::fmt::Display,
        {
            value.parse().map_err(StoreError::corrupt)
        }

        fn project_from(row: &Row) -> Result<Project> {
            Ok(Project {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                status: parse(row.try_get("status")?)?,
                owner_id: row.try_get("owner_id")?,
                metadata: row.try_get::<Json<JsonObject>, _>("metadata")?.0,
                version: row.try_get("version")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        fn component_from(row: &Row) -> Result<Component> {
            Ok(Component {
                id: row.try_get("id")?,
                project_id: row.try_get("project_id")?,
                name: row.try_get("name")?,
                kind: row.try_get("type")?,
                status: parse(row.try_get("status")?)?,
                progress: row.try_get("progress")?,
                position: row
                    .try_get::<Option<Json<Position>>, _>("position")?
                    .map(|p| p.0),
                metadata: row.try_get::<Json<JsonObject>, _>("metadata")?.0,
                version: row.try_get("version")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        fn task_from(row: &Row) -> Result<Task> {
            Ok(Task {
                id: row.try_get("id")?,
                component_id: row.try_get("component_id")?,
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                status: parse(row.try_get("status")?)?,
                assignee_id: row.try_get("assignee_id")?,
                due_date: row.try_get("due_date")?,
                completed_at: row.try_get("completed_at")?,
                version: row.try_get("version")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        fn dependency_from(row: &Row) -> Result<Dependency> {
            Ok(Dependency {
                component_id: row.try_get("component_id")?,
                depends_on_id: row.try_get("depends_on_id")?,
                created_at: row.try_get("created_at")?,
            })
        }

        /// `%term%` for a case-insensitive LIKE, with LIKE's wildcards in `term` escaped.
        fn like_pattern(term: &str) -> String {
            let mut p = String::with_capacity(term.len() + 2);
            p.push('%');
            for c in term.to_lowercase().chars() {
                if matches!(c, '%' | '_' | '\\') {
                    p.push('\\');
                }
                p.push(c);
            }
            p.push('%');
            p
        }

        /// The number of matches over all pages. A separate `count` rather than a window
        /// function: `count(*) OVER ()` stops SQLite from walking the ordering index for a page
        /// and makes it scan and sort the whole table (measured 2x slower per 100-row page).
        async fn page_total(
            count: impl std::future::Future<Output = std::result::Result<Row, sqlx::Error>>,
        ) -> Result<i64> {
            Ok(count.await?.try_get(0)?)
        }

        async fn exists(conn: &mut Conn, sql: &'static str, id: Uuid) -> Result<bool> {
            Ok(sqlx::query(sql).bind(id).fetch_optional(conn).await?.is_some())
        }

        async fn require_project(conn: &mut Conn, id: Uuid) -> Result<()> {
            if exists(conn, "SELECT 1 FROM projects WHERE id = $1", id).await? {
                Ok(())
            } else {
                Err(StoreError::not_found(Entity::Project, id))
            }
        }

        async fn require_component(conn: &mut Conn, id: Uuid) -> Result<()> {
            if exists(conn, "SELECT 1 FROM components WHERE id = $1", id).await? {
                Ok(())
            } else {
                Err(StoreError::not_found(Entity::Component, id))
            }
        }

        async fn component_for_update(conn: &mut Conn, id: Uuid) -> Result<Component> {
            let row = sqlx::query(concat!(
                "SELECT ",
                $crate::sql_store::component_columns!(),
                " FROM components WHERE id = $1",
                $lock
            ))
            .bind(id)
            .fetch_optional(conn)
            .await?
            .ok_or(StoreError::not_found(Entity::Component, id))?;
            component_from(&row)
        }

        async fn write_component(conn: &mut Conn, c: &Component) -> Result<()> {
            sqlx::query(
                "UPDATE components SET name = $2, type = $3, status = $4, progress = $5, \
                 position = $6, metadata = $7, version = $8, updated_at = $9 WHERE id = $1",
            )
            .bind(c.id)
            .bind(&c.name)
            .bind(&c.kind)
            .bind(c.status.as_str())
            .bind(c.progress)
            .bind(c.position.map(Json))
            .bind(Json(&c.metadata))
            .bind(c.version)
            .bind(c.updated_at)
            .execute(conn)
            .await?;
            Ok(())
        }

        /// Records `event` in the outbox; the caller's transaction makes it atomic with the change.
        async fn write_outbox(conn: &mut Conn, event: &DomainEvent) -> Result<()> {
            sqlx::query(
                "INSERT INTO event_outbox (topic, kind, trace_id, idempotency_key, payload, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&event.topic)
            .bind(&event.kind)
            .bind(event.trace_id)
            .bind(&event.idempotency_key)
            .bind(Json(&event.payload))
            .bind(domain::now())
            .execute(conn)
            .await?;
            Ok(())
        }

        async fn project_for_update(conn: &mut Conn, id: Uuid) -> Result<Project> {
            let row = sqlx::query(concat!(
                "SELECT ",
                $crate::sql_store::project_columns!(),
                " FROM projects WHERE id = $1",
                $lock
            ))
            .bind(id)
            .fetch_optional(conn)
            .await?
            .ok_or(StoreError::not_found(Entity::Project, id))?;
            project_from(&row)
        }

        async fn task_for_update(conn: &mut Conn, id: Uuid) -> Result<Task> {
            let row = sqlx::query(concat!(
                "SELECT ",
                $crate::sql_store::task_columns!(),
                " FROM tasks WHERE id = $1",
                $lock
            ))
            .bind(id)
            .fetch_optional(conn)
            .await?
            .ok_or(StoreError::not_found(Entity::Task, id))?;
            task_from(&row)
        }

        /// Maps a foreign-key violation on insert to "the parent does not exist".
        fn parent_missing(e: sqlx::Error, entity: Entity, id: Uuid) -> StoreError {
            if StoreError::is_foreign_key_violation(&e) {
                StoreError::not_found(entity, id)
            } else {
                e.into()
            }
        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> Backend {
                self.infra_backend()
            }

            async fn migrate(&self) -> Result<()> {
                self.infra_migrate().await
            }

            async fn migrate_if_needed(&self) -> Result<()> {
                let applied = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success")
                    .fetch_all(self.reader())
                    .await;
                if let Ok(rows) = applied {
                    let applied: std::collections::HashSet<i64> =
                        rows.iter().filter_map(|r| r.try_get(0).ok()).collect();
                    if self.infra_migrations().iter().all(|m| applied.contains(&m.version)) {
                        return Ok(());
                    }
                }
                self.infra_migrate().await
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(self.reader()).await?;
                Ok(())
            }

            fn pool_stats(&self) -> PoolStats {
                self.infra_pool_stats()
            }

            async fn close(&self) {
                self.infra_close().await
            }

            async fn list_projects(
                &self,
                filter: &ProjectFilter,
                page: PageRequest,
            ) -> Result<Page<Project>> {
                let status = filter.status.map(|s| s.as_str());
                let pattern = filter
                    .search
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .map(like_pattern);
                let mut conn = self.reader().acquire().await?;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::sql_store::project_columns!(),
                    " FROM projects WHERE ",
                    $crate::sql_store::project_filter!(),
                    " ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
                ))
                .bind(status)
                .bind(pattern.as_deref())
                .bind(page.limit)
                .bind(page.offset)
                .fetch_all(&mut *conn)
                .await?;
                let count = sqlx::query(concat!(
                    "SELECT count(*) FROM projects WHERE ",
                    $crate::sql_store::project_filter!()
                ))
                .bind(status)
                .bind(pattern.as_deref())
                .fetch_one(&mut *conn);
                let total = page_total(count).await?;
                Ok(Page {
                    items: rows.iter().map(project_from).collect::<Result<_>>()?,
                    total,
                })
            }

            async fn project_progress(&self, limit: i64) -> Result<Vec<ProjectProgress>> {
                let rows = sqlx::query(
                    "SELECT p.id, p.name, \
                     CAST(COALESCE(AVG(c.progress), 0) AS DOUBLE PRECISION) AS progress \
                     FROM projects p LEFT JOIN components c ON c.project_id = p.id \
                     WHERE p.status <> 'archived' \
                     GROUP BY p.id, p.name, p.created_at \
                     ORDER BY p.created_at DESC, p.id DESC LIMIT $1",
                )
                .bind(limit)
                .fetch_all(self.reader())
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(ProjectProgress {
                            id: row.try_get("id")?,
                            name: row.try_get("name")?,
                            progress: row.try_get("progress")?,
                        })
                    })
                    .collect()
            }

            async fn get_project(&self, id: Uuid) -> Result<Project> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    $crate::sql_store::project_columns!(),
                    " FROM projects WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.reader())
                .await?
                .ok_or(StoreError::not_found(Entity::Project, id))?;
                project_from(&row)
            }

            async fn create_project(&self, new: NewProject) -> Result<Project> {
                let p = Project::create(new)?;
                let mut tx = self.writer().begin().await?;
                sqlx::query(concat!(
                    "INSERT INTO projects (",
                    $crate::sql_store::project_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ))
                .bind(p.id)
                .bind(&p.name)
                .bind(&p.description)
                .bind(p.status.as_str())
                .bind(p.owner_id)
                .bind(Json(&p.metadata))
                .bind(p.version)
                .bind(p.created_at)
                .bind(p.updated_at)
                .execute(&mut *tx)
                .await?;
                write_outbox(&mut tx, &DomainEvent::project_created(&p)).await?;
                tx.commit().await?;
                Ok(p)
            }

            async fn update_project(
                &self,
                id: Uuid,
                expected: ExpectedVersion,
                patch: ProjectPatch,
            ) -> Result<Project> {
                let mut tx = self.writer().begin().await?;
                let mut p = project_for_update(&mut tx, id).await?;
                check_version(Entity::Project, id, expected, p.version)?;
                let changed = p.apply(patch)?;
                sqlx::query(
                    "UPDATE projects SET name = $2, description = $3, status = $4, owner_id = $5, \
                     metadata = $6, version = $7, updated_at = $8 WHERE id = $1",
                )
                .bind(p.id)
                .bind(&p.name)
                .bind(&p.description)
                .bind(p.status.as_str())
                .bind(p.owner_id)
                .bind(Json(&p.metadata))
                .bind(p.version)
                .bind(p.updated_at)
                .execute(&mut *tx)
                .await?;
                write_outbox(&mut tx, &DomainEvent::project_updated(&p, &changed)).await?;
                tx.commit().await?;
                Ok(p)
            }

            async fn delete_project(&self, id: Uuid) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                let p = project_for_update(&mut tx, id).await?;
                // Its artifacts go first, each announced like a direct delete (the cascade
                // would remove them silently); the trigger queues their objects either way.
                let artifacts = sqlx::query(concat!(
                    "DELETE FROM artifacts WHERE project_id = $1 RETURNING ",
                    $crate::sql_artifacts::artifact_columns!()
                ))
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
                for row in &artifacts {
                    let a = artifact_store::artifact_from(row)?;
                    write_outbox(&mut tx, &DomainEvent::artifact_deleted(&a)).await?;
                }
                sqlx::query("DELETE FROM projects WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                write_outbox(&mut tx, &DomainEvent::project_deleted(&p)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_components(
                &self,
                project_id: Uuid,
                page: PageRequest,
            ) -> Result<Page<Component>> {
                let mut conn = self.reader().acquire().await?;
                require_project(&mut conn, project_id).await?;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::sql_store::component_columns!(),
                    " FROM components WHERE project_id = $1 \
                     ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
                ))
                .bind(project_id)
                .bind(page.limit)
                .bind(page.offset)
                .fetch_all(&mut *conn)
                .await?;
                let count = sqlx::query("SELECT count(*) FROM components WHERE project_id = $1")
                    .bind(project_id)
                    .fetch_one(&mut *conn);
                let total = page_total(count).await?;
                Ok(Page {
                    items: rows.iter().map(component_from).collect::<Result<_>>()?,
                    total,
                })
            }

            async fn get_component(&self, id: Uuid) -> Result<Component> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    $crate::sql_store::component_columns!(),
                    " FROM components WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.reader())
                .await?
                .ok_or(StoreError::not_found(Entity::Component, id))?;
                component_from(&row)
            }

            async fn create_component(
                &self,
                project_id: Uuid,
                new: NewComponent,
            ) -> Result<Component> {
                let c = Component::create(project_id, new)?;
                let mut tx = self.writer().begin().await?;
                sqlx::query(concat!(
                    "INSERT INTO components (",
                    $crate::sql_store::component_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                ))
                .bind(c.id)
                .bind(c.project_id)
                .bind(&c.name)
                .bind(&c.kind)
                .bind(c.status.as_str())
                .bind(c.progress)
                .bind(c.position.map(Json))
                .bind(Json(&c.metadata))
                .bind(c.version)
                .bind(c.created_at)
                .bind(c.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| parent_missing(e, Entity::Project, project_id))?;
                write_outbox(&mut tx, &DomainEvent::component_created(&c)).await?;
                tx.commit().await?;
                Ok(c)
            }

            async fn update_component(
                &self,
                id: Uuid,
                expected: ExpectedVersion,
                patch: ComponentPatch,
            ) -> Result<Component> {
                let mut tx = self.writer().begin().await?;
                let mut c = component_for_update(&mut tx, id).await?;
                check_version(Entity::Component, id, expected, c.version)?;
                let changed = c.apply(patch)?;
                write_component(&mut tx, &c).await?;
                write_outbox(&mut tx, &DomainEvent::component_updated(&c, &changed)).await?;
                tx.commit().await?;
                Ok(c)
            }

            async fn delete_component(&self, id: Uuid) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                let c = component_for_update(&mut tx, id).await?;
                sqlx::query("DELETE FROM components WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                write_outbox(&mut tx, &DomainEvent::component_deleted(&c)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn update_layout(
                &self,
                project_id: Uuid,
                positions: &[(Uuid, Position)],
            ) -> Result<Vec<Component>> {
                let mut tx = self.writer().begin().await?;
                require_project(&mut tx, project_id).await?;
                let mut moved = Vec::with_capacity(positions.len());
                for (id, position) in positions {
                    let mut c = component_for_update(&mut tx, *id).await?;
                    if c.project_id != project_id {
                        return Err(ValidationError::new(
                            "positions",
                            format!("component {id} is not part of project {project_id}"),
                        )
                        .into());
                    }
                    c.move_to(*position)?;
                    write_component(&mut tx, &c).await?;
                    write_outbox(&mut tx, &DomainEvent::component_updated(&c, &["position"]))
                        .await?;
                    moved.push(c);
                }
                tx.commit().await?;
                Ok(moved)
            }

            async fn list_dependencies(&self, project_id: Uuid) -> Result<Vec<Dependency>> {
                let mut conn = self.reader().acquire().await?;
                require_project(&mut conn, project_id).await?;
                let rows = sqlx::query(
                    "SELECT d.component_id, d.depends_on_id, d.created_at \
                     FROM component_dependencies d JOIN components c ON c.id = d.component_id \
                     WHERE c.project_id = $1 ORDER BY d.created_at, d.component_id, d.depends_on_id",
                )
                .bind(project_id)
                .fetch_all(&mut *conn)
                .await?;
                rows.iter().map(dependency_from).collect()
            }

            async fn component_dependencies(&self, component_id: Uuid) -> Result<Vec<Dependency>> {
                let mut conn = self.reader().acquire().await?;
                require_component(&mut conn, component_id).await?;
                let rows = sqlx::query(
                    "SELECT component_id, depends_on_id, created_at FROM component_dependencies \
                     WHERE component_id = $1 ORDER BY created_at, depends_on_id",
                )
                .bind(component_id)
                .fetch_all(&mut *conn)
                .await?;
                rows.iter().map(dependency_from).collect()
            }

            async fn add_dependency(
                &self,
                component_id: Uuid,
                depends_on_id: Uuid,
            ) -> Result<Dependency> {
                let mut tx = self.writer().begin().await?;
                let project_of = |id| {
                    sqlx::query("SELECT project_id FROM components WHERE id = $1").bind(id)
                };
                let from: Uuid = project_of(component_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::not_found(Entity::Component, component_id))?
                    .try_get(0)?;
                let to: Uuid = project_of(depends_on_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::not_found(Entity::Component, depends_on_id))?
                    .try_get(0)?;
                if from != to {
                    return Err(StoreError::CrossProject(component_id, depends_on_id));
                }
                // Serialize graph changes per project so two concurrent edges cannot together
                // close a cycle that neither closes alone.
                sqlx::query(concat!("SELECT id FROM projects WHERE id = $1", $lock))
                    .bind(from)
                    .execute(&mut *tx)
                    .await?;
                let edges = sqlx::query(
                    "SELECT d.component_id, d.depends_on_id FROM component_dependencies d \
                     JOIN components c ON c.id = d.component_id WHERE c.project_id = $1",
                )
                .bind(from)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<Vec<(Uuid, Uuid)>>>()?;
                if edges.contains(&(component_id, depends_on_id)) {
                    return Err(StoreError::DependencyExists {
                        component_id,
                        depends_on_id,
                    });
                }
                if let Some(cycle) = find_cycle(&edges, component_id, depends_on_id) {
                    let names = sqlx::query("SELECT id, name FROM components WHERE project_id = $1")
                        .bind(from)
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                        .collect::<Result<HashMap<Uuid, String>>>()?;
                    let named = cycle
                        .iter()
                        .map(|id| names.get(id).cloned().unwrap_or_else(|| id.to_string()))
                        .collect();
                    return Err(StoreError::DependencyCycle(named));
                }
                let dependency = Dependency {
                    component_id,
                    depends_on_id,
                    created_at: domain::now(),
                };
                sqlx::query(
                    "INSERT INTO component_dependencies (component_id, depends_on_id, created_at) \
                     VALUES ($1, $2, $3)",
                )
                .bind(dependency.component_id)
                .bind(dependency.depends_on_id)
                .bind(dependency.created_at)
                .execute(&mut *tx)
                .await?;
                let event = DomainEvent::dependency(true, from, component_id, depends_on_id);
                write_outbox(&mut tx, &event).await?;
                tx.commit().await?;
                Ok(dependency)
            }

            async fn remove_dependency(&self, component_id: Uuid, depends_on_id: Uuid) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                let project_id = component_for_update(&mut tx, component_id).await?.project_id;
                let done = sqlx::query(
                    "DELETE FROM component_dependencies WHERE component_id = $1 AND depends_on_id = $2",
                )
                .bind(component_id)
                .bind(depends_on_id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(Entity::Dependency, depends_on_id));
                }
                let event = DomainEvent::dependency(false, project_id, component_id, depends_on_id);
                write_outbox(&mut tx, &event).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn project_graph(&self, project_id: Uuid) -> Result<ProjectGraph> {
                let mut tx = self.reader().begin().await?;
                require_project(&mut tx, project_id).await?;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::sql_store::component_columns!(),
                    ", (SELECT count(*) FROM tasks t WHERE t.component_id = components.id) \
                       AS task_count, \
                     (SELECT count(*) FROM tasks t WHERE t.component_id = components.id \
                       AND t.status <> 'done') AS open_task_count \
                     FROM components WHERE project_id = $1 ORDER BY created_at, id"
                ))
                .bind(project_id)
                .fetch_all(&mut *tx)
                .await?;
                let nodes = rows
                    .iter()
                    .map(|r| {
                        Ok(GraphNode {
                            component: component_from(r)?,
                            task_count: r.try_get("task_count")?,
                            open_task_count: r.try_get("open_task_count")?,
                        })
                    })
                    .collect::<Result<_>>()?;
                let deps = sqlx::query(
                    "SELECT d.component_id, d.depends_on_id, d.created_at \
                     FROM component_dependencies d JOIN components c ON c.id = d.component_id \
                     WHERE c.project_id = $1 ORDER BY d.created_at, d.component_id, d.depends_on_id",
                )
                .bind(project_id)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(ProjectGraph {
                    project_id,
                    nodes,
                    dependencies: deps.iter().map(dependency_from).collect::<Result<_>>()?,
                })
            }

            async fn list_tasks(&self, component_id: Uuid, page: PageRequest) -> Result<Page<Task>> {
                let mut conn = self.reader().acquire().await?;
                require_component(&mut conn, component_id).await?;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::sql_store::task_columns!(),
                    " FROM tasks WHERE component_id = $1 \
                     ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
                ))
                .bind(component_id)
                .bind(page.limit)
                .bind(page.offset)
                .fetch_all(&mut *conn)
                .await?;
                let count = sqlx::query("SELECT count(*) FROM tasks WHERE component_id = $1")
                    .bind(component_id)
                    .fetch_one(&mut *conn);
                let total = page_total(count).await?;
                Ok(Page {
                    items: rows.iter().map(task_from).collect::<Result<_>>()?,
                    total,
                })
            }

            async fn get_task(&self, id: Uuid) -> Result<Task> {
                let row = sqlx::query(concat!("SELECT ", $crate::sql_store::task_columns!(), " FROM tasks WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?
                    .ok_or(StoreError::not_found(Entity::Task, id))?;
                task_from(&row)
            }

            async fn create_task(&self, component_id: Uuid, new: NewTask) -> Result<Task> {
                let t = Task::create(component_id, new)?;
                let mut tx = self.writer().begin().await?;
                sqlx::query(concat!(
                    "INSERT INTO tasks (",
                    $crate::sql_store::task_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                ))
                .bind(t.id)
                .bind(t.component_id)
                .bind(&t.name)
                .bind(&t.description)
                .bind(t.status.as_str())
                .bind(t.assignee_id)
                .bind(t.due_date)
                .bind(t.completed_at)
                .bind(t.version)
                .bind(t.created_at)
                .bind(t.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| parent_missing(e, Entity::Component, component_id))?;
                write_outbox(&mut tx, &DomainEvent::task_created(&t)).await?;
                tx.commit().await?;
                Ok(t)
            }

            async fn update_task(
                &self,
                id: Uuid,
                expected: ExpectedVersion,
                patch: TaskPatch,
            ) -> Result<Task> {
                let mut tx = self.writer().begin().await?;
                let mut t = task_for_update(&mut tx, id).await?;
                check_version(Entity::Task, id, expected, t.version)?;
                let changed = t.apply(patch)?;
                sqlx::query(
                    "UPDATE tasks SET name = $2, description = $3, status = $4, assignee_id = $5, \
                     due_date = $6, completed_at = $7, version = $8, updated_at = $9 WHERE id = $1",
                )
                .bind(t.id)
                .bind(&t.name)
                .bind(&t.description)
                .bind(t.status.as_str())
                .bind(t.assignee_id)
                .bind(t.due_date)
                .bind(t.completed_at)
                .bind(t.version)
                .bind(t.updated_at)
                .execute(&mut *tx)
                .await?;
                write_outbox(&mut tx, &DomainEvent::task_updated(&t, &changed)).await?;
                tx.commit().await?;
                Ok(t)
            }

            async fn delete_task(&self, id: Uuid) -> Result<()> {
                let mut tx = self.writer().begin().await?;
                let t = task_for_update(&mut tx, id).await?;
                sqlx::query("DELETE FROM tasks WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                write_outbox(&mut tx, &DomainEvent::task_deleted(&t)).await?;
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use {component_columns, impl_store, project_columns, project_filter, task_columns};
