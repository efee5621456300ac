//! HTTP behaviour of the whole router, in process: status codes, error bodies, auth, versions,
//! graph rules, health, metrics and the OpenAPI document. Most tests use SQLite; the
//! `postgres_*` tests use a fresh PostgreSQL database.

use crate::support::*;

#[tokio::test]
async fn api_key_is_required_and_checked() {
    let app = TestApp::new().await;
    let anonymous = app
        .send(
            Request::get("/api/v1/projects")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    anonymous.assert_error(StatusCode::UNAUTHORIZED, "NOT_AUTHENTICATED");
    let challenge = anonymous.headers[header::WWW_AUTHENTICATE]
        .to_str()
        .expect("ascii");
    assert!(
        challenge.contains("ApiKey") && challenge.contains("Bearer"),
        "{challenge}"
    );

    let wrong = app
        .send(
            Request::get("/api/v1/projects")
                .header("x-api-key", "test-key-0123456789abcdeX")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    wrong.assert_error(StatusCode::UNAUTHORIZED, "INVALID_API_KEY");
    assert_eq!(wrong.headers[header::WWW_AUTHENTICATE], "ApiKey");

    // Writes are refused too, before the body is even looked at.
    let write = app
        .send(
            Request::post("/api/v1/projects")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"name":"x"}"#))
                .expect("request"),
        )
        .await;
    write.assert_error(StatusCode::UNAUTHORIZED, "NOT_AUTHENTICATED");
    assert_eq!(app.get("/api/v1/projects").await.body["total"], 0);

    // The service key also works as a bearer token.
    let bearer = app
        .call_as(
            &Cred::Bearer(KEY.into()),
            Method::GET,
            "/api/v1/projects",
            None,
        )
        .await;
    assert_eq!(bearer.status, StatusCode::OK);

    for open in [
        "/health/live",
        "/health/ready",
        "/metrics",
        "/openapi.json",
        "/",
    ] {
        let r = app
            .send(Request::get(open).body(Body::empty()).expect("request"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{open} needs no key");
    }
}

#[tokio::test]
async fn project_crud_keeps_v1_status_codes_and_shapes() {
    let app = TestApp::new().await;
    let created = app
        .post(
            "/api/v1/projects",
            json!({"name": "Homelab", "description": "k8s", "status": "active",
                   "metadata": {"rack": 1}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.headers[header::ETAG], "\"1\"");
    let p = &created.body;
    for field in [
        "id",
        "name",
        "description",
        "status",
        "owner_id",
        "metadata",
        "created_at",
        "updated_at",
        "version",
    ] {
        assert!(p.get(field).is_some(), "missing {field} in {p}");
    }
    assert_eq!(
        p["metadata"],
        json!({"rack": 1}),
        "metadata is an object, not a string"
    );
    let created_at = p["created_at"].as_str().expect("timestamp");
    assert!(
        chrono::DateTime::parse_from_rfc3339(created_at).is_ok(),
        "RFC 3339 with offset: {created_at}"
    );
    let id = p["id"].as_str().expect("id");

    let defaulted = app
        .post("/api/v1/projects", json!({"name": "second"}))
        .await;
    assert_eq!(defaulted.body["status"], "planning");
    assert_eq!(defaulted.body["metadata"], json!({}));

    let list = app.get("/api/v1/projects").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["count"], 2);
    assert_eq!(list.body["total"], 2);
    assert_eq!(list.body["projects"][0]["name"], "second", "newest first");

    let got = app.get(&format!("/api/v1/projects/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["name"], "Homelab");

    let updated = app
        .put(
            &format!("/api/v1/projects/{id}"),
            json!({"status": "completed"}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(updated.body["status"], "completed");
    assert_eq!(
        updated.body["name"], "Homelab",
        "omitted fields keep their value"
    );
    assert_eq!(updated.body["version"], 2);

    let deleted = app.delete(&format!("/api/v1/projects/{id}")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(deleted.body, Value::Null, "204 has no body");
    app.get(&format!("/api/v1/projects/{id}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.delete(&format!("/api/v1/projects/{id}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn invalid_fields_are_422_naming_the_field() {
    let app = TestApp::new().await;
    let cases = [
        (json!({"name": "x", "status": "inactive"}), "status"),
        (json!({"description": "no name"}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "x".repeat(256)}), "name"),
        (
            json!({"name": "x", "description": "d".repeat(1001)}),
            "description",
        ),
        (json!({"name": "x", "owner_id": "not-a-uuid"}), "owner_id"),
        (json!({"name": "x", "metadata": [1, 2]}), "metadata"),
        (json!({"name": 42}), "name"),
    ];
    for (body, field) in cases {
        let r = app.post("/api/v1/projects", body.clone()).await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
        assert_eq!(r.body["field"], field, "for {body}: {}", r.body);
    }
    assert_eq!(
        app.get("/api/v1/projects").await.body["total"],
        0,
        "nothing was stored"
    );

    let bad_filter = app.get("/api/v1/projects?status=bogus").await;
    bad_filter.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    assert_eq!(bad_filter.body["field"], "status");
    app.get("/api/v1/projects?limit=abc")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    app.get("/api/v1/projects?limit=0")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    app.get("/api/v1/projects?offset=-1")
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
}

#[tokio::test]
async fn malformed_requests_get_400_413_415() {
    let app = TestApp::new().await;
    app.raw(
        Method::POST,
        "/api/v1/projects",
        Some("application/json"),
        "{\"name\": ",
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "MALFORMED_JSON");
    // A struct's fields as an array (which serde would read) are not the documented object.
    app.raw(
        Method::POST,
        "/api/v1/projects",
        Some("application/json"),
        "[\"Homelab\"]",
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    app.raw(Method::POST, "/api/v1/projects", None, "{\"name\": \"x\"}")
        .await
        .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE");
    app.raw(
        Method::POST,
        "/api/v1/projects",
        Some("text/plain"),
        "{\"name\": \"x\"}",
    )
    .await
    .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE");
    let huge = format!(
        "{{\"name\": \"x\", \"description\": \"{}\"}}",
        "a".repeat(2 << 20)
    );
    app.raw(
        Method::POST,
        "/api/v1/projects",
        Some("application/json"),
        &huge,
    )
    .await
    .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");

    for path in [
        "/api/v1/projects/abc",
        "/api/v1/projects/123/components",
        "/api/v1/projects/nope/graph",
        "/api/v1/components/xyz",
        "/api/v1/components/xyz/tasks",
        "/api/v1/tasks/00000000-0000-0000-0000",
    ] {
        app.get(path)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "INVALID_ID");
    }
    let p = app.project("p").await;
    app.delete(&format!("/api/v1/components/{p}/dependencies/not-a-uuid"))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_ID");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json() {
    let app = TestApp::new().await;
    app.get("/api/v1/nothing-here")
        .await
        .assert_error(StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND");
    // Other GETs belong to the web UI (tests/api/ui.rs); reserved prefixes stay JSON.
    app.get("/health/nope")
        .await
        .assert_error(StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND");
    app.call(Method::PATCH, "/api/v1/projects", None)
        .await
        .assert_error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
    app.call(Method::POST, "/health/live", None)
        .await
        .assert_error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn stale_versions_get_409_through_body_or_if_match() {
    let app = TestApp::new().await;
    let id = app.project("p").await;
    let path = format!("/api/v1/projects/{id}");

    let first = app.put(&path, json!({"name": "first", "version": 1})).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.headers[header::ETAG], "\"2\"");

    let stale = app.put(&path, json!({"name": "lost", "version": 1})).await;
    stale.assert_error(StatusCode::CONFLICT, "VERSION_CONFLICT");
    assert!(
        stale.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("current version is 2")
    );

    let if_match = |version: &str, name: &str| {
        Request::put(path.as_str())
            .header("x-api-key", KEY)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::IF_MATCH, version)
            .body(Body::from(json!({ "name": name }).to_string()))
            .expect("request")
    };
    app.send(if_match("\"1\"", "lost"))
        .await
        .assert_error(StatusCode::CONFLICT, "VERSION_CONFLICT");
    let ok = app.send(if_match("\"2\"", "second")).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["version"], 3);
    app.send(if_match("three", "x"))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "INVALID_IF_MATCH");
    assert_eq!(
        app.get(&path).await.body["name"],
        "second",
        "no stale write landed"
    );

    let mismatch = Request::put(path.as_str())
        .header("x-api-key", KEY)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::IF_MATCH, "\"3\"")
        .body(Body::from(json!({"name": "x", "version": 2}).to_string()))
        .expect("request");
    app.send(mismatch)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "VERSION_MISMATCH");

    // Components and tasks carry versions too.
    let c = app.component(&id, "c").await;
    app.put(
        &format!("/api/v1/components/{c}"),
        json!({"progress": 5, "version": 7}),
    )
    .await
    .assert_error(StatusCode::CONFLICT, "VERSION_CONFLICT");
    let t = app
        .post(
            &format!("/api/v1/components/{c}/tasks"),
            json!({"name": "t"}),
        )
        .await;
    let t = t.body["id"].as_str().expect("task id").to_owned();
    app.put(
        &format!("/api/v1/tasks/{t}"),
        json!({"status": "done", "version": 0}),
    )
    .await
    .assert_error(StatusCode::CONFLICT, "VERSION_CONFLICT");
}

#[tokio::test]
async fn components_are_full_crud_with_json_objects() {
    let app = TestApp::new().await;
    let p = app.project("p").await;
    let created = app
        .post(
            &format!("/api/v1/projects/{p}/components"),
            json!({"name": "db", "type": "database", "status": "in_progress", "progress": 30,
                   "position": {"x": 1.5, "y": 2}, "metadata": {"port": 5432}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["position"], json!({"x": 1.5, "y": 2.0}));
    assert_eq!(created.body["metadata"], json!({"port": 5432}));
    assert_eq!(created.body["type"], "database");
    assert_eq!(created.body["project_id"], p.as_str());
    let c = created.body["id"].as_str().expect("id");

    let updated = app
        .put(
            &format!("/api/v1/components/{c}"),
            json!({"status": "completed", "progress": 100}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(updated.body["status"], "completed");

    let r = app
        .put(&format!("/api/v1/components/{c}"), json!({"progress": 101}))
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    assert_eq!(r.body["field"], "progress");
    let r = app
        .put(
            &format!("/api/v1/components/{c}"),
            json!({"status": "done"}),
        )
        .await;
    assert_eq!(r.body["field"], "status");

    let list = app.get(&format!("/api/v1/projects/{p}/components")).await;
    assert_eq!(list.body["count"], 1);
    assert_eq!(
        list.body["components"][0]["metadata"],
        json!({"port": 5432})
    );

    let missing = uuid::Uuid::new_v4();
    app.get(&format!("/api/v1/projects/{missing}/components"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.post(
        &format!("/api/v1/projects/{missing}/components"),
        json!({"name": "x"}),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");

    assert_eq!(
        app.delete(&format!("/api/v1/components/{c}")).await.status,
        StatusCode::NO_CONTENT
    );
    app.get(&format!("/api/v1/components/{c}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn components_carry_a_link_a_host_an_icon_and_a_description() {
    let app = TestApp::new().await;
    let p = app.project("p").await;
    let created = app
        .post(
            &format!("/api/v1/projects/{p}/components"),
            json!({"name": "nas", "url": "https://nas.lan:5001", "host": "nas.lan",
                   "icon": "nas", "description": "four disks\nin the rack"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["url"], "https://nas.lan:5001/");
    assert_eq!(created.body["host"], "nas.lan");
    assert_eq!(created.body["icon"], "nas");
    assert_eq!(created.body["description"], "four disks\nin the rack");
    let c = created.body["id"].as_str().expect("id");

    // Omitted keeps, empty clears; the v1 fields are untouched.
    let updated = app
        .put(
            &format!("/api/v1/components/{c}"),
            json!({"url": "", "icon": "server"}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["url"], Value::Null);
    assert_eq!(updated.body["icon"], "server");
    assert_eq!(updated.body["host"], "nas.lan");
    assert_eq!(updated.body["progress"], 0);
    let graph = app.get(&format!("/api/v1/projects/{p}/graph")).await;
    assert_eq!(graph.body["components"][0]["icon"], "server");

    for (body, field) in [
        (json!({"url": "javascript:alert(1)"}), "url"),
        (json!({"url": "https://admin:secret@nas.lan/"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (json!({"host": "nas.lan:5001"}), "host"),
        (json!({"icon": "unicorn"}), "icon"),
        (json!({"icon": uuid::Uuid::new_v4()}), "icon"),
        (json!({"description": "d".repeat(1001)}), "description"),
    ] {
        let r = app
            .put(&format!("/api/v1/components/{c}"), body.clone())
            .await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
        assert_eq!(r.body["field"], field, "for {body}: {}", r.body);
    }

    // The documented icon list is the one the server accepts.
    let doc = serde_json::to_value(api::openapi()).expect("serializable");
    let described =
        doc["components"]["schemas"]["ComponentCreate"]["properties"]["icon"]["description"]
            .as_str()
            .expect("icon is described")
            .to_owned();
    for name in domain::ICONS {
        assert!(described.contains(name), "{name} is documented");
    }
}

#[tokio::test]
async fn dependency_cycles_are_refused_with_the_cycle_named() {
    let app = TestApp::new().await;
    let p = app.project("p").await;
    let other = app.project("other").await;
    let api_c = app.component(&p, "api").await;
    let db = app.component(&p, "db").await;
    let foreign = app.component(&other, "foreign").await;
    let deps = |c: &str| format!("/api/v1/components/{c}/dependencies");

    let added = app.post(&deps(&api_c), json!({"depends_on_id": db})).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert_eq!(added.body["depends_on_id"], db.as_str());

    let cycle = app.post(&deps(&db), json!({"depends_on_id": api_c})).await;
    cycle.assert_error(StatusCode::CONFLICT, "DEPENDENCY_CYCLE");
    assert!(
        cycle.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("db → api → db"),
        "{}",
        cycle.body
    );
    app.post(&deps(&api_c), json!({"depends_on_id": db}))
        .await
        .assert_error(StatusCode::CONFLICT, "DEPENDENCY_EXISTS");
    app.post(&deps(&api_c), json!({"depends_on_id": foreign}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    app.post(
        &deps(&api_c),
        json!({"depends_on_id": uuid::Uuid::new_v4()}),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");

    let listed = app.get(&deps(&api_c)).await;
    assert_eq!(listed.body["count"], 1);
    let all = app.get(&format!("/api/v1/projects/{p}/dependencies")).await;
    assert_eq!(all.body["count"], 1);

    let graph = app.get(&format!("/api/v1/projects/{p}/graph")).await;
    assert_eq!(graph.status, StatusCode::OK);
    assert_eq!(graph.body["components"].as_array().map(Vec::len), Some(2));
    assert_eq!(graph.body["components"][0]["task_count"], 0);
    assert_eq!(graph.body["components"][0]["name"], "api");
    assert_eq!(
        graph.body["dependencies"][0]["component_id"],
        api_c.as_str()
    );

    let removed = app.delete(&format!("{}/{db}", deps(&api_c))).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    app.delete(&format!("{}/{db}", deps(&api_c)))
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let now_ok = app.post(&deps(&db), json!({"depends_on_id": api_c})).await;
    assert_eq!(now_ok.status, StatusCode::CREATED);
}

#[tokio::test]
async fn bulk_layout_moves_components() {
    let app = TestApp::new().await;
    let p = app.project("p").await;
    let a = app.component(&p, "a").await;
    let b = app.component(&p, "b").await;
    let moved = app
        .put(
            &format!("/api/v1/projects/{p}/layout"),
            json!({"positions": [{"component_id": a, "x": 10, "y": 20},
                                 {"component_id": b, "x": -5.5, "y": 0}]}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(moved.body["count"], 2);
    let got = app.get(&format!("/api/v1/components/{b}")).await;
    assert_eq!(got.body["position"], json!({"x": -5.5, "y": 0.0}));

    let other = app.project("o").await;
    let x = app.component(&other, "x").await;
    app.put(
        &format!("/api/v1/projects/{p}/layout"),
        json!({"positions": [{"component_id": x, "x": 1, "y": 1}]}),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
}

#[tokio::test]
async fn tasks_track_completion_and_cascade_with_project() {
    let app = TestApp::new().await;
    let p = app.project("p").await;
    let c = app.component(&p, "c").await;
    let created = app
        .post(
            &format!("/api/v1/components/{c}/tasks"),
            json!({"name": "upgrade", "due_date": "2026-12-24T18:00:00+01:00"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["status"], "todo");
    assert_eq!(created.body["completed_at"], Value::Null);
    assert_eq!(created.body["due_date"], "2026-12-24T17:00:00Z");
    let t = created.body["id"].as_str().expect("id").to_owned();

    let done = app
        .put(&format!("/api/v1/tasks/{t}"), json!({"status": "done"}))
        .await;
    assert!(done.body["completed_at"].is_string(), "{}", done.body);
    let reopened = app
        .put(&format!("/api/v1/tasks/{t}"), json!({"status": "review"}))
        .await;
    assert_eq!(reopened.body["completed_at"], Value::Null);

    let list = app.get(&format!("/api/v1/components/{c}/tasks")).await;
    assert_eq!(list.body["count"], 1);
    assert_eq!(list.body["tasks"][0]["name"], "upgrade");

    assert_eq!(
        app.delete(&format!("/api/v1/projects/{p}")).await.status,
        StatusCode::NO_CONTENT
    );
    app.get(&format!("/api/v1/tasks/{t}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.get(&format!("/api/v1/components/{c}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn pagination_is_capped_and_filters_apply() {
    let app = TestApp::new().await;
    for i in 0..5 {
        let status = if i < 2 { "active" } else { "archived" };
        app.post(
            "/api/v1/projects",
            json!({"name": format!("Rack {i}"), "status": status}),
        )
        .await;
    }
    let capped = app.get("/api/v1/projects?limit=100000").await;
    assert_eq!(capped.body["limit"], 500, "limit is capped");
    let page = app.get("/api/v1/projects?limit=2&offset=1").await;
    assert_eq!(page.body["count"], 2);
    assert_eq!(page.body["total"], 5);
    assert_eq!(page.body["offset"], 1);
    assert_eq!(page.body["projects"][0]["name"], "Rack 3");
    let active = app.get("/api/v1/projects?status=active").await;
    assert_eq!(active.body["total"], 2);
    let search = app.get("/api/v1/projects?search=rack%204").await;
    assert_eq!(search.body["total"], 1);
}

#[tokio::test]
async fn readiness_turns_503_when_the_database_is_gone() {
    let app = TestApp::new().await;
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(
        ready.body,
        json!({"status": "ready", "service": "taylordash-backend", "database": "healthy"})
    );
    assert_eq!(
        app.get("/api/v1/health/stack").await.body["overall_status"],
        "healthy"
    );

    app.store.close().await;
    let not_ready = app.get("/health/ready").await;
    not_ready.assert_error(StatusCode::SERVICE_UNAVAILABLE, "NOT_READY");
    let stack = app.get("/api/v1/health/stack").await;
    assert_eq!(stack.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(stack.body["services"]["database"]["status"], "unhealthy");
    app.get("/api/v1/projects")
        .await
        .assert_error(StatusCode::SERVICE_UNAVAILABLE, "DATABASE_UNAVAILABLE");
    assert_eq!(
        app.get("/health/live").await.status,
        StatusCode::OK,
        "still alive"
    );
}

#[tokio::test]
async fn metrics_label_routes_by_template() {
    let app = TestApp::new().await;
    let p = app.project("p").await;
    app.get(&format!("/api/v1/projects/{p}")).await;
    app.get("/api/v1/projects/not-a-uuid").await;
    app.get("/api/no/such/route").await;
    let text = app.get("/metrics").await;
    let text = text.body.as_str().expect("text").to_owned();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/api/v1/projects/{project_id}",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"route="/api/v1/projects/{project_id}",status="400"} 1"#));
    assert!(
        text.contains(
            r#"http_requests_total{method="POST",route="/api/v1/projects",status="201"} 1"#
        )
    );
    assert!(text.contains(r#"route="unmatched",status="404"} 1"#));
    assert!(!text.contains(&p), "raw ids never become labels");
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(text.contains("taylordash_db_pool_connections"));
    assert!(text.contains("taylordash_db_pool_max_connections 5"));
    assert!(text.contains("process_resident_memory_bytes"));
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::new().await;
    let r = app.get("/api/v1/projects").await;
    let id = r.headers["x-request-id"].to_str().expect("ascii");
    let id = uuid::Uuid::parse_str(id).expect("a UUID");
    // Time-ordered (v7): the log table's request_id index grows at its end.
    assert_eq!(id.get_version_num(), 7, "{id}");
    let later = app.get("/api/v1/projects").await;
    let later = uuid::Uuid::parse_str(later.headers["x-request-id"].to_str().expect("ascii"))
        .expect("a UUID");
    assert!(later > id, "{later} after {id}");
    let given = app
        .send(
            Request::get("/health/live")
                .header("x-request-id", "from-the-proxy-42")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(given.headers["x-request-id"], "from-the-proxy-42");
    assert_eq!(given.headers["x-content-type-options"], "nosniff");
}

/// Odd but possible client input never produces a 5xx.
#[tokio::test]
async fn hostile_input_never_causes_a_server_error() {
    let app = TestApp::new().await;
    let p = app.project("p").await;
    let c = app.component(&p, "c").await;
    let bodies = [
        "null",
        "[]",
        "\"string\"",
        "1e999",
        "{\"name\": null}",
        "{\"name\": \"\\u0000\"}",
        "{\"name\": \"ok\", \"progress\": 1e20}",
        "{\"name\": \"ok\", \"progress\": -1}",
        "{\"name\": \"ok\", \"position\": {\"x\": \"a\"}}",
        "{\"name\": \"ok\", \"version\": \"x\"}",
        "{\"name\": \"ok\", \"due_date\": \"tomorrow\"}",
        "{\"depends_on_id\": 5}",
        "{\"positions\": [{\"component_id\": null}]}",
        "\u{feff}{}",
        "{\"name\": \"😀\"}",
    ];
    let paths = [
        (Method::POST, "/api/v1/projects".to_owned()),
        (Method::PUT, format!("/api/v1/projects/{p}")),
        (Method::POST, format!("/api/v1/projects/{p}/components")),
        (Method::PUT, format!("/api/v1/components/{c}")),
        (Method::POST, format!("/api/v1/components/{c}/tasks")),
        (Method::POST, format!("/api/v1/components/{c}/dependencies")),
        (Method::PUT, format!("/api/v1/projects/{p}/layout")),
    ];
    for (method, path) in &paths {
        for body in bodies {
            let r = app
                .raw(method.clone(), path, Some("application/json"), body)
                .await;
            assert!(
                r.status.is_success() || r.status.is_client_error(),
                "{method} {path} with {body:?} gave {}: {}",
                r.status,
                r.body
            );
        }
    }
    for query in [
        "limit=99999999999999999999",
        "offset=1e3",
        "search=%25%5F%5C",
        "status=",
    ] {
        let r = app.get(&format!("/api/v1/projects?{query}")).await;
        assert!(r.status.as_u16() < 500, "{query}: {}", r.status);
    }
}

#[tokio::test]
async fn openapi_document_matches_the_snapshot() {
    let doc = serde_json::to_value(api::openapi()).expect("serializable");
    assert_eq!(doc["openapi"], "3.1.0");
    for scheme in ["api_key", "bearer", "session_cookie"] {
        assert!(
            doc["components"]["securitySchemes"][scheme].is_object(),
            "{scheme}"
        );
    }
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            let responses = op["responses"].as_object().expect("responses");
            // Public by the access table (login and its second step, setup, push URLs, status
            // pages, the login page's options).
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let public =
                api::auth::policy::access_for(&m, path) == Some(api::auth::policy::Access::Public);
            if path.starts_with("/api/v1/") && !public {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} documents 401"
                );
                assert!(
                    op["security"].is_array(),
                    "{method} {path} documents its auth"
                );
            }
            // (v1's plugin routes answer only 501, whatever the id.)
            if path.contains('{') && !responses.contains_key("501") {
                assert!(
                    responses.contains_key("404"),
                    "{method} {path} documents 404"
                );
            }
        }
    }
    for expected in [
        "/api/v1/projects",
        "/api/v1/projects/{project_id}",
        "/api/v1/projects/{project_id}/components",
        "/api/v1/projects/{project_id}/graph",
        "/api/v1/projects/{project_id}/layout",
        "/api/v1/components/{component_id}/dependencies/{depends_on_id}",
        "/api/v1/tasks/{task_id}",
        "/health/ready",
        "/metrics",
    ] {
        assert!(paths.contains_key(expected), "{expected} is documented");
    }

    let rendered = serde_json::to_string_pretty(&doc).expect("json") + "\n";
    let snapshot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    if std::env::var("UPDATE_SNAPSHOTS").as_deref() == Ok("1") {
        std::fs::write(&snapshot, &rendered).expect("write snapshot");
    }
    let stored = std::fs::read_to_string(&snapshot).unwrap_or_default();
    assert!(
        stored == rendered,
        "the OpenAPI document changed; review it and run `UPDATE_SNAPSHOTS=1 cargo test -p api \
         openapi` to update docs/openapi.json"
    );

    let app = TestApp::new().await;
    let served = app.get("/openapi.json").await;
    assert_eq!(served.body, doc, "/openapi.json serves the same document");
    let docs = app
        .send(Request::get("/docs/").body(Body::empty()).expect("request"))
        .await;
    assert_eq!(docs.status, StatusCode::OK);
}

#[tokio::test]
async fn postgres_concurrent_creations_and_readiness() {
    let Some((admin_url, name, url)) = testsupport::fresh_postgres_database().await else {
        return;
    };
    let config = storage::StoreConfig::Postgres {
        url,
        max_connections: 4,
    };
    let store = storage::connect(&config).await.expect("connect");
    store.migrate().await.expect("migrate");
    let router = api::router(app_state(store.clone()));

    // More concurrent writers than pooled connections: v1 deadlocked here.
    let creations = (0..32).map(|i| {
        let router = router.clone();
        tokio::spawn(async move {
            let req = Request::post("/api/v1/projects")
                .header("x-api-key", KEY)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json!({ "name": format!("p{i}") }).to_string()))
                .expect("request");
            router.oneshot(req).await.expect("infallible").status()
        })
    });
    let statuses = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let mut statuses = Vec::new();
        for c in creations {
            statuses.push(c.await.expect("task"));
        }
        statuses
    })
    .await
    .expect("32 concurrent creations finish");
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "{statuses:?}"
    );

    let get_ready = || {
        router.clone().oneshot(
            Request::get("/health/ready")
                .body(Body::empty())
                .expect("request"),
        )
    };
    assert_eq!(get_ready().await.expect("ok").status(), StatusCode::OK);
    // Make the database disappear under the running app.
    testsupport::drop_postgres_database(admin_url, name);
    let res = get_ready().await.expect("ok");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value =
        serde_json::from_slice(&res.into_body().collect().await.expect("body").to_bytes())
            .expect("json");
    assert_eq!(body["code"], "NOT_READY");
}

/// One definition of progress: a component with tasks counts the share done (whatever was
/// typed), one without counts what was typed; projects average their components; the overall
/// averages the open projects that have components.
#[tokio::test]
async fn progress_is_derived_from_tasks_and_averaged() {
    let app = TestApp::new().await;
    let p = app.project("greenhouse").await;
    let tasked = app
        .post(
            &format!("/api/v1/projects/{p}/components"),
            json!({"name": "sensors", "progress": 90}),
        )
        .await;
    let tasked = tasked.body["id"].as_str().expect("id").to_owned();
    for (name, status) in [("a", "done"), ("b", "todo"), ("c", "todo"), ("d", "review")] {
        let t = app
            .post(
                &format!("/api/v1/components/{tasked}/tasks"),
                json!({"name": name, "status": status}),
            )
            .await;
        assert_eq!(t.status, StatusCode::CREATED, "{}", t.body);
    }
    app.post(
        &format!("/api/v1/projects/{p}/components"),
        json!({"name": "typed", "progress": 40}),
    )
    .await;
    let q = app.project("empty").await;

    let r = app.get("/api/v1/projects/progress").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["overall"], 32.5, "{}", r.body);
    assert_eq!(r.body["measured"], 1);
    assert_eq!(
        r.body["projects"],
        json!([
            {"id": q, "name": "empty", "components": 0, "progress": null},
            {"id": p, "name": "greenhouse", "components": 2, "progress": 32.5},
        ])
    );
}
