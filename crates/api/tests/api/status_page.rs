//! Public status pages over HTTP: turning one on and off per role and anonymous, the link
//! (shown once, stored hashed, replaced, revoked), what the anonymous page shows and what it
//! never shows.

use crate::support::*;

on_both!(
    status_page_per_role_and_anonymous,
    status_page_counts_are_ready_before_the_first_request,
);

/// A push check on `component`, pushed once (so it is up); returns the answer that made it.
async fn pushed_check(app: &TestApp, component: &str, name: &str) -> Reply {
    let push = app
        .post(
            &format!("/api/v1/components/{component}/checks"),
            json!({"kind": "push", "name": name, "interval_secs": 3600}),
        )
        .await;
    assert_eq!(push.status, StatusCode::CREATED, "{}", push.body);
    let pushed = app
        .call_as(&Cred::Anonymous, Method::POST, &push.str("push_path"), None)
        .await;
    assert_eq!(pushed.body["status"], "up", "{}", pushed.body);
    push
}

async fn status_page_per_role_and_anonymous(app: TestApp) {
    let p = app.project("Home lab").await;
    let nas = app.component(&p, "NAS").await;
    let router = app.component(&p, "Router").await;
    app.component(&p, "Printer").await; // no checks: not on the page
    // An up check (a push) and, on the router, a paused check at an internal address.
    let push = pushed_check(&app, &nas, "backup job on nas.internal").await;
    let tcp = app
        .post(
            &format!("/api/v1/components/{router}/checks"),
            json!({"kind": "tcp", "name": "ssh 10.20.30.40",
                   "target": {"host": "10.20.30.40", "port": 22}, "paused": true}),
        )
        .await;
    assert_eq!(tcp.status, StatusCode::CREATED, "{}", tcp.body);

    app.user("vic", "viewer").await;
    app.user("eddie", "editor").await;
    app.user("ada", "admin").await;
    let viewer = Cred::Bearer(app.login("vic").await);
    let editor = Cred::Bearer(app.login("eddie").await);
    let admin = Cred::Bearer(app.login("ada").await);
    let settings = format!("/api/v1/projects/{p}/status-page");

    // Off at first; anyone signed in may see that, only editors change it.
    for cred in [&viewer, &editor, &admin] {
        let r = app.call_as(cred, Method::GET, &settings, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["enabled"], false);
    }
    app.call_as(&Cred::Anonymous, Method::GET, &settings, None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "NOT_AUTHENTICATED");
    for method in [Method::POST, Method::DELETE] {
        app.call_as(&viewer, method.clone(), &settings, None)
            .await
            .assert_error(StatusCode::FORBIDDEN, "INSUFFICIENT_ROLE");
        app.call_as(&Cred::Anonymous, method, &settings, None)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "NOT_AUTHENTICATED");
    }
    app.call_as(
        &editor,
        Method::POST,
        &format!("/api/v1/projects/{}/status-page", uuid::Uuid::new_v4()),
        None,
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");

    // An editor turns it on and gets the link, once.
    let on = app.call_as(&editor, Method::POST, &settings, None).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.body);
    assert_eq!(on.body["enabled"], true);
    assert_eq!(on.body["replaced"], false);
    let page_path = on.str("page_path");
    let api_path = on.str("api_path");
    let token = page_path.strip_prefix("/status/").expect("page path");
    assert_eq!(token.len(), 64, "256 random bits");
    assert_eq!(api_path, format!("/api/v1/status/{token}"));
    let seen = app.call_as(&viewer, Method::GET, &settings, None).await;
    assert_eq!(seen.body["enabled"], true);
    assert!(seen.body["enabled_at"].is_string());
    assert!(!seen.body.to_string().contains(token), "shown only once");
    let stored = app.raw_text("SELECT token_hash FROM status_pages").await;
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(token), "only the hash is stored");

    // Anyone with the link sees component states and uptime.
    let page = app
        .call_as(&Cred::Anonymous, Method::GET, &api_path, None)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(page.body["project"], "Home lab");
    assert_eq!(page.body["status"], "up");
    let components = page.body["components"].as_array().expect("components");
    let names: Vec<&str> = components
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["NAS", "Router"]);
    assert_eq!(components[0]["status"], "up");
    assert_eq!(components[0]["uptime_24h"], 1.0);
    assert_eq!(components[0]["uptime_30d"], 1.0);
    let days = components[0]["days"].as_array().expect("days");
    assert_eq!(days.len(), 30);
    assert_eq!(days[29]["uptime"], 1.0);
    assert_eq!(days[29]["outage"], false);
    assert_eq!(days[0]["uptime"], Value::Null);
    assert_eq!(components[1]["status"], "paused");
    assert_eq!(components[1]["uptime_24h"], Value::Null);
    assert!(page.body["last_checked_at"].is_string());
    // ... and nothing else: no ids, check names, targets, addresses, errors or users.
    let text = page.body.to_string();
    for secret in [
        p.as_str(),
        nas.as_str(),
        router.as_str(),
        &push.str("id"),
        &tcp.str("id"),
        "nas.internal",
        "10.20.30.40",
        "backup job",
        "push",
        "tcp",
        "target",
        "error",
        "eddie",
        "Printer",
    ] {
        assert!(!text.contains(secret), "{secret:?} in {text}");
    }
    let mut keys: Vec<&String> = page.body.as_object().expect("object").keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "components",
            "generated_at",
            "last_checked_at",
            "project",
            "status"
        ]
    );
    let mut component_keys: Vec<&String> = components[0].as_object().expect("obj").keys().collect();
    component_keys.sort();
    assert_eq!(
        component_keys,
        ["days", "name", "status", "uptime_24h", "uptime_30d"]
    );
    // A signed-in caller gets the same page (the link is the only credential that matters).
    let as_admin = app.call_as(&admin, Method::GET, &api_path, None).await;
    assert_eq!(as_admin.status, StatusCode::OK);

    // Wrong tokens: 404, never 401 (nothing to sign in to) nor 500.
    for wrong in [
        "0".repeat(64),
        "not-a-token".to_owned(),
        "x".repeat(300),
        token[..63].to_owned(),
    ] {
        app.call_as(
            &Cred::Anonymous,
            Method::GET,
            &format!("/api/v1/status/{wrong}"),
            None,
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    }

    // An admin makes a new link: the old one stops working at once.
    let again = app.call_as(&admin, Method::POST, &settings, None).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["replaced"], true);
    app.call_as(&Cred::Anonymous, Method::GET, &api_path, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let new_api = again.str("api_path");
    assert_ne!(new_api, api_path);
    assert_eq!(
        app.call_as(&Cred::Anonymous, Method::GET, &new_api, None)
            .await
            .status,
        StatusCode::OK
    );

    // Turned off: the link is gone (even though its answer was just computed).
    let off = app.call_as(&editor, Method::DELETE, &settings, None).await;
    assert_eq!(off.status, StatusCode::NO_CONTENT, "{}", off.body);
    app.call_as(&Cred::Anonymous, Method::GET, &new_api, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_eq!(
        app.call_as(&viewer, Method::GET, &settings, None)
            .await
            .body["enabled"],
        false
    );
    let twice = app.call_as(&editor, Method::DELETE, &settings, None).await;
    assert_eq!(twice.status, StatusCode::NO_CONTENT);

    // Each change is an event (through the outbox), never carrying the token.
    let kinds = app
        .raw_text("SELECT kind FROM event_outbox WHERE kind LIKE 'status_page.%' ORDER BY id")
        .await;
    assert_eq!(
        kinds,
        [
            "status_page.enabled",
            "status_page.regenerated",
            "status_page.disabled"
        ]
    );
    let payloads = app
        .raw_text("SELECT CAST(payload AS TEXT) FROM event_outbox WHERE kind LIKE 'status_page.%'")
        .await;
    assert!(payloads.iter().all(|p| !p.contains(token)), "{payloads:?}");

    // A deleted project takes its page with it.
    let on = app.call_as(&editor, Method::POST, &settings, None).await;
    let last = on.str("api_path");
    assert_eq!(
        app.delete(&format!("/api/v1/projects/{p}")).await.status,
        StatusCode::NO_CONTENT
    );
    app.call_as(&Cred::Anonymous, Method::GET, &last, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    assert!(
        app.raw_text("SELECT token_hash FROM status_pages")
            .await
            .is_empty()
    );
}

/// The counts behind the uptime figures are computed in the background (at start and before
/// they go stale), so even the first visitor only waits for the states.
async fn status_page_counts_are_ready_before_the_first_request(app: TestApp) {
    let p = app.project("Home lab").await;
    let nas = app.component(&p, "NAS").await;
    pushed_check(&app, &nas, "backup").await;
    let on = app
        .call(
            Method::POST,
            &format!("/api/v1/projects/{p}/status-page"),
            None,
        )
        .await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.body);
    let api_path = on.str("api_path");

    let checks = &app.state.checks;
    checks.warm_status_pages().await.expect("warm");
    let warmed = checks.status_history_reads();
    assert_eq!(warmed, 1, "one read of the counts for the one page");
    let page = app
        .call_as(&Cred::Anonymous, Method::GET, &api_path, None)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.body["components"][0]["uptime_24h"], 1.0);
    assert_eq!(page.body["components"][0]["uptime_30d"], 1.0);
    assert_eq!(
        checks.status_history_reads(),
        warmed,
        "the first request did not read the counts"
    );
    // The next pass reads them anew (they never go stale between passes).
    checks.warm_status_pages().await.expect("warm");
    assert_eq!(checks.status_history_reads(), warmed + 1);

    // With the background task running (its first pass computes the page again), a page
    // turned on since wakes it: its counts are read before its first visitor comes.
    let warmer = tokio::spawn(checks.clone().run_status_page_warmer());
    let reads_reach = async |n: u64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while checks.status_history_reads() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "{n} reads of the counts"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    reads_reach(warmed + 2).await;
    let q = app.project("Office").await;
    let later = app
        .call(
            Method::POST,
            &format!("/api/v1/projects/{q}/status-page"),
            None,
        )
        .await;
    assert_eq!(later.status, StatusCode::OK, "{}", later.body);
    reads_reach(warmed + 3).await;
    let first = app
        .call_as(&Cred::Anonymous, Method::GET, &later.str("api_path"), None)
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(
        checks.status_history_reads(),
        warmed + 3,
        "its first request did not read the counts"
    );
    // A check added to a project with its page on wakes it too (the first project's).
    let router = app.component(&p, "Router").await;
    pushed_check(&app, &router, "router heartbeat").await;
    reads_reach(warmed + 4).await;
    warmer.abort();
}
