//! Portable snapshots: the table descriptions match both schemas, and a snapshot taken on one
//! database restores into the other with every value intact.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use domain::{Artifact, NewComponent, NewProject, NewTask, NewUser, Role};
use sqlx::{Connection, Row};
use storage::{Kind, RowObject, Store, StoreConfig, TABLES, Table};
use testsupport::TestDb;

type Rows = Vec<(&'static Table, RowObject)>;
/// Events beyond the one `populate` writes by hand.
const BULK_EVENTS: usize = 2_345;
/// Column names in order, with kinds where the database tells them.
type Columns = Vec<(String, Option<Kind>)>;
type Schema = Vec<(String, Columns)>;

async fn export(store: &dyn Store) -> Rows {
    testsupport::export_rows(store).await
}

async fn import(store: &dyn Store, rows: &Rows, wipe: bool) -> storage::Result<()> {
    let mut source = rows.iter().cloned().map(Ok);
    store.import(&mut source, wipe).await.map(|_| ())
}

/// Some of everything, with NULLs, JSON, booleans and a user created by another.
async fn populate(store: &Arc<dyn Store>) {
    let now = domain::now();
    let p = store
        .create_project(NewProject {
            name: "p".into(),
            description: Some("d".into()),
            metadata: serde_json::json!({"k": [1, 2, {"x": null}]})
                .as_object()
                .unwrap()
                .clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let a = store
        .create_component(
            p.id,
            NewComponent {
                name: "a".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let b = store
        .create_component(
            p.id,
            NewComponent {
                name: "b".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store.add_dependency(a.id, b.id).await.unwrap();
    // Text that COPY's text format must escape (tab, newlines, backslashes, a literal `\N`),
    // in a text column and inside JSON.
    let awkward = "tab\there\nnew line\r\\back\\slash \\N é \u{1F600} \"quoted\"";
    store
        .create_project(NewProject {
            name: "awkward".into(),
            description: Some(awkward.into()),
            metadata: serde_json::json!({"s": awkward, "n": 0.1, "big": 1e300})
                .as_object()
                .unwrap()
                .clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .create_task(
            a.id,
            NewTask {
                name: "t".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let event = domain::NewEvent {
        topic: "tracker/events/x/y".into(),
        kind: "x.y".into(),
        trace_id: uuid::Uuid::new_v4(),
        idempotency_key: "k1".into(),
        source: domain::EventSource::Mqtt,
        payload: serde_json::json!({"n": 1.5}).as_object().unwrap().clone(),
        ts: now,
        received_at: now,
    };
    store.ingest(&[event], &[]).await.unwrap();
    // More events than one multi-row INSERT of a restore takes: the restore spans statements.
    let bulk: Vec<domain::NewEvent> = (0..BULK_EVENTS)
        .map(|i| domain::NewEvent {
            topic: format!("tracker/events/bulk/{}", i % 7),
            kind: "bulk.event".into(),
            trace_id: uuid::Uuid::new_v4(),
            idempotency_key: format!("bulk-{i}"),
            source: domain::EventSource::Mqtt,
            payload: serde_json::json!({"i": i, "s": "x".repeat(i % 50)})
                .as_object()
                .unwrap()
                .clone(),
            ts: now + chrono::Duration::milliseconds(i as i64),
            received_at: now,
        })
        .collect();
    for chunk in bulk.chunks(500) {
        store.ingest(chunk, &[]).await.unwrap();
    }
    let user = |name: &str, created_by| NewUser {
        username: name.into(),
        password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA".into(),
        role: Role::Admin,
        default_view: None,
        single_view_mode: true,
        created_by,
    };
    let admin = store.create_user(user("admin", None), now).await.unwrap();
    store
        .create_user(
            user("second", Some(admin.id)),
            now + chrono::Duration::seconds(1),
        )
        .await
        .unwrap();
    let id = uuid::Uuid::new_v4();
    store
        .create_artifact(&Artifact {
            id,
            project_id: p.id,
            component_id: Some(a.id),
            name: "f.txt".into(),
            content_type: "text/plain".into(),
            size: 3,
            sha256: "c".repeat(64),
            object_key: Artifact::object_key(p.id, id),
            uploaded_by: Some(admin.id),
            created_at: now,
        })
        .await
        .unwrap();
    store
        .queue_object_deletion("artifacts/old/one", now)
        .await
        .unwrap();
}

fn kind_of_pg_type(t: &str) -> Kind {
    match t {
        "uuid" => Kind::Uuid,
        "text" | "character varying" | "character" => Kind::Text,
        "integer" => Kind::I32,
        "bigint" => Kind::I64,
        "boolean" => Kind::Bool,
        "double precision" => Kind::F64,
        "timestamp with time zone" => Kind::Time,
        "jsonb" => Kind::Json,
        other => panic!("no snapshot kind for PostgreSQL type {other}"),
    }
}

/// Every table in the database with its columns in order (and kinds, on PostgreSQL); not the
/// database's own bookkeeping, which a backup must not carry: the applied migrations, and the
/// projects generation on PostgreSQL (a restore moves it by its trigger, migration 0019).
async fn schema(config: &StoreConfig) -> Schema {
    let mut out: Schema = Vec::new();
    match config {
        StoreConfig::Postgres { url, .. } => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            let rows = sqlx::query(
                "SELECT table_name::text, column_name::text, data_type::text \
                 FROM information_schema.columns WHERE table_schema = 'public' \
                 AND table_name NOT IN ('_sqlx_migrations', 'project_list_generation') \
                 ORDER BY table_name, ordinal_position",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            for r in rows {
                let (t, c, ty): (String, String, String) = (r.get(0), r.get(1), r.get(2));
                if out.last().is_none_or(|(name, _)| *name != t) {
                    out.push((t.clone(), Vec::new()));
                }
                out.last_mut()
                    .unwrap()
                    .1
                    .push((c, Some(kind_of_pg_type(&ty))));
            }
        }
        StoreConfig::Sqlite { path, .. } => {
            let url = format!("sqlite://{}", path.display());
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            // The observability tables are in a file of their own, attached as the store does.
            sqlx::query("ATTACH DATABASE ?1 AS observability")
                .bind(storage::observability_path(path).display().to_string())
                .execute(&mut conn)
                .await
                .unwrap();
            let tables: Vec<String> = sqlx::query(
                "SELECT name FROM (SELECT name, type FROM main.sqlite_master \
                 UNION ALL SELECT name, type FROM observability.sqlite_master) \
                 WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
                 AND name <> '_sqlx_migrations' ORDER BY name",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
            for t in tables {
                let cols = sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA table_info({t})")))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| (r.get::<String, _>("name"), None))
                    .collect();
                out.push((t, cols));
            }
        }
    }
    out
}

async fn check_schema(db: &TestDb) {
    let actual = schema(&db.config).await;
    let mut described: Schema = TABLES
        .iter()
        .map(|t| {
            let cols = t
                .columns
                .iter()
                .map(|(c, k)| ((*c).to_owned(), Some(*k)))
                .collect();
            (t.name.to_owned(), cols)
        })
        .collect();
    described.sort_by(|a, b| a.0.cmp(&b.0));
    let names =
        |v: &[(String, Columns)]| -> Vec<String> { v.iter().map(|(t, _)| t.clone()).collect() };
    assert_eq!(
        names(&actual),
        names(&described),
        "describe every table in crates/storage/src/snapshot.rs so backups include it"
    );
    for ((table, cols), (_, want)) in actual.iter().zip(&described) {
        for (i, (name, kind)) in cols.iter().enumerate() {
            let (want_name, want_kind) = &want[i];
            assert_eq!(name, want_name, "table {table}, column {i}");
            if kind.is_some() {
                assert_eq!(kind, want_kind, "table {table}, column {name}");
            }
        }
        assert_eq!(cols.len(), want.len(), "columns of {table}");
    }
}

#[tokio::test]
async fn tables_describe_both_schemas() {
    check_schema(&TestDb::sqlite().await).await;
    if let Some(db) = TestDb::postgres().await {
        check_schema(&db).await;
    }
}

async fn round_trip(from: TestDb, to: TestDb) {
    populate(&from.store).await;
    let rows = export(from.store.as_ref()).await;
    assert!(rows.iter().any(|(t, _)| t.name == "users"));
    import(to.store.as_ref(), &rows, false).await.unwrap();
    let again = export(to.store.as_ref()).await;
    assert_eq!(again.len(), rows.len());
    for ((t1, r1), (t2, r2)) in rows.iter().zip(&again) {
        assert_eq!(t1.name, t2.name);
        assert_eq!(r1, r2, "table {}", t1.name);
    }
    // A second restore collides unless the target is wiped first.
    assert!(import(to.store.as_ref(), &rows, false).await.is_err());
    import(to.store.as_ref(), &rows, true).await.unwrap();
    assert_eq!(export(to.store.as_ref()).await.len(), rows.len());
    // Ids continue after the restored ones.
    let event = domain::NewEvent {
        topic: "tracker/events/x/y".into(),
        kind: "x.y".into(),
        trace_id: uuid::Uuid::new_v4(),
        idempotency_key: "after-restore".into(),
        source: domain::EventSource::Mqtt,
        payload: serde_json::Map::new(),
        ts: domain::now(),
        received_at: domain::now(),
    };
    let stored = to.store.ingest(&[event], &[]).await.unwrap();
    assert_eq!(stored.stored.len(), 1);
    let counts = to.store.row_counts().await.unwrap();
    assert!(
        counts
            .iter()
            .any(|(t, n)| *t == "events_mirror" && *n == BULK_EVENTS as i64 + 2),
        "{counts:?}"
    );
    assert!(to.store.schema_version().await.unwrap() >= 5);
}

#[tokio::test]
async fn sqlite_snapshot_restores_into_sqlite() {
    round_trip(TestDb::sqlite().await, TestDb::sqlite().await).await;
}

#[tokio::test]
async fn sqlite_snapshot_restores_into_postgres_and_back() {
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    round_trip(TestDb::sqlite().await, pg).await;
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    round_trip(pg, TestDb::sqlite().await).await;
}
