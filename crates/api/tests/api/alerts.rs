//! Alerts over HTTP: channels (secrets never sent back, a generated signing key shown once,
//! "send test" refused by a down receiver in words), rules, Alertmanager's webhook with an
//! editor's key as a bearer token and with Alertmanager's own token (which opens nothing
//! else), acknowledge and silence by an editor (in the audit log), and what a viewer may not
//! do.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt as _;

use crate::support::*;

on_both!(
    alertmanager_alerts_are_acknowledged_silenced_and_audited,
    an_alertmanager_post_naming_an_alert_twice_keeps_its_last_entry,
    alertmanagers_token_opens_its_webhook_and_nothing_else,
);

/// Alertmanager's own token (least privilege): its webhook receiver takes it, as a bearer
/// token the way Alertmanager sends it; every other route refuses it with 403
/// `ALERTMANAGER_TOKEN_ONLY`; a wrong token, or the token where none is configured, is 401;
/// editors may still post; the token never reaches the log table.
async fn alertmanagers_token_opens_its_webhook_and_nothing_else(app: TestApp) {
    let app = TestApp::configured(app.db, with_alertmanager_token(fast()));
    let layer = observability::logs::LogLayer::with_sink(
        app.state.logs.sink.clone(),
        tracing::Level::DEBUG,
    );
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    app.user("eddie", "editor").await;
    app.user("vic", "viewer").await;
    let editor = Cred::Bearer(app.login("eddie").await);
    let viewer = Cred::Bearer(app.login("vic").await);
    let token = Cred::Bearer(ALERTMANAGER_TOKEN.to_owned());
    let post = |fingerprint: &str| {
        json!({"version": "4", "groupKey": "{}:{alertname=\"NasDown\"}", "status": "firing",
               "alerts": [{"status": "firing", "fingerprint": fingerprint,
                           "labels": {"alertname": "NasDown", "severity": "critical"}}]})
    };
    let hook = "/api/v1/alerts/alertmanager";
    let r = app
        .call_as(&token, Method::POST, hook, Some(post("t1")))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["accepted"], 1);
    let listed = app.get("/api/v1/alerts?open=true").await;
    assert_eq!(listed.body["count"], 1, "{}", listed.body);
    assert_eq!(listed.body["alerts"][0]["source"], "alertmanager");
    let id = listed.body["alerts"][0]["id"].as_str().unwrap().to_owned();
    // As X-API-Key too.
    let r = app
        .call_as(
            &Cred::Key(ALERTMANAGER_TOKEN.to_owned()),
            Method::POST,
            hook,
            Some(post("t2")),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // Nothing else: not reading alerts, not acknowledging, not "me", not a key of its own.
    for (method, path, body) in [
        (Method::GET, "/api/v1/alerts".to_owned(), None),
        (
            Method::POST,
            format!("/api/v1/alerts/{id}/acknowledge"),
            Some(json!({"reason": "x"})),
        ),
        (Method::GET, "/api/v1/auth/me".to_owned(), None),
        (
            Method::POST,
            "/api/v1/auth/api-keys".to_owned(),
            Some(json!({"name": "am", "scope": "write"})),
        ),
        (Method::GET, "/api/v1/alert-channels".to_owned(), None),
        (Method::GET, "/api/v1/projects".to_owned(), None),
    ] {
        let r = app.call_as(&token, method.clone(), &path, body).await;
        r.assert_error(StatusCode::FORBIDDEN, "ALERTMANAGER_TOKEN_ONLY");
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .contains("POST /api/v1/alerts/alertmanager"),
            "{method} {path}: {}",
            r.body
        );
    }

    // A wrong token is no credential.
    let wrong = format!("{ALERTMANAGER_TOKEN}x");
    let r = app
        .call_as(
            &Cred::Bearer(wrong.clone()),
            Method::POST,
            hook,
            Some(post("t3")),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = app
        .call_as(&Cred::Key(wrong), Method::POST, hook, Some(post("t3")))
        .await;
    r.assert_error(StatusCode::UNAUTHORIZED, "INVALID_API_KEY");

    // Editors may still post by hand; viewers may not.
    let r = app
        .call_as(&editor, Method::POST, hook, Some(post("t4")))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .call_as(&viewer, Method::POST, hook, Some(post("t5")))
        .await;
    r.assert_error(StatusCode::FORBIDDEN, "INSUFFICIENT_ROLE");
    assert_eq!(app.get("/api/v1/alerts?open=true").await.body["count"], 3);

    // The token is never written to the log table (nor its hash).
    assert!(
        app.state.logs.sink.flush(Duration::from_secs(10)).await,
        "log queue not written in time"
    );
    let stored = app
        .raw_text(
            "SELECT message || ' ' || coalesce(details, '') || ' ' || coalesce(endpoint, '') \
             || ' ' || CAST(context AS TEXT) FROM application_logs",
        )
        .await
        .join("\n");
    assert!(stored.contains("/api/v1/alerts/alertmanager"), "{stored}");
    let hash = services::identity::token::hash_token(ALERTMANAGER_TOKEN);
    assert!(!stored.contains(ALERTMANAGER_TOKEN), "{stored}");
    assert!(!stored.contains(&hash), "{stored}");
    assert!(!format!("{:?}", app.state.auth.config).contains(&hash));
}

/// Without a configured token, that value is just an unknown credential.
#[tokio::test]
async fn alertmanagers_token_is_unknown_unless_configured() {
    let app = TestApp::new().await;
    let r = app
        .call_as(
            &Cred::Bearer(ALERTMANAGER_TOKEN.to_owned()),
            Method::POST,
            "/api/v1/alerts/alertmanager",
            Some(json!({"alerts": []})),
        )
        .await;
    r.assert_error(StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
}

async fn alertmanager_alerts_are_acknowledged_silenced_and_audited(app: TestApp) {
    app.user("eddie", "editor").await;
    app.user("vic", "viewer").await;
    let editor = Cred::Bearer(app.login("eddie").await);
    let viewer = Cred::Bearer(app.login("vic").await);
    let editor_key = app.api_key(&editor, "write").await;

    // A channel: the generated signing key appears once; secrets are listed by name.
    let port = testsupport::free_port();
    let created = app
        .post(
            "/api/v1/alert-channels",
            json!({"name": "hook", "kind": "webhook",
                   "config": {"url": format!("http://127.0.0.1:{port}/x")}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let key = created.str("signing_key");
    assert_eq!(key.len(), 64);
    assert_eq!(created.body["secrets"], json!(["signing_key"]));
    let channel = created.str("id");
    let got = app.get(&format!("/api/v1/alert-channels/{channel}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(!got.body.to_string().contains(&key), "shown once only");
    assert!(got.body.get("signing_key").is_none());
    // Nobody listens on the port: the test says so, as a 502 with a reason.
    let test = app
        .post(&format!("/api/v1/alert-channels/{channel}/test"), json!({}))
        .await;
    test.assert_error(StatusCode::BAD_GATEWAY, "CHANNEL_TEST_FAILED");
    assert!(
        test.body["detail"]
            .as_str()
            .unwrap()
            .contains("could not connect"),
        "{}",
        test.body
    );
    // Invalid settings are 422s naming the field.
    let bad = app
        .post(
            "/api/v1/alert-channels",
            json!({"name": "mail", "kind": "email", "config": {"host": "smtp.lan", "to": []}}),
        )
        .await;
    bad.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");

    // A rule naming an unknown channel is refused; a good one is listed for viewers.
    let r = app
        .post(
            "/api/v1/alert-rules",
            json!({"name": "Down", "kind": "check_down", "channels": [uuid::Uuid::new_v4()]}),
        )
        .await;
    r.assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let rule = app
        .post(
            "/api/v1/alert-rules",
            json!({"name": "Down for 5 min", "kind": "check_down", "for_secs": 300,
                   "channels": [channel], "repeat_secs": 3600}),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.body);
    let rules = app
        .call_as(&viewer, Method::GET, "/api/v1/alert-rules", None)
        .await;
    assert_eq!(rules.body["count"], 1);
    let denied = app
        .call_as(
            &viewer,
            Method::POST,
            "/api/v1/alert-rules",
            Some(json!({"name": "x", "kind": "broker_lost"})),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    // Alertmanager posts with the editor's key as a bearer token.
    let post = json!({
        "version": "4", "groupKey": "{}:{alertname=\"DiskFull\"}", "status": "firing",
        "receiver": "taylordash",
        "alerts": [
            {"status": "firing", "fingerprint": "aaa1", "startsAt": "2026-12-07T10:00:00Z",
             "endsAt": "0001-01-01T00:00:00Z",
             "labels": {"alertname": "DiskFull", "instance": "nas", "severity": "critical"},
             "annotations": {"summary": "nas: disk 95 % full"}},
            {"status": "firing", "fingerprint": "aaa2", "startsAt": "2026-12-07T10:00:00Z",
             "labels": {"alertname": "DiskFull", "instance": "pi"},
             "annotations": {"summary": "pi: disk 91 % full"}}
        ]
    });
    let am = Cred::Bearer(editor_key.clone());
    let path = format!("/api/v1/alerts/alertmanager?channels={channel}");
    let r = app
        .call_as(&am, Method::POST, &path, Some(post.clone()))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["accepted"], 2);
    // The same post again deduplicates: still two alerts.
    app.call_as(&am, Method::POST, &path, Some(post)).await;
    let list = app
        .call_as(&viewer, Method::GET, "/api/v1/alerts?open=true", None)
        .await;
    assert_eq!(list.body["count"], 2, "{}", list.body);
    assert_eq!(list.body["firing"], 2);
    let first = &list.body["alerts"][0];
    assert_eq!(first["source"], "alertmanager");
    let id = first["id"].as_str().unwrap().to_owned();
    let nas = list.body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["instance"] == "nas")
        .unwrap();
    assert_eq!(nas["severity"], "critical");
    assert_eq!(nas["summary"], "nas: disk 95 % full");
    // Each post queued one notification for the group.
    let sent = app
        .call_as(
            &viewer,
            Method::GET,
            &format!("/api/v1/alerts/{id}/notifications"),
            None,
        )
        .await;
    assert_eq!(sent.body["count"], 2, "{}", sent.body);
    assert_eq!(sent.body["notifications"][0]["channel_kind"], "webhook");
    // A viewer may not post alerts, acknowledge or silence.
    let no = app
        .call_as(
            &viewer,
            Method::POST,
            &format!("/api/v1/alerts/{id}/acknowledge"),
            Some(json!({})),
        )
        .await;
    assert_eq!(no.status, StatusCode::FORBIDDEN);

    // The editor acknowledges and silences; the audit log says who and why.
    let ack = app
        .call_as(
            &editor,
            Method::POST,
            &format!("/api/v1/alerts/{id}/acknowledge"),
            Some(json!({"note": "replacing the disk"})),
        )
        .await;
    assert_eq!(ack.status, StatusCode::OK, "{}", ack.body);
    assert_eq!(ack.body["acknowledged"]["by"], "eddie");
    assert_eq!(ack.body["acknowledged"]["note"], "replacing the disk");
    let sil = app
        .call_as(
            &editor,
            Method::POST,
            &format!("/api/v1/alerts/{id}/silence"),
            Some(json!({"duration_secs": 3600, "reason": "maintenance window"})),
        )
        .await;
    assert_eq!(sil.status, StatusCode::OK, "{}", sil.body);
    assert_eq!(sil.body["silenced_now"], true);
    assert_eq!(sil.body["silenced"]["reason"], "maintenance window");
    let too_long = app
        .call_as(
            &editor,
            Method::POST,
            &format!("/api/v1/alerts/{id}/silence"),
            Some(json!({"duration_secs": 10_000_000})),
        )
        .await;
    too_long.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    let audit = app.get("/api/v1/audit?limit=50").await;
    let text = audit.body.to_string();
    assert!(text.contains("alert_acknowledged"), "{text}");
    assert!(text.contains("replacing the disk"), "{text}");
    assert!(text.contains("alert_silenced"), "{text}");
    assert!(text.contains("maintenance window"), "{text}");

    // Alertmanager resolves one: it leaves the open list.
    let resolved = json!({
        "version": "4", "groupKey": "{}:{alertname=\"DiskFull\"}", "status": "resolved",
        "alerts": [{"status": "resolved", "fingerprint": "aaa2",
                    "labels": {"alertname": "DiskFull", "instance": "pi"},
                    "endsAt": "2026-12-07T10:30:00Z"}]
    });
    let r = app.call_as(&am, Method::POST, &path, Some(resolved)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let open = app.get("/api/v1/alerts?open=true").await;
    assert_eq!(open.body["count"], 1, "{}", open.body);
    // A resolved alert has nothing left to acknowledge: a conflict with its state.
    let all = app.get("/api/v1/alerts").await;
    let gone = all.body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["state"] == "resolved")
        .unwrap_or_else(|| panic!("a resolved alert in {}", all.body))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.call_as(
        &editor,
        Method::POST,
        &format!("/api/v1/alerts/{gone}/acknowledge"),
        Some(json!({})),
    )
    .await
    .assert_error(StatusCode::CONFLICT, "ALERT_RESOLVED");
    let bad = app
        .call_as(
            &am,
            Method::POST,
            &path,
            Some(json!({"alerts": [{"status": "weird"}]})),
        )
        .await;
    bad.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
    let unknown = app
        .get(&format!("/api/v1/alerts/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

/// A post that names one alert twice (labels only, or one fingerprint firing then resolved) is
/// taken as its last entry for that alert, not retried into a 503.
async fn an_alertmanager_post_naming_an_alert_twice_keeps_its_last_entry(app: TestApp) {
    let twice = json!({"groupKey": "{}:{}", "alerts": [
        {"status": "firing"}, {"status": "firing"}, {"status": "firing"},
        {"status": "firing", "fingerprint": "f1", "labels": {"alertname": "A"}},
        {"status": "resolved", "fingerprint": "f1", "labels": {"alertname": "A"}},
        {"status": "resolved", "fingerprint": "f2", "labels": {"alertname": "B"}},
        {"status": "firing", "fingerprint": "f2", "labels": {"alertname": "B"}}
    ]});
    let r = app.post("/api/v1/alerts/alertmanager", twice).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let open = app.get("/api/v1/alerts?open=true").await;
    let names: Vec<&str> = open.body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(open.body["count"], 2, "{}", open.body);
    assert!(names.contains(&"B"), "{names:?}");
    assert!(
        !names.contains(&"A"),
        "A's last entry resolved it: {names:?}"
    );
}
