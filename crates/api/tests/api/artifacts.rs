//! Artifacts over HTTP: streamed upload and download, ranges, limits, checksums, deletion and
//! the object collector, on both databases (objects in a local directory).

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::support::*;

on_both!(
    upload_list_download_and_delete,
    streamed_upload_larger_than_a_part,
    range_requests,
    oversized_uploads_are_refused_and_leave_nothing,
    checksum_mismatch_is_refused_and_leaves_nothing,
    invalid_uploads_are_4xx,
    project_deletion_removes_its_objects,
    reconcile_removes_orphans_and_reports_missing_objects,
);

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 253) as u8).collect()
}

async fn upload(
    app: &TestApp,
    project: &str,
    query: &str,
    body: Body,
    extra: &[(&str, &str)],
) -> Reply {
    let mut b = TestApp::builder(
        &Cred::service(),
        Method::POST,
        &format!("/api/v1/projects/{project}/artifacts?{query}"),
    );
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    app.send(b.body(body).expect("request")).await
}

/// Sends a request and returns status, headers and the raw body.
async fn fetch(app: &TestApp, path: &str, range: Option<&str>) -> (StatusCode, HeaderMap, Bytes) {
    let mut b = TestApp::builder(&Cred::service(), Method::GET, path);
    if let Some(r) = range {
        b = b.header(header::RANGE, r);
    }
    let res = app
        .router
        .clone()
        .oneshot(b.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    (status, headers, body)
}

/// Files under the artifacts prefix of the test app's object directory.
fn stored_files(app: &TestApp) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&app.files_dir.path().join("artifacts"), &mut out);
    out
}

fn objects(app: &TestApp) -> objects::Objects {
    objects::Objects::local(app.files_dir.path()).expect("objects")
}

async fn upload_list_download_and_delete(app: TestApp) {
    let p = app.project("files").await;
    let body = b"hello, artifacts".to_vec();
    let r = upload(
        &app,
        &p,
        "name=..%2Fnotes%201.txt",
        Body::from(body.clone()),
        &[("content-type", "text/plain; charset=utf-8")],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.str("id");
    assert_eq!(r.body["name"], "notes 1.txt");
    assert_eq!(r.body["content_type"], "text/plain");
    assert_eq!(r.body["size"], body.len());
    assert_eq!(r.body["sha256"], sha(&body));
    assert_eq!(r.body["project_id"], p.as_str());
    assert!(r.body["uploaded_by"].is_null(), "service key has no user");
    assert_eq!(
        r.headers[header::LOCATION],
        format!("/api/v1/artifacts/{id}").as_str()
    );
    assert_eq!(r.body["download_url"], format!("/api/v1/artifacts/{id}"));

    let list = app.get(&format!("/api/v1/projects/{p}/artifacts")).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["total"], 1);
    assert_eq!(list.body["artifacts"][0]["id"], id.as_str());
    let info = app.get(&format!("/api/v1/artifacts/{id}/info")).await;
    assert_eq!(info.body["sha256"], sha(&body));

    let (status, headers, got) = fetch(&app, &format!("/api/v1/artifacts/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got.as_ref(), body.as_slice());
    assert_eq!(
        headers[header::CONTENT_LENGTH],
        body.len().to_string().as_str()
    );
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"notes 1.txt\"; filename*=UTF-8''notes%201.txt"
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::ACCEPT_RANGES], "bytes");
    assert_eq!(stored_files(&app).len(), 1);

    // A viewer reads but cannot change.
    app.user("vic", "viewer").await;
    let vic = Cred::Bearer(app.login("vic").await);
    let r = app
        .call_as(
            &vic,
            Method::GET,
            &format!("/api/v1/artifacts/{id}/info"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call_as(
            &vic,
            Method::DELETE,
            &format!("/api/v1/artifacts/{id}"),
            None,
        )
        .await;
    r.assert_error(StatusCode::FORBIDDEN, "INSUFFICIENT_ROLE");

    // An editor's upload records who uploaded it.
    let eddie = app.user("eddie", "editor").await;
    let token = app.login("eddie").await;
    let req = TestApp::builder(
        &Cred::Bearer(token),
        Method::POST,
        &format!("/api/v1/projects/{p}/artifacts?name=e.bin"),
    )
    .body(Body::from("x"))
    .expect("request");
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["uploaded_by"], eddie.as_str());
    assert_eq!(r.body["content_type"], "application/octet-stream");

    let r = app.delete(&format!("/api/v1/artifacts/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    app.get(&format!("/api/v1/artifacts/{id}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.delete(&format!("/api/v1/artifacts/{id}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    // The object goes with the next collector pass.
    let c = backup::collector::collect(app.store.as_ref(), &objects(&app))
        .await
        .expect("collect");
    assert_eq!(c.deleted, 1);
    assert_eq!(stored_files(&app).len(), 1, "only eddie's file is left");
}

async fn streamed_upload_larger_than_a_part(app: TestApp) {
    let p = app.project("big").await;
    // 7 MiB in 64 KiB chunks, without Content-Length: more than one multipart part.
    let body = data(7 * 1024 * 1024);
    let chunks: Vec<Result<Bytes, std::io::Error>> = body
        .chunks(64 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let r = upload(
        &app,
        &p,
        "name=big.bin",
        Body::from_stream(futures_util::stream::iter(chunks)),
        &[("x-checksum-sha256", &sha(&body))],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["size"], body.len());
    let (status, headers, got) =
        fetch(&app, &format!("/api/v1/artifacts/{}", r.str("id")), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_LENGTH],
        body.len().to_string().as_str()
    );
    assert!(got.as_ref() == body.as_slice(), "downloaded bytes differ");
}

async fn range_requests(app: TestApp) {
    let p = app.project("ranges").await;
    let body = data(1000);
    let r = upload(&app, &p, "name=r.bin", Body::from(body.clone()), &[]).await;
    let path = format!("/api/v1/artifacts/{}", r.str("id"));
    let (status, headers, got) = fetch(&app, &path, Some("bytes=10-19")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(got.as_ref(), &body[10..20]);
    assert_eq!(headers[header::CONTENT_RANGE], "bytes 10-19/1000");
    assert_eq!(headers[header::CONTENT_LENGTH], "10");
    let (status, headers, got) = fetch(&app, &path, Some("bytes=-5")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(got.as_ref(), &body[995..]);
    assert_eq!(headers[header::CONTENT_RANGE], "bytes 995-999/1000");
    let (status, _, got) = fetch(&app, &path, Some("bytes=990-")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(got.len(), 10);
    let (status, headers, got) = fetch(&app, &path, Some("bytes=1000-")).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(headers[header::CONTENT_RANGE], "bytes */1000");
    let err: Value = serde_json::from_slice(&got).expect("json error");
    assert_eq!(err["code"], "RANGE_NOT_SATISFIABLE");
    // Several ranges are answered with the whole file.
    let (status, _, got) = fetch(&app, &path, Some("bytes=0-1,5-6")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got.len(), 1000);
    // An empty file downloads as empty.
    let r = upload(&app, &p, "name=empty", Body::empty(), &[]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let (status, headers, got) =
        fetch(&app, &format!("/api/v1/artifacts/{}", r.str("id")), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(got.is_empty());
    assert_eq!(headers[header::CONTENT_LENGTH], "0");
}

async fn oversized_uploads_are_refused_and_leave_nothing(app: TestApp) {
    let p = app.project("limits").await;
    let too_big = UPLOAD_LIMIT as usize + 1;
    // Declared too large: refused before the body is read.
    let r = upload(
        &app,
        &p,
        "name=x",
        Body::from(data(too_big)),
        &[("content-length", &too_big.to_string())],
    )
    .await;
    r.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
    // Streamed without a length: stopped when the limit is passed.
    let chunks: Vec<Result<Bytes, std::io::Error>> = data(too_big)
        .chunks(256 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let r = upload(
        &app,
        &p,
        "name=x",
        Body::from_stream(futures_util::stream::iter(chunks)),
        &[],
    )
    .await;
    r.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
    assert!(stored_files(&app).is_empty(), "{:?}", stored_files(&app));
    let list = app.get(&format!("/api/v1/projects/{p}/artifacts")).await;
    assert_eq!(list.body["total"], 0);
}

async fn checksum_mismatch_is_refused_and_leaves_nothing(app: TestApp) {
    let p = app.project("sums").await;
    let r = upload(
        &app,
        &p,
        "name=x.txt",
        Body::from("what arrived"),
        &[("x-checksum-sha256", &sha(b"what was sent"))],
    )
    .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "CHECKSUM_MISMATCH");
    assert!(stored_files(&app).is_empty());
    let r = upload(
        &app,
        &p,
        "name=x.txt",
        Body::from("x"),
        &[("x-checksum-sha256", "not-hex")],
    )
    .await;
    r.assert_error(StatusCode::BAD_REQUEST, "INVALID_CHECKSUM");
    assert_eq!(
        app.get(&format!("/api/v1/projects/{p}/artifacts"))
            .await
            .body["total"],
        0
    );
}

async fn invalid_uploads_are_4xx(app: TestApp) {
    let p = app.project("p").await;
    let other = app.project("other").await;
    let foreign = app.component(&other, "c").await;
    upload(&app, &p, "", Body::from("x"), &[])
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    upload(
        &app,
        &p,
        &format!("name=a&component_id={foreign}"),
        Body::from("x"),
        &[],
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    upload(&app, &p, "name=a&component_id=nope", Body::from("x"), &[])
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    upload(
        &app,
        &uuid::Uuid::new_v4().to_string(),
        "name=a",
        Body::from("x"),
        &[],
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.get(&format!(
        "/api/v1/projects/{}/artifacts",
        uuid::Uuid::new_v4()
    ))
    .await
    .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.get("/api/v1/artifacts/not-a-uuid")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_ID");
    // Attached to a component and listed by it.
    let c = app.component(&p, "c").await;
    let r = upload(
        &app,
        &p,
        &format!("name=a&component_id={c}"),
        Body::from("x"),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    upload(&app, &p, "name=b", Body::from("y"), &[]).await;
    let list = app
        .get(&format!(
            "/api/v1/projects/{p}/artifacts?component_id={c}&limit=10"
        ))
        .await;
    assert_eq!(list.body["total"], 1);
    assert_eq!(list.body["artifacts"][0]["component_id"], c.as_str());
}

async fn project_deletion_removes_its_objects(app: TestApp) {
    let doomed = app.project("doomed").await;
    let kept = app.project("kept").await;
    for name in ["a", "b", "c"] {
        let r = upload(
            &app,
            &doomed,
            &format!("name={name}"),
            Body::from(name.to_owned()),
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    upload(&app, &kept, "name=k", Body::from("k"), &[]).await;
    assert_eq!(stored_files(&app).len(), 4);
    let r = app.delete(&format!("/api/v1/projects/{doomed}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let c = backup::collector::collect(app.store.as_ref(), &objects(&app))
        .await
        .expect("collect");
    assert_eq!(
        c,
        backup::collector::Collected {
            deleted: 3,
            failed: 0
        }
    );
    let left = stored_files(&app);
    assert_eq!(left.len(), 1);
    assert!(left[0].to_string_lossy().contains(&kept), "{left:?}");
    // Nothing is queued any more.
    let c = backup::collector::collect(app.store.as_ref(), &objects(&app))
        .await
        .expect("collect");
    assert_eq!(c.deleted + c.failed, 0);
}

async fn reconcile_removes_orphans_and_reports_missing_objects(app: TestApp) {
    let p = app.project("p").await;
    let r = upload(&app, &p, "name=kept", Body::from("kept"), &[]).await;
    let kept_id = r.str("id");
    let r = upload(&app, &p, "name=lost", Body::from("lost"), &[]).await;
    let lost_key = format!("artifacts/{p}/{}", r.str("id"));
    let store = objects(&app);
    // An upload whose record was never written (a crash), and an object lost from the store.
    store
        .put_bytes("artifacts/crashed/upload", Bytes::from_static(b"orphan"))
        .await
        .expect("put");
    store.delete(&lost_key).await.expect("delete");
    let dry =
        backup::collector::reconcile(app.store.as_ref(), &store, std::time::Duration::ZERO, true)
            .await
            .expect("dry run");
    assert_eq!(dry.orphans, ["artifacts/crashed/upload"]);
    assert_eq!(dry.missing, std::slice::from_ref(&lost_key));
    assert_eq!(
        store.list("artifacts").await.expect("list").len(),
        2,
        "dry run deletes nothing"
    );
    // Young objects are spared (an upload may be in flight).
    let young = backup::collector::reconcile(
        app.store.as_ref(),
        &store,
        std::time::Duration::from_secs(3600),
        false,
    )
    .await
    .expect("reconcile");
    assert!(young.orphans.is_empty());
    let done =
        backup::collector::reconcile(app.store.as_ref(), &store, std::time::Duration::ZERO, false)
            .await
            .expect("reconcile");
    assert_eq!(done.orphans.len(), 1);
    assert_eq!(done.collected.deleted, 1);
    let keys: Vec<String> = store
        .list("artifacts")
        .await
        .expect("list")
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys, [format!("artifacts/{p}/{kept_id}")]);
    // The record whose object is gone answers 404 OBJECT_MISSING, not 500.
    let lost_id = lost_key.rsplit('/').next().expect("id").to_owned();
    app.get(&format!("/api/v1/artifacts/{lost_id}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "OBJECT_MISSING");
}
