//! The embedded web UI (`web/dist`): files, SPA fallback, API precedence, caching headers,
//! precompressed variants, validators, HEAD. Reads whatever build is in web/dist (debug builds
//! serve it from disk), so asset names are taken from the served index.html.

use crate::support::*;

async fn fetch(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let res = app
        .router
        .clone()
        .oneshot(b.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, headers, bytes)
}

fn h<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The entry script named by index.html (`/assets/index-<hash>.js`).
async fn entry_script(app: &TestApp) -> String {
    let (_, _, body) = fetch(app, Method::GET, "/", &[("accept", "text/html")]).await;
    let html = String::from_utf8(body).expect("utf-8 index.html");
    let start = html.find("/assets/").expect("index.html names an asset");
    let end = start + html[start..].find('"').expect("quoted asset");
    let path = html[start..end].to_owned();
    assert!(
        path.ends_with(".js"),
        "first asset is the entry script: {path}"
    );
    path
}

#[tokio::test]
async fn browsers_get_the_page_at_root_and_api_clients_get_json() {
    let app = TestApp::new().await;
    let (status, headers, body) =
        fetch(&app, Method::GET, "/", &[("accept", "text/html,*/*")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h(&headers, "content-type"), "text/html; charset=utf-8");
    assert_eq!(h(&headers, "cache-control"), "no-cache");
    assert!(!h(&headers, "etag").is_empty());
    assert!(String::from_utf8_lossy(&body).contains("<div id=\"root\">"));
    assert!(h(&headers, "content-security-policy").contains("script-src 'self'"));

    let (status, headers, body) =
        fetch(&app, Method::GET, "/", &[("accept", "application/json")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(h(&headers, "content-type").starts_with("application/json"));
    let v: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(v["message"], "TaylorDash Backend API");
}

#[tokio::test]
async fn client_side_routes_fall_back_to_the_page() {
    let app = TestApp::new().await;
    for path in [
        "/login",
        "/projects",
        "/projects/1b4e28ba-2fa1-11d2-883f-0016d3cca427/canvas",
        "/events?tab=dlq",
    ] {
        let (status, headers, body) = fetch(&app, Method::GET, path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(
            h(&headers, "content-type"),
            "text/html; charset=utf-8",
            "{path}"
        );
        assert_eq!(h(&headers, "cache-control"), "no-cache", "{path}");
        assert!(
            String::from_utf8_lossy(&body).contains("id=\"root\""),
            "{path}"
        );
    }
}

#[tokio::test]
async fn api_and_operational_paths_keep_precedence() {
    let app = TestApp::new().await;
    let (status, headers, body) = fetch(
        &app,
        Method::GET,
        "/api/v1/no-such-thing",
        &[("accept", "text/html")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(h(&headers, "content-type").starts_with("application/json"));
    let v: Value = serde_json::from_slice(&body).expect("json 404");
    assert_eq!(v["code"], "ROUTE_NOT_FOUND");
    for path in ["/api", "/api/", "/health/nope", "/docs/nope.js"] {
        let (status, headers, _) = fetch(&app, Method::GET, path, &[]).await;
        assert_ne!(
            h(&headers, "content-type"),
            "text/html; charset=utf-8",
            "{path}: {status}"
        );
    }
    let (status, headers, _) = fetch(&app, Method::GET, "/health/live", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(h(&headers, "content-type").starts_with("application/json"));
    let (status, headers, _) = fetch(&app, Method::GET, "/openapi.json", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(h(&headers, "content-type").starts_with("application/json"));
    let (status, headers, _) = fetch(&app, Method::GET, "/metrics", &[("x-api-key", KEY)]).await;
    assert!(
        !h(&headers, "content-type").starts_with("text/html"),
        "{status}"
    );
    // Writes never reach the UI.
    let (status, _, _) = fetch(&app, Method::POST, "/projects", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn hashed_assets_are_immutable_and_precompressed() {
    let app = TestApp::new().await;
    let js = entry_script(&app).await;

    let (status, plain_h, plain) = fetch(&app, Method::GET, &js, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        h(&plain_h, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        h(&plain_h, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(h(&plain_h, "vary"), "Accept-Encoding");
    assert_eq!(h(&plain_h, "content-encoding"), "");
    assert_eq!(h(&plain_h, "content-length"), plain.len().to_string());

    // A browser accepts br and gzip: the build keeps gzip only (the binary's size).
    let (status, gz_h, gz) = fetch(
        &app,
        Method::GET,
        &js,
        &[("accept-encoding", "gzip, deflate, br")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h(&gz_h, "content-encoding"), "gzip");
    assert_eq!(h(&gz_h, "content-type"), "text/javascript; charset=utf-8");
    assert_eq!(h(&gz_h, "vary"), "Accept-Encoding");
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip magic");
    assert!(gz.len() < plain.len());

    // Each encoding is its own representation with its own tag.
    let tags = [h(&plain_h, "etag"), h(&gz_h, "etag")];
    assert!(
        tags.iter().all(|t| t.starts_with('"') && t.len() > 2),
        "{tags:?}"
    );
    assert_ne!(tags[0], tags[1], "{tags:?}");
}

#[tokio::test]
async fn etag_revalidation_and_head() {
    let app = TestApp::new().await;
    let (_, headers, body) = fetch(
        &app,
        Method::GET,
        "/settings",
        &[("accept-encoding", "gzip")],
    )
    .await;
    let tag = h(&headers, "etag").to_owned();
    let (status, h304, body304) = fetch(
        &app,
        Method::GET,
        "/settings",
        &[("accept-encoding", "gzip"), ("if-none-match", &tag)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body304.is_empty());
    assert_eq!(h(&h304, "etag"), tag);
    assert_eq!(h(&h304, "cache-control"), "no-cache");
    // A different encoding is a different representation: no 304.
    let (status, _, _) = fetch(&app, Method::GET, "/settings", &[("if-none-match", &tag)]).await;
    assert_eq!(status, StatusCode::OK);

    let (status, head_h, head_body) = fetch(
        &app,
        Method::HEAD,
        "/settings",
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(head_body.is_empty());
    assert_eq!(h(&head_h, "etag"), tag);
    assert_eq!(h(&head_h, "content-length"), body.len().to_string());
    assert_eq!(h(&head_h, "content-type"), "text/html; charset=utf-8");

    let js = entry_script(&app).await;
    let (status, _, head_js) = fetch(&app, Method::HEAD, &js, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(head_js.is_empty());
}

#[tokio::test]
async fn missing_assets_are_not_the_page() {
    let app = TestApp::new().await;
    let (status, headers, _) = fetch(&app, Method::GET, "/assets/index-doesnotexist.js", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(h(&headers, "content-type").starts_with("application/json"));
    // Static files outside assets/ are served with their own type and revalidated.
    let (status, headers, _) = fetch(&app, Method::GET, "/favicon.svg", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h(&headers, "content-type"), "image/svg+xml");
    assert_eq!(h(&headers, "cache-control"), "no-cache");
}

/// The UI's session-expiry warning reads `session_expires_at`; "stay signed in" calls
/// `/auth/me` again, which slides the session forward.
#[tokio::test]
async fn me_tells_when_the_session_ends_and_calling_it_extends_the_session() {
    let app = TestApp::new().await;
    app.user("ui-alice", "editor").await;
    let token = app.login("ui-alice").await;

    let first = app.me(token.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["username"], "ui-alice");
    let end = |r: &Reply| {
        chrono::DateTime::parse_from_rfc3339(r.body["session_expires_at"].as_str().expect("expiry"))
            .expect("rfc3339")
    };
    let e1 = end(&first);
    let left = e1.signed_duration_since(chrono::Utc::now());
    assert!(
        left > chrono::Duration::hours(23) && left <= chrono::Duration::hours(24),
        "{left}"
    );

    app.clock.advance(chrono::Duration::hours(2));
    let second = app.me(token).await;
    let moved = end(&second).signed_duration_since(e1);
    assert!(
        moved >= chrono::Duration::minutes(119) && moved <= chrono::Duration::minutes(121),
        "expiry moved by {moved}"
    );

    // Keys and the service key have no session.
    let svc = app.get("/api/v1/auth/me").await;
    assert!(
        svc.status == StatusCode::FORBIDDEN || svc.body["session_expires_at"].is_null(),
        "{}",
        svc.body
    );
}

#[tokio::test]
async fn ui_requests_have_their_own_metrics_label() {
    let app = TestApp::new().await;
    fetch(&app, Method::GET, "/projects", &[]).await;
    fetch(&app, Method::GET, "/api/v1/nothing", &[]).await;
    let (_, _, body) = fetch(&app, Method::GET, "/metrics", &[("x-api-key", KEY)]).await;
    let text = String::from_utf8(body).expect("utf-8");
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="ui",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="unmatched",status="404"} 1"#),
        "{text}"
    );
}

/// The API docs' files are embedded gzip-compressed: sent as such only to clients that accept
/// gzip, inflated for the others (curl without --compressed, scripts, old proxies).
#[tokio::test]
async fn docs_are_plain_unless_gzip_is_accepted() {
    let app = TestApp::new().await;
    for path in ["/docs/", "/docs/swagger-ui.css"] {
        let (status, plain_h, plain) = fetch(&app, Method::GET, path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            plain_h.get("content-encoding").is_none(),
            "{path}: {plain_h:?}"
        );
        assert_ne!(&plain[..2], &[0x1f, 0x8b], "{path}: still gzip");
        let text = String::from_utf8(plain.clone()).expect("text");
        assert!(
            text.contains("swagger") || text.contains(".swagger-ui"),
            "{path}"
        );
        if let Some(length) = plain_h.get("content-length") {
            assert_eq!(
                length.to_str().expect("ascii"),
                plain.len().to_string(),
                "{path}"
            );
        }

        let (status, gz_h, gz) = fetch(
            &app,
            Method::GET,
            path,
            &[("accept-encoding", "gzip, deflate")],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{path}");
        if h(&gz_h, "content-encoding") == "gzip" {
            assert_eq!(&gz[..2], &[0x1f, 0x8b], "{path}: gzip magic");
            assert!(gz.len() < plain.len(), "{path}");
        }
    }
}
