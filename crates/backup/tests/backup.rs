//! A backup in a local directory: verification catches damage, restore refuses damaged files
//! and non-empty databases, and old backups are pruned.

use backup::{BackupError, Quiet, Target};
use objects::Objects;
use testsupport::TestDb;

async fn seeded() -> (TestDb, Objects, tempfile::TempDir) {
    let db = TestDb::sqlite().await;
    let dir = tempfile::tempdir().expect("dir");
    let objects = Objects::local(&dir.path().join("objects")).expect("objects");
    for name in ["a", "b"] {
        db.store
            .create_project(domain::NewProject {
                name: name.into(),
                ..Default::default()
            })
            .await
            .expect("project");
    }
    (db, objects, dir)
}

#[tokio::test]
async fn verify_finds_damage_and_restore_refuses_it() {
    let (db, objects, dir) = seeded().await;
    let target = Target::directory(&dir.path().join("backups")).expect("target");
    let m = backup::create(
        db.store.as_ref(),
        &objects,
        &target,
        Some("one".into()),
        &Quiet,
    )
    .await
    .expect("backup");
    assert_eq!(m.rows("projects"), Some(2));
    let v = backup::verify(&target, "one", &Quiet)
        .await
        .expect("verify");
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    assert_eq!(v.files, m.tables.len());

    // Same name again is refused.
    let again = backup::create(
        db.store.as_ref(),
        &objects,
        &target,
        Some("one".into()),
        &Quiet,
    )
    .await;
    assert!(matches!(again, Err(BackupError::Invalid(_))));

    // Into a non-empty database: refused without force.
    let err = backup::restore(db.store.as_ref(), &objects, &target, "one", false, &Quiet)
        .await
        .expect_err("not empty");
    assert!(matches!(err, BackupError::NotEmpty(_)), "{err}");

    // One changed byte in a table file.
    let file = dir.path().join("backups/one/tables/projects.jsonl");
    let mut text = std::fs::read_to_string(&file).expect("read");
    text = text.replacen("\"a\"", "\"x\"", 1);
    std::fs::write(&file, text).expect("write");
    let v = backup::verify(&target, "one", &Quiet)
        .await
        .expect("verify");
    assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
    assert!(v.problems[0].contains("projects.jsonl"), "{:?}", v.problems);
    let fresh = TestDb::sqlite().await;
    let err = backup::restore(
        fresh.store.as_ref(),
        &objects,
        &target,
        "one",
        false,
        &Quiet,
    )
    .await
    .expect_err("damaged");
    assert!(err.to_string().contains("SHA-256"), "{err}");
    let counts = fresh.store.row_counts().await.expect("counts");
    assert!(
        counts.iter().all(|(_, n)| *n == 0),
        "nothing restored: {counts:?}"
    );

    assert!(matches!(
        backup::manifest(&target, "missing").await,
        Err(BackupError::NotFound(_))
    ));
    assert!(matches!(
        backup::manifest(&target, "../etc").await,
        Err(BackupError::BadName(_))
    ));
}

#[tokio::test]
async fn prune_keeps_the_newest() {
    let (db, objects, _dir) = seeded().await;
    let target = Target::store(objects.clone());
    for _ in 0..3 {
        backup::create(db.store.as_ref(), &objects, &target, None, &Quiet)
            .await
            .expect("backup");
    }
    backup::create(
        db.store.as_ref(),
        &objects,
        &target,
        Some("manual".into()),
        &Quiet,
    )
    .await
    .expect("backup");
    assert_eq!(backup::list(&target).await.expect("list").len(), 4);
    let deleted = backup::prune(&target, "taylordash-", 1)
        .await
        .expect("prune");
    assert_eq!(deleted.len(), 2);
    let left: Vec<String> = backup::list(&target)
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(left.contains(&"manual".to_owned()), "{left:?}");
    // Nothing of the deleted backups is left behind.
    let keys = objects.list("backups").await.expect("list");
    assert!(keys.iter().all(|o| {
        !deleted
            .iter()
            .any(|d| o.key.starts_with(&format!("backups/{d}/")))
    }));
}
