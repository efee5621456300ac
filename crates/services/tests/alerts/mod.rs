//! Alerts against real parts on loopback: the webhook receiver process that verifies the
//! signature, a real SMTP server (aiosmtpd), and HTTP receivers that assert the exact requests
//! ntfy, Gotify, Discord and Slack document. The evaluator and the sender run one round at a
//! time on a clock the test moves; every test runs on SQLite and on PostgreSQL.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use domain::{
    AlertState, Check, CheckResult, CheckRules, DeliveryStatus, NewAlertRule, NewChannel, NewCheck,
    NewComponent, NewProject, Outcome,
};
use serde_json::{Value, json};
use services::Clock;
use services::alerts::{Alerts, Settings};
use storage::Store;
use testsupport::{SmtpServer, WebhookReceiver};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

testsupport::on_both_backends!(
    ten_checks_down_together_make_one_signed_notification,
    a_down_receiver_delays_a_notification_and_never_doubles_it,
    each_channel_sends_what_its_service_documents,
    email_goes_through_a_real_smtp_server,
    email_over_starttls_refuses_a_certificate_that_does_not_verify,
);

/// A clock the test moves (milliseconds since the epoch).
fn clock(start: DateTime<Utc>) -> (Clock, Arc<AtomicI64>) {
    let ms = Arc::new(AtomicI64::new(start.timestamp_millis()));
    let read = ms.clone();
    let c = Clock::new(move || {
        DateTime::from_timestamp_millis(read.load(Ordering::SeqCst)).unwrap_or_default()
    });
    (c, ms)
}

fn advance(ms: &AtomicI64, by: Duration) {
    ms.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
}

fn obj(v: Value) -> domain::JsonObject {
    v.as_object().cloned().unwrap()
}

async fn checks(store: &Arc<dyn Store>, n: usize) -> Vec<Uuid> {
    let p = store
        .create_project(NewProject {
            name: "lab".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let c = store
        .create_component(
            p.id,
            NewComponent {
                name: "rack".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let (check, _) = Check::create(
            c.id,
            NewCheck {
                name: Some(format!("host {i}")),
                kind: "push".into(),
                ..Default::default()
            },
            &CheckRules::default(),
        )
        .unwrap();
        store
            .create_check(
                &check,
                &Default::default(),
                Some(&format!("{i:064}")),
                domain::now(),
            )
            .await
            .unwrap();
        ids.push(check.id);
    }
    ids
}

async fn set_checks(store: &Arc<dyn Store>, ids: &[Uuid], up: bool, at: DateTime<Utc>) {
    let results: Vec<CheckResult> = ids
        .iter()
        .map(|id| CheckResult {
            check_id: *id,
            at,
            outcome: if up {
                Outcome::up(3.0)
            } else {
                Outcome::down("no route to host")
            },
        })
        .collect();
    store.record_check_results(&results).await.unwrap();
}

fn settings(clock: Clock) -> Settings {
    Settings {
        clock,
        retry_base: Duration::seconds(2),
        retry_cap: Duration::seconds(30),
        ..Settings::default()
    }
}

/// Ten checks behind one switch go down together: one notification, signed, to a receiver
/// that checks the signature; when they come back, one resolved notification.
async fn ten_checks_down_together_make_one_signed_notification(store: Arc<dyn Store>) {
    let ids = checks(&store, 10).await;
    let start = domain::now();
    let (clock, ms) = clock(start);
    let alerts = Alerts::new(store.clone(), settings(clock));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("deliveries.jsonl");
    let port = testsupport::free_port();
    let created = alerts
        .create_channel(NewChannel {
            name: "receiver".into(),
            kind: "webhook".into(),
            config: obj(json!({"url": format!("http://127.0.0.1:{port}/hook")})),
            ..Default::default()
        })
        .await
        .unwrap();
    let key = created
        .signing_key
        .clone()
        .expect("a generated signing key, shown once");
    assert_eq!(key.len(), 64);
    assert!(
        !format!("{:?}", created.channel).contains(&key),
        "Debug shows names only"
    );
    let _receiver = WebhookReceiver::start(&key, port, &log);
    alerts
        .create_rule(NewAlertRule {
            name: "Host down".into(),
            kind: "check_down".into(),
            channels: vec![created.channel.channel.id],
            severity: Some("critical".into()),
            ..Default::default()
        })
        .await
        .unwrap();

    set_checks(&store, &ids, false, start).await;
    assert_eq!(alerts.evaluate_once().await.unwrap(), 0, "the group waits");
    let firing = alerts.list_alerts(true, 100).await.unwrap();
    assert_eq!(firing.len(), 10);
    assert!(firing.iter().all(|a| a.state == AlertState::Firing));
    advance(&ms, Duration::seconds(2));
    assert_eq!(alerts.evaluate_once().await.unwrap(), 1, "one notification");
    assert_eq!(alerts.evaluate_once().await.unwrap(), 0, "and only one");
    assert_eq!(alerts.send_due().await.unwrap(), 1);
    let got = WebhookReceiver::deliveries(&log);
    assert_eq!(got.len(), 1, "{got:?}");
    let body = &got[0]["body"];
    assert_eq!(body["title"], "[FIRING:10] Host down");
    assert_eq!(body["severity"], "critical");
    assert_eq!(body["alerts"].as_array().unwrap().len(), 10);
    assert_eq!(got[0]["duplicate"], false);
    let sent = alerts.alert_notifications(firing[0].id).await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status, DeliveryStatus::Sent);
    assert_eq!(sent[0].alert_ids.len(), 10);

    // They come back: one resolved notification for the ten.
    advance(&ms, Duration::seconds(60));
    set_checks(&store, &ids, true, domain::now()).await;
    assert_eq!(alerts.evaluate_once().await.unwrap(), 1);
    assert_eq!(alerts.send_due().await.unwrap(), 1);
    let got = WebhookReceiver::deliveries(&log);
    assert_eq!(got.len(), 2);
    assert_eq!(got[1]["body"]["title"], "[RESOLVED:10] Host down");
    assert_eq!(got[1]["body"]["reason"], "resolved");
    assert!(alerts.list_alerts(true, 100).await.unwrap().is_empty());
}

/// A receiver that is down delays a notification (retries with backoff, counted as failed
/// attempts) and never loses or doubles it.
async fn a_down_receiver_delays_a_notification_and_never_doubles_it(store: Arc<dyn Store>) {
    let ids = checks(&store, 1).await;
    let start = domain::now();
    let (clock, ms) = clock(start);
    let alerts = Alerts::new(store.clone(), settings(clock));
    let registry = prometheus::Registry::new();
    alerts.register(&registry);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("deliveries.jsonl");
    let port = testsupport::free_port();
    let c = alerts
        .create_channel(NewChannel {
            name: "receiver".into(),
            kind: "webhook".into(),
            config: obj(json!({"url": format!("http://127.0.0.1:{port}/hook")})),
            secrets: [("signing_key".to_owned(), "shared-secret-key".to_owned())].into(),
            enabled: None,
        })
        .await
        .unwrap();
    assert!(c.signing_key.is_none(), "a given key is not shown back");
    alerts
        .create_rule(NewAlertRule {
            name: "Down".into(),
            kind: "check_down".into(),
            channels: vec![c.channel.channel.id],
            group_wait_secs: Some(0),
            ..Default::default()
        })
        .await
        .unwrap();
    set_checks(&store, &ids, false, start).await;
    assert_eq!(alerts.evaluate_once().await.unwrap(), 1);
    for _ in 0..3 {
        assert_eq!(alerts.send_due().await.unwrap(), 1, "an attempt");
        assert_eq!(
            alerts.send_due().await.unwrap(),
            0,
            "not again before the backoff"
        );
        advance(&ms, Duration::seconds(31));
    }
    let mut text = Vec::new();
    prometheus::Encoder::encode(
        &prometheus::TextEncoder::new(),
        &registry.gather(),
        &mut text,
    )
    .unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("taylordash_notifications_failed_total{channel_kind=\"webhook\"} 3\n"),
        "{text}"
    );
    let queued = alerts.list_notifications(10).await.unwrap();
    assert_eq!(queued[0].status, DeliveryStatus::Queued);
    assert_eq!(queued[0].attempts, 3);
    assert!(
        queued[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("could not connect"),
        "{:?}",
        queued[0].last_error
    );
    let _receiver = WebhookReceiver::start("shared-secret-key", port, &log);
    assert_eq!(alerts.send_due().await.unwrap(), 1);
    advance(&ms, Duration::seconds(300));
    assert_eq!(alerts.send_due().await.unwrap(), 0);
    let got = WebhookReceiver::deliveries(&log);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["key"], json!(queued[0].idempotency_key));
    let done = alerts.list_notifications(10).await.unwrap();
    assert_eq!(done[0].status, DeliveryStatus::Sent);
    assert_eq!(done[0].attempts, 4);
}

/// A request one receiver got.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: Value,
}

/// An HTTP receiver on loopback that records each request and answers `status`.
async fn receiver(status: &'static str) -> (u16, Arc<Mutex<Vec<Request>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let keep = keep.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let n = s.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let mut lines = head.lines();
                let first: Vec<&str> = lines.next().unwrap().split(' ').collect();
                let headers: BTreeMap<String, String> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let len: usize = headers
                    .get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    let n = s.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = serde_json::from_slice(&buf[head_end..]).unwrap_or(Value::Null);
                keep.lock().unwrap().push(Request {
                    method: first[0].to_owned(),
                    path: first[1].to_owned(),
                    headers,
                    body,
                });
                let answer = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, seen)
}

/// Each channel kind sends the request its service documents ("send test").
async fn each_channel_sends_what_its_service_documents(store: Arc<dyn Store>) {
    let alerts = Alerts::new(store, Settings::default());
    let (port, seen) = receiver("200 OK").await;
    let base = format!("http://127.0.0.1:{port}");
    let make = |name: &str, kind: &str, config: Value, secrets: &[(&str, String)]| NewChannel {
        name: name.into(),
        kind: kind.into(),
        config: obj(config),
        secrets: secrets
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        enabled: None,
    };
    let channels = [
        make(
            "phone",
            "ntfy",
            json!({"server": base, "topic": "lab_alerts"}),
            &[("token", "tk_secret".into())],
        ),
        make(
            "gotify",
            "gotify",
            json!({"server": format!("{base}/gotify/")}),
            &[("token", "AppToken1".into())],
        ),
        make(
            "discord",
            "discord",
            json!({}),
            &[("url", format!("{base}/api/webhooks/1/abc"))],
        ),
        make(
            "slack",
            "slack",
            json!({}),
            &[("url", format!("{base}/services/T0/B0/xyz"))],
        ),
    ];
    for c in channels {
        let created = alerts.create_channel(c).await.unwrap();
        alerts
            .test_channel(created.channel.channel.id)
            .await
            .unwrap();
    }
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 4);
    let title = "TaylorDash test notification";
    // ntfy: JSON publishing to the server's root, bearer access token.
    assert_eq!(
        (got[0].method.as_str(), got[0].path.as_str()),
        ("POST", "/")
    );
    assert_eq!(got[0].headers["authorization"], "Bearer tk_secret");
    assert_eq!(got[0].body["topic"], "lab_alerts");
    assert_eq!(got[0].body["title"], title);
    assert_eq!(got[0].body["priority"], 3);
    assert!(got[0].body["message"].as_str().unwrap().contains("phone"));
    // Gotify: POST /message with the application token in X-Gotify-Key.
    assert_eq!(got[1].path, "/gotify/message");
    assert_eq!(got[1].headers["x-gotify-key"], "AppToken1");
    assert_eq!(got[1].headers["content-type"], "application/json");
    assert_eq!(got[1].body["title"], title);
    assert!(got[1].body["priority"].is_i64());
    assert_eq!(
        got[1].body["extras"]["client::display"]["contentType"],
        "text/plain"
    );
    // Discord: the webhook URL, content and an embed, no mentions.
    assert_eq!(got[2].path, "/api/webhooks/1/abc");
    assert_eq!(got[2].body["content"], title);
    assert_eq!(got[2].body["embeds"][0]["title"], title);
    assert_eq!(got[2].body["allowed_mentions"]["parse"], json!([]));
    // Slack-compatible: {"text"}.
    assert_eq!(got[3].path, "/services/T0/B0/xyz");
    assert!(
        got[3].body["text"]
            .as_str()
            .unwrap()
            .starts_with(&format!("*{title}*"))
    );

    // A refusing receiver is an error in words.
    let (port, _) = receiver("403 Forbidden").await;
    let c = alerts
        .create_channel(make(
            "slack 2",
            "slack",
            json!({}),
            &[("url", format!("http://127.0.0.1:{port}/x"))],
        ))
        .await
        .unwrap();
    let err = alerts
        .test_channel(c.channel.channel.id)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("403"), "{err}");
}

/// E-mail through a real SMTP server with AUTH; the idempotency key is the Message-ID.
async fn email_goes_through_a_real_smtp_server(store: Arc<dyn Store>) {
    let Some(smtp) = SmtpServer::start("alerts", "mail-pass", None) else {
        return;
    };
    let alerts = Alerts::new(store, Settings::default());
    let c = alerts
        .create_channel(NewChannel {
            name: "mail".into(),
            kind: "email".into(),
            config: obj(json!({
                "host": "127.0.0.1", "port": smtp.port, "security": "none",
                "username": "alerts", "from": "taylordash@lab.lan",
                "to": ["me@lab.lan", "oncall@lab.lan"],
            })),
            secrets: [("password".to_owned(), "mail-pass".to_owned())].into(),
            enabled: None,
        })
        .await
        .unwrap();
    alerts.test_channel(c.channel.channel.id).await.unwrap();
    let mail = smtp.messages();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0]["from"], "taylordash@lab.lan");
    assert_eq!(mail[0]["to"], json!(["me@lab.lan", "oncall@lab.lan"]));
    assert_eq!(mail[0]["login"], "alerts");
    let data = mail[0]["data"].as_str().unwrap();
    assert!(
        data.contains("Subject: TaylorDash test notification"),
        "{data}"
    );
    assert!(data.contains("Message-ID: <taylordash-"), "{data}");

    // A wrong password is refused by the server, in words.
    let bad = alerts
        .update_channel(
            c.channel.channel.id,
            Some(1),
            NewChannel {
                name: "mail".into(),
                kind: "email".into(),
                config: obj(json!({
                    "host": "127.0.0.1", "port": smtp.port, "security": "none",
                    "username": "alerts", "from": "taylordash@lab.lan", "to": ["me@lab.lan"],
                })),
                secrets: [("password".to_owned(), "wrong".to_owned())].into(),
                enabled: None,
            },
        )
        .await
        .unwrap();
    let err = alerts
        .test_channel(bad.channel.id)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("SMTP"), "{err}");
    assert_eq!(smtp.messages().len(), 1);
}

/// E-mail over STARTTLS to a real server that offers it and requires it before AUTH, with a
/// self-signed certificate: a channel that verifies certificates (the default) refuses the
/// server and sends nothing; one that allows it delivers over TLS, authenticated.
async fn email_over_starttls_refuses_a_certificate_that_does_not_verify(store: Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    super::self_signed(dir.path(), "smtp", "30");
    let (cert, key) = (dir.path().join("smtp.pem"), dir.path().join("smtp.key"));
    let Some(smtp) = SmtpServer::start("alerts", "mail-pass", Some((&cert, &key))) else {
        return;
    };
    let alerts = Alerts::new(store, Settings::default());
    let channel = |allow_self_signed: Option<bool>| NewChannel {
        name: "mail".into(),
        kind: "email".into(),
        config: obj(json!({
            "host": "127.0.0.1", "port": smtp.port, "security": "starttls",
            "allow_self_signed": allow_self_signed, "username": "alerts",
            "from": "taylordash@lab.lan", "to": ["me@lab.lan"],
        })),
        secrets: [("password".to_owned(), "mail-pass".to_owned())].into(),
        enabled: None,
    };
    let c = alerts.create_channel(channel(None)).await.unwrap();
    let id = c.channel.channel.id;
    let err = alerts.test_channel(id).await.unwrap_err().to_string();
    assert!(err.contains("SMTP STARTTLS"), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(smtp.messages().is_empty());

    let allowed = alerts
        .update_channel(id, Some(1), channel(Some(true)))
        .await
        .unwrap();
    assert_eq!(allowed.channel.config.to_json()["allow_self_signed"], true);
    alerts.test_channel(id).await.unwrap();
    let mail = smtp.messages();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0]["tls"], true, "{mail:?}");
    assert_eq!(mail[0]["login"], "alerts");
    assert_eq!(mail[0]["to"], json!(["me@lab.lan"]));
    assert!(
        mail[0]["data"]
            .as_str()
            .unwrap()
            .contains("Subject: TaylorDash test notification")
    );
}
