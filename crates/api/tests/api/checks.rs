//! Service checks over HTTP: CRUD under a component, who may do what (every role and
//! anonymous), clear 422s, secret headers never sent back, "test now" against real loopback
//! ports, push URLs without credentials, history, uptime and the project overview.

use crate::support::*;

async fn setup(app: &TestApp) -> (String, String) {
    let p = app.project("lab").await;
    let c = app.component(&p, "nas").await;
    (p, c)
}

on_both!(
    checks_crud_secrets_and_push,
    deleting_a_component_or_project_announces_its_checks,
);

async fn checks_crud_secrets_and_push(app: TestApp) {
    let (p, c) = setup(&app).await;
    let checks = format!("/api/v1/components/{c}/checks");
    let created = app
        .post(
            &checks,
            json!({"kind": "http", "name": "NAS web UI", "interval_secs": 30,
                   "target": {"url": "https://nas.lan:5001", "allow_self_signed": true,
                              "headers": [{"name": "Authorization", "value": "Bearer s3cret-value"},
                                          {"name": "X-Lab", "value": "visible"}]}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.str("id");
    assert_eq!(created.body["status"], "unknown");
    assert_eq!(created.body["project_id"], p.as_str());
    assert_eq!(created.body["push_path"], Value::Null);
    assert!(!created.body.to_string().contains("s3cret-value"));
    assert_eq!(
        created.body["target"]["headers"],
        json!([{"name": "Authorization", "secret": true},
               {"name": "X-Lab", "value": "visible", "secret": false}])
    );

    // A viewer reads the check, never the secret.
    app.user("vera", "viewer").await;
    let viewer = Cred::Bearer(app.login("vera").await);
    let seen = app
        .call_as(&viewer, Method::GET, &format!("/api/v1/checks/{id}"), None)
        .await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(!seen.body.to_string().contains("s3cret"));
    let listed = app.call_as(&viewer, Method::GET, &checks, None).await;
    assert_eq!(listed.body["count"], 1);
    let refused = app
        .call_as(
            &viewer,
            Method::POST,
            &checks,
            Some(json!({"kind": "tcp", "target": {"host": "nas.lan", "port": 22}})),
        )
        .await;
    refused.assert_error(StatusCode::FORBIDDEN, "INSUFFICIENT_ROLE");
    app.call_as(&Cred::Anonymous, Method::GET, &checks, None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "NOT_AUTHENTICATED");

    // Updating the target without resending the secret keeps it (stored, not shown).
    let updated = app
        .put(
            &format!("/api/v1/checks/{id}"),
            json!({"version": 1, "paused": true,
                   "target": {"url": "https://nas.lan:5001/ui",
                              "headers": [{"name": "Authorization", "secret": true}]}}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["status"], "paused");
    assert_eq!(updated.body["version"], 2);
    let secrets = app
        .raw_text("SELECT CAST(secrets AS TEXT) FROM checks")
        .await;
    assert!(secrets[0].contains("s3cret-value"), "stored: {secrets:?}");
    app.put(
        &format!("/api/v1/checks/{id}"),
        json!({"version": 1, "name": "x"}),
    )
    .await
    .assert_error(StatusCode::CONFLICT, "VERSION_CONFLICT");

    // Clear 422s.
    for (body, field) in [
        (json!({"kind": "smtp"}), "kind"),
        (
            json!({"kind": "tcp", "target": {"host": "nas.lan", "port": 22}, "interval_secs": 2}),
            "interval_secs",
        ),
        (
            json!({"kind": "http", "target": {"url": "not a url"}}),
            "url",
        ),
        (json!({"kind": "http", "target": {}}), "url"),
        (
            json!({"kind": "tcp", "target": {"host": "nas.lan", "port": 70000}}),
            "port",
        ),
        (
            json!({"kind": "dns", "target": {"name": "nas.lan", "record_type": "MX"}}),
            "record_type",
        ),
        (
            json!({"kind": "mqtt", "target": {"topic_filter": "a/#/b"}}),
            "topic_filter",
        ),
        (
            json!({"kind": "http", "target": {"url": "http://nas.lan",
                "headers": [{"name": "X-Key", "value": "-----BEGIN PRIVATE KEY-----\nabc"}]}}),
            "headers",
        ),
    ] {
        let r = app.post(&checks, body.clone()).await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
        assert_eq!(r.body["field"], field, "for {body}: {}", r.body);
    }
    app.post(
        &format!("/api/v1/components/{}/checks", uuid::Uuid::new_v4()),
        json!({"kind": "push"}),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");

    // A push check: its URL is shown once and works without credentials.
    let push = app
        .post(&checks, json!({"kind": "push", "interval_secs": 3600}))
        .await;
    assert_eq!(push.status, StatusCode::CREATED, "{}", push.body);
    let path = push.str("push_path");
    assert!(path.starts_with("/api/v1/checks/push/"));
    let push_id = push.str("id");
    let again = app.get(&format!("/api/v1/checks/{push_id}")).await;
    assert!(
        !again.body.to_string().contains(&path[20..]),
        "the token is not shown again"
    );
    // "Test now" of a push check says what arrived, honestly: nothing yet, then the push.
    let test_path = format!("/api/v1/checks/{push_id}/test");
    let untested = app.post(&test_path, json!({})).await;
    assert_eq!(untested.status, StatusCode::OK, "{}", untested.body);
    assert_eq!(untested.body["status"], "down");
    assert_eq!(untested.body["error"], "nothing received yet");
    assert_eq!(untested.body["last_seen_at"], Value::Null);
    let pushed = app
        .call_as(&Cred::Anonymous, Method::POST, &path, None)
        .await;
    assert_eq!(pushed.status, StatusCode::OK, "{}", pushed.body);
    assert_eq!(pushed.body["status"], "up");
    let tested = app.post(&test_path, json!({})).await;
    assert_eq!(tested.body["status"], "up", "{}", tested.body);
    assert_eq!(tested.body["error"], Value::Null);
    let seen = app.get(&format!("/api/v1/checks/{push_id}")).await;
    assert_eq!(tested.body["last_seen_at"], seen.body["last_checked_at"]);
    let by_get = app
        .call_as(&Cred::Anonymous, Method::GET, &path, None)
        .await;
    assert_eq!(by_get.body["status"], "up");
    app.call_as(
        &Cred::Anonymous,
        Method::POST,
        "/api/v1/checks/push/not-a-token",
        None,
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let stored = app
        .raw_text("SELECT push_token_hash FROM checks WHERE kind = 'push'")
        .await;
    assert!(!stored[0].contains(&path[20..]), "only the hash is stored");

    // A new token replaces the old one.
    let rotated = app
        .post(&format!("/api/v1/checks/{push_id}/push-token"), json!({}))
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    app.call_as(&Cred::Anonymous, Method::POST, &path, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let new_path = rotated.str("push_path");
    assert_eq!(
        app.call_as(&Cred::Anonymous, Method::POST, &new_path, None)
            .await
            .status,
        StatusCode::OK
    );
    app.post(&format!("/api/v1/checks/{id}/push-token"), json!({}))
        .await
        .assert_error(StatusCode::CONFLICT, "NOT_A_PUSH_CHECK");

    // History, uptime and the project's overview.
    let history = app
        .call_as(
            &viewer,
            Method::GET,
            &format!("/api/v1/checks/{push_id}/history"),
            None,
        )
        .await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.body);
    assert_eq!(history.body["count"], 3);
    assert_eq!(history.body["results"][0]["status"], "up");
    let uptime = app
        .call_as(
            &viewer,
            Method::GET,
            &format!("/api/v1/checks/{push_id}/uptime"),
            None,
        )
        .await;
    assert_eq!(uptime.status, StatusCode::OK, "{}", uptime.body);
    let hours: Vec<i64> = uptime.body["windows"]
        .as_array()
        .expect("windows")
        .iter()
        .map(|w| w["hours"].as_i64().expect("hours"))
        .collect();
    assert_eq!(hours, [24, 168, 720, 8760]);
    assert_eq!(uptime.body["windows"][0]["ratio"], 1.0);
    assert_eq!(uptime.body["windows"][0]["up"], 3);
    let hourly_up: i64 = uptime.body["hourly"]
        .as_array()
        .expect("hourly")
        .iter()
        .map(|h| h["up"].as_i64().expect("up"))
        .sum();
    assert_eq!(hourly_up, 3);
    app.get(&format!("/api/v1/checks/{push_id}/history?hours=0"))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    let overview = app
        .call_as(
            &viewer,
            Method::GET,
            &format!("/api/v1/projects/{p}/checks"),
            None,
        )
        .await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.body);
    let component = &overview.body["components"][0];
    assert_eq!(component["component_id"], c.as_str());
    assert_eq!(component["status"], "up", "{component}");
    assert_eq!(component["checks"].as_array().map(Vec::len), Some(2));
    // The day's uptime, in total and hour by hour (24 hours, the current one last): the three
    // pushes, and whatever the HTTP check recorded if the scheduler ran it (down: its host does
    // not resolve) in the moment between its creation and its pause.
    let http_runs = app.get(&format!("/api/v1/checks/{id}/history")).await.body["count"]
        .as_u64()
        .expect("count");
    let expected = 3.0 / (3.0 + http_runs as f64);
    assert_eq!(component["uptime_24h"], expected, "{component}");
    let hours = component["hours_24h"].as_array().expect("hours_24h");
    assert_eq!(hours.len(), 24);
    let measured: Vec<f64> = hours.iter().filter_map(Value::as_f64).collect();
    assert!(
        !measured.is_empty() && measured.iter().all(|h| *h == expected),
        "{hours:?}"
    );
    assert!(
        hours[23].is_f64() || hours[22].is_f64(),
        "the pushes are this hour's"
    );
    let push = component["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|k| k["id"] == push_id.as_str()))
        .expect("the push check");
    assert_eq!(push["uptime_24h"], 1.0);

    // Deleting the component deletes its checks.
    assert_eq!(
        app.delete(&format!("/api/v1/checks/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    app.get(&format!("/api/v1/checks/{id}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.delete(&format!("/api/v1/components/{c}")).await;
    app.get(&format!("/api/v1/checks/{push_id}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn test_now_runs_against_real_ports() {
    let app = TestApp::new().await;
    let (_, c) = setup(&app).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let port = listener.local_addr().expect("addr").port();
    let body = json!({"kind": "tcp", "target": {"host": "127.0.0.1", "port": port}});
    let up = app
        .post(&format!("/api/v1/components/{c}/checks/test"), body.clone())
        .await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.body);
    assert_eq!(up.body["status"], "up");
    assert!(up.body["latency_ms"].as_f64().is_some());
    // Saved paused, so the scheduler leaves it alone and "test now" is the only run.
    let mut paused = body.clone();
    paused["paused"] = json!(true);
    let saved = app
        .post(&format!("/api/v1/components/{c}/checks"), paused)
        .await;
    let id = saved.str("id");
    drop(listener);
    let down = app
        .post(&format!("/api/v1/checks/{id}/test"), json!({}))
        .await;
    assert_eq!(down.status, StatusCode::OK, "{}", down.body);
    assert_eq!(down.body["status"], "down");
    assert!(
        down.body["error"]
            .as_str()
            .expect("error")
            .contains("refused")
    );
    // Nothing was stored by either test.
    assert_eq!(
        app.get(&format!("/api/v1/checks/{id}/history")).await.body["count"],
        0
    );
    let invalid = app
        .post(
            &format!("/api/v1/components/{c}/checks/test"),
            json!({"kind": "http", "target": {"url": "ftp://nas.lan"}}),
        )
        .await;
    invalid.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");

    // Editors may test; viewers may not (it makes this server send requests).
    app.user("vic", "viewer").await;
    let viewer = Cred::Bearer(app.login("vic").await);
    app.call_as(
        &viewer,
        Method::POST,
        &format!("/api/v1/checks/{id}/test"),
        Some(json!({})),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "INSUFFICIENT_ROLE");
}

/// Deleting a component or a project deletes its checks with a `check.deleted` event each, as
/// deleting a check does (the cascade alone would remove them silently).
async fn deleting_a_component_or_project_announces_its_checks(app: TestApp) {
    let p = app.project("lab").await;
    let nas = app.component(&p, "nas").await;
    let other = app.component(&p, "router").await;
    let mut ids = Vec::new();
    for (component, port) in [(&nas, 22), (&nas, 445), (&other, 53)] {
        let r = app
            .post(
                &format!("/api/v1/components/{component}/checks"),
                json!({"kind": "tcp", "paused": true,
                       "target": {"host": "127.0.0.1", "port": port}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        ids.push(r.str("id"));
    }
    let deleted = || {
        app.raw_text(
            "SELECT CAST(payload AS TEXT) FROM event_outbox WHERE kind = 'check.deleted' \
             ORDER BY id",
        )
    };
    assert!(deleted().await.is_empty());

    // The component's two checks, each announced, before the component itself.
    assert_eq!(
        app.delete(&format!("/api/v1/components/{nas}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let events = deleted().await;
    assert_eq!(events.len(), 2, "{events:?}");
    for (event, id) in events.iter().zip(&ids[..2]) {
        let v: Value = serde_json::from_str(event).expect("json");
        assert_eq!(v["check_id"], id.as_str(), "{v}");
        assert_eq!(v["component_id"], nas.as_str());
    }
    let order = app
        .raw_text(
            "SELECT kind FROM event_outbox WHERE kind IN ('check.deleted', 'component.deleted') \
             ORDER BY id",
        )
        .await;
    assert_eq!(
        order,
        ["check.deleted", "check.deleted", "component.deleted"]
    );
    for id in &ids[..2] {
        app.get(&format!("/api/v1/checks/{id}"))
            .await
            .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    }

    // A project's deletion announces the checks of all its components.
    assert_eq!(
        app.delete(&format!("/api/v1/projects/{p}")).await.status,
        StatusCode::NO_CONTENT
    );
    let events = deleted().await;
    assert_eq!(events.len(), 3, "{events:?}");
    let v: Value = serde_json::from_str(&events[2]).expect("json");
    assert_eq!(v["check_id"], ids[2].as_str());
}
