//! Artifact records and the object-deletion queue, on both databases.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::Duration;
use domain::{Artifact, NewComponent, NewProject, PageRequest};
use storage::{Entity, Store, StoreError};
use uuid::Uuid;

testsupport::on_both_backends!(
    artifacts_round_trip_and_list,
    artifact_component_must_belong_to_the_project,
    deleting_an_artifact_queues_its_object_and_an_event,
    deleting_a_project_queues_all_its_objects,
    deletions_are_retried_later,
);

fn artifact(project_id: Uuid, component_id: Option<Uuid>, name: &str) -> Artifact {
    let id = Uuid::new_v4();
    Artifact {
        id,
        project_id,
        component_id,
        name: name.into(),
        content_type: "text/plain".into(),
        size: 5,
        sha256: "a".repeat(64),
        object_key: Artifact::object_key(project_id, id),
        uploaded_by: None,
        created_at: domain::now(),
    }
}

async fn project(store: &Arc<dyn Store>, name: &str) -> Uuid {
    store
        .create_project(NewProject {
            name: name.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .id
}

async fn component(store: &Arc<dyn Store>, project_id: Uuid) -> Uuid {
    store
        .create_component(
            project_id,
            NewComponent {
                name: "c".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id
}

async fn artifacts_round_trip_and_list(store: Arc<dyn Store>) {
    let p = project(&store, "p").await;
    let c = component(&store, p).await;
    let a = artifact(p, None, "a.txt");
    store.create_artifact(&a).await.unwrap();
    assert_eq!(store.get_artifact(a.id).await.unwrap(), a);
    let b = artifact(p, Some(c), "b.txt");
    store.create_artifact(&b).await.unwrap();
    let all = store
        .list_artifacts(p, None, PageRequest::new(None, None).unwrap())
        .await
        .unwrap();
    assert_eq!(all.total, 2);
    assert_eq!(all.items[0].id, b.id, "newest first");
    let page = store
        .list_artifacts(p, None, PageRequest::new(Some(1), Some(1)).unwrap())
        .await
        .unwrap();
    assert_eq!((page.total, page.items.len()), (2, 1));
    assert_eq!(page.items[0].id, a.id);
    let of_c = store
        .list_artifacts(p, Some(c), PageRequest::new(None, None).unwrap())
        .await
        .unwrap();
    assert_eq!(of_c.total, 1);
    assert_eq!(of_c.items[0], b);
    assert!(matches!(
        store.get_artifact(Uuid::new_v4()).await,
        Err(StoreError::NotFound {
            entity: Entity::Artifact,
            ..
        })
    ));
    assert!(matches!(
        store
            .list_artifacts(Uuid::new_v4(), None, PageRequest::new(None, None).unwrap())
            .await,
        Err(StoreError::NotFound {
            entity: Entity::Project,
            ..
        })
    ));
    let missing = artifact(Uuid::new_v4(), None, "x");
    assert!(matches!(
        store.create_artifact(&missing).await,
        Err(StoreError::NotFound {
            entity: Entity::Project,
            ..
        })
    ));
    assert_eq!(store.artifact_object_keys().await.unwrap().len(), 2);
}

async fn artifact_component_must_belong_to_the_project(store: Arc<dyn Store>) {
    let p = project(&store, "p").await;
    let other = project(&store, "other").await;
    let foreign = component(&store, other).await;
    let err = store
        .create_artifact(&artifact(p, Some(foreign), "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    let err = store
        .create_artifact(&artifact(p, Some(Uuid::new_v4()), "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
}

async fn deleting_an_artifact_queues_its_object_and_an_event(store: Arc<dyn Store>) {
    let p = project(&store, "p").await;
    let a = artifact(p, None, "a.txt");
    store.create_artifact(&a).await.unwrap();
    assert!(
        store
            .due_object_deletions(domain::now(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let deleted = store.delete_artifact(a.id).await.unwrap();
    assert_eq!(deleted, a);
    let due = store
        .due_object_deletions(domain::now() + Duration::seconds(1), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].object_key, a.object_key);
    assert_eq!(due[0].attempts, 0);
    store.finish_object_deletion(due[0].id).await.unwrap();
    assert!(
        store
            .due_object_deletions(domain::now() + Duration::seconds(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.delete_artifact(a.id).await,
        Err(StoreError::NotFound { .. })
    ));
    let kinds: Vec<String> = store
        .claim_outbox(100, domain::now() + Duration::days(1))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&"artifact.created".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"artifact.deleted".to_owned()), "{kinds:?}");
}

async fn deleting_a_project_queues_all_its_objects(store: Arc<dyn Store>) {
    let p = project(&store, "doomed").await;
    let kept = project(&store, "kept").await;
    let c = component(&store, p).await;
    let a = artifact(p, None, "a");
    let b = artifact(p, Some(c), "b");
    let k = artifact(kept, None, "k");
    for x in [&a, &b, &k] {
        store.create_artifact(x).await.unwrap();
    }
    store.delete_project(p).await.unwrap();
    let mut keys: Vec<String> = store
        .due_object_deletions(domain::now() + Duration::seconds(1), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.object_key)
        .collect();
    keys.sort();
    let mut expected = vec![a.object_key.clone(), b.object_key.clone()];
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(store.artifact_object_keys().await.unwrap(), [k.object_key]);
    // Each removed artifact is announced, as when deleted one by one.
    let mut deleted: Vec<serde_json::Value> = store
        .claim_outbox(100, domain::now() + Duration::days(1))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "artifact.deleted")
        .map(|e| e.payload["artifact_id"].clone())
        .collect();
    deleted.sort_by_key(|v| v.to_string());
    let mut want = vec![
        serde_json::Value::from(a.id.to_string()),
        serde_json::Value::from(b.id.to_string()),
    ];
    want.sort_by_key(|v| v.to_string());
    assert_eq!(deleted, want);
}

async fn deletions_are_retried_later(store: Arc<dyn Store>) {
    let now = domain::now();
    store
        .queue_object_deletion("artifacts/x/y", now)
        .await
        .unwrap();
    let due = store.due_object_deletions(now, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let later = now + Duration::seconds(30);
    store
        .retry_object_deletion(due[0].id, later, "store unavailable")
        .await
        .unwrap();
    assert!(
        store
            .due_object_deletions(now, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store.due_object_deletions(later, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
}
