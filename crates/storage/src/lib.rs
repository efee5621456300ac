//! Storage: one [`Store`] trait, implemented for PostgreSQL ([`PgStore`]) and SQLite
//! ([`SqliteStore`]) with explicit SQL and their own versioned migrations.
//!
//! Both implementations share one body of queries, written once in `sql_*.rs` as trait impls
//! generic over `backend::SqlBackend`; what differs between the databases — pools, bulk inserts,
//! notifications, connection settings — is that trait's implementation in `postgres.rs` and
//! `sqlite.rs`, and the few statements spelled differently are `backend::Dialects` pairs.
//! Every method uses at most one pooled connection at a time, so no request can deadlock the pool
//! by waiting for a second connection while holding the first.

mod alerts;
mod artifacts;
mod backend;
mod checks;
mod db_generation;
mod error;
mod events;
mod generation;
mod group_commit;
mod identity;
mod logs;
mod migrations;
mod postgres;
mod samples;
mod sign_in;
mod snapshot;
mod sql_alerts;
mod sql_artifacts;
mod sql_checks;
mod sql_events;
mod sql_identity;
mod sql_logs;
mod sql_samples;
mod sql_sign_in;
mod sql_snapshot;
mod sql_store;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use domain::{
    Component, ComponentPatch, Dependency, NewComponent, NewProject, NewTask, Page, PageRequest,
    Position, ProgressReport, Project, ProjectFilter, ProjectGraph, ProjectPatch, Task, TaskPatch,
};
use uuid::Uuid;

pub use alerts::{
    AlertCommit, AlertFilter, AlertStore, AlertWrite, BackupOutcomes, BlockedComponent,
    CheckAlertInput, ClaimedNotification, DeliveryOutcome, StoredChannel,
};
pub use artifacts::{ArtifactStore, ObjectDeletion};
pub use checks::{
    CheckOverview, CheckRetention, CheckStore, ComponentBucket, RecordedTransition, Resolution,
    StatusCheckState, StatusPageData, StoredCheck, StoredResult, UptimeBucket,
};
pub use error::{Entity, StoreError};
pub use events::{EventPage, EventStore, IngestOutcome, OutboxConfirmation, OutboxDeadLettered};
pub use generation::{Generation, WriteMark};
pub use identity::{IdentityStore, LoginUpdate};
pub use logs::{LogPage, LogStore};
pub use postgres::PgStore;
pub use samples::{MetricSample, MetricSampleStore};
pub use sign_in::SignInStore;
pub use snapshot::{
    Kind, RowObject, RowSink, RowSource, SnapshotStore, TABLES, Table, table_named,
};
pub use sqlite::{SqliteStore, observability_path};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Postgres => "postgresql",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// Connection-pool occupancy, exported as metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections.
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// Upper bound on open connections.
    pub max: u32,
}

/// The optimistic-concurrency precondition of an update: the version the client last saw.
pub type ExpectedVersion = Option<i64>;

/// Everything TaylorDash persists: projects, components, dependencies and tasks here, events
/// through [`EventStore`], logs through [`LogStore`], local metric samples through
/// [`MetricSampleStore`], and identity (users, sessions, API keys, audit trail) through
/// [`IdentityStore`].
///
/// Lookups of a missing id return [`StoreError::NotFound`]; updates whose expected version is
/// stale return [`StoreError::VersionConflict`] and change nothing.
#[async_trait]
pub trait Store:
    EventStore
    + IdentityStore
    + LogStore
    + ArtifactStore
    + CheckStore
    + AlertStore
    + SnapshotStore
    + MetricSampleStore
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;
    /// Applies pending migrations; safe to run any number of times, and from several processes.
    /// Verifies the checksums of applied ones.
    async fn migrate(&self) -> Result<()>;
    /// [`Store::migrate`], applying pending migrations one at a time and telling
    /// `step(applied, pending)` before the first and after each (the `migrate` command's bar).
    async fn migrate_stepwise(&self, step: &(dyn Fn(u64, u64) + Send + Sync)) -> Result<()>;
    /// Applies pending migrations, doing nothing — not even taking the migration lock or
    /// creating the bookkeeping table — when all are applied. This is what lets a server run as
    /// a role without any schema privilege once `migrate` has run as the owner.
    async fn migrate_if_needed(&self) -> Result<()>;
    /// One round trip to the database.
    async fn ping(&self) -> Result<()>;
    fn pool_stats(&self) -> PoolStats;
    /// Waits for checked-out connections to return, then closes the pool.
    async fn close(&self);

    async fn list_projects(
        &self,
        filter: &ProjectFilter,
        page: PageRequest,
    ) -> Result<Page<Project>>;
    /// [`Store::list_projects`], with the stamp (see [`Store::projects_stamp`]) the page is the
    /// table's content under: `Some(s)` means it may be served again while
    /// [`Store::projects_stamp`] answers `Some(s)`; `None`, that it may not.
    async fn list_projects_stamped(
        &self,
        filter: &ProjectFilter,
        page: PageRequest,
    ) -> Result<(Page<Project>, Option<u64>)>;
    /// The projects table's stamp now: the same stamp means the same projects. On SQLite the
    /// write stamp this process keeps (`generation.rs`; `None` while a write is in progress); on
    /// PostgreSQL the generation the database keeps (migration 0019), read by a query that began
    /// after this call did (`db_generation.rs`; `None` if it could not be read), so it reflects
    /// every write acknowledged before, by any replica.
    async fn projects_stamp(&self) -> Option<u64>;
    /// The progress of the open (not archived) projects: the `limit` newest, and the average
    /// over all of them (`domain::component_progress` per component, averaged per project).
    async fn project_progress(&self, limit: i64) -> Result<ProgressReport>;
    async fn get_project(&self, id: Uuid) -> Result<Project>;
    async fn create_project(&self, new: NewProject) -> Result<Project>;
    async fn update_project(
        &self,
        id: Uuid,
        expected: ExpectedVersion,
        patch: ProjectPatch,
    ) -> Result<Project>;
    /// Deletes the project with its components, their dependencies and tasks.
    async fn delete_project(&self, id: Uuid) -> Result<()>;

    async fn list_components(&self, project_id: Uuid, page: PageRequest)
    -> Result<Page<Component>>;
    async fn get_component(&self, id: Uuid) -> Result<Component>;
    async fn create_component(&self, project_id: Uuid, new: NewComponent) -> Result<Component>;
    async fn update_component(
        &self,
        id: Uuid,
        expected: ExpectedVersion,
        patch: ComponentPatch,
    ) -> Result<Component>;
    async fn delete_component(&self, id: Uuid) -> Result<()>;
    /// Moves many components of one project at once (canvas layout); all or nothing.
    async fn update_layout(
        &self,
        project_id: Uuid,
        positions: &[(Uuid, Position)],
    ) -> Result<Vec<Component>>;

    /// Dependencies among the components of a project.
    async fn list_dependencies(&self, project_id: Uuid) -> Result<Vec<Dependency>>;
    /// What `component_id` depends on.
    async fn component_dependencies(&self, component_id: Uuid) -> Result<Vec<Dependency>>;
    /// Records that `component_id` depends on `depends_on_id`; refuses cycles, duplicates and
    /// edges between projects.
    async fn add_dependency(&self, component_id: Uuid, depends_on_id: Uuid) -> Result<Dependency>;
    async fn remove_dependency(&self, component_id: Uuid, depends_on_id: Uuid) -> Result<()>;
    /// Components (with task counts) and dependencies of a project, read in one snapshot.
    async fn project_graph(&self, project_id: Uuid) -> Result<ProjectGraph>;

    async fn list_tasks(&self, component_id: Uuid, page: PageRequest) -> Result<Page<Task>>;
    async fn get_task(&self, id: Uuid) -> Result<Task>;
    async fn create_task(&self, component_id: Uuid, new: NewTask) -> Result<Task>;
    async fn update_task(
        &self,
        id: Uuid,
        expected: ExpectedVersion,
        patch: TaskPatch,
    ) -> Result<Task>;
    async fn delete_task(&self, id: Uuid) -> Result<()>;
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    Postgres {
        url: String,
        max_connections: u32,
    },
    Sqlite {
        path: std::path::PathBuf,
        max_connections: u32,
    },
}

/// Opens the configured store (creating an SQLite file if needed). Does not migrate.
pub async fn connect(config: &StoreConfig) -> Result<Arc<dyn Store>> {
    Ok(match config {
        StoreConfig::Postgres {
            url,
            max_connections,
        } => Arc::new(PgStore::connect(url, *max_connections).await?),
        StoreConfig::Sqlite {
            path,
            max_connections,
        } => Arc::new(SqliteStore::open(path, *max_connections).await?),
    })
}
