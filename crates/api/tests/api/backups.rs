//! The admin backup API: take, list and download backups; outcomes as metrics and events.

use crate::support::*;

on_both!(take_list_and_download_a_backup);

async fn take_list_and_download_a_backup(app: TestApp) {
    let p = app.project("kept").await;
    let req = TestApp::builder(
        &Cred::service(),
        Method::POST,
        &format!("/api/v1/projects/{p}/artifacts?name=a.txt"),
    )
    .body(Body::from("artifact bytes"))
    .expect("request");
    assert_eq!(app.send(req).await.status, StatusCode::CREATED);
    let list = app.get("/api/v1/admin/backups").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.body["count"], 0);

    let r = app.post("/api/v1/admin/backups", json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let name = r.str("name");
    assert!(name.starts_with("taylordash-"), "{name}");
    assert_eq!(r.body["rows"]["projects"], 1);
    assert_eq!(r.body["rows"]["artifacts"], 1);
    assert_eq!(r.body["objects"], 1);

    let list = app.get("/api/v1/admin/backups").await;
    assert_eq!(list.body["count"], 1);
    assert_eq!(list.body["backups"][0]["name"], name.as_str());

    // The archive: exact length, and tar can read it.
    let res = app
        .router
        .clone()
        .oneshot(
            TestApp::builder(
                &Cred::service(),
                Method::GET,
                &format!("/api/v1/admin/backups/{name}"),
            )
            .body(Body::empty())
            .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/x-tar");
    let length: usize = res.headers()[header::CONTENT_LENGTH]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("number");
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(bytes.len(), length);
    let dir = tempfile::tempdir().expect("dir");
    let archive = dir.path().join("b.tar");
    std::fs::write(&archive, &bytes).expect("write");
    let out = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&archive)
        .arg("-C")
        .arg(dir.path())
        .output()
        .expect("tar");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join(&name).join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["name"], name.as_str());
    let object = &manifest["objects"][0]["file"];
    let content = std::fs::read(dir.path().join(&name).join(object.as_str().expect("file")))
        .expect("object in the archive");
    assert_eq!(content, b"artifact bytes");

    app.get("/api/v1/admin/backups/nope")
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.get("/api/v1/admin/backups/..%2Fetc")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_NAME");

    let metrics = app.get("/metrics").await;
    let text = metrics.body.as_str().expect("text").to_owned();
    assert!(
        text.contains("taylordash_backups_total{outcome=\"success\"} 1"),
        "{text}"
    );
    // The outcome reaches the events mirror through the bus.
    let mut seen = false;
    for _ in 0..100 {
        let events = app.get("/api/v1/events?kind=backup.succeeded").await;
        if events.body["events"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
        {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(seen, "no backup.succeeded event");
}

/// Backups taken on demand count against the same `keep` as scheduled ones: taking many never
/// keeps more than that, and the newest stay.
#[tokio::test]
async fn on_demand_backups_are_pruned_to_keep() {
    let app = TestApp::new().await;
    app.project("kept").await;
    let mut names = Vec::new();
    for _ in 0..BACKUP_KEEP + 2 {
        let r = app.post("/api/v1/admin/backups", json!({})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        names.push(r.str("name"));
    }
    let list = app.get("/api/v1/admin/backups").await;
    assert_eq!(list.body["count"], BACKUP_KEEP, "{}", list.body);
    let listed: Vec<&str> = list.body["backups"]
        .as_array()
        .expect("backups")
        .iter()
        .filter_map(|b| b["name"].as_str())
        .collect();
    for newest in names.iter().rev().take(BACKUP_KEEP) {
        assert!(
            listed.contains(&newest.as_str()),
            "{newest} kept: {listed:?}"
        );
    }
}
