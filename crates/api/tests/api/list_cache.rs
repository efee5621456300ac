//! The project list answers served again on PostgreSQL (`projects::ListCache` over the
//! generation of migration 0019): a change to `projects` made by anyone — another replica, a
//! plain SQL client, a restore — shows in the next list, and an answer is served again only
//! while nothing changed.

use std::time::Duration;

use sqlx::Connection as _;
use storage::StoreConfig;

use crate::support::*;

const LIST: &str = "/api/v1/projects?limit=10";

async fn list(app: &TestApp) -> Value {
    let r = app.get(LIST).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

fn names(body: &Value) -> Vec<String> {
    body["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect()
}

/// A connection of its own to the app's database: writes that do not go through the app.
async fn other_client(app: &TestApp) -> sqlx::PgConnection {
    let StoreConfig::Postgres { url, .. } = &app.db.config else {
        panic!("a PostgreSQL app");
    };
    sqlx::PgConnection::connect(url).await.expect("connect")
}

async fn sql(conn: &mut sqlx::PgConnection, statement: &'static str) {
    sqlx::raw_sql(statement)
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

#[tokio::test]
async fn postgres_lists_show_every_change_whoever_made_it() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    for name in ["p1", "p2", "p3"] {
        app.project(name).await;
    }
    let first = list(&app).await;
    assert_eq!(names(&first), ["p3", "p2", "p1"]);
    let mut other = other_client(&app).await;

    // The answer IS served again while the generation holds: a change that bypasses the
    // trigger (replication role: triggers off) stays unseen. Without this, the checks below
    // could pass with no cache at all.
    sql(
        &mut other,
        "SET session_replication_role = replica; \
         UPDATE projects SET name = 'unseen' WHERE name = 'p1'; \
         SET session_replication_role = DEFAULT",
    )
    .await;
    assert_eq!(list(&app).await, first, "the answer was not served again");

    // A plain UPDATE from another client: the next list shows it (and the change above).
    sql(
        &mut other,
        "UPDATE projects SET name = 'q2' WHERE name = 'p2'",
    )
    .await;
    assert_eq!(names(&list(&app).await), ["p3", "q2", "unseen"]);

    // An INSERT and a DELETE from another client.
    sql(
        &mut other,
        "INSERT INTO projects (id, name, created_at) \
         VALUES (gen_random_uuid(), 'p4', now() + interval '1 hour')",
    )
    .await;
    let body = list(&app).await;
    assert_eq!(names(&body), ["p4", "p3", "q2", "unseen"]);
    assert_eq!(body["total"], 4);
    sql(&mut other, "DELETE FROM projects WHERE name = 'p3'").await;
    assert_eq!(names(&list(&app).await), ["p4", "q2", "unseen"]);

    // A transaction that commits after the list was read (and its generation with it): lists
    // before the commit do not show it, the first list after the commit does.
    let mut tx = other.begin().await.expect("begin");
    sqlx::raw_sql("UPDATE projects SET name = 'late' WHERE name = 'p4'")
        .execute(&mut *tx)
        .await
        .expect("update");
    assert_eq!(names(&list(&app).await), ["p4", "q2", "unseen"]);
    assert_eq!(names(&list(&app).await), ["p4", "q2", "unseen"]);
    tx.commit().await.expect("commit");
    assert_eq!(names(&list(&app).await), ["late", "q2", "unseen"]);

    // A transaction rolled back changes nothing, and the answer may be served again after it.
    let mut tx = other.begin().await.expect("begin");
    sqlx::raw_sql("DELETE FROM projects")
        .execute(&mut *tx)
        .await
        .expect("delete");
    tx.rollback().await.expect("rollback");
    assert_eq!(names(&list(&app).await), ["late", "q2", "unseen"]);

    // A restore rewrites the table: the list is the backup's.
    let backup = testsupport::export_rows(&*app.store).await;
    sql(&mut other, "UPDATE projects SET name = 'after backup'").await;
    assert_eq!(
        names(&list(&app).await),
        ["after backup", "after backup", "after backup"]
    );
    app.store
        .import(&mut backup.into_iter().map(Ok), true)
        .await
        .expect("restore");
    assert_eq!(names(&list(&app).await), ["late", "q2", "unseen"]);

    // TRUNCATE from another client.
    sql(&mut other, "TRUNCATE projects CASCADE").await;
    let body = list(&app).await;
    assert_eq!(names(&body), Vec::<String>::new());
    assert_eq!(body["total"], 0);

    // And a write through the app, for completeness.
    app.project("p5").await;
    assert_eq!(names(&list(&app).await), ["p5"]);
}

/// Many lists at once, while another client renames a project again and again: every list
/// asked after a rename was committed shows it (the generation reads shared by waiting
/// requests must each have begun after the request did).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_lists_asked_together_never_miss_a_committed_rename() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    app.project("n0").await;
    let app = std::sync::Arc::new(app);
    let mut other = other_client(&app).await;
    let committed = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let (app, committed, stop) = (app.clone(), committed.clone(), stop.clone());
            tokio::spawn(async move {
                let mut lists = 0u32;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let at_least = committed.load(std::sync::atomic::Ordering::SeqCst);
                    let body = list(&app).await;
                    let name = names(&body).pop().expect("one project");
                    let seen: i64 = name[1..].parse().expect("n + number");
                    assert!(
                        seen >= at_least,
                        "stale: n{at_least} committed, listed {name}"
                    );
                    lists += 1;
                }
                lists
            })
        })
        .collect();
    for i in 1..=200i64 {
        sqlx::query("UPDATE projects SET name = $1")
            .bind(format!("n{i}"))
            .execute(&mut other)
            .await
            .expect("rename");
        committed.store(i, std::sync::atomic::Ordering::SeqCst);
        if i % 4 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut total = 0;
    for r in readers {
        total += r.await.expect("reader");
    }
    assert!(total > 200, "only {total} lists");
}
