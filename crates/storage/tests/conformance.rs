//! The storage conformance suite: every test runs unchanged against SQLite and PostgreSQL.
// The suite bodies are plain async fns called from generated #[tokio::test]s, which the
// allow-unwrap-in-tests setting does not see; in tests a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use domain::{
    ApiKeyInfo, AuditAction, AuditEntry, AuditFilter, ComponentPatch, ComponentStatus, NewApiKey,
    NewComponent, NewProject, NewSession, NewTask, NewUser, PageRequest, Position, ProjectFilter,
    ProjectPatch, ProjectStatus, Role, Scope, Session, TaskPatch, TaskStatus, ThrottlePolicy,
    UserPatch,
};
use storage::{Entity, Store, StoreError};
use uuid::Uuid;

testsupport::on_both_backends!(
    project_round_trip,
    list_orders_pages_and_filters,
    project_progress_averages_components,
    search_escapes_like_wildcards,
    update_checks_version_and_reports_conflict,
    missing_ids_are_not_found,
    delete_project_cascades,
    component_round_trip_and_validation,
    dependencies_refuse_cycles_duplicates_and_cross_project,
    graph_counts_tasks_and_lists_edges,
    layout_is_all_or_nothing,
    task_completion_and_listing,
    concurrent_creations_do_not_deadlock,
    concurrent_creates_fail_alone,
    creates_queued_together_keep_their_order_and_fail_alone,
    concurrent_opposite_dependencies_cannot_both_win,
    events_are_stored_once_and_listed_with_filters,
    dead_letters_are_kept_replayed_and_deleted,
    every_change_writes_its_event_to_the_outbox,
    a_refused_change_writes_no_event,
    old_events_are_pruned_in_batches,
    users_are_unique_without_regard_to_case,
    the_last_active_admin_stays,
    concurrent_demotions_keep_an_admin,
    user_changes_revoke_sessions_and_deletion_keeps_the_trail,
    sessions_and_keys_expire_and_revoke,
    login_throttle_counts_and_locks,
);

fn event(topic: &str, kind: &str, key: &str) -> domain::NewEvent {
    domain::NewEvent {
        topic: topic.into(),
        kind: kind.into(),
        trace_id: Uuid::new_v4(),
        idempotency_key: key.into(),
        source: domain::EventSource::Mqtt,
        payload: serde_json::json!({"n": key}).as_object().unwrap().clone(),
        ts: domain::now(),
        received_at: domain::now(),
    }
}

fn dead(topic: &str) -> domain::NewDeadLetter {
    domain::NewDeadLetter {
        original_topic: topic.into(),
        reason: domain::DeadReason::InvalidJson,
        detail: "expected value at line 1 column 1".into(),
        payload: serde_json::Value::String("{oops".into()),
        received_at: domain::now(),
        idempotency_key: None,
    }
}

fn project(name: &str) -> NewProject {
    NewProject {
        name: name.into(),
        ..Default::default()
    }
}

fn component(name: &str) -> NewComponent {
    NewComponent {
        name: name.into(),
        ..Default::default()
    }
}

fn all() -> PageRequest {
    PageRequest::new(Some(500), None).unwrap()
}

async fn project_round_trip(store: Arc<dyn Store>) {
    let mut metadata = serde_json::Map::new();
    metadata.insert(
        "rack".into(),
        serde_json::json!({"u": 42, "tags": ["a", "b"]}),
    );
    let owner = store
        .create_user(new_user("owner", Role::Editor), domain::now())
        .await
        .unwrap()
        .id;
    let created = store
        .create_project(NewProject {
            name: "Homelab".into(),
            description: Some("cluster".into()),
            status: ProjectStatus::Active,
            owner_id: Some(owner),
            metadata: metadata.clone(),
        })
        .await
        .unwrap();
    let read = store.get_project(created.id).await.unwrap();
    assert_eq!(read, created, "a project reads back exactly as written");
    assert_eq!(read.metadata, metadata);
    assert_eq!(read.owner_id, Some(owner));
    assert_eq!(read.version, 1);

    // An owner that is no user is refused, naming the field, and nothing is written.
    let refused = store
        .create_project(NewProject {
            name: "orphan".into(),
            owner_id: Some(Uuid::new_v4()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, StoreError::Invalid(v) if v.field == "owner_id"),
        "{refused:?}"
    );
}

async fn project_progress_averages_components(store: Arc<dyn Store>) {
    let empty = store.create_project(project("empty")).await.unwrap();
    let rover = store.create_project(project("rover")).await.unwrap();
    for progress in [20, 70] {
        store
            .create_component(
                rover.id,
                NewComponent {
                    progress,
                    ..component(&format!("part {progress}"))
                },
            )
            .await
            .unwrap();
    }
    // A component with tasks: its progress is the share done (1 of 4), whatever was typed.
    let bench = store.create_project(project("bench")).await.unwrap();
    let tasked = store
        .create_component(
            bench.id,
            NewComponent {
                progress: 90,
                ..component("tasked")
            },
        )
        .await
        .unwrap();
    for (i, status) in [
        TaskStatus::Done,
        TaskStatus::Todo,
        TaskStatus::InProgress,
        TaskStatus::Review,
    ]
    .into_iter()
    .enumerate()
    {
        store
            .create_task(
                tasked.id,
                NewTask {
                    name: format!("task {i}"),
                    status,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    store
        .create_component(
            bench.id,
            NewComponent {
                progress: 40,
                ..component("typed")
            },
        )
        .await
        .unwrap();
    store
        .create_project(NewProject {
            status: ProjectStatus::Archived,
            ..project("archived")
        })
        .await
        .unwrap();
    let report = store.project_progress(100).await.unwrap();
    let got: Vec<_> = report
        .projects
        .iter()
        .map(|p| (p.id, p.name.as_str(), p.components, p.progress))
        .collect();
    // The database computes what the domain defines.
    let bench_progress =
        (domain::component_progress(90, 4, 1) + domain::component_progress(40, 0, 0)) / 2.0;
    assert_eq!(bench_progress, 32.5);
    assert_eq!(
        got,
        [
            (bench.id, "bench", 2, Some(bench_progress)),
            (rover.id, "rover", 2, Some(45.0)),
            (empty.id, "empty", 0, None),
        ],
        "newest first, archived left out, nothing to measure without components"
    );
    assert_eq!(report.overall, Some((32.5 + 45.0) / 2.0));
    assert_eq!(report.measured, 2);
    let one = store.project_progress(1).await.unwrap();
    assert_eq!(one.projects.len(), 1);
    assert_eq!(
        one.overall, report.overall,
        "the average covers every open project"
    );
}

async fn list_orders_pages_and_filters(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for i in 0..7 {
        let status = if i % 2 == 0 {
            ProjectStatus::Active
        } else {
            ProjectStatus::Planning
        };
        let p = store
            .create_project(NewProject {
                status,
                ..project(&format!("p{i}"))
            })
            .await
            .unwrap();
        ids.push(p.id);
    }
    let page = store
        .list_projects(
            &ProjectFilter::default(),
            PageRequest::new(Some(3), Some(2)).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(page.total, 7);
    let names: Vec<_> = page.items.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["p4", "p3", "p2"], "newest first, offset 2, limit 3");
    let past_end = store
        .list_projects(
            &ProjectFilter::default(),
            PageRequest::new(Some(3), Some(50)).unwrap(),
        )
        .await
        .unwrap();
    assert!(past_end.items.is_empty());
    assert_eq!(
        past_end.total, 7,
        "a page past the end still reports the total"
    );

    let active = store
        .list_projects(
            &ProjectFilter {
                status: Some(ProjectStatus::Active),
                search: None,
            },
            all(),
        )
        .await
        .unwrap();
    assert_eq!(active.total, 4);
    assert!(
        active
            .items
            .iter()
            .all(|p| p.status == ProjectStatus::Active)
    );

    let found = store
        .list_projects(
            &ProjectFilter {
                status: None,
                search: Some("P5".into()),
            },
            all(),
        )
        .await
        .unwrap();
    assert_eq!(found.total, 1, "search is case-insensitive");
    assert_eq!(found.items[0].id, ids[5]);
}

async fn search_escapes_like_wildcards(store: Arc<dyn Store>) {
    store.create_project(project("100% done")).await.unwrap();
    store.create_project(project("1000 things")).await.unwrap();
    store
        .create_project(NewProject {
            description: Some("under_score".into()),
            ..project("x")
        })
        .await
        .unwrap();
    store.create_project(project("underXscore")).await.unwrap();
    let search = |s: &str| ProjectFilter {
        status: None,
        search: Some(s.into()),
    };
    let pct = store.list_projects(&search("0%"), all()).await.unwrap();
    assert_eq!(pct.total, 1, "% is matched literally");
    let under = store.list_projects(&search("under_"), all()).await.unwrap();
    assert_eq!(
        under.total, 1,
        "_ is matched literally, and descriptions are searched"
    );
}

async fn update_checks_version_and_reports_conflict(store: Arc<dyn Store>) {
    let p = store.create_project(project("a")).await.unwrap();
    let updated = store
        .update_project(
            p.id,
            Some(1),
            ProjectPatch {
                status: Some(ProjectStatus::OnHold),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.status, ProjectStatus::OnHold);
    assert!(updated.updated_at >= p.updated_at);

    let stale = store
        .update_project(
            p.id,
            Some(1),
            ProjectPatch {
                name: Some("lost update".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            stale,
            StoreError::VersionConflict {
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{stale:?}"
    );
    assert_eq!(
        store.get_project(p.id).await.unwrap().name,
        "a",
        "nothing was overwritten"
    );

    let unconditional = store
        .update_project(
            p.id,
            None,
            ProjectPatch {
                name: Some("b".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(unconditional.version, 3);

    let invalid = store
        .update_project(
            p.id,
            None,
            ProjectPatch {
                name: Some("  ".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(invalid, StoreError::Invalid(ref v) if v.field == "name"),
        "{invalid:?}"
    );
}

async fn missing_ids_are_not_found(store: Arc<dyn Store>) {
    let id = Uuid::new_v4();
    let is_not_found = |e: StoreError, entity: Entity| {
        assert!(
            matches!(e, StoreError::NotFound { entity: en, .. } if en == entity),
            "{e:?}"
        );
    };
    is_not_found(store.get_project(id).await.unwrap_err(), Entity::Project);
    is_not_found(store.delete_project(id).await.unwrap_err(), Entity::Project);
    is_not_found(
        store
            .update_project(id, None, ProjectPatch::default())
            .await
            .unwrap_err(),
        Entity::Project,
    );
    is_not_found(
        store.get_component(id).await.unwrap_err(),
        Entity::Component,
    );
    is_not_found(store.get_task(id).await.unwrap_err(), Entity::Task);
    is_not_found(
        store.list_components(id, all()).await.unwrap_err(),
        Entity::Project,
    );
    is_not_found(
        store
            .create_component(id, component("c"))
            .await
            .unwrap_err(),
        Entity::Project,
    );
    is_not_found(
        store
            .create_task(
                id,
                NewTask {
                    name: "t".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err(),
        Entity::Component,
    );
    is_not_found(
        store.list_tasks(id, all()).await.unwrap_err(),
        Entity::Component,
    );
    is_not_found(store.project_graph(id).await.unwrap_err(), Entity::Project);
}

async fn delete_project_cascades(store: Arc<dyn Store>) {
    let p = store.create_project(project("doomed")).await.unwrap();
    let keep = store.create_project(project("kept")).await.unwrap();
    let a = store.create_component(p.id, component("a")).await.unwrap();
    let b = store.create_component(p.id, component("b")).await.unwrap();
    let kept_c = store
        .create_component(keep.id, component("k"))
        .await
        .unwrap();
    store.add_dependency(a.id, b.id).await.unwrap();
    let t = store
        .create_task(
            a.id,
            NewTask {
                name: "t".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store.delete_project(p.id).await.unwrap();
    assert!(matches!(
        store.get_component(a.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.get_task(t.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(
        store.get_component(kept_c.id).await.is_ok(),
        "other projects are untouched"
    );
    assert_eq!(
        store
            .list_projects(&ProjectFilter::default(), all())
            .await
            .unwrap()
            .total,
        1
    );
}

async fn component_round_trip_and_validation(store: Arc<dyn Store>) {
    let p = store.create_project(project("p")).await.unwrap();
    let mut metadata = serde_json::Map::new();
    metadata.insert("port".into(), serde_json::json!(5432));
    let c = store
        .create_component(
            p.id,
            NewComponent {
                name: "db".into(),
                kind: Some("database".into()),
                status: ComponentStatus::InProgress,
                progress: 40,
                position: Some(Position { x: 10.5, y: -3.0 }),
                metadata,
                url: Some("https://db.lab.lan:8443/ui".into()),
                host: Some("db.lab.lan".into()),
                icon: Some("database".into()),
                description: Some("the primary\ndatabase".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(store.get_component(c.id).await.unwrap(), c);
    assert_eq!(c.icon, Some(domain::Icon::Builtin("database")));

    // An uploaded icon: an image artifact of the same project, nothing else.
    let other = store.create_project(project("other")).await.unwrap();
    let upload = |project_id: Uuid, content_type: &str| {
        let id = Uuid::new_v4();
        domain::Artifact {
            id,
            project_id,
            component_id: None,
            name: "icon".into(),
            content_type: content_type.into(),
            size: 3,
            sha256: "a".repeat(64),
            object_key: domain::Artifact::object_key(project_id, id),
            uploaded_by: None,
            created_at: domain::now(),
        }
    };
    let png = upload(p.id, "image/png");
    let text = upload(p.id, "text/plain");
    let foreign = upload(other.id, "image/png");
    for a in [&png, &text, &foreign] {
        store.create_artifact(a).await.unwrap();
    }
    for (icon, why) in [
        (text.id, "not an image"),
        (foreign.id, "another project"),
        (Uuid::new_v4(), "no artifact"),
    ] {
        let err = store
            .update_component(
                c.id,
                None,
                ComponentPatch {
                    icon: Some(icon.to_string()),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(ref v) if v.field == "icon" && v.message.contains(why)),
            "{err:?}"
        );
    }
    let with_icon = store
        .update_component(
            c.id,
            None,
            ComponentPatch {
                icon: Some(png.id.to_string()),
                url: Some(String::new()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(with_icon.icon, Some(domain::Icon::Artifact(png.id)));
    assert_eq!(with_icon.url, None);
    assert_eq!(store.get_component(c.id).await.unwrap(), with_icon);
    let c = with_icon;

    let err = store
        .update_component(
            c.id,
            Some(c.version),
            ComponentPatch {
                progress: Some(150),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ref v) if v.field == "progress"),
        "{err:?}"
    );

    let done = store
        .update_component(
            c.id,
            Some(c.version),
            ComponentPatch {
                status: Some(ComponentStatus::Completed),
                progress: Some(100),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(done.version, 3);
    assert_eq!(store.get_component(c.id).await.unwrap(), done);

    let listed = store.list_components(p.id, all()).await.unwrap();
    assert_eq!(listed.total, 1);
    store.delete_component(c.id).await.unwrap();
    assert_eq!(store.list_components(p.id, all()).await.unwrap().total, 0);
}

async fn dependencies_refuse_cycles_duplicates_and_cross_project(store: Arc<dyn Store>) {
    let p = store.create_project(project("p")).await.unwrap();
    let other = store.create_project(project("other")).await.unwrap();
    let api = store
        .create_component(p.id, component("api"))
        .await
        .unwrap();
    let db = store.create_component(p.id, component("db")).await.unwrap();
    let disk = store
        .create_component(p.id, component("disk"))
        .await
        .unwrap();
    let foreign = store
        .create_component(other.id, component("x"))
        .await
        .unwrap();

    store.add_dependency(api.id, db.id).await.unwrap();
    store.add_dependency(db.id, disk.id).await.unwrap();

    let cycle = store.add_dependency(disk.id, api.id).await.unwrap_err();
    match cycle {
        StoreError::DependencyCycle(names) => assert_eq!(names, ["disk", "api", "db", "disk"]),
        other => panic!("expected a cycle, got {other:?}"),
    }
    let selfish = store.add_dependency(api.id, api.id).await.unwrap_err();
    assert!(
        matches!(selfish, StoreError::DependencyCycle(_)),
        "{selfish:?}"
    );
    let dup = store.add_dependency(api.id, db.id).await.unwrap_err();
    assert!(
        matches!(dup, StoreError::DependencyExists { .. }),
        "{dup:?}"
    );
    let cross = store.add_dependency(api.id, foreign.id).await.unwrap_err();
    assert!(matches!(cross, StoreError::CrossProject(..)), "{cross:?}");

    let edges = store.list_dependencies(p.id).await.unwrap();
    assert_eq!(edges.len(), 2);
    let of_api = store.component_dependencies(api.id).await.unwrap();
    assert_eq!(of_api.len(), 1);
    assert_eq!(of_api[0].depends_on_id, db.id);

    store.remove_dependency(db.id, disk.id).await.unwrap();
    assert!(matches!(
        store.remove_dependency(db.id, disk.id).await,
        Err(StoreError::NotFound { .. })
    ));
    // With db → disk gone, disk → api no longer closes a cycle.
    store.add_dependency(disk.id, api.id).await.unwrap();

    store.delete_component(db.id).await.unwrap();
    let left = store.list_dependencies(p.id).await.unwrap();
    assert_eq!(left.len(), 1, "deleting a component removes its edges");
}

async fn graph_counts_tasks_and_lists_edges(store: Arc<dyn Store>) {
    let p = store.create_project(project("p")).await.unwrap();
    let a = store.create_component(p.id, component("a")).await.unwrap();
    let b = store.create_component(p.id, component("b")).await.unwrap();
    store.add_dependency(b.id, a.id).await.unwrap();
    for (name, status) in [
        ("t1", TaskStatus::Todo),
        ("t2", TaskStatus::Done),
        ("t3", TaskStatus::Review),
    ] {
        store
            .create_task(
                a.id,
                NewTask {
                    name: name.into(),
                    status,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let graph = store.project_graph(p.id).await.unwrap();
    assert_eq!(graph.nodes.len(), 2);
    assert_eq!(graph.nodes[0].component.id, a.id, "creation order");
    assert_eq!(graph.nodes[0].task_count, 3);
    assert_eq!(graph.nodes[0].open_task_count, 2);
    assert_eq!(graph.nodes[1].task_count, 0);
    assert_eq!(graph.dependencies.len(), 1);
    assert_eq!(graph.dependencies[0].component_id, b.id);
}

async fn layout_is_all_or_nothing(store: Arc<dyn Store>) {
    let p = store.create_project(project("p")).await.unwrap();
    let other = store.create_project(project("o")).await.unwrap();
    let a = store.create_component(p.id, component("a")).await.unwrap();
    let b = store.create_component(p.id, component("b")).await.unwrap();
    let x = store
        .create_component(other.id, component("x"))
        .await
        .unwrap();
    let pos = |x: f64| Position { x, y: 2.0 * x };

    let moved = store
        .update_layout(p.id, &[(a.id, pos(1.0)), (b.id, pos(2.0))])
        .await
        .unwrap();
    assert_eq!(moved.len(), 2);
    assert_eq!(
        store.get_component(b.id).await.unwrap().position,
        Some(pos(2.0))
    );
    assert_eq!(store.get_component(b.id).await.unwrap().version, 2);

    let err = store
        .update_layout(p.id, &[(a.id, pos(9.0)), (x.id, pos(9.0))])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(
        store.get_component(a.id).await.unwrap().position,
        Some(pos(1.0)),
        "a failed layout update changes nothing"
    );
}

async fn task_completion_and_listing(store: Arc<dyn Store>) {
    let p = store.create_project(project("p")).await.unwrap();
    let c = store.create_component(p.id, component("c")).await.unwrap();
    let due = chrono::DateTime::parse_from_rfc3339("2026-12-24T18:00:00+01:00")
        .unwrap()
        .to_utc();
    let t = store
        .create_task(
            c.id,
            NewTask {
                name: "patch kernel".into(),
                due_date: Some(due),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(store.get_task(t.id).await.unwrap(), t);
    let done = store
        .update_task(
            t.id,
            Some(1),
            TaskPatch {
                status: Some(TaskStatus::Done),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(done.completed_at.is_some());
    assert_eq!(store.get_task(t.id).await.unwrap(), done);
    let reopened = store
        .update_task(
            t.id,
            Some(2),
            TaskPatch {
                status: Some(TaskStatus::InProgress),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(store.get_task(t.id).await.unwrap().completed_at, None);
    assert_eq!(reopened.due_date, Some(due));

    let listed = store.list_tasks(c.id, all()).await.unwrap();
    assert_eq!(listed.total, 1);
    store.delete_task(t.id).await.unwrap();
    assert!(matches!(
        store.get_task(t.id).await,
        Err(StoreError::NotFound { .. })
    ));
}

/// v1's pool deadlocked for good under 32 concurrent project creations.
async fn concurrent_creations_do_not_deadlock(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let p = store.create_project(project(&format!("c{i}"))).await?;
                store
                    .update_project(
                        p.id,
                        Some(1),
                        ProjectPatch {
                            status: Some(ProjectStatus::Active),
                            ..Default::default()
                        },
                    )
                    .await
            })
        })
        .collect();
    let all_done = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    })
    .await;
    assert!(
        all_done.is_ok(),
        "32 concurrent create+update did not finish in 30 s"
    );
    assert_eq!(
        store
            .list_projects(&ProjectFilter::default(), all())
            .await
            .unwrap()
            .total,
        32
    );
}

/// Concurrent creates are group-committed (many share a transaction, each in its own
/// savepoint): the ones that fail get their own error and leave nothing behind, the others are
/// stored with their outbox events.
async fn concurrent_creates_fail_alone(store: Arc<dyn Store>) {
    let p = store.create_project(project("parent")).await.unwrap();
    let before = store.outbox_backlog().await.unwrap();
    let missing = Uuid::new_v4();
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let name = format!("unit {i}");
                match i % 4 {
                    // No such project: refused before anything is written.
                    0 => store
                        .create_component(missing, component(&name))
                        .await
                        .map(|c| c.id),
                    // No such component: refused by the foreign key, after the INSERT ran.
                    1 => store
                        .create_task(
                            missing,
                            NewTask {
                                name,
                                ..Default::default()
                            },
                        )
                        .await
                        .map(|t| t.id),
                    2 => store
                        .create_component(p.id, component(&name))
                        .await
                        .map(|c| c.id),
                    _ => store.create_project(project(&name)).await.map(|p| p.id),
                }
            })
        })
        .collect();
    let mut stored = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        match (i % 4, t.await.unwrap()) {
            (0, Err(StoreError::NotFound { entity, .. })) => assert_eq!(entity, Entity::Project),
            (1, Err(StoreError::NotFound { entity, .. })) => {
                assert_eq!(entity, Entity::Component)
            }
            (2 | 3, Ok(id)) => stored.push((i % 4, id)),
            (_, other) => panic!("unit {i}: unexpected {other:?}"),
        }
    }
    assert_eq!(stored.len(), 30);
    for (kind, id) in &stored {
        if *kind == 2 {
            store.get_component(*id).await.unwrap();
        } else {
            store.get_project(*id).await.unwrap();
        }
    }
    assert_eq!(
        store.list_components(p.id, all()).await.unwrap().total,
        15,
        "the refused components left no rows"
    );
    assert_eq!(
        store.outbox_backlog().await.unwrap(),
        before + 30,
        "one event per stored create, none for a refused one"
    );
}

/// Creates queued together are written with shared multi-row statements (group commit's row
/// units): a run of them in which some rows fail still stores every other row, each failing
/// create gets its own error, and the outbox holds the stored creates' events in the order the
/// creates were queued, one each.
async fn creates_queued_together_keep_their_order_and_fail_alone(store: Arc<dyn Store>) {
    let p = store.create_project(project("parent")).await.unwrap();
    let c = store.create_component(p.id, component("c")).await.unwrap();
    let far_future = domain::now() + Duration::days(1);
    // What is there already, to leave out of the claim below.
    let before: Vec<i64> = store
        .claim_outbox(1000, far_future)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    let missing = Uuid::new_v4();
    // `join_all` polls these in order (at most 30 of them: its simple form), and each is
    // queued at its first poll: so in this order, and before the writer takes any of them.
    let creates = (0..30).map(|i| {
        let store = store.clone();
        async move {
            let name = format!("unit {i}");
            let task = |component_id| {
                let store = store.clone();
                let name = name.clone();
                async move {
                    let new = NewTask {
                        name,
                        ..Default::default()
                    };
                    store.create_task(component_id, new).await.map(|t| t.id)
                }
            };
            match i {
                // A run of tasks, every fifth of whose components does not exist.
                0..20 if i % 5 == 2 => task(missing).await,
                0..20 => task(c.id).await,
                // Then a run of projects, and a component.
                20..29 => store.create_project(project(&name)).await.map(|p| p.id),
                _ => store
                    .create_component(p.id, component(&name))
                    .await
                    .map(|c| c.id),
            }
        }
    });
    let results = futures_util::future::join_all(creates).await;
    let mut stored = Vec::new();
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Err(StoreError::NotFound { entity, id }) if i < 20 && i % 5 == 2 => {
                assert_eq!((entity, id), (Entity::Component, missing.to_string()));
            }
            Ok(id) if i >= 20 || i % 5 != 2 => stored.push(id),
            other => panic!("create {i}: unexpected {other:?}"),
        }
    }
    assert_eq!(stored.len(), 26);
    assert_eq!(store.list_tasks(c.id, all()).await.unwrap().total, 16);
    let events = store.claim_outbox(1000, far_future).await.unwrap();
    let created: Vec<Uuid> = events
        .iter()
        .filter(|e| !before.contains(&e.id))
        .map(|e| {
            let field = match e.kind.as_str() {
                "task.created" => "task_id",
                "project.created" => "project_id",
                "component.created" => "component_id",
                other => panic!("unexpected event {other}"),
            };
            e.payload[field].as_str().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(
        created, stored,
        "one event per stored create, in the order queued"
    );
}

/// Two requests adding a → b and b → a at the same time: the graph must stay acyclic.
async fn concurrent_opposite_dependencies_cannot_both_win(store: Arc<dyn Store>) {
    for _ in 0..5 {
        let p = store.create_project(project("race")).await.unwrap();
        let a = store.create_component(p.id, component("a")).await.unwrap();
        let b = store.create_component(p.id, component("b")).await.unwrap();
        let (s1, s2) = (store.clone(), store.clone());
        let (r1, r2) = tokio::join!(
            tokio::spawn(async move { s1.add_dependency(a.id, b.id).await }),
            tokio::spawn(async move { s2.add_dependency(b.id, a.id).await }),
        );
        let ok = [r1.unwrap().is_ok(), r2.unwrap().is_ok()];
        assert_eq!(
            ok.iter().filter(|x| **x).count(),
            1,
            "exactly one edge wins: {ok:?}"
        );
        assert_eq!(store.list_dependencies(p.id).await.unwrap().len(), 1);
    }
}

async fn events_are_stored_once_and_listed_with_filters(store: Arc<dyn Store>) {
    let batch = [
        event("tracker/events/projects/created", "project.created", "k1"),
        event("tracker/events/tasks/created", "task.created", "k2"),
        event("tracker/events/tasks/created", "task.created", "k2"),
        event("tracker/metrics/cpu", "metric.gauge", "k3"),
    ];
    let outcome = store
        .ingest(&batch, &[dead("tracker/events/x/y")])
        .await
        .unwrap();
    assert_eq!(outcome.stored.len(), 3);
    assert_eq!(
        outcome.duplicates, 1,
        "a key repeated within the batch is stored once"
    );
    assert_eq!(outcome.dead_letters.len(), 1);
    let again = store.ingest(&batch[..2], &[]).await.unwrap();
    assert_eq!(
        (again.stored.len(), again.duplicates),
        (0, 2),
        "redelivery is a duplicate"
    );

    let stored = store.get_event(outcome.stored[0].id).await.unwrap();
    assert_eq!(stored, outcome.stored[0], "an event reads back as written");
    assert!(matches!(
        store.get_event(999_999).await,
        Err(StoreError::NotFound { .. })
    ));

    let list = |filter: domain::EventFilter, limit| {
        let store = store.clone();
        async move { store.list_events(&filter, limit).await.unwrap() }
    };
    let all = list(domain::EventFilter::default(), 10).await;
    let keys: Vec<_> = all
        .events
        .iter()
        .map(|e| e.idempotency_key.as_str())
        .collect();
    assert_eq!(keys, ["k3", "k2", "k1"], "newest first");
    assert_eq!(all.next_cursor, None);

    let wildcard = |t: &str| domain::EventFilter {
        topic: Some(t.into()),
        ..Default::default()
    };
    assert_eq!(list(wildcard("tracker/events/#"), 10).await.events.len(), 2);
    assert_eq!(
        list(wildcard("tracker/events/+/created"), 10)
            .await
            .events
            .len(),
        2
    );
    assert_eq!(list(wildcard("tracker/+/cpu"), 10).await.events.len(), 1);
    // `x/#` also matches its parent `x` (MQTT), here the event on `tracker/metrics/cpu`.
    assert_eq!(
        list(wildcard("tracker/metrics/cpu/#"), 10)
            .await
            .events
            .len(),
        1
    );
    assert_eq!(list(wildcard("tracker/events/+"), 10).await.events.len(), 0);
    assert_eq!(
        list(wildcard("tracker/events/tasks/created"), 10)
            .await
            .events
            .len(),
        1
    );
    let by_kind = list(
        domain::EventFilter {
            kind: Some("project.created".into()),
            ..Default::default()
        },
        10,
    )
    .await;
    assert_eq!(by_kind.events.len(), 1);
    let by_trace = list(
        domain::EventFilter {
            trace_id: Some(outcome.stored[1].trace_id),
            ..Default::default()
        },
        10,
    )
    .await;
    assert_eq!(by_trace.events[0].idempotency_key, "k2");

    let first = list(domain::EventFilter::default(), 2).await;
    assert_eq!(first.events.len(), 2);
    let rest = list(
        domain::EventFilter {
            before_id: first.next_cursor,
            ..Default::default()
        },
        2,
    )
    .await;
    assert_eq!(
        rest.events.len(),
        1,
        "the cursor continues where the page ended"
    );
    assert_eq!(rest.events[0].idempotency_key, "k1");
}

async fn dead_letters_are_kept_replayed_and_deleted(store: Arc<dyn Store>) {
    let outcome = store
        .ingest(&[], &[dead("a/b"), dead("c/d"), dead("e/f")])
        .await
        .unwrap();
    // The third is replayed as an edited copy: the original message stays, the copy is kept.
    let edit = domain::DeadLetterEdit {
        payload: serde_json::json!({"kind": "fixed", "payload": {"n": 1}}),
        by: "ada".into(),
    };
    store
        .mark_replayed(outcome.dead_letters[2], Some(43), Some(&edit))
        .await
        .unwrap();
    let edited = store
        .get_dead_letter(outcome.dead_letters[2])
        .await
        .unwrap();
    assert_eq!(
        edited.payload,
        serde_json::json!("{oops"),
        "the original is kept"
    );
    assert_eq!(edited.edit.as_ref(), Some(&edit));
    assert_eq!(edited.replayed_event_id, Some(43));
    store
        .delete_dead_letter(outcome.dead_letters[2])
        .await
        .unwrap();

    let listed = store.list_dead_letters(10, None).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].edit, None);
    assert_eq!(listed[0].original_topic, "c/d", "newest first");
    assert_eq!(listed[0].reason, "invalid_json");
    assert_eq!(listed[0].payload, serde_json::json!("{oops"));
    assert_eq!(store.dead_letter_backlog().await.unwrap(), 2);

    store
        .mark_replayed(outcome.dead_letters[0], Some(42), None)
        .await
        .unwrap();
    let replayed = store
        .get_dead_letter(outcome.dead_letters[0])
        .await
        .unwrap();
    assert!(replayed.replayed_at.is_some());
    assert_eq!(replayed.replayed_event_id, Some(42));
    assert_eq!(store.dead_letter_backlog().await.unwrap(), 1);

    store
        .delete_dead_letter(outcome.dead_letters[1])
        .await
        .unwrap();
    assert!(matches!(
        store.delete_dead_letter(outcome.dead_letters[1]).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.list_dead_letters(10, None).await.unwrap().len(), 1);
}

async fn every_change_writes_its_event_to_the_outbox(store: Arc<dyn Store>) {
    let p = store.create_project(project("p")).await.unwrap();
    store
        .update_project(
            p.id,
            None,
            ProjectPatch {
                status: Some(ProjectStatus::Active),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let a = store.create_component(p.id, component("a")).await.unwrap();
    let b = store.create_component(p.id, component("b")).await.unwrap();
    store.add_dependency(a.id, b.id).await.unwrap();
    store.remove_dependency(a.id, b.id).await.unwrap();
    store
        .update_layout(p.id, &[(a.id, Position { x: 1.0, y: 1.0 })])
        .await
        .unwrap();
    let t = store
        .create_task(
            a.id,
            NewTask {
                name: "t".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store
        .update_task(
            t.id,
            None,
            TaskPatch {
                status: Some(TaskStatus::Done),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store.delete_task(t.id).await.unwrap();
    store.delete_component(b.id).await.unwrap();
    store.delete_project(p.id).await.unwrap();

    let far_future = domain::now() + chrono::Duration::days(1);
    let claimed = store.claim_outbox(100, far_future).await.unwrap();
    let kinds: Vec<_> = claimed.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "project.created",
            "project.updated",
            "component.created",
            "component.created",
            "component.linked",
            "component.unlinked",
            "component.updated",
            "task.created",
            "task.updated",
            "task.deleted",
            "component.deleted",
            "project.deleted",
        ],
        "one event per change, in commit order"
    );
    assert_eq!(claimed[1].topic, "tracker/events/projects/updated");
    assert_eq!(
        claimed[1].payload["updated_fields"],
        serde_json::json!(["status"])
    );
    assert_eq!(claimed[8].payload["status"], "done");

    let recent = domain::now() - chrono::Duration::seconds(60);
    assert!(
        store.claim_outbox(100, recent).await.unwrap().is_empty(),
        "rows attempted just now are not claimed again before the retry delay"
    );
    assert_eq!(store.outbox_backlog().await.unwrap(), 12);
    assert_eq!(store.outbox_in_flight(recent).await.unwrap(), 12);
    assert_eq!(
        store.outbox_in_flight(far_future).await.unwrap(),
        0,
        "rows claimed before `since` are no longer in flight: they are due again"
    );

    // Once the events have come through the bus into the mirror, the outbox rows are confirmed.
    let arrived: Vec<_> = claimed
        .iter()
        .take(5)
        .map(|e| domain::NewEvent {
            topic: e.topic.clone(),
            kind: e.kind.clone(),
            trace_id: e.trace_id,
            idempotency_key: e.idempotency_key.clone(),
            source: domain::EventSource::Outbox,
            payload: e.payload.clone(),
            ts: e.created_at,
            received_at: domain::now(),
        })
        .collect();
    store.ingest(&arrived, &[]).await.unwrap();
    let confirmed = store.confirm_outbox().await.unwrap();
    assert_eq!(confirmed.sent, 5);
    assert!(confirmed.dead_lettered.is_empty());
    assert_eq!(store.outbox_backlog().await.unwrap(), 7);
    assert_eq!(store.outbox_in_flight(recent).await.unwrap(), 7);

    // A row whose message the bus dead-lettered is settled by that dead letter (same
    // idempotency key) and linked to it: never claimed or published again.
    let poisoned = &claimed[5];
    let outcome = store
        .ingest(
            &[],
            &[domain::NewDeadLetter {
                idempotency_key: Some(poisoned.idempotency_key.clone()),
                ..dead(&poisoned.topic)
            }],
        )
        .await
        .unwrap();
    let confirmed = store.confirm_outbox().await.unwrap();
    assert_eq!(confirmed.sent, 0);
    assert_eq!(
        confirmed.dead_lettered,
        vec![storage::OutboxDeadLettered {
            outbox_id: poisoned.id,
            dead_letter_id: outcome.dead_letters[0],
            kind: poisoned.kind.clone(),
        }]
    );
    assert_eq!(store.outbox_backlog().await.unwrap(), 6);
    assert_eq!(store.outbox_in_flight(recent).await.unwrap(), 6);
    let long_ago = domain::now() + chrono::Duration::seconds(60);
    assert!(
        store
            .claim_outbox(100, long_ago)
            .await
            .unwrap()
            .iter()
            .all(|e| e.id != poisoned.id),
        "a settled row is not claimed again"
    );
    assert!(
        store
            .confirm_outbox()
            .await
            .unwrap()
            .dead_lettered
            .is_empty()
    );
}

async fn a_refused_change_writes_no_event(store: Arc<dyn Store>) {
    let p = store.create_project(project("p")).await.unwrap();
    let before = store.outbox_backlog().await.unwrap();
    let stale = store
        .update_project(
            p.id,
            Some(7),
            ProjectPatch {
                name: Some("x".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(stale.is_err());
    let a = store.create_component(p.id, component("a")).await.unwrap();
    assert!(store.add_dependency(a.id, a.id).await.is_err());
    assert_eq!(
        store.outbox_backlog().await.unwrap(),
        before + 1,
        "only the component"
    );
}

async fn old_events_are_pruned_in_batches(store: Arc<dyn Store>) {
    let mut old: Vec<_> = (0..5)
        .map(|i| {
            let mut e = event("t/old", "x.old", &format!("old{i}"));
            e.received_at = domain::now() - chrono::Duration::days(40);
            e
        })
        .collect();
    old.push(event("t/new", "x.new", "new"));
    store.ingest(&old, &[]).await.unwrap();
    let cutoff = domain::now() - chrono::Duration::days(30);
    assert_eq!(store.prune_events(cutoff, 3).await.unwrap(), 3);
    assert_eq!(store.prune_events(cutoff, 3).await.unwrap(), 2);
    assert_eq!(store.prune_events(cutoff, 3).await.unwrap(), 0);
    let left = store
        .list_events(&domain::EventFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(left.events.len(), 1);
    assert_eq!(left.events[0].idempotency_key, "new");
}

fn new_user(name: &str, role: Role) -> NewUser {
    NewUser {
        username: name.into(),
        password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
        role,
        default_view: None,
        single_view_mode: false,
        created_by: None,
    }
}

fn session(user: Uuid, token_hash: &str, at: DateTime<Utc>) -> NewSession {
    NewSession {
        session: Session {
            id: Uuid::new_v4(),
            user_id: user,
            created_at: at,
            last_activity: at,
            expires_at: at + Duration::hours(24),
            ttl_seconds: 86_400,
            ip_address: Some("192.0.2.1".into()),
            user_agent: None,
            sign_in_method: Some(domain::SignInMethod::Oidc),
        },
        token_hash: token_hash.into(),
    }
}

async fn users_are_unique_without_regard_to_case(store: Arc<dyn Store>) {
    let now = domain::now();
    let alice = store
        .create_user(new_user("Alice", Role::Editor), now)
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_user(new_user("ALICE", Role::Viewer), now)
            .await,
        Err(StoreError::UsernameTaken(_))
    ));
    let found = store.find_credentials("aLiCe").await.unwrap().unwrap();
    assert_eq!(found.user, alice);
    assert!(found.password_hash.starts_with("$argon2id$"));
    assert!(store.find_credentials("bob").await.unwrap().is_none());
    assert_eq!(store.get_user(alice.id).await.unwrap(), alice);
    assert!(matches!(
        store.get_user(Uuid::new_v4()).await,
        Err(StoreError::NotFound {
            entity: Entity::User,
            ..
        })
    ));
    assert!(matches!(
        store
            .create_user(new_user("has space", Role::Viewer), now)
            .await,
        Err(StoreError::Invalid(_))
    ));
}

async fn the_last_active_admin_stays(store: Arc<dyn Store>) {
    let now = domain::now();
    let ada = store
        .create_user(new_user("ada", Role::Admin), now)
        .await
        .unwrap();
    assert_eq!(store.count_active_admins().await.unwrap(), 1);
    for patch in [
        UserPatch {
            role: Some(Role::Editor),
            ..Default::default()
        },
        UserPatch {
            is_active: Some(false),
            ..Default::default()
        },
    ] {
        assert!(matches!(
            store.update_user(ada.id, patch, now, None).await,
            Err(StoreError::LastAdmin)
        ));
    }
    assert!(matches!(
        store.delete_user(ada.id).await,
        Err(StoreError::LastAdmin)
    ));
    assert!(matches!(
        store
            .create_first_admin(new_user("root", Role::Admin), now)
            .await,
        Err(StoreError::AdminExists)
    ));
    let grace = store
        .create_user(new_user("grace", Role::Admin), now)
        .await
        .unwrap();
    let (ada, changes) = store
        .update_user(
            ada.id,
            UserPatch {
                role: Some(Role::Viewer),
                ..Default::default()
            },
            now,
            None,
        )
        .await
        .unwrap();
    assert_eq!(ada.role, Role::Viewer);
    assert_eq!(changes.role, Some((Role::Admin, Role::Viewer)));
    assert!(matches!(
        store.delete_user(grace.id).await,
        Err(StoreError::LastAdmin)
    ));
}

async fn concurrent_demotions_keep_an_admin(store: Arc<dyn Store>) {
    let mut admins: Vec<Uuid> = Vec::new();
    for round in 0..5 {
        let now = domain::now();
        for name in ["a", "b"] {
            let user = new_user(&format!("{name}{round}"), Role::Admin);
            admins.push(store.create_user(user, now).await.unwrap().id);
        }
        // Every admin is demoted at once: all but one demotion must fail.
        let tasks: Vec<_> = admins
            .iter()
            .map(|&id| {
                let store = store.clone();
                tokio::spawn(async move {
                    let patch = UserPatch {
                        role: Some(Role::Viewer),
                        ..Default::default()
                    };
                    (id, store.update_user(id, patch, domain::now(), None).await)
                })
            })
            .collect();
        let mut survivors = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                (_, Ok(_)) => {}
                (id, Err(StoreError::LastAdmin)) => survivors.push(id),
                (_, Err(e)) => panic!("round {round}: {e}"),
            }
        }
        assert_eq!(survivors.len(), 1, "round {round}");
        assert_eq!(store.count_active_admins().await.unwrap(), 1);
        admins = survivors;
    }
}

async fn user_changes_revoke_sessions_and_deletion_keeps_the_trail(store: Arc<dyn Store>) {
    let now = domain::now();
    let ada = store
        .create_user(new_user("ada", Role::Admin), now)
        .await
        .unwrap();
    let bob = store
        .create_user(
            NewUser {
                created_by: Some(ada.id),
                ..new_user("bob", Role::Viewer)
            },
            now,
        )
        .await
        .unwrap();
    let s1 = session(bob.id, &"1".repeat(64), now);
    let s2 = session(bob.id, &"2".repeat(64), now);
    store.create_session(s1.clone()).await.unwrap();
    store.create_session(s2.clone()).await.unwrap();
    // A kiosk change keeps sessions; a role change ends all but the one kept.
    let (_, changes) = store
        .update_user(
            bob.id,
            UserPatch {
                single_view_mode: Some(true),
                ..Default::default()
            },
            now,
            None,
        )
        .await
        .unwrap();
    assert!(!changes.revokes_sessions());
    assert_eq!(store.list_sessions(bob.id, now).await.unwrap().len(), 2);
    store
        .update_user(
            bob.id,
            UserPatch {
                role: Some(Role::Editor),
                ..Default::default()
            },
            now,
            Some(s2.session.id),
        )
        .await
        .unwrap();
    let live = store.list_sessions(bob.id, now).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].id, s2.session.id);
    assert!(
        store
            .session_by_token(&"1".repeat(64), now)
            .await
            .unwrap()
            .is_none()
    );

    let entry = AuditEntry {
        id: Uuid::new_v4(),
        at: now,
        action: AuditAction::LoginSuccess,
        actor_id: Some(bob.id),
        actor_name: Some("bob".into()),
        target_id: Some(bob.id),
        target_name: Some("bob".into()),
        ip_address: Some("192.0.2.1".into()),
        user_agent: Some("test".into()),
        details: serde_json::Map::new(),
    };
    store.record_audit(entry.clone()).await.unwrap();
    // Deleting the creator keeps the created user; deleting a user keeps their trail.
    store
        .create_user(new_user("grace", Role::Admin), now)
        .await
        .unwrap();
    store.delete_user(ada.id).await.unwrap();
    assert_eq!(store.get_user(bob.id).await.unwrap().created_by, None);
    store.delete_user(bob.id).await.unwrap();
    let filter = AuditFilter {
        target_id: Some(bob.id),
        ..Default::default()
    };
    let trail = store.list_audit(&filter, all()).await.unwrap();
    assert_eq!(trail.total, 1);
    assert_eq!(trail.items[0], entry);
    let other = AuditFilter {
        action: Some(AuditAction::Logout),
        ..Default::default()
    };
    assert_eq!(store.list_audit(&other, all()).await.unwrap().total, 0);
    let later = AuditFilter {
        since: Some(now + Duration::seconds(1)),
        ..Default::default()
    };
    assert_eq!(store.list_audit(&later, all()).await.unwrap().total, 0);
}

async fn sessions_and_keys_expire_and_revoke(store: Arc<dyn Store>) {
    let now = domain::now();
    let vic = store
        .create_user(new_user("vic", Role::Viewer), now)
        .await
        .unwrap();
    let s = session(vic.id, &"a".repeat(64), now);
    store.create_session(s.clone()).await.unwrap();
    let (found, user) = store
        .session_by_token(&"a".repeat(64), now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, s.session);
    assert_eq!(user.id, vic.id);
    let later = now + Duration::hours(23);
    store
        .touch_session(s.session.id, later, later + Duration::hours(24))
        .await
        .unwrap();
    let day_after = now + Duration::hours(30);
    assert!(
        store
            .session_by_token(&"a".repeat(64), day_after)
            .await
            .unwrap()
            .is_some(),
        "slid"
    );
    store
        .revoke_session(vic.id, s.session.id, day_after)
        .await
        .unwrap();
    assert!(
        store
            .session_by_token(&"a".repeat(64), day_after)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.revoke_session(vic.id, s.session.id, day_after).await,
        Err(StoreError::NotFound {
            entity: Entity::Session,
            ..
        })
    ));
    assert_eq!(store.delete_expired_sessions(day_after).await.unwrap(), 1);

    let key = ApiKeyInfo {
        id: Uuid::new_v4(),
        user_id: vic.id,
        name: "k".into(),
        prefix: "tdk_12345678".into(),
        scope: Scope::Read,
        created_at: now,
        expires_at: Some(now + Duration::days(1)),
        last_used_at: None,
    };
    store
        .create_api_key(NewApiKey {
            key: key.clone(),
            key_hash: "b".repeat(64),
        })
        .await
        .unwrap();
    let (found, _) = store
        .api_key_by_hash(&"b".repeat(64), now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, key);
    store.touch_api_key(key.id, now).await.unwrap();
    assert_eq!(
        store.list_api_keys(Some(vic.id)).await.unwrap()[0].last_used_at,
        Some(now)
    );
    assert!(
        store
            .api_key_by_hash(&"b".repeat(64), now + Duration::days(2))
            .await
            .unwrap()
            .is_none()
    );
    store
        .update_user(
            vic.id,
            UserPatch {
                is_active: Some(false),
                ..Default::default()
            },
            now,
            None,
        )
        .await
        .unwrap();
    assert!(
        store
            .api_key_by_hash(&"b".repeat(64), now)
            .await
            .unwrap()
            .is_none(),
        "owner inactive"
    );
    store.revoke_api_key(key.id, now).await.unwrap();
    assert!(store.list_api_keys(None).await.unwrap().is_empty());
    assert!(matches!(
        store.revoke_api_key(key.id, now).await,
        Err(StoreError::NotFound {
            entity: Entity::ApiKey,
            ..
        })
    ));
}

async fn login_throttle_counts_and_locks(store: Arc<dyn Store>) {
    let policy = ThrottlePolicy::PER_USERNAME;
    let now = domain::now();
    let keys = vec!["user:vic".to_owned(), "ip:192.0.2.1".to_owned()];
    for i in 1..=4 {
        let s = store
            .record_login_failure("user:vic", policy, now)
            .await
            .unwrap();
        assert_eq!(s.failures, i);
        assert_eq!(s.locked_until, None);
    }
    assert_eq!(store.throttle_locked_until(&keys, now).await.unwrap(), None);
    let fifth = store
        .record_login_failure("user:vic", policy, now)
        .await
        .unwrap();
    assert_eq!(fifth.locked_until, Some(now + policy.window));
    assert_eq!(
        store.throttle_locked_until(&keys, now).await.unwrap(),
        Some(now + policy.window)
    );
    let after = now + policy.window + Duration::seconds(1);
    assert_eq!(
        store.throttle_locked_until(&keys, after).await.unwrap(),
        None
    );
    store.clear_login_failures("user:vic").await.unwrap();
    let fresh = store
        .record_login_failure("user:vic", policy, after)
        .await
        .unwrap();
    assert_eq!(fresh.failures, 1);
    // Concurrent failures are all counted (replicas share the counter).
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .record_login_failure(
                        "ip:192.0.2.1",
                        ThrottlePolicy::PER_ADDRESS,
                        domain::now(),
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut max = 0;
    for t in tasks {
        max = max.max(t.await.unwrap().failures);
    }
    assert_eq!(max, 10);
}

/// Two processes on one SQLite file (the server, and the command line changing a user): an
/// admin-guarded user change waits for the other's writes instead of failing with "database is
/// locked" when the other wrote between its first read and its first write.
#[tokio::test]
async fn sqlite_user_changes_wait_for_another_process_writing() {
    let dir = tempfile::tempdir().unwrap();
    let config = storage::StoreConfig::Sqlite {
        path: dir.path().join("shared.db"),
        max_connections: 2,
    };
    let server = storage::connect(&config).await.unwrap();
    server.migrate().await.unwrap();
    let cli = storage::connect(&config).await.unwrap();
    let now = domain::now();
    server
        .create_user(new_user("admin", Role::Admin), now)
        .await
        .unwrap();
    let bob = server
        .create_user(new_user("bob", Role::Viewer), now)
        .await
        .unwrap();
    let busy = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let writer = {
        let (server, busy) = (server.clone(), busy.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while busy.load(std::sync::atomic::Ordering::SeqCst) {
                server
                    .create_project(project(&format!("busy {n}")))
                    .await
                    .unwrap();
                n += 1;
            }
            n
        })
    };
    for i in 0..60 {
        let patch = UserPatch {
            is_active: Some(i % 2 == 1),
            ..UserPatch::default()
        };
        cli.update_user(bob.id, patch, domain::now(), None)
            .await
            .unwrap_or_else(|e| panic!("change {i} beside the other writer: {e}"));
    }
    busy.store(false, std::sync::atomic::Ordering::SeqCst);
    let written = writer.await.unwrap();
    assert!(written > 0, "the other process wrote meanwhile");
}

/// The events one replica stores reach the others' `remote_events`, however large the batch
/// (the announcement goes in several notifications, from the inserting statement itself) and
/// whether it came alone or with dead letters; duplicates are not announced again.
#[tokio::test]
async fn stored_events_are_announced_to_other_replicas_once() {
    let Some(db) = testsupport::TestDb::postgres().await else {
        return;
    };
    let other = storage::connect(&db.config).await.unwrap();
    let mut remote = other.remote_events().await.unwrap().expect("a listener");
    // Let the listener start.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut batch: Vec<_> = (0..700)
        .map(|i| event("tracker/events/big/x", "big.batch", &format!("big-{i}")))
        .collect();
    batch.push(event("tracker/events/big/x", "big.batch", "big-3"));
    let alone = db.store.ingest(&batch, &[]).await.unwrap();
    assert_eq!((alone.stored.len(), alone.duplicates), (700, 1));
    let again = db.store.ingest(&batch[..10], &[]).await.unwrap();
    assert_eq!(again.duplicates, 10);
    let with_dead = [event("tracker/events/big/x", "big.batch", "big-last")];
    let mixed = db
        .store
        .ingest(&with_dead, &[dead("tracker/events/big/y")])
        .await
        .unwrap();
    assert_eq!(mixed.stored.len(), 1);

    let mut expected: Vec<_> = alone.stored.iter().chain(&mixed.stored).cloned().collect();
    expected.sort_by_key(|e| e.id);
    let mut received = Vec::new();
    let mut notifications = 0;
    while received.len() < expected.len() {
        let events = tokio::time::timeout(std::time::Duration::from_secs(10), remote.recv())
            .await
            .unwrap_or_else(|_| panic!("{} of {} announced", received.len(), expected.len()))
            .unwrap();
        notifications += 1;
        received.extend(events);
    }
    assert_eq!(received, expected, "each stored event once, as stored");
    assert!(notifications >= 4, "700 ids do not fit one notification");
    let nothing_more =
        tokio::time::timeout(std::time::Duration::from_millis(500), remote.recv()).await;
    assert!(nothing_more.is_err(), "duplicates are not announced");
}
