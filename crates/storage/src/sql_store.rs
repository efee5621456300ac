//! The queries behind [`crate::Store`] (projects, components, dependencies, tasks), written once
//! for both databases over [`SqlBackend`], and the statements other query modules share: the
//! outbox insert, "does this parent exist", LIKE patterns.
//!
//! Every change writes its [`DomainEvent`] to `event_outbox` in the same transaction. Creates
//! go through the group committer (`group_commit.rs`): concurrent ones share a transaction and
//! its statements (multi-row inserts, `insert_created`), and are answered after its commit. A
//! read-modify-write reads the row with a [`Dialects`] statement: PostgreSQL locks it
//! (`FOR UPDATE`); SQLite needs no lock because all writes go through its single writer
//! connection.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    Component, ComponentPatch, Dependency, DomainEvent, GraphNode, Icon, JsonObject, NewComponent,
    NewProject, NewTask, Page, PageRequest, Position, ProgressReport, Project, ProjectFilter,
    ProjectGraph, ProjectPatch, ProjectProgress, Task, TaskPatch, ValidationError, find_cycle,
};
use sqlx::types::Json;
use sqlx::{ColumnIndex, Executor, Row as _};
use sqlx_macros::FromRow;
use uuid::Uuid;

use crate::backend::{Column, Conn, Dialects, Param, Row, Sql, SqlBackend};
use crate::error::check_version;
use crate::group_commit::UnitFuture;
use crate::logs::contains_pattern;
use crate::sql_artifacts::ArtifactRow;
use crate::sql_checks::{DELETE_COMPONENT_CHECKS, DELETE_PROJECT_CHECKS, DefinitionRow};
use crate::{
    AlertStore, ArtifactStore, Backend, CheckStore, Entity, EventStore, ExpectedVersion,
    IdentityStore, LogStore, MetricSampleStore, PoolStats, Result, SnapshotStore, Store,
    StoreError, WriteMark,
};

const PROJECT_BY_ID: &str = "SELECT id, name, description, status, owner_id, metadata, version, \
     created_at, updated_at FROM projects WHERE id = $1";

const PROJECT_FOR_UPDATE: Dialects = Dialects {
    postgres: "SELECT id, name, description, status, owner_id, metadata, version, created_at, \
               updated_at FROM projects WHERE id = $1 FOR UPDATE",
    sqlite: PROJECT_BY_ID,
};

const COMPONENT_BY_ID: &str = "SELECT id, project_id, name, type, status, progress, position, \
     metadata, url, host, icon, description, version, created_at, updated_at FROM components \
     WHERE id = $1";

const COMPONENT_FOR_UPDATE: Dialects = Dialects {
    postgres: "SELECT id, project_id, name, type, status, progress, position, metadata, url, \
               host, icon, description, version, created_at, updated_at FROM components \
               WHERE id = $1 FOR UPDATE",
    sqlite: COMPONENT_BY_ID,
};

const TASK_BY_ID: &str = "SELECT id, component_id, name, description, status, assignee_id, \
     due_date, completed_at, version, created_at, updated_at FROM tasks WHERE id = $1";

const TASK_FOR_UPDATE: Dialects = Dialects {
    postgres: "SELECT id, component_id, name, description, status, assignee_id, due_date, \
               completed_at, version, created_at, updated_at FROM tasks WHERE id = $1 \
               FOR UPDATE",
    sqlite: TASK_BY_ID,
};

/// Serializes graph changes per project (see `add_dependency`).
const LOCK_PROJECT: Dialects = Dialects {
    postgres: "SELECT id FROM projects WHERE id = $1 FOR UPDATE",
    sqlite: "SELECT id FROM projects WHERE id = $1",
};

/// `delete_project` deletes the project's artifacts itself, to announce each.
const DELETE_PROJECT_ARTIFACTS: &str = "DELETE FROM artifacts WHERE project_id = $1 RETURNING id, \
     project_id, component_id, name, content_type, size, sha256, object_key, uploaded_by, \
     created_at";

const PROJECT_DEPENDENCIES: &str = "SELECT d.component_id, d.depends_on_id, d.created_at \
     FROM component_dependencies d JOIN components c ON c.id = d.component_id \
     WHERE c.project_id = $1 ORDER BY d.created_at, d.component_id, d.depends_on_id";

#[derive(FromRow)]
struct ProjectRow {
    id: Uuid,
    name: String,
    description: Option<String>,
    status: String,
    owner_id: Option<Uuid>,
    metadata: Json<JsonObject>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ProjectRow> for Project {
    type Error = StoreError;

    fn try_from(r: ProjectRow) -> Result<Project> {
        Ok(Project {
            id: r.id,
            name: r.name,
            description: r.description,
            status: parse(r.status)?,
            owner_id: r.owner_id,
            metadata: r.metadata.0,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(FromRow)]
struct ComponentRow {
    id: Uuid,
    project_id: Uuid,
    name: String,
    #[sqlx(rename = "type")]
    kind: Option<String>,
    status: String,
    progress: i32,
    position: Option<Json<Position>>,
    metadata: Json<JsonObject>,
    url: Option<String>,
    host: Option<String>,
    icon: Option<String>,
    description: Option<String>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ComponentRow> for Component {
    type Error = StoreError;

    fn try_from(r: ComponentRow) -> Result<Component> {
        Ok(Component {
            id: r.id,
            project_id: r.project_id,
            name: r.name,
            kind: r.kind,
            status: parse(r.status)?,
            progress: r.progress,
            position: r.position.map(|p| p.0),
            metadata: r.metadata.0,
            url: r.url,
            host: r.host,
            icon: r
                .icon
                .map(|i| Icon::parse(&i).map_err(StoreError::corrupt))
                .transpose()?,
            description: r.description,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// A component with its task counts (`project_graph`).
#[derive(FromRow)]
struct GraphNodeRow {
    #[sqlx(flatten)]
    component: ComponentRow,
    task_count: i64,
    open_task_count: i64,
}

impl TryFrom<GraphNodeRow> for GraphNode {
    type Error = StoreError;

    fn try_from(r: GraphNodeRow) -> Result<GraphNode> {
        Ok(GraphNode {
            component: r.component.try_into()?,
            task_count: r.task_count,
            open_task_count: r.open_task_count,
        })
    }
}

#[derive(FromRow)]
struct TaskRow {
    id: Uuid,
    component_id: Uuid,
    name: String,
    description: Option<String>,
    status: String,
    assignee_id: Option<Uuid>,
    due_date: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<TaskRow> for Task {
    type Error = StoreError;

    fn try_from(r: TaskRow) -> Result<Task> {
        Ok(Task {
            id: r.id,
            component_id: r.component_id,
            name: r.name,
            description: r.description,
            status: parse(r.status)?,
            assignee_id: r.assignee_id,
            due_date: r.due_date,
            completed_at: r.completed_at,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(FromRow)]
struct DependencyRow {
    component_id: Uuid,
    depends_on_id: Uuid,
    created_at: DateTime<Utc>,
}

impl From<DependencyRow> for Dependency {
    fn from(r: DependencyRow) -> Dependency {
        Dependency {
            component_id: r.component_id,
            depends_on_id: r.depends_on_id,
            created_at: r.created_at,
        }
    }
}

#[derive(FromRow)]
struct ProgressRow {
    id: Uuid,
    name: String,
    components: i64,
    progress: Option<f64>,
}

impl From<ProgressRow> for ProjectProgress {
    fn from(r: ProgressRow) -> ProjectProgress {
        ProjectProgress {
            id: r.id,
            name: r.name,
            components: r.components,
            progress: r.progress,
        }
    }
}

#[derive(FromRow)]
struct OverallRow {
    overall: Option<f64>,
    measured: i64,
}

/// Each open project's progress: the average of its components' progress, each the share of
/// its tasks done when it has tasks, else its typed `progress` — `domain::component_progress`
/// in SQL. NULL for a project without components. A macro, so `concat!` builds the two
/// queries over it as literals.
macro_rules! open_project_progress {
    () => {
        "SELECT p.id, p.name, p.created_at, \
     COUNT(c.id) AS components, \
     CAST(AVG(CASE WHEN t.total > 0 THEN 100.0 * t.done / t.total ELSE c.progress END) \
     AS DOUBLE PRECISION) AS progress \
     FROM projects p LEFT JOIN components c ON c.project_id = p.id \
     LEFT JOIN (SELECT component_id, COUNT(*) AS total, \
     SUM(CASE WHEN status = 'done' THEN 1 ELSE 0 END) AS done \
     FROM tasks GROUP BY component_id) t ON t.component_id = c.id \
     WHERE p.status <> 'archived' \
     GROUP BY p.id, p.name, p.created_at"
    };
}

/// A page of projects and the number of matches over all pages, in ONE statement, so from one
/// snapshot: a create committing in between can never make `total` disagree with the page (and
/// it is one round trip). `$1`: status or NULL; `$2`: lower-cased LIKE pattern or NULL. The
/// count stays a separate aggregate rather than `count(*) OVER ()`, which stops SQLite from
/// walking the ordering index for a page and makes it scan and sort the whole table (measured
/// 2x slower per 100-row page). `generation` is the table's generation read in the same
/// snapshot (PostgreSQL, migration 0019: the page may be answered again while it holds); SQLite
/// keeps its stamp in the process (`generation.rs`).
macro_rules! list_projects {
    ($generation:literal) => {
        concat!(
            "SELECT t.total, t.generation, p.id, p.name, p.description, p.status, p.owner_id, \
             p.metadata, p.version, p.created_at, p.updated_at FROM (SELECT count(*) AS total, ",
            $generation,
            " AS generation FROM projects \
             WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR lower(name) LIKE $2 ESCAPE \
             '\\' OR lower(coalesce(description, '')) LIKE $2 ESCAPE '\\')) t LEFT JOIN (SELECT \
             id, name, description, status, owner_id, metadata, version, created_at, updated_at \
             FROM projects WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR lower(name) \
             LIKE $2 ESCAPE '\\' OR lower(coalesce(description, '')) LIKE $2 ESCAPE '\\') \
             ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4) p ON 1 = 1 \
             ORDER BY p.created_at DESC, p.id DESC"
        )
    };
}

const LIST_PROJECTS: Dialects = Dialects {
    postgres: list_projects!("(SELECT sum(n)::bigint FROM project_list_generation)"),
    sqlite: list_projects!("NULL"),
};

/// Parses a stored vocabulary value (a status, a role, a scope); a value the domain does not
/// know means the row is corrupt.
pub(crate) fn parse<T: std::str::FromStr>(value: String) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(StoreError::corrupt)
}

/// Converts every row, failing on the first that does not convert.
pub(crate) fn convert<R, T: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> Result<Vec<T>> {
    rows.into_iter().map(T::try_from).collect()
}

/// Ends a write's mark on the projects table, if this store keeps one (`generation.rs`).
pub(crate) fn finish(mark: Option<WriteMark>) {
    if let Some(mark) = mark {
        mark.finish();
    }
}

/// Splits the rows of a one-statement page query — `total` (and `parent`, where the query has
/// it) in every row, then the item's columns, all NULL in the single row of an empty page —
/// into the items, the total and whether the parent exists (`true` without a `parent` column).
fn split_page<DbRow, R, T>(rows: Vec<DbRow>) -> Result<(Vec<T>, i64, bool)>
where
    DbRow: sqlx::Row,
    for<'r> R: sqlx::FromRow<'r, DbRow>,
    T: TryFrom<R, Error = StoreError>,
    for<'a> &'a str: ColumnIndex<DbRow>,
    i64: Column<DbRow::Database>,
    Uuid: Column<DbRow::Database>,
{
    let Some(first) = rows.first() else {
        return Err(StoreError::Corrupt(
            "a page query answered no row at all".into(),
        ));
    };
    let total: i64 = first.try_get("total")?;
    let parent = match first.try_get::<i64, _>("parent") {
        Ok(n) => n > 0,
        Err(sqlx::Error::ColumnNotFound(_)) => true,
        Err(e) => return Err(e.into()),
    };
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.try_get::<Option<Uuid>, _>("id")?.is_none() {
            continue;
        }
        items.push(T::try_from(R::from_row(row)?)?);
    }
    Ok((items, total, parent))
}

/// Secret values by name as the JSON object a `secrets` column holds.
pub(crate) fn secrets_to_json(secrets: &BTreeMap<String, String>) -> JsonObject {
    secrets
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect()
}

/// A `secrets` column back to values by name; a value that is not a string means the row is
/// corrupt (`owner` names whose secret it is).
pub(crate) fn secrets_from_json(json: JsonObject, owner: &str) -> Result<BTreeMap<String, String>> {
    json.into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k, s)),
            _ => Err(StoreError::corrupt(format!(
                "a {owner} secret is not a string"
            ))),
        })
        .collect()
}

/// The row `sql` selects by `id` (its `$1`), converted; not found as `entity`.
pub(crate) async fn fetch_by_id<'c, B, R, T>(
    conn: impl Executor<'c, Database = B::Db>,
    sql: &'static str,
    (entity, id): (Entity, Uuid),
) -> Result<T>
where
    B: SqlBackend,
    R: for<'r> sqlx::FromRow<'r, Row<B>> + Send + Unpin,
    T: TryFrom<R, Error = StoreError>,
    for<'q> Uuid: Param<'q, B::Db>,
{
    let row: Option<R> = sqlx::query_as(sql).bind(id).fetch_optional(conn).await?;
    row.ok_or(StoreError::not_found(entity, id))?.try_into()
}

/// Every row `sql` selects, converted.
pub(crate) async fn fetch_all_as<'c, B, R, T>(
    conn: impl Executor<'c, Database = B::Db>,
    sql: &'static str,
) -> Result<Vec<T>>
where
    B: SqlBackend,
    R: for<'r> sqlx::FromRow<'r, Row<B>> + Send + Unpin,
    T: TryFrom<R, Error = StoreError>,
{
    let rows: Vec<R> = sqlx::query_as(sql).fetch_all(conn).await?;
    convert(rows)
}

/// `NotFound` as `entity` unless `sql` (`SELECT 1 FROM <table> WHERE id = $1`) finds the row:
/// the parent of a listing, whose absence is a 404 rather than an empty list.
pub(crate) async fn ensure_exists<'c, DB: Sql>(
    conn: impl Executor<'c, Database = DB>,
    sql: &'static str,
    (entity, id): (Entity, Uuid),
) -> Result<()>
where
    for<'q> Uuid: Param<'q, DB>,
{
    let found = sqlx::query(sql).bind(id).fetch_optional(conn).await?;
    found.map(|_| ()).ok_or(StoreError::not_found(entity, id))
}

/// Maps a foreign-key violation on insert to "the parent does not exist".
pub(crate) fn parent_missing(e: sqlx::Error, entity: Entity, id: Uuid) -> StoreError {
    if StoreError::is_foreign_key_violation(&e) {
        StoreError::not_found(entity, id)
    } else {
        e.into()
    }
}

/// Records `event` in the outbox; the caller's transaction makes it atomic with the change.
pub(crate) async fn write_outbox<'c, DB: Sql>(
    conn: impl Executor<'c, Database = DB>,
    event: &DomainEvent,
) -> Result<()>
where
    for<'a> &'a str: Param<'a, DB>,
    for<'a> Json<&'a JsonObject>: Param<'a, DB>,
    for<'q> Uuid: Param<'q, DB>,
    for<'q> DateTime<Utc>: Param<'q, DB>,
{
    sqlx::query(
        "INSERT INTO event_outbox (topic, kind, trace_id, idempotency_key, payload, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(event.topic.as_str())
    .bind(event.kind.as_str())
    .bind(event.trace_id)
    .bind(event.idempotency_key.as_str())
    .bind(Json(&event.payload))
    .bind(domain::now())
    .execute(conn)
    .await?;
    Ok(())
}

/// Records `events` in the outbox in this order, with one statement (none when empty).
pub(crate) async fn write_outbox_all<'c, DB: Sql>(
    conn: impl Executor<'c, Database = DB>,
    events: &[DomainEvent],
) -> Result<()>
where
    for<'a> &'a str: Param<'a, DB>,
    for<'a> Json<&'a JsonObject>: Param<'a, DB>,
    for<'q> Uuid: Param<'q, DB>,
    for<'q> DateTime<Utc>: Param<'q, DB>,
{
    if events.is_empty() {
        return Ok(());
    }
    let now = domain::now();
    let mut q = sqlx::QueryBuilder::<DB>::new(
        "INSERT INTO event_outbox (topic, kind, trace_id, idempotency_key, payload, created_at) ",
    );
    q.push_values(events, |mut row, event| {
        row.push_bind(event.topic.as_str())
            .push_bind(event.kind.as_str())
            .push_bind(event.trace_id)
            .push_bind(event.idempotency_key.as_str())
            .push_bind(Json(&event.payload))
            .push_bind(now);
    });
    q.build().persistent(false).execute(conn).await?;
    Ok(())
}

/// A created row and its `*.created` event, as a group-commit row unit carries them.
pub(crate) struct Created<T> {
    value: T,
    event: DomainEvent,
}

/// Inserts created rows and, after them, their outbox events in the same order: one statement
/// on PostgreSQL (the rows' `INSERT` in a `WITH`), one message to the connection's thread on
/// SQLite (two statements in one text). `push_row` binds one row's columns after `insert`
/// (`INSERT INTO t (columns) `).
async fn insert_created<B, T>(
    conn: &mut Conn<B>,
    rows: &[&Created<T>],
    insert: &str,
    push_row: impl FnMut(sqlx::query_builder::Separated<'_, B::Db, &'static str>, &T),
) -> std::result::Result<(), sqlx::Error>
where
    B: SqlBackend,
    for<'e> &'e mut Conn<B>: Executor<'e, Database = B::Db>,
    for<'a> &'a str: Param<'a, B::Db>,
    for<'a> Json<&'a JsonObject>: Param<'a, B::Db>,
    for<'q> Uuid: Param<'q, B::Db>,
    for<'q> DateTime<Utc>: Param<'q, B::Db>,
{
    let now = domain::now();
    let mut q = sqlx::QueryBuilder::<B::Db>::new(match B::KIND {
        Backend::Postgres => "WITH created AS (",
        Backend::Sqlite => "",
    });
    q.push(insert);
    q.push_values(rows.iter().map(|r| &r.value), push_row);
    q.push(match B::KIND {
        Backend::Postgres => ") ",
        Backend::Sqlite => "; ",
    });
    q.push(
        "INSERT INTO event_outbox (topic, kind, trace_id, idempotency_key, payload, created_at) ",
    );
    q.push_values(rows.iter().map(|r| &r.event), |mut row, event| {
        row.push_bind(event.topic.as_str())
            .push_bind(event.kind.as_str())
            .push_bind(event.trace_id)
            .push_bind(event.idempotency_key.as_str())
            .push_bind(Json(&event.payload))
            .push_bind(now);
    });
    // One text per number of rows: only the single row's is worth keeping prepared.
    q.build().persistent(rows.len() == 1).execute(conn).await?;
    Ok(())
}

/// Inserts projects with their `project.created` events (a group-commit row unit's insert).
fn insert_projects<'c, B>(
    rows: Vec<&'c Created<Project>>,
    conn: &'c mut Conn<B>,
) -> UnitFuture<'c, ()>
where
    B: SqlBackend,
    for<'e> &'e mut Conn<B>: Executor<'e, Database = B::Db>,
    for<'a> &'a str: Param<'a, B::Db>,
    for<'a> Option<&'a str>: Param<'a, B::Db>,
    for<'a> Json<&'a JsonObject>: Param<'a, B::Db>,
    for<'q> Uuid: Param<'q, B::Db>,
    for<'q> Option<Uuid>: Param<'q, B::Db>,
    for<'q> i64: Param<'q, B::Db>,
    for<'q> DateTime<Utc>: Param<'q, B::Db>,
{
    Box::pin(async move {
        let insert = "INSERT INTO projects (id, name, description, status, owner_id, metadata, \
                      version, created_at, updated_at) ";
        insert_created::<B, _>(conn, &rows, insert, |mut row, p| {
            row.push_bind(p.id)
                .push_bind(p.name.as_str())
                .push_bind(p.description.as_deref())
                .push_bind(p.status.as_str())
                .push_bind(p.owner_id)
                .push_bind(Json(&p.metadata))
                .push_bind(p.version)
                .push_bind(p.created_at)
                .push_bind(p.updated_at);
        })
        .await?;
        Ok(())
    })
}

/// Inserts components with their `component.created` events; a missing project is `NotFound`
/// (by the foreign key) when one row is inserted.
fn insert_components<'c, B>(
    rows: Vec<&'c Created<Component>>,
    conn: &'c mut Conn<B>,
) -> UnitFuture<'c, ()>
where
    B: SqlBackend,
    for<'e> &'e mut Conn<B>: Executor<'e, Database = B::Db>,
    for<'a> &'a str: Param<'a, B::Db>,
    for<'a> Option<&'a str>: Param<'a, B::Db>,
    for<'a> Json<&'a JsonObject>: Param<'a, B::Db>,
    for<'q> Uuid: Param<'q, B::Db>,
    for<'q> i32: Param<'q, B::Db>,
    for<'q> i64: Param<'q, B::Db>,
    for<'q> Option<String>: Param<'q, B::Db>,
    for<'q> Option<Json<Position>>: Param<'q, B::Db>,
    for<'q> DateTime<Utc>: Param<'q, B::Db>,
{
    Box::pin(async move {
        let insert = "INSERT INTO components (id, project_id, name, type, status, progress, \
                      position, metadata, url, host, icon, description, version, created_at, \
                      updated_at) ";
        insert_created::<B, _>(conn, &rows, insert, |mut row, c| {
            row.push_bind(c.id)
                .push_bind(c.project_id)
                .push_bind(c.name.as_str())
                .push_bind(c.kind.as_deref())
                .push_bind(c.status.as_str())
                .push_bind(c.progress)
                .push_bind(c.position.map(Json))
                .push_bind(Json(&c.metadata))
                .push_bind(c.url.as_deref())
                .push_bind(c.host.as_deref())
                .push_bind(c.icon.as_ref().map(ToString::to_string))
                .push_bind(c.description.as_deref())
                .push_bind(c.version)
                .push_bind(c.created_at)
                .push_bind(c.updated_at);
        })
        .await
        .map_err(|e| match rows.as_slice() {
            [one] => parent_missing(e, Entity::Project, one.value.project_id),
            _ => e.into(),
        })
    })
}

/// Inserts tasks with their `task.created` events; a missing component is `NotFound` (by the
/// foreign key) when one row is inserted.
fn insert_tasks<'c, B>(rows: Vec<&'c Created<Task>>, conn: &'c mut Conn<B>) -> UnitFuture<'c, ()>
where
    B: SqlBackend,
    for<'e> &'e mut Conn<B>: Executor<'e, Database = B::Db>,
    for<'a> &'a str: Param<'a, B::Db>,
    for<'a> Option<&'a str>: Param<'a, B::Db>,
    for<'a> Json<&'a JsonObject>: Param<'a, B::Db>,
    for<'q> Uuid: Param<'q, B::Db>,
    for<'q> Option<Uuid>: Param<'q, B::Db>,
    for<'q> i64: Param<'q, B::Db>,
    for<'q> DateTime<Utc>: Param<'q, B::Db>,
    for<'q> Option<DateTime<Utc>>: Param<'q, B::Db>,
{
    Box::pin(async move {
        let insert = "INSERT INTO tasks (id, component_id, name, description, status, \
                      assignee_id, due_date, completed_at, version, created_at, updated_at) ";
        insert_created::<B, _>(conn, &rows, insert, |mut row, t| {
            row.push_bind(t.id)
                .push_bind(t.component_id)
                .push_bind(t.name.as_str())
                .push_bind(t.description.as_deref())
                .push_bind(t.status.as_str())
                .push_bind(t.assignee_id)
                .push_bind(t.due_date)
                .push_bind(t.completed_at)
                .push_bind(t.version)
                .push_bind(t.created_at)
                .push_bind(t.updated_at);
        })
        .await
        .map_err(|e| match rows.as_slice() {
            [one] => parent_missing(e, Entity::Component, one.value.component_id),
            _ => e.into(),
        })
    })
}

/// `NotFound` unless the project exists.
pub(crate) async fn require_project<'c, DB: Sql>(
    conn: impl Executor<'c, Database = DB>,
    id: Uuid,
) -> Result<()>
where
    for<'q> Uuid: Param<'q, DB>,
{
    let sql = "SELECT 1 FROM projects WHERE id = $1";
    ensure_exists(conn, sql, (Entity::Project, id)).await
}

/// A project's `owner_id` must name a user: 422 on `owner_id` otherwise.
async fn require_owner<'c, DB: Sql>(
    conn: impl Executor<'c, Database = DB>,
    owner: Option<Uuid>,
) -> Result<()>
where
    for<'q> Uuid: Param<'q, DB>,
{
    let Some(owner) = owner else { return Ok(()) };
    let found = sqlx::query("SELECT 1 FROM users WHERE id = $1")
        .bind(owner)
        .fetch_optional(conn)
        .await?;
    found.map(|_| ()).ok_or_else(|| {
        StoreError::Invalid(domain::ValidationError::new(
            "owner_id",
            format!("no user has the id {owner}"),
        ))
    })
}

/// An uploaded icon must be an image artifact of the component's own project: 422 on `icon`
/// otherwise. (A built-in icon needs no check.)
async fn require_icon_artifact<'c, DB: Sql>(
    conn: impl Executor<'c, Database = DB>,
    c: &Component,
) -> Result<()>
where
    for<'q> Uuid: Param<'q, DB> + Column<DB>,
    String: Column<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    let Some(id) = c.icon.as_ref().and_then(Icon::artifact) else {
        return Ok(());
    };
    let found = sqlx::query("SELECT project_id, content_type FROM artifacts WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    let invalid = |why: String| StoreError::Invalid(ValidationError::new("icon", why));
    let Some(row) = found else {
        return Err(invalid(format!("no artifact has the id {id}")));
    };
    let project: Uuid = row.try_get(0)?;
    let content_type: String = row.try_get(1)?;
    if project != c.project_id {
        return Err(invalid(format!("artifact {id} belongs to another project")));
    }
    if !content_type.starts_with("image/") {
        return Err(invalid(format!(
            "artifact {id} is not an image ({content_type})"
        )));
    }
    Ok(())
}

/// `NotFound` unless the component exists.
async fn require_component<'c, DB: Sql>(
    conn: impl Executor<'c, Database = DB>,
    id: Uuid,
) -> Result<()>
where
    for<'q> Uuid: Param<'q, DB>,
{
    let sql = "SELECT 1 FROM components WHERE id = $1";
    ensure_exists(conn, sql, (Entity::Component, id)).await
}

#[async_trait]
impl<B> Store for B
where
    B: SqlBackend
        + EventStore
        + IdentityStore
        + LogStore
        + ArtifactStore
        + CheckStore
        + AlertStore
        + SnapshotStore
        + MetricSampleStore,
    for<'c> &'c mut Conn<B>: Executor<'c, Database = B::Db>,
    for<'a> &'a str: Param<'a, B::Db> + ColumnIndex<Row<B>>,
    for<'a> Json<&'a JsonObject>: Param<'a, B::Db>,
    usize: ColumnIndex<Row<B>>,
    for<'q> String: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Uuid: Param<'q, B::Db> + Column<B::Db>,
    for<'q> i64: Param<'q, B::Db> + Column<B::Db>,
    for<'q> i32: Param<'q, B::Db> + Column<B::Db>,
    f64: Column<B::Db>,
    bool: Column<B::Db>,
    for<'q> DateTime<Utc>: Param<'q, B::Db> + Column<B::Db>,
    for<'q> Json<Position>: Param<'q, B::Db> + Column<B::Db>,
    Json<JsonObject>: Column<B::Db>,
    for<'a> Option<&'a str>: Param<'a, B::Db>,
    for<'q> Option<String>: Param<'q, B::Db>,
    for<'q> Option<Uuid>: Param<'q, B::Db>,
    for<'q> Option<DateTime<Utc>>: Param<'q, B::Db>,
    for<'q> Option<Json<Position>>: Param<'q, B::Db>,
{
    fn backend(&self) -> Backend {
        B::KIND
    }

    async fn migrate(&self) -> Result<()> {
        self.apply_migrations(None).await
    }

    async fn migrate_stepwise(&self, step: &(dyn Fn(u64, u64) + Send + Sync)) -> Result<()> {
        // None before the first migration creates the bookkeeping table.
        let applied: HashSet<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(self.reader())
                .await
                .map(|v: Vec<i64>| v.into_iter().collect())
                .unwrap_or_default();
        let pending: Vec<i64> = B::migrations()
            .iter()
            .map(|m| m.version)
            .filter(|v| !applied.contains(v))
            .collect();
        let total = pending.len() as u64;
        step(0, total);
        for (i, version) in pending.into_iter().enumerate() {
            self.apply_migrations(Some(version)).await?;
            step(i as u64 + 1, total);
        }
        // The full pass also verifies the checksums of the migrations applied before.
        self.apply_migrations(None).await
    }

    async fn migrate_if_needed(&self) -> Result<()> {
        let applied = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(self.reader())
            .await;
        if let Ok(rows) = applied {
            let applied: HashSet<i64> = rows.iter().filter_map(|r| r.try_get(0).ok()).collect();
            if B::migrations().iter().all(|m| applied.contains(&m.version)) {
                return Ok(());
            }
        }
        self.apply_migrations(None).await
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(self.reader()).await?;
        Ok(())
    }

    fn pool_stats(&self) -> PoolStats {
        self.pool_occupancy()
    }

    async fn close(&self) {
        self.close_pools().await
    }

    async fn list_projects(
        &self,
        filter: &ProjectFilter,
        page: PageRequest,
    ) -> Result<Page<Project>> {
        Ok(self.list_projects_stamped(filter, page).await?.0)
    }

    async fn list_projects_stamped(
        &self,
        filter: &ProjectFilter,
        page: PageRequest,
    ) -> Result<(Page<Project>, Option<u64>)> {
        let status = filter.status.map(|s| s.as_str());
        let pattern = filter
            .search
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(contains_pattern);
        let before = self.projects_generation().and_then(|g| g.stable());
        let rows = sqlx::query(LIST_PROJECTS.get(B::KIND))
            .bind(status)
            .bind(pattern.as_deref())
            .bind(page.limit)
            .bind(page.offset)
            .fetch_all(self.reader())
            .await?;
        let generation = match rows.first() {
            Some(row) => row.try_get::<Option<i64>, _>("generation")?,
            None => None,
        };
        let (items, total, _) = split_page::<_, ProjectRow, Project>(rows)?;
        let stamp = match generation {
            // PostgreSQL: read in the page's own snapshot.
            Some(g) => u64::try_from(g).ok(),
            // SQLite: the same stable stamp before and after, so no write began or ended in
            // between and this is the table as it stays until the stamp moves.
            None => {
                before.filter(|s| self.projects_generation().and_then(|g| g.stable()) == Some(*s))
            }
        };
        Ok((Page { items, total }, stamp))
    }

    async fn projects_stamp(&self) -> Option<u64> {
        match self.projects_generation() {
            Some(g) => g.stable(),
            None => self.read_projects_generation().await,
        }
    }

    async fn project_progress(&self, limit: i64) -> Result<ProgressReport> {
        let rows: Vec<ProgressRow> = sqlx::query_as(concat!(
            "SELECT id, name, components, progress FROM (",
            open_project_progress!(),
            ") x ORDER BY created_at DESC, id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        let all: OverallRow = sqlx::query_as(concat!(
            "SELECT CAST(AVG(progress) AS DOUBLE PRECISION) AS overall, \
             COUNT(progress) AS measured FROM (",
            open_project_progress!(),
            ") x"
        ))
        .fetch_one(self.reader())
        .await?;
        Ok(ProgressReport {
            overall: all.overall,
            measured: all.measured,
            projects: rows.into_iter().map(ProjectProgress::from).collect(),
        })
    }

    async fn get_project(&self, id: Uuid) -> Result<Project> {
        sqlx::query_as::<_, ProjectRow>(PROJECT_BY_ID)
            .bind(id)
            .fetch_optional(self.reader())
            .await?
            .ok_or(StoreError::not_found(Entity::Project, id))?
            .try_into()
    }

    async fn create_project(&self, new: NewProject) -> Result<Project> {
        let p = Project::create(new)?;
        // Travels with the unit: finished once its batch committed or rolled back
        // (`generation.rs`).
        let mark = self.projects_generation().map(|g| g.begin());
        let event = DomainEvent::project_created(&p);
        let row = Created { value: p, event };
        match row.value.owner_id {
            // The common case: a row unit, whose statements concurrent creates share.
            None => Ok(self
                .group_commit()
                .insert(mark, row, insert_projects::<B>)
                .await?
                .value),
            // The owner must exist (there is no foreign key to a user): checked first.
            Some(owner) => {
                let row = std::sync::Arc::new(row);
                self.group_commit()
                    .write(mark, move |conn| {
                        let row = row.clone();
                        Box::pin(async move {
                            require_owner(&mut *conn, Some(owner)).await?;
                            insert_projects::<B>(vec![&*row], &mut *conn).await?;
                            Ok(row.value.clone())
                        })
                    })
                    .await
            }
        }
    }

    async fn update_project(
        &self,
        id: Uuid,
        expected: ExpectedVersion,
        patch: ProjectPatch,
    ) -> Result<Project> {
        let mark = self.projects_generation().map(|g| g.begin());
        let result = async {
            let mut tx = self.writer().begin().await?;
            let mut p: Project = sqlx::query_as::<_, ProjectRow>(PROJECT_FOR_UPDATE.get(B::KIND))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::not_found(Entity::Project, id))?
                .try_into()?;
            check_version(Entity::Project, id, expected, p.version)?;
            let new_owner = patch.owner_id;
            let changed = p.apply(patch)?;
            require_owner(&mut *tx, new_owner).await?;
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
            write_outbox(&mut *tx, &DomainEvent::project_updated(&p, &changed)).await?;
            tx.commit().await?;
            Ok(p)
        }
        .await;
        finish(mark);
        result
    }

    async fn delete_project(&self, id: Uuid) -> Result<()> {
        let mark = self.projects_generation().map(|g| g.begin());
        let result = async {
            let mut tx = self.writer().begin().await?;
            let p: Project = sqlx::query_as::<_, ProjectRow>(PROJECT_FOR_UPDATE.get(B::KIND))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::not_found(Entity::Project, id))?
                .try_into()?;
            // Its artifacts go first, each announced like a direct delete (the cascade would
            // remove them silently); the trigger queues their objects either way.
            let artifacts: Vec<ArtifactRow> = sqlx::query_as(DELETE_PROJECT_ARTIFACTS)
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
            for a in artifacts {
                write_outbox(&mut *tx, &DomainEvent::artifact_deleted(&a.into())).await?;
            }
            // Its components' checks likewise (each with its `check.deleted`).
            let checks: Vec<DefinitionRow> = sqlx::query_as(DELETE_PROJECT_CHECKS)
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
            for c in checks {
                write_outbox(&mut *tx, &c.deleted_event()?).await?;
            }
            sqlx::query("DELETE FROM projects WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            write_outbox(&mut *tx, &DomainEvent::project_deleted(&p)).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        finish(mark);
        result
    }

    async fn list_components(
        &self,
        project_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<Component>> {
        // Page, total and "the project exists" in one statement: one snapshot (see
        // `list_projects`).
        let rows = sqlx::query(
            "SELECT t.total, t.parent, p.id, p.project_id, p.name, p.type, p.status, p.progress, \
             p.position, p.metadata, p.url, p.host, p.icon, p.description, p.version, \
             p.created_at, p.updated_at FROM (SELECT (SELECT count(*) FROM components WHERE \
             project_id = $1) AS total, (SELECT count(*) FROM projects WHERE id = $1) AS parent) \
             t LEFT JOIN (SELECT id, project_id, name, type, status, progress, position, \
             metadata, url, host, icon, description, version, created_at, updated_at FROM \
             components WHERE project_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 \
             OFFSET $3) p ON 1 = 1 ORDER BY p.created_at DESC, p.id DESC",
        )
        .bind(project_id)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(self.reader())
        .await?;
        let (items, total, parent) = split_page::<_, ComponentRow, Component>(rows)?;
        if !parent {
            return Err(StoreError::not_found(Entity::Project, project_id));
        }
        Ok(Page { items, total })
    }

    async fn get_component(&self, id: Uuid) -> Result<Component> {
        sqlx::query_as::<_, ComponentRow>(COMPONENT_BY_ID)
            .bind(id)
            .fetch_optional(self.reader())
            .await?
            .ok_or(StoreError::not_found(Entity::Component, id))?
            .try_into()
    }

    async fn create_component(&self, project_id: Uuid, new: NewComponent) -> Result<Component> {
        let c = Component::create(project_id, new)?;
        let event = DomainEvent::component_created(&c);
        let row = Created { value: c, event };
        if row.value.icon.as_ref().and_then(Icon::artifact).is_none() {
            // A missing project fails the insert (foreign key): a row unit.
            return Ok(self
                .group_commit()
                .insert(None, row, insert_components::<B>)
                .await?
                .value);
        }
        // An icon that is an artifact must be one of this project's images: checked first.
        let row = std::sync::Arc::new(row);
        self.group_commit()
            .write(None, move |conn| {
                let row = row.clone();
                Box::pin(async move {
                    require_project(&mut *conn, project_id).await?;
                    require_icon_artifact(&mut *conn, &row.value).await?;
                    insert_components::<B>(vec![&*row], &mut *conn).await?;
                    Ok(row.value.clone())
                })
            })
            .await
    }

    async fn update_component(
        &self,
        id: Uuid,
        expected: ExpectedVersion,
        patch: ComponentPatch,
    ) -> Result<Component> {
        let mut tx = self.writer().begin().await?;
        let mut c = component_for_update::<B>(&mut *tx, id).await?;
        check_version(Entity::Component, id, expected, c.version)?;
        let changed = c.apply(patch)?;
        if changed.contains(&"icon") {
            require_icon_artifact(&mut *tx, &c).await?;
        }
        write_component(&mut *tx, &c).await?;
        write_outbox(&mut *tx, &DomainEvent::component_updated(&c, &changed)).await?;
        tx.commit().await?;
        Ok(c)
    }

    async fn delete_component(&self, id: Uuid) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        let c = component_for_update::<B>(&mut *tx, id).await?;
        // Its checks go first, each announced like a direct delete (the cascade would remove
        // them silently, and a consumer of `check.*` events would keep them forever).
        let checks: Vec<DefinitionRow> = sqlx::query_as(DELETE_COMPONENT_CHECKS)
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
        for check in checks {
            write_outbox(&mut *tx, &check.deleted_event()?).await?;
        }
        sqlx::query("DELETE FROM components WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        write_outbox(&mut *tx, &DomainEvent::component_deleted(&c)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_layout(
        &self,
        project_id: Uuid,
        positions: &[(Uuid, Position)],
    ) -> Result<Vec<Component>> {
        let mut tx = self.writer().begin().await?;
        require_project(&mut *tx, project_id).await?;
        let mut moved = Vec::with_capacity(positions.len());
        for (id, position) in positions {
            let mut c = component_for_update::<B>(&mut *tx, *id).await?;
            if c.project_id != project_id {
                return Err(ValidationError::new(
                    "positions",
                    format!("component {id} is not part of project {project_id}"),
                )
                .into());
            }
            c.move_to(*position)?;
            write_component(&mut *tx, &c).await?;
            write_outbox(&mut *tx, &DomainEvent::component_updated(&c, &["position"])).await?;
            moved.push(c);
        }
        tx.commit().await?;
        Ok(moved)
    }

    async fn list_dependencies(&self, project_id: Uuid) -> Result<Vec<Dependency>> {
        let mut conn = self.reader().acquire().await?;
        require_project(&mut *conn, project_id).await?;
        let rows: Vec<DependencyRow> = sqlx::query_as(PROJECT_DEPENDENCIES)
            .bind(project_id)
            .fetch_all(&mut *conn)
            .await?;
        Ok(rows.into_iter().map(Dependency::from).collect())
    }

    async fn component_dependencies(&self, component_id: Uuid) -> Result<Vec<Dependency>> {
        let mut conn = self.reader().acquire().await?;
        require_component(&mut *conn, component_id).await?;
        let rows: Vec<DependencyRow> = sqlx::query_as(
            "SELECT component_id, depends_on_id, created_at FROM component_dependencies \
             WHERE component_id = $1 ORDER BY created_at, depends_on_id",
        )
        .bind(component_id)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.into_iter().map(Dependency::from).collect())
    }

    async fn add_dependency(&self, component_id: Uuid, depends_on_id: Uuid) -> Result<Dependency> {
        let mut tx = self.writer().begin().await?;
        let project_of =
            |id| sqlx::query_scalar("SELECT project_id FROM components WHERE id = $1").bind(id);
        let from: Uuid = project_of(component_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::not_found(Entity::Component, component_id))?;
        let to: Uuid = project_of(depends_on_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::not_found(Entity::Component, depends_on_id))?;
        if from != to {
            return Err(StoreError::CrossProject(component_id, depends_on_id));
        }
        // Serialize graph changes per project so two concurrent edges cannot together close a
        // cycle that neither closes alone.
        sqlx::query(LOCK_PROJECT.get(B::KIND))
            .bind(from)
            .execute(&mut *tx)
            .await?;
        let edges: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT d.component_id, d.depends_on_id FROM component_dependencies d \
             JOIN components c ON c.id = d.component_id WHERE c.project_id = $1",
        )
        .bind(from)
        .fetch_all(&mut *tx)
        .await?;
        if edges.contains(&(component_id, depends_on_id)) {
            return Err(StoreError::DependencyExists {
                component_id,
                depends_on_id,
            });
        }
        if let Some(cycle) = find_cycle(&edges, component_id, depends_on_id) {
            let names: HashMap<Uuid, String> =
                sqlx::query_as("SELECT id, name FROM components WHERE project_id = $1")
                    .bind(from)
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .collect();
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
        write_outbox(&mut *tx, &event).await?;
        tx.commit().await?;
        Ok(dependency)
    }

    async fn remove_dependency(&self, component_id: Uuid, depends_on_id: Uuid) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        let project_id = component_for_update::<B>(&mut *tx, component_id)
            .await?
            .project_id;
        let done = sqlx::query(
            "DELETE FROM component_dependencies WHERE component_id = $1 AND depends_on_id = $2",
        )
        .bind(component_id)
        .bind(depends_on_id)
        .execute(&mut *tx)
        .await?;
        if B::Db::rows_affected(&done) == 0 {
            return Err(StoreError::not_found(Entity::Dependency, depends_on_id));
        }
        let event = DomainEvent::dependency(false, project_id, component_id, depends_on_id);
        write_outbox(&mut *tx, &event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn project_graph(&self, project_id: Uuid) -> Result<ProjectGraph> {
        let mut tx = self.reader().begin().await?;
        require_project(&mut *tx, project_id).await?;
        let nodes: Vec<GraphNodeRow> = sqlx::query_as(
            "SELECT id, project_id, name, type, status, progress, position, metadata, url, host, \
             icon, description, version, created_at, updated_at, (SELECT count(*) FROM tasks t WHERE t.component_id = \
             components.id) AS task_count, (SELECT count(*) FROM tasks t WHERE t.component_id = \
             components.id AND t.status <> 'done') AS open_task_count FROM components WHERE \
             project_id = $1 ORDER BY created_at, id",
        )
        .bind(project_id)
        .fetch_all(&mut *tx)
        .await?;
        let dependencies: Vec<DependencyRow> = sqlx::query_as(PROJECT_DEPENDENCIES)
            .bind(project_id)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ProjectGraph {
            project_id,
            nodes: convert(nodes)?,
            dependencies: dependencies.into_iter().map(Dependency::from).collect(),
        })
    }

    async fn list_tasks(&self, component_id: Uuid, page: PageRequest) -> Result<Page<Task>> {
        // Page, total and "the component exists" in one statement: one snapshot (see
        // `list_projects`).
        let rows = sqlx::query(
            "SELECT t.total, t.parent, p.id, p.component_id, p.name, p.description, p.status, \
             p.assignee_id, p.due_date, p.completed_at, p.version, p.created_at, p.updated_at \
             FROM (SELECT (SELECT count(*) FROM tasks WHERE component_id = $1) AS total, \
             (SELECT count(*) FROM components WHERE id = $1) AS parent) t LEFT JOIN (SELECT id, \
             component_id, name, description, status, assignee_id, due_date, completed_at, \
             version, created_at, updated_at FROM tasks WHERE component_id = $1 ORDER BY \
             created_at DESC, id DESC LIMIT $2 OFFSET $3) p ON 1 = 1 \
             ORDER BY p.created_at DESC, p.id DESC",
        )
        .bind(component_id)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(self.reader())
        .await?;
        let (items, total, parent) = split_page::<_, TaskRow, Task>(rows)?;
        if !parent {
            return Err(StoreError::not_found(Entity::Component, component_id));
        }
        Ok(Page { items, total })
    }

    async fn get_task(&self, id: Uuid) -> Result<Task> {
        sqlx::query_as::<_, TaskRow>(TASK_BY_ID)
            .bind(id)
            .fetch_optional(self.reader())
            .await?
            .ok_or(StoreError::not_found(Entity::Task, id))?
            .try_into()
    }

    async fn create_task(&self, component_id: Uuid, new: NewTask) -> Result<Task> {
        let t = Task::create(component_id, new)?;
        let event = DomainEvent::task_created(&t);
        let row = Created { value: t, event };
        // A missing component fails the insert (foreign key).
        Ok(self
            .group_commit()
            .insert(None, row, insert_tasks::<B>)
            .await?
            .value)
    }

    async fn update_task(
        &self,
        id: Uuid,
        expected: ExpectedVersion,
        patch: TaskPatch,
    ) -> Result<Task> {
        let mut tx = self.writer().begin().await?;
        let mut t = task_for_update::<B>(&mut *tx, id).await?;
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
        write_outbox(&mut *tx, &DomainEvent::task_updated(&t, &changed)).await?;
        tx.commit().await?;
        Ok(t)
    }

    async fn delete_task(&self, id: Uuid) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        let t = task_for_update::<B>(&mut *tx, id).await?;
        sqlx::query("DELETE FROM tasks WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        write_outbox(&mut *tx, &DomainEvent::task_deleted(&t)).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The component, locked for the rest of the transaction where the database locks rows.
async fn component_for_update<'c, B: SqlBackend>(
    conn: impl Executor<'c, Database = B::Db>,
    id: Uuid,
) -> Result<Component>
where
    for<'a> &'a str: ColumnIndex<Row<B>>,
    String: Column<B::Db>,
    for<'q> Uuid: Param<'q, B::Db> + Column<B::Db>,
    i64: Column<B::Db>,
    i32: Column<B::Db>,
    DateTime<Utc>: Column<B::Db>,
    Json<Position>: Column<B::Db>,
    Json<JsonObject>: Column<B::Db>,
{
    sqlx::query_as::<_, ComponentRow>(COMPONENT_FOR_UPDATE.get(B::KIND))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::not_found(Entity::Component, id))?
        .try_into()
}

/// The task, locked for the rest of the transaction where the database locks rows.
async fn task_for_update<'c, B: SqlBackend>(
    conn: impl Executor<'c, Database = B::Db>,
    id: Uuid,
) -> Result<Task>
where
    for<'a> &'a str: ColumnIndex<Row<B>>,
    String: Column<B::Db>,
    for<'q> Uuid: Param<'q, B::Db> + Column<B::Db>,
    i64: Column<B::Db>,
    DateTime<Utc>: Column<B::Db>,
{
    sqlx::query_as::<_, TaskRow>(TASK_FOR_UPDATE.get(B::KIND))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::not_found(Entity::Task, id))?
        .try_into()
}

async fn write_component<'c, DB: Sql>(
    conn: impl Executor<'c, Database = DB>,
    c: &Component,
) -> Result<()>
where
    for<'a> &'a str: Param<'a, DB>,
    for<'a> Json<&'a JsonObject>: Param<'a, DB>,
    for<'q> String: Param<'q, DB>,
    for<'q> Uuid: Param<'q, DB>,
    for<'q> i64: Param<'q, DB>,
    for<'q> i32: Param<'q, DB>,
    for<'q> DateTime<Utc>: Param<'q, DB>,
    for<'q> Option<String>: Param<'q, DB>,
    for<'q> Option<Json<Position>>: Param<'q, DB>,
{
    sqlx::query(
        "UPDATE components SET name = $2, type = $3, status = $4, progress = $5, \
         position = $6, metadata = $7, url = $8, host = $9, icon = $10, description = $11, \
         version = $12, updated_at = $13 WHERE id = $1",
    )
    .bind(c.id)
    .bind(&c.name)
    .bind(&c.kind)
    .bind(c.status.as_str())
    .bind(c.progress)
    .bind(c.position.map(Json))
    .bind(Json(&c.metadata))
    .bind(&c.url)
    .bind(&c.host)
    .bind(c.icon.as_ref().map(ToString::to_string))
    .bind(&c.description)
    .bind(c.version)
    .bind(c.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}
