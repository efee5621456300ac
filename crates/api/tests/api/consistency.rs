//! Lists under concurrent writes: every answer is one snapshot of the table, and none is older
//! than a write acknowledged before the list was asked for (the list answers served again on
//! SQLite included).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use crate::support::*;

on_both!(project_lists_are_snapshots_and_never_stale_under_writes,);

/// Projects alive at once at most: the writer creates `w0000`, `w0001`, ... one after another
/// and deletes the oldest once more than this many exist, so a snapshot is always a run of
/// consecutive names and fits one page.
const WINDOW: i64 = 12;
const WRITES: i64 = 150;

async fn call(
    router: &Router,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("x-api-key", KEY);
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let res = router
        .clone()
        .oneshot(req.body(body).expect("request"))
        .await
        .expect("infallible");
    let status = res.status();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A writer creates and deletes projects one at a time (plus an update now and then), while
/// readers list them, the same page again and again (so SQLite serves many answers again) and
/// with a filter. Each list must be a snapshot: consecutive names, newest first, `total` and
/// `count` equal to what the page holds; and it must show every create and delete the writer
/// had been told succeeded before the list was sent, and every acknowledged rename.
async fn project_lists_are_snapshots_and_never_stale_under_writes(app: TestApp) {
    let router = app.router.clone();
    // Acknowledged so far: creates of w0000..w{created-1}, deletes of w0000..w{deleted-1}, and
    // the newest project renamed with suffix `renamed` (its index).
    let created = Arc::new(AtomicI64::new(0));
    let deleted = Arc::new(AtomicI64::new(0));
    let renamed = Arc::new(AtomicI64::new(-1));
    let done = Arc::new(AtomicBool::new(false));

    let writer = {
        let (router, created, deleted, renamed, done) = (
            router.clone(),
            created.clone(),
            deleted.clone(),
            renamed.clone(),
            done.clone(),
        );
        tokio::spawn(async move {
            let mut ids: Vec<String> = Vec::new();
            for i in 0..WRITES {
                let (status, body) = call(
                    &router,
                    Method::POST,
                    "/api/v1/projects",
                    Some(json!({ "name": format!("w{i:04}") })),
                )
                .await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
                ids.push(body["id"].as_str().expect("id").to_owned());
                created.store(i + 1, Ordering::SeqCst);
                if i % 10 == 5 {
                    let (status, body) = call(
                        &router,
                        Method::PUT,
                        &format!("/api/v1/projects/{}", ids[i as usize]),
                        Some(json!({ "description": format!("renamed {i}") })),
                    )
                    .await;
                    assert_eq!(status, StatusCode::OK, "{body}");
                    renamed.store(i, Ordering::SeqCst);
                }
                let oldest = i - WINDOW;
                if oldest >= 0 {
                    let (status, body) = call(
                        &router,
                        Method::DELETE,
                        &format!("/api/v1/projects/{}", ids[oldest as usize]),
                        None,
                    )
                    .await;
                    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
                    deleted.store(oldest + 1, Ordering::SeqCst);
                }
            }
            done.store(true, Ordering::SeqCst);
        })
    };

    let readers: Vec<_> = [
        "/api/v1/projects",
        "/api/v1/projects?status=planning&limit=50",
    ]
    .into_iter()
    .map(|path| {
        let (router, created, deleted, renamed, done) = (
            router.clone(),
            created.clone(),
            deleted.clone(),
            renamed.clone(),
            done.clone(),
        );
        tokio::spawn(async move {
            let mut lists = 0;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let (c, d, r) = (
                    created.load(Ordering::SeqCst),
                    deleted.load(Ordering::SeqCst),
                    renamed.load(Ordering::SeqCst),
                );
                let (status, body) = call(&router, Method::GET, path, None).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                check_snapshot(&body, c, d, r);
                lists += 1;
                if finished {
                    return lists;
                }
                // A list served again completes without waiting on anything, so on the test's
                // single-threaded runtime this loop would never let the writer run.
                tokio::task::yield_now().await;
            }
        })
    })
    .collect();

    tokio::time::timeout(std::time::Duration::from_secs(120), async {
        writer.await.expect("writer");
        for r in readers {
            let lists = r.await.expect("reader");
            assert!(lists > 1, "a reader listed only {lists} times");
        }
    })
    .await
    .expect("writes and reads finish");
}

/// `body` is one snapshot of the writer's run, taken after `created` creates, `deleted`
/// deletes and the update of `renamed` were acknowledged.
fn check_snapshot(body: &Value, created: i64, deleted: i64, renamed: i64) {
    let items = body["projects"].as_array().expect("projects");
    let index = |p: &Value| -> i64 {
        p["name"].as_str().expect("name")[1..]
            .parse()
            .expect("w + number")
    };
    let found: Vec<i64> = items.iter().map(index).collect();
    assert_eq!(body["count"], items.len(), "count: {body}");
    assert_eq!(
        body["total"],
        items.len(),
        "total is not the page's: {body}"
    );
    for pair in found.windows(2) {
        assert_eq!(
            pair[0],
            pair[1] + 1,
            "not one snapshot (a gap or an order change): {found:?}"
        );
    }
    if let (Some(&newest), Some(&oldest)) = (found.first(), found.last()) {
        assert!(
            newest + 1 >= created,
            "stale: {created} creates acknowledged, newest is w{newest}"
        );
        assert!(
            oldest >= deleted,
            "stale: {deleted} deletes acknowledged, w{oldest} still listed"
        );
        assert!(
            newest - oldest <= WINDOW,
            "more than the window alive at once: {found:?}"
        );
    } else {
        assert!(
            created == deleted,
            "an empty list after {created} creates and {deleted} deletes"
        );
    }
    if renamed >= 0
        && let Some(p) = items.iter().find(|p| index(p) == renamed)
    {
        assert_eq!(
            p["description"],
            format!("renamed {renamed}"),
            "stale: the acknowledged update of w{renamed} is missing"
        );
    }
}
