//! The resources and how they are created and changed.
//!
//! Constructors (`create`) and patches (`apply`) validate their input, so a value of these types
//! that came through them is always valid. Storage only persists what these functions produce.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::component_fields::{self, Icon};
use crate::validate::{self, ValidationError};
use crate::{ComponentStatus, JsonObject, ProjectStatus, TaskStatus, now};

pub const NAME_MAX: usize = 255;
pub const DESCRIPTION_MAX: usize = 1000;
pub const TASK_DESCRIPTION_MAX: usize = 10_000;
pub const COMPONENT_TYPE_MAX: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub status: ProjectStatus,
    pub owner_id: Option<Uuid>,
    pub metadata: JsonObject,
    /// Incremented on every change; the basis of lost-update protection.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct NewProject {
    pub name: String,
    pub description: Option<String>,
    pub status: ProjectStatus,
    pub owner_id: Option<Uuid>,
    pub metadata: JsonObject,
}

/// A partial update: `None` leaves a field unchanged (v1 semantics of PUT).
#[derive(Debug, Clone, Default)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: Option<ProjectStatus>,
    pub owner_id: Option<Uuid>,
    pub metadata: Option<JsonObject>,
}

impl Project {
    pub fn create(new: NewProject) -> Result<Project, ValidationError> {
        let at = now();
        let project = Project {
            id: Uuid::new_v4(),
            name: validate::name("name", &new.name, NAME_MAX)?,
            description: validate::optional_text("description", new.description, DESCRIPTION_MAX)?,
            status: new.status,
            owner_id: new.owner_id,
            metadata: new.metadata,
            version: 1,
            created_at: at,
            updated_at: at,
        };
        validate::metadata(&project.metadata)?;
        Ok(project)
    }

    /// Applies `patch`, bumps the version and returns the names of the fields whose value changed.
    pub fn apply(&mut self, patch: ProjectPatch) -> Result<Vec<&'static str>, ValidationError> {
        let mut changed = Changes::default();
        if let Some(name) = patch.name {
            changed.set(
                "name",
                &mut self.name,
                validate::name("name", &name, NAME_MAX)?,
            );
        }
        if let Some(d) = patch.description {
            validate::text("description", &d, DESCRIPTION_MAX)?;
            changed.set("description", &mut self.description, Some(d));
        }
        if let Some(s) = patch.status {
            changed.set("status", &mut self.status, s);
        }
        if let Some(o) = patch.owner_id {
            changed.set("owner_id", &mut self.owner_id, Some(o));
        }
        if let Some(m) = patch.metadata {
            validate::metadata(&m)?;
            changed.set("metadata", &mut self.metadata, m);
        }
        self.version += 1;
        self.updated_at = now();
        Ok(changed.0)
    }
}

/// Where a component sits on the canvas.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub x: f64,
    pub y: f64,
}

impl Position {
    pub fn validated(self) -> Result<Position, ValidationError> {
        if self.x.is_finite() && self.y.is_finite() {
            Ok(self)
        } else {
            Err(ValidationError::new(
                "position",
                "x and y must be finite numbers",
            ))
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    /// Free-form kind of component ("service", "database", ...); `type` on the wire.
    pub kind: Option<String>,
    pub status: ComponentStatus,
    /// Percent done, 0-100.
    pub progress: i32,
    pub position: Option<Position>,
    pub metadata: JsonObject,
    /// The address that opens the service (`http(s)`, no credentials).
    pub url: Option<String>,
    /// The machine it runs on: a host name or an IP address.
    pub host: Option<String>,
    pub icon: Option<Icon>,
    pub description: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct NewComponent {
    pub name: String,
    pub kind: Option<String>,
    pub status: ComponentStatus,
    pub progress: i32,
    pub position: Option<Position>,
    pub metadata: JsonObject,
    /// `url`, `host`, `icon`, `description`: an empty (or blank) value means none.
    pub url: Option<String>,
    pub host: Option<String>,
    /// A name from [`crate::ICONS`] or an artifact id.
    pub icon: Option<String>,
    pub description: Option<String>,
}

/// `None` keeps a field; for `url`, `host`, `icon` and `description` an empty string clears it.
#[derive(Debug, Clone, Default)]
pub struct ComponentPatch {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub status: Option<ComponentStatus>,
    pub progress: Option<i32>,
    pub position: Option<Position>,
    pub metadata: Option<JsonObject>,
    pub url: Option<String>,
    pub host: Option<String>,
    pub icon: Option<String>,
    pub description: Option<String>,
}

/// The optional text fields of a component: blank means none, anything else must pass `rule`.
fn clearable<T>(
    value: Option<String>,
    rule: impl FnOnce(&str) -> Result<T, ValidationError>,
) -> Result<Option<T>, ValidationError> {
    match value {
        Some(v) if !v.trim().is_empty() => rule(&v).map(Some),
        _ => Ok(None),
    }
}

fn component_description(value: &str) -> Result<String, ValidationError> {
    validate::text("description", value, DESCRIPTION_MAX)?;
    Ok(value.to_owned())
}

fn progress(value: i32) -> Result<i32, ValidationError> {
    if (0..=100).contains(&value) {
        Ok(value)
    } else {
        Err(ValidationError::new(
            "progress",
            "must be between 0 and 100",
        ))
    }
}

impl Component {
    pub fn create(project_id: Uuid, new: NewComponent) -> Result<Component, ValidationError> {
        let at = now();
        let component = Component {
            id: Uuid::new_v4(),
            project_id,
            name: validate::name("name", &new.name, NAME_MAX)?,
            kind: validate::optional_text("type", new.kind, COMPONENT_TYPE_MAX)?,
            status: new.status,
            progress: progress(new.progress)?,
            position: new.position.map(Position::validated).transpose()?,
            metadata: new.metadata,
            url: clearable(new.url, component_fields::url)?,
            host: clearable(new.host, component_fields::host)?,
            icon: clearable(new.icon, Icon::parse)?,
            description: clearable(new.description, component_description)?,
            version: 1,
            created_at: at,
            updated_at: at,
        };
        validate::metadata(&component.metadata)?;
        Ok(component)
    }

    pub fn apply(&mut self, patch: ComponentPatch) -> Result<Vec<&'static str>, ValidationError> {
        let mut changed = Changes::default();
        if let Some(name) = patch.name {
            changed.set(
                "name",
                &mut self.name,
                validate::name("name", &name, NAME_MAX)?,
            );
        }
        if let Some(kind) = patch.kind {
            validate::text("type", &kind, COMPONENT_TYPE_MAX)?;
            changed.set("type", &mut self.kind, Some(kind));
        }
        if let Some(s) = patch.status {
            changed.set("status", &mut self.status, s);
        }
        if let Some(p) = patch.progress {
            changed.set("progress", &mut self.progress, progress(p)?);
        }
        if let Some(p) = patch.position {
            changed.set("position", &mut self.position, Some(p.validated()?));
        }
        if let Some(m) = patch.metadata {
            validate::metadata(&m)?;
            changed.set("metadata", &mut self.metadata, m);
        }
        if patch.url.is_some() {
            let url = clearable(patch.url, component_fields::url)?;
            changed.set("url", &mut self.url, url);
        }
        if patch.host.is_some() {
            let host = clearable(patch.host, component_fields::host)?;
            changed.set("host", &mut self.host, host);
        }
        if patch.icon.is_some() {
            let icon = clearable(patch.icon, Icon::parse)?;
            changed.set("icon", &mut self.icon, icon);
        }
        if patch.description.is_some() {
            let d = clearable(patch.description, component_description)?;
            changed.set("description", &mut self.description, d);
        }
        self.version += 1;
        self.updated_at = now();
        Ok(changed.0)
    }

    /// Moves the component on the canvas (bulk layout); counts as a change.
    pub fn move_to(&mut self, position: Position) -> Result<(), ValidationError> {
        self.position = Some(position.validated()?);
        self.version += 1;
        self.updated_at = now();
        Ok(())
    }
}

/// "`component_id` depends on `depends_on_id`": an edge of a project's component graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    pub component_id: Uuid,
    pub depends_on_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// A component with the number of its tasks, as drawn on the canvas.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphNode {
    pub component: Component,
    pub task_count: i64,
    pub open_task_count: i64,
}

/// Everything the canvas needs for one project.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectGraph {
    pub project_id: Uuid,
    pub nodes: Vec<GraphNode>,
    pub dependencies: Vec<Dependency>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: Uuid,
    pub component_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    pub assignee_id: Option<Uuid>,
    pub due_date: Option<DateTime<Utc>>,
    /// Set when the status becomes `done`, cleared when it leaves `done`.
    pub completed_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct NewTask {
    pub name: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    pub assignee_id: Option<Uuid>,
    pub due_date: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default)]
pub struct TaskPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: Option<TaskStatus>,
    pub assignee_id: Option<Uuid>,
    pub due_date: Option<DateTime<Utc>>,
}

impl Task {
    pub fn create(component_id: Uuid, new: NewTask) -> Result<Task, ValidationError> {
        let at = now();
        Ok(Task {
            id: Uuid::new_v4(),
            component_id,
            name: validate::name("name", &new.name, NAME_MAX)?,
            description: validate::optional_text(
                "description",
                new.description,
                TASK_DESCRIPTION_MAX,
            )?,
            status: new.status,
            assignee_id: new.assignee_id,
            due_date: new.due_date.map(crate::truncate_to_micros),
            completed_at: (new.status == TaskStatus::Done).then_some(at),
            version: 1,
            created_at: at,
            updated_at: at,
        })
    }

    pub fn apply(&mut self, patch: TaskPatch) -> Result<Vec<&'static str>, ValidationError> {
        let mut changed = Changes::default();
        if let Some(name) = patch.name {
            changed.set(
                "name",
                &mut self.name,
                validate::name("name", &name, NAME_MAX)?,
            );
        }
        if let Some(d) = patch.description {
            validate::text("description", &d, TASK_DESCRIPTION_MAX)?;
            changed.set("description", &mut self.description, Some(d));
        }
        if let Some(a) = patch.assignee_id {
            changed.set("assignee_id", &mut self.assignee_id, Some(a));
        }
        if let Some(d) = patch.due_date {
            let d = crate::truncate_to_micros(d);
            changed.set("due_date", &mut self.due_date, Some(d));
        }
        let at = now();
        if let Some(s) = patch.status {
            let was_done = self.status == TaskStatus::Done;
            changed.set("status", &mut self.status, s);
            match (was_done, s == TaskStatus::Done) {
                (false, true) => changed.set("completed_at", &mut self.completed_at, Some(at)),
                (true, false) => changed.set("completed_at", &mut self.completed_at, None),
                _ => {}
            }
        }
        self.version += 1;
        self.updated_at = at;
        Ok(changed.0)
    }
}

/// Collects the names of fields whose value actually changed.
#[derive(Default)]
struct Changes(Vec<&'static str>);

impl Changes {
    fn set<T: PartialEq>(&mut self, field: &'static str, slot: &mut T, value: T) {
        if *slot != value {
            *slot = value;
            self.0.push(field);
        }
    }
}

/// Offset pagination with a hard cap, so no request can ask for an unbounded result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: i64,
    pub offset: i64,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: i64 = 100;
    pub const MAX_LIMIT: i64 = 500;

    /// Clamps `limit` to `1..=MAX_LIMIT`; rejects negative values.
    pub fn new(limit: Option<i64>, offset: Option<i64>) -> Result<PageRequest, ValidationError> {
        let limit = limit.unwrap_or(Self::DEFAULT_LIMIT);
        let offset = offset.unwrap_or(0);
        if limit < 1 {
            return Err(ValidationError::new("limit", "must be at least 1"));
        }
        if offset < 0 {
            return Err(ValidationError::new("offset", "must not be negative"));
        }
        Ok(PageRequest {
            limit: limit.min(Self::MAX_LIMIT),
            offset,
        })
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            limit: Self::DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

/// One page of a list plus the number of items matching the query.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// A component's progress in percent, the one definition everything shows (canvas, dashboard,
/// chart): with tasks, the share of them that are done; without, the percentage typed by hand
/// (`Component::progress`). Storage's `project_progress` computes the same in SQL.
pub fn component_progress(typed: i32, tasks: i64, done: i64) -> f64 {
    if tasks > 0 {
        100.0 * done.clamp(0, tasks) as f64 / tasks as f64
    } else {
        f64::from(typed)
    }
}

/// A project's progress: the average of its components' [`component_progress`]; `None` while
/// it has no components (nothing to measure).
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectProgress {
    pub id: Uuid,
    pub name: String,
    pub components: i64,
    pub progress: Option<f64>,
}

/// The progress of the open (not archived) projects.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressReport {
    /// The average progress of the open projects that have components; `None` if none has.
    pub overall: Option<f64>,
    /// How many projects `overall` averages.
    pub measured: i64,
    /// The newest open projects (as many as asked for), newest first.
    pub projects: Vec<ProjectProgress>,
}

#[derive(Debug, Clone, Default)]
pub struct ProjectFilter {
    pub status: Option<ProjectStatus>,
    /// Case-insensitive substring of the name or description.
    pub search: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_comes_from_tasks_when_there_are_any() {
        assert_eq!(component_progress(0, 4, 1), 25.0);
        assert_eq!(
            component_progress(90, 4, 1),
            25.0,
            "typed progress is ignored"
        );
        assert_eq!(
            component_progress(40, 0, 0),
            40.0,
            "typed by hand without tasks"
        );
        assert_eq!(component_progress(0, 3, 3), 100.0);
        assert!((component_progress(0, 3, 1) - 100.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn project_create_trims_and_validates() {
        let p = Project::create(NewProject {
            name: "  lab  ".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.name, "lab");
        assert_eq!(p.version, 1);
        let err = Project::create(NewProject {
            name: "   ".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.field, "name");
        let err = Project::create(NewProject {
            name: "x".repeat(256),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.field, "name");
    }

    #[test]
    fn patch_reports_changed_fields_and_bumps_version() {
        let mut p = Project::create(NewProject {
            name: "a".into(),
            ..Default::default()
        })
        .unwrap();
        let changed = p
            .apply(ProjectPatch {
                name: Some("a".into()),
                status: Some(ProjectStatus::Active),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(changed, vec!["status"]);
        assert_eq!(p.version, 2);
    }

    #[test]
    fn progress_out_of_range_is_rejected() {
        let err = Component::create(
            Uuid::new_v4(),
            NewComponent {
                name: "c".into(),
                progress: 101,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(err.field, "progress");
    }

    #[test]
    fn component_fields_are_validated_and_blank_clears() {
        let mut c = Component::create(
            Uuid::new_v4(),
            NewComponent {
                name: "nas".into(),
                url: Some("https://nas.lan:5001".into()),
                host: Some("nas.lan".into()),
                icon: Some("nas".into()),
                description: Some("  ".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.url.as_deref(), Some("https://nas.lan:5001/"));
        assert_eq!(c.icon, Some(Icon::Builtin("nas")));
        assert_eq!(c.description, None);
        let changed = c
            .apply(ComponentPatch {
                url: Some(String::new()),
                description: Some("the NAS\nin the rack".into()),
                host: Some("nas.lan".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(changed, vec!["url", "description"]);
        assert_eq!(c.url, None);
        for (patch, field) in [
            (
                ComponentPatch {
                    url: Some("javascript:alert(1)".into()),
                    ..Default::default()
                },
                "url",
            ),
            (
                ComponentPatch {
                    host: Some("not a host".into()),
                    ..Default::default()
                },
                "host",
            ),
            (
                ComponentPatch {
                    icon: Some("unicorn".into()),
                    ..Default::default()
                },
                "icon",
            ),
            (
                ComponentPatch {
                    description: Some("x".repeat(DESCRIPTION_MAX + 1)),
                    ..Default::default()
                },
                "description",
            ),
        ] {
            assert_eq!(c.clone().apply(patch).unwrap_err().field, field);
        }
    }

    #[test]
    fn task_done_sets_and_clears_completed_at() {
        let mut t = Task::create(
            Uuid::new_v4(),
            NewTask {
                name: "t".into(),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(t.completed_at.is_none());
        t.apply(TaskPatch {
            status: Some(TaskStatus::Done),
            ..Default::default()
        })
        .unwrap();
        assert!(t.completed_at.is_some());
        t.apply(TaskPatch {
            status: Some(TaskStatus::Review),
            ..Default::default()
        })
        .unwrap();
        assert!(t.completed_at.is_none());
    }

    #[test]
    fn page_request_caps_and_rejects_negatives() {
        assert_eq!(PageRequest::new(Some(10_000), None).unwrap().limit, 500);
        assert!(PageRequest::new(Some(0), None).is_err());
        assert!(PageRequest::new(None, Some(-1)).is_err());
    }

    #[test]
    fn non_finite_position_is_rejected() {
        let err = Position {
            x: f64::NAN,
            y: 0.0,
        }
        .validated()
        .unwrap_err();
        assert_eq!(err.field, "position");
    }
}
