//! The event bus over HTTP: publishing, listing, dead letters with replay, domain events from
//! the outbox, and the live stream over WebSocket and Server-Sent Events.

use crate::support::*;

/// Polls the API until `check` accepts the reply to `GET path`.
async fn wait_for(app: &TestApp, path: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = app.get(path).await;
        if r.status == StatusCode::OK && check(&r.body) {
            return r.body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}: {}",
            r.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn published_events_are_stored_once_and_listed() {
    let app = TestApp::new().await;
    let trace = uuid::Uuid::new_v4();
    let body = json!({"topic": "tracker/events/lab/rebooted", "kind": "host.rebooted",
                      "trace_id": trace, "idempotency_key": "reboot-1",
                      "payload": {"host": "nas"}});
    let accepted = app.post("/api/v1/events", body.clone()).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    assert_eq!(accepted.body["trace_id"], trace.to_string());
    assert_eq!(
        app.post("/api/v1/events", body).await.status,
        StatusCode::ACCEPTED
    );
    let minimal = app
        .post(
            "/api/v1/events",
            json!({"topic": "tracker/metrics/cpu", "kind": "metric.gauge",
                                        "payload": {"metric_name": "cpu", "value": 0.5}}),
        )
        .await;
    assert_eq!(
        minimal.status,
        StatusCode::ACCEPTED,
        "server fills trace_id, ts, key"
    );

    let listed = wait_for(
        &app,
        "/api/v1/events?topic=tracker/%2B/%2B/rebooted",
        "event",
        |b| b["count"] == 1,
    )
    .await;
    let event = &listed["events"][0];
    assert_eq!(
        event["payload"],
        json!({"host": "nas"}),
        "payload is an object"
    );
    assert_eq!(event["trace_id"], trace.to_string());
    assert_eq!(event["source"], "local", "delivered by the in-process bus");
    wait_for(
        &app,
        "/api/v1/events?topic=tracker/metrics/%23",
        "metric",
        |b| b["count"] == 1,
    )
    .await;
    let by_trace = app.get(&format!("/api/v1/events?trace_id={trace}")).await;
    assert_eq!(by_trace.body["count"], 1, "the duplicate was stored once");
    let id = event["id"].as_i64().expect("id");
    let one = app.get(&format!("/api/v1/events/{id}")).await;
    assert_eq!(one.body["idempotency_key"], "reboot-1");
    app.get("/api/v1/events/999999")
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.get("/api/v1/events/abc")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_ID");

    let page = app.get("/api/v1/events?limit=1").await;
    assert_eq!(page.body["count"], 1);
    let cursor = page.body["next_cursor"].as_i64().expect("cursor");
    let next = app
        .get(&format!("/api/v1/events?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(next.body["count"], 1);
    assert_ne!(next.body["events"][0]["id"], page.body["events"][0]["id"]);

    let bad = app
        .post(
            "/api/v1/events",
            json!({"topic": "tracker/events/a/b", "kind": "project.created",
                                        "payload": {"name": "no id"}}),
        )
        .await;
    bad.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "EVENT_INVALID");
    assert!(
        bad.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("schema_mismatch")
    );
    let topic = app
        .post(
            "/api/v1/events",
            json!({"topic": "elsewhere/x", "kind": "x"}),
        )
        .await;
    topic.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    app.get("/api/v1/events?topic=a/%23/b")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
}

#[tokio::test]
async fn changes_publish_domain_events_through_the_outbox() {
    let app = TestApp::new().await;
    let p = app.project("evented").await;
    let c = app.component(&p, "nas").await;
    app.put(
        &format!("/api/v1/projects/{p}"),
        json!({"status": "active"}),
    )
    .await;
    let listed = wait_for(
        &app,
        "/api/v1/events?topic=tracker/events/%23",
        "domain events",
        |b| b["count"] == 3,
    )
    .await;
    let kinds: Vec<_> = listed["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        kinds,
        ["project.updated", "component.created", "project.created"]
    );
    assert_eq!(
        listed["events"][0]["payload"]["updated_fields"],
        json!(["status"])
    );
    assert_eq!(listed["events"][1]["payload"]["component_id"], c.as_str());
    assert_eq!(
        listed["events"][2]["topic"],
        "tracker/events/projects/created"
    );

    let test = app.call(Method::POST, "/api/v1/events/test", None).await;
    assert_eq!(test.status, StatusCode::OK);
    assert_eq!(test.body["status"], "success");
    let trace = test.body["trace_id"].as_str().expect("trace").to_owned();
    wait_for(
        &app,
        &format!("/api/v1/events?trace_id={trace}"),
        "test event",
        |b| b["events"][0]["kind"] == "test_event",
    )
    .await;
}

#[tokio::test]
async fn dead_letters_can_be_listed_replayed_and_deleted() {
    let app = TestApp::new().await;
    let fixable = domain::NewDeadLetter {
        original_topic: "tracker/events/lab/fixed".into(),
        reason: domain::DeadReason::StorageRejected,
        detail: "the database was briefly refusing writes".into(),
        payload: json!({"trace_id": uuid::Uuid::new_v4(), "ts": "2026-11-29T00:00:00Z",
                        "kind": "lab.fixed", "idempotency_key": "fixed-1", "payload": {}}),
        received_at: domain::now(),
        idempotency_key: Some("fixed-1".into()),
    };
    let hopeless = domain::NewDeadLetter {
        original_topic: "tracker/events/lab/broken".into(),
        reason: domain::DeadReason::InvalidJson,
        detail: "expected value".into(),
        payload: json!("{broken"),
        received_at: domain::now(),
        idempotency_key: None,
    };
    let ids = app
        .store
        .ingest(&[], &[fixable, hopeless])
        .await
        .expect("dead letters")
        .dead_letters;
    let listed = app.get("/api/v1/dlq").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["count"], 2);
    assert_eq!(listed.body["pending"], 2);
    assert_eq!(listed.body["dlq_events"][0]["reason"], "invalid_json");
    assert_eq!(listed.body["dlq_events"][0]["payload"], "{broken");

    let replayed = app
        .call(
            Method::POST,
            &format!("/api/v1/dlq/{}/replay", ids[0]),
            None,
        )
        .await;
    assert_eq!(replayed.status, StatusCode::OK, "{}", replayed.body);
    assert_eq!(replayed.body["status"], "stored");
    assert_eq!(replayed.body["event"]["source"], "replay");
    let dl = app.get(&format!("/api/v1/dlq/{}", ids[0])).await;
    assert!(dl.body["replayed_at"].is_string());
    assert_eq!(dl.body["replayed_event_id"], replayed.body["event"]["id"]);
    app.call(
        Method::POST,
        &format!("/api/v1/dlq/{}/replay", ids[0]),
        None,
    )
    .await
    .assert_error(StatusCode::CONFLICT, "ALREADY_REPLAYED");
    let still = app
        .call(
            Method::POST,
            &format!("/api/v1/dlq/{}/replay", ids[1]),
            None,
        )
        .await;
    still.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "EVENT_INVALID");
    assert_eq!(app.get("/api/v1/dlq").await.body["pending"], 1);

    assert_eq!(
        app.delete(&format!("/api/v1/dlq/{}", ids[1])).await.status,
        StatusCode::NO_CONTENT
    );
    app.get(&format!("/api/v1/dlq/{}", ids[1]))
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.call(Method::POST, "/api/v1/dlq/12345/replay", None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

/// An admin replays an edited copy of a dead letter: the copy is validated like a message
/// (still invalid: 422 and nothing changes), stored when valid; the dead letter keeps its
/// original message and names the copy, its editor and the event it became. Editors may replay
/// as is, but not edit.
#[tokio::test]
async fn an_admin_replays_an_edited_copy_and_the_original_is_kept() {
    let app = TestApp::new().await;
    app.user("ada", "admin").await;
    app.user("eddie", "editor").await;
    let admin = Cred::Bearer(app.login("ada").await);
    let editor = Cred::Bearer(app.login("eddie").await);
    let broken = domain::NewDeadLetter {
        original_topic: "tracker/events/lab/greenhouse".into(),
        reason: domain::DeadReason::InvalidJson,
        detail: "expected `,` or `}`".into(),
        payload: json!("{\"kind\": \"lab.humidity\" \"payload\": {\"rh\": 61}}"),
        received_at: domain::now(),
        idempotency_key: None,
    };
    let id = app
        .store
        .ingest(&[], &[broken])
        .await
        .expect("dead letter")
        .dead_letters[0];
    let path = format!("/api/v1/dlq/{id}/replay-edited");
    let fixed = json!({"payload": {"kind": "lab.humidity", "payload": {"rh": 61},
        "trace_id": uuid::Uuid::new_v4(), "ts": "2026-12-01T08:00:00Z",
        "idempotency_key": "greenhouse-rh-1"}});

    // Not an editor's to do.
    app.call_as(&editor, Method::POST, &path, Some(fixed.clone()))
        .await
        .assert_error(StatusCode::FORBIDDEN, "INSUFFICIENT_ROLE");
    // A copy that is still wrong is refused with the reason, and changes nothing.
    let wrong = app
        .call_as(
            &admin,
            Method::POST,
            &path,
            Some(json!({"payload": {"payload": {"rh": 61}}})),
        )
        .await;
    wrong.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "EVENT_INVALID");
    assert!(
        wrong.body["detail"].as_str().unwrap_or("").contains("kind"),
        "{}",
        wrong.body
    );
    let untouched = app.get(&format!("/api/v1/dlq/{id}")).await;
    assert!(
        untouched.body["replayed_at"].is_null(),
        "{}",
        untouched.body
    );
    assert!(untouched.body["edited_payload"].is_null());
    // A body without `payload` is a client error, not a 500.
    app.call_as(&admin, Method::POST, &path, Some(json!({"message": {}})))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");

    let replayed = app
        .call_as(&admin, Method::POST, &path, Some(fixed.clone()))
        .await;
    assert_eq!(replayed.status, StatusCode::OK, "{}", replayed.body);
    assert_eq!(replayed.body["status"], "stored");
    assert_eq!(replayed.body["event"]["kind"], "lab.humidity");
    assert_eq!(
        replayed.body["event"]["topic"],
        "tracker/events/lab/greenhouse"
    );
    assert_eq!(replayed.body["event"]["source"], "replay");
    let dl = app.get(&format!("/api/v1/dlq/{id}")).await;
    assert_eq!(
        dl.body["payload"], "{\"kind\": \"lab.humidity\" \"payload\": {\"rh\": 61}}",
        "the original message is kept"
    );
    assert_eq!(dl.body["edited_payload"], fixed["payload"]);
    assert_eq!(dl.body["edited_by"], "ada");
    assert_eq!(dl.body["replayed_event_id"], replayed.body["event"]["id"]);
    assert_eq!(app.get("/api/v1/dlq").await.body["pending"], 0);
    app.call_as(&admin, Method::POST, &path, Some(fixed))
        .await
        .assert_error(StatusCode::CONFLICT, "ALREADY_REPLAYED");
    app.call_as(
        &admin,
        Method::POST,
        "/api/v1/dlq/12345/replay-edited",
        Some(json!({"payload": {}})),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

/// Serves the app on a loopback port for clients that need a real socket.
async fn serve(app: &TestApp) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

async fn ws_connect(
    addr: std::net::SocketAddr,
    query: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{addr}/api/v1/events/stream{query}")
        .into_client_request()
        .expect("request");
    req.headers_mut()
        .insert("x-api-key", KEY.parse().expect("header"));
    let (ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("websocket");
    ws
}

async fn next_frame(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    use futures_util::StreamExt;
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .expect("frame in time")
            .expect("open")
            .expect("frame");
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            return serde_json::from_str(&t).expect("json frame");
        }
    }
}

#[tokio::test]
async fn websocket_stream_delivers_matching_events_live() {
    let app = TestApp::new().await;
    let addr = serve(&app).await;
    let mut ws = ws_connect(addr, "?topic=tracker/events/projects/%23").await;
    let hello = next_frame(&mut ws).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["filter"], "tracker/events/projects/#");
    let text = app
        .get("/metrics")
        .await
        .body
        .as_str()
        .expect("text")
        .to_owned();
    assert!(text.contains("taylordash_stream_clients 1"), "{text}");

    app.post(
        "/api/v1/events",
        json!({"topic": "tracker/events/other/x", "kind": "other.x"}),
    )
    .await;
    let p = app.project("live").await;
    let frame = next_frame(&mut ws).await;
    assert_eq!(frame["type"], "event", "{frame}");
    assert_eq!(
        frame["event"]["kind"], "project.created",
        "only matching topics arrive"
    );
    assert_eq!(frame["event"]["payload"]["project_id"], p.as_str());

    // Unauthenticated clients are refused before the upgrade.
    let anonymous =
        tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/events/stream")).await;
    assert!(anonymous.is_err());
    drop(ws);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let text = app
            .get("/metrics")
            .await
            .body
            .as_str()
            .expect("text")
            .to_owned();
        if text.contains("taylordash_stream_clients 0") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "client count not decremented"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_slow_stream_client_is_told_it_lagged_and_never_blocks_ingest() {
    let app = TestApp::new().await;
    let addr = serve(&app).await;
    let mut slow = ws_connect(addr, "").await;
    assert_eq!(next_frame(&mut slow).await["type"], "hello");
    // Far more than the hub keeps for one client, while this client reads nothing.
    let blob = "x".repeat(2048);
    let started = std::time::Instant::now();
    for i in 0..20_000 {
        app.state.bus.hub().publish([domain::Event {
            id: i,
            topic: "tracker/events/load/x".into(),
            kind: "load.x".into(),
            trace_id: uuid::Uuid::new_v4(),
            idempotency_key: format!("load-{i}"),
            source: "local".into(),
            payload: json!({"blob": blob}).as_object().expect("object").clone(),
            ts: domain::now(),
            received_at: domain::now(),
        }]);
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "publishing to the hub must not wait for slow clients"
    );
    let mut lagged = None;
    for _ in 0..25_000 {
        let frame = next_frame(&mut slow).await;
        if frame["type"] == "lagged" {
            lagged = frame["skipped"].as_u64();
            break;
        }
    }
    assert!(
        lagged.is_some_and(|n| n > 0),
        "a lagged notice with the number skipped"
    );
}

#[tokio::test]
async fn sse_stream_serves_plain_http_clients() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let app = TestApp::new().await;
    let addr = serve(&app).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            format!(
                "GET /api/v1/events/stream?topic=tracker/events/%2B/created HTTP/1.1\r\n\
                 Host: x\r\nX-API-Key: {KEY}\r\nAccept: text/event-stream\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .expect("write");
    let mut lines = BufReader::new(stream).lines();
    let p = app.project("sse").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut saw_content_type = false;
    loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line())
            .await
            .expect("line in time")
            .expect("read")
            .expect("open");
        if line
            .to_ascii_lowercase()
            .starts_with("content-type: text/event-stream")
        {
            saw_content_type = true;
        }
        if let Some(data) = line.strip_prefix("data: ") {
            let event: Value = serde_json::from_str(data).expect("json");
            assert_eq!(event["kind"], "project.created");
            assert_eq!(event["payload"]["project_id"], p.as_str());
            break;
        }
        assert!(std::time::Instant::now() < deadline);
    }
    assert!(saw_content_type);
}

#[tokio::test]
async fn audit_events_are_published_on_the_bus() {
    let app = TestApp::new().await;
    app.user("ada", "admin").await;
    app.login("ada").await;
    let listed = wait_for(
        &app,
        "/api/v1/events?topic=tracker/events/auth/login_success",
        "audit event",
        |b| b["count"] == 1,
    )
    .await;
    let event = &listed["events"][0];
    assert_eq!(event["kind"], "auth.login_success");
    assert_eq!(event["payload"]["actor_name"], "ada");
    assert!(
        !event.to_string().contains("correct-stapler"),
        "no password in the event"
    );
}

/// `audit=false` is the lab's own events: an admin's feed without sign-ins.
#[tokio::test]
async fn audit_false_leaves_the_audit_trail_out_of_the_list() {
    let app = TestApp::new().await;
    app.user("ada", "admin").await;
    app.login("ada").await;
    let posted = app
        .post(
            "/api/v1/events",
            json!({"topic": "tracker/events/lab/rebooted", "kind": "host.rebooted", "payload": {}}),
        )
        .await;
    assert_eq!(posted.status, StatusCode::ACCEPTED, "{}", posted.body);
    let topics = |b: &Value| -> Vec<String> {
        b["events"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["topic"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Both kinds are stored (the admin sees them all by default)...
    wait_for(&app, "/api/v1/events", "both events", |b| {
        let t = topics(b);
        t.iter().any(|t| t == "tracker/events/lab/rebooted")
            && t.iter().any(|t| t == "tracker/events/auth/login_success")
    })
    .await;
    // ...and `audit=false` lists the lab's only.
    let lab = app.get("/api/v1/events?audit=false").await;
    assert_eq!(lab.status, StatusCode::OK, "{}", lab.body);
    let t = topics(&lab.body);
    assert!(
        t.contains(&"tracker/events/lab/rebooted".to_string()),
        "{t:?}"
    );
    assert!(
        t.iter().all(|t| !t.starts_with("tracker/events/auth/")),
        "{t:?}"
    );
    let none = app
        .get("/api/v1/events?audit=false&topic=tracker/events/auth/%23")
        .await;
    assert_eq!(none.body["count"], 0, "{}", none.body);
    let all = app
        .get("/api/v1/events?audit=true&topic=tracker/events/auth/%23")
        .await;
    assert!(all.body["count"].as_u64().unwrap_or(0) >= 1, "{}", all.body);
    app.get("/api/v1/events?audit=maybe")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
}
