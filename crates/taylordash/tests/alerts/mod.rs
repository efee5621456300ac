//! Alerts in the real binary: a crash with 100 notifications queued and the receiver down
//! (kill -9), a restart, the receiver back: exactly 100 delivered, none twice.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{Value, json};
use testsupport::WebhookReceiver;

const KEY: &str = "alerts-test-key-0123456789";
const SIGNING_KEY: &str = "crash-test-signing-key";

fn call(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let auth = format!("X-API-Key: {KEY}");
    let body = body.map(|b| b.to_string());
    let (status, text) = http_as(addr, Some(&auth), method, path, body.as_deref());
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn notifications(addr: SocketAddr) -> Vec<Value> {
    let (status, list) = call(addr, "GET", "/api/v1/alert-notifications?limit=1000", None);
    assert_eq!(status, 200, "{list}");
    list["notifications"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn a_crash_with_100_queued_notifications_delivers_each_exactly_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server_cmd = || {
        let mut cmd = taylordash(tmp.path());
        cmd.env("API_KEY", KEY)
            .env("TAYLORDASH_ALERT_RETRY_MAX", "1")
            .env("TAYLORDASH_LOG", "error");
        cmd
    };
    let port = testsupport::free_port();
    let log = tmp.path().join("deliveries.jsonl");
    let mut server = Server::start(server_cmd());
    let (status, channel) = call(
        server.addr,
        "POST",
        "/api/v1/alert-channels",
        Some(json!({"name": "receiver", "kind": "webhook",
                    "config": {"url": format!("http://127.0.0.1:{port}/hook")},
                    "secrets": {"signing_key": SIGNING_KEY}})),
    );
    assert_eq!(status, 201, "{channel}");
    assert_eq!(channel["secrets"], json!(["signing_key"]));
    assert!(
        !channel.to_string().contains(SIGNING_KEY),
        "never shown back"
    );
    let id = channel["id"].as_str().expect("channel id").to_owned();
    // 100 groups from Alertmanager, one notification each, while the receiver is down.
    for i in 0..100 {
        let (status, body) = call(
            server.addr,
            "POST",
            &format!("/api/v1/alerts/alertmanager?channels={id}"),
            Some(json!({
                "version": "4", "groupKey": format!("{{}}:{{alertname=\"Disk{i}\"}}"),
                "status": "firing", "receiver": "taylordash",
                "alerts": [{"status": "firing", "fingerprint": format!("fp{i:03}"),
                            "labels": {"alertname": format!("Disk{i}"), "severity": "warning"},
                            "annotations": {"summary": format!("disk {i} is filling up")},
                            "startsAt": "2026-12-07T10:00:00Z",
                            "endsAt": "0001-01-01T00:00:00Z"}],
            })),
        );
        assert_eq!(status, 200, "{body}");
    }
    wait_for(
        "100 notifications queued, each tried against the down receiver",
        Duration::from_secs(60),
        || {
            let n = notifications(server.addr);
            n.len() == 100
                && n.iter()
                    .all(|x| x["status"] == "queued" && x["attempts"].as_i64() >= Some(1))
        },
    );
    let (_, alerts) = call(server.addr, "GET", "/api/v1/alerts?open=true", None);
    assert_eq!(alerts["firing"], 100, "{alerts}");
    server.child.kill().expect("kill -9");
    server.wait(Duration::from_secs(10));
    assert!(WebhookReceiver::deliveries(&log).is_empty());

    let server = Server::start(server_cmd());
    let _receiver = WebhookReceiver::start(SIGNING_KEY, port, &log);
    // A row leased at the moment of the crash waits for its lease (60 s) to run out.
    wait_for("100 deliveries", Duration::from_secs(120), || {
        WebhookReceiver::deliveries(&log).len() >= 100
    });
    std::thread::sleep(Duration::from_secs(3));
    let got = WebhookReceiver::deliveries(&log);
    let keys: BTreeSet<&str> = got.iter().filter_map(|d| d["key"].as_str()).collect();
    assert_eq!(got.len(), 100, "exactly 100 delivered");
    assert_eq!(keys.len(), 100, "none twice");
    assert!(got.iter().all(|d| d["duplicate"] == false));
    let n = notifications(server.addr);
    assert!(n.iter().all(|x| x["status"] == "sent"), "{n:?}");
    let stored: BTreeSet<&str> = n
        .iter()
        .filter_map(|x| x["idempotency_key"].as_str())
        .collect();
    assert_eq!(stored, keys, "the keys delivered are the keys queued");
}
